/**
 * The exit code of each kind of failure, from BSD's sysexits.h (the codes shells and
 * supervisors already know): a script can tell "fix the flags" from "start the stack" from
 * "a bug".
 */
export const ExitCode = {
  Ok: 0,
  /** Flags or arguments wrong, or an operation that cannot go on as asked. */
  Usage: 64,
  /** Input that does not decode or does not fit (records, schemas, definitions). */
  Data: 65,
  /** Something it needs does not answer: Kafka, PostgreSQL, Connect, the registry, the stack. */
  Unavailable: 69,
  /** A bug: an error no one expected. */
  Unexpected: 70,
  /** A tool the local stack needs is not installed (Java, PostgreSQL's binaries). */
  PrerequisiteMissing: 72,
  /** It may work if tried again (a wait that timed out, a commit whose outcome is unknown). */
  TryAgain: 75,
  /** Refused: a database role or password, Kafka's security. */
  Refused: 77,
  /** Configuration or setup missing or wrong (run a setup command first, fix a variable). */
  Setup: 78,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

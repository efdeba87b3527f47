/**
 * What the CLI says when a command fails: one line saying what was wrong and what to do, and
 * the exit code of its kind (exit-codes.ts). The engine's errors carry their own message and
 * code; the failures of what it talks to (PostgreSQL, Kafka Connect, any server that does not
 * answer) are recognised here and named by the variable that points at them.
 */
import { ErrorCode, SagastreamError } from "../errors/index.js";
import { ConnectError } from "../outbox/index.js";
import { WaitTimeoutError } from "../util/index.js";
import { ExitCode } from "./exit-codes.js";

export interface Failure {
  message: string;
  exitCode: ExitCode;
}

/** The configuration variables a failure can point at, with their values. */
export type Endpoints = Readonly<Record<string, string | readonly string[]>>;

const BY_CODE: Record<ErrorCode, ExitCode> = {
  [ErrorCode.ConfigInvalid]: ExitCode.Setup,
  [ErrorCode.PrerequisiteMissing]: ExitCode.PrerequisiteMissing,
  [ErrorCode.PortBusy]: ExitCode.Unavailable,
  [ErrorCode.ComponentFailed]: ExitCode.Unavailable,
  [ErrorCode.ComponentNotReady]: ExitCode.Unavailable,
  [ErrorCode.StackNotRunning]: ExitCode.Unavailable,
  [ErrorCode.WorkerUnavailable]: ExitCode.Unavailable,
  [ErrorCode.UsageInvalid]: ExitCode.Usage,
  [ErrorCode.TopologyInvalid]: ExitCode.Data,
  [ErrorCode.DeserializationFailed]: ExitCode.Data,
  [ErrorCode.ProcessingFailed]: ExitCode.Data,
  [ErrorCode.WireFormatInvalid]: ExitCode.Data,
  [ErrorCode.SchemaUnknown]: ExitCode.Data,
  [ErrorCode.RegistryUnavailable]: ExitCode.Unavailable,
  [ErrorCode.RecordMisplaced]: ExitCode.Data,
  [ErrorCode.RecordTooLarge]: ExitCode.Data,
  [ErrorCode.SagaLimitExceeded]: ExitCode.Data,
  [ErrorCode.SchemaIncompatible]: ExitCode.Data,
  [ErrorCode.SagaDefinitionInvalid]: ExitCode.Data,
  [ErrorCode.CommandRefused]: ExitCode.Usage,
  [ErrorCode.CircuitOpen]: ExitCode.TryAgain,
  [ErrorCode.CircuitCallTimeout]: ExitCode.TryAgain,
  [ErrorCode.CommitOutcomeUnknown]: ExitCode.TryAgain,
  [ErrorCode.KafkaSecurityRefused]: ExitCode.Refused,
  [ErrorCode.VerificationFailed]: ExitCode.Data,
};

/** PostgreSQL's SQLSTATEs a user meets first. */
const PG_REFUSED = new Set(["28000", "28P01"]); // no such role; wrong password
const PG_NO_DATABASE = "3D000";
const PG_NO_TABLE = "42P01";

const NETWORK_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EHOSTUNREACH", "ECONNRESET"]);

function fields(error: unknown): Record<string, unknown> {
  return typeof error === "object" && error !== null ? (error as Record<string, unknown>) : {};
}

/** The error, or the first of its causes and aggregated errors, that `match` accepts. */
function find(
  error: unknown,
  match: (e: Record<string, unknown>) => boolean,
  depth = 0,
): Record<string, unknown> | undefined {
  if (depth > 5) return undefined;
  const e = fields(error);
  if (match(e)) return e;
  const nested = [e.cause, ...(Array.isArray(e.errors) ? (e.errors as unknown[]) : [])];
  for (const n of nested) {
    const found = find(n, match, depth + 1);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** The variable whose value points at `hostPort` or names `user`. */
function variableFor(endpoints: Endpoints, test: (value: string) => boolean): string | undefined {
  for (const [name, value] of Object.entries(endpoints)) {
    const values = typeof value === "string" ? [value] : value;
    if (values.some(test)) return name;
  }
  return undefined;
}

function firstLine(text: string): string {
  return text.split("\n")[0]?.trim() ?? "";
}

function postgresFailure(e: Record<string, unknown>, endpoints: Endpoints): Failure {
  const code = String(e.code);
  const message = firstLine(String(e.message));
  if (PG_REFUSED.has(code)) {
    const user = /(?:role|user) "([^"]+)"/.exec(message)?.[1];
    const variable =
      user === undefined
        ? undefined
        : variableFor(endpoints, (v) => v.includes(`//${encodeURIComponent(user)}`));
    const where = variable ?? "DATABASE_URL or CDC_DATABASE_URL";
    return {
      message: `PostgreSQL refused the connection of ${where}: ${message}: name a role that exists (with its password) in ${where}, or create it`,
      exitCode: ExitCode.Refused,
    };
  }
  if (code === PG_NO_DATABASE) {
    return {
      message: `PostgreSQL: ${message}: create it, or name an existing database in DATABASE_URL`,
      exitCode: ExitCode.Setup,
    };
  }
  if (code === PG_NO_TABLE) {
    return {
      message: `PostgreSQL: ${message}: run \`sagastream outbox migrate\` first (it creates the outbox table)`,
      exitCode: ExitCode.Setup,
    };
  }
  return { message: `PostgreSQL: ${message} (SQLSTATE ${code})`, exitCode: ExitCode.Setup };
}

/** Connect's answer: its JSON `message` (a config refused lists the reasons, a line each). */
function connectFailure(error: ConnectError): Failure {
  const body = /answered \d+: (.*)$/s.exec(error.message)?.[1] ?? "";
  let said = body;
  try {
    const parsed = (JSON.parse(body) as { message?: unknown }).message;
    if (typeof parsed === "string") said = parsed;
  } catch {
    // not JSON: its text as it came
  }
  const lines = said.split("\n").map((l) => l.trim());
  const reasons = lines.filter(
    (l) => l !== "" && !/^(Connector configuration is invalid|You can also find)/.test(l),
  );
  const reason = reasons.join("; ") || firstLine(said);
  if (error.status === 400 && /configuration is invalid/i.test(said)) {
    return {
      message: `Kafka Connect refused the connector's config: ${reason}: run \`sagastream outbox migrate\` first if the outbox table or its replication role (CDC_DATABASE_URL) does not exist yet`,
      exitCode: ExitCode.Setup,
    };
  }
  return {
    message: `Kafka Connect answered ${error.status}: ${reason}`,
    exitCode: error.status >= 500 ? ExitCode.Unavailable : ExitCode.Usage,
  };
}

function unreachable(e: Record<string, unknown>, endpoints: Endpoints): Failure {
  const address =
    typeof e.address === "string" ? e.address : typeof e.hostname === "string" ? e.hostname : "";
  const hostPort =
    e.port === undefined
      ? address
      : `${address}:${typeof e.port === "number" || typeof e.port === "string" ? e.port : ""}`;
  const variable =
    hostPort === "" ? undefined : variableFor(endpoints, (v) => v.includes(hostPort));
  const what = hostPort === "" ? "a server it needs" : hostPort;
  return {
    message: `nothing answers at ${what}${variable === undefined ? "" : ` (${variable})`} (${String(e.code)}): start it (the local stack: \`sagastream stack up\`), or point ${variable ?? "KAFKA_BROKERS, DATABASE_URL, CONNECT_URL or SCHEMA_REGISTRY_URL"} elsewhere`,
    exitCode: ExitCode.Unavailable,
  };
}

/** One line and an exit code for any error a command throws. */
export function describeFailure(error: unknown, endpoints: Endpoints = {}): Failure {
  // (whole: the few that run over a line say why, such as a stack component's last output)
  if (error instanceof SagastreamError) {
    return { message: error.message.trimEnd(), exitCode: BY_CODE[error.code] };
  }
  if (error instanceof ConnectError) return connectFailure(error);
  const pg = find(
    error,
    (e) => typeof e.code === "string" && /^[0-9A-Z]{5}$/.test(e.code) && "severity" in e,
  );
  if (pg !== undefined) return postgresFailure(pg, endpoints);
  const network = find(error, (e) => typeof e.code === "string" && NETWORK_CODES.has(e.code));
  if (network !== undefined) return unreachable(network, endpoints);
  if (error instanceof WaitTimeoutError) {
    return { message: firstLine(error.message), exitCode: ExitCode.TryAgain };
  }
  const message = error instanceof Error ? error.message : String(error);
  return {
    message: `unexpected error: ${firstLine(message)} (run it again with --verbose for the stack trace, and report it)`,
    exitCode: ExitCode.Unexpected,
  };
}

/**
 * The closed list of sagastream error codes. Every error the engine raises is one of these,
 * carries its code, says whether retrying the same operation may succeed, and its message says
 * what was wrong and what to do next.
 */
export const ErrorCode = {
  ConfigInvalid: "CONFIG_INVALID",
  PrerequisiteMissing: "PREREQUISITE_MISSING",
  PortBusy: "PORT_BUSY",
  ComponentFailed: "COMPONENT_FAILED",
  ComponentNotReady: "COMPONENT_NOT_READY",
  StackNotRunning: "STACK_NOT_RUNNING",
  WorkerUnavailable: "WORKER_UNAVAILABLE",
  UsageInvalid: "USAGE_INVALID",
  TopologyInvalid: "TOPOLOGY_INVALID",
  DeserializationFailed: "DESERIALIZATION_FAILED",
  ProcessingFailed: "PROCESSING_FAILED",
  WireFormatInvalid: "WIRE_FORMAT_INVALID",
  SchemaUnknown: "SCHEMA_UNKNOWN",
  RegistryUnavailable: "REGISTRY_UNAVAILABLE",
  RecordMisplaced: "RECORD_MISPLACED",
  RecordTooLarge: "RECORD_TOO_LARGE",
  SagaLimitExceeded: "SAGA_LIMIT_EXCEEDED",
  SchemaIncompatible: "SCHEMA_INCOMPATIBLE",
  SagaDefinitionInvalid: "SAGA_DEFINITION_INVALID",
  CommandRefused: "COMMAND_REFUSED",
  CircuitOpen: "CIRCUIT_OPEN",
  CircuitCallTimeout: "CIRCUIT_CALL_TIMEOUT",
  CommitOutcomeUnknown: "COMMIT_OUTCOME_UNKNOWN",
  KafkaSecurityRefused: "KAFKA_SECURITY_REFUSED",
  VerificationFailed: "VERIFICATION_FAILED",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export abstract class SagastreamError extends Error {
  abstract readonly code: ErrorCode;
  abstract readonly retriable: boolean;
  override get name(): string {
    return this.constructor.name;
  }
}

/** A configuration value (env var or flag) is missing or malformed; `key` names it. */
export class ConfigError extends SagastreamError {
  readonly code = ErrorCode.ConfigInvalid;
  readonly retriable = false;
  constructor(
    readonly key: string,
    problem: string,
  ) {
    super(`invalid configuration: ${key} ${problem}`);
  }
}

/** A tool the local stack needs (java 17, mvn, PostgreSQL binaries) is not installed. */
export class PrerequisiteError extends SagastreamError {
  readonly code = ErrorCode.PrerequisiteMissing;
  readonly retriable = false;
  constructor(
    readonly prerequisite: string,
    remedy: string,
  ) {
    super(`${prerequisite} not found: ${remedy}`);
  }
}

/** A port the stack must listen on is held by a process the stack did not start. */
export class PortBusyError extends SagastreamError {
  readonly code = ErrorCode.PortBusy;
  readonly retriable = true;
  constructor(
    readonly component: string,
    readonly port: number,
    envKey: string,
  ) {
    super(
      `port ${port} (${component}) is in use by another process: free it ` +
        `(e.g. \`ss -ltnp 'sport = :${port}'\` shows who holds it) or set ${envKey} to a free port`,
    );
  }
}

/** A stack component exited or could not be prepared; `logFile` holds its output. */
export class ComponentFailedError extends SagastreamError {
  readonly code = ErrorCode.ComponentFailed;
  readonly retriable = false;
  constructor(
    readonly component: string,
    problem: string,
    readonly logFile?: string,
  ) {
    super(
      `${component} ${problem}` + (logFile === undefined ? "" : ` (its output is in ${logFile})`),
    );
  }
}

/** A component was started but did not become ready before its deadline. */
export class ComponentNotReadyError extends SagastreamError {
  readonly code = ErrorCode.ComponentNotReady;
  readonly retriable = true;
  constructor(
    readonly component: string,
    waitedFor: string,
    seconds: number,
    lastProblem: string,
  ) {
    super(
      `${component} was not ready after ${seconds} s (waited for ${waitedFor}; last: ${lastProblem}); ` +
        `see \`sagastream stack logs ${component}\``,
    );
  }
}

/** An operation needs the local stack (or a component of it) and it is not running. */
export class StackNotRunningError extends SagastreamError {
  readonly code = ErrorCode.StackNotRunning;
  readonly retriable = true;
  constructor(what: string) {
    super(`${what} is not running: start it with \`sagastream stack up\``);
  }
}

/** No saga worker serves the HTTP API (and so the console) where a command looked for one. */
export class WorkerUnavailableError extends SagastreamError {
  readonly code = ErrorCode.WorkerUnavailable;
  readonly retriable = true;
  constructor(url: string) {
    super(
      `no saga worker serves its API at ${url}: start one (\`npm run demo -- --serve -1\` runs the demo's), or point SAGASTREAM_API_URL (or --api) at one`,
    );
  }
}

/** A command was called with arguments it cannot accept. */
export class UsageError extends SagastreamError {
  readonly code = ErrorCode.UsageInvalid;
  readonly retriable = false;
}

/** A check of data found it not as it should be (a repartition's copy against its source). */
export class VerificationError extends SagastreamError {
  readonly code = ErrorCode.VerificationFailed;
  readonly retriable = false;
}

/** A topology that cannot run: unknown store or parent, a cycle, mismatched partition counts. */
export class TopologyError extends SagastreamError {
  readonly code = ErrorCode.TopologyInvalid;
  readonly retriable = false;
}

/** Where a record came from, for errors and dead letters. */
export interface RecordOrigin {
  topic: string;
  partition: number;
  offset: string;
}

function at(origin: RecordOrigin): string {
  return `${origin.topic}/${origin.partition}@${origin.offset}`;
}

/** A record's key or value could not be decoded; it goes to the dead-letter topic. */
export class DeserializationError extends SagastreamError {
  readonly code = ErrorCode.DeserializationFailed;
  readonly retriable = false;
  constructor(
    readonly origin: RecordOrigin,
    cause: Error,
  ) {
    super(`cannot decode the record at ${at(origin)}: ${cause.message}`, { cause });
  }
}

/** A processor threw on a record; the record goes to the dead-letter topic. */
export class ProcessingError extends SagastreamError {
  readonly code = ErrorCode.ProcessingFailed;
  readonly retriable = false;
  constructor(
    readonly origin: RecordOrigin,
    readonly processor: string,
    cause: Error,
  ) {
    super(`processor ${processor} failed on the record at ${at(origin)}: ${cause.message}`, {
      cause,
    });
  }
}

/**
 * A record on a partition its key does not hash to (a producer with another partitioner, or
 * partitions added by hand): processed there it would start a second owner of its key's state.
 */
export class RecordMisplacedError extends SagastreamError {
  readonly code = ErrorCode.RecordMisplaced;
  readonly retriable = false;
  constructor(
    readonly origin: RecordOrigin,
    expected: number,
    partitions: number,
  ) {
    super(
      `the record at ${at(origin)} belongs on partition ${expected} of ${partitions} (murmur2 of its key, ` +
        "as the Java client places it); processed here it would start a second instance of its key's state: " +
        "produce with the Java client's default partitioner, and change partition counts only with sagastream's own tools",
    );
  }
}

/** A record made from an input is larger than the broker accepts: the input goes to the DLQ. */
export class RecordTooLargeError extends SagastreamError {
  readonly code = ErrorCode.RecordTooLarge;
  readonly retriable = false;
  constructor(
    readonly origin: RecordOrigin,
    topic: string,
    bytes: number,
    limit: number,
  ) {
    super(
      `the record at ${at(origin)} would make a record of ${bytes} bytes for ${topic}, ` +
        `more than the ${limit} a record may have (maxRecordBytes, under the broker's message.max.bytes): ` +
        "make what it carries smaller",
    );
  }
}

/** An input would make a saga carry more than its limits allow (see SagaLimits). */
export class SagaLimitError extends SagastreamError {
  readonly code = ErrorCode.SagaLimitExceeded;
  readonly retriable = false;
  constructor(sagaId: string, what: string, bytes: number, limit: number, option: string) {
    super(
      `saga ${sagaId}: ${what} is ${bytes} bytes, more than the limit of ${limit} (${option}): ` +
        "keep large payloads elsewhere (a database, an object store) and carry a reference",
    );
  }
}

/** Where a decoding error happened, when known: a record's coordinates. */
function where(origin: RecordOrigin | undefined): string {
  return origin === undefined ? "" : ` (record ${at(origin)})`;
}

/** Bytes that are not in the Confluent wire format (magic byte 0, 4-byte schema id, body). */
export class WireFormatError extends SagastreamError {
  readonly code = ErrorCode.WireFormatInvalid;
  readonly retriable = false;
  constructor(
    problem: string,
    readonly origin?: RecordOrigin,
  ) {
    super(`not a Confluent wire-format Avro value${where(origin)}: ${problem}`);
  }
}

/**
 * The schema id in a value is unknown to the registry (wrong registry, or a lost schema): the
 * registry answered 404. Not retriable: the record goes to the dead-letter topic, to be
 * re-driven once the schema is restored.
 */
export class SchemaUnknownError extends SagastreamError {
  readonly code = ErrorCode.SchemaUnknown;
  readonly retriable = false;
  constructor(
    readonly schemaId: number,
    readonly origin?: RecordOrigin,
  ) {
    super(
      `schema id ${schemaId} is unknown to the schema registry${where(origin)}: ` +
        "check SCHEMA_REGISTRY_URL points at the registry the producer used",
    );
  }
}

/** The registry could not be asked (down, unreachable, 5xx): what needs it waits and retries. */
export class RegistryUnavailableError extends SagastreamError {
  readonly code = ErrorCode.RegistryUnavailable;
  readonly retriable = true;
  constructor(
    readonly schemaId: number,
    cause: Error,
  ) {
    super(
      `the schema registry could not be asked for schema id ${schemaId} (${cause.message}): ` +
        "waiting for it; check SCHEMA_REGISTRY_URL and that the registry is up",
      { cause },
    );
  }
}

/** The registry refused a schema as incompatible with the subject's earlier versions. */
export class SchemaIncompatibleError extends SagastreamError {
  readonly code = ErrorCode.SchemaIncompatible;
  readonly retriable = false;
  constructor(
    readonly subject: string,
    compatibility: string,
    detail: string,
  ) {
    super(
      `the new schema for subject ${subject} is not ${compatibility}-compatible with its earlier versions ` +
        `(${detail}); add fields with defaults instead of changing or removing them, or register it under a new subject`,
    );
  }
}

/** A saga definition that cannot run (checked by `defineSaga`, before any instance starts). */
export class SagaDefinitionError extends SagastreamError {
  readonly code = ErrorCode.SagaDefinitionInvalid;
  readonly retriable = false;
  constructor(saga: string, problem: string) {
    super(`saga "${saga}": ${problem}`);
  }
}

/**
 * A participant refuses a command for a business reason (declined card, no stock). Retrying
 * cannot help; the saga compensates what was done before.
 */
export class CommandRefusedError extends SagastreamError {
  readonly code = ErrorCode.CommandRefused;
  readonly retriable = false;
  readonly compensates = true;
}

/** Calls to a downstream are suspended after repeated failures; the saga retries later. */
export class CircuitOpenError extends SagastreamError {
  readonly code = ErrorCode.CircuitOpen;
  readonly retriable = true;
  readonly compensates = false;
  constructor(
    readonly downstream: string,
    /** When the breaker lets a trial through: the saga's retry waits at least this long. */
    readonly retryInMs: number,
  ) {
    super(
      `calls to ${downstream} are suspended after repeated failures; the next trial is in ${Math.ceil(retryInMs / 1000)} s`,
    );
  }
}

/** A call through a circuit breaker did not settle in time; it counts as a failure. */
export class CircuitCallTimeoutError extends SagastreamError {
  readonly code = ErrorCode.CircuitCallTimeout;
  readonly retriable = true;
  constructor(
    readonly downstream: string,
    timeoutMs: number,
  ) {
    super(`${downstream} did not answer within ${Math.round(timeoutMs / 1000)} s`);
  }
}

/** Turns any thrown value into an Error with a message, at a boundary. */
export function toError(thrown: unknown): Error {
  if (thrown instanceof Error) return thrown;
  return new Error(typeof thrown === "string" ? thrown : JSON.stringify(thrown));
}

/**
 * The connection to PostgreSQL was lost while its COMMIT was on the way: the transaction may or
 * may not have committed. Only reading what it wrote can tell; handle the input again.
 */
export class CommitOutcomeUnknownError extends SagastreamError {
  readonly code = ErrorCode.CommitOutcomeUnknown;
  readonly retriable = true;
  constructor(cause: unknown) {
    super(
      `the database connection was lost during COMMIT, so the transaction may or may not have committed: ${toError(cause).message}`,
      { cause },
    );
  }
}

/**
 * A Kafka cluster refused this client's security: its credentials, its protocol (TLS or not),
 * or its trust in the broker's certificate. Retrying with the same settings cannot succeed.
 */
export class KafkaSecurityError extends SagastreamError {
  readonly code = ErrorCode.KafkaSecurityRefused;
  readonly retriable = false;
  constructor(
    readonly brokers: string,
    problem: string,
  ) {
    super(`Kafka at ${brokers} ${problem}`);
  }
}

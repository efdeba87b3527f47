import { describe, expect, it } from "vitest";
import {
  ComponentFailedError,
  ComponentNotReadyError,
  ConfigError,
  ErrorCode,
  PortBusyError,
  PrerequisiteError,
  SagastreamError,
  StackNotRunningError,
  WorkerUnavailableError,
  UsageError,
  TopologyError,
  DeserializationError,
  ProcessingError,
  WireFormatError,
  SchemaUnknownError,
  SchemaIncompatibleError,
  SagaDefinitionError,
  CommandRefusedError,
  CircuitCallTimeoutError,
  CircuitOpenError,
  CommitOutcomeUnknownError,
  KafkaSecurityError,
  VerificationError,
  RegistryUnavailableError,
  RecordMisplacedError,
  RecordTooLargeError,
  SagaLimitError,
  toError,
} from "../../src/errors/index.js";

describe("error classes", () => {
  const cases: {
    make: () => SagastreamError;
    code: ErrorCode;
    retriable: boolean;
    says: RegExp;
  }[] = [
    {
      make: () => new CommandRefusedError("card declined"),
      code: "COMMAND_REFUSED",
      retriable: false,
      says: /card declined/,
    },
    {
      make: () => new CircuitOpenError("payment-gateway", 29_500),
      code: "CIRCUIT_OPEN",
      retriable: true,
      says: /calls to payment-gateway are suspended .* next trial is in 30 s/,
    },
    {
      make: () => new CircuitCallTimeoutError("payment-gateway", 5_000),
      code: "CIRCUIT_CALL_TIMEOUT",
      retriable: true,
      says: /payment-gateway did not answer within 5 s/,
    },
    {
      make: () => new CommitOutcomeUnknownError(new Error("Connection terminated")),
      code: "COMMIT_OUTCOME_UNKNOWN",
      retriable: true,
      says: /may or may not have committed: Connection terminated/,
    },
    {
      make: () => new SagaDefinitionError("order", 'step "pay" names no participant'),
      code: "SAGA_DEFINITION_INVALID",
      retriable: false,
      says: /saga "order": step "pay" names no participant/,
    },
    {
      make: () => new ConfigError("KAFKA_BROKERS", "must be a list"),
      code: "CONFIG_INVALID",
      retriable: false,
      says: /KAFKA_BROKERS must be a list/,
    },
    {
      make: () => new PrerequisiteError("Java 17", "install it"),
      code: "PREREQUISITE_MISSING",
      retriable: false,
      says: /Java 17 not found: install it/,
    },
    {
      make: () => new PortBusyError("kafka", 19092, "SAGASTREAM_KAFKA_PORT"),
      code: "PORT_BUSY",
      retriable: true,
      says: /port 19092 \(kafka\).*SAGASTREAM_KAFKA_PORT/,
    },
    {
      make: () => new ComponentFailedError("kafka", "exited", "/x.log"),
      code: "COMPONENT_FAILED",
      retriable: false,
      says: /kafka exited \(its output is in \/x\.log\)/,
    },
    {
      make: () => new ComponentNotReadyError("registry", "HTTP 200", 5, "refused"),
      code: "COMPONENT_NOT_READY",
      retriable: true,
      says: /registry was not ready after 5 s.*stack logs registry/,
    },
    {
      make: () => new StackNotRunningError("the registry"),
      code: "STACK_NOT_RUNNING",
      retriable: true,
      says: /sagastream stack up/,
    },
    {
      make: () => new WorkerUnavailableError("http://127.0.0.1:18090"),
      code: "WORKER_UNAVAILABLE",
      retriable: true,
      says: /no saga worker serves its API at http:\/\/127\.0\.0\.1:18090: start one/,
    },
    {
      make: () => new UsageError("bad flag"),
      code: "USAGE_INVALID",
      retriable: false,
      says: /bad flag/,
    },
    {
      make: () => new TopologyError("a cycle"),
      code: "TOPOLOGY_INVALID",
      retriable: false,
      says: /a cycle/,
    },
    {
      make: () =>
        new DeserializationError({ topic: "t", partition: 2, offset: "7" }, new Error("bad magic")),
      code: "DESERIALIZATION_FAILED",
      retriable: false,
      says: /cannot decode the record at t\/2@7: bad magic/,
    },
    {
      make: () =>
        new ProcessingError({ topic: "t", partition: 0, offset: "1" }, "sum", new Error("nope")),
      code: "PROCESSING_FAILED",
      retriable: false,
      says: /processor sum failed on the record at t\/0@1: nope/,
    },
    {
      make: () =>
        new WireFormatError("unknown magic byte 1", { topic: "t", partition: 1, offset: "2" }),
      code: "WIRE_FORMAT_INVALID",
      retriable: false,
      says: /record t\/1@2\): unknown magic byte 1/,
    },
    {
      make: () => new SchemaUnknownError(77),
      code: "SCHEMA_UNKNOWN",
      retriable: false,
      says: /schema id 77 is unknown.*SCHEMA_REGISTRY_URL/,
    },
    {
      make: () => new RegistryUnavailableError(77, new Error("connect ECONNREFUSED")),
      code: "REGISTRY_UNAVAILABLE",
      retriable: true,
      says: /could not be asked for schema id 77 \(connect ECONNREFUSED\): waiting/,
    },
    {
      make: () => new RecordMisplacedError({ topic: "t", partition: 1, offset: "2" }, 3, 4),
      code: "RECORD_MISPLACED",
      retriable: false,
      says: /t\/1@2 belongs on partition 3 of 4 .* second instance/,
    },
    {
      make: () =>
        new RecordTooLargeError({ topic: "t", partition: 1, offset: "2" }, "x", 2_000_000, 10),
      code: "RECORD_TOO_LARGE",
      retriable: false,
      says: /t\/1@2 would make a record of 2000000 bytes for x, more than the 10/,
    },
    {
      make: () => new SagaLimitError("o-1", "its data", 300_000, 262_144, "maxDataBytes"),
      code: "SAGA_LIMIT_EXCEEDED",
      retriable: false,
      says: /saga o-1: its data is 300000 bytes, more than the limit of 262144 \(maxDataBytes\)/,
    },
    {
      make: () => new SchemaIncompatibleError("orders-value", "BACKWARD", "409"),
      code: "SCHEMA_INCOMPATIBLE",
      retriable: false,
      says: /subject orders-value is not BACKWARD-compatible.*add fields with defaults/,
    },
    {
      make: () =>
        new KafkaSecurityError(
          "127.0.0.1:9092",
          "refused the credentials: check KAFKA_SASL_USERNAME",
        ),
      code: "KAFKA_SECURITY_REFUSED",
      retriable: false,
      says: /Kafka at 127\.0\.0\.1:9092 refused the credentials: check KAFKA_SASL_USERNAME/,
    },
    {
      make: () =>
        new VerificationError(
          "the new generation of shop differs from the old: see the keys listed",
        ),
      code: "VERIFICATION_FAILED",
      retriable: false,
      says: /differs from the old: see the keys listed/,
    },
  ];

  it.each(cases)(
    "$code: has its code, its retriable flag and a message that says what to do",
    ({ make, code, retriable, says }) => {
      const error = make();
      expect(error).toBeInstanceOf(SagastreamError);
      expect(error).toBeInstanceOf(Error);
      expect(error.code).toBe(code);
      expect(error.retriable).toBe(retriable);
      expect(error.message).toMatch(says);
      expect(error.name).toBe(error.constructor.name);
    },
  );

  it("covers every code in the closed list exactly once", () => {
    expect(cases.map((c) => c.code).sort()).toEqual(Object.values(ErrorCode).sort());
  });

  it("turns any thrown value into an Error", () => {
    const error = new Error("x");
    expect(toError(error)).toBe(error);
    expect(toError("boom").message).toBe("boom");
    expect(toError({ a: 1 }).message).toBe('{"a":1}');
  });
});

/** The CLI's one line and exit code for each kind of failure (src/cli/failure.ts). */
import { describe, expect, it } from "vitest";
import { ExitCode } from "../../src/cli/exit-codes.js";
import { describeFailure } from "../../src/cli/failure.js";
import { UsageError } from "../../src/errors/index.js";
import { ConnectError } from "../../src/outbox/index.js";
import { WaitTimeoutError } from "../../src/util/index.js";

const endpoints = {
  KAFKA_BROKERS: ["127.0.0.1:19092"],
  DATABASE_URL: "postgres://bob:secret@127.0.0.1:15432/shop",
  CDC_DATABASE_URL: "postgres://shop_cdc:secret@127.0.0.1:15432/shop",
  CONNECT_URL: "http://127.0.0.1:18083",
};

describe("describeFailure", () => {
  it("keeps the engine's own message, with its kind's code", () => {
    const failure = describeFailure(new UsageError("--partitions must be a number"));
    expect(failure).toEqual({
      message: "--partitions must be a number",
      exitCode: ExitCode.Usage,
    });
  });

  it("names the variable whose role PostgreSQL refused", () => {
    const refused = Object.assign(new Error('role "shop_cdc" does not exist'), {
      code: "28000",
      severity: "FATAL",
    });
    const failure = describeFailure(refused, endpoints);
    expect(failure.exitCode).toBe(ExitCode.Refused);
    expect(failure.message).toContain("CDC_DATABASE_URL");
    expect(failure.message).toContain('role "shop_cdc" does not exist');
  });

  it("says to migrate when the outbox table is missing", () => {
    const missing = Object.assign(new Error('relation "shop.outbox" does not exist'), {
      code: "42P01",
      severity: "ERROR",
    });
    const failure = describeFailure(missing, endpoints);
    expect(failure.exitCode).toBe(ExitCode.Setup);
    expect(failure.message).toContain("sagastream outbox migrate");
  });

  it("names what does not answer, through fetch's cause and Kafka's aggregated errors", () => {
    const fetchFailed = new TypeError("fetch failed", {
      cause: Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:18083"), {
        code: "ECONNREFUSED",
        address: "127.0.0.1",
        port: 18083,
      }),
    });
    const connect = describeFailure(fetchFailed, endpoints);
    expect(connect.exitCode).toBe(ExitCode.Unavailable);
    expect(connect.message).toContain("127.0.0.1:18083 (CONNECT_URL)");
    expect(connect.message).toContain("sagastream stack up");

    const kafka = Object.assign(new Error("Cannot connect to any broker."), {
      errors: [
        Object.assign(new Error("Connection failed"), {
          cause: { code: "ECONNREFUSED", address: "127.0.0.1", port: 19092 },
        }),
      ],
    });
    expect(describeFailure(kafka, endpoints).message).toContain("(KAFKA_BROKERS)");
  });

  it("gives the reasons Connect refused a config, and the setup command", () => {
    const body = JSON.stringify({
      error_code: 400,
      message:
        'Connector configuration is invalid and contains the following 1 error(s):\nError while validating connector config: FATAL: role "shop_cdc" does not exist\nYou can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`',
    });
    const failure = describeFailure(
      new ConnectError(400, `Connect PUT /connectors/shop/config answered 400: ${body}`),
    );
    expect(failure.exitCode).toBe(ExitCode.Setup);
    expect(failure.message).toContain('FATAL: role "shop_cdc" does not exist');
    expect(failure.message).toContain("sagastream outbox migrate");
    expect(failure.message).not.toContain("\n");
  });

  it("calls a timed-out wait worth another try, and anything else a bug", () => {
    expect(describeFailure(new WaitTimeoutError("a worker to join", 1000, "none")).exitCode).toBe(
      ExitCode.TryAgain,
    );
    const bug = describeFailure(new Error("x is not a function\n    at y"));
    expect(bug.exitCode).toBe(ExitCode.Unexpected);
    expect(bug.message).toBe(
      "unexpected error: x is not a function (run it again with --verbose for the stack trace, and report it)",
    );
  });
});

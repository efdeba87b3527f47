/** The logger never writes a secret: secret-named fields at any depth, URL credentials anywhere. */
import { Writable } from "node:stream";
import { describe, expect, it } from "vitest";
import { createLogger, redactText } from "../../src/log/index.js";

function capture() {
  const lines: Record<string, unknown>[] = [];
  let text = "";
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger("info", "test", destination), lines, text: () => text };
}

describe("log redaction", () => {
  it("censors password, token and secret fields, and SASL settings, at any depth", () => {
    const { logger, lines, text } = capture();
    logger.info(
      {
        password: "p1",
        apiToken: "t1",
        db: { clientSecret: "s1", kafka: { settings: { sasl: { password: "p2" } } } },
        SAGASTREAM_API_TOKEN: "t2",
        keep: "visible",
      },
      "hello",
    );
    expect(lines[0]).toMatchObject({
      password: "[redacted]",
      apiToken: "[redacted]",
      db: { clientSecret: "[redacted]", kafka: { settings: { sasl: "[redacted]" } } },
      SAGASTREAM_API_TOKEN: "[redacted]",
      keep: "visible",
    });
    for (const secret of ["p1", "t1", "s1", "p2", "t2"])
      expect(text()).not.toContain(`"${secret}"`);
  });

  it("masks the credentials of connection strings in fields, messages and errors", () => {
    const { logger, text } = capture();
    const url = "postgres://sagastream_cdc:hunter2@127.0.0.1:15432/sagastream";
    logger.info({ databaseUrl: url, urls: [url] }, `connecting to ${url}`);
    logger.info("formatted %s", url);
    logger.warn({ err: new Error(`could not connect to ${url}`) }, "failed");
    expect(text()).not.toContain("hunter2");
    expect(text()).toContain("postgres://sagastream_cdc:***@127.0.0.1:15432/sagastream");
    expect(text().match(/:\*\*\*@/g)).toHaveLength(6); // field, list, message, formatted, err message and stack
  });

  it("leaves URLs without a password alone", () => {
    expect(redactText("postgres://postgres@127.0.0.1:15432/x and http://h:8081/a")).toBe(
      "postgres://postgres@127.0.0.1:15432/x and http://h:8081/a",
    );
    expect(redactText("amqp://u:p%40ss@h/v")).toBe("amqp://u:***@h/v");
  });
});

/**
 * What the HTTP API refuses before anything reaches the engine (review of issue 13: it
 * accepted a cancel whose record the broker would refuse, read any body whole, answered 500 to
 * a null body or a bad escape, and let a cross-site form cancel a saga). The server runs on
 * localhost with a fake of its narrow backend interface: these are the server's own checks.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Registry } from "prom-client";
import { startApiServer, type ApiServer, type SagaApiBackend } from "../../src/api/index.js";
import { createLogger } from "../../src/log/index.js";
import type { SagaControl } from "../../src/saga/index.js";

const requests: { sagaId: string; control: SagaControl }[] = [];
const running = { sagaId: "order-1", status: "RUNNING" };
const backend = {
  queries: {
    get: () => Promise.resolve({ placement: "here", saga: running }),
    partitionOf: () => 0,
    list: () => Promise.resolve({ sagas: [], partitions: [0], missing: [] }),
  },
  members: () => Promise.resolve([]),
  stuck: () => [],
  request: (sagaId: string, control: SagaControl) => {
    requests.push({ sagaId, control });
    return Promise.resolve();
  },
  registry: new Registry(),
} as unknown as SagaApiBackend;

let server: ApiServer;
beforeAll(async () => {
  server = await startApiServer({
    host: "127.0.0.1",
    port: 0,
    backend: () => backend,
    logger: createLogger("silent"),
  });
});
afterAll(() => server.close());

async function post(path: string, body: string, contentType = "application/json") {
  const response = await fetch(`${server.address}${path}`, {
    method: "POST",
    headers: { "content-type": contentType },
    body,
  });
  return { status: response.status, body: (await response.json()) as { error?: string } };
}

describe("the API's request checks", () => {
  it("accepts a well-formed cancel", async () => {
    const answer = await post("/sagas/order-1/cancel", JSON.stringify({ reason: "customer" }));
    expect(answer.status).toBe(202);
    expect(requests.at(-1)).toEqual({
      sagaId: "order-1",
      control: { type: "Cancel", reason: "customer" },
    });
  });

  it("refuses a reason longer than the engine keeps (400), and applies nothing", async () => {
    const before = requests.length;
    const answer = await post(
      "/sagas/order-1/cancel",
      JSON.stringify({ reason: "x".repeat(1_001) }),
    );
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatch(/reason.*1000 characters/);
    expect(requests).toHaveLength(before);
  });

  it("refuses a body over 64 KiB with 413 without reading it all", async () => {
    const answer = await post("/sagas/order-1/cancel", `{"reason":"${"x".repeat(10_000_000)}"}`);
    expect(answer.status).toBe(413);
    expect(answer.body.error).toMatch(/64 KiB/);
  });

  it.each([
    ["null", "null"],
    ["an array", "[]"],
    ["a number", "42"],
    ["a reason that is not text", '{"reason": 7}'],
  ])("answers 400, not 500, to %s", async (_what, body) => {
    const answer = await post("/sagas/order-1/cancel", body);
    expect(answer.status).toBe(400);
    expect(answer.body.error).toBeTruthy();
  });

  it("answers 400 to a malformed percent-escape in the path", async () => {
    const response = await fetch(`${server.address}/sagas/%E0%A4%A/cancel`, { method: "GET" });
    expect(response.status).toBe(400);
  });

  it("refuses a POST that is not JSON: a cross-site form cannot send one", async () => {
    const before = requests.length;
    const answer = await post(
      "/sagas/order-1/cancel",
      "reason=csrf",
      "application/x-www-form-urlencoded",
    );
    expect(answer.status).toBe(415);
    expect(requests).toHaveLength(before);
  });

  it("answers 400 to a saga id no saga can have", async () => {
    const response = await fetch(`${server.address}/sagas/${"x".repeat(300)}`);
    expect(response.status).toBe(400);
  });

  it("keeps serving after all of the above", async () => {
    const response = await fetch(`${server.address}/health`);
    expect(response.status).toBe(200);
  });
});

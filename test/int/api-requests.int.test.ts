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

describe("the API's tokens", () => {
  const tokens = { operate: "operate-token-0123456789", read: "read-token-0123456789" };
  let secured: ApiServer;
  beforeAll(async () => {
    secured = await startApiServer({
      host: "127.0.0.1",
      port: 0,
      backend: () => backend,
      tokens,
      logger: createLogger("silent"),
    });
  });
  afterAll(() => secured.close());

  const call = async (path: string, token?: string, body?: string) => {
    const response = await fetch(`${secured.address}${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: {
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        ...(body === undefined ? {} : { "content-type": "application/json" }),
      },
      ...(body === undefined ? {} : { body }),
    });
    return {
      status: response.status,
      challenge: response.headers.get("www-authenticate"),
      body: (await response.json()) as { error?: string },
    };
  };

  it("answers 401 with no token or a wrong one, and applies nothing", async () => {
    const before = requests.length;
    for (const token of [undefined, "not-the-token-0123456789"]) {
      const answer = await call("/sagas/order-1/cancel", token, "{}");
      expect(answer.status).toBe(401);
      expect(answer.challenge).toMatch(/^Bearer/);
      expect(answer.body.error).toMatch(/SAGASTREAM_API_TOKEN/);
      expect((await call("/sagas/order-1", token)).status).toBe(401);
    }
    expect(requests).toHaveLength(before);
  });

  it("lets a read token read (200) but not act (403)", async () => {
    const before = requests.length;
    expect((await call("/sagas/order-1?history=false", tokens.read)).status).toBe(200);
    const answer = await call("/sagas/order-1/cancel", tokens.read, "{}");
    expect(answer.status).toBe(403);
    expect(answer.body.error).toMatch(/operate token/);
    expect(requests).toHaveLength(before);
  });

  it("lets the operate token act (202), refuses its 10 MB body (413) and a malformed id (400)", async () => {
    expect((await call("/sagas/order-1/cancel", tokens.operate, "{}")).status).toBe(202);
    const big = await call("/sagas/order-1/cancel", tokens.operate, "x".repeat(10 * 2 ** 20));
    expect(big.status).toBe(413);
    expect((await call("/sagas/%E0%A4%A", tokens.operate)).status).toBe(400);
  });

  it("answers /health without a token (probes) and keeps serving", async () => {
    expect((await call("/health")).status).toBe(200);
    expect((await call("/sagas/order-1", tokens.read)).status).toBe(200);
  });

  it("refuses to serve a non-loopback address without a token, and a wildcard one without an advertised URL", async () => {
    const open = { port: 0, backend: () => backend, logger: createLogger("silent") };
    await expect(startApiServer({ ...open, host: "0.0.0.0" })).rejects.toThrow(
      /SAGASTREAM_API_TOKEN.*loopback/,
    );
    await expect(startApiServer({ ...open, host: "0.0.0.0", tokens })).rejects.toThrow(
      /SAGASTREAM_API_ADVERTISED_URL/,
    );
    const advertised = await startApiServer({
      ...open,
      host: "0.0.0.0",
      tokens,
      advertisedUrl: "http://worker-1.internal:18090/",
    });
    expect(advertised.address).toBe("http://worker-1.internal:18090");
    await advertised.close();
  });
});

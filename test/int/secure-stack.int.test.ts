/**
 * Sagas end to end over SASL_SSL: the test starts a `--secure` stack of its own (its own state
 * dir and ports: a broker, the registry and Connect; PostgreSQL is the run's), whose CA,
 * certificate and users the stack makes itself. Orders placed through the order service's
 * outbox reach Kafka through Debezium on the secure Connect, start sagas on a worker whose
 * clients use SCRAM-SHA-512, the participants answer with SCRAM-SHA-512, and a PLAIN client
 * reads every saga's events. A client without credentials, without TLS, with a wrong password
 * or without the CA is refused with an error that names the setting to change.
 */
import { mkdtemp, rm, readdir, readFile, stat, chmod } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { FaultPlan, orderSaga, type OrderService } from "../../examples/order/index.js";
import { loadConfig, type KafkaSecurity } from "../../src/config/index.js";
import { KafkaSecurityError } from "../../src/errors/index.js";
import { setDefaultKafkaSecurity, withAdmin, type KafkaSettings } from "../../src/kafka/index.js";
import { createLogger } from "../../src/log/index.js";
import { Stack } from "../../src/stack/index.js";
import { waitUntil } from "../../src/util/index.js";
import { SagaWorker } from "../../src/worker/index.js";
import { expectOrderOutcomes, orders, watchSagaEvents } from "../support/order-outcomes.js";
import { orderWorld } from "../support/order-world.js";

/**
 * The secure stack's ports: below the ephemeral range (32768+), clear of the default stack's
 * (19092-19097, 29092/29093, 18081, 18083, 15432). A busy one fails `up` naming its variable.
 */
const PORTS = {
  SAGASTREAM_KAFKA_PORT: "23092",
  SAGASTREAM_KAFKA_CONTROLLER_PORT: "23093",
  SAGASTREAM_DR_KAFKA_PORT: "23094",
  SAGASTREAM_DR_KAFKA_CONTROLLER_PORT: "23095",
  SAGASTREAM_REGISTRY_PORT: "23081",
  SAGASTREAM_CONNECT_PORT: "23083",
  SAGASTREAM_POSTGRES_PORT: "23432",
};
const ORDERS = 40;
const STEP_TIMEOUT_MS = 4_000;
const faults = new FaultPlan({ failureRate: 0.2, timeoutRate: 0.1 });

let stateDir = "";
let workerDir = "";
let stack: Stack | undefined;
let scram: KafkaSecurity;
let world: ReturnType<typeof orderWorld> | undefined;
let orderService: OrderService;
let worker: SagaWorker | undefined;
let services: Awaited<ReturnType<NonNullable<typeof world>["startParticipants"]>>;
const upStarted = Date.now();

beforeAll(async () => {
  stateDir = await mkdtemp(path.join(os.tmpdir(), "secure-stack-"));
  await chmod(stateDir, 0o755);
  workerDir = await mkdtemp(path.join(os.tmpdir(), "secure-worker-"));
  const env = {
    ...PORTS,
    SAGASTREAM_STATE_DIR: stateDir,
    SAGASTREAM_STACK_TIMEOUT: "150",
    SAGASTREAM_JAVA_HOME: process.env.SAGASTREAM_JAVA_HOME,
    SAGASTREAM_PG_BIN: process.env.SAGASTREAM_PG_BIN,
  };
  stack = new Stack(loadConfig(env), (line) => process.stderr.write(`secure stack: ${line}\n`));
  await stack.up({ dr: false, secure: true, only: ["kafka", "registry", "connect"] });
  process.stderr.write(`secure stack: up in ${(Date.now() - upStarted) / 1000} s\n`);
  const security = stack.security();
  if (security === undefined) throw new Error("`up --secure` made no security");
  scram = security.client;

  const local = loadConfig(env).connections;
  world = orderWorld("secure", {
    kafkaBrokers: local.kafkaBrokers,
    schemaRegistryUrl: local.schemaRegistryUrl,
    connectUrl: local.connectUrl,
    kafkaSecurity: scram,
  });
  // The worker's runtime makes its clients from a broker list: they take the process default.
  setDefaultKafkaSecurity(scram);
  orderService = await world.startOrderService();
  worker = new SagaWorker({
    applicationId: world.name,
    brokers: local.kafkaBrokers,
    sagas: [orderSaga({ stepTimeoutMs: STEP_TIMEOUT_MS })],
    starts: [orderService.sagaStart()],
    stateDir: workerDir,
    partitions: 2,
    codec: world.codec,
    api: false,
    logger: createLogger("warn", "secure-stack-test"),
  });
  await worker.start();
  services = await world.startParticipants(faults, STEP_TIMEOUT_MS + 500);
}, 300_000);

afterAll(async () => {
  await worker?.stop();
  await world?.cleanup();
  setDefaultKafkaSecurity(inject("connections").kafkaSecurity);
  await stack?.down({ purge: true });
  await rm(stateDir, { recursive: true, force: true });
  await rm(workerDir, { recursive: true, force: true });
}, 120_000);

describe("a --secure stack", () => {
  it(`runs ${ORDERS} order sagas end to end over SASL_SSL (SCRAM-SHA-512; a PLAIN reader)`, async () => {
    if (world === undefined || scram.sasl === undefined) throw new Error("no world");
    // Every saga's events, read by a client of the PLAIN mechanism.
    const plain: KafkaSettings = {
      ...world.kafka,
      clientId: "secure-plain-reader",
      security: { ...scram, sasl: { ...scram.sasl, mechanism: "PLAIN" } },
    };
    const events = await watchSagaEvents(plain, world.codec, world.name);
    const placed = orders(ORDERS);
    try {
      for (let i = 0; i < placed.length; i += 8) {
        await Promise.all(placed.slice(i, i + 8).map((o) => orderService.place(o)));
      }
      await waitUntil(() => (events.ended() >= ORDERS ? true : undefined), {
        timeoutMs: 120_000,
        intervalMs: 500,
        description: `${ORDERS} sagas to end over SASL_SSL`,
      });
    } finally {
      await events.stop();
    }
    const outcome = await expectOrderOutcomes(world.pool, services.schemas, faults, placed, events);
    process.stderr.write(`secure stack: ${JSON.stringify(outcome)}\n`);
  });

  it("refuses a client without credentials, without TLS, with a wrong password or without the CA", async () => {
    if (scram.sasl === undefined) throw new Error("no SASL");
    const brokers = [`127.0.0.1:${PORTS.SAGASTREAM_KAFKA_PORT}`];
    const attempt = (security: KafkaSecurity) =>
      withAdmin(
        { brokers, clientId: "secure-refusals", security },
        (admin) => admin.metadata({ topics: [] }),
        { connectTimeoutMs: 5_000, requestTimeoutMs: 10_000, retries: 0 },
      ).then(
        () => undefined,
        (error: unknown) => error,
      );
    const refusals: [KafkaSecurity, RegExp][] = [
      [
        { protocol: "PLAINTEXT" },
        /listens with TLS, and this client connects with PLAINTEXT: set KAFKA_SECURITY_PROTOCOL=SASL_SSL/,
      ],
      [
        { protocol: "SSL", tls: scram.tls ?? {} },
        /closed the connection of this SSL client \(no SASL\): .*KAFKA_SECURITY_PROTOCOL=SASL_SSL/,
      ],
      [
        { ...scram, sasl: { ...scram.sasl, password: "wrong" } },
        /refused the credentials of user "sagastream" \(SCRAM-SHA-512\): check KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD/,
      ],
      [
        { ...scram, sasl: { ...scram.sasl, mechanism: "PLAIN", password: "wrong" } },
        /refused the credentials of user "sagastream" \(PLAIN\)/,
      ],
      [
        { ...scram, sasl: { ...scram.sasl, username: "nobody" } },
        /refused the credentials of user "nobody" \(SCRAM-SHA-512\)/,
      ],
      [
        { ...scram, tls: {} },
        /does not trust \(self-signed certificate in certificate chain\): set KAFKA_SSL_CA_FILE/,
      ],
    ];
    for (const [security, says] of refusals) {
      const error = await attempt(security);
      expect(error, JSON.stringify({ ...security, sasl: undefined })).toBeInstanceOf(
        KafkaSecurityError,
      );
      expect((error as Error).message).toMatch(says);
    }
    // while the right credentials connect, with either mechanism
    expect(await attempt(scram)).toBeUndefined();
    expect(
      await attempt({ ...scram, sasl: { ...scram.sasl, mechanism: "PLAIN" } }),
    ).toBeUndefined();
  });

  it("keeps its secrets in files of mode 600, out of its output, logs and configs' neighbours", async () => {
    const security = stack?.security();
    if (stack === undefined || security === undefined) throw new Error("no stack");
    for (const file of ["sagastream.password", "broker.password", "keystore.password", "ca.key"]) {
      expect((await stat(path.join(security.dir, file))).mode & 0o777, file).toBe(0o600);
    }
    expect((await stat(security.dir)).mode & 0o777).toBe(0o700);
    for (const file of ["kafka/server.properties", "connect/connect-distributed.properties"]) {
      expect((await stat(path.join(stateDir, file))).mode & 0o777, file).toBe(0o600);
    }
    const printed = Object.entries(stack.connectionEnv())
      .map(([k, v]) => `${k}=${v}`)
      .join("\n");
    expect(printed).toContain(`KAFKA_SASL_PASSWORD_FILE=${security.passwordFile}`);
    expect(printed).toContain(`KAFKA_SSL_CA_FILE=${security.caFile}`);
    const secrets = [security.password, security.brokerPassword, security.keystorePassword];
    const logs = path.join(stateDir, "logs");
    for (const log of await readdir(logs)) {
      const text = await readFile(path.join(logs, log), "utf8");
      for (const secret of secrets) expect(text.includes(secret), log).toBe(false);
    }
    for (const secret of secrets) expect(printed.includes(secret)).toBe(false);
  });
});

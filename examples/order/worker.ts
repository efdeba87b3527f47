/**
 * An order-saga engine worker as its own process, for the kill tests and the demo:
 *   node dist/examples/order/worker.js '<json options>'
 * It prints "api <url>" and then "ready" once it has joined its group, and stops cleanly on
 * SIGTERM or SIGINT (within the worker's shutdown timeout; a second signal stops it at once).
 */
import { AvroCodec, createLogger, createSchemaRegistry, SagaWorker } from "sagastream";
import { orderPlacedSchema, orderSagaStart, orderTopic } from "./order-service.js";
import { stopWhenParentExits } from "./child-process.js";
import { orderSaga } from "./saga.js";

export interface WorkerOptions {
  applicationId: string;
  brokers: string[];
  schemaRegistryUrl: string;
  /** The order service's name: its events arrive on `<name>.outbox.event.order`. */
  orderService: string;
  stateDir: string;
  partitions: number;
  stepTimeoutMs?: number;
  /** Where the status API listens (default 127.0.0.1, any free port). */
  api?: { host: string; port: number };
  /** Default "warn". */
  logLevel?: "info" | "warn" | "error";
  /** The region it runs in (default SAGASTREAM_REGION, else the primary): it stands by elsewhere. */
  region?: string;
  /** The DR cluster: the worker then exports the replication lag and RPO as metrics. */
  drBrokers?: string[];
}

const options = JSON.parse(process.argv[2] ?? "{}") as WorkerOptions;
const codec = new AvroCodec(createSchemaRegistry(options.schemaRegistryUrl));
const worker = new SagaWorker({
  applicationId: options.applicationId,
  brokers: options.brokers,
  sagas: [orderSaga({ stepTimeoutMs: options.stepTimeoutMs })],
  starts: [orderSagaStart(codec, orderTopic(options.orderService), await orderPlacedSchema())],
  stateDir: options.stateDir,
  partitions: options.partitions,
  sessionTimeoutMs: 6_000,
  ...(options.api === undefined ? {} : { api: options.api }),
  codec,
  region: options.region,
  ...(options.drBrokers === undefined
    ? {}
    : { disasterRecovery: { brokers: options.drBrokers, intervalMs: 2_000 } }),
  logger: createLogger(options.logLevel ?? "warn", `saga-worker-${process.pid}`),
});

let stopping = false;
const stop = () => {
  if (stopping) process.exit(130); // asked twice: stop now
  stopping = true;
  void worker.stop().then(() => process.exit(0));
};
for (const signal of ["SIGTERM", "SIGINT"] as const) process.on(signal, stop);
stopWhenParentExits(stop);

await worker.start();
process.stdout.write(`api ${worker.apiAddress}\nready\n`);

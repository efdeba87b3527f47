/**
 * The demo's participant services (payment, inventory, shipping) as one process of their own:
 *   node dist/examples/order/participants-process.js '<json options>'
 * It prints "ready" once they consume, and on SIGTERM stops them (removing their reply
 * outbox connectors) and exits.
 */
import pg from "pg";
import { AvroCodec, ConnectClient, createSchemaRegistry, startTracing } from "sagastream";
import { stopWhenParentExits } from "./child-process.js";
import { FaultPlan, type FaultRates } from "./faults.js";
import { startParticipants } from "./participants.js";

export interface ParticipantsProcessOptions {
  applicationId: string;
  brokers: string[];
  schemaRegistryUrl: string;
  databaseUrl: string;
  cdcDatabaseUrl: string;
  connectUrl: string;
  faults: FaultRates;
  slowMs: number;
  schemaPrefix: string;
  concurrency: number;
  /** The region they run in (default SAGASTREAM_REGION, else the primary): they stand by elsewhere. */
  region?: string;
  /**
   * Reply through outbox tables another region's connectors publish (a DR region's standby):
   * no connector of their own (a failover creates them).
   */
  connectorsElsewhere?: boolean;
}

const options = JSON.parse(process.argv[2] ?? "{}") as ParticipantsProcessOptions;
// One service name for the three services of this process (OTEL_* variables; off by default).
await startTracing({ serviceName: "order-participants" });
const pool = new pg.Pool({ connectionString: options.databaseUrl, max: 3 * options.concurrency });
const connect = new ConnectClient(options.connectUrl);
const services = await startParticipants({
  applicationId: options.applicationId,
  kafka: { brokers: options.brokers, clientId: `${options.applicationId}-participants` },
  region: options.region,
  codec: new AvroCodec(createSchemaRegistry(options.schemaRegistryUrl)),
  pool,
  faults: new FaultPlan(options.faults),
  concurrency: options.concurrency,
  slowMs: options.slowMs,
  schemaPrefix: options.schemaPrefix,
  outboxReplies: {
    connect,
    cdcDatabaseUrl: options.cdcDatabaseUrl,
    services: ["payment", "inventory", "shipping"],
    connectors: options.connectorsElsewhere !== true,
  },
});

let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  void services
    .stop()
    .then(() => pool.end())
    .then(() => process.exit(0));
};
process.on("SIGTERM", stop);
stopWhenParentExits(stop);
process.stdout.write("ready\n");

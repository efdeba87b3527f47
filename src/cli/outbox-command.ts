/** `sagastream outbox migrate` and `sagastream connectors apply | status | delete`. */
import { Command } from "commander";
import pg from "pg";
import { loadConfig } from "../config/index.js";
import { UsageError } from "../errors/index.js";
import {
  ConnectClient,
  createOutbox,
  outboxConnectorConfig,
  outboxTable,
  replicationRoleOf,
} from "../outbox/index.js";

const DEFAULT_TABLE = "public.sagastream_outbox";
const DEFAULT_CONNECTOR = "sagastream_outbox";

function connectorName(name: string): string {
  if (!/^[a-z0-9_]+$/.test(name)) {
    throw new UsageError(
      `--name "${name}" must hold only a-z, 0-9 and _ (it names the replication slot too)`,
    );
  }
  return name;
}

export function outboxCommand(): Command {
  const outbox = new Command("outbox").description(
    "the transactional outbox table services write events to",
  );
  outbox
    .command("migrate")
    .description(
      "create the outbox table and its publication in DATABASE_URL, and the replication role " +
        "of CDC_DATABASE_URL that Debezium connects as (idempotent)",
    )
    .option("--table <schema.name>", "the outbox table", DEFAULT_TABLE)
    .action(async (flags: { table: string }) => {
      const { connections } = loadConfig();
      const pool = new pg.Pool({ connectionString: connections.databaseUrl, max: 1 });
      try {
        const table = outboxTable(flags.table).qualified;
        const replicationRole = replicationRoleOf(
          connections.cdcDatabaseUrl,
          connections.databaseUrl,
        );
        await createOutbox({
          pool,
          table,
          encode: () => Promise.reject(new Error("not used")),
        }).migrate({ replicationRole });
        process.stdout.write(
          `outbox table ${table} and its publication are ready` +
            (replicationRole === undefined
              ? "\n"
              : `; replication role ${replicationRole.user} may read it\n`),
        );
      } finally {
        await pool.end();
      }
    });
  return outbox;
}

export function connectorsCommand(): Command {
  const connectors = new Command("connectors").description(
    "the Debezium outbox connector, through Kafka Connect's REST API",
  );
  const common = (command: Command) =>
    command
      .option("--name <name>", "connector, slot and topic-prefix name", DEFAULT_CONNECTOR)
      .option("--table <schema.name>", "the outbox table", DEFAULT_TABLE);

  common(connectors.command("apply"))
    .description("create the connector, or update its config (idempotent)")
    .action(async (flags: { name: string; table: string }) => {
      const { connections } = loadConfig();
      const name = connectorName(flags.name);
      const config = outboxConnectorConfig({
        databaseUrl: connections.cdcDatabaseUrl,
        table: outboxTable(flags.table).qualified,
        name,
      });
      await new ConnectClient(connections.connectUrl).put(name, config);
      process.stdout.write(
        `connector ${name} applied (outbox ${config["table.include.list"] ?? ""} → outbox.event.<aggregate>)\n`,
      );
    });

  common(connectors.command("status"))
    .description("show the connector's and its tasks' states")
    .action(async (flags: { name: string }) => {
      const { connections } = loadConfig();
      const status = await new ConnectClient(connections.connectUrl).status(
        connectorName(flags.name),
      );
      if (status === undefined)
        throw new UsageError(
          `connector ${flags.name} does not exist: run \`sagastream connectors apply\``,
        );
      process.stdout.write(
        `${status.name}: ${status.connector.state}; tasks: ${status.tasks.map((t) => `${t.id} ${t.state}`).join(", ") || "none"}\n`,
      );
    });

  common(connectors.command("delete"))
    .description("delete the connector (its replication slot stays until dropped)")
    .action(async (flags: { name: string }) => {
      const { connections } = loadConfig();
      await new ConnectClient(connections.connectUrl).delete(connectorName(flags.name));
      process.stdout.write(`connector ${flags.name} deleted\n`);
    });
  return connectors;
}

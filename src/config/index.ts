/**
 * The one typed, validated configuration of sagastream: environment variables, overridden by
 * command-line flags. Every error names the bad key and what it must be.
 */
import path from "node:path";
import { z } from "zod";
import { ConfigError } from "../errors/index.js";
import {
  kafkaSecurityEnv,
  kafkaSecurityKeys,
  kafkaSecurityOf,
  localStackSecurity,
  PLAINTEXT,
  type KafkaSecurity,
} from "./kafka-security.js";

export {
  kafkaSecurityEnv,
  kafkaSecurityFromEnv,
  localStackSecurity,
  LOCAL_SECURITY,
  PLAINTEXT,
  SaslMechanism,
  SecurityProtocol,
  type KafkaSecurity,
} from "./kafka-security.js";

const port = z.coerce
  .number({ error: "must be a port number" })
  .int("must be a whole port number")
  .min(1024, "must be a port from 1024 to 65535")
  .max(65535, "must be a port from 1024 to 65535");

const brokerList = z
  .string()
  .transform((s) =>
    s
      .split(",")
      .map((b) => b.trim())
      .filter((b) => b !== ""),
  )
  .refine((list) => list.length > 0 && list.every((b) => /^[^\s:]+:\d{1,5}$/.test(b)), {
    error: "must be a comma-separated list of host:port (e.g. 127.0.0.1:9092)",
  });

const httpUrl = z.url({ protocol: /^https?$/, error: "must be an http(s) URL" });
const postgresUrl = z.url({
  protocol: /^postgres(ql)?$/,
  error: "must be a postgres:// URL (e.g. postgres://postgres@127.0.0.1:5432/sagastream)",
});

export const LogLevel = {
  Fatal: "fatal",
  Error: "error",
  Warn: "warn",
  Info: "info",
  Debug: "debug",
  Trace: "trace",
  Silent: "silent",
} as const;
export type LogLevel = (typeof LogLevel)[keyof typeof LogLevel];

/** The most brokers `stack up --brokers` runs in the local primary cluster. */
export const MAX_BROKERS = 5;

/** Every key sagastream reads, with its default where it has one. */
const schema = z.object({
  SAGASTREAM_STATE_DIR: z.string().min(1, "must be a directory path").default(".stack"),
  SAGASTREAM_LOG_LEVEL: z
    .enum(Object.values(LogLevel), {
      error: `must be one of ${Object.values(LogLevel).join(", ")}`,
    })
    .default("info"),
  SAGASTREAM_STACK_TIMEOUT: z.coerce
    .number({ error: "must be a number of seconds" })
    .int("must be a whole number of seconds")
    .positive("must be a positive number of seconds")
    .default(240),
  SAGASTREAM_JAVA_HOME: z.string().min(1).optional(),
  SAGASTREAM_PG_BIN: z.string().min(1).optional(),
  SAGASTREAM_BROKERS: z.coerce
    .number({ error: "must be a number of brokers" })
    .int("must be a whole number of brokers")
    .min(1, `must be from 1 to ${MAX_BROKERS}`)
    .max(MAX_BROKERS, `must be from 1 to ${MAX_BROKERS}`)
    .optional(),
  SAGASTREAM_KAFKA_PORT: port.default(19092),
  SAGASTREAM_KAFKA_CONTROLLER_PORT: port.default(19093),
  SAGASTREAM_DR_KAFKA_PORT: port.default(29092),
  SAGASTREAM_DR_KAFKA_CONTROLLER_PORT: port.default(29093),
  SAGASTREAM_REGISTRY_PORT: port.default(18081),
  SAGASTREAM_CONNECT_PORT: port.default(18083),
  SAGASTREAM_POSTGRES_PORT: port.default(15432),
  SAGASTREAM_DR_REGISTRY_PORT: port.default(28081),
  SAGASTREAM_DR_CONNECT_PORT: port.default(28083),
  KAFKA_BROKERS: brokerList.optional(),
  DR_KAFKA_BROKERS: brokerList.optional(),
  SCHEMA_REGISTRY_URL: httpUrl.optional(),
  CONNECT_URL: httpUrl.optional(),
  DR_SCHEMA_REGISTRY_URL: httpUrl.optional(),
  DR_CONNECT_URL: httpUrl.optional(),
  DATABASE_URL: postgresUrl.optional(),
  CDC_DATABASE_URL: postgresUrl.optional(),
  SAGASTREAM_API_URL: httpUrl.default("http://127.0.0.1:18090"),
  ...kafkaSecurityKeys,
});

export type ConfigKey = keyof z.input<typeof schema>;

export interface StackPorts {
  kafka: number;
  kafkaController: number;
  drKafka: number;
  drKafkaController: number;
  registry: number;
  connect: number;
  postgres: number;
  drRegistry: number;
  drConnect: number;
}

/** Where every client finds the infrastructure; printed by `stack up` and `stack status`. */
export interface Connections {
  kafkaBrokers: string[];
  drKafkaBrokers: string[];
  schemaRegistryUrl: string;
  connectUrl: string;
  /** The DR region's registry and Connect (`stack up --dr`), for a failover. */
  drSchemaRegistryUrl: string;
  drConnectUrl: string;
  databaseUrl: string;
  /** Where Debezium reads the WAL: a login role with REPLICATION (made by `outbox migrate`). */
  cdcDatabaseUrl: string;
  /** SASL and TLS of every Kafka client (KAFKA_SECURITY_PROTOCOL & co., or a `--secure` stack). */
  kafkaSecurity: KafkaSecurity;
}

export interface Config {
  /**
   * Brokers of the local primary cluster, when set (`stack up --brokers`); otherwise the stack
   * uses the count it was created with, 1 for a new one.
   */
  brokers: number | undefined;
  /** Absolute path of the local stack's state (resolved JARs, data, logs, pid files). */
  stateDir: string;
  logLevel: LogLevel;
  stackTimeoutSeconds: number;
  javaHome: string | undefined;
  /** Directory of the PostgreSQL server binaries, when not found by itself. */
  pgBin: string | undefined;
  ports: StackPorts;
  connections: Connections;
  /** True when KAFKA_BROKERS points every command at an existing cluster. */
  externalCluster: boolean;
  /** A saga worker's HTTP API, for `sagastream saga` (the demo's worker listens here). */
  apiUrl: string;
}

export const LOCAL_HOST = "127.0.0.1";
export const STACK_DATABASE = "sagastream";

/**
 * Reads the configuration from `env`, with `overrides` (from flags) taking precedence.
 * Throws a ConfigError naming the first bad key.
 */
export function loadConfig(
  env: Readonly<Record<string, string | undefined>> = process.env,
  overrides: Partial<Record<ConfigKey, string>> = {},
  cwd: string = process.cwd(),
): Config {
  const raw: Record<string, string> = {};
  for (const key of Object.keys(schema.shape)) {
    const value = overrides[key as ConfigKey] ?? env[key];
    if (value !== undefined && value !== "") raw[key] = value;
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = String(issue?.path[0] ?? "configuration");
    throw new ConfigError(
      key,
      `${issue?.message ?? "is invalid"} (got ${JSON.stringify(raw[key])})`,
    );
  }
  const c = parsed.data;
  const ports: StackPorts = {
    kafka: c.SAGASTREAM_KAFKA_PORT,
    kafkaController: c.SAGASTREAM_KAFKA_CONTROLLER_PORT,
    drKafka: c.SAGASTREAM_DR_KAFKA_PORT,
    drKafkaController: c.SAGASTREAM_DR_KAFKA_CONTROLLER_PORT,
    registry: c.SAGASTREAM_REGISTRY_PORT,
    connect: c.SAGASTREAM_CONNECT_PORT,
    postgres: c.SAGASTREAM_POSTGRES_PORT,
    drRegistry: c.SAGASTREAM_DR_REGISTRY_PORT,
    drConnect: c.SAGASTREAM_DR_CONNECT_PORT,
  };
  assertDistinctPorts(ports, c.SAGASTREAM_BROKERS ?? 1);
  const local = localConnections(ports, c.SAGASTREAM_BROKERS ?? 1);
  const stateDir = path.resolve(cwd, c.SAGASTREAM_STATE_DIR);
  // A local stack made with `--secure` is remembered in its state dir; KAFKA_* keys win.
  const localSecurity = c.KAFKA_BROKERS === undefined ? localStackSecurity(stateDir) : undefined;
  return {
    brokers: c.SAGASTREAM_BROKERS,
    stateDir,
    logLevel: c.SAGASTREAM_LOG_LEVEL,
    stackTimeoutSeconds: c.SAGASTREAM_STACK_TIMEOUT,
    javaHome: c.SAGASTREAM_JAVA_HOME,
    pgBin: c.SAGASTREAM_PG_BIN,
    ports,
    connections: {
      kafkaBrokers: c.KAFKA_BROKERS ?? local.kafkaBrokers,
      drKafkaBrokers: c.DR_KAFKA_BROKERS ?? local.drKafkaBrokers,
      schemaRegistryUrl: c.SCHEMA_REGISTRY_URL ?? local.schemaRegistryUrl,
      connectUrl: c.CONNECT_URL ?? local.connectUrl,
      drSchemaRegistryUrl: c.DR_SCHEMA_REGISTRY_URL ?? local.drSchemaRegistryUrl,
      drConnectUrl: c.DR_CONNECT_URL ?? local.drConnectUrl,
      databaseUrl: c.DATABASE_URL ?? local.databaseUrl,
      cdcDatabaseUrl: c.CDC_DATABASE_URL ?? cdcUrlFor(c.DATABASE_URL ?? local.databaseUrl),
      kafkaSecurity: kafkaSecurityOf(c, localSecurity),
    },
    externalCluster: c.KAFKA_BROKERS !== undefined,
    apiUrl: c.SAGASTREAM_API_URL.replace(/\/$/, ""),
  };
}

/**
 * The ports of node `node` (1-based) of the local primary cluster: node 1 on the configured
 * ports, each further node two above the one before (19094/19095, 19096/19097, ...).
 */
export function brokerPorts(ports: StackPorts, node: number): { port: number; controller: number } {
  return { port: ports.kafka + 2 * (node - 1), controller: ports.kafkaController + 2 * (node - 1) };
}

/** The addresses of the local stack started by `sagastream stack up`. */
export function localConnections(ports: StackPorts, brokers = 1): Connections {
  const databaseUrl = `postgres://postgres@${LOCAL_HOST}:${ports.postgres}/${STACK_DATABASE}`;
  return {
    kafkaBrokers: Array.from(
      { length: brokers },
      (_, i) => `${LOCAL_HOST}:${brokerPorts(ports, i + 1).port}`,
    ),
    drKafkaBrokers: [`${LOCAL_HOST}:${ports.drKafka}`],
    schemaRegistryUrl: `http://${LOCAL_HOST}:${ports.registry}/apis/ccompat/v7`,
    connectUrl: `http://${LOCAL_HOST}:${ports.connect}`,
    drSchemaRegistryUrl: `http://${LOCAL_HOST}:${ports.drRegistry}/apis/ccompat/v7`,
    drConnectUrl: `http://${LOCAL_HOST}:${ports.drConnect}`,
    databaseUrl,
    cdcDatabaseUrl: cdcUrlFor(databaseUrl),
    kafkaSecurity: PLAINTEXT,
  };
}

/** The default replication role: DATABASE_URL's server and database, user `sagastream_cdc`. */
export const DEFAULT_CDC_USER = "sagastream_cdc";

function cdcUrlFor(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  url.username = DEFAULT_CDC_USER;
  url.password = DEFAULT_CDC_USER; // local default only: set CDC_DATABASE_URL in production
  return url.toString();
}

/**
 * The connection settings as the environment variables that point clients at them. With
 * `redact` (for output) no secret is in them: a URL's password and a SASL password are `***`
 * (a password file is named instead).
 */
export function connectionEnv(
  c: Connections,
  options: { redact: boolean } = { redact: false },
): Record<string, string> {
  const url = (u: string) => (options.redact ? redactUrl(u) : u);
  return {
    KAFKA_BROKERS: c.kafkaBrokers.join(","),
    SCHEMA_REGISTRY_URL: url(c.schemaRegistryUrl),
    DATABASE_URL: url(c.databaseUrl),
    CDC_DATABASE_URL: url(c.cdcDatabaseUrl),
    CONNECT_URL: url(c.connectUrl),
    DR_KAFKA_BROKERS: c.drKafkaBrokers.join(","),
    DR_SCHEMA_REGISTRY_URL: url(c.drSchemaRegistryUrl),
    DR_CONNECT_URL: url(c.drConnectUrl),
    ...kafkaSecurityEnv(c.kafkaSecurity, { revealPassword: !options.redact }),
  };
}

/** `url` with its password (if any) replaced by `***`. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*):[^@/\s]*@/i, "$1:***@");
}

const portKeys: Record<keyof StackPorts, ConfigKey> = {
  kafka: "SAGASTREAM_KAFKA_PORT",
  kafkaController: "SAGASTREAM_KAFKA_CONTROLLER_PORT",
  drKafka: "SAGASTREAM_DR_KAFKA_PORT",
  drKafkaController: "SAGASTREAM_DR_KAFKA_CONTROLLER_PORT",
  registry: "SAGASTREAM_REGISTRY_PORT",
  connect: "SAGASTREAM_CONNECT_PORT",
  postgres: "SAGASTREAM_POSTGRES_PORT",
  drRegistry: "SAGASTREAM_DR_REGISTRY_PORT",
  drConnect: "SAGASTREAM_DR_CONNECT_PORT",
};

/** The variable that moves a port, for error messages that say what to change. */
export function portKey(name: keyof StackPorts): ConfigKey {
  return portKeys[name];
}

/** Every port the stack binds, with the variable that moves it. */
function stackPortUses(ports: StackPorts, brokers: number): { port: number; key: ConfigKey }[] {
  const uses = (Object.entries(ports) as [keyof StackPorts, number][]).map(([name, port]) => ({
    port,
    key: portKeys[name],
  }));
  for (let node = 2; node <= brokers; node++) {
    const p = brokerPorts(ports, node);
    uses.push(
      { port: p.port, key: portKeys.kafka },
      { port: p.controller, key: portKeys.kafkaController },
    );
  }
  return uses;
}

function assertDistinctPorts(ports: StackPorts, brokers: number): void {
  const seen = new Map<number, ConfigKey>();
  for (const { port, key } of stackPortUses(ports, brokers)) {
    const other = seen.get(port);
    if (other !== undefined) {
      throw new ConfigError(key, `must differ from ${other} (both use ${port})`);
    }
    seen.set(port, key);
  }
}

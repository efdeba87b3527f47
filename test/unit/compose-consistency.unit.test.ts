/** docker-compose.yml must run what `sagastream stack up --dr` runs: same versions, same settings. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import { outboxConnectorConfig } from "../../src/outbox/index.js";
import type { StackContext } from "../../src/stack/component.js";
import { connectWorkerProperties } from "../../src/stack/components/connect.js";
import { mirrorMakerProperties } from "../../src/stack/components/mirror-maker.js";
import { REGISTRY_JOURNAL_TOPIC } from "../../src/stack/components/registry.js";
import { stackPaths } from "../../src/stack/paths.js";

const compose = readFileSync("docker-compose.yml", "utf8");
const pom = readFileSync("src/stack/pom.xml", "utf8");

const ctx = { config: loadConfig({}), paths: stackPaths("/x"), brokers: 1 } as StackContext;

/** The text of one service of the compose file, up to the next service. */
function serviceOf(name: string): string {
  const start = compose.indexOf(`\n  ${name}:\n`);
  if (start < 0) throw new Error(`service ${name} is not in docker-compose.yml`);
  const rest = compose.slice(start + 1);
  const next = rest.search(/\n {2}[a-z][\w-]*:\n/);
  return next < 0 ? rest : rest.slice(0, next + 1);
}

function pomProperty(name: string): string {
  const value = new RegExp(`<${name}>([^<]+)</${name}>`).exec(pom)?.[1];
  if (value === undefined) throw new Error(`${name} is not in pom.xml`);
  return value;
}

describe("docker-compose.yml", () => {
  it("pins the versions the stack resolves from Maven Central", () => {
    expect(compose).toContain(`apache/kafka:${pomProperty("kafka.version")}`);
    expect(compose).toContain(`apicurio/apicurio-registry:${pomProperty("apicurio.version")}`);
    expect(compose).toContain(`debezium/connect:${pomProperty("debezium.version")}`);
  });

  it("publishes the stack's default ports", () => {
    const { ports } = loadConfig({});
    for (const port of [
      ports.kafka,
      ports.drKafka,
      ports.registry,
      ports.connect,
      ports.postgres,
      ports.drRegistry,
      ports.drConnect,
    ]) {
      expect(compose).toMatch(new RegExp(`"${port}:\\d+"`));
    }
  });

  it("gives each region's Connect worker the stack's group and topics, on that region's Kafka", () => {
    for (const [name, region, kafka] of [
      ["connect", "primary", "kafka"],
      ["connect-dr", "dr", "kafka-dr"],
    ] as const) {
      const env = serviceOf(name);
      const props = connectWorkerProperties(ctx, region);
      expect(env, name).toContain(`BOOTSTRAP_SERVERS: ${kafka}:9092\n`);
      expect(env, name).toContain(`GROUP_ID: ${String(props["group.id"])}\n`);
      for (const kind of ["config", "offset", "status"]) {
        const topic = String(props[`${kind}.storage.topic`]);
        expect(env, name).toContain(`${kind.toUpperCase()}_STORAGE_TOPIC: ${topic}\n`);
      }
    }
  });

  it("points each region's registry at the same journal in that region's Kafka", () => {
    for (const [name, kafka] of [
      ["registry", "kafka"],
      ["registry-dr", "kafka-dr"],
    ] as const) {
      const env = serviceOf(name);
      expect(env, name).toContain(`APICURIO_KAFKASQL_BOOTSTRAP_SERVERS: ${kafka}:9092\n`);
      expect(env, name).toContain(`APICURIO_KAFKASQL_TOPIC: ${REGISTRY_JOURNAL_TOPIC}\n`);
    }
    expect(serviceOf("registry-dr")).toMatch(/depends_on: \[.*mirror-maker.*\]/);
  });

  it("configures MirrorMaker 2 as the stack does, but for the compose network", () => {
    const expected = Object.entries(mirrorMakerProperties(ctx)).filter(
      ([k]) => !k.endsWith("bootstrap.servers"),
    );
    const file = readFileSync("connectors/mirror-maker-2.compose.properties", "utf8");
    const actual = new Map(
      file
        .split("\n")
        .filter((l) => l !== "" && !l.startsWith("#"))
        .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
    for (const [key, value] of expected) expect(actual.get(key), key).toBe(String(value));
  });

  it("ships the outbox connector config that `connectors apply` would send, for the compose network", () => {
    const file = JSON.parse(readFileSync("connectors/outbox.compose.json", "utf8")) as unknown;
    expect(file).toEqual({
      name: "sagastream_outbox",
      config: outboxConnectorConfig({
        databaseUrl: "postgres://sagastream_cdc:sagastream_cdc@postgres:5432/sagastream",
        table: "public.sagastream_outbox",
        name: "sagastream_outbox",
      }),
    });
  });
});

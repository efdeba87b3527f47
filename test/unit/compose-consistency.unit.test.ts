/** docker-compose.yml must run what `sagastream stack up --dr` runs: same versions, same settings. */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import { outboxConnectorConfig } from "../../src/outbox/index.js";
import type { StackContext } from "../../src/stack/component.js";
import { mirrorMakerProperties } from "../../src/stack/components/mirror-maker.js";
import { stackPaths } from "../../src/stack/paths.js";

const compose = readFileSync("docker-compose.yml", "utf8");
const pom = readFileSync("src/stack/pom.xml", "utf8");

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
    ]) {
      expect(compose).toMatch(new RegExp(`"${port}:\\d+"`));
    }
  });

  it("configures MirrorMaker 2 as the stack does, but for the compose network", () => {
    const ctx = { config: loadConfig({}), paths: stackPaths("/x"), brokers: 1 } as StackContext;
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

import { describe, expect, it } from "vitest";
import { connectionEnv, loadConfig } from "../../src/config/index.js";
import { ConfigError } from "../../src/errors/index.js";

describe("loadConfig", () => {
  it("defaults to the local stack under ./.stack", () => {
    const config = loadConfig({}, {}, "/work/app");
    expect(config.stateDir).toBe("/work/app/.stack");
    expect(config.externalCluster).toBe(false);
    expect(config.ports.kafka).toBe(19092);
    expect(connectionEnv(config.connections)).toEqual({
      KAFKA_BROKERS: "127.0.0.1:19092",
      SCHEMA_REGISTRY_URL: "http://127.0.0.1:18081/apis/ccompat/v7",
      DATABASE_URL: "postgres://postgres@127.0.0.1:15432/sagastream",
      CDC_DATABASE_URL: "postgres://sagastream_cdc:sagastream_cdc@127.0.0.1:15432/sagastream",
      CONNECT_URL: "http://127.0.0.1:18083",
      DR_KAFKA_BROKERS: "127.0.0.1:29092",
      DR_SCHEMA_REGISTRY_URL: "http://127.0.0.1:28081/apis/ccompat/v7",
      DR_CONNECT_URL: "http://127.0.0.1:28083",
    });
    expect(config.ports.drRegistry).toBe(28081);
    expect(config.ports.drConnect).toBe(28083);
  });

  it("points DR clients at an existing DR region when DR_* are set", () => {
    const config = loadConfig({
      DR_KAFKA_BROKERS: "dr1:9092",
      DR_SCHEMA_REGISTRY_URL: "https://registry.dr.example/apis/ccompat/v7",
      DR_CONNECT_URL: "http://connect.dr.example:8083",
    });
    expect(config.connections.drKafkaBrokers).toEqual(["dr1:9092"]);
    expect(config.connections.drSchemaRegistryUrl).toBe(
      "https://registry.dr.example/apis/ccompat/v7",
    );
    expect(config.connections.drConnectUrl).toBe("http://connect.dr.example:8083");
    // the primary's settings stay local
    expect(config.connections.schemaRegistryUrl).toBe("http://127.0.0.1:18081/apis/ccompat/v7");
    expect(config.externalCluster).toBe(false);
  });

  it("points every client at an existing cluster when KAFKA_BROKERS and friends are set", () => {
    const config = loadConfig({
      KAFKA_BROKERS: "k1:9092, k2:9092",
      SCHEMA_REGISTRY_URL: "http://registry:8081",
      DATABASE_URL: "postgresql://app:secret@db:5432/app",
    });
    expect(config.externalCluster).toBe(true);
    expect(config.connections.kafkaBrokers).toEqual(["k1:9092", "k2:9092"]);
    expect(config.connections.schemaRegistryUrl).toBe("http://registry:8081");
    expect(config.connections.databaseUrl).toBe("postgresql://app:secret@db:5432/app");
    expect(config.connections.connectUrl).toBe("http://127.0.0.1:18083"); // unset: local default
    // Debezium's replication role defaults to DATABASE_URL's server with user sagastream_cdc
    expect(config.connections.cdcDatabaseUrl).toBe(
      "postgresql://sagastream_cdc:sagastream_cdc@db:5432/app",
    );
    expect(
      loadConfig({ CDC_DATABASE_URL: "postgres://cdc:pw@db:5432/app" }).connections.cdcDatabaseUrl,
    ).toBe("postgres://cdc:pw@db:5432/app");
  });

  it("lets flags override the environment", () => {
    const config = loadConfig(
      { SAGASTREAM_STATE_DIR: "/from-env" },
      { SAGASTREAM_STATE_DIR: "/from-flag" },
    );
    expect(config.stateDir).toBe("/from-flag");
  });

  it("moves the local stack's ports, and its connection settings with them", () => {
    const config = loadConfig({
      SAGASTREAM_KAFKA_PORT: "39092",
      SAGASTREAM_REGISTRY_PORT: "38081",
    });
    expect(config.connections.kafkaBrokers).toEqual(["127.0.0.1:39092"]);
    expect(config.connections.schemaRegistryUrl).toBe("http://127.0.0.1:38081/apis/ccompat/v7");
    const dr = loadConfig({
      SAGASTREAM_DR_REGISTRY_PORT: "48081",
      SAGASTREAM_DR_CONNECT_PORT: "48083",
    });
    expect(dr.ports).toMatchObject({ drRegistry: 48081, drConnect: 48083 });
    expect(dr.connections.drSchemaRegistryUrl).toBe("http://127.0.0.1:48081/apis/ccompat/v7");
    expect(dr.connections.drConnectUrl).toBe("http://127.0.0.1:48083");
  });

  it.each([
    [
      { SAGASTREAM_KAFKA_PORT: "http" },
      "SAGASTREAM_KAFKA_PORT",
      /must be a port number \(got "http"\)/,
    ],
    [{ SAGASTREAM_KAFKA_PORT: "80" }, "SAGASTREAM_KAFKA_PORT", /from 1024 to 65535/],
    [{ KAFKA_BROKERS: "localhost" }, "KAFKA_BROKERS", /host:port/],
    [{ SCHEMA_REGISTRY_URL: "registry:8081" }, "SCHEMA_REGISTRY_URL", /http\(s\) URL/],
    [{ DATABASE_URL: "mysql://x@y/z" }, "DATABASE_URL", /postgres:\/\/ URL/],
    [{ SAGASTREAM_LOG_LEVEL: "loud" }, "SAGASTREAM_LOG_LEVEL", /one of fatal, error/],
    [{ SAGASTREAM_STACK_TIMEOUT: "-3" }, "SAGASTREAM_STACK_TIMEOUT", /positive/],
    [
      { SAGASTREAM_CONNECT_PORT: "19092" },
      "SAGASTREAM_CONNECT_PORT",
      /must differ from SAGASTREAM_KAFKA_PORT/,
    ],
    [{ SAGASTREAM_BROKERS: "7" }, "SAGASTREAM_BROKERS", /from 1 to 5/],
    [{ DR_CONNECT_URL: "connect-dr:8083" }, "DR_CONNECT_URL", /http\(s\) URL/],
    [{ SAGASTREAM_DR_REGISTRY_PORT: "1" }, "SAGASTREAM_DR_REGISTRY_PORT", /from 1024 to 65535/],
    [
      { SAGASTREAM_DR_CONNECT_PORT: "18083" },
      "SAGASTREAM_DR_CONNECT_PORT",
      /must differ from SAGASTREAM_CONNECT_PORT \(both use 18083\)/,
    ],
    [
      { SAGASTREAM_DR_REGISTRY_PORT: "28083", SAGASTREAM_DR_CONNECT_PORT: "28083" },
      "SAGASTREAM_DR_CONNECT_PORT",
      /must differ from SAGASTREAM_DR_REGISTRY_PORT/,
    ],
    [
      // the third broker would listen on 19096
      { SAGASTREAM_BROKERS: "3", SAGASTREAM_CONNECT_PORT: "19096" },
      "SAGASTREAM_KAFKA_PORT",
      /must differ from SAGASTREAM_CONNECT_PORT \(both use 19096\)/,
    ],
  ])("rejects %j naming %s", (env, key, problem) => {
    let caught: unknown;
    try {
      loadConfig(env);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigError);
    expect((caught as ConfigError).key).toBe(key);
    expect((caught as ConfigError).message).toMatch(problem);
  });
});

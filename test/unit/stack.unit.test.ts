/** The stack's pure parts: generated configs, start order, Maven progress parsing. */
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/index.js";
import type { Component, StackContext } from "../../src/stack/component.js";
import {
  connectWorkerProperties,
  PRIMARY_CONNECT_CONFIGS_TOPIC,
} from "../../src/stack/components/connect.js";
import { brokerProperties, newClusterId } from "../../src/stack/components/kafka.js";
import { mirrorMakerProperties } from "../../src/stack/components/mirror-maker.js";
import { downloadedBytes } from "../../src/stack/jvm-resolve.js";
import { stackPaths } from "../../src/stack/paths.js";
import { renderProperties } from "../../src/stack/properties.js";
import { registry } from "../../src/stack/components/registry.js";
import { Stack, stackComponents, startWaves } from "../../src/stack/stack.js";

const ctx = {
  config: loadConfig({}, {}, "/srv"),
  paths: stackPaths("/srv/.stack"),
  brokers: 1,
} as StackContext;
const COMPONENTS = stackComponents(1);

describe("renderProperties", () => {
  it("escapes what Java's Properties.load would misread", () => {
    expect(
      renderProperties({ "a b": "x=y", "c:d": "C:\\dir\nnext", n: 1, t: true }, "header"),
    ).toBe("# header\na\\ b=x=y\nc\\:d=C:\\\\dir\\nnext\nn=1\nt=true\n");
  });
});

describe("startWaves", () => {
  it("starts brokers and PostgreSQL first, then what depends on them", () => {
    const waves = startWaves(COMPONENTS).map((w) => w.map((c) => c.name).sort());
    expect(waves).toEqual([
      ["kafka", "kafka-dr", "postgres"],
      ["connect", "connect-dr", "mirror-maker", "registry"],
      // after MirrorMaker 2, which creates DR's copy of the registry's journal
      ["registry-dr"],
    ]);
  });

  it("starts every node of a three-broker primary cluster in the first wave", () => {
    const first = startWaves(stackComponents(3))[0]
      ?.map((c) => c.name)
      .sort();
    expect(first).toEqual(["kafka", "kafka-2", "kafka-3", "kafka-dr", "postgres"]);
  });

  it("ignores dependencies outside the selection (e.g. without --dr)", () => {
    const withoutDr = COMPONENTS.filter((c) => !c.disasterRecovery);
    const names = startWaves(withoutDr)
      .flat()
      .map((c) => c.name);
    for (const dr of ["kafka-dr", "mirror-maker", "registry-dr", "connect-dr"]) {
      expect(names).not.toContain(dr);
    }
  });

  it("reports a dependency cycle", () => {
    const a = { name: "kafka", dependsOn: ["registry"] } as unknown as Component;
    const b = { name: "registry", dependsOn: ["kafka"] } as unknown as Component;
    expect(() => startWaves([a, b])).toThrow(/dependency cycle among: kafka, registry/);
  });
});

describe("the components of a stack", () => {
  const stack = new Stack(loadConfig({}, {}, "/nonexistent"));
  const names = (dr: boolean) => stack.components({ dr }).map((c) => c.name);

  it("are the primary region's without --dr", () => {
    expect(names(false)).toEqual(["postgres", "kafka", "registry", "connect"]);
  });

  it("add the DR region with --dr: Kafka, MirrorMaker 2, a registry and Connect", () => {
    const added = names(true).filter((name) => !names(false).includes(name));
    expect(added).toEqual(["kafka-dr", "mirror-maker", "registry-dr", "connect-dr"]);
    expect(names(true)).toEqual(expect.arrayContaining(names(false)));
  });

  it("give each DR service its own port and the variable that moves it", () => {
    const ports = Object.fromEntries(
      stack.components({ dr: true }).map((c) => [c.name, c.ports(stack.config)]),
    );
    expect(ports["registry-dr"]).toEqual([{ port: 28081, key: "SAGASTREAM_DR_REGISTRY_PORT" }]);
    expect(ports["connect-dr"]).toEqual([{ port: 28083, key: "SAGASTREAM_DR_CONNECT_PORT" }]);
  });
});

describe("generated component configs", () => {
  it("gives the single-node broker what transactions need", () => {
    const props = brokerProperties("/data", 1, 19092, [19093]);
    expect(props["transaction.state.log.replication.factor"]).toBe(1);
    expect(props["transaction.state.log.min.isr"]).toBe(1);
    expect(props["controller.quorum.voters"]).toBe("1@127.0.0.1:19093");
    expect(props.listeners).toBe("PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093");
  });

  it("makes three nodes one quorum with three replicas and two in sync", () => {
    const props = brokerProperties("/data", 2, 19094, [19093, 19095, 19097]);
    expect(props["node.id"]).toBe(2);
    expect(props["controller.quorum.voters"]).toBe(
      "1@127.0.0.1:19093,2@127.0.0.1:19095,3@127.0.0.1:19097",
    );
    expect(props.listeners).toBe("PLAINTEXT://127.0.0.1:19094,CONTROLLER://127.0.0.1:19095");
    for (const key of [
      "default.replication.factor",
      "offsets.topic.replication.factor",
      "transaction.state.log.replication.factor",
    ]) {
      expect(props[key], key).toBe(3);
    }
    expect(props["min.insync.replicas"]).toBe(2);
    expect(props["transaction.state.log.min.isr"]).toBe(2);
  });

  it("lists every node of a three-broker stack to the stack's own clients", () => {
    const props = connectWorkerProperties({ ...ctx, brokers: 3 }, "primary");
    expect(props["bootstrap.servers"]).toBe("127.0.0.1:19092,127.0.0.1:19094,127.0.0.1:19096");
    expect(
      mirrorMakerProperties({ ...ctx, brokers: 3 })["offset-syncs.topic.replication.factor"],
    ).toBe(3);
  });

  it("makes KRaft cluster ids of 22 base64url characters never starting with '-'", () => {
    for (let i = 0; i < 200; i++) expect(newClusterId()).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{21}$/);
  });

  it("points Connect at the Debezium plugin dir and mirrors only its connectors' configs", () => {
    const props = connectWorkerProperties(ctx, "primary");
    expect(props["plugin.path"]).toBe("/srv/.stack/jvm/plugins");
    // MirrorMaker 2 never copies *.internal: a failover reads the configs in DR, not the rest
    for (const key of ["offset.storage.topic", "status.storage.topic"]) {
      expect(String(props[key])).toMatch(/\.internal$/);
    }
    expect(props["config.storage.topic"]).toBe(PRIMARY_CONNECT_CONFIGS_TOPIC);
    expect(PRIMARY_CONNECT_CONFIGS_TOPIC).not.toMatch(/[-.]internal$/);
  });

  it("gives the DR Connect worker its own group and topics on the DR cluster, not mirrored", () => {
    const primary = connectWorkerProperties(ctx, "primary");
    const dr = connectWorkerProperties(ctx, "dr");
    expect(dr["bootstrap.servers"]).toBe("127.0.0.1:29092");
    expect(dr["group.id"]).toBe("sagastream-connect-dr");
    expect(dr.listeners).toBe("http://127.0.0.1:28083");
    expect(dr["rest.advertised.port"]).toBe(28083);
    const excluded = String(mirrorMakerProperties(ctx)["primary->dr.topics.exclude"])
      .split(",")
      .map((pattern) => new RegExp(`^${pattern.trim()}$`));
    for (const key of ["config.storage.topic", "offset.storage.topic", "status.storage.topic"]) {
      expect(dr[key]).toBe(
        String(primary[key]).replace("sagastream-connect-", "sagastream-connect-dr-"),
      );
    }
    for (const key of ["offset.storage.topic", "status.storage.topic"]) {
      expect(
        excluded.some((re) => re.test(String(dr[key]))),
        String(dr[key]),
      ).toBe(true);
    }
  });

  it("points the DR registry at the DR cluster's copy of the same journal", () => {
    const launch = (region: "primary" | "dr") =>
      registry(region).launchSpec({ ...ctx, prereqs: { java: "java" } } as StackContext).args;
    const dr = launch("dr");
    expect(dr).toContain("-Dapicurio.kafkasql.bootstrap.servers=127.0.0.1:29092");
    expect(dr).toContain("-Dquarkus.http.port=28081");
    expect(dr).toContain("-Dapicurio.kafkasql.topic=sagastream.registry-journal");
    expect(dr).toContain("-Xmx512m");
    // the same settings as the primary's but for the cluster and the port
    const differing = dr.filter((arg) => !launch("primary").includes(arg));
    expect(differing.sort()).toEqual([
      "-Dapicurio.kafkasql.bootstrap.servers=127.0.0.1:29092",
      "-Dquarkus.http.port=28081",
    ]);
    expect(registry("dr").dependsOn).toEqual(["mirror-maker"]);
  });

  it("mirrors primary to DR only, with identity names, checkpoints and group offset sync", () => {
    const props = mirrorMakerProperties(ctx);
    expect(props["primary->dr.enabled"]).toBe(true);
    expect(props["dr->primary.enabled"]).toBe(false);
    expect(props["replication.policy.class"]).toMatch(/IdentityReplicationPolicy$/);
    expect(props["sync.group.offsets.enabled"]).toBe(true);
    expect(props["primary.bootstrap.servers"]).toBe("127.0.0.1:19092");
    expect(props["dr.bootstrap.servers"]).toBe("127.0.0.1:29092");
    const replicationFactors = Object.entries(props).filter(([k]) =>
      k.endsWith("replication.factor"),
    );
    expect(replicationFactors.length).toBeGreaterThanOrEqual(7);
    expect(replicationFactors.every(([, v]) => v === 1)).toBe(true);
  });

  it("leaves out exactly the topics a failback excluded, by name", () => {
    const exclude = String(
      mirrorMakerProperties(ctx, ["app.saga-events", "app_orders.outbox.event.order"])[
        "primary->dr.topics.exclude"
      ],
    )
      .split(",")
      .map((pattern) => new RegExp(`^${pattern.trim()}$`));
    const excluded = (topic: string) => exclude.some((re) => re.test(topic));
    expect(excluded("app.saga-events")).toBe(true);
    expect(excluded("app_orders.outbox.event.order")).toBe(true);
    // the dot is a dot: neither another topic nor the next generation
    expect(excluded("appxsaga-events")).toBe(false);
    expect(excluded("app.saga-events.g1")).toBe(false);
    expect(excluded("heartbeats")).toBe(false);
  });
});

describe("downloadedBytes", () => {
  it.each([
    ["Downloaded from central: https://repo/x.jar (56 kB at 1.2 MB/s)", 56_000],
    ["[INFO] Downloaded from central: https://repo/y.tar.gz (108.9 MB at 40 MB/s)", 108_900_000],
    ["Downloaded from central: https://repo/z.pom (1,234 B at 5 kB/s)", 1234],
    ["Downloading from central: https://repo/x.jar", undefined],
    ["[INFO] BUILD SUCCESS", undefined],
  ])("%s → %s", (line, bytes) => {
    expect(downloadedBytes(line)).toBe(bytes);
  });
});

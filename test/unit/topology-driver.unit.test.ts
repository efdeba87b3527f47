import { describe, expect, it } from "vitest";
import { runningTotalTopology, TOTALS_STORE } from "../../src/bench/running-total.js";
import { ErrorCode, ProcessingError } from "../../src/errors/index.js";
import { Serdes } from "../../src/state/index.js";
import { DLQ_HEADERS } from "../../src/kafka/index.js";
import {
  ErrorHandling,
  PunctuationType,
  TopologyBuilder,
  TopologyTestDriver,
  changelogTopic,
  partitionForKey,
} from "../../src/topology/index.js";

const topics = { input: "amounts", output: "totals" };
const s = Serdes.string;
const n = Serdes.json<number>();

describe("TopologyTestDriver with the running-total topology", () => {
  it("keeps a total per key in the store, emits each new total and changelogs every write", async () => {
    const driver = new TopologyTestDriver(runningTotalTopology(topics), { applicationId: "app" });
    const input = driver.inputTopic(topics.input, s, n);
    for (const [key, amount] of [
      ["a", 1],
      ["b", 10],
      ["a", 2],
      ["a", 3],
    ] as const)
      await input.pipe(key, amount);

    expect(driver.outputTopic(topics.output, s, n).map((r) => [r.key, r.value])).toEqual([
      ["a", 1],
      ["b", 10],
      ["a", 3],
      ["a", 6],
    ]);
    expect(await driver.store<string, number>(TOTALS_STORE).get("a")).toBe(6);
    const changelog = driver.outputTopic(changelogTopic("app", TOTALS_STORE), s, n);
    expect(changelog.map((r) => [r.key, r.value])).toEqual([
      ["a", 1],
      ["b", 10],
      ["a", 3],
      ["a", 6],
    ]);
  });

  it("routes keys to partitions like the Java client and keeps one store shard per partition", async () => {
    const driver = new TopologyTestDriver(runningTotalTopology(topics), { partitions: 4 });
    const input = driver.inputTopic(topics.input, s, n);
    const keys = Array.from({ length: 40 }, (_, i) => `key-${i}`);
    for (const key of keys) await input.pipe(key, 1);
    for (const key of keys) {
      const partition = partitionForKey(Buffer.from(key), 4);
      expect(await driver.store<string, number>(TOTALS_STORE, partition).get(key)).toBe(1);
      expect(
        await driver.store<string, number>(TOTALS_STORE, (partition + 1) % 4).get(key),
      ).toBeUndefined();
    }
    expect(new Set(driver.outputTopic(topics.output, s, n).map((r) => r.partition)).size).toBe(4);
  });
});

describe("bad input", () => {
  it("sends an undecodable record to the dead-letter topic with its origin and keeps going", async () => {
    const driver = new TopologyTestDriver(runningTotalTopology(topics), { applicationId: "app" });
    const raw = driver.inputTopic(topics.input, s, Serdes.string);
    await raw.pipe("a", "5");
    await raw.pipe("a", "{not json");
    await raw.pipe("a", "7");

    const [dead, ...rest] = driver.deadLetters();
    expect(rest).toEqual([]);
    expect(dead?.topic).toBe("app.dlq");
    expect(dead?.value?.toString()).toBe("{not json"); // the original bytes, untouched
    expect(dead?.headers[DLQ_HEADERS.code]?.toString()).toBe(ErrorCode.DeserializationFailed);
    expect(dead?.headers[DLQ_HEADERS.offset]?.toString()).toBe("1");
    expect(dead?.headers[DLQ_HEADERS.error]?.toString()).toMatch(
      /cannot decode the record at amounts\/0@1/,
    );
    expect(await driver.store<string, number>(TOTALS_STORE).get("a")).toBe(12);
  });

  it("rolls back the writes and outputs of a record whose processor throws, and dead-letters it", async () => {
    const driver = new TopologyTestDriver(runningTotalTopology(topics), { applicationId: "app" });
    const input = driver.inputTopic(topics.input, s, n);
    await input.pipe("a", 1);
    await input.pipe("a", 1.5); // the processor rejects non-integers
    await input.pipe("a", 2);
    expect(driver.outputTopic(topics.output, s, n).map((r) => r.value)).toEqual([1, 3]);
    expect(driver.deadLetters().map((d) => d.headers[DLQ_HEADERS.code]?.toString())).toEqual([
      ErrorCode.ProcessingFailed,
    ]);
    expect(driver.deadLetters()[0]?.headers[DLQ_HEADERS.error]?.toString()).toMatch(
      /processor sum failed.*integer/,
    );
  });

  it("fails instead when the error handling says so", async () => {
    const driver = new TopologyTestDriver(runningTotalTopology(topics), {
      onError: ErrorHandling.Fail,
    });
    await expect(driver.inputTopic(topics.input, s, n).pipe("a", 0.5)).rejects.toBeInstanceOf(
      ProcessingError,
    );
    expect(driver.deadLetters()).toEqual([]);
  });

  it("undoes a processor's partial writes when a later processor in the chain throws", async () => {
    const topology = new TopologyBuilder()
      .source("in", { topics: ["in"], keySerde: s, valueSerde: s })
      .store("seen", { keySerde: s, valueSerde: s })
      .processor<string, string, string, string>("remember", {
        parents: ["in"],
        stores: ["seen"],
        create: () => ({
          process: async (record, ctx) => {
            ctx.store<string, string>("seen").put(record.key, record.value);
            await ctx.forward(record);
          },
        }),
      })
      .processor<string, string>("explode", {
        parents: ["remember"],
        create: () => ({
          process: (record) => {
            if (record.value === "boom") throw new Error("boom");
          },
        }),
      })
      .build();
    const driver = new TopologyTestDriver(topology);
    await driver.inputTopic("in", s, s).pipe("k", "boom");
    expect(await driver.store<string, string>("seen").get("k")).toBeUndefined();
    expect(driver.deadLetters()[0]?.headers[DLQ_HEADERS.error]?.toString()).toMatch(
      /processor explode failed/,
    );
  });
});

describe("records that would stop a partition", () => {
  /** Remembers each value under its key (stored as `store`), forwards it as `forward`. */
  function remembering(options: { keyPartitioned?: boolean; store?: (v: string) => string } = {}) {
    return new TopologyBuilder()
      .source("in", { topics: ["in"], keySerde: s, valueSerde: s, ...options })
      .store("seen", { keySerde: s, valueSerde: s })
      .processor<string, string, string, string>("remember", {
        parents: ["in"],
        stores: ["seen"],
        create: () => ({
          process: async (record, ctx) => {
            ctx
              .store<string, string>("seen")
              .put(record.key, (options.store ?? String)(record.value));
            await ctx.forward(record);
          },
        }),
      })
      .sink("out", { parents: ["remember"], topic: "out", keySerde: s, valueSerde: s })
      .build();
  }

  it("dead-letters a record on a partition its key does not hash to: its key keeps one owner", async () => {
    const driver = new TopologyTestDriver(remembering({ keyPartitioned: true }), {
      applicationId: "app",
      partitions: 2,
    });
    const input = driver.inputTopic("in", s, s);
    const home = partitionForKey(Buffer.from("order-1"), 2);
    await input.pipe("order-1", "first");
    await input.pipe("order-1", "again", { partition: 1 - home }); // another partitioner's choice
    expect(await driver.store<string, string>("seen", home).get("order-1")).toBe("first");
    expect(await driver.store<string, string>("seen", 1 - home).get("order-1")).toBeUndefined();
    expect(driver.outputTopic("out", s, s).map((r) => r.value)).toEqual(["first"]);
    const [dead] = driver.deadLetters();
    expect(dead?.headers[DLQ_HEADERS.code]?.toString()).toBe(ErrorCode.RecordMisplaced);
    expect(dead?.headers[DLQ_HEADERS.error]?.toString()).toMatch(
      new RegExp(`in/${1 - home}@0 belongs on partition ${home} of 2`),
    );
  });

  it("dead-letters an input whose output would be larger than a record may be, and goes on", async () => {
    const driver = new TopologyTestDriver(remembering(), {
      applicationId: "app",
      maxRecordBytes: 100,
    });
    const input = driver.inputTopic("in", s, s);
    await input.pipe("k", "x".repeat(200));
    await input.pipe("k", "small");
    expect(driver.outputTopic("out", s, s).map((r) => r.value)).toEqual(["small"]);
    expect(await driver.store<string, string>("seen").get("k")).toBe("small");
    const [dead, ...more] = driver.deadLetters();
    expect(more).toEqual([]);
    expect(dead?.headers[DLQ_HEADERS.code]?.toString()).toBe(ErrorCode.RecordTooLarge);
    expect(dead?.headers[DLQ_HEADERS.error]?.toString()).toMatch(
      /in\/0@0 would make a record of 201 bytes for out, more than the 100/,
    );
  });

  it("dead-letters an input whose store write would make too large a changelog record", async () => {
    const topology = remembering({ store: (v) => v.repeat(50) });
    const driver = new TopologyTestDriver(topology, { applicationId: "app", maxRecordBytes: 100 });
    const input = driver.inputTopic("in", s, s);
    await input.pipe("k", "abc"); // 150 bytes stored
    await input.pipe("k", "a");
    expect(await driver.store<string, string>("seen").get("k")).toBe("a".repeat(50));
    expect(driver.deadLetters()[0]?.headers[DLQ_HEADERS.error]?.toString()).toMatch(
      /would make a record of 151 bytes for app-seen-changelog/,
    );
  });
});

describe("punctuators", () => {
  function ticking(type: PunctuationType, intervalMs: number, fired: number[]) {
    return new TopologyBuilder()
      .source("in", { topics: ["in"], keySerde: s, valueSerde: s })
      .processor<string, string, string, string>("tick", {
        parents: ["in"],
        create: () => ({
          init: (ctx) => {
            ctx.schedule(intervalMs, type, async (time) => {
              fired.push(time);
              await ctx.forward({ key: "tick", value: String(time), timestamp: time, headers: {} });
            });
          },
          process: () => undefined,
        }),
      })
      .sink("out", { parents: ["tick"], topic: "ticks", keySerde: s, valueSerde: s })
      .build();
  }

  it("fires wall-clock punctuators as the driver's clock passes each interval", async () => {
    const fired: number[] = [];
    const driver = new TopologyTestDriver(ticking(PunctuationType.WallClock, 1000, fired), {
      startTime: 0,
    });
    await driver.advanceWallClockTime(999);
    expect(fired).toEqual([]);
    await driver.advanceWallClockTime(1);
    await driver.advanceWallClockTime(2500); // once for the time reached, not once per missed interval
    expect(fired).toEqual([1000, 3500]);
    expect(driver.outputTopic("ticks", s, s).map((r) => r.value)).toEqual(["1000", "3500"]);
  });

  it("fires stream-time punctuators as record timestamps advance, not the wall clock", async () => {
    const fired: number[] = [];
    const driver = new TopologyTestDriver(ticking(PunctuationType.StreamTime, 100, fired));
    const input = driver.inputTopic("in", s, s);
    await driver.advanceWallClockTime(10_000);
    expect(fired).toEqual([]);
    await input.pipe("k", "x", { timestamp: 50 });
    await input.pipe("k", "x", { timestamp: 120 });
    await input.pipe("k", "x", { timestamp: 90 }); // out of order: stream time stays at 120
    await input.pipe("k", "x", { timestamp: 210 });
    expect(fired).toEqual([120, 210]);
  });
});

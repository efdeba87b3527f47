/**
 * Scaling signals on the real stack (issue 15): a group's backlog read from Kafka as an
 * autoscaler reads it. 12,000 records wait on a group with no worker: "scale up" at the first
 * sample, from the CLI too. A member joins that processes nothing (a stuck worker): the lag stays
 * over the trigger, yet the advice holds through the cooldown after the group changed size, and
 * says "scale up" again once it is over.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { MessagesStreamModes } from "@platformatic/kafka";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  createConsumer,
  createProducer,
  ensureTopics,
  withAdmin,
  type KafkaConsumer,
  type KafkaSettings,
} from "../../src/kafka/index.js";
import { ScalingMonitor, type ScalingReport } from "../../src/ops/index.js";
import { sagaTopics } from "../../src/saga/index.js";
import { waitUntil } from "../../src/util/index.js";
import { uniqueName } from "../support/names.js";

const run = promisify(execFile);
const connections = inject("connections");
const name = uniqueName("scaling");
const kafka: KafkaSettings = { brokers: connections.kafkaBrokers, clientId: `${name}-test` };
const starts = `${name}.starts`;
const WAITING = 12_000;
const PARTITIONS = 4;
const COOLDOWN_MS = 6_000;
let member: KafkaConsumer | undefined;

beforeAll(async () => {
  const topics = sagaTopics(name);
  await withAdmin(kafka, (admin) =>
    ensureTopics(
      admin,
      [starts, topics.replies, topics.control].map((topic) => ({ topic, partitions: PARTITIONS })),
    ),
  );
  const producer = createProducer(kafka);
  try {
    for (let from = 0; from < WAITING; from += 1_000) {
      await producer.send({
        messages: Array.from({ length: 1_000 }, (_, i) => ({
          topic: starts,
          key: `saga-${from + i}`,
          value: Buffer.from("{}"),
        })),
      });
    }
  } finally {
    await producer.close();
  }
});

afterAll(async () => {
  await member?.close(true);
});

describe("scaling advice from the group's backlog", () => {
  it("says scale up over the lag trigger, holds through the cooldown after the group grew, then says it again", async () => {
    const monitor = new ScalingMonitor({
      kafka,
      groupId: name,
      topics: [starts],
      triggers: { upCooldownMs: COOLDOWN_MS },
    });
    try {
      const first = await monitor.sample();
      expect(first.lag.lag).toBe(WAITING);
      expect(first.lag.partitionCount).toBe(PARTITIONS);
      expect(first.lag.oldestAgeMs).toBeGreaterThan(0);
      expect(first.advice).toMatchObject({ action: "scale up", workers: 0, desiredWorkers: 1 });

      const cli = await run(
        process.execPath,
        ["dist/cli/main.js", "scale", "advise", "--app", name, "--topic", starts, "--json"],
        { env: process.env },
      );
      const printed = JSON.parse(cli.stdout) as ScalingReport;
      expect(printed.advice.action).toBe("scale up");
      expect(printed.lag.lag).toBe(WAITING);
      const table = await run(
        process.execPath,
        ["dist/cli/main.js", "scale", "advise", "--app", name, "--topic", starts],
        {
          env: process.env,
        },
      );
      expect(table.stdout).toMatch(
        /^scale up: 12,000 record\(s\) waiting and 0 worker\(s\) running/,
      );
      // every partition's lag, and how long its first record has waited
      const rows = table.stdout.split("\n").filter((l) => l.startsWith(starts));
      expect(rows).toHaveLength(PARTITIONS);
      expect(rows.every((r) => /\s\d+ s\s*$/.test(r))).toBe(true);

      // A member that never commits: the lag stays; the group changed size.
      member = createConsumer(kafka, { groupId: name, sessionTimeoutMs: 10_000 });
      await member.consume({
        topics: [starts],
        autocommit: false,
        mode: MessagesStreamModes.EARLIEST,
      });
      const joined = await waitUntil(
        async () => {
          const report = await monitor.sample();
          return report.lag.workers === 1 ? report : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 200, description: "the member to join" },
      );
      const advice = [joined.advice];
      while (Date.now() - joined.lag.at < COOLDOWN_MS + 3_000) {
        advice.push((await monitor.sample()).advice);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      const during = advice.filter((a) => a.sample.at - joined.lag.at < COOLDOWN_MS);
      expect(during.length).toBeGreaterThan(5);
      expect(during.every((a) => a.action === "hold")).toBe(true);
      expect(during[0]?.reason).toMatch(
        /^lag 12,000 over 10,000, but the group changed size 0 s ago: cooling down/,
      );
      const after = advice.filter((a) => a.sample.at - joined.lag.at >= COOLDOWN_MS + 500);
      expect(after.length).toBeGreaterThan(0);
      expect(after.every((a) => a.action === "scale up" && a.desiredWorkers === 2)).toBe(true);
    } finally {
      await monitor.stop();
    }
  }, 60_000);
});

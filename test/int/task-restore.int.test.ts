/**
 * A task's restoration on real RocksDB stores, its changelog served by a fake of the narrow
 * fetcher interface: a worker that stops while a task restores does not wait for the restore
 * (it held Ctrl-C for as long as the changelog took to read), and what was restored is kept for
 * the next opening, which goes on from there.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/log/index.js";
import { Serdes } from "../../src/state/index.js";
import { changelogTopic, ErrorHandling, TopologyBuilder } from "../../src/topology/index.js";
import type {
  FetchedPartition,
  FetchPosition,
  PartitionFetcher,
} from "../../src/topology/partition-fetcher.js";
import type { PartitionOffsets } from "../../src/topology/partition-offsets.js";
import { TaskOpener } from "../../src/topology/task-opener.js";

const APP = "restore-test";
const CHANGELOG_END = 1_000_000n;
const topology = new TopologyBuilder()
  .source("in", { topics: ["in"], keySerde: Serdes.string, valueSerde: Serdes.string })
  .store("seen", { keySerde: Serdes.string, valueSerde: Serdes.string })
  .processor("remember", {
    parents: ["in"],
    stores: ["seen"],
    create: () => ({ process: () => undefined }),
  })
  .build();
const changelog = changelogTopic(APP, "seen");

/** The changelog's records `from` (included) to `to` (excluded), as a fetch returns them. */
function fetched(from: bigint, to: bigint, next: bigint, lastStable: bigint): FetchedPartition {
  const records = [];
  for (let offset = from; offset < to; offset++) {
    const key = Buffer.from(`k${offset}`);
    records.push({ offset, key, value: Buffer.from("v"), timestamp: 0, headers: {} });
  }
  return { topic: changelog, partition: 0, from, records, next, lastStable };
}

/** A changelog of a million records, served 500 a fetch, slowly; remembers where each began. */
function slowChangelog(asked: bigint[]): PartitionFetcher {
  return {
    fetch: async ([position]: readonly FetchPosition[]) => {
      await new Promise((resolve) => setTimeout(resolve, 2));
      const from = position?.offset ?? 0n;
      asked.push(from);
      return [fetched(from, from + 500n, from + 500n, CHANGELOG_END)];
    },
  };
}

/** Offsets of a changelog whose end is `end()` (stable) and `latest()` (high watermark). */
function offsetsOf(end: () => bigint, latest: () => bigint = end): PartitionOffsets {
  const of = (partitions: readonly { topic: string; partition: number }[], at: () => bigint) =>
    Promise.resolve(
      new Map(
        partitions.map((p) => [`${p.topic}/${p.partition}`, p.topic === changelog ? at() : 0n]),
      ),
    );
  return {
    committed: () => Promise.resolve(new Map()),
    earliest: () => Promise.resolve(new Map()),
    end: (partitions) => of(partitions, end),
    latest: (partitions) => of(partitions, latest),
  };
}

function opener(
  stateDir: string,
  fetcher: PartitionFetcher,
  offsets = offsetsOf(() => CHANGELOG_END),
  onRestored: (records: number) => void = () => undefined,
): TaskOpener {
  return new TaskOpener({
    applicationId: APP,
    topology,
    stateDir,
    onError: ErrorHandling.DeadLetter,
    offsets,
    restoreFetcher: fetcher,
    logger: createLogger("silent", "test"),
    now: Date.now,
    onDeadLetter: () => undefined,
    partitionCount: () => 1,
    onRestored: (opening) => {
      onRestored(opening.records);
    },
    onRestoreProgress: () => undefined,
  });
}

/**
 * A changelog of `records` records (then a commit marker) of which those before `stable()` are
 * readable: a fetch returns what a read_committed reader sees, and moves past the marker.
 */
function committedChangelog(count: bigint, stable: () => bigint): PartitionFetcher {
  return {
    fetch: async ([position]: readonly FetchPosition[]) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      const from = position?.offset ?? 0n;
      const readable = stable();
      const to = readable < count ? readable : count;
      return [fetched(from, to, readable > from ? readable : from, readable)];
    },
  };
}

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe("a task's restoration", () => {
  it("stops when the worker stops, and the next opening goes on from what it restored", async () => {
    const stateDir = await mkdtemp(path.join(os.tmpdir(), "task-restore-"));
    dirs.push(stateDir);
    const asked: bigint[] = [];
    const stopping = new AbortController();
    const opening = opener(stateDir, slowChangelog(asked)).open(0, 0, stopping.signal);
    while (asked.length < 20) await new Promise((resolve) => setTimeout(resolve, 5));
    const stoppedAt = Date.now();
    stopping.abort();
    await expect(opening).rejects.toThrow(/aborted/);
    expect(Date.now() - stoppedAt).toBeLessThan(1_000); // not the minutes the rest would take
    const checkpoint = JSON.parse(
      await readFile(path.join(stateDir, APP, "0_0", ".checkpoint"), "utf8"),
    ) as Record<string, string>;
    const reached = BigInt(checkpoint.seen ?? "0");
    expect(reached).toBeGreaterThanOrEqual(20n * 500n);
    expect(reached % 500n).toBe(0n); // a batch boundary: all before it is in the store

    const again: bigint[] = [];
    const next = new AbortController();
    const reopening = opener(stateDir, slowChangelog(again)).open(0, 0, next.signal);
    while (again.length < 1) await new Promise((resolve) => setTimeout(resolve, 5));
    next.abort();
    await expect(reopening).rejects.toThrow(/aborted/);
    expect(again[0]).toBe(reached);
  });

  it("restores all that a committed transaction wrote to the changelog, even while its marker is not there yet (regression: a task reopened right after its worker's commit restored up to the last stable offset, which the marker had not moved yet, and lost that commit's saga states: 123 sagas never heard of again)", async () => {
    const stateDir = await mkdtemp(path.join(os.tmpdir(), "task-restore-"));
    dirs.push(stateDir);
    // 900 records written; the last 245, a transaction that committed the task's input
    // offsets, are stable only once the transaction coordinator's marker reaches the changelog.
    let stable = 655n;
    const markerLands = setTimeout(() => {
      stable = 901n; // the marker itself is offset 900
    }, 300);
    let restored = -1;
    const task = await opener(
      stateDir,
      committedChangelog(900n, () => stable),
      offsetsOf(
        () => stable,
        () => 901n,
      ),
      (records) => {
        restored = records;
      },
    ).open(0, 0);
    clearTimeout(markerLands);
    expect(restored).toBe(900);
    expect(await task.stores.get("seen")?.get("k899")).toBe("v");
    await task.close(true);
  });
});

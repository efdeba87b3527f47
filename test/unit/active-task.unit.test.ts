import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { KeyValueStore, MemoryBytesStore, Serdes, TaskDirectory } from "../../src/state/index.js";
import { ActiveTask } from "../../src/topology/active-task.js";
import {
  ErrorHandling,
  PunctuationType,
  StoreKind,
  TopologyBuilder,
} from "../../src/topology/index.js";
import { Task } from "../../src/topology/task.js";
import { TaskState } from "../../src/topology/task-lifecycle.js";

const s = Serdes.string;

/** A task whose wall-clock punctuator writes to a store without a changelog, and sends nothing. */
async function sweepingTask(
  clock: { now: number },
  checkpoints: { everyMs: number; root: string } = {
    everyMs: Number.POSITIVE_INFINITY,
    root: path.join(os.tmpdir(), "sagastream-active-task-unit"),
  },
) {
  const topology = new TopologyBuilder()
    .source("in", { topics: ["in"], keySerde: s, valueSerde: s })
    .store("marks", { kind: StoreKind.Memory, keySerde: s, valueSerde: s, changelog: false })
    .processor<string, string>("sweep", {
      parents: ["in"],
      stores: ["marks"],
      create: () => ({
        init: (ctx) => {
          ctx.schedule(1000, PunctuationType.WallClock, (time) => {
            ctx.store<string, string>("marks").put(`swept-${time}`, "yes");
          });
        },
        process: () => undefined,
      }),
    })
    .build();
  const subtopology = topology.subtopologies[0];
  if (subtopology === undefined) throw new Error("no sub-topology");
  const engine = new MemoryBytesStore();
  const store = new KeyValueStore("marks", engine, s, s, {
    writeBehindMs: 100,
    now: () => clock.now,
  });
  const stores = new Map([["marks", store]]);
  const task = new Task({
    applicationId: "app",
    topology,
    subtopology,
    partition: 0,
    stores,
    onError: ErrorHandling.DeadLetter,
    now: () => clock.now,
  });
  await task.init();
  const active = new ActiveTask({
    applicationId: "app",
    task,
    stores,
    readByRecordKey: [],
    directory: new TaskDirectory(checkpoints.root),
    changelogPositions: new Map([["marks", 0n]]),
    positions: new Map([["in", 0n]]),
    unread: new Map(),
    checkpointEveryMs: checkpoints.everyMs,
    now: () => clock.now,
  });
  active.lifecycle.transition(TaskState.Restoring);
  active.lifecycle.transition(TaskState.Running);
  return { active, engine };
}

describe("ActiveTask", () => {
  it("seals an interval that holds only store writes, so that they are committed and the next seal works (regression: they stayed sealed, and the next seal threw)", async () => {
    const clock = { now: 0 };
    const { active, engine } = await sweepingTask(clock);
    expect(active.seal()).toBeUndefined(); // nothing at all: nothing to commit
    clock.now = 1000;
    await active.punctuate();
    const sealed = active.seal();
    // Its input's position comes too, though unchanged: a transaction that carries offsets is
    // checked against the group's generation, so a member the group has replaced cannot commit
    // what its punctuators wrote (regression: such a transaction carried no offsets at all).
    expect(sealed).toEqual({
      outputs: [],
      offsets: [{ topic: "in", partition: 0, offset: 0n }],
      records: 0,
    });
    await active.committed(new Map());
    expect(engine.size).toBe(1);
    await active.process("in", {
      offset: 0n,
      key: Buffer.from("k"),
      value: Buffer.from("v"),
      timestamp: 0,
      headers: {},
    });
    expect(active.seal()?.offsets).toEqual([{ topic: "in", partition: 0, offset: 1n }]);
  });

  it("writes a checkpoint after a commit once due, when its stores' engines hold all that was committed (a restart after a crash restores the tail only)", async () => {
    const clock = { now: 0 };
    const root = await mkdtemp(path.join(os.tmpdir(), "active-task-checkpoint-"));
    try {
      const { active } = await sweepingTask(clock, { everyMs: 5_000, root });
      const directory = new TaskDirectory(root);
      const commitAt = async (now: number, changelogEnd: bigint) => {
        clock.now = now;
        await active.punctuate();
        active.seal();
        await active.committed(new Map([["app-marks-changelog/0", changelogEnd]]));
      };
      await commitAt(1_000, 1n); // not due yet
      expect(await directory.readCheckpoint()).toBeUndefined();
      await commitAt(5_000, 2n); // due, and written behind at once (100 ms passed)
      expect(await directory.readCheckpoint()).toEqual(new Map([["marks", 2n]]));
      await commitAt(9_950, 3n); // written, but not due
      await commitAt(10_000, 4n); // due, but its writes wait behind (50 ms since the last)
      expect(await directory.readCheckpoint()).toEqual(new Map([["marks", 2n]]));
      await commitAt(10_100, 5n);
      expect(await directory.readCheckpoint()).toEqual(new Map([["marks", 5n]]));
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

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
async function sweepingTask(clock: { now: number }) {
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
  const store = new KeyValueStore("marks", engine, s, s);
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
    directory: new TaskDirectory(path.join(os.tmpdir(), "sagastream-active-task-unit")),
    changelogPositions: new Map(),
    positions: new Map([["in", 0n]]),
    unread: new Map(),
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
    expect(sealed).toEqual({ outputs: [], offsets: [], records: 0 });
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
});

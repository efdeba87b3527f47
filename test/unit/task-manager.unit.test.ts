import { describe, expect, it } from "vitest";
import { createLogger } from "../../src/log/index.js";
import { Serdes } from "../../src/state/index.js";
import { StuckPartitions, TopologyBuilder } from "../../src/topology/index.js";
import type { ActiveTask } from "../../src/topology/active-task.js";
import { TaskManager } from "../../src/topology/task-manager.js";
import { waitUntil } from "../../src/util/index.js";

const topology = new TopologyBuilder()
  .source("in", { topics: ["in"], keySerde: Serdes.string, valueSerde: Serdes.string })
  .build();

/** A manager whose tasks log their openings and closings; `opened` gates each opening. */
function manager(
  log: string[],
  opened: () => Promise<void> = () => Promise.resolve(),
  maxOpening = 4,
) {
  return new TaskManager({
    topology,
    maxOpening,
    open: async (sub, partition) => {
      const id = `${sub}_${partition}`;
      log.push(`open ${id}`);
      await opened();
      const task = {
        id,
        partition,
        close: (clean: boolean) => {
          log.push(`close ${id} ${clean ? "clean" : "dirty"}`);
          return Promise.resolve();
        },
      };
      return task as unknown as ActiveTask;
    },
    commitsSettled: () => Promise.resolve(),
    logger: createLogger("silent", "test"),
    now: Date.now,
    reopenAfterMs: 0,
    stuck: new StuckPartitions(),
  });
}

describe("TaskManager", () => {
  it("stops every task of a member out of its group, and opens none until its next assignment (regression: a stale assignment reopened them)", async () => {
    const log: string[] = [];
    const tasks = manager(log);
    tasks.assign(new Map([["in", [0, 1]]]));
    await waitUntil(() => (tasks.runningTasks().length === 2 ? true : undefined), {
      timeoutMs: 1_000,
      intervalMs: 5,
      description: "two tasks to open",
    });
    tasks.suspend();
    tasks.openMissing(); // what the processing loop does on every turn
    await waitUntil(() => (log.length === 4 ? true : undefined), {
      timeoutMs: 1_000,
      intervalMs: 5,
      description: "both tasks to close",
    });
    expect(tasks.runningTasks()).toEqual([]);
    expect(tasks.assignedTasks()).toEqual([]);
    expect(log.slice(2).sort()).toEqual(["close 0_0 dirty", "close 0_1 dirty"]);
    tasks.assign(new Map([["in", [1]]]));
    await waitUntil(() => (tasks.runningTasks().length === 1 ? true : undefined), {
      timeoutMs: 1_000,
      intervalMs: 5,
      description: "the newly assigned task to open",
    });
    expect(log.slice(4)).toEqual(["open 0_1"]);
  });

  it("still claims, until its next assignment, the tasks it ran when the group put it out (regression: a member whose commit was refused mid-rebalance joined claiming nothing, and its partitions were dealt out anew and restored from scratch)", async () => {
    const log: string[] = [];
    const tasks = manager(log);
    tasks.assign(new Map([["in", [0, 3]]]));
    await waitUntil(() => (tasks.runningTasks().length === 2 ? true : undefined), {
      timeoutMs: 1_000,
      intervalMs: 5,
      description: "two tasks to open",
    });
    tasks.suspend();
    expect(tasks.runningTasks()).toEqual([]);
    expect(tasks.claimedPartitions()).toEqual([0, 3]); // what it tells the group as it rejoins
    tasks.assign(new Map([["in", [3, 4]]]));
    expect(tasks.claimedPartitions()).toEqual([3, 4]);
  });

  it("opens (restores) at most maxOpening tasks at once, the others as those finish", async () => {
    const log: string[] = [];
    const gates: (() => void)[] = [];
    const tasks = manager(log, () => new Promise<void>((resolve) => gates.push(resolve)), 2);
    tasks.assign(new Map([["in", [0, 1, 2, 3, 4]]]));
    await waitUntil(() => (gates.length === 2 ? true : undefined), {
      timeoutMs: 1_000,
      intervalMs: 5,
      description: "two openings to start",
    });
    expect(log).toEqual(["open 0_0", "open 0_1"]);
    gates.shift()?.();
    await waitUntil(() => (gates.length === 2 && log.length === 3 ? true : undefined), {
      timeoutMs: 1_000,
      intervalMs: 5,
      description: "the third opening to start as the first ends",
    });
    expect(log[2]).toBe("open 0_2");
    for (let released = 1; released < 5; released++) {
      await waitUntil(() => (gates.length > 0 ? true : undefined), {
        timeoutMs: 1_000,
        intervalMs: 5,
        description: "an opening to wait on",
      });
      gates.shift()?.();
    }
    await waitUntil(() => (tasks.runningTasks().length === 5 ? true : undefined), {
      timeoutMs: 1_000,
      intervalMs: 5,
      description: "every task to open",
    });
  });

  it("opens nothing from an assignment that arrives while it stops (regression: each opening was abandoned and started again, until the heap ran out)", async () => {
    const log: string[] = [];
    const tasks = manager(log);
    await tasks.closeAll(true);
    tasks.assign(new Map([["in", [0, 1]]])); // the group rebalanced while the member was leaving
    tasks.openMissing();
    await new Promise((resolve) => setImmediate(resolve));
    expect(log).toEqual([]);
    expect(tasks.assignedTasks()).toEqual([]);
  });
});

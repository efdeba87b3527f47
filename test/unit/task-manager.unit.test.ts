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

/** A manager whose tasks log their openings and closings. */
function manager(log: string[]) {
  return new TaskManager({
    topology,
    open: (sub, partition) => {
      const id = `${sub}_${partition}`;
      log.push(`open ${id}`);
      const task = {
        id,
        partition,
        close: (clean: boolean) => {
          log.push(`close ${id} ${clean ? "clean" : "dirty"}`);
          return Promise.resolve();
        },
      };
      return Promise.resolve(task as unknown as ActiveTask);
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
      description: "two tasks to open",
    });
    tasks.suspend();
    tasks.openMissing(); // what the processing loop does on every turn
    await waitUntil(() => (log.length === 4 ? true : undefined), {
      timeoutMs: 1_000,
      description: "both tasks to close",
    });
    expect(tasks.runningTasks()).toEqual([]);
    expect(tasks.assignedTasks()).toEqual([]);
    expect(log.slice(2).sort()).toEqual(["close 0_0 dirty", "close 0_1 dirty"]);
    tasks.assign(new Map([["in", [1]]]));
    await waitUntil(() => (tasks.runningTasks().length === 1 ? true : undefined), {
      timeoutMs: 1_000,
      description: "the newly assigned task to open",
    });
    expect(log.slice(4)).toEqual(["open 0_1"]);
  });
});

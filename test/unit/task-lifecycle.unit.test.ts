import { describe, expect, it } from "vitest";
import { TaskLifecycle, TaskState } from "../../src/topology/task-lifecycle.js";

describe("TaskLifecycle", () => {
  it("goes created → restoring → running → closed", () => {
    const lifecycle = new TaskLifecycle("0_1");
    for (const state of [TaskState.Restoring, TaskState.Running, TaskState.Closed]) {
      lifecycle.transition(state);
      expect(lifecycle.state).toBe(state);
    }
  });

  it.each([
    [[], TaskState.Running],
    [[TaskState.Restoring, TaskState.Running], TaskState.Restoring],
    [[TaskState.Closed], TaskState.Restoring],
    [[TaskState.Closed], TaskState.Closed],
  ] as const)("refuses an illegal move (after %j, to %s)", (path, to) => {
    const lifecycle = new TaskLifecycle("0_1");
    for (const state of path) lifecycle.transition(state);
    expect(() => {
      lifecycle.transition(to);
    }).toThrow(/task 0_1 cannot go from/);
  });
});

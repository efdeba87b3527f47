/**
 * A task instance's lifecycle, as Kafka Streams' Task.State: created, then restoring its stores
 * from their changelogs, then running (processing, punctuating, committing), then closed. A
 * closed instance is never reused: a task that must start over (a failed commit, a fenced
 * producer) is closed dirty and a new instance is created.
 */
import { TopologyError } from "../errors/index.js";

export const TaskState = {
  Created: "created",
  Restoring: "restoring",
  Running: "running",
  Closed: "closed",
} as const;
export type TaskState = (typeof TaskState)[keyof typeof TaskState];

const LEGAL: Record<TaskState, readonly TaskState[]> = {
  [TaskState.Created]: [TaskState.Restoring, TaskState.Closed],
  [TaskState.Restoring]: [TaskState.Running, TaskState.Closed],
  [TaskState.Running]: [TaskState.Closed],
  [TaskState.Closed]: [],
};

export class TaskLifecycle {
  private current: TaskState = TaskState.Created;

  constructor(private readonly taskId: string) {}

  get state(): TaskState {
    return this.current;
  }

  is(state: TaskState): boolean {
    return this.current === state;
  }

  /** Moves to `next`; an illegal move is a bug in the runtime and throws. */
  transition(next: TaskState): void {
    if (!LEGAL[this.current].includes(next)) {
      throw new TopologyError(`task ${this.taskId} cannot go from ${this.current} to ${next}`);
    }
    this.current = next;
  }
}

import { mkdir, mkdtemp, rm, utimes, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { MAX_CHECKPOINT_AGE_MS, TaskDirectory } from "../../src/state/index.js";
import { checkpointedReach, reachByPartition } from "../../src/topology/local-state.js";

const root = await mkdtemp(path.join(os.tmpdir(), "local-state-"));
afterAll(() => rm(root, { recursive: true, force: true }));

describe("a member's local state, as it tells the assigner", () => {
  it("reads every task directory's checkpoint: a task it ran before it restarted counts (regression: a restarted worker said it held nothing)", async () => {
    const app = path.join(root, "app");
    await new TaskDirectory(path.join(app, "0_1")).writeCheckpoint(
      new Map([
        ["sagas", 120n],
        ["timers", 30n],
      ]),
    );
    await new TaskDirectory(path.join(app, "1_1")).writeCheckpoint(new Map([["index", 7n]]));
    await mkdir(path.join(app, "0_2", "stores"), { recursive: true }); // no checkpoint: wiped
    await new TaskDirectory(path.join(app, "0_4")).writeCheckpoint(new Map([["sagas", 9n]]));
    const stale = new Date(Date.now() - MAX_CHECKPOINT_AGE_MS - 60_000);
    await utimes(path.join(app, "0_4", ".checkpoint"), stale, stale); // too old to trust
    await mkdir(path.join(app, "0_5"), { recursive: true });
    await writeFile(path.join(app, "0_5", ".checkpoint"), "{torn"); // a torn one is none
    await writeFile(path.join(app, "process.id"), "a-uuid"); // not a task

    expect(await checkpointedReach(app)).toEqual(
      new Map([
        ["0_1", 150n],
        ["1_1", 7n],
      ]),
    );
    expect(await checkpointedReach(path.join(root, "never-ran"))).toEqual(new Map());
  });

  it("sums a partition's tasks, the running task's reach over its standby copy's over its checkpoint", () => {
    const onDisk = new Map([
      ["0_1", 150n],
      ["1_1", 7n],
      ["0_2", 40n],
    ]);
    const standby = new Map([["0_2", 55n]]);
    const running = new Map([
      ["0_1", 180n],
      ["0_3", 12n],
    ]);
    expect(reachByPartition(onDisk, standby, running)).toEqual({ 1: "187", 2: "55", 3: "12" });
  });
});

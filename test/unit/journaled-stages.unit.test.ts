import { describe, expect, it } from "vitest";
import { stageRunner } from "../../src/ops/journaled-stages.js";

type Stage = "planned" | "copied" | "done";
const STAGES: readonly Stage[] = ["planned", "copied", "done"];

function runner(job: { stage: Stage; copied?: number }, dryRun = false) {
  const saved: Stage[] = [];
  const said: string[] = [];
  const step = stageRunner({
    stages: STAGES,
    job,
    save: dryRun
      ? undefined
      : () => {
          saved.push(job.stage);
          return Promise.resolve();
        },
    log: (line) => said.push(line),
  });
  return { step, saved, said };
}

describe("a journaled job's stages", () => {
  it("run in order, each saved with what it returned, and said with its time", async () => {
    const job: { stage: Stage; copied?: number } = { stage: "planned" };
    const { step, saved, said } = runner(job);
    await step("copied", () => Promise.resolve({ copied: 42 }));
    await step("done", () => Promise.resolve());
    expect(job).toEqual({ stage: "done", copied: 42 });
    expect(saved).toEqual(["copied", "done"]);
    expect(said.map((l) => l.replace(/\(\d+\.\d s\)/, "(t)"))).toEqual([
      "stage done: copied (t)",
      "stage done: done (t)",
    ]);
  });

  it("skip the stages a job has passed (a rerun resumes)", async () => {
    const job: { stage: Stage } = { stage: "copied" };
    const { step, saved } = runner(job);
    const ran: Stage[] = [];
    for (const stage of ["copied", "done"] as const) {
      await step(stage, () => {
        ran.push(stage);
        return Promise.resolve();
      });
    }
    expect(ran).toEqual(["done"]);
    expect(saved).toEqual(["done"]);
  });

  it("in a dry run, run every stage and save or mark none", async () => {
    const job: { stage: Stage } = { stage: "planned" };
    const { step, saved, said } = runner(job, true);
    let ran = 0;
    await step("copied", () => Promise.resolve(void (ran += 1)));
    await step("done", () => Promise.resolve(void (ran += 1)));
    expect([ran, job.stage, saved, said]).toEqual([2, "planned", [], []]);
  });

  it("leave the job where it was when a stage throws", async () => {
    const job: { stage: Stage } = { stage: "planned" };
    const { step, saved } = runner(job);
    await expect(
      step("copied", async () => {
        throw new Error("broker gone");
      }),
    ).rejects.toThrow("broker gone");
    expect([job.stage, saved]).toEqual(["planned", []]);
  });
});

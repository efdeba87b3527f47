/**
 * The stages of a journaled operator job (a repartition, a DR failover or failback): each runs
 * once, in order; one the job has passed is skipped (a rerun resumes where the last run
 * stopped), and each done is saved in the job's journal before the next begins, with its time.
 */
export interface StagedJob<S extends string> {
  stage: S;
}

export function stageRunner<S extends string, J extends StagedJob<S>>(options: {
  /** The stages in order. */
  stages: readonly S[];
  job: J;
  /** Saves the job in its journal; undefined in a dry run (nothing is saved, nothing marked). */
  save: (() => Promise<void>) | undefined;
  log: (line: string) => void;
}) {
  const { stages, job, save, log } = options;
  /** Runs `stage` unless the job is past it; what `run` returns is merged into the job. */
  return async (stage: S, run: () => Promise<Partial<J>> | Promise<void>): Promise<void> => {
    if (stages.indexOf(job.stage) >= stages.indexOf(stage)) return;
    const began = Date.now();
    const changes = await run();
    if (save === undefined) return;
    Object.assign(job, changes ?? {}, { stage });
    await save();
    log(`stage done: ${stage} (${((Date.now() - began) / 1000).toFixed(1)} s)`);
  };
}

/**
 * Saga definitions in typed TypeScript. A saga is an ordered list of stages; a stage is one
 * step or a parallel group of steps. Each step sends a command to a participant and, unless it
 * never needs undoing, names the command that compensates it. `defineSaga` checks the whole
 * definition up front, so a mistake is an error at startup, never halfway through an instance.
 *
 * Steps before the pivot are compensatable; the pivot is the point of no return; steps after
 * it (and steps marked `retriableOnly`) are only ever retried, never compensated.
 */
import { createHash } from "node:crypto";
import { SagaDefinitionError } from "../errors/index.js";

/** What a step sends: a command type and its payload (an Avro record of that type). */
export interface CommandSpec {
  type: string;
  payload: Record<string, unknown>;
}

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  maxAttempts: number;
  initialDelayMs: number;
  multiplier: number;
  maxDelayMs: number;
  /** 0..1: each delay is scaled by a factor in [1 - jitter, 1]. */
  jitter: number;
}

export const DEFAULT_RETRY: Readonly<RetryPolicy> = {
  maxAttempts: 5,
  initialDelayMs: 100,
  multiplier: 2,
  maxDelayMs: 32_000,
  jitter: 0.5,
};

export const DEFAULT_STEP_TIMEOUT_MS = 30_000;

export interface StepInput<D> {
  name: string;
  participant: string;
  command: (data: D) => CommandSpec;
  compensation?: (data: D) => CommandSpec;
  /** How long to wait for the participant's reply to one attempt (default 30 s). */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** The point of no return: once it succeeds the saga only goes forward. */
  pivot?: boolean;
  /** A step whose effect never needs undoing: retried on failure, never compensated. */
  retriableOnly?: boolean;
  /** Folds the participant's reply into the saga's data. */
  onSuccess?: (data: D, result: Readonly<Record<string, string>>) => D;
}

export interface ParallelInput<D> {
  parallel: string;
  steps: StepInput<D>[];
}

export interface SagaDefinitionInput<D> {
  name: string;
  version: number;
  participants: readonly string[];
  stages: (StepInput<D> | ParallelInput<D>)[];
}

export interface Step<D> extends Omit<StepInput<D>, "retry" | "timeoutMs"> {
  timeoutMs: number;
  retry: RetryPolicy;
  stage: number;
  /** Whether a failure after it succeeded calls for its compensation. */
  compensatable: boolean;
}

export interface SagaDefinition<D> {
  name: string;
  version: number;
  participants: readonly string[];
  /** Each stage's steps, in order; a single step is a stage of one. */
  stages: readonly (readonly Step<D>[])[];
  /**
   * A digest of the shape an instance's state depends on (the stages, step names,
   * participants, the pivot, which steps are compensated), recorded when an instance starts:
   * a definition edited without a new version is told apart from the one its instances began on.
   */
  fingerprint: string;
  step(name: string): Step<D>;
}

/** Any saga definition, whatever its data type: the engine treats data as opaque. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- D is invariant (taken and returned)
export type AnySagaDefinition = SagaDefinition<any>;

const NAME = /^[a-z][a-z0-9-]*$/;

export function step<D>(input: StepInput<D>): StepInput<D> {
  return input;
}

export function parallel<D>(name: string, steps: StepInput<D>[]): ParallelInput<D> {
  return { parallel: name, steps };
}

function checkRetry(saga: string, stepName: string, retry: RetryPolicy): void {
  const bad = (field: string, rule: string) =>
    new SagaDefinitionError(saga, `step "${stepName}": retry.${field} ${rule}`);
  if (!Number.isInteger(retry.maxAttempts) || retry.maxAttempts < 1)
    throw bad("maxAttempts", "must be a whole number ≥ 1");
  if (!(retry.initialDelayMs >= 0)) throw bad("initialDelayMs", "must be ≥ 0");
  if (!(retry.multiplier >= 1)) throw bad("multiplier", "must be ≥ 1");
  if (!(retry.maxDelayMs >= retry.initialDelayMs))
    throw bad("maxDelayMs", "must be ≥ initialDelayMs");
  if (!(retry.jitter >= 0 && retry.jitter <= 1)) throw bad("jitter", "must be from 0 to 1");
}

/** Checks and completes a saga definition; throws SagaDefinitionError naming the problem. */
export function defineSaga<D>(input: SagaDefinitionInput<D>): SagaDefinition<D> {
  const saga = input.name;
  if (!NAME.test(saga)) {
    throw new SagaDefinitionError(saga, "the name must be lower-case letters, digits and -");
  }
  if (!Number.isInteger(input.version) || input.version < 1) {
    throw new SagaDefinitionError(saga, `version ${input.version} must be a whole number ≥ 1`);
  }
  if (input.stages.length === 0) throw new SagaDefinitionError(saga, "it has no steps");
  const names = new Set<string>();
  const claim = (name: string, what: string) => {
    if (!NAME.test(name)) {
      throw new SagaDefinitionError(
        saga,
        `${what} "${name}": names are lower-case letters, digits and -`,
      );
    }
    if (names.has(name)) throw new SagaDefinitionError(saga, `the name "${name}" is used twice`);
    names.add(name);
  };

  const pivots = input.stages
    .flatMap((s) => ("parallel" in s ? s.steps : [s]))
    .filter((s) => s.pivot);
  if (pivots.length > 1) {
    throw new SagaDefinitionError(
      saga,
      `steps ${pivots.map((p) => `"${p.name}"`).join(" and ")} are both marked pivot; a saga has at most one point of no return`,
    );
  }
  let pastPivot = false;
  const stages = input.stages.map((stage, index) => {
    const isGroup = "parallel" in stage;
    if (isGroup) {
      claim(stage.parallel, "parallel group");
      if (stage.steps.length === 0) {
        throw new SagaDefinitionError(saga, `parallel group "${stage.parallel}" has no steps`);
      }
    }
    const steps = (isGroup ? stage.steps : [stage]).map((s): Step<D> => {
      claim(s.name, "step");
      if (!input.participants.includes(s.participant)) {
        throw new SagaDefinitionError(
          saga,
          `step "${s.name}" sends to "${s.participant}", which is not one of its participants (${input.participants.join(", ")})`,
        );
      }
      if (isGroup && s.pivot === true) {
        throw new SagaDefinitionError(saga, `the pivot "${s.name}" cannot be in a parallel group`);
      }
      const compensatable = !pastPivot && s.pivot !== true && s.retriableOnly !== true;
      if (compensatable && s.compensation === undefined) {
        throw new SagaDefinitionError(
          saga,
          `step "${s.name}" can be compensated (it comes before the pivot) but has no compensation: ` +
            "add one, or mark it retriableOnly if its effect never needs undoing",
        );
      }
      if (!compensatable && s.compensation !== undefined) {
        throw new SagaDefinitionError(
          saga,
          `step "${s.name}" has a compensation that would never run (${pastPivot ? "it comes after the pivot" : s.pivot === true ? "it is the pivot" : "it is retriableOnly"}): remove it`,
        );
      }
      const timeoutMs = s.timeoutMs ?? DEFAULT_STEP_TIMEOUT_MS;
      if (!(timeoutMs > 0)) {
        throw new SagaDefinitionError(saga, `step "${s.name}": timeoutMs must be > 0`);
      }
      const retry = { ...DEFAULT_RETRY, ...s.retry };
      checkRetry(saga, s.name, retry);
      return { ...s, timeoutMs, retry, stage: index, compensatable };
    });
    if (steps.some((s) => s.pivot === true)) pastPivot = true;
    return steps;
  });
  const byName = new Map(stages.flat().map((s) => [s.name, s]));
  return {
    name: saga,
    version: input.version,
    participants: input.participants,
    stages,
    fingerprint: fingerprintOf(stages),
    step(name) {
      const found = byName.get(name);
      if (found === undefined) {
        throw new SagaDefinitionError(saga, `version ${input.version} has no step "${name}"`);
      }
      return found;
    },
  };
}

/**
 * The shape of the stages, hashed. Timeouts, retry policies and the code that builds commands
 * are left out: changing them does not change what an instance's recorded state means.
 */
function fingerprintOf<D>(stages: readonly (readonly Step<D>[])[]): string {
  const shape = stages.map((stage) =>
    stage.map((s) => [s.name, s.participant, s.compensatable, s.pivot === true]),
  );
  return createHash("sha256").update(JSON.stringify(shape)).digest("hex").slice(0, 16);
}

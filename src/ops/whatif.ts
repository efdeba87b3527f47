/**
 * What if another definition had been live: each recorded saga is run again, with the engine's
 * own `decide`, on the new definition, from its recorded start, answering each command the new
 * version issues with what the participant answered that same step, action and attempt in the
 * recording (success with its result, a refusal, a transient failure, a timeout). A command the
 * recording has no answer for (a step the old version never reached, or never had) stops that
 * saga's run and is reported as unknown: an answer is never invented. No participant is called.
 *
 * Sagas an operator steered (cancelled or retried) are not run again: their course depended on
 * a person, and they are counted apart.
 */
import type { KafkaSettings } from "../kafka/index.js";
import {
  decide,
  eventsOf,
  fold,
  sagaDecisionReader,
  type AnySagaDefinition,
  type SagaEvent,
  type SagaInput,
  type SagaState,
  type StepResult,
} from "../saga/index.js";
import type { AvroCodec } from "../schema/index.js";
import type { Position } from "./positions.js";
import { RangeReader } from "./range-reader.js";
import type { HistoryEvent } from "./timeline.js";

/** What a participant answered to one attempt, as the recording shows it. */
export type RecordedOutcome =
  | { kind: "success"; result: StepResult }
  | { kind: "failure"; retriable: boolean; reason: string }
  | { kind: "timeout"; late?: RecordedOutcome };

const attemptKey = (step: string, action: string, attempt: number) =>
  `${step}/${action}/${attempt}`;

/** The participants' answers a recorded history implies, by step, action and attempt. */
export function recordedOutcomes(history: readonly HistoryEvent[]): Map<string, RecordedOutcome> {
  const outcomes = new Map<string, RecordedOutcome>();
  const current = new Map<string, number>(); // `${step}/${action}` → the attempt out
  const answer = (step: string, action: string, outcome: RecordedOutcome, attempt?: number) => {
    const key = attemptKey(step, action, attempt ?? current.get(`${step}/${action}`) ?? 1);
    const known = outcomes.get(key);
    if (known === undefined) outcomes.set(key, outcome);
    // The participant's answer after the attempt timed out (the engine takes a late one):
    // kept with the timeout, to be given after it.
    else if (known.kind === "timeout" && outcome.kind !== "timeout") known.late ??= outcome;
  };
  for (const { event } of [...history].sort((a, b) => a.seq - b.seq)) {
    switch (event.type) {
      case "CommandIssued":
        current.set(`${event.step}/${event.action}`, event.attempt);
        break;
      case "StepSucceeded":
        answer(event.step, "do", { kind: "success", result: event.result });
        break;
      case "StepCompensated":
        answer(event.step, "undo", { kind: "success", result: {} });
        break;
      case "StepTimedOut":
        answer(event.step, event.action, { kind: "timeout" }, event.attempt);
        break;
      case "RetryScheduled": {
        // A transient failure's consequence; after a timeout, the timeout's (no answer).
        const failed = attemptKey(event.step, event.action, event.attempt - 1);
        if (!outcomes.has(failed)) {
          outcomes.set(failed, { kind: "failure", retriable: true, reason: event.reason });
        }
        break;
      }
      case "StepFailed":
        answer(event.step, "do", { kind: "failure", retriable: false, reason: event.reason });
        break;
      case "SagaFailed":
        answer(event.step, event.action, {
          kind: "failure",
          retriable: false,
          reason: event.reason,
        });
        break;
      default:
    }
  }
  return outcomes;
}

export interface WhatIfRun {
  sagaId: string;
  /** How the recording ended (its last state's status). */
  recorded: SagaState | undefined;
  /** How the new definition ends it, as far as the recording answers. */
  simulated: SagaState | undefined;
  recordedCommands: string[];
  simulatedCommands: string[];
  /** The command the recording has no answer for, when the run stopped there. */
  unknown: string | undefined;
  /** An operator cancelled or retried it: not run again. */
  steered: boolean;
}

/** `participant:step:action`, the identity of a command for the diff. */
function commandsOf(events: readonly SagaEvent[]): string[] {
  return events.flatMap((e) =>
    e.type === "CommandIssued" ? [`${e.participant}:${e.step}:${e.action}`] : [],
  );
}

/** Inputs no run should need: a guard against a definition that never rests. */
const MAX_INPUTS = 10_000;

/** Runs one recorded saga again on `definition`. */
export function simulate(
  definition: AnySagaDefinition,
  sagaId: string,
  history: readonly HistoryEvent[],
): WhatIfRun {
  const sorted = [...history].sort((a, b) => a.seq - b.seq);
  const recordedEvents = sorted.map((h) => h.event);
  const run: WhatIfRun = {
    sagaId,
    recorded: fold(recordedEvents, undefined),
    simulated: undefined,
    recordedCommands: commandsOf(recordedEvents),
    simulatedCommands: [],
    unknown: undefined,
    steered: recordedEvents.some(
      (e) => e.type === "RetryRequested" || (e.type === "CompensationStarted" && e.cancelled),
    ),
  };
  const start = recordedEvents[0];
  if (run.steered || start?.type !== "SagaStarted") return run;
  const outcomes = recordedOutcomes(sorted);
  const pending: SagaInput[] = [{ type: "Start", at: start.at, data: start.data }];
  let state: SagaState | undefined;
  const simulated: SagaEvent[] = [];
  for (let i = 0; i < MAX_INPUTS; i++) {
    const input = pending.shift();
    if (input === undefined) break;
    const decision = decide(definition, sagaId, state, input);
    if ("rejected" in decision) continue;
    simulated.push(...decision.events);
    state = fold(decision.events, state);
    for (const event of decision.events) {
      if (event.type === "RetryScheduled") {
        const { step, action, attempt } = event;
        pending.push({ type: "RetryDue", at: event.retryAt, step, action, attempt });
      }
      if (event.type !== "CommandIssued") continue;
      const { step, action, attempt } = event;
      const outcome = outcomes.get(attemptKey(step, action, attempt));
      if (outcome === undefined) {
        run.unknown ??= `${event.participant}:${step}:${action}#${attempt}`;
        continue;
      }
      const reply = (answered: Exclude<RecordedOutcome, { kind: "timeout" }>, at: number) => {
        pending.push({
          type: "Reply",
          at,
          step,
          action,
          attempt,
          outcome: answered.kind,
          retriable: answered.kind === "failure" && answered.retriable,
          reason: answered.kind === "failure" ? answered.reason : "",
          result: answered.kind === "success" ? answered.result : {},
        });
      };
      if (outcome.kind !== "timeout") reply(outcome, event.at);
      else {
        pending.push({ type: "Timeout", at: event.timeoutAt, step, action, attempt });
        if (outcome.late !== undefined && outcome.late.kind !== "timeout") {
          reply(outcome.late, event.timeoutAt);
        }
      }
    }
  }
  run.simulated = state;
  run.simulatedCommands = commandsOf(simulated);
  return run;
}

export interface WhatIfDiff {
  sagas: number;
  /** Ended the same way, with the same commands. */
  same: number;
  steered: string[];
  /** By the command the recording could not answer. */
  unknown: Map<string, string[]>;
  /** By `RECORDED → SIMULATED` status. */
  endsDifferently: Map<string, string[]>;
  /** By command (`participant:step:action`): issued by the new version only. */
  onlyNew: Map<string, string[]>;
  /** By command: issued by the recorded run only. */
  onlyRecorded: Map<string, string[]>;
}

function add(map: Map<string, string[]>, key: string, sagaId: string): void {
  const list = map.get(key) ?? [];
  list.push(sagaId);
  map.set(key, list);
}

export function diffRuns(runs: readonly WhatIfRun[]): WhatIfDiff {
  const diff: WhatIfDiff = {
    sagas: runs.length,
    same: 0,
    steered: [],
    unknown: new Map(),
    endsDifferently: new Map(),
    onlyNew: new Map(),
    onlyRecorded: new Map(),
  };
  for (const run of runs) {
    if (run.steered) {
      diff.steered.push(run.sagaId);
      continue;
    }
    if (run.unknown !== undefined) add(diff.unknown, run.unknown, run.sagaId);
    const recorded = new Set(run.recordedCommands);
    const simulated = new Set(run.simulatedCommands);
    const onlyNew = [...simulated].filter((c) => !recorded.has(c));
    const onlyRecorded = [...recorded].filter((c) => !simulated.has(c));
    for (const command of onlyNew) add(diff.onlyNew, command, run.sagaId);
    // A run stopped for want of an answer says nothing of what it would have issued later.
    if (run.unknown === undefined) {
      for (const command of onlyRecorded) add(diff.onlyRecorded, command, run.sagaId);
    }
    const [from, to] = [run.recorded?.status, run.simulated?.status];
    if (run.unknown === undefined && from !== to) {
      add(diff.endsDifferently, `${from ?? "?"} → ${to ?? "?"}`, run.sagaId);
    }
    if (run.unknown === undefined && from === to && onlyNew.length + onlyRecorded.length === 0) {
      diff.same += 1;
    }
  }
  return diff;
}

/**
 * The histories of the sagas started in [from, to) on a saga-events topic, each with every
 * event recorded since (up to the log's end when the read starts).
 */
export async function readStartedIn(options: {
  kafka: KafkaSettings;
  codec: AvroCodec;
  topic: string;
  from: Position;
  /** ms; Infinity: up to the log's end. */
  to: number;
}): Promise<Map<string, HistoryEvent[]>> {
  const reader = new RangeReader(options.kafka, {
    topic: options.topic,
    from: options.from,
    to: { kind: "latest" },
  });
  const decode = sagaDecisionReader(options.codec);
  const histories = new Map<string, Map<number, SagaEvent>>();
  try {
    for await (const { record } of reader.read(await reader.spans())) {
      const sagaId = record.key?.toString("utf8");
      if (sagaId === undefined || record.value === null) continue;
      let decision;
      try {
        decision = await decode(record.value);
      } catch {
        continue; // `replay` lists what does not decode
      }
      for (const { seq, event } of eventsOf(decision)) {
        let history = histories.get(sagaId);
        if (history === undefined) {
          if (event.type !== "SagaStarted" || record.timestamp >= options.to) continue;
          history = new Map();
          histories.set(sagaId, history);
        }
        history.set(seq, event);
      }
    }
  } finally {
    await reader.close();
  }
  return new Map(
    [...histories].map(([id, events]) => [id, [...events].map(([seq, event]) => ({ seq, event }))]),
  );
}

/**
 * A topology with a wall-clock timeout, like a saga step's: a key's "start" record sets its
 * deadline; an "answer" before the deadline forwards "answered"; a wall-clock punctuator
 * forwards "timed out" for each key whose deadline passed unanswered.
 */
import { Serdes } from "../../src/state/index.js";
import {
  PunctuationType,
  TopologyBuilder,
  type Processor,
  type ProcessorContext,
  type StreamRecord,
  type Topology,
} from "../../src/topology/index.js";

export const DEADLINES_STORE = "deadlines";

/** An answer may carry padding (a test makes its answers span several fetches so). */
export type DeadlineInput = { due: number } | { answer: true; padding?: string };

class Deadlines implements Processor<string, DeadlineInput, string, string> {
  init(ctx: ProcessorContext<string, string>): void {
    ctx.schedule(50, PunctuationType.WallClock, async (now) => {
      const deadlines = ctx.store<string, number>(DEADLINES_STORE);
      const due: string[] = [];
      for await (const [key, at] of deadlines.range()) if (at <= now) due.push(key);
      for (const key of due) {
        deadlines.delete(key);
        await ctx.forward({ key, value: "timed out", timestamp: now, headers: {} });
      }
    });
  }

  async process(
    record: StreamRecord<string, DeadlineInput>,
    ctx: ProcessorContext<string, string>,
  ): Promise<void> {
    const deadlines = ctx.store<string, number>(DEADLINES_STORE);
    if ("due" in record.value) {
      deadlines.put(record.key, record.value.due);
    } else if ((await deadlines.get(record.key)) !== undefined) {
      deadlines.delete(record.key);
      await ctx.forward({ ...record, value: "answered" });
    }
  }
}

export function deadlineTopology(topics: { input: string; output: string }): Topology {
  return new TopologyBuilder()
    .source("inputs", {
      topics: [topics.input],
      keySerde: Serdes.string,
      valueSerde: Serdes.json<DeadlineInput>(),
    })
    .store(DEADLINES_STORE, { keySerde: Serdes.string, valueSerde: Serdes.json<number>() })
    .processor("timeouts", {
      parents: ["inputs"],
      stores: [DEADLINES_STORE],
      create: () => new Deadlines(),
    })
    .sink("outcomes", {
      parents: ["timeouts"],
      topic: topics.output,
      keySerde: Serdes.string,
      valueSerde: Serdes.string,
    })
    .build();
}

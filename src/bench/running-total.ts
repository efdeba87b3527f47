/**
 * The running-total topology used by the topology tests and benchmark: for each key, add the
 * input amount to the key's total in a changelogged store and emit the new total.
 */
import { Serdes } from "../state/index.js";
import {
  TopologyBuilder,
  type Processor,
  type ProcessorContext,
  type StoreKind,
  type StreamRecord,
  type Topology,
} from "../topology/index.js";

export const TOTALS_STORE = "totals";

export interface RunningTotalTopics {
  input: string;
  output: string;
}

class RunningTotal implements Processor<string, number, string, number> {
  constructor(private readonly onRecord?: () => void) {}

  async process(
    record: StreamRecord<string, number>,
    ctx: ProcessorContext<string, number>,
  ): Promise<void> {
    if (!Number.isInteger(record.value))
      throw new Error(`amount must be an integer, got ${String(record.value)}`);
    this.onRecord?.();
    const totals = ctx.store<string, number>(TOTALS_STORE);
    const total = ((await totals.get(record.key)) ?? 0) + record.value;
    totals.put(record.key, total);
    await ctx.forward({ ...record, value: total });
  }
}

/** `onRecord` is called as each record is processed (the benchmark notes the first one). */
export function runningTotalTopology(
  topics: RunningTotalTopics,
  storeKind?: StoreKind,
  onRecord?: () => void,
): Topology {
  return new TopologyBuilder()
    .source("amounts", {
      topics: [topics.input],
      keySerde: Serdes.string,
      valueSerde: Serdes.json<number>(),
    })
    .store(TOTALS_STORE, {
      ...(storeKind === undefined ? {} : { kind: storeKind }),
      keySerde: Serdes.string,
      valueSerde: Serdes.json<number>(),
      readByRecordKey: true,
    })
    .processor("sum", {
      parents: ["amounts"],
      stores: [TOTALS_STORE],
      create: () => new RunningTotal(onRecord),
    })
    .sink("totals-out", {
      parents: ["sum"],
      topic: topics.output,
      keySerde: Serdes.string,
      valueSerde: Serdes.json<number>(),
    })
    .build();
}

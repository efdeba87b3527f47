/**
 * The saga worker's topology: sources for the starting domain events, the replies and the
 * operators' requests (all keyed by saga id, co-partitioned) feed one saga processor with its
 * store of saga states; sinks write the saga-events log and one command topic per participant.
 */
import type { Logger } from "../log/index.js";
import { Serdes, type Serde } from "../state/index.js";
import { TopologyBuilder, type Topology } from "../topology/index.js";
import { generationTopic } from "./generations.js";
import { sagaTopics } from "./messages.js";
import { commandSink, SAGA_EVENTS_SINK } from "./outgoing.js";
import { SAGA_STORES, SagaProcessor, type SagaMessage, type SagaObserver } from "./processor.js";
import { parkedInputSerde } from "./parked-inputs.js";
import { sagaRecordSerde } from "./record-serde.js";
import type { SagaRegistry } from "./registry.js";
import type { SagaIndexes } from "./saga-index.js";
import type { SagaLimits } from "./limits.js";
import type { SagaSerdes } from "./serdes.js";

/** Per task, the saga states kept in memory: some 4,000 sagas of 500 bytes. */
const SAGA_CACHE_BYTES = 2 * 2 ** 20;

/** A domain-event topic whose events start sagas of one type, keyed by the new saga's id. */
export interface SagaStart<E> {
  topic: string;
  saga: string;
  valueSerde: Serde<E>;
  /** The new saga's data, from the event. */
  data: (event: E) => unknown;
}

export interface SagaTopologyOptions {
  applicationId: string;
  /** The generation of the application's topics it reads and writes (generations.ts; default 0). */
  generation?: number | undefined;
  registry: SagaRegistry;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each start has its own event type
  starts: readonly SagaStart<any>[];
  serdes: SagaSerdes;
  timerIntervalMs?: number | undefined;
  maxTimersPerTick?: number | undefined;
  observer?: SagaObserver | undefined;
  /** Where each open task publishes its status index, for the status API. */
  indexes?: SagaIndexes | undefined;
  /** What a saga may carry (default DEFAULT_SAGA_LIMITS). */
  limits?: Partial<SagaLimits> | undefined;
  /** How long an ended saga stays in the store (ms, default 7 days; see SagaProcessorOptions). */
  retentionMs?: number | undefined;
  logger: Logger;
}

/** Decodes a source's bytes into the processor's input union, with `inner`'s preparation. */
function inputSerde(
  deserialize: (bytes: Buffer) => SagaMessage,
  inner: Pick<Serde<unknown>, "prepare">,
): Serde<SagaMessage> {
  const serde: Serde<SagaMessage> = {
    serialize: () => {
      throw new Error("saga inputs are only read");
    },
    deserialize,
  };
  const prepare = inner.prepare?.bind(inner);
  if (prepare !== undefined) serde.prepare = prepare;
  return serde;
}

export function sagaTopology(options: SagaTopologyOptions): Topology {
  const generation = options.generation ?? 0;
  const topics = sagaTopics(options.applicationId, generation);
  const { serdes } = options;
  const builder = new TopologyBuilder()
    .source("replies", {
      topics: [topics.replies],
      keySerde: Serdes.string,
      keyPartitioned: true,
      valueSerde: inputSerde(
        (b) => ({ kind: "reply", reply: serdes.reply.deserialize(b) }),
        serdes.reply,
      ),
    })
    .source("control", {
      topics: [topics.control],
      keySerde: Serdes.string,
      keyPartitioned: true,
      valueSerde: inputSerde(
        (b) => ({ kind: "control", control: serdes.control.deserialize(b) }),
        serdes.control,
      ),
    });
  const sources = ["replies", "control"];
  for (const [i, start] of options.starts.entries()) {
    if (options.registry.latest(start.saga) === undefined) {
      throw new Error(
        `the start on ${start.topic} names saga "${start.saga}", which is not deployed`,
      );
    }
    const name = `start-${i}`;
    builder.source(name, {
      topics: [generationTopic(start.topic, generation)],
      keySerde: Serdes.string,
      keyPartitioned: true,
      valueSerde: inputSerde(
        (b) => ({
          kind: "start",
          sagaType: start.saga,
          data: start.data(start.valueSerde.deserialize(b)),
        }),
        start.valueSerde,
      ),
    });
    sources.push(name);
  }
  builder
    // Every input reads its saga's state, keyed by the saga id as the input is: cache the hot
    // ones, and read a fetched batch's sagas together.
    .store(SAGA_STORES.sagas, {
      keySerde: Serdes.string,
      valueSerde: sagaRecordSerde,
      cacheBytes: SAGA_CACHE_BYTES,
      readByRecordKey: true,
    })
    // Inputs of sagas this worker cannot run, until one that can opens the task.
    .store(SAGA_STORES.parked, { keySerde: Serdes.string, valueSerde: parkedInputSerde })
    .processor("saga", {
      parents: sources,
      stores: Object.values(SAGA_STORES),
      create: () =>
        new SagaProcessor({
          registry: options.registry,
          timerIntervalMs: options.timerIntervalMs ?? 100,
          maxTimersPerTick: options.maxTimersPerTick ?? 1_000,
          logger: options.logger,
          observer: options.observer,
          indexes: options.indexes,
          limits: options.limits,
          retentionMs: options.retentionMs,
        }),
    })
    .sink(SAGA_EVENTS_SINK, {
      parents: ["saga"],
      topic: topics.events,
      keySerde: Serdes.string,
      valueSerde: serdes.decision,
    });
  for (const participant of options.registry.participants()) {
    builder.sink(commandSink(participant), {
      parents: ["saga"],
      topic: topics.commands(participant),
      keySerde: Serdes.string,
      valueSerde: serdes.command(participant),
    });
  }
  return builder.build();
}

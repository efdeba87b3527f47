/**
 * What a lost primary held that never reached DR: read once the old primary is back, per topic
 * partition, the committed records past the prefix that was mirrored. MirrorMaker 2 copies a
 * partition in order, so DR holds a prefix of each primary partition's committed records (up to
 * the ends DR had when the mirror stopped); the rest are the failover's lost records, the RPO.
 * The last mirrored record is checked against the primary's at the same place.
 */
import type { KafkaSettings } from "../kafka/index.js";
import type { CommittedRecord } from "../topology/index.js";
import { RangeReader } from "./range-reader.js";

export interface PartitionLoss {
  topic: string;
  partition: number;
  /** Committed records on the primary. */
  primary: number;
  /** Records DR held when the mirror stopped. */
  mirrored: number;
  /** Primary records past the mirrored prefix. */
  lost: number;
  /** The oldest lost record's time (ms). */
  oldestLostAt?: number | undefined;
  /** False when the last mirrored record is not the primary's at the same place. */
  prefix: boolean;
}

async function records(
  kafka: KafkaSettings,
  topic: string,
  to?: readonly bigint[],
): Promise<Map<number, CommittedRecord[]>> {
  const reader = new RangeReader(kafka, {
    topic,
    from: { kind: "earliest" },
    to: { kind: "latest" },
  });
  const byPartition = new Map<number, CommittedRecord[]>();
  try {
    const spans = (await reader.spans()).map((s) => {
      const end = to?.[s.partition];
      return end === undefined || end > s.to ? s : { ...s, to: end };
    });
    for await (const { partition, record } of reader.read(spans)) {
      const list = byPartition.get(partition) ?? [];
      list.push(record);
      byPartition.set(partition, list);
    }
  } finally {
    await reader.close();
  }
  return byPartition;
}

function same(a: CommittedRecord | undefined, b: CommittedRecord | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return (
    a.timestamp === b.timestamp &&
    (a.key?.equals(b.key ?? Buffer.alloc(0)) ?? b.key === null) &&
    (a.value?.equals(b.value ?? Buffer.alloc(0)) ?? b.value === null)
  );
}

/**
 * Per partition of `topic`: the primary's committed records past what DR held at `drEnds`
 * (its end offsets when the mirror stopped).
 */
export async function replicationLoss(options: {
  primary: KafkaSettings;
  dr: KafkaSettings;
  topic: string;
  drEnds: readonly bigint[];
}): Promise<PartitionLoss[]> {
  const [primary, mirrored] = await Promise.all([
    records(options.primary, options.topic),
    records(options.dr, options.topic, options.drEnds),
  ]);
  const partitions = new Set([...primary.keys(), ...mirrored.keys()]);
  return [...partitions]
    .sort((a, b) => a - b)
    .map((partition) => {
      const held = primary.get(partition) ?? [];
      const copy = mirrored.get(partition) ?? [];
      const lost = held.slice(copy.length);
      return {
        topic: options.topic,
        partition,
        primary: held.length,
        mirrored: copy.length,
        lost: lost.length,
        oldestLostAt: lost.length === 0 ? undefined : Math.min(...lost.map((r) => r.timestamp)),
        prefix: copy.length === 0 || same(copy.at(-1), held[copy.length - 1]),
      };
    });
}

/**
 * `sagastream capacity`: the design's sizing formulas (workers, partitions, storage, messages,
 * broker disk) over a peak rate and a per-worker throughput, with every assumption spelled out.
 * Pure: the command reads the measured throughput and prints the plan.
 */
import { UsageError } from "../errors/index.js";

export interface CapacityInput {
  /** Transactions (sagas) per second at the peak. */
  peakTps: number;
  /** Transactions per second on average, for the daily volumes (default: the peak). */
  averageTps?: number | undefined;
  /** The sagas per second one worker sustains (measured). */
  tpsPerWorker: number;
  /** Where tpsPerWorker came from, for the assumptions (default: given on the command line). */
  tpsPerWorkerSource?: string | undefined;
  /** Spare capacity above the peak, a fraction: 0.5 = 50 % (default 0.5). */
  headroom?: number | undefined;
  /** Bytes stored per transaction (default 2,000: "2 KB", decimal). */
  bytesPerTx?: number | undefined;
  /** Stored bytes per data byte once indexed (default 1.5). */
  indexOverhead?: number | undefined;
  /** Kafka messages per transaction (default 6). */
  messagesPerTx?: number | undefined;
  /** Bytes per Kafka message (default 1,000). */
  messageBytes?: number | undefined;
  /** Days the topics and the store keep a transaction (default 7). */
  retentionDays?: number | undefined;
  /** Copies of each partition on the brokers (default 3). */
  replicationFactor?: number | undefined;
}

/** The input with every default applied. */
export type CapacityAssumed = Required<{
  [K in keyof CapacityInput]: Exclude<CapacityInput[K], undefined>;
}>;

export interface CapacityPlan {
  input: CapacityAssumed;
  /** Workers for the peak exactly: ceil(peak / per worker). */
  workersWithoutHeadroom: number;
  /** Workers for the peak with the headroom: ceil(peak × (1 + headroom) / per worker). */
  workers: number;
  /** Partitions of the application's co-partitioned topics: 2 × workers. */
  partitions: number;
  /** average × 86,400 × bytes per transaction × index overhead. */
  storageBytesPerDay: number;
  /** Storage per day × retention days. */
  storageBytesRetained: number;
  /** average × 86,400 × messages per transaction. */
  messagesPerDay: number;
  /** Messages per day × message bytes × retention days × replication factor. */
  brokerDiskBytes: number;
  /** Each input, where it came from, and the formulas, as sentences. */
  assumptions: string[];
}

export const SECONDS_PER_DAY = 86_400;
/** Partitions per planned worker: room for the group to double before a repartition. */
export const PARTITIONS_PER_WORKER = 2;

export const CAPACITY_DEFAULTS = {
  headroom: 0.5,
  bytesPerTx: 2_000,
  indexOverhead: 1.5,
  messagesPerTx: 6,
  messageBytes: 1_000,
  retentionDays: 7,
  replicationFactor: 3,
} as const;

/** Each input's flag and what it takes, for the errors. */
const FLAGS: Record<Exclude<keyof CapacityInput, "tpsPerWorkerSource">, [string, string]> = {
  peakTps: ["--peak-tps", "a positive number of transactions per second"],
  averageTps: ["--avg-tps", "a positive number of transactions per second"],
  tpsPerWorker: ["--tps-per-worker", "a positive number of sagas per second one worker sustains"],
  headroom: ["--headroom", "a fraction of 0 or more (0.5 = 50 % above the peak)"],
  bytesPerTx: ["--bytes-per-tx", "a positive number of bytes"],
  indexOverhead: ["--index-overhead", "a positive factor (1.5 = indexes add half)"],
  messagesPerTx: ["--messages-per-tx", "a positive number of Kafka messages"],
  messageBytes: ["--message-bytes", "a positive number of bytes"],
  retentionDays: ["--retention-days", "a positive number of days"],
  replicationFactor: ["--replication", "a whole number of copies, 1 or more"],
};

function check(key: keyof typeof FLAGS, value: number, ok: (n: number) => boolean): number {
  if (!Number.isFinite(value) || !ok(value)) {
    const [flag, takes] = FLAGS[key];
    throw new UsageError(`${flag} takes ${takes} (got ${String(value)})`);
  }
  return value;
}

const positive = (n: number) => n > 0;

/** The smallest whole number ≥ x, ignoring float noise (1,000 × 1.1 / 100 is 11, not 12). */
function ceilWhole(x: number): number {
  return Math.ceil(Number(x.toPrecision(12)));
}

/** Numbers in assumptions and formulas: thousands separators, at most 3 decimals. */
export function formatNumber(n: number): string {
  return n.toLocaleString("en", { maximumFractionDigits: 3 });
}

/** Applies the defaults and checks every input; throws a UsageError naming the flag. */
export function assumedInput(input: CapacityInput): CapacityAssumed {
  const d = CAPACITY_DEFAULTS;
  const peakTps = check("peakTps", input.peakTps, positive);
  return {
    peakTps,
    averageTps: check("averageTps", input.averageTps ?? peakTps, positive),
    tpsPerWorker: check("tpsPerWorker", input.tpsPerWorker, positive),
    tpsPerWorkerSource: input.tpsPerWorkerSource ?? "given with --tps-per-worker",
    headroom: check("headroom", input.headroom ?? d.headroom, (n) => n >= 0),
    bytesPerTx: check("bytesPerTx", input.bytesPerTx ?? d.bytesPerTx, positive),
    indexOverhead: check("indexOverhead", input.indexOverhead ?? d.indexOverhead, positive),
    messagesPerTx: check("messagesPerTx", input.messagesPerTx ?? d.messagesPerTx, positive),
    messageBytes: check("messageBytes", input.messageBytes ?? d.messageBytes, positive),
    retentionDays: check("retentionDays", input.retentionDays ?? d.retentionDays, positive),
    replicationFactor: check(
      "replicationFactor",
      input.replicationFactor ?? d.replicationFactor,
      (n) => Number.isInteger(n) && n >= 1,
    ),
  };
}

function assumptionsOf(input: CapacityInput, a: CapacityAssumed): string[] {
  const n = formatNumber;
  const given = (key: keyof CapacityInput, flag: string, fallback: string) =>
    input[key] === undefined ? `default${fallback}` : `given with ${flag}`;
  return [
    `Peak: ${n(a.peakTps)} transactions/s (given with --peak-tps); one transaction is one saga.`,
    `Average: ${n(a.averageTps)} transactions/s (${given("averageTps", "--avg-tps", ": the peak")}); the daily volumes use it.`,
    `Per worker: ${n(a.tpsPerWorker)} sagas/s (${a.tpsPerWorkerSource}).`,
    `Headroom: ${n(a.headroom * 100)} % above the peak (${given("headroom", "--headroom", "")}).`,
    `Workers = ceil(peak × (1 + headroom) / per worker); without headroom, ceil(peak / per worker).`,
    `Partitions = ${PARTITIONS_PER_WORKER} × workers, for every co-partitioned topic of the application (start, saga-events, commands, replies, changelogs): ` +
      `a partition is processed by one worker at a time, so a group scales out only to as many workers as partitions; ` +
      `twice the planned workers lets it grow to twice its size before a repartition, and partitions are never taken away.`,
    `Storage: ${n(a.bytesPerTx)} bytes stored per transaction (${given("bytesPerTx", "--bytes-per-tx", "")}; decimal units, 1 KB = 1,000 bytes) ` +
      `× ${n(a.indexOverhead)} for indexes (${given("indexOverhead", "--index-overhead", "")}); per day = average × 86,400 s × bytes × overhead; kept = per day × retention days.`,
    `Messages: ${n(a.messagesPerTx)} Kafka messages per transaction (${given("messagesPerTx", "--messages-per-tx", "")}); per day = average × 86,400 s × messages.`,
    `Broker disk: ${n(a.messageBytes)} bytes per message (${given("messageBytes", "--message-bytes", "")}), ` +
      `kept ${n(a.retentionDays)} days (${given("retentionDays", "--retention-days", "")}), ` +
      `${n(a.replicationFactor)} replicas (${given("replicationFactor", "--replication", "")}); ` +
      `= messages per day × message bytes × days × replicas (compression, compaction and index files left out).`,
  ];
}

/** The design's sizing formulas over `input`; throws a UsageError for a bad input. */
export function planCapacity(input: CapacityInput): CapacityPlan {
  const a = assumedInput(input);
  const txPerDay = a.averageTps * SECONDS_PER_DAY;
  const workers = ceilWhole((a.peakTps * (1 + a.headroom)) / a.tpsPerWorker);
  const storageBytesPerDay = txPerDay * a.bytesPerTx * a.indexOverhead;
  const messagesPerDay = txPerDay * a.messagesPerTx;
  return {
    input: a,
    workersWithoutHeadroom: ceilWhole(a.peakTps / a.tpsPerWorker),
    workers,
    partitions: PARTITIONS_PER_WORKER * workers,
    storageBytesPerDay,
    storageBytesRetained: storageBytesPerDay * a.retentionDays,
    messagesPerDay,
    brokerDiskBytes: messagesPerDay * a.messageBytes * a.retentionDays * a.replicationFactor,
    assumptions: assumptionsOf(input, a),
  };
}

/** `value` in decimal units of `units` (1,000 apart), one decimal: 259.2 GB, 518.4 M. */
function human(value: number, units: readonly string[]): string {
  let i = 0;
  let scaled = value;
  // Rounded first: 999,960 bytes is "1 MB", not "1,000 KB".
  while (Math.round(scaled * 10) / 10 >= 1000 && i < units.length - 1) {
    scaled /= 1000;
    i += 1;
  }
  return `${scaled.toLocaleString("en", { maximumFractionDigits: 1 })} ${units[i] ?? ""}`.trimEnd();
}

/** Bytes in decimal units: 259,200,000,000 → "259.2 GB". */
export const humanBytes = (bytes: number) =>
  human(bytes, ["B", "KB", "MB", "GB", "TB", "PB", "EB"]);
/** A count in decimal units: 518,400,000 → "518.4 M". */
export const humanCount = (count: number) => human(count, ["", "k", "M", "G", "T"]);

/** The plan as table rows: figure, value (human units), formula (with the numbers). */
export function capacityRows(plan: CapacityPlan): [string, string, string][] {
  const n = formatNumber;
  const a = plan.input;
  const perDay = `${n(a.averageTps)} TPS × 86,400 s`;
  return [
    [
      "workers without headroom",
      n(plan.workersWithoutHeadroom),
      `ceil(${n(a.peakTps)} / ${n(a.tpsPerWorker)})`,
    ],
    [
      `workers with ${n(a.headroom * 100)} % headroom`,
      n(plan.workers),
      `ceil(${n(a.peakTps)} × ${n(1 + a.headroom)} / ${n(a.tpsPerWorker)})`,
    ],
    [
      "partitions per topic",
      n(plan.partitions),
      `${PARTITIONS_PER_WORKER} × ${n(plan.workers)} worker${plan.workers === 1 ? "" : "s"}`,
    ],
    [
      "storage per day",
      `${humanBytes(plan.storageBytesPerDay)}/day`,
      `${perDay} × ${n(a.bytesPerTx)} B × ${n(a.indexOverhead)} = ${n(plan.storageBytesPerDay)} B`,
    ],
    [
      `storage for ${n(a.retentionDays)} days`,
      humanBytes(plan.storageBytesRetained),
      `${humanBytes(plan.storageBytesPerDay)} × ${n(a.retentionDays)} = ${n(plan.storageBytesRetained)} B`,
    ],
    [
      "messages per day",
      `${humanCount(plan.messagesPerDay)}/day`,
      `${perDay} × ${n(a.messagesPerTx)} = ${n(plan.messagesPerDay)}`,
    ],
    [
      "broker disk",
      humanBytes(plan.brokerDiskBytes),
      `${humanCount(plan.messagesPerDay)} × ${n(a.messageBytes)} B × ${n(a.retentionDays)} days × ${n(a.replicationFactor)} replicas = ${n(plan.brokerDiskBytes)} B`,
    ],
  ];
}

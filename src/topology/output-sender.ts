/**
 * Sends a commit's outputs in requests the broker accepts: a busy commit can produce several MB
 * (commands, events, changelog records), more than one record batch may hold
 * (message.max.bytes, 1 MB by default), so they go in chunks, all within the same transaction
 * when there is one. Every record is given its partition here (keyed records as the Java
 * client's partitioner places them), so that the end of each changelog partition is known.
 */
import type { MessageToProduce, ProduceResult } from "@platformatic/kafka";
import { partitionForKey } from "../kafka/index.js";
import { recordBytes } from "./record-checks.js";
import type { OutputRecord } from "./task.js";

export const MAX_CHUNK_BYTES = 512 * 1024;
export const MAX_CHUNK_RECORDS = 5_000;

/** A record's bytes and what the broker frames it with, near enough. */
function sizeOf(o: OutputRecord): number {
  return recordBytes(o) + 64;
}

/** Splits outputs, in order, into chunks under both limits. */
export function chunkOutputs(
  outputs: readonly OutputRecord[],
  maxBytes = MAX_CHUNK_BYTES,
  maxRecords = MAX_CHUNK_RECORDS,
): OutputRecord[][] {
  const chunks: OutputRecord[][] = [];
  let chunk: OutputRecord[] = [];
  let bytes = 0;
  for (const output of outputs) {
    const size = sizeOf(output);
    if (chunk.length > 0 && (bytes + size > maxBytes || chunk.length >= maxRecords)) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(output);
    bytes += size;
  }
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}

/** Header names as bytes, made once each: a few names recur on every record. */
const headerNames = new Map<string, Buffer>();

/** Shared by every record without headers; the producer only reads it. */
const NO_HEADERS = new Map<Buffer, Buffer>();

/** Header names as bytes: the producer's default (no-op) serializers take bytes only. */
function headerMap(headers: OutputRecord["headers"]): Map<Buffer, Buffer> {
  let map: Map<Buffer, Buffer> | undefined;
  for (const name in headers) {
    let bytes = headerNames.get(name);
    if (bytes === undefined) {
      bytes = Buffer.from(name);
      if (headerNames.size < 1000) headerNames.set(name, bytes);
    }
    (map ??= new Map()).set(bytes, headers[name]);
  }
  return map ?? NO_HEADERS;
}

/** The partition a record goes to: its own, else its key's, else 0. */
export function partitionOf(
  output: OutputRecord,
  partitionCount: (topic: string) => number,
): number {
  if (output.partition !== undefined) return output.partition;
  return output.key === null ? 0 : partitionForKey(output.key, partitionCount(output.topic));
}

/**
 * Sends `outputs` chunk by chunk through `send`; returns, for each topic-partition records
 * were sent to, the offset after the last one (by `topic/partition`).
 */
export async function sendOutputs(
  outputs: readonly OutputRecord[],
  partitionCount: (topic: string) => number,
  send: (messages: MessageToProduce[]) => Promise<ProduceResult>,
): Promise<Map<string, bigint>> {
  const ends = new Map<string, bigint>();
  for (const chunk of chunkOutputs(outputs)) {
    // Records per partition, by topic (a key string per record was a cost of its own).
    const counts = new Map<string, number[]>();
    const messages = chunk.map((o): MessageToProduce => {
      const partition = partitionOf(o, partitionCount);
      let perPartition = counts.get(o.topic);
      if (perPartition === undefined) counts.set(o.topic, (perPartition = []));
      perPartition[partition] = (perPartition[partition] ?? 0) + 1;
      const message: MessageToProduce = {
        topic: o.topic,
        partition,
        headers: headerMap(o.headers),
        timestamp: BigInt(o.timestamp),
      };
      if (o.key !== null) message.key = o.key;
      if (o.value !== null) message.value = o.value; // none: a tombstone
      return message;
    });
    const result = await send(messages);
    for (const { topic, partition, offset } of result.offsets ?? []) {
      ends.set(`${topic}/${partition}`, offset + BigInt(counts.get(topic)?.[partition] ?? 0));
    }
  }
  return ends;
}

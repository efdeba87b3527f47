/**
 * Sends a commit's outputs in requests the broker accepts: a busy task's batch can produce
 * several MB (commands, events, changelog records), more than one record batch may hold
 * (message.max.bytes, 1 MB by default), so they go in chunks, all within the same
 * transaction when there is one.
 */
import type { Message, RecordMetadata as ProduceResult, TopicMessages } from "kafkajs";
import type { OutputRecord } from "./task.js";

export const MAX_CHUNK_BYTES = 512 * 1024;
/**
 * kafkajs groups a request's messages by partition in time quadratic in their number per
 * topic (it copies the array at each message): a few hundred per chunk keeps that small.
 */
export const MAX_CHUNK_RECORDS = 400;

function sizeOf(o: OutputRecord): number {
  let size = (o.key?.length ?? 0) + (o.value?.length ?? 0) + 64;
  for (const [name, value] of Object.entries(o.headers)) size += name.length + value.length;
  return size;
}

function groupByTopic(outputs: readonly OutputRecord[]): TopicMessages[] {
  const byTopic = new Map<string, Message[]>();
  for (const o of outputs) {
    const messages = byTopic.get(o.topic) ?? [];
    const message: Message = {
      key: o.key,
      value: o.value,
      headers: o.headers,
      timestamp: String(o.timestamp),
    };
    if (o.partition !== undefined) message.partition = o.partition;
    messages.push(message);
    byTopic.set(o.topic, messages);
  }
  return [...byTopic].map(([topic, messages]) => ({ topic, messages }));
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

/**
 * Sends `outputs` chunk by chunk through `send`; returns, for each topic-partition that
 * records were sent to with an explicit partition (changelogs), the offset after the last one.
 */
export async function sendOutputs(
  outputs: readonly OutputRecord[],
  send: (topicMessages: TopicMessages[]) => Promise<ProduceResult[]>,
): Promise<Map<string, bigint>> {
  const ends = new Map<string, bigint>();
  for (const chunk of chunkOutputs(outputs)) {
    const results = await send(groupByTopic(chunk));
    for (const result of results) {
      const count = chunk.filter(
        (o) => o.topic === result.topicName && o.partition === result.partition,
      ).length;
      if (count === 0 || result.baseOffset === undefined) continue;
      ends.set(
        `${result.topicName}/${result.partition}`,
        BigInt(result.baseOffset) + BigInt(count),
      );
    }
  }
  return ends;
}

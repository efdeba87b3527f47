/**
 * The Java client's default partitioner for keyed records: murmur2 of the key bytes, made
 * positive by masking the sign bit, modulo the partition count. Every producer of the engine
 * uses it, so that a key lands where Kafka Streams, Connect and the Java clients put it.
 *
 * @platformatic/kafka's own default is NOT this: it takes `murmur2(key) >>> 0` (unsigned), which
 * differs whenever the hash is negative, i.e. for about half of all keys. Its
 * `compatibilityPartitioner` matches, but hashes through BigInt arithmetic; this one uses
 * 32-bit integer multiplication.
 */
import type { MessageToProduce, Partitioner } from "@platformatic/kafka";

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/** Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), as a signed 32-bit int. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = SEED ^ length;
  const whole = length & ~3;
  for (let i = 0; i < whole; i += 4) {
    let k =
      (data[i] ?? 0) |
      ((data[i + 1] ?? 0) << 8) |
      ((data[i + 2] ?? 0) << 16) |
      ((data[i + 3] ?? 0) << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }
  const rest = length & 3;
  if (rest > 0) {
    if (rest === 3) h ^= (data[whole + 2] ?? 0) << 16;
    if (rest >= 2) h ^= (data[whole + 1] ?? 0) << 8;
    h ^= data[whole] ?? 0;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition of `key` among `partitions`, as the Java client computes it. */
export function partitionForKey(key: Uint8Array, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions;
}

/**
 * A producer `partitioner`: keyed records by murmur2 (the producer takes the result modulo the
 * topic's partition count), records without a key round-robin per topic.
 */
export function javaCompatiblePartitioner<K, V, HK, HV>(): Partitioner<K, V, HK, HV> {
  const next = new Map<string, number>();
  return (message: MessageToProduce<K, V, HK, HV>, key: Buffer | undefined) => {
    if (key !== undefined) return murmur2(key) & 0x7fffffff;
    const turn = next.get(message.topic) ?? 0;
    next.set(message.topic, (turn + 1) & 0x7fffffff);
    return turn;
  };
}

/**
 * Produce requests whose record batches are each written into one buffer.
 *
 * @platformatic/kafka 2.12 builds a record from a dozen small buffers (one per varint, key,
 * value, header name and value) and copies the list of them, level by level, into the batch,
 * the request and the connection's frame: on the worker's drain that was a fifth of its thread
 * and much of its garbage. Here each partition's batch is measured, then written in place, so
 * the request carries one buffer per partition. The wire format is Kafka's record batch v2
 * (magic 2), uncompressed; a compressed send keeps the library's own encoding.
 */
import {
  crc32c,
  createAPI,
  IS_TRANSACTIONAL,
  produceV11,
  Writer,
  type CreateRecordsBatchOptions,
  type MessageRecord,
} from "@platformatic/kafka";

/** What a produced record may carry before it is written (the producer's serializers ran). */
type Bytes = Buffer | string | null | undefined;

interface BatchRecord {
  key?: Bytes;
  value?: Bytes;
  headers?: Map<Bytes, Bytes>;
  timestamp?: bigint | number;
}

/** Batch header: base offset (8), batch length (4), leader epoch (4), magic (1), crc (4). */
const CRC_END = 21;
/** Attributes (2) … record count (4): what the CRC covers before the records. */
const HEADER_BYTES = CRC_END + 2 + 4 + 8 + 8 + 8 + 2 + 4 + 4;

function bytesOf(data: Bytes): Buffer | null {
  if (data === null || data === undefined) return null;
  return typeof data === "string" ? Buffer.from(data) : data;
}

function zigzag(n: number): number {
  // Numbers, not 32-bit ints: a timestamp delta can exceed 2^31.
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

function varintSize(n: number): number {
  let z = zigzag(n);
  let size = 1;
  while (z >= 0x80) {
    z = Math.floor(z / 128);
    size++;
  }
  return size;
}

function writeVarint(buffer: Buffer, at: number, n: number): number {
  let z = zigzag(n);
  while (z >= 0x80) {
    buffer[at++] = (z % 128) | 0x80;
    z = Math.floor(z / 128);
  }
  buffer[at++] = z;
  return at;
}

function bytesSize(data: Buffer | null): number {
  return data === null ? 1 : varintSize(data.length) + data.length;
}

function writeBytes(buffer: Buffer, at: number, data: Buffer | null): number {
  if (data === null) return writeVarint(buffer, at, -1);
  at = writeVarint(buffer, at, data.length);
  data.copy(buffer, at);
  return at + data.length;
}

interface Encoded {
  timestampDelta: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: [Buffer | null, Buffer | null][];
  /** The record's bytes after its length prefix. */
  bodySize: number;
}

/** One partition's messages as a record batch v2, in one buffer. */
export function encodeRecordBatch(
  messages: readonly BatchRecord[],
  options: Partial<CreateRecordsBatchOptions> & { topic: string; partition: number },
): Buffer {
  const now = Date.now();
  const timestamps = messages.map((m) => Number(m.timestamp ?? now));
  const first = timestamps[0] ?? now;
  let max = first;
  let size = HEADER_BYTES;
  const records = messages.map((m, i): Encoded => {
    const timestamp = timestamps[i] as number;
    if (timestamp > max) max = timestamp;
    const key = bytesOf(m.key);
    const value = bytesOf(m.value);
    const headers: Encoded["headers"] = [];
    let bodySize =
      1 + varintSize(timestamp - first) + varintSize(i) + bytesSize(key) + bytesSize(value);
    bodySize += varintSize(m.headers?.size ?? 0);
    for (const [name, data] of m.headers ?? []) {
      const header: [Buffer | null, Buffer | null] = [bytesOf(name), bytesOf(data)];
      headers.push(header);
      bodySize += bytesSize(header[0]) + bytesSize(header[1]);
    }
    size += varintSize(bodySize) + bodySize;
    return { timestampDelta: timestamp - first, key, value, headers, bodySize };
  });

  const buffer = Buffer.allocUnsafe(size);
  buffer.writeBigInt64BE(0n, 0); // base offset: the broker assigns
  buffer.writeInt32BE(size - 12, 8);
  buffer.writeInt32BE(options.partitionLeaderEpoch ?? 0, 12);
  buffer.writeInt8(2, 16); // magic
  let at = CRC_END;
  at = buffer.writeInt16BE(options.transactionalId ? IS_TRANSACTIONAL : 0, at);
  at = buffer.writeInt32BE(messages.length - 1, at);
  at = buffer.writeBigInt64BE(BigInt(first), at);
  at = buffer.writeBigInt64BE(BigInt(max), at);
  at = buffer.writeBigInt64BE(options.producerId ?? -1n, at);
  at = buffer.writeInt16BE(options.producerEpoch ?? 0, at);
  const firstSequence =
    options.sequences?.getWithDefault(`${options.topic}:${options.partition}`, 0) ?? 0;
  at = buffer.writeInt32BE(firstSequence, at);
  at = buffer.writeInt32BE(messages.length, at);
  records.forEach((r, i) => {
    at = writeVarint(buffer, at, r.bodySize);
    buffer[at++] = 0; // attributes
    at = writeVarint(buffer, at, r.timestampDelta);
    at = writeVarint(buffer, at, i);
    at = writeBytes(buffer, at, r.key);
    at = writeBytes(buffer, at, r.value);
    at = writeVarint(buffer, at, r.headers.length);
    for (const [name, data] of r.headers) {
      at = writeBytes(buffer, at, name);
      at = writeBytes(buffer, at, data);
    }
  });
  buffer.writeUInt32BE(crc32c(buffer.subarray(CRC_END)), 17);
  return buffer;
}

function groupBy<T, K>(items: readonly T[], keyOf: (item: T) => K): Map<K, T[]> {
  const groups = new Map<K, T[]>();
  for (const item of items) {
    const key = keyOf(item);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [item]);
    else group.push(item);
  }
  return groups;
}

type ProduceOptions = Partial<CreateRecordsBatchOptions>;

/** Produce v11's request (the library's layout) with each batch written by encodeRecordBatch. */
export function createProduceRequest(
  acks: number,
  timeout: number,
  messages: MessageRecord[],
  options: ProduceOptions = {},
): Writer | Promise<Writer> {
  if (options.compression !== undefined && options.compression !== "none") {
    return options.compression === "gzip"
      ? produceV11.createRequestAsync(acks, timeout, messages, options)
      : produceV11.createRequest(acks, timeout, messages, options);
  }
  const writer = Writer.create()
    .appendString(options.transactionalId ?? null)
    .appendInt16(acks)
    .appendInt32(timeout)
    .appendArray([...groupBy(messages, (m) => m.topic)], (w, [topic, ofTopic]) => {
      w.appendString(topic).appendArray(
        // In partition order, as the library sends them.
        [...groupBy(ofTopic, (m) => m.partition ?? 0)].sort(([a], [b]) => a - b),
        (w, [partition, ofPartition]) => {
          const batch = encodeRecordBatch(ofPartition, { ...options, topic, partition });
          w.appendInt32(partition)
            .appendUnsignedVarInt(batch.length + 1)
            .append(batch);
        },
      );
    })
    .appendTaggedFields();
  if (acks === 0) writer.context.noResponse = true;
  return writer;
}

/** Produce v11 with one buffer per record batch; responses parsed by the library. */
export const flatProduceV11 = createAPI<
  Parameters<typeof produceV11.createRequest>,
  produceV11.ProduceResponse
>(0, 11, createProduceRequest, produceV11.parseResponse);

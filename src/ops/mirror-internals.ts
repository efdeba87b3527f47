/**
 * MirrorMaker 2's own records, as Kafka 3.9 writes them (connect/mirror-client's
 * Checkpoint.java): Structs of Kafka's protocol types, big-endian, STRING being an int16 byte
 * length then UTF-8.
 *
 * A checkpoint, on the target cluster's `<source alias>.checkpoints.internal` (the name
 * DefaultReplicationPolicy.checkpointsTopic gives; IdentityReplicationPolicy keeps it), says
 * that a consumer group committed `upstreamOffset` on the source and that it translates to
 * `downstreamOffset` on the target. key: group STRING, topic STRING, partition INT32; value:
 * a header (version INT16, 0), then upstreamOffset INT64, offset INT64, metadata STRING. The
 * record's timestamp is when MirrorCheckpointTask sampled the group. A checkpoint is emitted
 * only when the translated offset moves, so a quiet group's newest one grows old.
 *
 * Which topics MirrorMaker mirrors is its configuration's; `isMirroredTopic` is the local
 * stack's (src/stack/components/mirror-maker.ts: topics.exclude, and MirrorMaker's own topics).
 */

/** The DR side's alias for the primary cluster in the stack's MirrorMaker configuration. */
export const SOURCE_ALIAS = "primary";

/** Where MirrorMaker writes the checkpoints of groups on `sourceAlias` (on the target). */
export function checkpointsTopic(sourceAlias = SOURCE_ALIAS): string {
  return `${sourceAlias}.checkpoints.internal`;
}

export interface Checkpoint {
  group: string;
  topic: string;
  partition: number;
  /** The group's committed offset on the source cluster. */
  upstreamOffset: bigint;
  /** The same position on the target cluster. */
  downstreamOffset: bigint;
  metadata: string;
}

const CHECKPOINT_VERSION = 0;

/** Reads Kafka protocol types off a buffer, saying what was cut short. */
class StructReader {
  private at = 0;

  constructor(
    private readonly bytes: Buffer,
    private readonly what: string,
  ) {}

  private take(size: number, field: string): number {
    if (this.at + size > this.bytes.length) {
      throw new Error(
        `${this.what} ends at byte ${this.bytes.length}, in its ${field} (needs ${this.at + size})`,
      );
    }
    const start = this.at;
    this.at += size;
    return start;
  }

  int16(field: string): number {
    return this.bytes.readInt16BE(this.take(2, field));
  }

  int32(field: string): number {
    return this.bytes.readInt32BE(this.take(4, field));
  }

  int64(field: string): bigint {
    return this.bytes.readBigInt64BE(this.take(8, field));
  }

  string(field: string): string {
    const length = this.int16(field);
    if (length < 0) throw new Error(`${this.what}'s ${field} has a negative length (${length})`);
    const start = this.take(length, field);
    return this.bytes.toString("utf8", start, start + length);
  }
}

/** A checkpoint record's key and value; throws an Error saying what does not fit. */
export function decodeCheckpoint(key: Buffer, value: Buffer): Checkpoint {
  const k = new StructReader(key, "the checkpoint's key");
  const group = k.string("group");
  const topic = k.string("topic");
  const partition = k.int32("partition");
  const v = new StructReader(value, "the checkpoint's value");
  const version = v.int16("version");
  if (version !== CHECKPOINT_VERSION) {
    throw new Error(
      `a checkpoint of version ${version}: this reader knows version ${CHECKPOINT_VERSION} (Kafka 3.9's)`,
    );
  }
  const upstreamOffset = v.int64("upstreamOffset");
  const downstreamOffset = v.int64("offset");
  const metadata = v.string("metadata");
  return { group, topic, partition, upstreamOffset, downstreamOffset, metadata };
}

/** The local stack's `topics.exclude`, and MirrorMaker's own topics, which it does not mirror. */
const NOT_MIRRORED = [
  /^__/,
  /[-.]internal$/,
  /\.replica$/,
  /^bench[-_]/,
  /^mm2-/,
  /(^|\.)heartbeats$/,
];

/** Whether MirrorMaker (as the stack configures it) copies `topic` to DR. */
export function isMirroredTopic(topic: string): boolean {
  return !NOT_MIRRORED.some((pattern) => pattern.test(topic));
}

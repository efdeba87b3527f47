/**
 * Topic generations: how an application moves to another partition count with its state.
 * Kafka can only add partitions to a topic, which moves keys silently, so a repartition makes a
 * new generation of the application's topics instead — every co-partitioned topic (start
 * topics, saga-events, commands, replies, control, dead letters, changelogs) under its name with
 * the suffix `.g<n>` — copies what must carry over into it by key, and moves every consumer and
 * producer across at one cut-over (ops/repartition.ts). Generation 0 is the names without a
 * suffix. The application's layout record, in the compacted topic `<app>.layout`, says which
 * generation is live and whether a cut-over is under way: workers and participants read it
 * at start and follow it. The record also names the region (cluster) the application runs in:
 * a disaster-recovery failover names the other one (ops/dr-failover.ts).
 */

/** The region an application runs in when its layout names none: the one it was deployed in. */
export const PRIMARY_REGION = "primary";
/** The disaster-recovery region of the local stack (its MirrorMaker 2 alias). */
export const DR_REGION = "dr";

/** A topic's name in a generation. */
export function generationTopic(topic: string, generation: number): string {
  return generation === 0 ? topic : `${topic}.g${generation}`;
}

/** The id a generation's consumer groups, changelogs and transactional ids are named by. */
export function generationId(applicationId: string, generation: number): string {
  return generation === 0 ? applicationId : `${applicationId}.g${generation}`;
}

/** The topic of the application's layout record (one partition, compacted). */
export function layoutTopic(applicationId: string): string {
  return `${applicationId}.layout`;
}

export enum LayoutState {
  /** The generation is live. */
  Active = "active",
  /**
   * A cut-over to `next` is under way: workers and participants of `generation` stop (leave
   * their groups) and wait for the layout to name the next generation live.
   */
  Frozen = "frozen",
}

export interface AppLayout {
  generation: number;
  partitions: number;
  state: LayoutState;
  /** The generation being moved to, while frozen. */
  next?: { generation: number; partitions: number } | undefined;
  /** When this record was written (ms). */
  at: number;
  /**
   * The region whose workers and participants run the application (default PRIMARY_REGION);
   * those of any other region stand by.
   */
  region?: string | undefined;
}

/** The region `layout` names (PRIMARY_REGION when it names none). */
export function layoutRegion(layout: AppLayout): string {
  return layout.region ?? PRIMARY_REGION;
}

/** The region a worker or participant runs in unless told: `SAGASTREAM_REGION`, or the primary. */
export function defaultRegion(): string {
  return process.env["SAGASTREAM_REGION"] || PRIMARY_REGION;
}

/** Why workers and participants of `region` do not run `layout` now (undefined: they do). */
export function standingBy(layout: AppLayout, region: string): string | undefined {
  if (layout.state === LayoutState.Frozen) {
    return `frozen for the move to ${String(layout.next?.partitions)} partitions`;
  }
  const active = layoutRegion(layout);
  return active === region
    ? undefined
    : `the application runs in region "${active}", not "${region}"`;
}

/** Whether the workers and participants of `region` run `layout`'s generation now. */
export function runsIn(layout: AppLayout, region: string): boolean {
  return standingBy(layout, region) === undefined;
}

/** The layout of an application that was never repartitioned. */
export function initialLayout(partitions: number): AppLayout {
  return { generation: 0, partitions, state: LayoutState.Active, at: 0 };
}

export const LAYOUT_KEY = "layout";

export function encodeLayout(layout: AppLayout): Buffer {
  return Buffer.from(JSON.stringify(layout), "utf8");
}

export function decodeLayout(bytes: Buffer): AppLayout {
  const value = JSON.parse(bytes.toString("utf8")) as Partial<AppLayout>;
  if (
    typeof value.generation !== "number" ||
    typeof value.partitions !== "number" ||
    (value.state !== LayoutState.Active && value.state !== LayoutState.Frozen)
  ) {
    throw new Error(`not a layout record: ${bytes.toString("utf8").slice(0, 200)}`);
  }
  return {
    generation: value.generation,
    partitions: value.partitions,
    state: value.state,
    next: value.next,
    at: value.at ?? 0,
    region: typeof value.region === "string" ? value.region : undefined,
  };
}

/**
 * How far this member's local copy of each task reaches (the sum of its stores' changelog
 * offsets), as it tells the assigner when it joins (assigner.ts): a task running here reaches
 * where it stands, a standby copy where it has followed its changelogs to, and any other task
 * directory on disk where its checkpoint says: a task this worker ran before it restarted, or
 * before the group put it out. Kafka Streams likewise reports the offset sums of every task
 * directory it finds, so that a whole group restarted gets each task back where it restores
 * least.
 */
import { randomUUID } from "node:crypto";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { TaskDirectory } from "../state/index.js";

/** A task directory's name: `<sub-topology>_<partition>`. */
const TASK_ID = /^(\d+)_(\d+)$/;

/** Per task id with a checkpoint under `appDir` (a worker's `<stateDir>/<applicationId>`). */
export async function checkpointedReach(appDir: string): Promise<Map<string, bigint>> {
  const names = await readdir(appDir).catch(() => [] as string[]);
  const reach = new Map<string, bigint>();
  for (const name of names.filter((n) => TASK_ID.test(n))) {
    const checkpoint = await new TaskDirectory(path.join(appDir, name)).readCheckpoint();
    if (checkpoint === undefined) continue;
    let sum = 0n;
    for (const offset of checkpoint.values()) sum += offset;
    reach.set(name, sum);
  }
  return reach;
}

/**
 * Per partition, the sum over its tasks of how far each reaches; for a task found in several
 * `layers` (task id → reach), the last says (running over standby over checkpoint).
 */
export function reachByPartition(
  ...layers: readonly ReadonlyMap<string, bigint>[]
): Record<string, string> {
  const byTask = new Map<string, bigint>();
  for (const layer of layers) for (const [task, reach] of layer) byTask.set(task, reach);
  const byPartition = new Map<string, bigint>();
  for (const [task, reach] of byTask) {
    const partition = TASK_ID.exec(task)?.[2];
    if (partition === undefined) continue;
    byPartition.set(partition, (byPartition.get(partition) ?? 0n) + reach);
  }
  return Object.fromEntries([...byPartition].map(([p, sum]) => [p, sum.toString()]));
}

/**
 * This worker's id, kept in `appDir`: its transactional id is derived from it, so that a worker
 * restarted on the same directory fences its previous incarnation's open transaction at once
 * instead of waiting for the transaction timeout.
 */
export async function workerId(appDir: string): Promise<string> {
  const file = path.join(appDir, "process.id");
  const existing = await readFile(file, "utf8").catch(() => "");
  if (existing.trim() !== "") return existing.trim();
  const id = randomUUID();
  await mkdir(appDir, { recursive: true });
  await writeFile(file, id);
  return id;
}

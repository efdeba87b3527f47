/**
 * Reads a V8 CPU profile (`node --cpu-prof`) and says where the time went: self time by
 * component (a package, a sagastream folder, GC, idle) and the busiest functions.
 */
import { readFile } from "node:fs/promises";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  totalMs: number;
  /** Self time per component, largest first. */
  components: { name: string; ms: number }[];
  /** Self time per function, largest first. */
  functions: { name: string; component: string; ms: number }[];
}

/** The component a function belongs to, from its script's URL. */
export function componentOf(frame: ProfileNode["callFrame"]): string {
  const { url, functionName } = frame;
  if (url === "") {
    if (/^\((idle|garbage collector|program)\)$/.test(functionName)) return functionName;
    return "(native)";
  }
  const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg?.[1] !== undefined) return pkg[1];
  if (url.startsWith("node:")) return "node";
  const own = /\/dist\/(?:src\/)?([^/]+)\//.exec(url);
  if (own?.[1] !== undefined) return `sagastream/${own[1]}`;
  return "other";
}

export async function summarizeProfile(file: string): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, "utf8")) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const components = new Map<string, number>();
  const functions = new Map<string, { name: string; component: string; ms: number }>();
  let totalMs = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    const ms = (profile.timeDeltas[i] ?? 0) / 1000;
    if (node === undefined) return;
    totalMs += ms;
    const component = componentOf(node.callFrame);
    components.set(component, (components.get(component) ?? 0) + ms);
    const { functionName, url, lineNumber } = node.callFrame;
    const name = `${functionName || "(anonymous)"} ${url.split("/").slice(-1)[0] ?? ""}:${lineNumber + 1}`;
    const entry = functions.get(name) ?? { name, component, ms: 0 };
    entry.ms += ms;
    functions.set(name, entry);
  });
  return {
    totalMs,
    components: [...components].map(([name, ms]) => ({ name, ms })).sort((a, b) => b.ms - a.ms),
    functions: [...functions.values()].sort((a, b) => b.ms - a.ms),
  };
}

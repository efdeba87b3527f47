/**
 * Reads a V8 CPU profile (`node --cpu-prof`) and says where the time went: self time by
 * component (a package, a sagastream folder, GC, idle) and the busiest functions.
 */
import { readFile } from "node:fs/promises";
import { formatTable } from "../util/index.js";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
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
  /**
   * Time by the innermost sagastream function on the stack (what it ran, libraries included),
   * largest first; time with no sagastream function on the stack goes to its component.
   */
  owners: { name: string; ms: number }[];
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
  const parents = new Map<number, number>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parents.set(child, node.id);
  const owners = new Map<string, number>();
  const ownerOf = (node: ProfileNode): string => {
    for (let at: ProfileNode | undefined = node; at !== undefined;) {
      if (componentOf(at.callFrame).startsWith("sagastream/")) return frameName(at.callFrame);
      const parent = parents.get(at.id);
      at = parent === undefined ? undefined : byId.get(parent);
    }
    return `${componentOf(node.callFrame)} (not called by sagastream)`;
  };
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
    const owner = ownerOf(node);
    owners.set(owner, (owners.get(owner) ?? 0) + ms);
    const name = frameName(node.callFrame);
    const entry = functions.get(name) ?? { name, component, ms: 0 };
    entry.ms += ms;
    functions.set(name, entry);
  });
  return {
    totalMs,
    components: [...components].map(([name, ms]) => ({ name, ms })).sort((a, b) => b.ms - a.ms),
    functions: [...functions.values()].sort((a, b) => b.ms - a.ms),
    owners: [...owners].map(([name, ms]) => ({ name, ms })).sort((a, b) => b.ms - a.ms),
  };
}

function frameName({ functionName, url, lineNumber }: ProfileNode["callFrame"]): string {
  return `${functionName || "(anonymous)"} ${url.split("/").slice(-1)[0] ?? ""}:${lineNumber + 1}`;
}

const pct = (part: number, whole: number) => `${((100 * part) / Math.max(whole, 1)).toFixed(1)}%`;

/** Where one mode's worker spent its time: components, then the busiest functions. */
export function profileReport(mode: string, profile: ProfileSummary): string {
  const components = profile.components
    .slice(0, 12)
    .map((c) => [c.name, c.ms.toFixed(0), pct(c.ms, profile.totalMs)]);
  const functions = profile.functions
    .filter((f) => !f.component.startsWith("("))
    .slice(0, 15)
    .map((f) => [f.name, f.component, pct(f.ms, profile.totalMs)]);
  const owners = profile.owners
    .slice(0, 15)
    .map((o) => [o.name, o.ms.toFixed(0), pct(o.ms, profile.totalMs)]);
  return (
    `\n${mode} worker profile (${(profile.totalMs / 1000).toFixed(1)} s sampled; self time):\n` +
    `${formatTable(["component", "ms", "share"], components)}\n\n` +
    `${formatTable(["function", "component", "share"], functions)}\n\n` +
    `by the innermost sagastream function on the stack (libraries it called included):\n` +
    `${formatTable(["sagastream function", "ms", "share"], owners)}\n`
  );
}

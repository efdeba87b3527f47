/**
 * The share of CPU time the hypervisor gave to other guests (steal, from /proc/stat) over a
 * span: on a shared 2-core VM it reached 20% in places and moved the benches' figures by
 * a third from run to run, so the benches print it next to what they measured.
 */
import { readFileSync } from "node:fs";

interface CpuTimes {
  total: number;
  steal: number;
}

/** The machine's CPU times from /proc/stat's first line ("cpu  user nice system idle iowait irq softirq steal …"). */
export function parseCpuTimes(stat: string): CpuTimes | undefined {
  const line = stat.split("\n", 1)[0] ?? "";
  if (!line.startsWith("cpu ")) return undefined;
  const fields = line.trim().split(/\s+/).slice(1, 9).map(Number);
  if (fields.length < 8 || fields.some((n) => !Number.isFinite(n))) return undefined;
  return { total: fields.reduce((a, b) => a + b, 0), steal: fields[7] ?? 0 };
}

function cpuTimes(): CpuTimes | undefined {
  try {
    return parseCpuTimes(readFileSync("/proc/stat", "utf8"));
  } catch {
    return undefined; // not Linux
  }
}

/** Starts a span; the returned function gives its steal share, in %, or undefined. */
export function measureSteal(): () => number | undefined {
  const from = cpuTimes();
  return () => {
    const to = cpuTimes();
    if (from === undefined || to === undefined || to.total <= from.total) return undefined;
    return (100 * (to.steal - from.steal)) / (to.total - from.total);
  };
}

/** ", CPU steal 12%", or nothing where it cannot be read. */
export function stealNote(percent: number | undefined): string {
  return percent === undefined ? "" : `, CPU steal ${percent.toFixed(0)}%`;
}

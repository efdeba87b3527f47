/**
 * How fast the host runs a fixed piece of work, measured as the CPU time it takes on a thread
 * of its own. On the 2-core VM these benches run on, a fixed second of CPU work took 0.85–1.75 s
 * from one minute to the next with the stack idle and steal at 0%: a host whose cores are
 * shared (a busy sibling hyperthread, a lower clock) runs the guest slower without taking its
 * CPU away, so /proc/stat shows no steal, and every figure of a bench moved with it. CPU time,
 * not wall time: the bench's own processes waiting for a core do not count, though their
 * sharing of the caches does a little (the probe reads some 20% more under a bench's load).
 */
import { Worker } from "node:worker_threads";
import { measureSteal, stealNote } from "./cpu-steal.js";

/**
 * The probe's thread, inline so that it runs the same from the sources and from the build:
 * every `intervalMs` it does the same work (small JSON documents and a sort, as the engine's own
 * work is; about 3 ms) and posts the CPU ms it took. The thread's CPU time comes from
 * /proc/thread-self/schedstat (see parseSchedstat), wall-clock time where there is none.
 */
const PROBE_THREAD = `
const { parentPort, workerData } = require("node:worker_threads");
const { readFileSync } = require("node:fs");
function cpuMs() {
  try {
    const ns = Number(readFileSync("/proc/thread-self/schedstat", "utf8").split(" ", 1)[0]);
    if (Number.isFinite(ns) && ns > 0) return ns / 1e6;
  } catch {}
  return performance.now();
}
function work() {
  const docs = [];
  let sum = 0;
  for (let i = 0; i < 2000; i++) {
    const text = JSON.stringify({ id: "saga-" + i, step: i % 3, data: { n: i, tags: ["a", "b"] } });
    sum += JSON.parse(text).step;
    docs.push(text);
  }
  docs.sort();
  return sum + docs.length;
}
setInterval(() => {
  const from = cpuMs();
  work();
  parentPort.postMessage(cpuMs() - from);
}, workerData.intervalMs);
`;

/**
 * The first field of /proc/thread-self/schedstat: nanoseconds the thread ran on a CPU, as of
 * the scheduler's last tick (a few ms): one piece of work reads 0 or a tick, the mean of many
 * is right.
 */
export function parseSchedstat(schedstat: string): number | undefined {
  const ns = Number(schedstat.split(" ", 1)[0]);
  return Number.isFinite(ns) && ns > 0 ? ns / 1e6 : undefined;
}

/** The probe's first samples run before its work is compiled: left out. */
const WARM_UP_SAMPLES = 4;

export class HostSpeedProbe {
  private readonly samples: number[] = [];
  private seen = 0;

  private constructor(private readonly thread: Worker) {
    thread.on("message", (ms: number) => {
      if (++this.seen > WARM_UP_SAMPLES) this.samples.push(ms);
    });
    thread.unref();
  }

  /** Starts the probe's thread: one piece of work every `intervalMs` (about 1% of a core). */
  static start(intervalMs = 250): HostSpeedProbe {
    return new HostSpeedProbe(new Worker(PROBE_THREAD, { eval: true, workerData: { intervalMs } }));
  }

  /** Samples taken so far (for a span: `span`). */
  get count(): number {
    return this.samples.length;
  }

  /** Starts a span; the returned function gives the work's mean CPU ms over it, if sampled. */
  span(): () => number | undefined {
    const from = this.samples.length;
    return () => mean(this.samples.slice(from));
  }

  async stop(): Promise<void> {
    await this.thread.terminate();
  }
}

export function mean(samples: readonly number[]): number | undefined {
  if (samples.length === 0) return undefined;
  return samples.reduce((sum, ms) => sum + ms, 0) / samples.length;
}

/** ", host probe 2.4 ms", or nothing where it was not sampled. */
export function hostNote(ms: number | undefined): string {
  return ms === undefined ? "" : `, host probe ${ms.toFixed(1)} ms`;
}

/** What the machine did during a span: the hypervisor's steal (%) and the host probe (CPU ms). */
export interface MachineReading {
  steal: number | undefined;
  host: number | undefined;
}

/** Starts a span of both readings; the returned function ends it. */
export function measureMachine(probe: HostSpeedProbe): () => MachineReading {
  const steal = measureSteal();
  const host = probe.span();
  return () => ({ steal: steal(), host: host() });
}

/** ", CPU steal 0%, host probe 2.4 ms", each part only where it was read. */
export function machineNote(reading: MachineReading): string {
  return stealNote(reading.steal) + hostNote(reading.host);
}

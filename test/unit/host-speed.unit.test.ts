import { describe, expect, it } from "vitest";
import { HostSpeedProbe, hostNote, mean, parseSchedstat } from "../../src/bench/host-speed.js";
import { waitUntil } from "../../src/util/index.js";

describe("host speed probe", () => {
  it("reads a thread's CPU time from /proc/thread-self/schedstat, in ms", () => {
    expect(parseSchedstat("2500000000 120000 31\n")).toBe(2500);
    expect(parseSchedstat("0 0 0\n")).toBeUndefined(); // a thread that never ran: not a reading
    expect(parseSchedstat("")).toBeUndefined();
  });

  it("averages a span's samples, and notes nothing where there were none", () => {
    expect(mean([0, 4, 4, 0])).toBe(2); // tick-granular readings: the mean is right
    expect(mean([])).toBeUndefined();
    expect(hostNote(undefined)).toBe("");
    expect(hostNote(3.14)).toBe(", host probe 3.1 ms");
  });

  it("samples the work on its own thread for a span", async () => {
    const probe = HostSpeedProbe.start(10);
    try {
      const span = probe.span();
      await waitUntil(() => (probe.count >= 20 ? true : undefined), {
        timeoutMs: 10_000,
        intervalMs: 20,
        description: "20 samples of the probe",
      });
      expect(span()).toBeGreaterThan(0);
    } finally {
      await probe.stop();
    }
  });
});

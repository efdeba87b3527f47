/**
 * The disaster-recovery drill (examples/order/dr-drill.ts, also `npm run bench -- dr`) on the
 * suite's stack with its DR region: order sagas run in the primary region with a worker and
 * participants standing by in DR; the primary region's brokers, registry and Connect are
 * SIGKILLed with its worker and participants; `sagastream dr failover` moves the application
 * to DR while orders keep coming. The stack is whole again afterwards.
 */
import { describe, expect, it } from "vitest";
import { cli, formatDrDrill, runDrDrill } from "../../src/bench/index.js";
import { loadConfig } from "../../src/config/index.js";
import { Stack } from "../../src/stack/index.js";

const log = (line: string) => process.stderr.write(`dr drill: ${line}\n`);

describe("region failover", () => {
  it("loses the primary region mid-run and goes on in DR: RPO under 5 s, RTO under 60 s, every saga ended once, no effect twice", async () => {
    const config = loadConfig();
    const stack = new Stack(config, log);
    const drill = await runDrDrill(
      config,
      stack,
      { rate: 20, beforeKillSeconds: 15, afterFailoverSeconds: 15 },
      log,
    );
    log(`\n${formatDrDrill(drill)}`);

    expect(drill.rpo.seconds).toBeLessThan(5);
    // what the primary worker exported: the RPO had it been lost then
    expect(drill.rpoGaugeBeforeKill).toBeLessThan(5);
    expect(drill.rpo.partitions.filter((p) => !p.prefix)).toEqual([]);
    expect(drill.rtoMs).toBeLessThan(60_000);
    expect(drill.sagas.before).toBeGreaterThan(100);
    expect(drill.sagas.notEnded).toEqual([]);
    expect(drill.sagas.endedTwice).toEqual([]);
    expect(drill.sagas.endedOnce).toBe(drill.sagas.before);
    // orders placed after the kill are published from the copied slots and run in DR
    expect(drill.placedAfterKill).toBeGreaterThan(100);
    expect(drill.sagas.laterNotEnded).toEqual([]);
    expect(drill.duplicateEffects).toEqual([]);
    expect(drill.api.checked).toBe(drill.placed);
    expect(drill.api.differ).toEqual([]);

    // asked before the kill, the dry run said what it would do, and did none of it
    expect(drill.dryRun).toContain(`would fail ${drill.app} over from region primary to dr`);
    expect(drill.dryRun).toMatch(/would copy slot \S+_orders_slot to \S+_orders_slot_dr/);
    expect(drill.dryRun).toContain(`would write ${drill.app}.layout in dr`);
    // once over, a rerun changes nothing
    const rerun = await cli(config, ["dr", "failover", "--app", drill.app]);
    expect(rerun).toContain(`${drill.app} runs in region dr already: nothing to do`);
  }, 900_000);
});

/**
 * The disaster-recovery drill (examples/order/dr-drill.ts, also `npm run bench -- dr`) on the
 * suite's stack with its DR region: order sagas run in the primary region with a worker and
 * participants standing by in DR; the primary region's brokers, registry and Connect are
 * SIGKILLed with its worker and participants; `sagastream dr failover` moves the application
 * to DR while orders keep coming; then the primary comes back and `sagastream dr failback`
 * moves the application home, orders coming all the while. The stack is whole again afterwards.
 */
import { describe, expect, it } from "vitest";
import { cli, formatDrDrill, runDrDrill } from "../../src/bench/index.js";
import { loadConfig } from "../../src/config/index.js";
import { Stack } from "../../src/stack/index.js";

const log = (line: string) => process.stderr.write(`dr drill: ${line}\n`);

describe("region failover and failback", () => {
  it("loses the primary region mid-run and goes on in DR (RPO under 5 s, RTO under 60 s), then fails back with nothing DR accepted lost; every saga ended once, no effect twice", async () => {
    const config = loadConfig();
    const stack = new Stack(config, log);
    const drill = await runDrDrill(
      config,
      stack,
      {
        rate: 20,
        beforeKillSeconds: 15,
        afterFailoverSeconds: 15,
        failback: { afterSeconds: 10 },
        crashes: true,
      },
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
    // SIGKILLed once it had set the offsets, the failover was run again and finished
    expect(drill.failoverSaid).toMatch(/\[SIGKILLed after "stage done: offsets set/);
    expect(drill.failoverSaid).toContain(
      `resuming the failover of ${drill.app} to region dr at stage "offsets set"`,
    );
    expect(drill.failoverRerun).toContain(`${drill.app} runs in region dr already: nothing to do`);

    // the failback: everything DR accepted is in the primary's new generation
    const back = drill.failback;
    if (back === undefined) throw new Error("the drill did not fail back");
    expect(back.drEnded).toBeGreaterThan(drill.sagas.before);
    expect(back.lost).toEqual([]);
    expect(back.placedDuring).toBeGreaterThan(100);
    expect(back.sagas.placed).toBe(drill.placed + back.placedDuring);
    expect(back.sagas.notEnded).toEqual([]);
    expect(back.sagas.endedTwice).toEqual([]);
    expect(back.sagas.endedOnce).toBe(back.sagas.placed);
    expect(back.duplicateEffects).toEqual([]);
    expect(back.api.checked).toBe(back.sagas.placed);
    expect(back.api.differ).toEqual([]);
    expect(back.heldStillMs).toBeLessThan(30_000);
    expect(back.freezeToCompletionMs).toBeLessThan(60_000);
    expect(back.dryRun).toContain(`would fail ${drill.app} back from region dr to primary`);
    expect(back.dryRun).toMatch(/would stop connector \S+_orders in dr and run it in primary/);
    // SIGKILLed once DR was frozen, the failback was run again and finished the move
    expect(back.said).toMatch(/\[SIGKILLed after "frozen: /);
    expect(back.said).toContain(
      `resuming the failback of ${drill.app} to region primary at stage "fenced"`,
    );
    expect(back.said).toMatch(
      /resuming the move to 6 partitions at stage "(history copied|frozen)"/,
    );
    const again = await cli(config, ["dr", "failback", "--app", drill.app]);
    expect(again).toContain("nothing to do");
  }, 900_000);
});

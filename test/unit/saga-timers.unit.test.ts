/**
 * A saga's timers are a function of its state (nothing stores them): each step whose command
 * is out times out at its deadline, each scheduled retry comes due. Every timer derived is
 * one `decide` acts on (it changes the state and is gone after), so a timer never fires twice.
 */
import { describe, expect, it } from "vitest";
import {
  decide,
  defineSaga,
  parallel,
  SagaScenario,
  step,
  timersOf,
  type SagaState,
} from "../../src/saga/index.js";

type Data = { id: string };
const cmd = (type: string) => (d: Data) => ({ type, payload: { id: d.id } });

const saga = defineSaga<Data>({
  name: "trip",
  version: 1,
  participants: ["hotel", "car", "flight", "mail"],
  stages: [
    parallel("book", [
      step({
        name: "hotel",
        participant: "hotel",
        command: cmd("Book"),
        compensation: cmd("Cancel"),
        timeoutMs: 1_000,
        retry: { maxAttempts: 3, jitter: 0 },
      }),
      step({
        name: "car",
        participant: "car",
        command: cmd("Rent"),
        compensation: cmd("Return"),
        timeoutMs: 2_000,
        retry: { maxAttempts: 2, jitter: 0 },
      }),
    ]),
    step({ name: "flight", participant: "flight", command: cmd("Fly"), pivot: true }),
    step({ name: "mail", participant: "mail", command: cmd("Mail"), retry: { maxAttempts: 1 } }),
  ],
});

const start = () => new SagaScenario(saga, "t-1").at(10_000).start({ id: "t-1" });
const timers = (s: SagaScenario<Data>) =>
  timersOf(s.state as SagaState).map((t) => `${t.type} ${t.step}/${t.action}#${t.attempt}@${t.at}`);

/** Every timer derived from the state is one decide accepts. */
function expectAllAccepted(s: SagaScenario<Data>): void {
  const state = s.state as SagaState;
  for (const timer of timersOf(state)) {
    const decision = decide(saga, "t-1", state, { ...timer, at: timer.at });
    expect("rejected" in decision, `${timer.type} ${timer.step}`).toBe(false);
  }
}

describe("timers derived from a saga's state", () => {
  it("time out each step in flight, earliest first", () => {
    const s = start();
    expect(timers(s)).toEqual(["Timeout hotel/do#1@11000", "Timeout car/do#1@12000"]);
    expectAllAccepted(s);
    s.succeed("hotel");
    expect(timers(s)).toEqual(["Timeout car/do#1@12000"]);
    s.succeed("car");
    expect(timers(s)).toEqual(["Timeout flight/do#1@40000"]); // the default 30 s
  });

  it("bring a scheduled retry due with the next attempt, and none once the saga ended", () => {
    const s = start().timeout("hotel");
    expect(timers(s)).toEqual(["Timeout car/do#1@12000", "RetryDue hotel/do#2@11100"].sort(byTime));
    expectAllAccepted(s);
    s.retryDue("hotel").succeed("hotel").succeed("car").succeed("flight").succeed("mail");
    expect(s.state?.status).toBe("COMPLETED");
    expect(timers(s)).toEqual([]);
  });

  it("drop a forward retry once compensation began, and time compensations out", () => {
    const s = start().succeed("hotel").fail("car", "no cars", { retriable: true });
    expect(timers(s)).toEqual(["RetryDue car/do#2@10100"]);
    s.cancel(); // the hotel is undone; the car's retry is abandoned (it never happened)
    expect(s.state?.status).toBe("COMPENSATING");
    expect(s.state?.steps["car"]?.retryAt).toBe(10_100);
    expect(timers(s)).toEqual(["Timeout hotel/undo#1@11000"]);
    expectAllAccepted(s);
  });

  it("leave a FAILED saga without timers until an operator retries it", () => {
    const s = start().succeed("hotel").succeed("car").succeed("flight");
    s.fail("mail", "bounced", { retriable: true }); // one attempt only: past the pivot, FAILED
    expect(s.state?.status).toBe("FAILED");
    expect(timers(s)).toEqual([]);
    s.retry();
    expect(timers(s)).toEqual(["Timeout mail/do#2@40000"]);
    expectAllAccepted(s);
  });
});

function byTime(a: string, b: string): number {
  return Number(a.split("@")[1]) - Number(b.split("@")[1]);
}

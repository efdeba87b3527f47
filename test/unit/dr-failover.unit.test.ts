import { describe, expect, it } from "vitest";
import { slotIn } from "../../src/ops/cdc-slots.js";
import { changelogCorrections } from "../../src/ops/changelog-reconcile.js";
import { connectorsWriting, routeWrites } from "../../src/ops/connector-routes.js";
import { fold, sagaRecordSerde, type SagaEvent, type SagaRecord } from "../../src/saga/index.js";

const started: SagaEvent = {
  type: "SagaStarted",
  at: 1,
  sagaType: "order",
  version: 1,
  data: { orderId: "o-1" },
  fingerprint: "f",
};

function record(sagaId: string, events: SagaEvent[], correlationId = sagaId): SagaRecord {
  const state = fold(events);
  if (state === undefined) throw new Error("no state");
  return { sagaId, state, seq: events.length, correlationId, traceparent: undefined };
}

const cancelled: SagaEvent = { type: "CompensationStarted", at: 2, reason: "r", cancelled: true };

describe("the changelog reconciled with the saga-events log", () => {
  it("rewrites a saga whose changelog record is ahead of or behind its events, keeping its correlation", () => {
    const folded = new Map([
      ["ahead", record("ahead", [started])],
      ["behind", record("behind", [started, cancelled])],
      ["same", record("same", [started])],
    ]);
    const stored = new Map([
      ["ahead", sagaRecordSerde.serialize(record("ahead", [started, cancelled], "corr-a"))],
      ["behind", sagaRecordSerde.serialize(record("behind", [started], "corr-b"))],
      ["same", sagaRecordSerde.serialize(record("same", [started]))],
    ]);
    const writes = changelogCorrections(folded, new Set(), stored);
    expect(writes.map((w) => w.key).sort()).toEqual(["ahead", "behind"]);
    const ahead = writes.find((w) => w.key === "ahead")?.value;
    expect(ahead).toBeDefined();
    const rewritten = sagaRecordSerde.deserialize(ahead ?? Buffer.alloc(0));
    expect(rewritten.seq).toBe(1);
    expect(rewritten.correlationId).toBe("corr-a");
    expect(rewritten.state).toEqual(folded.get("ahead")?.state);
  });

  it("adds a saga missing from the changelog, deletes one whose start never arrived, leaves the retired and the undecodable", () => {
    const folded = new Map([
      ["missing", record("missing", [started])],
      ["retired", record("retired", [started])],
      ["garbled", record("garbled", [started])],
    ]);
    const stored = new Map<string, Buffer | null>([
      ["retired", null],
      ["orphan", sagaRecordSerde.serialize(record("orphan", [started]))],
      ["garbled", sagaRecordSerde.serialize(record("garbled", [started, cancelled]))],
    ]);
    const writes = changelogCorrections(folded, new Set(["garbled"]), stored);
    expect(writes.map((w) => [w.key, w.value === null ? "tombstone" : "record"])).toEqual([
      ["missing", "record"],
      ["orphan", "tombstone"],
    ]);
  });
});

describe("a failover's connectors", () => {
  it("read a copy of their slot named after the region, and back", () => {
    expect(slotIn("shop_orders_slot", "primary", "dr")).toBe("shop_orders_slot_dr");
    expect(slotIn("shop_orders_slot_dr", "dr", "primary")).toBe("shop_orders_slot");
    expect(slotIn("shop_orders_slot", "primary", "eu-west")).toBe("shop_orders_slot_eu_west");
  });

  it("are the ones whose outbox route writes one of the application's inputs", () => {
    expect(
      routeWrites("shop_orders.outbox.event.${routedByValue}", "shop_orders.outbox.event.order"),
    ).toBe(true);
    expect(routeWrites("shop.replies", "shop.replies")).toBe(true);
    expect(routeWrites("shop.replies", "shop.replies.g1")).toBe(false);
    const route = "transforms.outbox.route.topic.replacement";
    const found = connectorsWriting(
      new Map([
        ["orders", { [route]: "shop_orders.outbox.event.${routedByValue}" }],
        ["payments", { [route]: "shop.replies" }],
        ["other", { [route]: "elsewhere.${routedByValue}" }],
        ["plain", { "connector.class": "x" }],
      ]),
      ["shop_orders.outbox.event.order", "shop.replies", "shop.control"],
    );
    expect(found.map((c) => [c.name, c.topic])).toEqual([
      ["orders", "shop_orders.outbox.event.order"],
      ["payments", "shop.replies"],
    ]);
  });
});

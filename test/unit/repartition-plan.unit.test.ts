/**
 * The repartition plan's pure parts (issue 15): the skew of keys over the new partitions, a
 * changelog key placed by its saga id, the topic names of a generation, the estimates, and the
 * stages' text for an application.
 */
import { describe, expect, it } from "vitest";
import { partitionForKey } from "../../src/kafka/index.js";
import {
  baseTopic,
  commandsParticipant,
  CopyKind,
  estimateRepartition,
  KeyCounter,
  keySkew,
  participantGroup,
  repartitionStages,
  TopicRole,
} from "../../src/ops/index.js";
import { sagaIdOfStoreKey } from "../../src/saga/index.js";

const bytes = (s: string) => Buffer.from(s, "utf8");

/** Keys per partition as the Java client places them. */
function spread(partitions: number, keys: readonly string[]): number[] {
  const counts = Array.from({ length: partitions }, () => 0);
  for (const key of keys) {
    const p = partitionForKey(bytes(key), partitions);
    counts[p] = (counts[p] ?? 0) + 1;
  }
  return counts;
}

describe("keySkew", () => {
  it("gives min, max, mean and max/mean of the keys per partition", () => {
    expect(keySkew([2, 4, 6])).toEqual({
      perPartition: [2, 4, 6],
      min: 2,
      max: 6,
      mean: 4,
      maxOverMean: 1.5,
    });
    expect(keySkew([5, 5, 5, 5]).maxOverMean).toBe(1);
  });

  it("says 0 for max/mean when there are no keys", () => {
    expect(keySkew([0, 0, 0])).toEqual({
      perPartition: [0, 0, 0],
      min: 0,
      max: 0,
      mean: 0,
      maxOverMean: 0,
    });
  });
});

describe("a changelog key's saga id", () => {
  it("is the key up to the first NUL (a parked input), else the whole key", () => {
    expect(sagaIdOfStoreKey(bytes("order-7\u00000000000003")).toString()).toBe("order-7");
    expect(sagaIdOfStoreKey(bytes("order-7\u0000a\u0000b")).toString()).toBe("order-7");
    expect(sagaIdOfStoreKey(bytes("order-7")).toString()).toBe("order-7");
  });
});

describe("KeyCounter", () => {
  it("counts the distinct keys of a history and places each by its bytes", () => {
    const counter = new KeyCounter(4, { latestOnly: false, placeBy: (key) => key });
    const ids = Array.from({ length: 40 }, (_, i) => `saga-${i}`);
    for (const id of ids) counter.add(bytes(id), bytes("a"));
    for (const id of ids.slice(0, 10)) counter.add(bytes(id), null); // a tombstone is a record too
    counter.add(null, bytes("no key"));
    const count = counter.result();
    const expected = spread(4, ids);
    expect(count).toMatchObject({ recordsRead: 51, keys: 40, deletedKeys: 0, unkeyed: 1 });
    expect(count.skew.perPartition).toEqual(expected);
    expect(count.skew.mean).toBe(10);
  });

  it("places a changelog's keys by saga id and counts a key only while its latest value is not a tombstone", () => {
    const counter = new KeyCounter(6, { latestOnly: true, placeBy: sagaIdOfStoreKey });
    counter.add(bytes("s1"), bytes("{}"));
    counter.add(bytes("s1\u00000000000000"), bytes("{}"));
    counter.add(bytes("s1\u00000000000001"), bytes("{}"));
    counter.add(bytes("s2"), bytes("{}"));
    counter.add(bytes("s2"), null); // deleted
    counter.add(bytes("s3"), null);
    counter.add(bytes("s3"), bytes("{}")); // written again
    const count = counter.result();
    expect(count).toMatchObject({ recordsRead: 7, keys: 4, deletedKeys: 1, unkeyed: 0 });
    const expected = spread(6, ["s1", "s1", "s1", "s3"]); // s1 with its two parked inputs
    expect(count.skew.perPartition).toEqual(expected);
    expect(count.skew.max).toBe(3);
  });
});

describe("a generation's names", () => {
  it("finds the participant of a commands topic of the generation, and no other generation's", () => {
    expect(commandsParticipant("shop", 0, "shop.commands.payment")).toBe("payment");
    expect(commandsParticipant("shop", 0, "shop.commands.payment.g1")).toBeUndefined();
    expect(commandsParticipant("shop", 1, "shop.commands.payment.g1")).toBe("payment");
    expect(commandsParticipant("shop", 1, "shop.commands.payment")).toBeUndefined();
    expect(commandsParticipant("shop", 0, "shopping.commands.payment")).toBeUndefined();
  });

  it("takes the generation's suffix off a start topic, and names the participants' groups", () => {
    expect(baseTopic("outbox.event.order.g2", 2)).toBe("outbox.event.order");
    expect(baseTopic("outbox.event.order", 0)).toBe("outbox.event.order");
    expect(participantGroup("shop", 0, "payment")).toBe("shop.participant.payment");
    expect(participantGroup("shop", 1, "payment")).toBe("shop.g1.participant.payment");
  });
});

describe("estimateRepartition", () => {
  it("divides the records to copy by the rate, and the tails by it plus the overhead for the unavailability", () => {
    const estimate = estimateRepartition(
      [
        { copy: CopyKind.History, toCopy: 400_000 },
        { copy: CopyKind.LatestValues, toCopy: 90_000 },
        { copy: CopyKind.Unconsumed, toCopy: 10_000 },
        { copy: CopyKind.None, toCopy: 0 },
      ],
      50_000,
      10_000,
    );
    expect(estimate).toEqual({
      copyRecordsPerSecond: 50_000,
      switchOverheadMs: 10_000,
      recordsToCopy: 500_000,
      tailRecords: 10_000,
      copyMs: 10_000,
      totalMs: 20_000,
      unavailableMs: 10_200,
    });
  });
});

describe("repartitionStages", () => {
  const topic = (
    role: TopicRole,
    name: string,
    newName: string,
    copy: CopyKind,
    extra: { participant?: string; tailGroup?: string; groups?: string[] } = {},
  ) => ({ role, topic: name, newTopic: newName, copy, ...extra });
  const stages = repartitionStages({
    applicationId: "shop",
    from: { generation: 0, partitions: 6 },
    to: { generation: 1, partitions: 12 },
    topics: [
      topic(TopicRole.Events, "shop.saga-events", "shop.saga-events.g1", CopyKind.History, {
        groups: ["shop.participant.payment.saga-ends", "analytics"],
      }),
      topic(TopicRole.Replies, "shop.replies", "shop.replies.g1", CopyKind.Unconsumed, {
        tailGroup: "shop",
      }),
      topic(TopicRole.Control, "shop.control", "shop.control.g1", CopyKind.Unconsumed, {
        tailGroup: "shop",
      }),
      topic(
        TopicRole.Commands,
        "shop.commands.payment",
        "shop.commands.payment.g1",
        CopyKind.Unconsumed,
        { participant: "payment", tailGroup: "shop.participant.payment" },
      ),
      topic(TopicRole.Start, "outbox.event.order", "outbox.event.order.g1", CopyKind.Unconsumed, {
        tailGroup: "shop",
      }),
      topic(TopicRole.DeadLetters, "shop.dlq", "shop.g1.dlq", CopyKind.None),
      topic(
        TopicRole.Changelog,
        "shop-sagas-changelog",
        "shop.g1-sagas-changelog",
        CopyKind.LatestValues,
      ),
    ],
  });

  it("runs prepare, copy, freeze, copy the rest, switch, verify, in that order", () => {
    expect(stages.map((s) => s.name)).toEqual([
      "prepare",
      "copy history online",
      "freeze",
      "copy the rest",
      "switch",
      "verify (--verify)",
    ]);
  });

  it("names this application's topics old → new and its groups in each stage", () => {
    const [prepare, copy, freeze, rest, change, verify] = stages.map((s) => s.text);
    expect(prepare).toBe(
      "create generation 1's topics with 12 partitions (generation 0 has 6), each with its old topic's configs: " +
        "shop.saga-events → shop.saga-events.g1, shop.replies → shop.replies.g1, shop.control → shop.control.g1, " +
        "shop.commands.payment → shop.commands.payment.g1, outbox.event.order → outbox.event.order.g1, " +
        "shop.dlq → shop.g1.dlq, shop-sagas-changelog → shop.g1-sagas-changelog.",
    );
    expect(copy).toContain("shop.saga-events → shop.saga-events.g1 (every record, by key");
    expect(copy).toContain(
      "the latest value of each key of shop-sagas-changelog → shop.g1-sagas-changelog",
    );
    expect(freeze).toContain(
      "shop.layout ← {generation 0, 6 partitions, frozen, next generation 1 of 12}",
    );
    expect(freeze).toContain(
      "the workers (group shop) and the participants (shop.participant.payment)",
    );
    expect(freeze).toContain(
      "pause the Debezium connectors writing outbox.event.order, shop.replies;",
    );
    expect(freeze).toContain("no saga advances");
    expect(rest).toBe(
      "copy what shop.saga-events, shop-sagas-changelog got since stage 2 (as there), and the records not yet consumed " +
        "of shop.replies, shop.control, outbox.event.order from group shop's committed offsets; " +
        "of shop.commands.payment from group shop.participant.payment's committed offsets.",
    );
    expect(change).toContain(
      "route the connectors to the new names (outbox.event.order → outbox.event.order.g1, shop.replies → shop.replies.g1); " +
        "shop.layout ← {generation 1, 12 partitions, active}; resume the connectors; " +
        "the workers (group shop.g1) and the participants (shop.g1.participant.payment) start on generation 1 " +
        "and restore their stores from shop.g1-sagas-changelog.",
    );
    // a participant's own reader moves with it; any other group is told to move
    expect(change).toContain("(analytics on shop.saga-events)");
    expect(change).not.toContain("saga-ends on");
    expect(verify).toContain(
      "shop.saga-events → shop.saga-events.g1, shop-sagas-changelog → shop.g1-sagas-changelog",
    );
  });
});

import { describe, expect, it } from "vitest";
import { TopologyError } from "../../src/errors/index.js";
import { Serdes } from "../../src/state/index.js";
import { TopologyBuilder } from "../../src/topology/index.js";

const s = Serdes.string;
const noop = () => ({ process: () => undefined });

function base(): TopologyBuilder {
  return new TopologyBuilder().source("in", { topics: ["a"], keySerde: s, valueSerde: s });
}

describe("TopologyBuilder.build", () => {
  it.each([
    [
      "an unknown store",
      () => base().processor("p", { parents: ["in"], stores: ["nope"], create: noop }),
      /unknown store "nope"/,
    ],
    [
      "an unknown parent",
      () => base().processor("p", { parents: ["ghost"], create: noop }),
      /unknown parent "ghost"/,
    ],
    [
      "a node without parent",
      () => base().processor("p", { parents: [], create: noop }),
      /processor "p" has no parent/,
    ],
    [
      "a sink as parent",
      () =>
        base()
          .sink("out", { parents: ["in"], topic: "b", keySerde: s, valueSerde: s })
          .processor("p", { parents: ["out"], create: noop }),
      /has a sink as parent/,
    ],
    [
      "a cycle",
      () =>
        base()
          .processor("p1", { parents: ["in", "p2"], create: noop })
          .processor("p2", { parents: ["p1"], create: noop }),
      /cycle through: p1, p2/,
    ],
    [
      "a topic read by two sources",
      () => base().source("in2", { topics: ["a"], keySerde: s, valueSerde: s }),
      /topic "a" is read by two sources: in and in2/,
    ],
    ["no source at all", () => new TopologyBuilder(), /has no source/],
  ])("rejects %s with a clear error", (_, make, message) => {
    expect(() => make().build()).toThrow(TopologyError);
    expect(() => make().build()).toThrow(message);
  });

  it("rejects a name used twice at once", () => {
    expect(() => base().store("in", { keySerde: s, valueSerde: s })).toThrow(/"in" is used twice/);
  });

  it("splits independent parts into sub-topologies, joining parts that share a store", () => {
    const topology = base()
      .source("in-b", { topics: ["b"], keySerde: s, valueSerde: s })
      .source("in-c", { topics: ["c1", "c2"], keySerde: s, valueSerde: s })
      .store("shared", { keySerde: s, valueSerde: s })
      .processor("pa", { parents: ["in"], stores: ["shared"], create: noop })
      .processor("pb", { parents: ["in-b"], stores: ["shared"], create: noop })
      .processor("pc", { parents: ["in-c"], create: noop })
      .sink("out", { parents: ["pc"], topic: "out", keySerde: s, valueSerde: s })
      .build();
    const subs = topology.subtopologies.map((sub) => ({
      topics: sub.sourceTopics.sort(),
      stores: sub.stores,
    }));
    expect(subs).toEqual([
      { topics: ["a", "b"], stores: ["shared"] },
      { topics: ["c1", "c2"], stores: [] },
    ]);
    expect(topology.subtopologyOf("c2").nodes).toEqual(["in-c", "pc", "out"]);
    expect(topology.sinkTopics()).toEqual(["out"]);
  });

  it("requires co-partitioned source topics to have the same partition count", () => {
    const topology = base()
      .source("in-b", { topics: ["b"], keySerde: s, valueSerde: s })
      .store("shared", { keySerde: s, valueSerde: s })
      .processor("p", { parents: ["in", "in-b"], stores: ["shared"], create: noop })
      .build();
    expect(
      topology.partitionsBySubtopology(
        new Map([
          ["a", 6],
          ["b", 6],
        ]),
      ),
    ).toEqual(new Map([[0, 6]]));
    expect(() =>
      topology.partitionsBySubtopology(
        new Map([
          ["a", 6],
          ["b", 3],
        ]),
      ),
    ).toThrow(/same partition count.*a has 6, b has 3/);
    expect(() => topology.partitionsBySubtopology(new Map([["a", 6]]))).toThrow(
      /"b" does not exist/,
    );
  });
});

/**
 * The topology: sources → processors → sinks, with named state stores attached to processors.
 * `build()` checks the graph (unknown parents and stores, cycles, shared topics and stores);
 * partition counts are checked when the runtime learns them (`partitionsBySubtopology`).
 */
import { TopologyError } from "../errors/index.js";
import type { Serde } from "../state/index.js";
import type { Processor } from "./processor.js";

export interface SourceNode {
  kind: "source";
  name: string;
  topics: string[];
  keySerde: Serde<unknown>;
  valueSerde: Serde<unknown>;
  /**
   * Its records are placed by key (murmur2, the Java client's default) and its key owns state:
   * a record found on another partition is dead-lettered, since processed there it would start
   * a second owner of that key's state.
   */
  keyPartitioned?: boolean | undefined;
}

export interface ProcessorNode {
  kind: "processor";
  name: string;
  parents: string[];
  stores: string[];
  create: () => Processor<unknown, unknown, unknown, unknown>;
}

export interface SinkNode {
  kind: "sink";
  name: string;
  parents: string[];
  topic: string;
  keySerde: Serde<unknown>;
  valueSerde: Serde<unknown>;
}

export type TopologyNode = SourceNode | ProcessorNode | SinkNode;

export const StoreKind = { Persistent: "persistent", Memory: "memory" } as const;
export type StoreKind = (typeof StoreKind)[keyof typeof StoreKind];

export interface StoreSpec {
  name: string;
  kind: StoreKind;
  keySerde: Serde<unknown>;
  valueSerde: Serde<unknown>;
  /** Every write also goes to `<app>-<store>-changelog` (default true). */
  changelog: boolean;
  /** A persistent store's read cache per task, in bytes (default 1 MB; 0: none). */
  cacheBytes: number;
  /**
   * Its processors read it by the key of the record in hand, serialized alike (default false):
   * the runtime then reads the keys of each batch of fetched records into the cache together,
   * one engine request for many records rather than one each.
   */
  readByRecordKey: boolean;
}

/** Kafka Streams caches 10 MB per instance by default; ours is per store and task. */
export const DEFAULT_CACHE_BYTES = 2 ** 20;

export interface Subtopology {
  id: number;
  /** Nodes in an order where every node comes after its parents. */
  nodes: string[];
  sourceTopics: string[];
  stores: string[];
}

export class TopologyBuilder {
  private readonly nodes = new Map<string, TopologyNode>();
  private readonly stores = new Map<string, StoreSpec>();

  private add(node: TopologyNode): this {
    if (this.nodes.has(node.name) || this.stores.has(node.name)) {
      throw new TopologyError(
        `the name "${node.name}" is used twice; every node and store needs its own`,
      );
    }
    this.nodes.set(node.name, node);
    return this;
  }

  source<K, V>(
    name: string,
    options: {
      topics: string[];
      keySerde: Serde<K>;
      valueSerde: Serde<V>;
      keyPartitioned?: boolean;
    },
  ): this {
    if (options.topics.length === 0) throw new TopologyError(`source "${name}" names no topic`);
    return this.add({ kind: "source", name, ...(options as Omit<SourceNode, "kind" | "name">) });
  }

  processor<KIn, VIn, KOut = never, VOut = never>(
    name: string,
    options: {
      parents: string[];
      stores?: string[];
      create: () => Processor<KIn, VIn, KOut, VOut>;
    },
  ): this {
    return this.add({
      kind: "processor",
      name,
      parents: options.parents,
      stores: options.stores ?? [],
      create: options.create,
    });
  }

  sink<K, V>(
    name: string,
    options: { parents: string[]; topic: string; keySerde: Serde<K>; valueSerde: Serde<V> },
  ): this {
    return this.add({ kind: "sink", name, ...(options as Omit<SinkNode, "kind" | "name">) });
  }

  store<K, V>(
    name: string,
    options: {
      kind?: StoreKind;
      keySerde: Serde<K>;
      valueSerde: Serde<V>;
      changelog?: boolean;
      cacheBytes?: number;
      readByRecordKey?: boolean;
    },
  ): this {
    if (this.stores.has(name) || this.nodes.has(name)) {
      throw new TopologyError(
        `the name "${name}" is used twice; every node and store needs its own`,
      );
    }
    this.stores.set(name, {
      name,
      kind: options.kind ?? StoreKind.Persistent,
      keySerde: options.keySerde,
      valueSerde: options.valueSerde,
      changelog: options.changelog ?? true,
      cacheBytes: options.cacheBytes ?? DEFAULT_CACHE_BYTES,
      readByRecordKey: options.readByRecordKey ?? false,
    });
    return this;
  }

  build(): Topology {
    return new Topology(new Map(this.nodes), new Map(this.stores));
  }
}

export class Topology {
  readonly subtopologies: Subtopology[];
  private readonly children = new Map<string, string[]>();
  private readonly topicToSubtopology = new Map<string, Subtopology>();

  constructor(
    readonly nodes: ReadonlyMap<string, TopologyNode>,
    readonly stores: ReadonlyMap<string, StoreSpec>,
  ) {
    this.checkReferences();
    const order = this.topologicalOrder();
    this.subtopologies = this.groupSubtopologies(order);
    for (const sub of this.subtopologies)
      for (const topic of sub.sourceTopics) this.topicToSubtopology.set(topic, sub);
  }

  childrenOf(name: string): string[] {
    return this.children.get(name) ?? [];
  }

  node(name: string): TopologyNode {
    const node = this.nodes.get(name);
    if (node === undefined) throw new TopologyError(`no node named "${name}"`);
    return node;
  }

  sourceTopics(): string[] {
    return this.subtopologies.flatMap((s) => s.sourceTopics);
  }

  sinkTopics(): string[] {
    return [...this.nodes.values()].flatMap((n) => (n.kind === "sink" ? [n.topic] : []));
  }

  subtopologyOf(topic: string): Subtopology {
    const sub = this.topicToSubtopology.get(topic);
    if (sub === undefined)
      throw new TopologyError(`topic "${topic}" is not a source of this topology`);
    return sub;
  }

  /** The partition count of each sub-topology; its source topics must agree (co-partitioning). */
  partitionsBySubtopology(partitionCounts: ReadonlyMap<string, number>): Map<number, number> {
    const result = new Map<number, number>();
    for (const sub of this.subtopologies) {
      const counts = sub.sourceTopics.map((t) => {
        const count = partitionCounts.get(t);
        if (count === undefined)
          throw new TopologyError(`source topic "${t}" does not exist: create it first`);
        return [t, count] as const;
      });
      const distinct = new Set(counts.map(([, c]) => c));
      if (distinct.size > 1) {
        throw new TopologyError(
          `the source topics of sub-topology ${sub.id} must have the same partition count to be ` +
            `co-partitioned, but ${counts.map(([t, c]) => `${t} has ${c}`).join(", ")}; repartition them`,
        );
      }
      result.set(sub.id, counts[0]?.[1] ?? 0);
    }
    return result;
  }

  private checkReferences(): void {
    const topicOwners = new Map<string, string>();
    for (const node of this.nodes.values()) {
      if (node.kind === "source") {
        for (const topic of node.topics) {
          const owner = topicOwners.get(topic);
          if (owner !== undefined)
            throw new TopologyError(
              `topic "${topic}" is read by two sources: ${owner} and ${node.name}`,
            );
          topicOwners.set(topic, node.name);
        }
        continue;
      }
      if (node.parents.length === 0)
        throw new TopologyError(
          `${node.kind} "${node.name}" has no parent: give it a source or processor`,
        );
      for (const parent of node.parents) {
        const p = this.nodes.get(parent);
        if (p === undefined)
          throw new TopologyError(
            `${node.kind} "${node.name}" names an unknown parent "${parent}"`,
          );
        if (p.kind === "sink")
          throw new TopologyError(`${node.kind} "${node.name}" has a sink as parent ("${parent}")`);
        this.children.set(parent, [...(this.children.get(parent) ?? []), node.name]);
      }
      if (node.kind === "processor") {
        for (const store of node.stores) {
          if (!this.stores.has(store)) {
            throw new TopologyError(
              `processor "${node.name}" uses an unknown store "${store}": add it with builder.store()`,
            );
          }
        }
      }
    }
    if (topicOwners.size === 0) throw new TopologyError("the topology has no source");
  }

  /** Kahn's algorithm; whatever is left over lies on a cycle. */
  private topologicalOrder(): string[] {
    const indegree = new Map<string, number>();
    for (const node of this.nodes.values())
      indegree.set(node.name, node.kind === "source" ? 0 : node.parents.length);
    const ready = [...indegree].filter(([, d]) => d === 0).map(([n]) => n);
    const order: string[] = [];
    while (ready.length > 0) {
      const name = ready.shift() as string;
      order.push(name);
      for (const child of this.childrenOf(name)) {
        const d = (indegree.get(child) ?? 0) - 1;
        indegree.set(child, d);
        if (d === 0) ready.push(child);
      }
    }
    if (order.length < this.nodes.size) {
      const onCycle = [...this.nodes.keys()].filter((n) => !order.includes(n));
      throw new TopologyError(`the topology has a cycle through: ${onCycle.join(", ")}`);
    }
    return order;
  }

  /** Connected components of the graph, joined also through shared stores. */
  private groupSubtopologies(order: string[]): Subtopology[] {
    const group = new Map<string, string>(); // union-find over node names and "store:" names
    const find = (x: string): string => {
      const parent = group.get(x) ?? x;
      if (parent === x) return x;
      const root = find(parent);
      group.set(x, root);
      return root;
    };
    const union = (a: string, b: string) => group.set(find(a), find(b));
    for (const node of this.nodes.values()) {
      if (node.kind === "source") continue;
      for (const parent of node.parents) union(node.name, parent);
      if (node.kind === "processor")
        for (const store of node.stores) union(node.name, `store:${store}`);
    }
    const byRoot = new Map<string, Subtopology>();
    for (const name of order) {
      const root = find(name);
      let sub = byRoot.get(root);
      if (sub === undefined) {
        sub = { id: byRoot.size, nodes: [], sourceTopics: [], stores: [] };
        byRoot.set(root, sub);
      }
      sub.nodes.push(name);
      const node = this.node(name);
      if (node.kind === "source") sub.sourceTopics.push(...node.topics);
      if (node.kind === "processor")
        for (const s of node.stores) if (!sub.stores.includes(s)) sub.stores.push(s);
    }
    return [...byRoot.values()];
  }
}

export function changelogTopic(applicationId: string, store: string): string {
  return `${applicationId}-${store}-changelog`;
}

/**
 * Inputs for sagas this worker cannot run: their definition version is not deployed here (a
 * rolling deploy that dropped it too early), or it was edited without a new version. Dead-
 * lettering them would strand the instance; they wait instead, in a store of the task
 * (changelogged like the saga states, so they move with the task), in arrival order, and are
 * re-driven once a worker that runs the version opens the task. The count per saga is kept in
 * memory, so an input for a saga with nothing parked costs no store read.
 */
import type { Serde, WritableStore } from "../state/index.js";
import type { Origin, SagaMessage } from "./processor.js";

export interface ParkedInput {
  message: SagaMessage;
  origin: Origin;
  /** Why it could not be run. */
  reason: string;
  parkedAt: number;
}

export const parkedInputSerde: Serde<ParkedInput> = {
  serialize: (input) => Buffer.from(JSON.stringify(input), "utf8"),
  deserialize: (bytes) => JSON.parse(bytes.toString("utf8")) as ParkedInput,
};

const SEPARATOR = "\u0000";
const SEQ_DIGITS = 10;

/**
 * The saga a key of the worker's stores belongs to (the bytes a repartition places it by): the
 * saga states are keyed by saga id, the parked inputs by `<sagaId>\0<seq>`.
 */
export function sagaIdOfStoreKey(key: Buffer): Buffer {
  const end = key.indexOf(0);
  return end < 0 ? key : key.subarray(0, end);
}

function parkedKey(sagaId: string, seq: number): string {
  return `${sagaId}${SEPARATOR}${String(seq).padStart(SEQ_DIGITS, "0")}`;
}

export class ParkedInputs {
  /** Per saga with parked inputs, the sequence number of the next one. */
  private readonly next = new Map<string, number>();
  private store!: WritableStore<string, ParkedInput>;

  /** Reads what the task's store holds; returns the sagas with inputs parked. */
  async open(store: WritableStore<string, ParkedInput>): Promise<string[]> {
    this.store = store;
    this.next.clear();
    for await (const [key] of store.range()) {
      const at = key.lastIndexOf(SEPARATOR);
      this.next.set(key.slice(0, at), Number(key.slice(at + 1)) + 1);
    }
    return [...this.next.keys()];
  }

  has(sagaId: string): boolean {
    return this.next.has(sagaId);
  }

  /** Parks an input behind the saga's others; returns how to undo it in memory. */
  park(sagaId: string, input: ParkedInput): () => void {
    const seq = this.next.get(sagaId) ?? 0;
    this.store.put(parkedKey(sagaId, seq), input);
    this.next.set(sagaId, seq + 1);
    return () => {
      this.restore(sagaId, seq === 0 ? undefined : seq);
    };
  }

  /**
   * Takes a saga's parked inputs out, oldest first, deleting them from the store; `undo`
   * restores the memory if the task rolls the store back.
   */
  async take(sagaId: string): Promise<{ inputs: ParkedInput[]; undo: () => void }> {
    const inputs: ParkedInput[] = [];
    for await (const [key, input] of this.store.prefix(`${sagaId}${SEPARATOR}`)) {
      inputs.push(input);
      this.store.delete(key);
    }
    const seq = this.next.get(sagaId);
    this.next.delete(sagaId);
    return {
      inputs,
      undo: () => {
        this.restore(sagaId, seq);
      },
    };
  }

  private restore(sagaId: string, seq: number | undefined): void {
    if (seq === undefined) this.next.delete(sagaId);
    else this.next.set(sagaId, seq);
  }
}

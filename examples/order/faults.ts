/**
 * Injected faults for the demo and the tests, decided by a hash of the order id so that a run
 * can be checked afterwards: which orders a participant refuses, and which it answers too late
 * (after the step's timeout) on the first attempt.
 */
import { createHash } from "node:crypto";

export interface FaultRates {
  /** Share of orders a participant refuses (0..1). */
  failureRate: number;
  /** Share of orders whose first attempt a participant acknowledges only after the timeout. */
  timeoutRate: number;
}

function unit(text: string): number {
  return createHash("sha1").update(text).digest().readUInt32BE(0) / 2 ** 32;
}

export class FaultPlan {
  constructor(private readonly rates: FaultRates) {}

  /** Each participant refuses its share; together about `failureRate` of all orders fail. */
  refuses(participant: string, orderId: string): boolean {
    const share = this.rates.failureRate / 2; // payment and inventory refuse; shipping never does
    return participant !== "shipping" && unit(`refuse/${participant}/${orderId}`) < share;
  }

  isSlow(participant: string, orderId: string): boolean {
    return participant === "inventory" && unit(`slow/${orderId}`) < this.rates.timeoutRate;
  }
}

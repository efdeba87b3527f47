/**
 * A circuit breaker for one downstream: after `failureThreshold` failures within `windowMs` it
 * opens and fails calls at once for `openMs`; then it lets `halfOpenTrials` calls through, and
 * closes when all of them succeed or opens again at the first failure. (cockatiel and opossum
 * count failures as a ratio and try a single call when half-open; these are the counts the
 * engine documents.) A refusal (CommandRefusedError) is an answer, not a failure; a call that
 * has not settled after `callTimeoutMs` is one. The clock is injected so tests need no waiting.
 */
import { CircuitCallTimeoutError, CircuitOpenError, CommandRefusedError } from "../errors/index.js";

export interface CircuitBreakerOptions {
  failureThreshold: number;
  windowMs: number;
  openMs: number;
  halfOpenTrials: number;
  /** A call still pending after this long fails (and frees its half-open trial). */
  callTimeoutMs: number;
}

export const DEFAULT_CIRCUIT_BREAKER: Readonly<CircuitBreakerOptions> = {
  failureThreshold: 5,
  windowMs: 60_000,
  openMs: 30_000,
  halfOpenTrials: 3,
  callTimeoutMs: 5_000,
};

export const CircuitState = { Closed: "closed", Open: "open", HalfOpen: "half-open" } as const;
export type CircuitState = (typeof CircuitState)[keyof typeof CircuitState];

export class CircuitBreaker {
  private failures: number[] = [];
  private openedAt = 0;
  private opened = false;
  private trialsStarted = 0;
  private trialsSucceeded = 0;

  constructor(
    readonly downstream: string,
    private readonly options: CircuitBreakerOptions = DEFAULT_CIRCUIT_BREAKER,
    private readonly now: () => number = Date.now,
  ) {}

  get state(): CircuitState {
    if (!this.opened) return CircuitState.Closed;
    return this.now() - this.openedAt < this.options.openMs
      ? CircuitState.Open
      : CircuitState.HalfOpen;
  }

  /** Runs `call` unless the circuit is open (then throws CircuitOpenError). */
  async run<T>(call: () => Promise<T>): Promise<T> {
    const state = this.state;
    if (
      state === CircuitState.Open ||
      (state === CircuitState.HalfOpen && this.trialsStarted >= this.options.halfOpenTrials)
    ) {
      throw new CircuitOpenError(
        this.downstream,
        Math.max(0, this.openedAt + this.options.openMs - this.now()),
      );
    }
    if (state === CircuitState.HalfOpen) this.trialsStarted += 1;
    try {
      const result = await this.withinTimeout(call);
      this.succeeded(state);
      return result;
    } catch (error) {
      if (error instanceof CommandRefusedError) this.succeeded(state);
      else this.failed(state);
      throw error;
    }
  }

  private async withinTimeout<T>(call: () => Promise<T>): Promise<T> {
    const { callTimeoutMs } = this.options;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(new CircuitCallTimeoutError(this.downstream, callTimeoutMs));
      }, callTimeoutMs);
    });
    try {
      return await Promise.race([call(), timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  private succeeded(state: CircuitState): void {
    if (state !== CircuitState.HalfOpen) return;
    this.trialsSucceeded += 1;
    if (this.trialsSucceeded >= this.options.halfOpenTrials) {
      this.opened = false;
      this.failures = [];
    }
  }

  private failed(state: CircuitState): void {
    const now = this.now();
    if (state === CircuitState.HalfOpen) {
      this.open(now);
      return;
    }
    this.failures = this.failures.filter((t) => now - t < this.options.windowMs);
    this.failures.push(now);
    if (this.failures.length >= this.options.failureThreshold) this.open(now);
  }

  private open(now: number): void {
    this.opened = true;
    this.openedAt = now;
    this.trialsStarted = 0;
    this.trialsSucceeded = 0;
  }
}

/** One breaker per downstream, made on first use with the same options. */
export class CircuitBreakers {
  private readonly byDownstream = new Map<string, CircuitBreaker>();

  constructor(private readonly options: CircuitBreakerOptions = DEFAULT_CIRCUIT_BREAKER) {}

  of(downstream: string): CircuitBreaker {
    let found = this.byDownstream.get(downstream);
    if (found === undefined) {
      found = new CircuitBreaker(downstream, this.options);
      this.byDownstream.set(downstream, found);
    }
    return found;
  }

  get all(): ReadonlyMap<string, CircuitBreaker> {
    return this.byDownstream;
  }
}

/**
 * A worker's Prometheus metrics (prom-client): sagas by status on this worker, status
 * transitions, step latency (first attempt issued → success), consumer lag, dead letters and
 * the runtime's commit figures.
 */
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { SagaObserver } from "../saga/index.js";
import type { StreamsApp } from "../topology/index.js";
import type { SagaQueries } from "./saga-queries.js";

export function sagaMetrics(
  app: () => StreamsApp | undefined,
  queries: () => SagaQueries | undefined,
) {
  const registry = new Registry();
  new Gauge({
    name: "sagastream_sagas",
    help: "Sagas on this worker's partitions, by status",
    labelNames: ["status"],
    registers: [registry],
    async collect() {
      const counts = await queries()?.countByStatus();
      for (const [status, count] of counts ?? []) this.set({ status }, count);
    },
  });
  const transitions = new Counter({
    name: "sagastream_saga_transitions_total",
    help: "Sagas entering a status, by saga type",
    labelNames: ["saga_type", "status"],
    registers: [registry],
  });
  const stepSeconds = new Histogram({
    name: "sagastream_step_duration_seconds",
    help: "From a step's first command to its success (do) or compensation (undo)",
    labelNames: ["saga_type", "step", "action"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  new Gauge({
    name: "sagastream_consumer_lag",
    help: "Records not yet processed, by input topic and partition (as of the last batch)",
    labelNames: ["topic", "partition"],
    registers: [registry],
    collect() {
      for (const [key, lag] of app()?.metrics.lag ?? []) {
        const at = key.lastIndexOf("/");
        this.set({ topic: key.slice(0, at), partition: key.slice(at + 1) }, lag);
      }
    },
  });
  new Gauge({
    name: "sagastream_dead_letters",
    help: "Records this worker sent to the dead-letter topic since it started",
    registers: [registry],
    collect() {
      this.set(app()?.metrics.deadLetters ?? 0);
    },
  });
  new Gauge({
    name: "sagastream_restore_remaining_records",
    help: "Changelog records a task being restored has left to read",
    labelNames: ["task"],
    registers: [registry],
    collect() {
      this.reset(); // a task that finished is gone
      for (const [task, remaining] of app()?.metrics.restoring ?? []) this.set({ task }, remaining);
    },
  });
  new Gauge({
    name: "sagastream_stuck_seconds",
    help: "How long an input partition (topic/partition) or a task (task <id>) has not been able to advance",
    labelNames: ["where"],
    registers: [registry],
    collect() {
      this.reset(); // one that advanced again is gone
      const now = Date.now();
      for (const stuck of app()?.metrics.stuck.list() ?? []) {
        this.set({ where: stuck.where }, (now - stuck.since) / 1000);
      }
    },
  });
  new Gauge({
    name: "sagastream_commits",
    help: "Transactions (or offset commits) since the worker started",
    registers: [registry],
    collect() {
      this.set(app()?.metrics.commits ?? 0);
    },
  });

  const observer: SagaObserver = (before, events, after) => {
    if (before?.status !== after.status) {
      transitions.inc({ saga_type: after.sagaType, status: after.status });
    }
    for (const event of events) {
      if (event.type !== "StepSucceeded" && event.type !== "StepCompensated") continue;
      const issuedAt = before?.steps[event.step]?.issuedAt;
      if (issuedAt === undefined) continue;
      const action = event.type === "StepSucceeded" ? "do" : "undo";
      stepSeconds.observe(
        { saga_type: after.sagaType, step: event.step, action },
        Math.max(0, event.at - issuedAt) / 1000,
      );
    }
  };
  return { registry, observer };
}

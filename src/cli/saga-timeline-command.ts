/** `sagastream saga timeline <id>`: a saga's events and step durations, from the log alone. */
import { Command } from "commander";
import { loadConfig } from "../config/index.js";
import { UsageError } from "../errors/index.js";
import { readSagaHistory, sagaTimeline, type SagaTimeline } from "../ops/index.js";
import { sagaTopics } from "../saga/index.js";
import { AvroCodec, createSchemaRegistry } from "../schema/index.js";
import { formatTable } from "../util/index.js";

function ms(value: number | undefined): string {
  return value === undefined ? "-" : `${value.toLocaleString("en")} ms`;
}

function printTimeline(sagaId: string, timeline: SagaTimeline): void {
  const out = process.stdout;
  const started =
    timeline.startedAt === undefined ? "?" : new Date(timeline.startedAt).toISOString();
  out.write(
    `${sagaId}: started ${started}, ${timeline.end ?? "not ended"}${timeline.durationMs === undefined ? "" : ` after ${ms(timeline.durationMs)}`}\n\n`,
  );
  out.write(
    `${formatTable(
      ["seq", "+ms", "event", "step", "attempt", "detail"],
      timeline.rows.map((r) => [
        String(r.seq),
        String(r.sinceStartMs),
        r.type,
        [r.step, r.action].filter((x) => x !== undefined).join(" "),
        r.attempt === undefined ? "" : String(r.attempt),
        r.detail,
      ]),
    )}\n\n`,
  );
  out.write(
    `${formatTable(
      ["step", "action", "attempts", "took", "outcome"],
      timeline.steps.map((s) => [
        s.step,
        s.action,
        String(s.attempts),
        ms(s.durationMs),
        s.outcome,
      ]),
    )}\n`,
  );
}

export function timelineCommand(): Command {
  return new Command("timeline")
    .description(
      "a saga's events with times, attempts and step durations, read from its saga-events log (no worker needed)",
    )
    .argument("<id>", "the saga id")
    .option("--app <id>", "the application id: reads <app>.saga-events")
    .option("--topic <topic>", "the saga-events topic itself")
    .option("--json", "print the timeline as JSON")
    .action(async (id: string, flags: { app?: string; topic?: string; json?: boolean }) => {
      const topic =
        flags.topic ?? (flags.app === undefined ? undefined : sagaTopics(flags.app).events);
      if (topic === undefined)
        throw new UsageError("name the application (--app <id>) or the topic (--topic)");
      const { connections } = loadConfig();
      const history = await readSagaHistory({
        kafka: { brokers: connections.kafkaBrokers, clientId: "sagastream-timeline" },
        codec: new AvroCodec(createSchemaRegistry(connections.schemaRegistryUrl)),
        topic,
        sagaId: id,
      });
      if (history.length === 0) throw new UsageError(`no events of saga ${id} in ${topic}`);
      const timeline = sagaTimeline(history);
      if (flags.json === true) process.stdout.write(`${JSON.stringify(timeline, null, 2)}\n`);
      else printTimeline(id, timeline);
    });
}

/** `sagastream whatif`: a new saga definition against a recorded window, as a diff. */
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Command } from "commander";
import { loadConfig } from "../config/index.js";
import { UsageError } from "../errors/index.js";
import {
  describePosition,
  diffRuns,
  parsePosition,
  readStartedIn,
  simulate,
  type WhatIfDiff,
} from "../ops/index.js";
import { sagaTopics, type AnySagaDefinition } from "../saga/index.js";
import { AvroCodec, createSchemaRegistry } from "../schema/index.js";
import { formatTable } from "../util/index.js";

interface WhatIfFlags {
  app?: string;
  topic?: string;
  definition: string;
  version?: string;
  export?: string;
  from: string;
  to: string;
  examples: string;
  json?: boolean;
}

function isDefinition(value: unknown): value is AnySagaDefinition {
  const d = value as Partial<AnySagaDefinition> | null;
  return (
    typeof d === "object" &&
    d !== null &&
    typeof d.name === "string" &&
    typeof d.version === "number" &&
    Array.isArray(d.stages) &&
    typeof d.fingerprint === "string"
  );
}

/**
 * The saga definitions a module exports (as values, or in arrays), by name: the export asked
 * for, else the version asked or the latest. Two of the same name and version are ambiguous.
 */
async function definitionsIn(
  module: string,
  choice: { version?: number | undefined; exportName?: string | undefined },
): Promise<Map<string, AnySagaDefinition>> {
  let exported: Record<string, unknown>;
  try {
    exported = (await import(pathToFileURL(path.resolve(module)).href)) as Record<string, unknown>;
  } catch (error) {
    throw new UsageError(`cannot load ${module}: ${(error as Error).message}`);
  }
  const byName = new Map<string, { definition: AnySagaDefinition; exportName: string }>();
  for (const [exportName, value] of Object.entries(exported)) {
    if (choice.exportName !== undefined && exportName !== choice.exportName) continue;
    for (const definition of Array.isArray(value) ? (value as unknown[]) : [value]) {
      if (!isDefinition(definition)) continue;
      if (choice.version !== undefined && definition.version !== choice.version) continue;
      const known = byName.get(definition.name);
      if (known?.definition.version === definition.version) {
        throw new UsageError(
          `${module} exports ${definition.name} v${definition.version} twice (${known.exportName} and ${exportName}): pick one with --export <name>`,
        );
      }
      if (known === undefined || known.definition.version < definition.version) {
        byName.set(definition.name, { definition, exportName });
      }
    }
  }
  if (byName.size === 0) {
    throw new UsageError(
      `${module} exports no saga definition (defineSaga(...) values) matching the choice`,
    );
  }
  return new Map([...byName].map(([name, { definition }]) => [name, definition]));
}

function printDiff(diff: WhatIfDiff, examples: number): void {
  const rows: string[][] = [
    ["same end, same commands", "", String(diff.same), ""],
    [
      "steered by an operator (not run)",
      "",
      String(diff.steered.length),
      diff.steered.slice(0, examples).join(", "),
    ],
  ];
  const kinds: [string, Map<string, string[]>][] = [
    ["ends differently", diff.endsDifferently],
    ["issued by the new version only", diff.onlyNew],
    ["issued by the recording only", diff.onlyRecorded],
    ["no recorded answer (run stopped)", diff.unknown],
  ];
  for (const [kind, map] of kinds) {
    for (const [what, ids] of [...map].sort((a, b) => b[1].length - a[1].length)) {
      rows.push([kind, what, String(ids.length), ids.slice(0, examples).join(", ")]);
    }
  }
  process.stdout.write(`${formatTable(["kind", "what", "sagas", "e.g."], rows)}\n`);
}

export function whatifCommand(): Command {
  return new Command("whatif")
    .description(
      "run another saga definition against the sagas recorded in a window, answered only with the participants' recorded answers, and print what would differ (no participant is called)",
    )
    .requiredOption(
      "--definition <module>",
      "a built JS module exporting the definition(s) (defineSaga values)",
    )
    .option("--version <n>", "the version to take from the module (default: the latest per saga)")
    .option("--export <name>", "the module's export to take (when it holds several)")
    .option("--app <id>", "the application id: reads <app>.saga-events")
    .option("--topic <topic>", "the saga-events topic itself")
    .option(
      "--from <position>",
      "sagas started from: ISO time, duration ago (2h), offset or earliest",
      "earliest",
    )
    .option("--to <time>", "sagas started before: ISO time, duration ago, or latest", "latest")
    .option("--examples <n>", "saga ids shown per line", "3")
    .option("--json", "print the diff as JSON")
    .action(async (flags: WhatIfFlags) => {
      const topic =
        flags.topic ?? (flags.app === undefined ? undefined : sagaTopics(flags.app).events);
      if (topic === undefined)
        throw new UsageError("name the application (--app <id>) or the topic (--topic)");
      const to = parsePosition(flags.to);
      if (to.kind === "offset" || to.kind === "earliest")
        throw new UsageError("--to takes a time, a duration ago or latest");
      const from = parsePosition(flags.from);
      const definitions = await definitionsIn(flags.definition, {
        version: flags.version === undefined ? undefined : Number(flags.version),
        exportName: flags.export,
      });
      const { connections } = loadConfig();
      const log = (line: string) => process.stderr.write(`${line}\n`);
      log(
        `reading the sagas started from ${describePosition(from)} to ${describePosition(to)} in ${topic}…`,
      );
      const histories = await readStartedIn({
        kafka: { brokers: connections.kafkaBrokers, clientId: "sagastream-whatif" },
        codec: new AvroCodec(createSchemaRegistry(connections.schemaRegistryUrl)),
        topic,
        from,
        to: to.kind === "time" ? to.at : Infinity,
      });
      const runs = [];
      let other = 0;
      for (const [sagaId, history] of histories) {
        const started = history.find((h) => h.seq === 1)?.event;
        const definition =
          started?.type === "SagaStarted" ? definitions.get(started.sagaType) : undefined;
        if (definition === undefined) {
          other += 1;
          continue;
        }
        runs.push(simulate(definition, sagaId, history));
      }
      const versions = [...definitions.values()].map((d) => `${d.name} v${d.version}`).join(", ");
      log(
        `${runs.length} saga(s) run again on ${versions}${other > 0 ? `; ${other} of other types left out` : ""}`,
      );
      const diff = diffRuns(runs);
      if (flags.json === true) {
        const plain = (map: Map<string, string[]>) => Object.fromEntries(map);
        process.stdout.write(
          `${JSON.stringify({ ...diff, unknown: plain(diff.unknown), endsDifferently: plain(diff.endsDifferently), onlyNew: plain(diff.onlyNew), onlyRecorded: plain(diff.onlyRecorded) }, null, 2)}\n`,
        );
      } else printDiff(diff, Number(flags.examples));
    });
}

/** `sagastream saga get | list | retry | cancel`: a worker's HTTP API from the shell. */
import { Command, Option } from "commander";
import { formatTable } from "../util/index.js";
import { sagaView } from "../api/index.js";
import { UsageError } from "../errors/index.js";
import { StoreSagas } from "../ops/index.js";
import { apiOption, call } from "./api-client.js";
import { batchCommand } from "./saga-batch-command.js";
import { timelineCommand } from "./saga-timeline-command.js";

const STATUSES = ["RUNNING", "COMPENSATING", "COMPLETED", "ABORTED", "FAILED", "CANCELLED"];

interface SagaView {
  sagaId: string;
  sagaType: string;
  version: number;
  status: string;
  reason?: string;
  startedAt: string;
  updatedAt: string;
  steps: Record<string, { phase: string; attempt: number }>;
  /** Absent from a rebuilt store (`--store`): read the log with `saga timeline`. */
  history?: {
    seq: number;
    event: {
      type: string;
      at: number;
      step?: string;
      action?: string;
      attempt?: number;
      reason?: string;
    };
  }[];
}

interface ListFlags {
  status?: string;
  type?: string;
  limit: string;
  api?: string;
  store?: string;
}

type Listed = { sagaId: string; sagaType: string; status: string }[];

function listFromApi(flags: ListFlags): Promise<Listed> {
  const query = new URLSearchParams({ limit: flags.limit });
  if (flags.status !== undefined) query.set("status", flags.status);
  if (flags.type !== undefined) query.set("type", flags.type);
  return call<Listed>(flags.api, `/sagas?${query.toString()}`);
}

async function fromStore<T>(dir: string, read: (store: StoreSagas) => Promise<T>): Promise<T> {
  const store = await StoreSagas.open(dir);
  try {
    process.stderr.write(`as of ${store.meta.asOf}, rebuilt from ${store.meta.topic}\n`);
    return await read(store);
  } finally {
    await store.close();
  }
}

/** The same listing from a rebuilt store (by saga id, as the workers' merged listing). */
function listFromStore(dir: string, flags: ListFlags): Promise<Listed> {
  const limit = Number(flags.limit);
  return fromStore(dir, async (store) => {
    const list: Listed = [];
    for await (const { sagaId, state } of store.all()) {
      if (flags.status !== undefined && state.status !== flags.status) continue;
      if (flags.type !== undefined && state.sagaType !== flags.type) continue;
      list.push({ sagaId, sagaType: state.sagaType, status: state.status });
      if (list.length >= limit) break;
    }
    return list;
  });
}

function printSaga(saga: SagaView): void {
  const out = process.stdout;
  out.write(
    `${saga.sagaId}  ${saga.sagaType} v${saga.version}  ${saga.status}${saga.reason === undefined ? "" : ` (${saga.reason})`}\n`,
  );
  out.write(`started ${saga.startedAt}, updated ${saga.updatedAt}\n\n`);
  if (saga.history === undefined) {
    const steps = Object.entries(saga.steps).map(([name, step]) => [
      name,
      step.phase,
      String(step.attempt),
    ]);
    out.write(`${formatTable(["step", "phase", "attempt"], steps)}\n`);
    return;
  }
  const rows = saga.history.map(({ seq, event }) => [
    String(seq),
    new Date(event.at).toISOString().slice(11, 23),
    event.type,
    [event.step, event.action, event.attempt === undefined ? undefined : `#${event.attempt}`]
      .filter((x) => x !== undefined)
      .join(" "),
    event.reason ?? "",
  ]);
  out.write(`${formatTable(["seq", "at", "event", "step", "reason"], rows)}\n`);
}

export function sagaCommand(): Command {
  const saga = new Command("saga").description(
    "read and steer saga instances through a worker's HTTP API",
  );
  saga
    .command("get")
    .description("one saga: its state and the history of its events")
    .argument("<id>", "the saga id")
    .addOption(apiOption())
    .option("--store <dir>", "from a store made by `sagastream rebuild` instead of the workers")
    .option("--json", "print the API's JSON")
    .action(async (id: string, flags: { api?: string; store?: string; json?: boolean }) => {
      const view =
        flags.store === undefined
          ? await call<SagaView>(flags.api, `/sagas/${encodeURIComponent(id)}`)
          : await fromStore(flags.store, async (store) => {
              const record = await store.get(id);
              if (record === undefined) {
                throw new UsageError(`no saga ${id} in the store as of ${store.meta.asOf}`);
              }
              return sagaView(record) as unknown as SagaView;
            });
      if (flags.json === true) process.stdout.write(`${JSON.stringify(view, null, 2)}\n`);
      else printSaga(view);
    });
  saga
    .command("list")
    .description("sagas by status and type, from every worker")
    .addOption(new Option("--status <status>", "only this status").choices(STATUSES))
    .option("--type <type>", "only this saga type")
    .option("--limit <n>", "at most this many", "100")
    .addOption(apiOption())
    .option("--store <dir>", "from a store made by `sagastream rebuild` instead of the workers")
    .action(async (flags: ListFlags) => {
      const list =
        flags.store === undefined
          ? await listFromApi(flags)
          : await listFromStore(flags.store, flags);
      process.stdout.write(
        `${formatTable(
          ["saga", "type", "status"],
          list.map((s) => [s.sagaId, s.sagaType, s.status]),
        )}\n${list.length} saga(s)\n`,
      );
    });
  for (const action of ["retry", "cancel"] as const) {
    const command = saga
      .command(action)
      .description(
        action === "retry"
          ? "resume a FAILED saga from the step that failed"
          : "compensate a running saga and end it CANCELLED",
      )
      .argument("<id>", "the saga id")
      .addOption(apiOption());
    if (action === "cancel")
      command.option("--reason <text>", "why (kept in the saga)", "cancelled by an operator");
    command.action(async (id: string, flags: { api?: string; reason?: string }) => {
      const answer = await call<{ status: string }>(
        flags.api,
        `/sagas/${encodeURIComponent(id)}/${action}`,
        { reason: flags.reason },
      );
      process.stdout.write(
        `${action} of ${id} accepted (it was ${answer.status}); follow it with \`sagastream saga get ${id}\`\n`,
      );
    });
  }
  saga.addCommand(batchCommand());
  saga.addCommand(timelineCommand());
  return saga;
}

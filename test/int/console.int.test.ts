/**
 * The operator's console in a real browser (Playwright driving Debian's Chromium), on the real
 * stack. After a demo run served with an API token: log in, the list with its counts, filter
 * ABORTED, open a saga and check its timeline against its saga-events log, the group, the live
 * charts. On an application of the test's own, whose sagas wait on a participant that never
 * answers: cancel a running saga from its page and see it end CANCELLED, and re-drive a dead
 * letter to its origin. Every view's screenshot is saved in test-results/console/.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { chromium, type Browser, type Locator, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createProducer, type KafkaSettings } from "../../src/kafka/index.js";
import { createLogger } from "../../src/log/index.js";
import { readSagaHistory, sagaTimeline } from "../../src/ops/index.js";
import { defineSaga, step, type AnySagaDefinition } from "../../src/saga/index.js";
import { AvroCodec, createSchemaRegistry } from "../../src/schema/index.js";
import { Serdes } from "../../src/state/index.js";
import { waitUntil } from "../../src/util/index.js";
import { SagaWorker } from "../../src/worker/index.js";
import { uniqueName } from "../support/names.js";
import { readTopic } from "../support/read-topic.js";
import { CLI_MAIN, runCli } from "../support/run-cli.js";

const connections = inject("connections");
const TOKEN = "console-operate-token-0123";
const SHOTS = path.resolve("test-results/console");
const kafka: KafkaSettings = { brokers: connections.kafkaBrokers, clientId: "console-test" };

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => {
        resolve(port);
      });
    });
    server.once("error", reject);
  });
}

/** A saga whose one step's participant never answers within the test. */
const waiting: AnySagaDefinition = defineSaga<{ id: string }>({
  name: "hold",
  version: 1,
  participants: ["desk"],
  stages: [
    step({
      name: "wait",
      participant: "desk",
      command: (d) => ({ type: "Wait", payload: { id: d.id } }),
      retriableOnly: true,
      timeoutMs: 600_000,
    }),
  ],
});

let demo: ChildProcess | undefined;
let demoOutput = "";
let demoApi = "";
let run = "";
let browser: Browser;
let page: Page;
const app = uniqueName("console");
const startTopic = `${app}.holds`;
let worker: SagaWorker;
let stateDir: string;
/** How long each view took to answer, as the browser measured it. */
const timings: [string, number][] = [];

/** The element's text once it shows (htmx swaps an action's answer in). */
async function visibleText(locator: Locator): Promise<string> {
  await locator.waitFor({ state: "visible", timeout: 15_000 });
  return ((await locator.textContent()) ?? "").replace(/\s+/g, " ").trim();
}

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/** Opens a console page and notes how long its document took (request → last byte). */
async function open(url: string, view: string): Promise<void> {
  await page.goto(url);
  // Navigation timing of the document: the browser's request to its last byte.
  const took = await page.evaluate<number>(
    "(() => { const [n] = performance.getEntriesByType('navigation'); return n ? n.responseEnd - n.requestStart : -1; })()",
  );
  timings.push([view, Math.round(took)]);
}

beforeAll(async () => {
  await mkdir(SHOTS, { recursive: true });
  const port = await freePort();
  demo = spawn(
    process.execPath,
    [CLI_MAIN, "demo", "--orders", "150", "--rate", "50", "--serve", "-1"],
    {
      env: {
        ...process.env,
        SAGASTREAM_API_URL: `http://127.0.0.1:${port}`,
        SAGASTREAM_API_TOKEN: TOKEN,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  demo.stdout?.on("data", (chunk: Buffer) => (demoOutput += chunk.toString()));
  demo.stderr?.on("data", (chunk: Buffer) => (demoOutput += chunk.toString()));
  await waitUntil(() => (demoOutput.includes("serving until Ctrl-C") ? true : undefined), {
    timeoutMs: 300_000,
    description: `the demo to serve its API (output so far: ${demoOutput.slice(-500)})`,
  });
  demoApi = /status API: (\S+)/.exec(demoOutput)?.[1] ?? "";
  run = /saga get (demo_[a-z0-9]+)-order/.exec(demoOutput)?.[1] ?? "";

  stateDir = await mkdtemp(path.join(os.tmpdir(), "console-"));
  worker = new SagaWorker({
    applicationId: app,
    brokers: connections.kafkaBrokers,
    sagas: [waiting],
    starts: [
      { topic: startTopic, saga: "hold", valueSerde: Serdes.json(), data: (e: unknown) => e },
    ],
    stateDir,
    partitions: 2,
    codec: new AvroCodec(createSchemaRegistry(connections.schemaRegistryUrl)),
    api: { tokens: { operate: TOKEN } },
    logger: createLogger("warn", "console-test"),
  });
  await worker.start();

  browser = await chromium.launch({
    executablePath: "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
  page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on("dialog", (dialog) => void dialog.accept());
}, 360_000);

afterAll(async () => {
  process.stdout.write(
    `console views, time to answer (ms): ${timings.map(([v, ms]) => `${v} ${ms}`).join(", ")}\n`,
  );
  await browser.close();
  await worker.stop();
  await rm(stateDir, { recursive: true, force: true });
  if (demo !== undefined && demo.exitCode === null) {
    const exited = new Promise((resolve) => demo?.once("exit", resolve));
    demo.kill("SIGINT");
    await exited;
  }
});

describe("the console after a demo run", () => {
  it("asks for the token, then lists the sagas with their counts", async () => {
    expect(demoApi).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(demoOutput).toContain(`console: ${demoApi}/ui`);
    await page.goto(`${demoApi}/ui`);
    expect(new URL(page.url()).pathname).toBe("/ui/login");
    await page.fill("input[name=token]", "not-the-token-at-all");
    await page.click("button[type=submit]");
    expect(await visibleText(page.locator(".error"))).toContain("not one of this worker's");
    await page.fill("input[name=token]", TOKEN);
    await page.click("button[type=submit]");
    expect(new URL(page.url()).pathname).toBe("/ui");
    await open(`${demoApi}/ui`, "sagas");
    const counts = await page.locator("#counts a").allTextContents();
    const count = (status: string) =>
      Number(
        /([\d,]+)$/
          .exec(counts.find((c) => c.startsWith(status))?.trim() ?? "")?.[1]
          ?.replaceAll(",", ""),
      );
    expect(count("all")).toBeGreaterThanOrEqual(150);
    expect(count("COMPLETED") + count("ABORTED")).toBe(count("all"));
    expect(await page.locator("#sagas tbody tr").count()).toBe(50);
    await shot("sagas");
  });

  it("filters ABORTED: every row is, as many as the API counts", async () => {
    await page.selectOption("select[name=status]", "ABORTED");
    await page.click("form[action='/ui'] button[type=submit]");
    expect(new URL(page.url()).searchParams.get("status")).toBe("ABORTED");
    const statuses = await page.locator("#sagas tbody td .status").allTextContents();
    const response = await fetch(`${demoApi}/sagas?status=ABORTED&limit=10000`, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    const aborted = ((await response.json()) as unknown[]).length;
    expect(aborted).toBeGreaterThan(0);
    expect(statuses.length).toBe(Math.min(aborted, 50));
    expect(new Set(statuses)).toEqual(new Set(["ABORTED"]));
    await open(page.url(), "sagas ABORTED");
    await shot("sagas-aborted");
  });

  it("opens a saga: its timeline is its saga-events log's", async () => {
    const link = page.locator("#sagas tbody a").first();
    const sagaId = (await link.textContent()) ?? "";
    await link.click();
    expect(await visibleText(page.locator("#saga-id"))).toBe(sagaId);
    expect(await visibleText(page.locator("#saga-status"))).toBe("ABORTED");
    await open(page.url(), "saga");
    const history = await readSagaHistory({
      kafka,
      codec: new AvroCodec(createSchemaRegistry(connections.schemaRegistryUrl)),
      topic: `${run}.saga-events`,
      sagaId,
    });
    const timeline = sagaTimeline(history);
    const rows: string[][] = [];
    for (const tr of await page.locator("#events tbody tr").all()) {
      rows.push((await tr.locator("td").allTextContents()).map((t) => t.trim()));
    }
    expect(rows.map((r) => [Number(r[0]), Number(r[1]), r[2]])).toEqual(
      timeline.rows.map((r) => [r.seq, r.sinceStartMs, r.type]),
    );
    expect(rows.map((r) => r[2])).toContain("SagaAborted");
    const bars: (string | null)[][] = [];
    for (const g of await page.locator("svg.timeline g[data-step]").all()) {
      bars.push(
        await Promise.all(
          ["data-step", "data-action", "data-duration-ms"].map((a) => g.getAttribute(a)),
        ),
      );
    }
    expect(bars).toEqual(timeline.steps.map((s) => [s.step, s.action, String(s.durationMs ?? "")]));
    expect(bars.length).toBeGreaterThan(0);
    await shot("saga-timeline");
  });

  it("shows the group: one worker running every partition", async () => {
    await open(`${demoApi}/ui/group`, "group");
    const cells = await page.locator("#workers tbody tr").first().locator("td").allTextContents();
    expect(cells[0]).toBe(demoApi);
    expect(cells[1]?.split(", ").map(Number)).toEqual([0, 1, 2, 3, 4, 5]);
    await shot("group");
  });

  it("draws the live charts", async () => {
    await open(`${demoApi}/ui/charts`, "charts");
    await page.waitForFunction(
      "Number(document.getElementById('chart-sagas')?.dataset.points ?? '0') > 1",
      undefined,
      { timeout: 20_000 },
    );
    expect(await page.locator(".uplot").count()).toBe(4);
    await shot("charts");
  });
});

describe("sagastream console", () => {
  it("prints the console's URL when a worker answers, and one line with 69 when none does", async () => {
    const found = await runCli(["console", "--no-open", "--api", demoApi]);
    expect(found.code).toBe(0);
    expect(found.stdout).toContain(`console: ${demoApi}/ui`);
    expect(found.stdout).toContain("running partition(s) 0, 1, 2, 3, 4, 5");
    const none = await runCli(["console", "--no-open", "--api", "http://127.0.0.1:9"]);
    expect(none.code).toBe(69);
    expect(none.stderr.trim().split("\n")).toEqual([
      "sagastream: no saga worker serves its API at http://127.0.0.1:9: start one (`npm run demo -- --serve -1` runs the demo's), or point SAGASTREAM_API_URL (or --api) at one",
    ]);
  });
});

describe("acting from the console", () => {
  const sagaId = `${app}-held-1`;
  const others = [`${app}-held-2`, `${app}-held-3`];

  beforeAll(async () => {
    const producer = createProducer(kafka);
    await producer.send({
      messages: [
        ...[sagaId, ...others].map((id) => ({
          topic: startTopic,
          key: id,
          value: Buffer.from(JSON.stringify({ id })),
        })),
        { topic: startTopic, key: "garbage", value: Buffer.from("{not json") },
      ],
    });
    await producer.close();
  });

  it("cancels a running saga from its page, and it ends CANCELLED", async () => {
    const api = worker.apiAddress;
    await page.goto(`${api}/ui/login`);
    await page.fill("input[name=token]", TOKEN);
    await page.click("button[type=submit]");
    await waitUntil(
      async () => {
        await page.goto(`${api}/ui?status=RUNNING`);
        return (await page.locator(`#sagas a:text("${sagaId}")`).count()) === 1 ? true : undefined;
      },
      { timeoutMs: 60_000, description: `${sagaId} listed RUNNING` },
    );
    await page.click(`#sagas a:text("${sagaId}")`);
    expect(await visibleText(page.locator("#saga-status"))).toBe("RUNNING");
    await shot("saga-running");
    await page.fill("input[name=reason]", "cancelled by the console test");
    await page.click("button.danger");
    expect(await visibleText(page.locator("#action-done"))).toContain("Cancel requested");
    await waitUntil(
      async () => {
        await page.reload();
        return (await page.locator("#saga-status").textContent()) === "CANCELLED"
          ? true
          : undefined;
      },
      { timeoutMs: 30_000, description: `${sagaId} CANCELLED on its page` },
    );
    expect(await visibleText(page.locator(".facts .note"))).toContain(
      "cancelled by the console test",
    );
    await shot("saga-cancelled");
  });

  it("cancels every saga a filter matches, after counting them", async () => {
    const api = worker.apiAddress;
    await page.goto(`${api}/ui?status=RUNNING&type=hold`);
    expect((await page.locator("#sagas tbody a").allTextContents()).sort()).toEqual(others);
    await page.click("button:text('Count sagas to cancel')");
    expect(await visibleText(page.locator("#bulk-count"))).toContain("2 saga(s) to cancel");
    await shot("bulk-count");
    await page.click("#bulk-count button.danger");
    expect(await visibleText(page.locator("#bulk-done"))).toBe(
      "Cancel requested for 2 of 2 saga(s).",
    );
    await waitUntil(
      async () => {
        await page.goto(`${api}/ui?status=CANCELLED`);
        const listed = await page.locator("#sagas tbody a").allTextContents();
        return listed.length === 3 ? listed : undefined;
      },
      { timeoutMs: 30_000, description: "the three sagas listed CANCELLED" },
    );
    expect(await page.locator("#sagas tbody a").allTextContents()).toEqual(
      [sagaId, ...others].sort(),
    );
    await shot("bulk-cancelled");
  });

  it("re-drives a dead letter to its origin topic", async () => {
    const api = worker.apiAddress;
    const dlq = `${app}.dlq`;
    await waitUntil(
      async () => {
        await page.goto(`${api}/ui/dead-letters`);
        return (await page.locator("#dead-letters tbody tr").count()) >= 1 ? true : undefined;
      },
      { timeoutMs: 60_000, description: `a dead letter listed from ${dlq}` },
    );
    const row = page.locator("#dead-letters tbody tr").first();
    const at = (await row.getAttribute("data-offset")) ?? "";
    expect(await visibleText(row)).toContain(startTopic);
    expect(await visibleText(row)).toContain("undecodable");
    expect(await visibleText(row.locator(".redriven"))).toBe("-");
    await open(`${api}/ui/dead-letters`, "dead letters");
    await shot("dead-letters");
    await row.locator("button").click();
    expect(await visibleText(page.locator("#redrive-done"))).toContain("Re-drove 1 of 1 selected");
    await page.reload();
    expect(
      await visibleText(page.locator("#dead-letters tbody tr").first().locator(".redriven")),
    ).toContain(`${startTopic}/`);
    // Sent back as it came, marked: the origin now holds the garbage twice, once re-driven.
    const records = await readTopic(kafka, startTopic, 3, { timeoutMs: 30_000 });
    const redriven = records.filter((r) => r.headers["sagastream.redrive.from"] !== undefined);
    expect(redriven.map((r) => [r.key, r.value?.toString()])).toEqual([["garbage", "{not json"]]);
    expect(redriven[0]?.headers["sagastream.redrive.from"]).toBe(`${dlq}/${at.replace(":", "@")}`);
    await shot("dead-letters-redriven");
  });
});

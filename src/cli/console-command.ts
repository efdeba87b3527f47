/**
 * `sagastream console`: the operator's console of the saga workers the API URL names (the
 * local demo's by default). It checks that a worker answers there, prints the console's URL
 * and opens it in the desktop's browser when there is one.
 */
import { spawn } from "node:child_process";
import { Command } from "commander";
import { loadConfig } from "../config/index.js";
import { WorkerUnavailableError } from "../errors/index.js";
import { apiOption } from "./api-client.js";

/** The desktop's "open this URL" command, if this machine has a desktop. */
function opener(): string | undefined {
  if (process.platform === "darwin") return "open";
  if (process.platform === "win32") return undefined;
  const display = process.env["DISPLAY"] ?? process.env["WAYLAND_DISPLAY"];
  return display === undefined || display === "" ? undefined : "xdg-open";
}

export function consoleCommand(): Command {
  return new Command("console")
    .description(
      "open the operator's console (/ui, served by every saga worker's API) in a browser, or print its URL",
    )
    .addOption(apiOption())
    .option("--no-open", "print the URL only")
    .action(async (flags: { api?: string; open: boolean }) => {
      const api = (flags.api ?? loadConfig().apiUrl).replace(/\/$/, "");
      let health: { status?: string; partitions?: number[] };
      try {
        const response = await fetch(`${api}/health`, { signal: AbortSignal.timeout(5_000) });
        health = (await response.json()) as typeof health;
      } catch {
        throw new WorkerUnavailableError(api);
      }
      const url = `${api}/ui`;
      const tokens =
        process.env["SAGASTREAM_API_TOKEN"] ?? process.env["SAGASTREAM_API_TOKEN_FILE"];
      process.stdout.write(
        `console: ${url}\n` +
          `  the worker there is ${health.status ?? "?"}, running partition(s) ${(health.partitions ?? []).join(", ") || "none yet"}\n` +
          (tokens === undefined
            ? "  (a worker with API tokens asks for one: log in with SAGASTREAM_API_TOKEN to act, SAGASTREAM_API_READ_TOKEN to look)\n"
            : "  log in with the SAGASTREAM_API_TOKEN you started the workers with\n"),
      );
      const command = flags.open ? opener() : undefined;
      if (command === undefined) return;
      const child = spawn(command, [url], { stdio: "ignore", detached: true });
      child.on("error", () => undefined); // no browser: the URL above is enough
      child.unref();
    });
}

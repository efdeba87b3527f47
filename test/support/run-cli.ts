/** Runs this build's `sagastream` (dist/cli/main.js) and gives back its exit code and output. */
import { execFile } from "node:child_process";
import path from "node:path";

export const CLI_MAIN = path.resolve("dist/cli/main.js");

export interface CliRun {
  /** null when a signal ended it. */
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `env` adds to the test's environment. Never rejects: a failure is what is being tested. */
export function runCli(args: readonly string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI_MAIN, ...args],
      { env: { ...process.env, ...env } },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

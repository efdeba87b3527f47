/**
 * Resolves the stack's JVM components from Maven Central with the pom.xml kept beside this
 * file, into <state dir>/jvm. Skipped when the same pom was already resolved there. The first
 * download is a few hundred MB, so it reports progress as it goes.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import path from "node:path";
import { createInterface } from "node:readline";
import { ComponentFailedError } from "../errors/index.js";
import { secondsSince } from "../util/index.js";
import { packageRoot } from "./paths.js";
import type { Prerequisites } from "./prerequisites.js";
import type { Reporter } from "./reporter.js";

export function pomPath(): string {
  return path.join(packageRoot(), "src", "stack", "pom.xml");
}

/** Parses Maven's `Downloaded from central: <url> (12 kB at 3.4 MB/s)` lines. */
export function downloadedBytes(line: string): number | undefined {
  const match = /^(?:\[INFO\] )?Downloaded from [^:]+: \S+ \(([\d.,]+) (B|kB|KB|MB|GB)/.exec(line);
  if (match === null) return undefined;
  const value = Number((match[1] ?? "0").replace(",", ""));
  const unit = { B: 1, kB: 1e3, KB: 1e3, MB: 1e6, GB: 1e9 }[
    match[2] as "B" | "kB" | "KB" | "MB" | "GB"
  ];
  return Math.round(value * unit);
}

export async function resolveJvmComponents(
  jvmDir: string,
  prereqs: Prerequisites,
  report: Reporter,
): Promise<void> {
  const pom = pomPath();
  const digest = createHash("sha256")
    .update(await readFile(pom))
    .digest("hex");
  const marker = path.join(jvmDir, ".resolved");
  if (existsSync(marker) && (await readFile(marker, "utf8")).trim() === digest) return;

  report(
    `resolving JVM components (Kafka, Connect, MirrorMaker 2, Debezium, Apicurio) with ${pom}`,
  );
  const started = Date.now();
  let files = 0;
  let bytes = 0;
  const output: string[] = [];
  const child = spawn(
    prereqs.mvn,
    ["-B", "-f", pom, `-Dstack.dir=${jvmDir}`, "generate-resources"],
    { env: { ...process.env, JAVA_HOME: prereqs.javaHome }, stdio: ["ignore", "pipe", "pipe"] },
  );
  const ticker = setInterval(() => {
    const sofar =
      files === 0
        ? "checking the local Maven repository"
        : `${files} files, ${megabytes(bytes)} MB so far`;
    report(`  resolving: ${sofar} (${secondsSince(started)} s)`);
  }, 3000);
  const lines = createInterface({ input: child.stdout });
  lines.on("line", (line) => {
    output.push(line);
    if (output.length > 200) output.shift();
    const size = downloadedBytes(line);
    if (size !== undefined) {
      files += 1;
      bytes += size;
    }
  });
  child.stderr.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", resolve);
  });
  clearInterval(ticker);
  if (code !== 0) {
    const errors = output
      .filter((l) => l.includes("[ERROR]"))
      .slice(0, 5)
      .join("\n");
    throw new ComponentFailedError(
      "JVM component resolution (mvn)",
      `failed with exit code ${String(code)}:\n${errors || output.slice(-20).join("\n")}`,
    );
  }
  await writeFile(marker, `${digest}\n`);
  const fetched =
    files === 0
      ? "all were in the local Maven repository"
      : `${files} files, ${megabytes(bytes)} MB downloaded`;
  report(`JVM components resolved in ${secondsSince(started)} s (${fetched})`);
}

function megabytes(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

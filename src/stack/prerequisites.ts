/**
 * Finds the tools the local stack runs on: a Java 17–21 runtime (Kafka 3.9 and Apicurio 3.0
 * are tested there; a newer default JDK may also be installed), Maven, and the PostgreSQL
 * server binaries. Each missing one is one clear error saying what to install.
 */
import { execFile } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { PrerequisiteError } from "../errors/index.js";

const run = promisify(execFile);

export interface Prerequisites {
  javaHome: string;
  java: string;
  javaMajor: number;
  mvn: string;
  pgBin: string;
  /** Set when running as root: PostgreSQL refuses root, so it runs as this user. */
  postgresUser: string | undefined;
}

const SUPPORTED_JAVA = { min: 17, max: 21 };

export interface PrerequisiteOverrides {
  javaHome: string | undefined;
  pgBin: string | undefined;
}

export async function findPrerequisites(overrides: PrerequisiteOverrides): Promise<Prerequisites> {
  const [java, mvn, pgBin] = await Promise.all([
    findJava(overrides.javaHome),
    findMaven(),
    findPostgresBin(overrides.pgBin),
  ]);
  const postgresUser = process.getuid?.() === 0 ? await findPostgresUser() : undefined;
  return { ...java, mvn, pgBin, postgresUser };
}

async function javaMajor(javaBin: string): Promise<number | undefined> {
  try {
    const { stderr, stdout } = await run(javaBin, ["-version"]);
    const match = /version "(\d+)(?:\.(\d+))?/.exec(stderr + stdout);
    if (match === null) return undefined;
    const major = Number(match[1]);
    return major === 1 ? Number(match[2]) : major;
  } catch {
    return undefined;
  }
}

function javaHomeCandidates(): string[] {
  const candidates: string[] = [];
  if (process.env.JAVA_HOME) candidates.push(process.env.JAVA_HOME);
  const jvmDir = "/usr/lib/jvm";
  if (existsSync(jvmDir)) {
    // Prefer the lowest supported version: the one the components are built and tested for.
    const homes = readdirSync(jvmDir)
      .filter((d) => /\d/.test(d))
      .sort((a, b) => versionOf(a) - versionOf(b));
    candidates.push(...homes.map((d) => path.join(jvmDir, d)));
  }
  return candidates;
}

function versionOf(dirName: string): number {
  return Number(/(\d+)/.exec(dirName)?.[1] ?? 999);
}

async function findJava(
  override: string | undefined,
): Promise<{ javaHome: string; java: string; javaMajor: number }> {
  const seen: string[] = [];
  if (override !== undefined) {
    const major = await javaMajor(path.join(override, "bin", "java"));
    if (major !== undefined && major >= SUPPORTED_JAVA.min && major <= SUPPORTED_JAVA.max) {
      return { javaHome: override, java: path.join(override, "bin", "java"), javaMajor: major };
    }
    throw new PrerequisiteError(
      `Java ${SUPPORTED_JAVA.min}–${SUPPORTED_JAVA.max} at SAGASTREAM_JAVA_HOME=${override}`,
      `found ${major === undefined ? "no java there" : `Java ${major}`}; point it at a JDK ${SUPPORTED_JAVA.min}–${SUPPORTED_JAVA.max} home or unset it`,
    );
  }
  for (const home of javaHomeCandidates()) {
    const java = path.join(home, "bin", "java");
    if (!existsSync(java)) continue;
    const major = await javaMajor(java);
    seen.push(`${home} (${major ?? "unknown version"})`);
    if (major !== undefined && major >= SUPPORTED_JAVA.min && major <= SUPPORTED_JAVA.max) {
      return { javaHome: home, java, javaMajor: major };
    }
  }
  const onPath = await javaMajor("java");
  if (onPath !== undefined && onPath >= SUPPORTED_JAVA.min && onPath <= SUPPORTED_JAVA.max) {
    const { stdout } = await run("sh", ["-c", 'readlink -f "$(command -v java)"']);
    const java = stdout.trim();
    return { javaHome: path.dirname(path.dirname(java)), java, javaMajor: onPath };
  }
  throw new PrerequisiteError(
    `Java ${SUPPORTED_JAVA.min}–${SUPPORTED_JAVA.max}`,
    `install it (Debian: \`apt-get install openjdk-17-jdk-headless\`) or set SAGASTREAM_JAVA_HOME` +
      (seen.length > 0 ? `; found only ${seen.join(", ")}` : ""),
  );
}

async function findMaven(): Promise<string> {
  try {
    await run("mvn", ["--version"]);
    return "mvn";
  } catch {
    throw new PrerequisiteError(
      "Apache Maven (mvn)",
      "install it (Debian: `apt-get install maven`); it fetches the stack's JARs from Maven Central",
    );
  }
}

async function findPostgresBin(override: string | undefined): Promise<string> {
  if (override !== undefined) {
    if (existsSync(path.join(override, "initdb")) && existsSync(path.join(override, "postgres")))
      return override;
    throw new PrerequisiteError(
      `PostgreSQL server binaries at SAGASTREAM_PG_BIN=${override}`,
      "point it at the directory holding initdb and postgres, or unset it",
    );
  }
  const candidates: string[] = [];
  try {
    const { stdout } = await run("pg_config", ["--bindir"]);
    candidates.push(stdout.trim());
  } catch {
    // pg_config is in the -dev package; fall back to the Debian layout
  }
  const debian = "/usr/lib/postgresql";
  if (existsSync(debian)) {
    const versions = readdirSync(debian).sort((a, b) => Number(b) - Number(a));
    candidates.push(...versions.map((v) => path.join(debian, v, "bin")));
  }
  const found = candidates.find(
    (dir) => existsSync(path.join(dir, "initdb")) && existsSync(path.join(dir, "postgres")),
  );
  if (found === undefined) {
    throw new PrerequisiteError(
      "PostgreSQL server binaries (initdb, postgres)",
      "install them (Debian: `apt-get install postgresql`) or set SAGASTREAM_PG_BIN to their directory",
    );
  }
  return found;
}

async function findPostgresUser(): Promise<string> {
  try {
    await run("id", ["-u", "postgres"]);
    await run("setpriv", ["--version"]);
    return "postgres";
  } catch {
    throw new PrerequisiteError(
      "a `postgres` system user and setpriv (util-linux)",
      "PostgreSQL refuses to run as root; create the user (`useradd --system postgres`) or run as a normal user",
    );
  }
}

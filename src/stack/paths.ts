/** The layout of the stack's state dir. Everything the stack writes lives under it. */
import { existsSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export interface StackPaths {
  root: string;
  /** Resolved JARs: lib/ (Kafka, Connect, MM2), plugins/ (Debezium), registry/ (Apicurio). */
  jvm: string;
  logs: string;
  run: string;
  log4j: string;
  /** The component's own directory (config and data). */
  componentDir(name: string): string;
  logFile(name: string): string;
  pidFile(name: string): string;
}

export function stackPaths(root: string): StackPaths {
  return {
    root,
    jvm: path.join(root, "jvm"),
    logs: path.join(root, "logs"),
    run: path.join(root, "run"),
    log4j: path.join(root, "log4j.properties"),
    componentDir: (name) => path.join(root, name),
    logFile: (name) => path.join(root, "logs", `${name}.log`),
    pidFile: (name) => path.join(root, "run", `${name}.pid`),
  };
}

/** The installed package's root (where package.json and src/stack/pom.xml are). */
export function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, "package.json"))) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error("sagastream's package.json was not found");
    dir = parent;
  }
  return dir;
}

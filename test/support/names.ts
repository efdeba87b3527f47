/** Unique names per test file, so files never see each other's topics, groups or tables. */
import { randomBytes } from "node:crypto";

export function uniqueName(label: string): string {
  return `t${Date.now().toString(36)}${randomBytes(3).toString("hex")}_${label}`;
}

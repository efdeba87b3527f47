/** Java .properties files, written from plain objects. */
import { chmod, mkdir, writeFile } from "node:fs/promises";
import path from "node:path";

export type Properties = Record<string, string | number | boolean>;

function escape(text: string, isKey: boolean): string {
  let out = text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/\r/g, "\\r");
  if (isKey) out = out.replace(/([=: #!])/g, "\\$1");
  return out.replace(/^([ #!])/, "\\$1");
}

export function renderProperties(props: Properties, header?: string): string {
  const lines = header === undefined ? [] : header.split("\n").map((l) => `# ${l}`);
  for (const [key, value] of Object.entries(props)) {
    lines.push(`${escape(key, true)}=${escape(String(value), false)}`);
  }
  return `${lines.join("\n")}\n`;
}

/** Writes a .properties file, creating its directory; readable by its owner only if `secret`. */
export async function writeProperties(
  file: string,
  props: Properties,
  header?: string,
  options: { secret: boolean } = { secret: false },
): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  const mode = options.secret ? 0o600 : 0o644;
  await writeFile(file, renderProperties(props, header), { mode });
  await chmod(file, mode); // writeFile's mode applies to a new file only
}

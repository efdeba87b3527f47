/** Java .properties files, written from plain objects. */

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

/**
 * The console's scripts and styles, served from the package itself (no CDN, nothing fetched
 * at run time): htmx and uPlot from their npm packages, the console's own from assets/console.
 * Read once, on first use.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const own = (name: string) =>
  fileURLToPath(new URL(`../../assets/console/${name}`, import.meta.url));

const FILES: Record<string, { path: () => string; type: string }> = {
  "htmx.min.js": {
    path: () => require.resolve("htmx.org/dist/htmx.min.js"),
    type: "text/javascript",
  },
  "uPlot.min.js": {
    path: () => require.resolve("uplot/dist/uPlot.iife.min.js"),
    type: "text/javascript",
  },
  "uPlot.min.css": { path: () => require.resolve("uplot/dist/uPlot.min.css"), type: "text/css" },
  "console.css": { path: () => own("console.css"), type: "text/css" },
  "charts.js": { path: () => own("charts.js"), type: "text/javascript" },
};

const loaded = new Map<string, Buffer>();

/** The asset named, with its content type; undefined for any other name. */
export function consoleAsset(name: string): { body: Buffer; type: string } | undefined {
  const file = Object.hasOwn(FILES, name) ? FILES[name] : undefined;
  if (file === undefined) return undefined;
  let body = loaded.get(name);
  if (body === undefined) {
    body = readFileSync(file.path());
    loaded.set(name, body);
  }
  return { body, type: file.type };
}

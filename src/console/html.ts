/**
 * HTML the console writes: a tagged template that escapes every value it is given unless the
 * value is itself Html (so a saga id, a reason or a dead letter's bytes can never become
 * markup), and the page every view shares.
 */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

type Value = Html | string | number | boolean | undefined | null | readonly Value[];

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

function render(value: Value): string {
  if (value === undefined || value === null || value === false) return "";
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map((v: Value) => render(v)).join("");
  return escapeHtml(String(value));
}

export function html(strings: TemplateStringsArray, ...values: Value[]): Html {
  let text = strings[0] ?? "";
  values.forEach((value, i) => {
    text += render(value) + (strings[i + 1] ?? "");
  });
  return new Html(text);
}

export const NAV = [
  ["/ui", "Sagas"],
  ["/ui/group", "Group"],
  ["/ui/charts", "Charts"],
  ["/ui/dead-letters", "Dead letters"],
] as const;

/** A whole page: the navigation, the application's name, the view. */
export function page(options: {
  title: string;
  application: string;
  current: string;
  body: Html;
  /** Extra scripts the view needs (the charts' uPlot). */
  scripts?: readonly string[];
}): Html {
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${options.title} · sagastream</title>
        <link rel="stylesheet" href="/ui/assets/console.css" />
        <script src="/ui/assets/htmx.min.js" defer></script>
        ${(options.scripts ?? []).map((s) => html`<script src="${s}" defer></script>`)}
      </head>
      <body>
        <header>
          <span class="brand">sagastream</span><span class="app">${options.application}</span>
          <nav>
            ${NAV.map(
              ([href, label]) =>
                html`<a
                  href="${href}"
                  ${options.current === href ? new Html(' aria-current="page"') : ""}
                  >${label}</a
                >`,
            )}
          </nav>
        </header>
        <main>
          <h1>${options.title}</h1>
          ${options.body}
        </main>
      </body>
    </html> `;
}

/** A time as the console shows it (UTC, to the millisecond). */
export function when(ms: number | string | undefined): string {
  if (ms === undefined) return "-";
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? "-" : date.toISOString().replace("T", " ").replace("Z", "");
}

/**
 * Dead letters in the console: the application's dead-letter topics (its workers' and its
 * participants'), each letter with its reason, origin and record decoded where it decodes,
 * and re-drive of one or of every one a filter selects (ops/dead-letters.ts, as `sagastream
 * dlq` does: once each unless forced, in a transaction with `<dlq>.redrives`).
 */
import { UsageError } from "../errors/index.js";
import {
  decodeDeadLetter,
  readDeadLetters,
  redriveDeadLetters,
  type DeadLetter,
  type DeadLetterFilter,
} from "../ops/index.js";
import { html, when, type Html } from "./html.js";
import type { ConsoleSources } from "./sources.js";

const SHOWN = 200;
const RAW_PREVIEW_BYTES = 120;

export function deadLetterFilter(params: URLSearchParams): DeadLetterFilter {
  const value = (name: string) => {
    const v = params.get(name);
    return v === null || v === "" ? undefined : v;
  };
  const offset = value("offset");
  return {
    origin: value("origin"),
    code: value("code"),
    offsets: offset === undefined ? undefined : [offset],
  };
}

/** The first bytes of an undecodable value, as text where they are printable. */
function rawPreview(value: Buffer | null): string {
  if (value === null) return "(no value: a tombstone)";
  const text = value.subarray(0, RAW_PREVIEW_BYTES).toString("latin1");
  // eslint-disable-next-line no-control-regex -- control bytes are what it replaces
  const shown = text.replace(/[\u0000-\u001f\u007f-\u00a0]/g, "·");
  return value.length > RAW_PREVIEW_BYTES ? `${shown}… (${value.length} bytes)` : shown;
}

function chosenTopic(sources: ConsoleSources, params: URLSearchParams): string {
  const topics = sources.deadLetterTopics();
  const asked = params.get("topic");
  if (asked === null || asked === "") return topics[0] ?? "";
  if (!topics.includes(asked)) {
    throw new UsageError(
      `${asked} is not a dead-letter topic of this application: ${topics.join(", ")}`,
    );
  }
  return asked;
}

/** The letters, or none when the topic does not exist yet (nothing was ever dead-lettered). */
async function lettersOf(
  sources: ConsoleSources,
  topic: string,
  filter: DeadLetterFilter,
): Promise<DeadLetter[] | undefined> {
  try {
    return await readDeadLetters(sources.kafka, topic, filter);
  } catch (error) {
    if (error instanceof UsageError) return undefined;
    throw error;
  }
}

async function letterRow(
  sources: ConsoleSources,
  topic: string,
  letter: DeadLetter,
): Promise<Html> {
  const what = await decodeDeadLetter(sources.codec, letter);
  const at = `${letter.partition}:${letter.offset}`;
  const origin =
    letter.origin === undefined
      ? "?"
      : `${letter.origin.topic}/${letter.origin.partition}@${letter.origin.offset}`;
  return html`<tr data-offset="${at}">
    <td class="mono">${at}</td>
    <td class="mono">${when(letter.timestamp)}</td>
    <td class="mono">${origin}</td>
    <td>${letter.code ?? "?"}</td>
    <td>${letter.reason ?? ""}</td>
    <td>
      ${
        what.decodes
          ? html`<pre>
${JSON.stringify(
                what.rows.map((r) => ({ type: r.type, value: r.value })),
                null,
                1,
              )}</pre>`
          : html`<span class="note">undecodable: ${what.why}</span>
              <code class="raw">${rawPreview(letter.record.value)}</code>`
      }
    </td>
    <td class="redriven">
      ${letter.redriven === undefined ? "-" : `${when(letter.redriven.at)} → ${letter.redriven.to}`}
    </td>
    <td>
      ${
        letter.origin === undefined
          ? ""
          : html`<form
              hx-post="/ui/dead-letters/redrive"
              hx-target="#redrive-result"
              hx-confirm="Re-drive dead letter ${at} to ${origin}?"
            >
              <input type="hidden" name="topic" value="${topic}" /><input
                type="hidden"
                name="offset"
                value="${at}"
              />
              ${letter.redriven === undefined ? "" : html`<input type="hidden" name="force" value="true" />`}
              <button type="submit" class="plain">
                ${letter.redriven === undefined ? "Re-drive" : "Re-drive again"}
              </button>
            </form>`
      }
    </td>
  </tr>`;
}

export async function deadLettersPage(
  sources: ConsoleSources,
  params: URLSearchParams,
): Promise<Html> {
  const topic = chosenTopic(sources, params);
  const filter = deadLetterFilter(params);
  const letters = await lettersOf(sources, topic, filter);
  const shown = (letters ?? []).slice(-SHOWN);
  const rows = await Promise.all(shown.map((l) => letterRow(sources, topic, l)));
  const filtered = filter.origin !== undefined || filter.code !== undefined;
  return html`<form class="filters" method="get" action="/ui/dead-letters">
      <label
        >topic<select name="topic">
          ${sources
            .deadLetterTopics()
            .map((t) => html`<option${t === topic ? html` selected` : ""}>${t}</option>`)}
        </select></label
      >
      <label>origin topic<input name="origin" value="${filter.origin ?? ""}" size="30" /></label>
      <label
        >code<input
          name="code"
          value="${filter.code ?? ""}"
          size="24"
          placeholder="DESERIALIZATION_FAILED"
      /></label>
      <button type="submit">Filter</button>
    </form>
    <div id="redrive-result"></div>
    ${
      letters === undefined
        ? html`<p class="note">
            No dead letters: ${topic} does not exist yet (nothing was ever dead-lettered there).
          </p>`
        : html`<p class="note">
              ${letters.length} dead
              letter(s)${letters.length > SHOWN ? `, the last ${SHOWN} shown` : ""}.
            </p>
            ${
              filtered && letters.length > 0
                ? html`<form
                    hx-post="/ui/dead-letters/redrive"
                    hx-target="#redrive-result"
                    hx-confirm="Re-drive the ${letters.length} dead letter(s) this filter selects (those re-driven before are skipped)?"
                  >
                    <input type="hidden" name="topic" value="${topic}" /><input
                      type="hidden"
                      name="origin"
                      value="${filter.origin ?? ""}"
                    /><input type="hidden" name="code" value="${filter.code ?? ""}" />
                    <button type="submit">Re-drive the ${letters.length} selected</button>
                  </form>`
                : ""
            }
            <table id="dead-letters">
              <thead>
                <tr>
                  <th>at</th>
                  <th>dead-lettered (UTC)</th>
                  <th>origin</th>
                  <th>code</th>
                  <th>reason</th>
                  <th>record</th>
                  <th>re-driven</th>
                  <th></th>
                </tr>
              </thead>
              <tbody>
                ${rows}
              </tbody>
            </table>`
    }`;
}

/** Re-drives what the form selects: one letter (offset), or every one its filter selects. */
export async function redriveFromForm(
  sources: ConsoleSources,
  form: URLSearchParams,
): Promise<Html> {
  const topic = chosenTopic(sources, form);
  const filter = deadLetterFilter(form);
  if (Object.values(filter).every((v) => v === undefined)) {
    throw new UsageError("say which dead letters to re-drive: one, or a filter by origin or code");
  }
  const letters = await readDeadLetters(sources.kafka, topic, filter);
  const result = await redriveDeadLetters(sources.kafka, topic, letters, {
    force: form.get("force") === "true",
  });
  const place = (l: DeadLetter) => `${l.partition}:${l.offset}`;
  return html`<div class="result" id="redrive-done">
    Re-drove ${result.redriven.length} of ${letters.length}
    selected${result.redriven.length === 0 ? "" : ` (${result.redriven.map(place).join(", ")})`}${result.refused.length === 0 ? "" : `; refused ${result.refused.length}, re-driven before`}${result.unplaced.length === 0 ? "" : `; skipped ${result.unplaced.length} without origin`}.
    <a href="/ui/dead-letters?topic=${encodeURIComponent(topic)}">Reload</a>
  </div>`;
}

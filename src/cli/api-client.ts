/** A saga worker's HTTP API from the shell, with the environment's token. */
import { Option } from "commander";
import { apiTokensFromEnv, peerAuthorization } from "../api/index.js";
import { loadConfig } from "../config/index.js";
import { UsageError, WorkerUnavailableError } from "../errors/index.js";

export function apiOption(): Option {
  return new Option("--api <url>", "a saga worker's HTTP API (env SAGASTREAM_API_URL)");
}

/** Calls the API with the environment's token; `body` is sent as JSON by POST. */
export async function call<T>(api: string | undefined, path: string, body?: unknown): Promise<T> {
  const { status, answer } = await callForStatus(api, path, body);
  if (status >= 300) throw new UsageError(answer.error ?? `the API answered ${status}`);
  return answer as T;
}

/** `call`, answering whatever the status (a batch reports in full even when incomplete). */
export async function callForStatus(
  api: string | undefined,
  path: string,
  body?: unknown,
): Promise<{ status: number; answer: { error?: string } }> {
  const base = api ?? loadConfig().apiUrl;
  const headers: Record<string, string> = peerAuthorization(apiTokensFromEnv());
  const init: RequestInit =
    body === undefined
      ? { headers }
      : {
          method: "POST",
          headers: { ...headers, "content-type": "application/json" },
          body: JSON.stringify(body),
        };
  let response: Response;
  try {
    response = await fetch(`${base}${path}`, init);
  } catch {
    throw new WorkerUnavailableError(base);
  }
  const answer = (await response.json()) as { error?: string };
  return { status: response.status, answer };
}

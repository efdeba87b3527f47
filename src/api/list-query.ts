/**
 * A saga listing's filter as a query string and back (`GET /sagas?status=&type=&version=&from=
 * &to=&after=&limit=`), as the API takes it, the console's forms send it and a worker asks its
 * peers with it. `after` is the cursor of the page before, opaque to callers.
 */
import { SagaStatus } from "../saga/index.js";
import { HttpError } from "./http-error.js";
import { ALL_STATUSES, type ListFilter } from "./saga-queries.js";

export const MAX_LIST_LIMIT = 10_000;

function timeParam(params: URLSearchParams, name: string): number | undefined {
  const value = params.get(name);
  if (value === null || value === "") return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (Number.isNaN(ms)) {
    throw new HttpError(400, `${name} must be an ISO time (2026-12-04T14:00:00Z) or ms since 1970`);
  }
  return ms;
}

/** The filter a query string asks for (`defaultLimit` when it names no limit). */
export function parseListQuery(params: URLSearchParams, defaultLimit = 100): ListFilter {
  const statuses = params
    .getAll("status")
    .flatMap((s) => s.split(","))
    .filter((s) => s !== "");
  const unknown = statuses.filter((s) => !ALL_STATUSES.includes(s as SagaStatus));
  if (unknown.length > 0) {
    throw new HttpError(400, `status must be one of ${ALL_STATUSES.join(", ")}`);
  }
  const limitText = params.get("limit");
  const limit = limitText === null || limitText === "" ? defaultLimit : Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
    throw new HttpError(400, `limit must be a whole number from 1 to ${MAX_LIST_LIMIT}`);
  }
  const versionText = params.get("version");
  const version = versionText === null || versionText === "" ? undefined : Number(versionText);
  if (version !== undefined && (!Number.isInteger(version) || version < 1)) {
    throw new HttpError(400, "version must be a whole number ≥ 1");
  }
  const type = params.get("type");
  const after = params.get("after");
  return {
    limit,
    statuses: statuses as SagaStatus[],
    type: type === null || type === "" ? undefined : type,
    version,
    startedAfter: timeParam(params, "from"),
    startedBefore: timeParam(params, "to"),
    after: after === null || after === "" ? undefined : Buffer.from(after, "base64url").toString(),
  };
}

/** The query string that asks for `filter` (without the leading `?`). */
export function listQuery(filter: ListFilter): string {
  const params = new URLSearchParams();
  for (const status of filter.statuses ?? []) params.append("status", status);
  if (filter.type !== undefined) params.set("type", filter.type);
  if (filter.version !== undefined) params.set("version", String(filter.version));
  if (filter.startedAfter !== undefined) params.set("from", String(filter.startedAfter));
  if (filter.startedBefore !== undefined) params.set("to", String(filter.startedBefore));
  if (filter.after !== undefined) {
    params.set("after", Buffer.from(filter.after).toString("base64url"));
  }
  params.set("limit", String(filter.limit));
  return params.toString();
}

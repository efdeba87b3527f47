/**
 * What a request to the API may carry, checked before anything reaches the engine: a JSON
 * object body of at most 64 KiB (not read further), a reason the engine keeps whole, and a path
 * whose escapes decode and whose saga id the engine can key a record by.
 */
import type http from "node:http";
import { DEFAULT_SAGA_LIMITS } from "../saga/index.js";
import { HttpError } from "./http-error.js";

/** Operator requests are a reason at most: anything bigger is refused before it is read. */
const MAX_BODY_BYTES = 64 * 1024;
/** A saga id is a Kafka key the engine hashes and stores: printable, and not a document. */
const MAX_SAGA_ID_LENGTH = 256;
// eslint-disable-next-line no-control-regex -- control characters are what it finds
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

/**
 * The JSON object a POST carries (`{}` for none). Only `application/json` is accepted: a
 * browser cannot send it cross-site without asking first, so a form on another site cannot
 * act on a saga.
 */
export async function readBody(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  const type = (req.headers["content-type"] ?? "").split(";")[0]?.trim().toLowerCase();
  if (type !== "application/json") {
    throw new HttpError(415, "send the request as JSON (content-type: application/json)");
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, "the body is over 64 KiB");
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8").trim();
  if (text === "") return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'the body must be JSON, e.g. {"reason": "..."}');
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new HttpError(400, 'the body must be a JSON object, e.g. {"reason": "..."}');
  }
  return body as Record<string, unknown>;
}

/** The operator's reason: text the engine keeps whole (it cuts longer ones in replies). */
export function reasonOf(body: Record<string, unknown>): string {
  const { reason } = body;
  if (reason === undefined || reason === "") return "by an operator";
  if (typeof reason !== "string") throw new HttpError(400, "reason must be text");
  if (reason.length > DEFAULT_SAGA_LIMITS.maxReasonLength) {
    throw new HttpError(
      400,
      `reason is over ${DEFAULT_SAGA_LIMITS.maxReasonLength} characters (${reason.length})`,
    );
  }
  return reason;
}

/** The path's segments, decoded; a bad escape or an impossible saga id is the caller's error. */
export function pathParts(pathname: string): string[] {
  let parts: string[];
  try {
    parts = pathname
      .split("/")
      .filter((p) => p !== "")
      .map(decodeURIComponent);
  } catch {
    throw new HttpError(400, `the path ${pathname} has a malformed %-escape`);
  }
  const sagaId = parts[0] === "sagas" ? parts[1] : undefined;
  if (
    sagaId !== undefined &&
    (sagaId.length > MAX_SAGA_ID_LENGTH || CONTROL_CHARACTER.test(sagaId))
  ) {
    throw new HttpError(400, `a saga id is at most ${MAX_SAGA_ID_LENGTH} printable characters`);
  }
  return parts;
}

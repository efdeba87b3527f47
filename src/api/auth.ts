/**
 * Who may call the HTTP API: bearer tokens with a scope. `read` answers GETs; `operate` also
 * retries and cancels. Tokens come from the environment or from files (a mounted secret):
 * SAGASTREAM_API_TOKEN / SAGASTREAM_API_TOKEN_FILE (operate) and SAGASTREAM_API_READ_TOKEN /
 * SAGASTREAM_API_READ_TOKEN_FILE (read). With no token configured the API serves loopback
 * callers only: a worker refuses to bind any other address without one.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { ConfigError } from "../errors/index.js";

export const Scope = { Read: "read", Operate: "operate" } as const;
export type Scope = (typeof Scope)[keyof typeof Scope];

export interface ApiTokens {
  /** Retries and cancels, and everything `read` may. */
  operate?: string | undefined;
  /** GETs only. */
  read?: string | undefined;
}

/** Shorter tokens are guessable: refused at start. */
const MIN_TOKEN_LENGTH = 16;

function tokenFrom(
  env: Readonly<Record<string, string | undefined>>,
  key: string,
): string | undefined {
  const file = env[`${key}_FILE`];
  let token = env[key];
  if (file !== undefined && file !== "") {
    try {
      token = readFileSync(file, "utf8").trim();
    } catch (error) {
      throw new ConfigError(`${key}_FILE`, `cannot be read (${(error as Error).message})`);
    }
  }
  if (token === undefined || token === "") return undefined;
  if (token.length < MIN_TOKEN_LENGTH) {
    throw new ConfigError(key, `must be at least ${MIN_TOKEN_LENGTH} characters`);
  }
  return token;
}

/** The API tokens the environment configures (none: a loopback-only API). */
export function apiTokensFromEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
): ApiTokens {
  return {
    operate: tokenFrom(env, "SAGASTREAM_API_TOKEN"),
    read: tokenFrom(env, "SAGASTREAM_API_READ_TOKEN"),
  };
}

export function hasTokens(tokens: ApiTokens): boolean {
  return tokens.operate !== undefined || tokens.read !== undefined;
}

/** Compares digests, so the time taken says nothing of how much of a token matched. */
function same(given: string, expected: string): boolean {
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/**
 * The scope an `Authorization` header grants: `operate`, `read`, or undefined (no token, or a
 * wrong one). Without configured tokens every caller operates (the server is loopback-only).
 */
export function scopeOf(tokens: ApiTokens, authorization: string | undefined): Scope | undefined {
  if (!hasTokens(tokens)) return Scope.Operate;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? "");
  const given = match?.[1];
  if (given === undefined) return undefined;
  if (tokens.operate !== undefined && same(given, tokens.operate)) return Scope.Operate;
  if (tokens.read !== undefined && same(given, tokens.read)) return Scope.Read;
  return undefined;
}

/** The header a worker sends to its peers (they share the group's tokens). */
export function peerAuthorization(tokens: ApiTokens): Record<string, string> {
  const token = tokens.operate ?? tokens.read;
  return token === undefined ? {} : { authorization: `Bearer ${token}` };
}

/** Whether `host` is a loopback address, the only kind served without tokens. */
export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\./.test(host);
}

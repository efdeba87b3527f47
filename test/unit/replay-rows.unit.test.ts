/** Replayed values made plain for JSON (issue 14): bytes as base64, bigints as text, nested. */
import { describe, expect, it } from "vitest";
import { plain, rowJson } from "../../src/ops/index.js";

describe("replayed values", () => {
  it("carry bytes as base64 and bigints as text, at any depth, and the rest as they are", () => {
    const value = {
      id: Buffer.from("hi"),
      nested: [{ n: 12n, ok: true, none: null }, new Uint8Array([255])],
      text: "t",
    };
    expect(rowJson(plain(value))).toBe(
      '{"id":"aGk=","nested":[{"n":"12","ok":true,"none":null},"/w=="],"text":"t"}',
    );
  });
});

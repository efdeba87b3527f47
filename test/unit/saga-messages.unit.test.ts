import { describe, expect, it } from "vitest";
import { decisionId, nameUuid } from "../../src/saga/index.js";

describe("nameUuid", () => {
  it("gives the ids earlier versions gave: receivers deduplicate by them across upgrades", () => {
    // Computed by the first implementation (createHash, hex string sliced).
    expect(nameUuid("x/y")).toBe("748fdbd6-c0b3-5896-bca5-75e243f4880c");
  });

  it("is a version 5, RFC 4122 variant UUID, different for different names", () => {
    const ids = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const id = nameUuid(`saga-${i}/pay/do/1`);
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      ids.add(id);
    }
    expect(ids.size).toBe(1000);
    expect(decisionId("s", 1)).toBe(nameUuid("s#1"));
  });
});

import type { CommitOptionsPartition } from "@platformatic/kafka";
import { describe, expect, it } from "vitest";
import { OffsetCommits } from "../../src/kafka/offset-commits.js";

function committer(failures = 0) {
  const commits: CommitOptionsPartition[][] = [];
  let left = failures;
  return {
    commits,
    commit: ({ offsets }: { offsets: CommitOptionsPartition[] }) => {
      if (left > 0) {
        left -= 1;
        return Promise.reject(new Error("REBALANCE_IN_PROGRESS"));
      }
      commits.push(offsets);
      return Promise.resolve();
    },
  };
}

const summary = (offsets: CommitOptionsPartition[] | undefined) =>
  offsets?.map((o) => `${o.topic}/${o.partition}@${o.offset}`);

describe("OffsetCommits", () => {
  it("commits the highest marked offset per partition, once", async () => {
    const commits = new OffsetCommits();
    const target = committer();
    commits.mark("t", 0, 5n, 0);
    commits.mark("t", 0, 3n, 0); // a lower offset never moves it back
    commits.mark("t", 1, 7n, 0);
    await commits.flush(target);
    await commits.flush(target); // nothing new: no commit
    expect(target.commits.map(summary)).toEqual([["t/0@5", "t/1@7"]]);
    expect(commits.pending).toBe(0);
  });

  it("keeps the offsets of a failed commit for the next one, merged with newer marks", async () => {
    const commits = new OffsetCommits();
    const target = committer(1);
    commits.mark("t", 0, 5n, 0);
    await expect(commits.flush(target)).rejects.toThrow(/REBALANCE/);
    commits.mark("t", 0, 9n, 0);
    commits.mark("t", 1, 2n, 0);
    await commits.flush(target);
    expect(target.commits.map(summary)).toEqual([["t/0@9", "t/1@2"]]);
  });

  it("runs one commit at a time; a flush during one commits what was marked meanwhile", async () => {
    const commits = new OffsetCommits();
    let release = () => {};
    const seen: string[][] = [];
    const slow = {
      commit: ({ offsets }: { offsets: CommitOptionsPartition[] }) => {
        seen.push(summary(offsets) ?? []);
        return seen.length === 1 ? new Promise<void>((r) => (release = r)) : Promise.resolve();
      },
    };
    commits.mark("t", 0, 1n, 0);
    const first = commits.flush(slow);
    commits.mark("t", 0, 2n, 0);
    const second = commits.flush(slow);
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen).toEqual([["t/0@1"]]);
    release();
    await Promise.all([first, second]);
    expect(seen).toEqual([["t/0@1"], ["t/0@2"]]);
  });
});

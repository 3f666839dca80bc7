// Installed Debian package versions (part of every guest recipe's key) are remembered in
// the cache while dpkg's database is unchanged: `--default-guest` computes the keys on
// every run, and a dpkg-query per recipe cost most of its start-up.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { packageVersions } from "../guest/cache.js";
import { GuestNotBuiltError, targetDir } from "../guest/paths.js";

const hasDpkg = fs.existsSync("/var/lib/dpkg/status");

function withCache<T>(run: (dir: string) => T): T {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsvisor-cache-"));
  const saved = process.env.TSVISOR_CACHE;
  process.env.TSVISOR_CACHE = dir;
  try {
    return run(dir);
  } finally {
    if (saved === undefined) delete process.env.TSVISOR_CACHE;
    else process.env.TSVISOR_CACHE = saved;
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

test("package versions: queried once, then read from the cache while dpkg's database is unchanged", { skip: !hasDpkg && "no dpkg here" }, () => {
  withCache((dir) => {
    const names = ["dpkg", "tsvisor-no-such-package"];
    const first = packageVersions(names);
    assert.match(first.dpkg!, /^\d/);
    assert.equal(first["tsvisor-no-such-package"], "missing");
    const file = path.join(dir, "package-versions.json");
    const memo = JSON.parse(fs.readFileSync(file, "utf8"));
    assert.deepEqual(memo.versions, first);
    // The remembered answer is the one used (no second query)...
    memo.versions.dpkg = "0-remembered";
    fs.writeFileSync(file, JSON.stringify(memo));
    assert.equal(packageVersions(["dpkg"]).dpkg, "0-remembered");
    // ...until dpkg's database changes (another stamp): then dpkg is asked again.
    memo.stamp = "another database";
    fs.writeFileSync(file, JSON.stringify(memo));
    assert.equal(packageVersions(["dpkg"]).dpkg, first.dpkg);
    // A name not remembered yet is queried and added.
    const more = packageVersions(["dpkg", "coreutils"]);
    assert.match(more.coreutils!, /^\d/);
    assert.equal(JSON.parse(fs.readFileSync(file, "utf8")).versions.coreutils, more.coreutils);
  });
});

test("package versions: an unreadable or corrupt cache file only costs the query", { skip: !hasDpkg && "no dpkg here" }, () => {
  withCache((dir) => {
    fs.writeFileSync(path.join(dir, "package-versions.json"), "{not json");
    assert.match(packageVersions(["dpkg"]).dpkg!, /^\d/);
  });
});

test("a guest that is not built is named with the command that builds it", { skip: !hasDpkg && "no dpkg here" }, () => {
  withCache(() => {
    // An empty cache: x86-kernel is not in `npm run guest`'s default set, so the command
    // must name it.
    assert.throws(() => targetDir("x86-kernel"), (err: Error) =>
      err instanceof GuestNotBuiltError && err.message.includes("`npm run guest -- x86-kernel`"));
  });
});

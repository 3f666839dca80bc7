// bench/kvm.ts's memory figure: finding the guest RAM mapping in /proc/PID/smaps.
import { test } from "node:test";
import assert from "node:assert/strict";
import { guestRamRssKiB } from "../bench/kvm.js";

const block = (range: string, path: string, sizeKiB: number, rssKiB: number) =>
  `${range} rw-p 00000000 00:00 0 ${path}\nSize:           ${sizeKiB} kB\nKernelPageSize:        4 kB\nRss:            ${rssKiB} kB\nPss:  ${rssKiB} kB\n`;

test("the guest RAM mapping is the anonymous one of RAM's size; file mappings of that size do not count", () => {
  const smaps = [
    block("55d0c0000000-55d0c0100000", "/usr/bin/node", 1024, 900),
    block("7f0000000000-7f0010000000", "/tmp/some-file-of-256MiB", 262144, 262144),
    block("7f1000000000-7f1010000000", "", 262144, 40960),
    block("7f2000000000-7f2000400000", "[heap]", 4096, 4000),
  ].join("");
  assert.equal(guestRamRssKiB(smaps), 40960);
  assert.equal(guestRamRssKiB(block("7f1000000000-7f1000100000", "", 1024, 10)), undefined);
});

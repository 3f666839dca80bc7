// A real guest no one here wrote: Debian's OpenSBI (-bios default, no kernel) prints its
// banner and the platform it found in the device tree, then Ctrl-A X quits with status 0.
import { test } from "node:test";
import assert from "node:assert/strict";
import { GuestSession } from "./lib/guest-session.js";

test("OpenSBI boots and describes the virt board", { timeout: 300_000 }, async () => {
  const s = GuestSession.tsvisor(["-M", "virt", "-nographic", "-bios", "default"]);
  try {
    await s.expect(/OpenSBI v\d+\.\d+/);
    assert.match(await s.expect(/Platform Name\s*: [^\n]*\n/), /riscv-virtio,qemu/);
    await s.expect(/Platform HART Count\s*: 1\b/);
    assert.match(await s.expect(/Boot HART Base ISA\s*: [^\n]*\n/), /rv64imafdc/);
    // OpenSBI has nothing to boot next; the console escape still works.
    s.quit();
    assert.deepEqual(await s.exit(), { code: 0, signal: null });
  } finally {
    s.close();
  }
});

// The translation cache's bookkeeping, driven directly (no hart): a pending translation
// that is dropped before it is compiled must not leave its pcs marked hot, or they would
// never be translated.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Jit } from "../src/accel/tcg/jit.js";
import { GuestMemory, RAM_OFFSET } from "../src/machine/guest-memory.js";

const RAM_BASE = 0x80000000;
const HOT = 3;
/** The virtual page both physical pages are mapped at, in turn. */
const PAGE_VA = 0x40000000;

/** A Jit over fresh RAM whose physical pages 1 and 2 hold `addi a0, a0, 1; j .-4`. */
function setup(): { jit: Jit; pageA: number; pageB: number } {
  const mem = new GuestMemory(RAM_BASE, 1 << 20);
  const pageA = RAM_OFFSET + 0x1000, pageB = RAM_OFFSET + 0x2000;
  for (const page of [pageA, pageB]) {
    mem.view.setUint32(page, 0x00150513, true); // addi a0, a0, 1
    mem.view.setUint32(page + 4, 0xffdff06f, true); // jal x0, -4
  }
  const unused = () => {
    throw new Error("no translated code runs in this test");
  };
  const jit = new Jit(mem, 0, mem.hartState(0), mem.hartJumpCache(0), { hot: HOT, tierUp: 100_000 },
    { helpers: { ld: unused, st: unused, ex: unused, fp: unused }, scrubWriteTlb: () => {}, onInvalidate: () => {} });
  return { jit, pageA, pageB };
}

/** Interpreted starts of the loop until find() says it is translated (at most `limit`). */
function startsUntilTranslated(jit: Jit, pc: number, pageOff: number, limit: number): number {
  for (let n = 1; n <= limit; n++) {
    if (jit.find(pc, pageOff)) return n;
    if (n % HOT === 0) jit.compilePending();
  }
  return Infinity;
}

test("jit cache: a pc becomes hot after jit-threshold starts and is found translated after the batch", () => {
  const { jit, pageA } = setup();
  for (let n = 1; n < HOT; n++) assert.equal(jit.find(PAGE_VA, pageA), false);
  assert.equal(jit.find(PAGE_VA, pageA), false); // hot now: waits for its batch
  jit.compilePending();
  assert.equal(jit.find(PAGE_VA, pageA), true);
  assert.equal(jit.stats.chunksTranslated, 1);
});

test("jit cache: a pending translation dropped because its page was remapped leaves its pcs to become hot again", () => {
  const { jit, pageA, pageB } = setup();
  // The loop becomes hot from physical page A; before the batch runs, the virtual page is
  // mapped to B and the loop becomes hot there too: A's job is dropped for B's.
  for (let n = 0; n < HOT; n++) jit.find(PAGE_VA, pageA);
  for (let n = 0; n < HOT; n++) jit.find(PAGE_VA, pageB);
  jit.compilePending();
  assert.equal(jit.find(PAGE_VA, pageB), true, "B's translation is in place");
  assert.equal(jit.stats.chunksTranslated, 1, "A's dropped job was not compiled");
  // Mapped back to A: its counters started again, so the loop is translated after another
  // jit-threshold starts, not never.
  assert.equal(startsUntilTranslated(jit, PAGE_VA, pageA, 10 * HOT), HOT + 1);
  assert.equal(jit.stats.chunksTranslated, 2);
});

test("jit cache: a pending translation dropped by an invalidation of its page leaves its pcs to become hot again", () => {
  const { jit, pageA } = setup();
  // A second entry on an already translated page: its job is pending when the page's
  // code changes.
  for (let n = 0; n < HOT; n++) jit.find(PAGE_VA, pageA);
  jit.compilePending();
  for (let n = 0; n < HOT; n++) jit.find(PAGE_VA + 4, pageA);
  jit.dropPage(pageA);
  jit.compilePending();
  assert.equal(jit.stats.chunksTranslated, 1, "the dropped job was not compiled");
  assert.equal(jit.find(PAGE_VA, pageA), false, "the old translation is gone");
  assert.equal(startsUntilTranslated(jit, PAGE_VA + 4, pageA, 10 * HOT), HOT + 1);
});

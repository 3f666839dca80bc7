import { test } from "node:test";
import assert from "node:assert/strict";
import { Clint } from "../src/hw/intc/clint.js";

const MSIP = (h: number) => 4 * h;
const MTIMECMP = (h: number) => 0x4000 + 8 * h;
const MTIME = 0xbff8;

function make(harts = 1, startNs = 0) {
  const clock = { ns: startNs, nowNs() { return this.ns; } };
  const msip = new Map<number, boolean>();
  const mtip = new Map<number, boolean>();
  const clint = new Clint({
    harts, clock,
    setMsip: (h, l) => msip.set(h, l),
    setMtip: (h, l) => mtip.set(h, l),
  });
  const rd = (off: number) => clint.read(off, 4);
  const wr = (off: number, v: number) => clint.write(off, v, 4);
  return { clint, clock, msip, mtip, rd, wr };
}

test("mtime counts at 10 MHz from the clock", () => {
  const { clint, clock, rd } = make();
  assert.equal(clint.mtime(), 0);
  clock.ns = 1_000_000_000;
  assert.equal(clint.mtime(), 10_000_000);
  clock.ns = 12_345;
  assert.equal(clint.mtime(), 123);
  clock.ns = 500e9; // 5e9 ticks: crosses 2^32
  assert.equal(rd(MTIME), 5e9 % 2 ** 32);
  assert.equal(rd(MTIME + 4), 1);
});

test("a split 64-bit mtime read is not torn across the low word wrapping", () => {
  const { clock, rd } = make(1, (2 ** 32 - 1) * 100);
  const lo = rd(MTIME);
  clock.ns += 1000; // the clock moves between the two halves
  const hi = rd(MTIME + 4);
  assert.equal(hi * 2 ** 32 + lo, 2 ** 32 - 1);
  assert.equal(rd(MTIME + 4), 1); // a lone high read samples afresh
});

test("mtimecmp resets to all-ones: no timer interrupt at boot", () => {
  const { clint, clock, mtip, rd } = make();
  assert.equal(rd(MTIMECMP(0)), 0xffffffff);
  assert.equal(rd(MTIMECMP(0) + 4), 0xffffffff);
  clock.ns = 1e18;
  clint.update();
  assert.equal(mtip.get(0), undefined);
  assert.equal(clint.nextDeadlineNs(), Infinity);
});

test("MTIP follows mtime >= mtimecmp, with the compare written in halves", () => {
  const { clint, clock, mtip, rd, wr } = make();
  clock.ns = 100 * 1000; // mtime 1000
  wr(MTIMECMP(0), 2000); // low half first: cmp = 0xffffffff_000007d0, still far away
  assert.equal(mtip.get(0), undefined);
  wr(MTIMECMP(0) + 4, 0);
  assert.equal(rd(MTIMECMP(0)), 2000);
  assert.equal(clint.nextDeadlineNs(), 2000 * 100);
  clock.ns = 1999 * 100 + 99;
  clint.update();
  assert.equal(mtip.get(0), undefined);
  clock.ns = 2000 * 100;
  clint.update();
  assert.equal(mtip.get(0), true);
  assert.equal(clint.nextDeadlineNs(), Infinity); // the only timer has fired
  wr(MTIMECMP(0) + 4, 1); // pushes it past 2^32 ticks: lowers MTIP immediately
  assert.equal(mtip.get(0), false);
  assert.equal(clint.nextDeadlineNs(), (2 ** 32 + 2000) * 100);
});

test("compare high words across the 2^32 boundary", () => {
  const { clint, clock, mtip, wr } = make();
  clock.ns = (2 ** 32 + 5) * 100;
  wr(MTIMECMP(0) + 4, 0);
  wr(MTIMECMP(0), 0xffffffff); // 0x0_ffffffff < mtime 0x1_00000005
  assert.equal(mtip.get(0), true);
  wr(MTIMECMP(0) + 4, 1); // 0x1_ffffffff > mtime
  assert.equal(mtip.get(0), false);
  wr(MTIMECMP(0), 5); // 0x1_00000005 == mtime
  assert.equal(mtip.get(0), true);
  wr(MTIMECMP(0) + 4, 0x7fffffff);
  clint.update();
  assert.equal(mtip.get(0), false);
});

test("msip bit 0 per hart drives the software interrupt", () => {
  const { msip, rd, wr } = make(2);
  wr(MSIP(1), 0xffffffff);
  assert.equal(rd(MSIP(1)), 1);
  assert.equal(msip.get(1), true);
  assert.equal(msip.get(0), undefined);
  wr(MSIP(1), 0);
  assert.equal(msip.get(1), false);
  wr(MSIP(5), 1); // no such hart
  assert.equal(rd(MSIP(5)), 0);
});

test("per-hart timers and the earliest deadline", () => {
  const { clint, mtip, wr } = make(2);
  wr(MTIMECMP(1), 300);
  wr(MTIMECMP(1) + 4, 0);
  wr(MTIMECMP(0), 700);
  wr(MTIMECMP(0) + 4, 0);
  assert.equal(clint.nextDeadlineNs(), 30_000);
  assert.equal(mtip.get(0), undefined);
});

test("writing mtime moves the offset", () => {
  const { clint, clock, rd, wr } = make();
  clock.ns = 1e6; // 10000 ticks
  wr(MTIME, 50);
  wr(MTIME + 4, 2);
  assert.equal(clint.mtime(), 2 * 2 ** 32 + 50);
  clock.ns += 100;
  assert.equal(rd(MTIME), 51);
  wr(MTIMECMP(0), 100);
  wr(MTIMECMP(0) + 4, 2);
  assert.equal(clint.nextDeadlineNs(), clock.ns + 49 * 100);
});

test("unknown offsets read 0 and ignore writes", () => {
  const { rd, wr, clint } = make();
  wr(0x8000, 1);
  assert.equal(rd(0x8000), 0);
  assert.equal(clint.read(MTIMECMP(0) + 1, 1), 0xff);
});

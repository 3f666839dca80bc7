import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { Plic, PLIC_NDEV, PLIC_SIZE } from "../src/hw/intc/plic.js";

const PRIORITY = (src: number) => 4 * src;
const PENDING = 0x1000;
const ENABLE = (ctx: number) => 0x2000 + 0x80 * ctx;
const THRESHOLD = (ctx: number) => 0x200000 + 0x1000 * ctx;
const CLAIM = (ctx: number) => 0x200004 + 0x1000 * ctx;

function make(harts = 1) {
  const out = new Map<number, boolean>();
  const plic = new Plic({ harts, setContextIrq: (ctx, level) => out.set(ctx, level) });
  const rd = (off: number) => plic.read(off, 4);
  const wr = (off: number, v: number) => plic.write(off, v, 4);
  return { plic, out, rd, wr };
}

test("geometry as on QEMU virt", () => {
  const { plic, rd } = make(2);
  assert.equal(plic.size, PLIC_SIZE);
  assert.equal(PLIC_SIZE, 0x600000);
  assert.equal(plic.ndev, 0x35);
  assert.equal(plic.contexts, 4);
  assert.equal(rd(THRESHOLD(4)), 0); // no such context
  assert.throws(() => plic.irqLine(0));
  assert.throws(() => plic.irqLine(PLIC_NDEV + 1));
});

test("priority and threshold registers hold 3 bits; source 0 is hardwired", () => {
  const { rd, wr } = make();
  wr(PRIORITY(10), 0xff);
  assert.equal(rd(PRIORITY(10)), 7);
  wr(PRIORITY(0), 5);
  assert.equal(rd(PRIORITY(0)), 0);
  wr(THRESHOLD(1), 0x13);
  assert.equal(rd(THRESHOLD(1)), 3);
  wr(ENABLE(0), 0xffffffff);
  assert.equal(rd(ENABLE(0)), 0xfffffffe);
  wr(ENABLE(0) + 4, 0xffffffff);
  assert.equal(rd(ENABLE(0) + 4), (1 << (PLIC_NDEV - 31)) - 1); // sources 32..0x35
});

test("a level source pends, raises the enabled context, and claim/complete cycles it", () => {
  const { plic, out, rd, wr } = make();
  const uart = plic.irqLine(10);
  wr(PRIORITY(10), 1);
  wr(ENABLE(1), 1 << 10); // S-mode context of hart 0
  uart.set(true);
  assert.equal(rd(PENDING), 1 << 10);
  assert.equal(out.get(1), true);
  assert.equal(out.get(0), undefined); // M context never enabled it
  assert.equal(rd(CLAIM(1)), 10);
  assert.equal(rd(PENDING), 0);
  assert.equal(out.get(1), false);
  assert.equal(rd(CLAIM(1)), 0); // in service: no second claim
  // Still high at completion: the gateway forwards it again.
  wr(CLAIM(1), 10);
  assert.equal(out.get(1), true);
  assert.equal(rd(CLAIM(1)), 10);
  uart.set(false);
  wr(CLAIM(1), 10);
  assert.equal(out.get(1), false);
  assert.equal(rd(PENDING), 0);
});

test("claim picks the highest priority, ties go to the lowest id", () => {
  const { plic, rd, wr } = make();
  wr(ENABLE(0), 0xffffffff);
  wr(ENABLE(0) + 4, 0xffffffff);
  for (const [src, prio] of [[3, 2], [5, 6], [7, 6], [40, 7], [41, 1]]) {
    wr(PRIORITY(src), prio);
    plic.irqLine(src).set(true);
  }
  const order = [rd(CLAIM(0)), rd(CLAIM(0)), rd(CLAIM(0)), rd(CLAIM(0)), rd(CLAIM(0)), rd(CLAIM(0))];
  assert.deepEqual(order, [40, 5, 7, 3, 41, 0]);
});

test("threshold masks priorities at or below it; priority 0 never interrupts", () => {
  const { plic, out, rd, wr } = make();
  wr(ENABLE(0), 0b110);
  wr(PRIORITY(1), 3);
  wr(PRIORITY(2), 0);
  wr(THRESHOLD(0), 3);
  plic.irqLine(1).set(true);
  plic.irqLine(2).set(true);
  assert.equal(out.get(0), undefined);
  assert.equal(rd(CLAIM(0)), 0);
  wr(THRESHOLD(0), 2);
  assert.equal(out.get(0), true);
  assert.equal(rd(CLAIM(0)), 1);
});

test("completion of a source not enabled for the context is ignored", () => {
  const { plic, rd, wr } = make();
  wr(PRIORITY(4), 1);
  wr(ENABLE(0), 1 << 4);
  const line = plic.irqLine(4);
  line.set(true);
  assert.equal(rd(CLAIM(0)), 4);
  wr(CLAIM(1), 4); // context 1 does not enable source 4
  assert.equal(rd(CLAIM(0)), 0);
  wr(CLAIM(0), 4);
  assert.equal(rd(CLAIM(0)), 4);
});

test("a line that drops before the claim withdraws its request", () => {
  const { plic, out, rd, wr } = make();
  wr(PRIORITY(8), 1);
  wr(ENABLE(0), 1 << 8);
  plic.irqLine(8).set(true);
  plic.irqLine(8).set(false);
  assert.equal(out.get(0), false);
  assert.equal(rd(CLAIM(0)), 0);
});

test("two harts: each context sees only what it enables", () => {
  const { plic, out, rd, wr } = make(2);
  wr(PRIORITY(1), 1);
  wr(PRIORITY(2), 1);
  wr(ENABLE(3), 1 << 1); // hart 1, S-mode
  wr(ENABLE(2), 1 << 2); // hart 1, M-mode
  plic.irqLine(1).set(true);
  assert.deepEqual([out.get(0), out.get(1), out.get(2), out.get(3)], [undefined, undefined, undefined, true]);
  plic.irqLine(2).set(true);
  assert.equal(out.get(2), true);
  assert.equal(rd(CLAIM(2)), 2);
  assert.equal(rd(CLAIM(3)), 1);
});

test("odd accesses are harmless", () => {
  const { plic, rd } = make();
  plic.write(PRIORITY(1), 7, 1);
  assert.equal(rd(PRIORITY(1)), 0);
  plic.write(0x1234567, 1, 4);
  assert.equal(rd(0x1ffffc), 0);
  assert.equal(plic.read(PRIORITY(2) + 1, 1), 0);
});

test("property: the output is high exactly when a claim would return a source", () => {
  fc.assert(fc.property(
    fc.array(fc.tuple(fc.integer({ min: 1, max: PLIC_NDEV }), fc.integer({ min: 0, max: 7 }), fc.boolean(), fc.boolean()), { maxLength: 30 }),
    fc.integer({ min: 0, max: 7 }),
    (ops, threshold) => {
      const { plic, out, rd, wr } = make();
      wr(THRESHOLD(0), threshold);
      for (const [src, prio, enabled, level] of ops) {
        wr(PRIORITY(src), prio);
        const w = ENABLE(0) + 4 * (src >>> 5);
        const bit = 1 << (src & 31);
        wr(w, enabled ? rd(w) | bit : rd(w) & ~bit);
        plic.irqLine(src).set(level);
      }
      const high = out.get(0) ?? false;
      const claimed = rd(CLAIM(0));
      assert.equal(high, claimed !== 0);
      if (claimed) {
        const prio = rd(PRIORITY(claimed));
        assert.ok(prio > threshold);
      }
    }));
});

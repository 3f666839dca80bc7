// The virtio-mmio transport and the split virtqueue: registers, feature negotiation,
// reset, interrupts and their suppression, and a hostile driver (fast-check).
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  INT_CONFIG_CHANGE, INT_USED_BUFFER, STATUS_ACKNOWLEDGE, STATUS_DEVICE_NEEDS_RESET, STATUS_DRIVER,
  STATUS_FEATURES_OK, VIRTIO_F_VERSION_1, VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC,
  type VirtioDevice, type VirtioTransport,
} from "../src/hw/virtio/virtio-mmio.js";
import {
  readFromChain, sliceChain, writeToChain, VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE, type VirtqElement,
} from "../src/hw/virtio/virtqueue.js";
import { RAM_BASE, RAM_SIZE, REG, TestDriver } from "./virtio-helpers.js";

/** Takes every chain of queue 0, answers each with its readable bytes reversed. */
class EchoDevice implements VirtioDevice {
  readonly deviceId = 42;
  readonly features = 1n << 3n;
  readonly queueMax = [16];
  popped: VirtqElement[] = [];
  resets = 0;
  t!: VirtioTransport;
  attach(t: VirtioTransport): void {
    this.t = t;
  }
  readConfig(offset: number): number {
    return 0x100 + offset;
  }
  writeConfig(): void {}
  reset(): void {
    this.resets++;
  }
  queueNotify(i: number): void {
    const q = this.t.queues[i];
    for (let el = q.pop(); el; el = q.pop()) {
      this.popped.push(el);
      const data = new Uint8Array(el.readLen);
      readFromChain(this.t.mem, el.readable, 0, data);
      q.push(el, writeToChain(this.t.mem, el.writable, 0, data.reverse()));
    }
    q.notify();
  }
}

function setup(accept?: (f: bigint) => bigint): { d: TestDriver; dev: EchoDevice } {
  const dev = new EchoDevice();
  const d = new TestDriver(dev);
  d.init(accept);
  return { d, dev };
}

test("identity registers and offered features", () => {
  const d = new TestDriver(new EchoDevice());
  assert.equal(d.r(REG.magic), 0x74726976);
  assert.equal(d.r(REG.version), 2);
  assert.equal(d.r(REG.deviceId), 42);
  assert.equal(d.r(0x00c), 0x554d4551);
  assert.equal(d.r(REG.queueNumMax), 16);
  d.w(REG.queueSel, 1);
  assert.equal(d.r(REG.queueNumMax), 0, "no queue 1");
  const f = d.deviceFeatures();
  assert.equal(f, (1n << 3n) | VIRTIO_F_VERSION_1 | VIRTIO_RING_F_INDIRECT_DESC | VIRTIO_RING_F_EVENT_IDX);
  assert.equal(d.t.read(REG.config + 4, 4), 0x104, "config space goes to the device");
  assert.equal(d.t.read(REG.magic, 2), 0, "narrow register reads give 0");
});

test("FEATURES_OK needs VERSION_1 and nothing beyond the offer", () => {
  const d = new TestDriver(new EchoDevice());
  assert.throws(() => d.init((f) => f & ~VIRTIO_F_VERSION_1), /FEATURES_OK refused/);
  assert.throws(() => d.init((f) => f | (1n << 7n)), /FEATURES_OK refused/);
  d.init((f) => f & ~VIRTIO_RING_F_EVENT_IDX);
  assert.equal(d.t.driverFeatures & VIRTIO_RING_F_EVENT_IDX, 0n);
});

test("direct and indirect chains are used, with an interrupt the driver acknowledges", () => {
  const { d, dev } = setup();
  const a = d.post(0, [{ data: Uint8Array.of(1, 2) }, { data: Uint8Array.of(3) }, { writeLen: 2 }, { writeLen: 8 }]);
  const b = d.post(0, [{ data: Uint8Array.of(9, 8, 7) }, { writeLen: 3 }], { indirect: true });
  assert.equal(d.irq, false);
  d.kick(0);
  assert.deepEqual(d.takeUsed(0), [{ id: a.head, len: 3 }, { id: b.head, len: 3 }]);
  assert.deepEqual(d.bytes(a.addrs[2], 2), Uint8Array.of(3, 2));
  assert.deepEqual(d.bytes(a.addrs[3], 1), Uint8Array.of(1));
  assert.deepEqual(d.bytes(b.addrs[1], 3), Uint8Array.of(7, 8, 9));
  assert.equal(dev.popped[0].readLen, 3);
  assert.equal(dev.popped[0].writeLen, 10);
  assert.equal(d.irq, true);
  assert.equal(d.r(REG.interruptStatus), INT_USED_BUFFER);
  d.w(REG.interruptAck, INT_USED_BUFFER);
  assert.equal(d.irq, false);
  assert.equal(d.r(REG.interruptStatus), 0);
});

test("status 0 resets the device and its queues", () => {
  const { d, dev } = setup();
  d.post(0, [{ writeLen: 4 }]);
  d.kick(0);
  assert.equal(d.irq, true);
  d.w(REG.status, 0);
  assert.equal(d.irq, false);
  assert.equal(d.r(REG.status), 0);
  assert.equal(d.r(REG.queueReady), 0);
  assert.equal(dev.resets, 2, "init() resets too");
  assert.equal(d.t.queues[0].size, 0);
  d.init();
  d.post(0, [{ writeLen: 4 }]);
  d.kick(0);
  assert.equal(d.takeUsed(0).length, 1, "works again after re-initialisation");
});

test("a live queue's layout cannot be changed; notifies before DRIVER_OK are ignored", () => {
  const { d } = setup();
  d.w(REG.queueSel, 0);
  d.w(REG.queueNum, 4);
  assert.equal(d.t.queues[0].size, 16);
  const d2 = new TestDriver(new EchoDevice());
  d2.w(REG.status, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
  d2.kick(0); // nothing set up: must not throw
  assert.equal(d2.irq, false);
});

test("EVENT_IDX: used_event suppresses interrupts; avail_event follows what was taken", () => {
  const { d } = setup();
  const usedEvent = d.avail(0) + 4 + 2 * 16;
  const availEvent = d.used(0) + 4 + 8 * 16;
  d.set16(usedEvent, 5); // interrupt only once used idx passes 5
  d.post(0, [{ writeLen: 1 }]);
  d.kick(0);
  assert.equal(d.irq, false, "used idx 1 has not passed 5");
  assert.equal(d.get16(availEvent), 1);
  for (let i = 0; i < 5; i++) d.post(0, [{ writeLen: 1 }]);
  d.kick(0);
  assert.equal(d.irq, true, "used idx 6 passed 5");
  assert.equal(d.get16(availEvent), 6);
});

test("without EVENT_IDX, VIRTQ_AVAIL_F_NO_INTERRUPT suppresses interrupts", () => {
  const { d } = setup((f) => f & ~VIRTIO_RING_F_EVENT_IDX);
  d.set16(d.avail(0), 1);
  d.post(0, [{ writeLen: 1 }]);
  d.kick(0);
  assert.equal(d.takeUsed(0).length, 1);
  assert.equal(d.irq, false);
  d.set16(d.avail(0), 0);
  d.post(0, [{ writeLen: 1 }]);
  d.kick(0);
  assert.equal(d.irq, true);
});

test("sliceChain clips at the chain's end", () => {
  const segs = [{ addr: 100, len: 4 }, { addr: 200, len: 4 }];
  assert.deepEqual(sliceChain(segs, 2, 4), [{ addr: 102, len: 2 }, { addr: 200, len: 2 }]);
  assert.deepEqual(sliceChain(segs, 7, 100), [{ addr: 203, len: 1 }]);
  assert.deepEqual(sliceChain(segs, 8, 1), []);
});

/** Asserts the transport reports DEVICE_NEEDS_RESET with a config interrupt and a warning. */
function assertNeedsReset(d: TestDriver, dev: EchoDevice, popped: number, reason: RegExp): void {
  assert.equal(d.r(REG.status) & STATUS_DEVICE_NEEDS_RESET, STATUS_DEVICE_NEEDS_RESET);
  assert.equal(d.r(REG.interruptStatus) & INT_CONFIG_CHANGE, INT_CONFIG_CHANGE);
  assert.equal(d.irq, true);
  assert.match(d.warnings.join("\n"), reason);
  assert.equal(dev.popped.length, popped);
  // Nothing more happens until a reset, which recovers the device.
  d.post(0, [{ writeLen: 1 }]);
  d.kick(0);
  assert.equal(dev.popped.length, popped);
  d.init();
  d.post(0, [{ writeLen: 1 }]);
  d.kick(0);
  assert.equal(dev.popped.length, popped + 1);
  assert.equal(d.r(REG.status) & STATUS_DEVICE_NEEDS_RESET, 0);
}

const hostile: Array<[string, (d: TestDriver) => void, RegExp]> = [
  ["a descriptor loop", (d) => {
    d.writeDesc(d.desc(0), 0, RAM_BASE + 0x10_0000, 8, VIRTQ_DESC_F_NEXT, 1);
    d.writeDesc(d.desc(0), 1, RAM_BASE + 0x10_0000, 8, VIRTQ_DESC_F_NEXT, 0);
    d.makeAvailable(0, 0);
  }, /longer than its table/],
  ["a next index past the queue", (d) => {
    d.writeDesc(d.desc(0), 0, RAM_BASE + 0x10_0000, 8, VIRTQ_DESC_F_NEXT, 16);
    d.makeAvailable(0, 0);
  }, /index 16 out of range/],
  ["a head index past the queue", (d) => d.makeAvailable(0, 999), /index 999 out of range/],
  ["a buffer outside RAM", (d) => {
    d.writeDesc(d.desc(0), 0, 0x1000, 8, 0, 0);
    d.makeAvailable(0, 0);
  }, /outside guest RAM/],
  ["an absurd length", (d) => {
    d.writeDesc(d.desc(0), 0, RAM_BASE, 0xffff_ffff, VIRTQ_DESC_F_WRITE, 0);
    d.makeAvailable(0, 0);
  }, /outside guest RAM/],
  ["a 64-bit address", (d) => {
    d.writeDesc(d.desc(0), 0, Number(0xffff_ffff_8000_0000n) , 8, 0, 0);
    d.makeAvailable(0, 0);
  }, /outside guest RAM/],
  ["an indirect table inside an indirect table", (d) => {
    const inner = RAM_BASE + 0x10_0000;
    d.writeDesc(inner, 0, inner + 0x100, 16, VIRTQ_DESC_F_INDIRECT, 0);
    d.writeDesc(d.desc(0), 0, inner, 16, VIRTQ_DESC_F_INDIRECT, 0);
    d.makeAvailable(0, 0);
  }, /inside an indirect table/],
  ["an indirect table of odd length", (d) => {
    d.writeDesc(d.desc(0), 0, RAM_BASE + 0x10_0000, 17, VIRTQ_DESC_F_INDIRECT, 0);
    d.makeAvailable(0, 0);
  }, /indirect table length 17/],
  ["a loop inside an indirect table", (d) => {
    const t = RAM_BASE + 0x10_0000;
    d.writeDesc(t, 0, t + 0x100, 4, VIRTQ_DESC_F_NEXT, 1);
    d.writeDesc(t, 1, t + 0x100, 4, VIRTQ_DESC_F_NEXT, 0);
    d.writeDesc(d.desc(0), 0, t, 32, VIRTQ_DESC_F_INDIRECT, 0);
    d.makeAvailable(0, 0);
  }, /longer than its table/],
  ["a readable buffer after a writable one", (d) => {
    d.writeDesc(d.desc(0), 0, RAM_BASE + 0x10_0000, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
    d.writeDesc(d.desc(0), 1, RAM_BASE + 0x10_0000, 8, 0, 0);
    d.makeAvailable(0, 0);
  }, /readable descriptor after a writable/],
  ["an avail index far ahead", (d) => d.set16(d.avail(0) + 2, 40), /more than the queue size ahead/],
  ["a ring outside RAM", (d) => {
    d.t.queues[0].descAddr = RAM_BASE + RAM_SIZE - 8;
    d.makeAvailable(0, 0);
  }, /ring outside guest RAM/],
];

for (const [name, act, reason] of hostile) {
  test(`hostile driver: ${name} -> DEVICE_NEEDS_RESET`, () => {
    const { d, dev } = setup();
    d.post(0, [{ writeLen: 1 }]);
    d.kick(0);
    assert.equal(dev.popped.length, 1);
    d.w(REG.interruptAck, INT_USED_BUFFER);
    act(d);
    d.kick(0);
    assertNeedsReset(d, dev, 1, reason);
  });
}

test("a queue size that is not a power of two up to QueueNumMax -> DEVICE_NEEDS_RESET", () => {
  for (const size of [0, 3, 32, 0x8000_0000]) {
    const dev = new EchoDevice();
    const d = new TestDriver(dev);
    d.init();
    d.w(REG.queueSel, 0);
    d.w(REG.queueReady, 0);
    d.w(REG.queueNum, size);
    d.w(REG.queueReady, 1);
    d.kick(0);
    assert.equal(d.r(REG.status) & STATUS_DEVICE_NEEDS_RESET, STATUS_DEVICE_NEEDS_RESET, `size ${size}`);
    assert.match(d.warnings.join(), /not a power of two/);
  }
});

test("indirect descriptors are refused when the feature was not negotiated", () => {
  const dev = new EchoDevice();
  const d = new TestDriver(dev);
  d.init((f) => f & ~VIRTIO_RING_F_INDIRECT_DESC);
  d.post(0, [{ writeLen: 4 }], { indirect: true });
  d.kick(0);
  assertNeedsReset(d, dev, 0, /without VIRTIO_RING_F_INDIRECT_DESC/);
});

// Random rings: whatever the driver wrote, the transport never throws, never takes more
// than the queue size of chains per kick, hands out only in-RAM segments in a legal
// order, and either serves a chain or says DEVICE_NEEDS_RESET.
const addrArb = fc.oneof(
  fc.integer({ min: RAM_BASE, max: RAM_BASE + RAM_SIZE - 1 }),
  fc.constantFrom(0, RAM_BASE - 1, RAM_BASE + RAM_SIZE, RAM_BASE + RAM_SIZE - 4, 2 ** 40, Number(0xffff_ffff_ffff_f000n)),
  fc.constant(RAM_BASE + 0x10_0000), // the indirect table area
);
const lenArb = fc.oneof(fc.integer({ min: 0, max: 64 }), fc.constantFrom(16, 32, 48, 0x1000, 0x7fff_ffff, 0xffff_ffff));
const descArb = fc.record({
  addr: addrArb,
  len: lenArb,
  flags: fc.integer({ min: 0, max: 7 }),
  next: fc.oneof(fc.integer({ min: 0, max: 17 }), fc.constant(0xffff)),
});

test("property: random rings never crash, hang or escape RAM", () => {
  fc.assert(
    fc.property(
      fc.array(descArb, { minLength: 16, maxLength: 16 }),
      fc.array(descArb, { minLength: 4, maxLength: 4 }), // an indirect table
      fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 20 }),
      fc.integer({ min: 0, max: 0xffff }),
      fc.boolean(),
      (descs, table, heads, availIdx, eventIdx) => {
        const dev = new EchoDevice();
        const d = new TestDriver(dev);
        d.init((f) => (eventIdx ? f : f & ~VIRTIO_RING_F_EVENT_IDX));
        descs.forEach((x, i) => d.writeDesc(d.desc(0), i, x.addr, x.len, x.flags, x.next));
        table.forEach((x, i) => d.writeDesc(RAM_BASE + 0x10_0000, i, x.addr, x.len, x.flags, x.next));
        heads.forEach((h, i) => d.set16(d.avail(0) + 4 + 2 * i, h));
        d.set16(d.avail(0) + 2, availIdx);
        d.kick(0);
        d.kick(0);
        const broken = (d.r(REG.status) & STATUS_DEVICE_NEEDS_RESET) !== 0;
        assert.ok(dev.popped.length <= 16);
        for (const el of dev.popped) {
          assert.ok(el.head < 16);
          assert.ok(el.readable.length + el.writable.length <= 16);
          for (const s of [...el.readable, ...el.writable]) assert.ok(d.mem.inRam(s.addr, s.len));
        }
        const served = dev.popped.length;
        const expected = availIdx > 16 ? 0 : availIdx;
        // Either every available chain was served, or the device says it needs a reset.
        assert.ok(broken || served === expected, `served ${served} of ${availIdx}, not broken`);
        if (broken) {
          assert.ok(d.r(REG.interruptStatus) & INT_CONFIG_CHANGE);
          assert.ok(d.warnings.length >= 1);
        }
        assert.equal(d.takeUsed(0).length, served);
      },
    ),
    { numRuns: 300 },
  );
});

test("property: well-formed chains come back exactly as posted", () => {
  const bufArb = fc.oneof(
    fc.uint8Array({ minLength: 0, maxLength: 40 }).map((data) => ({ data })),
    fc.integer({ min: 0, max: 40 }).map((writeLen) => ({ writeLen })),
  );
  const chainArb = fc.tuple(fc.array(bufArb, { minLength: 1, maxLength: 5 }), fc.boolean())
    .map(([bufs, indirect]) => ({ bufs: [...bufs.filter((b) => "data" in b), ...bufs.filter((b) => !("data" in b))], indirect }));
  fc.assert(
    fc.property(fc.array(chainArb, { minLength: 1, maxLength: 3 }), (chains) => {
      const dev = new EchoDevice();
      const d = new TestDriver(dev);
      d.init();
      const posted = chains.map((c) => d.post(0, c.bufs, { indirect: c.indirect }));
      d.kick(0);
      assert.equal(d.r(REG.status) & STATUS_DEVICE_NEEDS_RESET, 0);
      assert.deepEqual(dev.popped.map((e) => e.head), posted.map((p) => p.head));
      chains.forEach((c, k) => {
        const el = dev.popped[k];
        const expect = c.bufs.map((b, i) => ({ addr: posted[k].addrs[i], len: "data" in b ? b.data!.length : b.writeLen! }));
        assert.deepEqual([...el.readable, ...el.writable], expect);
      });
    }),
    { numRuns: 200 },
  );
});

// virtio-blk over an in-memory BlockBackend: every request type, the config space, the
// feature bits, error statuses, and FLUSH reaching the backend before the request is used.
import { test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import { BlockIoError, type BlockBackend } from "../src/block/block-backend.js";
import {
  VirtioBlk, VIRTIO_BLK_F_DISCARD, VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_RO, VIRTIO_BLK_F_WRITE_ZEROES,
  VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_OK, VIRTIO_BLK_S_UNSUPP, VIRTIO_BLK_T_DISCARD, VIRTIO_BLK_T_FLUSH,
  VIRTIO_BLK_T_GET_ID, VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_WRITE_ZEROES,
} from "../src/hw/virtio/virtio-blk.js";
import { STATUS_DEVICE_NEEDS_RESET } from "../src/hw/virtio/virtio-mmio.js";
import { REG, TestDriver, type Buf } from "./virtio-helpers.js";

/** A disk in memory that logs the calls it gets. */
class MemDisk implements BlockBackend {
  readonly data: Uint8Array;
  log: string[] = [];
  failNext = false;
  constructor(readonly size: number, readonly readOnly = false) {
    this.data = new Uint8Array(size);
    for (let i = 0; i < size; i++) this.data[i] = (i * 7 + (i >> 9)) & 0xff;
  }
  private check(op: string, offset: number, len: number): void {
    this.log.push(`${op} ${offset} ${len}`);
    if (this.failNext) {
      this.failNext = false;
      throw new BlockIoError("injected");
    }
    if (offset < 0 || offset + len > this.size) throw new BlockIoError("out of range");
  }
  read(offset: number, buf: Uint8Array): void {
    this.check("read", offset, buf.length);
    buf.set(this.data.subarray(offset, offset + buf.length));
  }
  write(offset: number, data: Uint8Array): void {
    if (this.readOnly) throw new BlockIoError("read-only");
    this.check("write", offset, data.length);
    this.data.set(data, offset);
  }
  flush(): void {
    this.check("flush", 0, 0);
  }
  discard(offset: number, length: number): void {
    this.check("discard", offset, length);
  }
  writeZeroes(offset: number, length: number, unmap: boolean): void {
    this.check(`zeroes${unmap ? "+unmap" : ""}`, offset, length);
    this.data.fill(0, offset, offset + length);
  }
  close(): void {}
}

function header(type: number, sector: number): Uint8Array {
  const h = new Uint8Array(16);
  const v = new DataView(h.buffer);
  v.setUint32(0, type, true);
  v.setBigUint64(8, BigInt(sector), true);
  return h;
}

function range(sector: number, count: number, flags = 0): Uint8Array {
  const r = new Uint8Array(16);
  const v = new DataView(r.buffer);
  v.setBigUint64(0, BigInt(sector), true);
  v.setUint32(8, count, true);
  v.setUint32(12, flags, true);
  return r;
}

function setup(size = 64 * 1024, readOnly = false, serial?: string) {
  const disk = new MemDisk(size, readOnly);
  const blk = new VirtioBlk(disk, { serial, warn: () => {} });
  const d = new TestDriver(blk, 64);
  d.init();
  /** Posts one request, kicks, returns the status byte, used length and buffer addresses. */
  const request = (bufs: Buf[], indirect = false) => {
    const p = d.post(0, bufs, { indirect });
    d.kick(0);
    const used = d.takeUsed(0);
    assert.equal(used.length, 1);
    assert.equal(used[0].id, p.head);
    const last = p.addrs[p.addrs.length - 1];
    const lastLen = bufs[bufs.length - 1].writeLen ?? 0;
    return { status: d.bytes(last + lastLen - 1, 1)[0], len: used[0].len, addrs: p.addrs };
  };
  return { disk, blk, d, request };
}

test("features and config space: capacity, seg_max, blk_size, discard limits", () => {
  const { d } = setup(3 * 1024 * 1024);
  const f = d.deviceFeatures();
  for (const bit of [VIRTIO_BLK_F_FLUSH, VIRTIO_BLK_F_DISCARD, VIRTIO_BLK_F_WRITE_ZEROES]) assert.ok(f & bit);
  assert.equal(f & VIRTIO_BLK_F_RO, 0n);
  assert.equal(d.r(REG.deviceId), 2);
  assert.equal(d.r(REG.config), 6144, "capacity in 512-byte sectors");
  assert.equal(d.r(REG.config + 4), 0);
  assert.equal(d.r(REG.config + 0x0c), 254, "seg_max");
  assert.equal(d.r(REG.config + 0x14), 512, "blk_size");
  assert.equal(d.r(REG.config + 0x28), 1, "max_discard_seg");
  assert.equal(d.t.read(REG.config + 0x38, 1), 1, "write_zeroes_may_unmap");
  assert.equal(d.t.read(REG.config, 2), 6144, "narrow config reads");
  const ro = setup(4096, true).d.deviceFeatures();
  assert.ok(ro & VIRTIO_BLK_F_RO);
  assert.equal(ro & VIRTIO_BLK_F_DISCARD, 0n);
});

test("IN reads sectors across several buffers, direct and indirect", () => {
  const { disk, request } = setup();
  for (const indirect of [false, true]) {
    const r = request([{ data: header(VIRTIO_BLK_T_IN, 3) }, { writeLen: 512 }, { writeLen: 1024 }, { writeLen: 1 }], indirect);
    assert.equal(r.status, VIRTIO_BLK_S_OK);
    assert.equal(r.len, 1537);
    assert.deepEqual(disk.log.at(-1), "read 2048 1024");
  }
});

test("IN data lands in guest RAM; OUT writes it back elsewhere", () => {
  const { disk, d, request } = setup();
  const r = request([{ data: header(VIRTIO_BLK_T_IN, 1) }, { writeLen: 512 + 1 }]); // data + status in one buffer
  assert.equal(r.status, VIRTIO_BLK_S_OK);
  assert.deepEqual(d.bytes(r.addrs[1], 512), disk.data.slice(512, 1024));
  const data = new Uint8Array(1024).map((_, i) => i ^ 0x5a);
  const w = request([{ data: header(VIRTIO_BLK_T_OUT, 10) }, { data }, { writeLen: 1 }]);
  assert.equal(w.status, VIRTIO_BLK_S_OK);
  assert.equal(w.len, 1);
  assert.deepEqual(disk.data.slice(5120, 6144), data);
  // Header and data in one readable buffer also works (any layout).
  const both = new Uint8Array(16 + 512).fill(0xee);
  both.set(header(VIRTIO_BLK_T_OUT, 0));
  assert.equal(request([{ data: both }, { writeLen: 1 }]).status, VIRTIO_BLK_S_OK);
  assert.deepEqual(disk.data.slice(0, 512), new Uint8Array(512).fill(0xee));
});

test("FLUSH reaches the backend before the request is used", () => {
  const { disk, blk, d } = setup();
  let usedAtFlush = -1;
  const flush = disk.flush.bind(disk);
  disk.flush = () => {
    usedAtFlush = d.get16(d.used(0) + 2);
    flush();
  };
  d.post(0, [{ data: header(VIRTIO_BLK_T_FLUSH, 0) }, { writeLen: 1 }]);
  d.kick(0);
  assert.equal(usedAtFlush, 0, "flushed while the request was not yet used");
  assert.deepEqual(d.takeUsed(0).length, 1);
  assert.ok(blk);
});

test("GET_ID returns the serial, zero padded to 20 bytes", () => {
  const { d, request } = setup(4096, false, "disk-serial-1");
  const r = request([{ data: header(VIRTIO_BLK_T_GET_ID, 0) }, { writeLen: 21 }]);
  assert.equal(r.status, VIRTIO_BLK_S_OK);
  assert.equal(r.len, 21);
  const id = d.bytes(r.addrs[1], 20);
  assert.equal(new TextDecoder().decode(id.subarray(0, 13)), "disk-serial-1");
  assert.deepEqual(id.subarray(13), new Uint8Array(7));
});

test("DISCARD and WRITE_ZEROES with their range records", () => {
  const { disk, request } = setup();
  assert.equal(request([{ data: header(VIRTIO_BLK_T_DISCARD, 0) }, { data: range(4, 8) }, { writeLen: 1 }]).status, VIRTIO_BLK_S_OK);
  assert.equal(disk.log.at(-1), "discard 2048 4096");
  assert.equal(request([{ data: header(VIRTIO_BLK_T_WRITE_ZEROES, 0) }, { data: range(1, 2, 1) }, { writeLen: 1 }]).status, VIRTIO_BLK_S_OK);
  assert.equal(disk.log.at(-1), "zeroes+unmap 512 1024");
  assert.deepEqual(disk.data.slice(512, 1536), new Uint8Array(1024));
  assert.equal(request([{ data: header(VIRTIO_BLK_T_DISCARD, 0) }, { data: range(0, 1, 1) }, { writeLen: 1 }]).status, VIRTIO_BLK_S_UNSUPP, "discard flags");
  assert.equal(request([{ data: header(VIRTIO_BLK_T_DISCARD, 0) }, { data: range(127, 2) }, { writeLen: 1 }]).status, VIRTIO_BLK_S_IOERR, "past the end");
  assert.equal(request([{ data: header(VIRTIO_BLK_T_DISCARD, 0) }, { writeLen: 1 }]).status, VIRTIO_BLK_S_IOERR, "no range");
});

test("errors: out of range, partial sectors, unknown types, backend failures, read-only", () => {
  const { disk, d, request } = setup(64 * 1024);
  const before = disk.log.length;
  assert.equal(request([{ data: header(VIRTIO_BLK_T_IN, 127) }, { writeLen: 1024 }, { writeLen: 1 }]).status, VIRTIO_BLK_S_IOERR);
  assert.equal(request([{ data: header(VIRTIO_BLK_T_IN, 2 ** 60) }, { writeLen: 512 }, { writeLen: 1 }]).status, VIRTIO_BLK_S_IOERR);
  assert.equal(request([{ data: header(VIRTIO_BLK_T_IN, 0) }, { writeLen: 100 }, { writeLen: 1 }]).status, VIRTIO_BLK_S_IOERR);
  assert.equal(disk.log.length, before, "the backend saw none of them");
  assert.equal(request([{ data: header(99, 0) }, { writeLen: 1 }]).status, VIRTIO_BLK_S_UNSUPP);
  assert.equal(request([{ data: Uint8Array.of(1, 2, 3) }, { writeLen: 1 }]).status, VIRTIO_BLK_S_IOERR, "short header");
  disk.failNext = true;
  assert.equal(request([{ data: header(VIRTIO_BLK_T_IN, 0) }, { writeLen: 512 }, { writeLen: 1 }]).status, VIRTIO_BLK_S_IOERR);
  disk.failNext = true;
  assert.equal(request([{ data: header(VIRTIO_BLK_T_FLUSH, 0) }, { writeLen: 1 }]).status, VIRTIO_BLK_S_IOERR);
  // No status byte at all: used with length 0, the device goes on.
  const p = d.post(0, [{ data: header(VIRTIO_BLK_T_IN, 0) }]);
  d.kick(0);
  assert.deepEqual(d.takeUsed(0), [{ id: p.head, len: 0 }]);
  assert.equal(request([{ data: header(VIRTIO_BLK_T_IN, 0) }, { writeLen: 512 }, { writeLen: 1 }]).status, VIRTIO_BLK_S_OK);

  const ro = setup(4096, true);
  const w = ro.request([{ data: header(VIRTIO_BLK_T_OUT, 0) }, { data: new Uint8Array(512) }, { writeLen: 1 }]);
  assert.equal(w.status, VIRTIO_BLK_S_IOERR);
  assert.equal(ro.request([{ data: header(VIRTIO_BLK_T_WRITE_ZEROES, 0) }, { data: range(0, 1) }, { writeLen: 1 }]).status, VIRTIO_BLK_S_IOERR);
  assert.equal(ro.disk.log.length, 0);
});

test("property: random requests always get a status and never touch the disk out of range", () => {
  const reqArb = fc.record({
    type: fc.constantFrom(0, 1, 4, 8, 11, 13, 2, 0xffffffff),
    sector: fc.oneof(fc.integer({ min: 0, max: 140 }), fc.constantFrom(2 ** 53, 2 ** 63, 2 ** 64 - 1)),
    data: fc.array(fc.integer({ min: 0, max: 1100 }), { maxLength: 3 }),
    write: fc.array(fc.integer({ min: 0, max: 1100 }), { maxLength: 3 }),
  });
  fc.assert(
    fc.property(reqArb, (r) => {
      const { disk, d } = setup(64 * 1024);
      const h = new Uint8Array(16);
      const v = new DataView(h.buffer);
      v.setUint32(0, r.type >>> 0, true);
      v.setBigUint64(8, BigInt.asUintN(64, BigInt(r.sector)), true);
      const bufs: Buf[] = [{ data: h }, ...r.data.map((n) => ({ data: new Uint8Array(n) })), ...r.write.map((n) => ({ writeLen: n })), { writeLen: 1 }];
      d.post(0, bufs);
      d.kick(0);
      assert.equal(d.takeUsed(0).length, 1);
      assert.equal(d.r(REG.status) & STATUS_DEVICE_NEEDS_RESET, 0);
      for (const line of disk.log) {
        const [, off, len] = line.split(" ").map(Number);
        assert.ok(off + len <= disk.size, line);
      }
    }),
    { numRuns: 300 },
  );
});

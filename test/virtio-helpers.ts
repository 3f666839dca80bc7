// A minimal virtio driver for device tests: sets a VirtioMmio transport up the way Linux
// does, lays rings out in guest RAM, posts chains (direct or indirect) and reads the used
// ring. (Not a test file itself.)
import { GuestMemory } from "../src/machine/guest-memory.js";
import {
  STATUS_ACKNOWLEDGE, STATUS_DRIVER, STATUS_DRIVER_OK, STATUS_FEATURES_OK, VirtioMmio, type VirtioDevice,
} from "../src/hw/virtio/virtio-mmio.js";
import { VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE } from "../src/hw/virtio/virtqueue.js";

export const RAM_BASE = 0x8000_0000;
export const RAM_SIZE = 0x20_0000; // 2 MiB
const RING_AREA = 0x1_0000; // per queue: desc +0, avail +0x4000, used +0x8000
const DATA_BASE = RAM_BASE + 0x10_0000;

export const REG = {
  magic: 0x000, version: 0x004, deviceId: 0x008, deviceFeatures: 0x010, deviceFeaturesSel: 0x014,
  driverFeatures: 0x020, driverFeaturesSel: 0x024, queueSel: 0x030, queueNumMax: 0x034, queueNum: 0x038,
  queueReady: 0x044, queueNotify: 0x050, interruptStatus: 0x060, interruptAck: 0x064, status: 0x070,
  descLow: 0x080, descHigh: 0x084, driverLow: 0x090, driverHigh: 0x094, deviceLow: 0x0a0, deviceHigh: 0x0a4,
  configGeneration: 0x0fc, config: 0x100,
} as const;

export interface Buf {
  /** Driver-written bytes (a readable descriptor). */
  data?: Uint8Array;
  /** Device-writable bytes (a writable descriptor). */
  writeLen?: number;
}

export interface Posted {
  head: number;
  /** Guest address of each buffer, in order. */
  addrs: number[];
}

export class TestDriver {
  readonly mem = new GuestMemory(RAM_BASE, RAM_SIZE);
  readonly t: VirtioMmio;
  irq = false;
  readonly warnings: string[] = [];
  private nextData = DATA_BASE;
  private freeDesc: number[] = [];
  private availIdx: number[] = [];
  private usedSeen: number[] = [];

  constructor(device: VirtioDevice, readonly queueSize = 16) {
    this.t = new VirtioMmio(this.mem, { set: (l) => (this.irq = l) }, device, (w) => this.warnings.push(w));
  }

  r(off: number): number {
    return this.t.read(off, 4);
  }
  w(off: number, v: number): void {
    this.t.write(off, v, 4);
  }

  /** Device features as a bigint (both words). */
  deviceFeatures(): bigint {
    this.w(REG.deviceFeaturesSel, 0);
    const lo = BigInt(this.r(REG.deviceFeatures));
    this.w(REG.deviceFeaturesSel, 1);
    return lo | (BigInt(this.r(REG.deviceFeatures)) << 32n);
  }

  /** The Linux sequence: reset, ACK, DRIVER, features, FEATURES_OK, queues, DRIVER_OK. */
  init(accept: (offered: bigint) => bigint = (f) => f): void {
    this.w(REG.status, 0);
    this.w(REG.status, STATUS_ACKNOWLEDGE);
    this.w(REG.status, STATUS_ACKNOWLEDGE | STATUS_DRIVER);
    const f = accept(this.deviceFeatures());
    this.w(REG.driverFeaturesSel, 0);
    this.w(REG.driverFeatures, Number(f & 0xffff_ffffn));
    this.w(REG.driverFeaturesSel, 1);
    this.w(REG.driverFeatures, Number(f >> 32n));
    this.w(REG.status, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK);
    if (!(this.r(REG.status) & STATUS_FEATURES_OK)) throw new Error("FEATURES_OK refused");
    this.mem.ram.fill(0, 0, 0x10_0000);
    for (let q = 0; q < this.t.queues.length; q++) {
      this.w(REG.queueSel, q);
      this.w(REG.queueNum, this.queueSize);
      this.w(REG.descLow, this.desc(q));
      this.w(REG.descHigh, 0);
      this.w(REG.driverLow, this.avail(q));
      this.w(REG.driverHigh, 0);
      this.w(REG.deviceLow, this.used(q));
      this.w(REG.deviceHigh, 0);
      this.w(REG.queueReady, 1);
      this.freeDesc[q] = 0;
      this.availIdx[q] = 0;
      this.usedSeen[q] = 0;
    }
    this.w(REG.status, STATUS_ACKNOWLEDGE | STATUS_DRIVER | STATUS_FEATURES_OK | STATUS_DRIVER_OK);
  }

  desc(q: number): number {
    return RAM_BASE + q * RING_AREA;
  }
  avail(q: number): number {
    return this.desc(q) + 0x4000;
  }
  used(q: number): number {
    return this.desc(q) + 0x8000;
  }

  /** Bytes in guest RAM for a buffer (bump allocated). */
  alloc(len: number): number {
    const a = this.nextData;
    this.nextData += (len + 15) & ~15;
    if (this.nextData > RAM_BASE + RAM_SIZE) this.nextData = DATA_BASE; // tests are small
    return a;
  }

  writeDesc(table: number, i: number, addr: number, len: number, flags: number, next: number): void {
    const v = this.mem.view;
    const o = this.mem.ram.byteOffset + table - RAM_BASE + 16 * i;
    v.setBigUint64(o, BigInt(addr), true);
    v.setUint32(o + 8, len, true);
    v.setUint16(o + 12, flags, true);
    v.setUint16(o + 14, next, true);
  }

  /** Posts a chain and makes it available (no kick). */
  post(q: number, bufs: Buf[], opts: { indirect?: boolean } = {}): Posted {
    const addrs: number[] = [];
    const n = this.queueSize;
    const table = opts.indirect ? this.alloc(16 * bufs.length) : this.desc(q);
    const first = opts.indirect ? 0 : this.freeDesc[q];
    bufs.forEach((b, k) => {
      const len = b.data ? b.data.length : b.writeLen ?? 0;
      const addr = this.alloc(len);
      if (b.data) this.mem.writeBytes(addr, b.data);
      addrs.push(addr);
      const i = opts.indirect ? k : (first + k) % n;
      const last = k === bufs.length - 1;
      const flags = (b.data ? 0 : VIRTQ_DESC_F_WRITE) | (last ? 0 : VIRTQ_DESC_F_NEXT);
      this.writeDesc(table, i, addr, len, flags, opts.indirect ? k + 1 : (first + k + 1) % n);
    });
    let head: number;
    if (opts.indirect) {
      head = this.freeDesc[q];
      this.writeDesc(this.desc(q), head, table, 16 * bufs.length, VIRTQ_DESC_F_INDIRECT, 0);
      this.freeDesc[q] = (head + 1) % n;
    } else {
      head = first;
      this.freeDesc[q] = (first + bufs.length) % n;
    }
    this.makeAvailable(q, head);
    return { head, addrs };
  }

  makeAvailable(q: number, head: number): void {
    const idx = this.availIdx[q];
    this.set16(this.avail(q) + 4 + 2 * (idx % this.queueSize), head);
    this.availIdx[q] = (idx + 1) & 0xffff;
    this.set16(this.avail(q) + 2, this.availIdx[q]);
  }

  kick(q: number): void {
    this.w(REG.queueNotify, q);
  }

  /** New used-ring entries since the last call. */
  takeUsed(q: number): Array<{ id: number; len: number }> {
    const out: Array<{ id: number; len: number }> = [];
    const idx = this.get16(this.used(q) + 2);
    while (this.usedSeen[q] !== idx) {
      const slot = this.used(q) + 4 + 8 * (this.usedSeen[q] % this.queueSize);
      out.push({ id: this.get32(slot), len: this.get32(slot + 4) });
      this.usedSeen[q] = (this.usedSeen[q] + 1) & 0xffff;
    }
    return out;
  }

  bytes(addr: number, len: number): Uint8Array {
    return this.mem.bytes(addr, len).slice();
  }

  set16(pa: number, v: number): void {
    this.mem.view.setUint16(this.mem.ram.byteOffset + pa - RAM_BASE, v, true);
  }
  get16(pa: number): number {
    return this.mem.view.getUint16(this.mem.ram.byteOffset + pa - RAM_BASE, true);
  }
  get32(pa: number): number {
    return this.mem.view.getUint32(this.mem.ram.byteOffset + pa - RAM_BASE, true);
  }
}

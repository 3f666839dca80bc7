// The split virtqueue of virtio 1.x (spec 2.7), shared by every virtio device.
//
// API for device models (virtio-blk, -net, -rng, -console):
//   const el = queue.pop();          // next available chain, or null (none, or queue broken)
//   el.readable / el.writable        // Segment[] {addr, len}: all checked inside guest RAM
//   el.readLen / el.writeLen         // byte totals of each side
//   readFromChain(mem, el.readable, offset, dest)   // copies driver->device bytes
//   writeToChain(mem, el.writable, offset, src)     // copies device->driver bytes
//   sliceChain(el.writable, offset, len)            // sub-segments, e.g. to DMA straight
//                                                   // into guest RAM with mem.bytes()
//   queue.push(el, bytesWritten);    // puts it in the used ring
//   queue.notify();                  // interrupts the driver unless it suppressed that
// A device usually pops until null on the transport's queueNotify, pushes each element,
// then calls notify() once. Asynchronous producers (net receive, console input) do the
// same when data arrives, and leave the data queued when pop() gives null.
//
// The guest is untrusted. Everything it wrote is checked before use: ring and descriptor
// addresses inside RAM, head and next indices below the queue size, chains no longer than
// the queue (which also ends loops), indirect tables (a multiple of 16 bytes, no nested
// indirect, no NEXT with INDIRECT), readable before writable, and an avail index at most
// `size` ahead. A violation calls the transport's `broken(reason)` (DEVICE_NEEDS_RESET and
// a config interrupt) and the queue gives nothing more until it is reset. Nothing a guest
// writes makes the host allocate more than the queue's own descriptor count.
import type { GuestMemory } from "../../machine/guest-memory.js";

/** Descriptor flags. */
export const VIRTQ_DESC_F_NEXT = 1;
export const VIRTQ_DESC_F_WRITE = 2;
export const VIRTQ_DESC_F_INDIRECT = 4;
/** avail.flags: the driver asks for no interrupts (without EVENT_IDX). */
const VIRTQ_AVAIL_F_NO_INTERRUPT = 1;
const DESC_SIZE = 16;
/** Largest queue the split layout allows. */
export const VIRTQ_MAX_SIZE = 32768;

/** A stretch of guest physical memory; always inside RAM once in an element. */
export interface Segment {
  addr: number;
  len: number;
}

/** One descriptor chain taken from the avail ring. */
export interface VirtqElement {
  /** Head descriptor index: what goes back in the used ring. */
  readonly head: number;
  /** Driver-written buffers (device reads), in chain order. */
  readonly readable: Segment[];
  /** Device-written buffers, in chain order. */
  readonly writable: Segment[];
  readonly readLen: number;
  readonly writeLen: number;
}

/** What the transport lends a queue. */
export interface VirtqueueHooks {
  /** The driver's buffers were used: raise the used-buffer interrupt. */
  interrupt(): void;
  /** The driver broke the rules: DEVICE_NEEDS_RESET, with `reason` as a warning. */
  broken(reason: string): void;
}

export class Virtqueue {
  /** Driver-set layout (QueueNum, QueueDesc, QueueDriver, QueueDevice, QueueReady). */
  size = 0;
  ready = false;
  descAddr = 0;
  driverAddr = 0;
  deviceAddr = 0;
  /** Negotiated ring features, set by the transport at FEATURES_OK. */
  eventIdx = false;
  indirect = false;

  private lastAvail = 0;
  private usedIdx = 0;
  /** used idx when the driver was last interrupted (EVENT_IDX suppression). */
  private signalledUsed = 0;
  private isBroken = false;

  constructor(
    private readonly mem: GuestMemory,
    readonly maxSize: number,
    private readonly hooks: VirtqueueHooks,
  ) {}

  /** Back to the state after device reset. */
  reset(): void {
    this.size = 0;
    this.ready = false;
    this.descAddr = this.driverAddr = this.deviceAddr = 0;
    this.eventIdx = this.indirect = false;
    this.lastAvail = this.usedIdx = this.signalledUsed = 0;
    this.isBroken = false;
  }

  get broken(): boolean {
    return this.isBroken;
  }

  /** True when the queue is usable and the driver has made chains available. */
  hasAvailable(): boolean {
    if (!this.usable()) return false;
    return this.availIdx() !== this.lastAvail;
  }

  /** The next available chain, or null when there is none or the queue is unusable. */
  pop(): VirtqElement | null {
    if (!this.usable()) return null;
    const avail = this.availIdx();
    if (avail === this.lastAvail) return null;
    if (((avail - this.lastAvail) & 0xffff) > this.size) {
      return this.fail(`avail index ${avail} is more than the queue size ahead of ${this.lastAvail}`);
    }
    const head = this.u16(this.driverAddr + 4 + 2 * (this.lastAvail % this.size));
    const el = this.walkChain(head);
    if (!el) return null;
    this.lastAvail = (this.lastAvail + 1) & 0xffff;
    // Ask for a notification as soon as the driver adds anything past what we took.
    if (this.eventIdx) this.setU16(this.deviceAddr + 4 + 8 * this.size, this.lastAvail);
    return el;
  }

  /** Returns `el` to the driver with `written` bytes of its writable part filled. */
  push(el: VirtqElement, written: number): void {
    if (!this.usable()) return;
    const slot = this.deviceAddr + 4 + 8 * (this.usedIdx % this.size);
    this.setU32(slot, el.head);
    this.setU32(slot + 4, Math.min(written, el.writeLen));
    this.usedIdx = (this.usedIdx + 1) & 0xffff;
    this.setU16(this.deviceAddr + 2, this.usedIdx);
  }

  /** Interrupts the driver for what push() added, unless it asked not to be. */
  notify(): void {
    if (!this.usable()) return;
    const old = this.signalledUsed;
    const now = this.usedIdx;
    if (old === now) return;
    this.signalledUsed = now;
    if (this.eventIdx) {
      const usedEvent = this.u16(this.driverAddr + 4 + 2 * this.size);
      // vring_need_event(): did used idx pass used_event since the last interrupt?
      if (((now - usedEvent - 1) & 0xffff) >= ((now - old) & 0xffff)) return;
    } else if (this.u16(this.driverAddr) & VIRTQ_AVAIL_F_NO_INTERRUPT) {
      return;
    }
    this.hooks.interrupt();
  }

  /** Ready, not broken, and its rings lie in RAM (checked on every use: cheap). */
  private usable(): boolean {
    if (!this.ready || this.isBroken) return false;
    const n = this.size;
    if (n === 0 || n > this.maxSize || (n & (n - 1)) !== 0) {
      this.fail(`queue size ${n} is not a power of two up to ${this.maxSize}`);
      return false;
    }
    const ok = this.mem.inRam(this.descAddr, DESC_SIZE * n) &&
      this.mem.inRam(this.driverAddr, 6 + 2 * n) &&
      this.mem.inRam(this.deviceAddr, 6 + 8 * n);
    if (!ok) this.fail("ring outside guest RAM");
    return ok;
  }

  private availIdx(): number {
    return this.u16(this.driverAddr + 2);
  }

  /** Follows a chain from `head`, through at most one indirect table. */
  private walkChain(head: number): VirtqElement | null {
    const readable: Segment[] = [];
    const writable: Segment[] = [];
    let table = this.descAddr;
    let tableSize = this.size;
    let index = head;
    let budget = this.size;
    let indirect = false;
    let readLen = 0;
    let writeLen = 0;
    for (;;) {
      if (index >= tableSize) return this.fail(`descriptor index ${index} out of range (${tableSize})`);
      if (budget-- <= 0) return this.fail("descriptor chain longer than its table (a loop?)");
      const d = table + DESC_SIZE * index;
      const addr = this.u32(d) + this.u32(d + 4) * 0x1_0000_0000;
      const len = this.u32(d + 8);
      const flags = this.u16(d + 12);
      const next = this.u16(d + 14);
      if (flags & VIRTQ_DESC_F_INDIRECT) {
        if (!this.indirect) return this.fail("indirect descriptor without VIRTIO_RING_F_INDIRECT_DESC");
        if (indirect) return this.fail("indirect descriptor inside an indirect table");
        if (flags & VIRTQ_DESC_F_NEXT) return this.fail("indirect descriptor with NEXT set");
        if (len === 0 || len % DESC_SIZE !== 0) return this.fail(`indirect table length ${len}`);
        if (!this.mem.inRam(addr, len)) return this.fail("indirect table outside guest RAM");
        indirect = true;
        table = addr;
        tableSize = len / DESC_SIZE;
        // An indirect table replaces the chain, so the budget is the table's size.
        budget = tableSize;
        index = 0;
        continue;
      }
      if (!this.mem.inRam(addr, len)) return this.fail(`buffer 0x${addr.toString(16)}+${len} outside guest RAM`);
      if (flags & VIRTQ_DESC_F_WRITE) {
        writable.push({ addr, len });
        writeLen += len;
      } else {
        if (writable.length > 0) return this.fail("readable descriptor after a writable one");
        readable.push({ addr, len });
        readLen += len;
      }
      if (!(flags & VIRTQ_DESC_F_NEXT)) break;
      index = next;
    }
    return { head, readable, writable, readLen, writeLen };
  }

  private fail(reason: string): null {
    if (!this.isBroken) {
      this.isBroken = true;
      this.hooks.broken(reason);
    }
    return null;
  }

  // Ring accesses. Callers checked the ranges (usable(), walkChain()).
  private off(pa: number): number {
    return this.mem.ram.byteOffset + (pa - this.mem.ramBase);
  }
  private u16(pa: number): number {
    return this.mem.view.getUint16(this.off(pa), true);
  }
  private u32(pa: number): number {
    return this.mem.view.getUint32(this.off(pa), true);
  }
  // Guest RAM the host writes (the used ring) may hold translated code: tell its watcher.
  private setU16(pa: number, v: number): void {
    this.mem.beforeHostWrite?.(pa, 2);
    this.mem.view.setUint16(this.off(pa), v, true);
  }
  private setU32(pa: number, v: number): void {
    this.mem.beforeHostWrite?.(pa, 4);
    this.mem.view.setUint32(this.off(pa), v >>> 0, true);
  }
}

/** The part [offset, offset+len) of a segment list, as segments (clipped at its end). */
export function sliceChain(segs: readonly Segment[], offset: number, len: number): Segment[] {
  const out: Segment[] = [];
  for (const s of segs) {
    if (len <= 0) break;
    if (offset >= s.len) {
      offset -= s.len;
      continue;
    }
    const take = Math.min(s.len - offset, len);
    out.push({ addr: s.addr + offset, len: take });
    len -= take;
    offset = 0;
  }
  return out;
}

/** Copies chain bytes from `offset` into `dest`; returns how many there were. */
export function readFromChain(mem: GuestMemory, segs: readonly Segment[], offset: number, dest: Uint8Array): number {
  let done = 0;
  for (const s of sliceChain(segs, offset, dest.length)) {
    dest.set(mem.bytes(s.addr, s.len), done);
    done += s.len;
  }
  return done;
}

/** Copies `src` into the chain from `offset`; returns how many bytes fitted. */
export function writeToChain(mem: GuestMemory, segs: readonly Segment[], offset: number, src: Uint8Array): number {
  let done = 0;
  for (const s of sliceChain(segs, offset, src.length)) {
    mem.bytesForWrite(s.addr, s.len).set(src.subarray(done, done + s.len));
    done += s.len;
  }
  return done;
}

// virtio-blk (virtio 1.x spec 5.2): one request queue over a BlockBackend.
// A request is a 16-byte header {type u32, reserved u32, sector u64} the driver wrote,
// data (driver-written for OUT/DISCARD/WRITE_ZEROES, device-written for IN/GET_ID) and a
// final status byte. Requests complete synchronously: by the time a request is in the
// used ring its data is in the backend, and for FLUSH on stable storage (backend.flush()).
import type { AccessSize } from "../device.js";
import { BlockIoError, type BlockBackend } from "../../block/block-backend.js";
import type { VirtioDevice, VirtioTransport } from "./virtio-mmio.js";
import { VIRTIO_ID_BLOCK } from "./virtio-mmio.js";
import { readFromChain, sliceChain, writeToChain, type VirtqElement } from "./virtqueue.js";

// Feature bits.
export const VIRTIO_BLK_F_SEG_MAX = 1n << 2n;
export const VIRTIO_BLK_F_RO = 1n << 5n;
export const VIRTIO_BLK_F_BLK_SIZE = 1n << 6n;
export const VIRTIO_BLK_F_FLUSH = 1n << 9n;
export const VIRTIO_BLK_F_DISCARD = 1n << 13n;
export const VIRTIO_BLK_F_WRITE_ZEROES = 1n << 14n;

// Request types.
export const VIRTIO_BLK_T_IN = 0;
export const VIRTIO_BLK_T_OUT = 1;
export const VIRTIO_BLK_T_FLUSH = 4;
export const VIRTIO_BLK_T_GET_ID = 8;
export const VIRTIO_BLK_T_DISCARD = 11;
export const VIRTIO_BLK_T_WRITE_ZEROES = 13;

// Status byte values.
export const VIRTIO_BLK_S_OK = 0;
export const VIRTIO_BLK_S_IOERR = 1;
export const VIRTIO_BLK_S_UNSUPP = 2;

// Configuration space (struct virtio_blk_config) offsets.
const CFG_CAPACITY = 0x00; // u64, 512-byte sectors
const CFG_SEG_MAX = 0x0c; // u32
const CFG_BLK_SIZE = 0x14; // u32
const CFG_MAX_DISCARD_SECTORS = 0x24; // u32
const CFG_MAX_DISCARD_SEG = 0x28; // u32
const CFG_DISCARD_SECTOR_ALIGNMENT = 0x2c; // u32
const CFG_MAX_WRITE_ZEROES_SECTORS = 0x30; // u32
const CFG_MAX_WRITE_ZEROES_SEG = 0x34; // u32
const CFG_WRITE_ZEROES_MAY_UNMAP = 0x38; // u8
const CFG_SIZE = 0x3c;

const SECTOR = 512;
const HEADER_SIZE = 16;
const QUEUE_SIZE = 256;
/** Segments per request the driver may use (the header and status take two). */
const SEG_MAX = QUEUE_SIZE - 2;
/** Discard / write-zeroes limits: one range per request, 4 GiB - 512 B at most. */
const MAX_RANGE_SECTORS = 0xffff_fffe >>> 0;
const MAX_RANGES = 1;
const RANGE_SIZE = 16; // {sector u64, num_sectors u32, flags u32}
const WRITE_ZEROES_FLAG_UNMAP = 1;
const ID_BYTES = 20;

export interface VirtioBlkOptions {
  /** GET_ID answer (QEMU's serial=), at most 20 bytes used. */
  serial?: string;
  warn?: (message: string) => void;
}

export class VirtioBlk implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_BLOCK;
  readonly features: bigint;
  readonly queueMax = [QUEUE_SIZE];
  private transport!: VirtioTransport;
  private readonly config = new Uint8Array(CFG_SIZE);
  private readonly serial: Uint8Array;

  constructor(private readonly backend: BlockBackend, private readonly opts: VirtioBlkOptions = {}) {
    let f = VIRTIO_BLK_F_SEG_MAX | VIRTIO_BLK_F_BLK_SIZE | VIRTIO_BLK_F_FLUSH;
    f |= backend.readOnly ? VIRTIO_BLK_F_RO : VIRTIO_BLK_F_DISCARD | VIRTIO_BLK_F_WRITE_ZEROES;
    this.features = f;
    this.serial = new TextEncoder().encode(opts.serial ?? "").subarray(0, ID_BYTES);
    this.fillConfig();
  }

  attach(transport: VirtioTransport): void {
    this.transport = transport;
  }

  readConfig(offset: number, size: AccessSize): number {
    if (offset + size > CFG_SIZE) return 0;
    const v = new DataView(this.config.buffer);
    return size === 1 ? v.getUint8(offset) : size === 2 ? v.getUint16(offset, true) : v.getUint32(offset, true);
  }

  writeConfig(): void {} // writeback (CONFIG_WCE) is not offered: everything is read-only

  reset(): void {}

  queueNotify(index: number): void {
    if (index !== 0) return;
    const q = this.transport.queues[0];
    for (let el = q.pop(); el; el = q.pop()) q.push(el, this.handle(el));
    q.notify();
  }

  private fillConfig(): void {
    const v = new DataView(this.config.buffer);
    v.setBigUint64(CFG_CAPACITY, BigInt(Math.floor(this.backend.size / SECTOR)), true);
    v.setUint32(CFG_SEG_MAX, SEG_MAX, true);
    v.setUint32(CFG_BLK_SIZE, SECTOR, true);
    v.setUint32(CFG_MAX_DISCARD_SECTORS, MAX_RANGE_SECTORS, true);
    v.setUint32(CFG_MAX_DISCARD_SEG, MAX_RANGES, true);
    v.setUint32(CFG_DISCARD_SECTOR_ALIGNMENT, 1, true);
    v.setUint32(CFG_MAX_WRITE_ZEROES_SECTORS, MAX_RANGE_SECTORS, true);
    v.setUint32(CFG_MAX_WRITE_ZEROES_SEG, MAX_RANGES, true);
    v.setUint8(CFG_WRITE_ZEROES_MAY_UNMAP, 1);
  }

  /** Serves one request; returns the bytes written into the driver's buffers. */
  private handle(el: VirtqElement): number {
    const mem = this.transport.mem;
    // Without room for the status byte there is no way to answer: used, 0 bytes written.
    if (el.writeLen < 1) return this.malformed("request without a status byte");
    const statusAt = el.writeLen - 1;
    const header = new Uint8Array(HEADER_SIZE);
    if (readFromChain(mem, el.readable, 0, header) < HEADER_SIZE) {
      return this.finish(el, statusAt, 0, this.malformedStatus("request header shorter than 16 bytes"));
    }
    const h = new DataView(header.buffer);
    const type = h.getUint32(0, true);
    const sector = Number(h.getBigUint64(8, true));
    const { status, written } = this.execute(type, sector, el, statusAt);
    return this.finish(el, statusAt, written, status);
  }

  private execute(type: number, sector: number, el: VirtqElement, statusAt: number): { status: number; written: number } {
    try {
      switch (type) {
        case VIRTIO_BLK_T_IN: return this.transfer(sector, sliceChain(el.writable, 0, statusAt), false);
        case VIRTIO_BLK_T_OUT: return this.transfer(sector, sliceChain(el.readable, HEADER_SIZE, el.readLen), true);
        case VIRTIO_BLK_T_FLUSH:
          this.backend.flush();
          return ok(0);
        case VIRTIO_BLK_T_GET_ID: return this.getId(el, statusAt);
        case VIRTIO_BLK_T_DISCARD:
        case VIRTIO_BLK_T_WRITE_ZEROES: return this.ranges(type, el);
        default: return { status: VIRTIO_BLK_S_UNSUPP, written: 0 };
      }
    } catch (err) {
      if (!(err instanceof BlockIoError)) throw err;
      this.opts.warn?.(`virtio-blk: ${err.message}`);
      return { status: VIRTIO_BLK_S_IOERR, written: 0 };
    }
  }

  /** IN (write = false) or OUT straight between the backend and guest RAM. */
  private transfer(sector: number, segs: ReturnType<typeof sliceChain>, write: boolean): { status: number; written: number } {
    const len = segs.reduce((n, s) => n + s.len, 0);
    if (len % SECTOR !== 0 || !this.inRange(sector, len)) {
      return { status: this.malformedStatus(`${write ? "write" : "read"} of ${len} bytes at sector ${sector} out of range`), written: 0 };
    }
    if (write && this.backend.readOnly) return { status: VIRTIO_BLK_S_IOERR, written: 0 };
    const mem = this.transport.mem;
    let offset = sector * SECTOR;
    for (const s of segs) {
      if (write) this.backend.write(offset, mem.bytes(s.addr, s.len));
      else this.backend.read(offset, mem.bytesForWrite(s.addr, s.len));
      offset += s.len;
    }
    return ok(write ? 0 : len);
  }

  private getId(el: VirtqElement, statusAt: number): { status: number; written: number } {
    const id = new Uint8Array(ID_BYTES);
    id.set(this.serial);
    const room = Math.min(statusAt, ID_BYTES);
    return ok(writeToChain(this.transport.mem, el.writable, 0, id.subarray(0, room)));
  }

  /** DISCARD and WRITE_ZEROES: up to MAX_RANGES {sector, num_sectors, flags} records. */
  private ranges(type: number, el: VirtqElement): { status: number; written: number } {
    if (this.backend.readOnly) return { status: VIRTIO_BLK_S_IOERR, written: 0 };
    const bytes = el.readLen - HEADER_SIZE;
    if (bytes <= 0 || bytes % RANGE_SIZE !== 0 || bytes / RANGE_SIZE > MAX_RANGES) {
      return { status: this.malformedStatus(`bad discard/write-zeroes payload of ${bytes} bytes`), written: 0 };
    }
    const rec = new Uint8Array(RANGE_SIZE);
    const v = new DataView(rec.buffer);
    for (let off = HEADER_SIZE; off < el.readLen; off += RANGE_SIZE) {
      readFromChain(this.transport.mem, el.readable, off, rec);
      const sector = Number(v.getBigUint64(0, true));
      const count = v.getUint32(8, true);
      const flags = v.getUint32(12, true);
      if (!this.inRange(sector, count * SECTOR) || count > MAX_RANGE_SECTORS) {
        return { status: this.malformedStatus(`range of ${count} sectors at ${sector} out of range`), written: 0 };
      }
      if (type === VIRTIO_BLK_T_DISCARD) {
        if (flags !== 0) return { status: VIRTIO_BLK_S_UNSUPP, written: 0 };
        this.backend.discard(sector * SECTOR, count * SECTOR);
      } else {
        if (flags & ~WRITE_ZEROES_FLAG_UNMAP) return { status: VIRTIO_BLK_S_UNSUPP, written: 0 };
        this.backend.writeZeroes(sector * SECTOR, count * SECTOR, (flags & WRITE_ZEROES_FLAG_UNMAP) !== 0);
      }
    }
    return ok(0);
  }

  private inRange(sector: number, len: number): boolean {
    return Number.isSafeInteger(sector * SECTOR) && sector * SECTOR + len <= this.backend.size;
  }

  /** Puts the status byte last and returns the used length (data + status). */
  private finish(el: VirtqElement, statusAt: number, written: number, status: number): number {
    writeToChain(this.transport.mem, el.writable, statusAt, Uint8Array.of(status));
    return written + 1;
  }

  private malformed(reason: string): number {
    this.opts.warn?.(`virtio-blk: ${reason}`);
    return 0;
  }

  private malformedStatus(reason: string): number {
    this.opts.warn?.(`virtio-blk: ${reason}`);
    return VIRTIO_BLK_S_IOERR;
  }
}

function ok(written: number): { status: number; written: number } {
  return { status: VIRTIO_BLK_S_OK, written };
}

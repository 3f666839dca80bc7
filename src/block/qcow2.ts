// qcow2 (versions 2 and 3) as a BlockBackend: guest offsets map through a two-level
// table (L1 in RAM, L2 tables cached) to host clusters; unallocated clusters read from
// the backing file or as zeros, zero-flagged clusters (v3) as zeros, compressed clusters
// through raw inflate. Internal snapshots are never touched but stay valid: clusters
// they share (no COPIED flag) are copied on write, never modified.
//
// Crash safety (process kill and power loss alike), as QEMU's metadata caches do it:
// a new cluster's refcount is written at once and its data straight after, but the L2
// and L1 entries that point at new clusters stay in RAM (dirty tables, never evicted)
// until commitMetadata(), which runs fsync -> dirty L2 tables -> fsync -> dirty L1
// entries -> fsync, and only then drops the references the old mappings held. So the
// file never points at a cluster whose data or refcount might not be on disk; a crash
// at worst leaks clusters. flush() (a guest FLUSH) commits and fsyncs; so does close(),
// and so does a write when too many tables are dirty (bounding RAM).
//
// Guest-visible failures (a table entry pointing outside the file, a bad compressed
// cluster, a host error) are BlockIoErrors, raised before anything is written.
import { inflateRawSync } from "node:zlib";
import { UserError } from "../machine/machine.js";
import { BlockIoError, type BlockBackend } from "./block-backend.js";
import { HostFile, ZERO_CHUNK, checkRange, syncsEachWrite, type CacheMode } from "./host-file.js";
import {
  H_AUTOCLEAR,
  H_L1_SIZE,
  H_SIZE,
  INCOMPAT_CORRUPT,
  INCOMPAT_DIRTY,
  QCOW2_MAGIC,
  l1EntriesFor,
  parseHeader,
  type Qcow2Header,
} from "./qcow2-header.js";
import { Refcounts, entryBytes } from "./qcow2-refcounts.js";

export { QCOW2_MAGIC };

const COPIED_HI = 0x80000000; // bit 63: refcount is exactly 1, may be written in place
const COMPRESSED_HI = 0x40000000; // bit 62
const ZERO_LO = 1; // bit 0 (v3): reads as zeros
const OFFSET_HI = 0x00ffffff;
/** L2 tables kept in RAM, by bytes; dirty ones are committed when half of it is dirty. */
const L2_CACHE_BYTES = 8 << 20;
/** Old mappings whose clusters are freed at the next commit, at most. */
const MAX_PENDING_RELEASES = 4096;
/** Above this many bytes of L2 tables, open() no longer checks every L2 entry up front. */
const OPEN_SCAN_L2_BYTES = 4 << 20;

export interface Qcow2OpenOptions {
  cache: CacheMode;
  /** Opens the backing file; absent for metadata-only opens (create, resize, check). */
  openBacking?(name: string, format: string | undefined): BlockBackend;
}

/** One decoded L2 entry. */
export type Mapping =
  | { kind: "unallocated" }
  | { kind: "zero"; offset: number; copied: boolean }
  | { kind: "normal"; offset: number; copied: boolean }
  | { kind: "compressed"; offset: number; bytes: number };

export class Qcow2Backend implements BlockBackend {
  size: number;
  readonly readOnly: boolean;
  readonly clusterSize: number;
  private readonly l2Entries: number;
  private l1: Uint8Array;
  private l1View: DataView;
  private l1Offset: number;
  private readonly l2Cache = new Map<number, Uint8Array>();
  private readonly l2CacheLimit: number;
  /** L2 tables (by offset) and L1 indices changed in RAM but not yet on disk. */
  private readonly dirtyL2 = new Set<number>();
  private readonly dirtyL1 = new Set<number>();
  /** Old mappings to free once the new ones are on disk. */
  private pendingReleases: Mapping[] = [];
  private readonly refcounts: Refcounts;
  private inflated?: { offset: number; data: Uint8Array };

  private constructor(
    readonly file: HostFile,
    readonly header: Qcow2Header,
    readonly backing: BlockBackend | undefined,
    private readonly cache: CacheMode,
  ) {
    this.readOnly = file.readOnly;
    this.size = header.size;
    this.clusterSize = 2 ** header.clusterBits;
    this.l2Entries = this.clusterSize / 8;
    this.l2CacheLimit = Math.max(4, Math.floor(L2_CACHE_BYTES / this.clusterSize));
    this.l1Offset = header.l1Offset;
    this.l1 = new Uint8Array(header.l1Size * 8);
    file.read(header.l1Offset, this.l1);
    this.l1View = new DataView(this.l1.buffer);
    this.refcounts = new Refcounts(file, header.clusterBits, header.refcountOrder, header.refcountTableOffset, header.refcountTableClusters);
  }

  /** Opens a qcow2 image; every problem found here is one UserError line. */
  static open(file: HostFile, opts: Qcow2OpenOptions): Qcow2Backend {
    const length = file.length();
    const first = new Uint8Array(Math.min(length, 2 ** 21));
    file.read(0, first);
    let header: Qcow2Header;
    try {
      header = parseHeader(first, length);
    } catch (err) {
      if (err instanceof UserError) throw new UserError(`${file.path}: ${err.message}`);
      throw err;
    }
    checkWritable(file, header);
    const backing = header.backingFile === undefined ? undefined : opts.openBacking?.(header.backingFile, header.backingFormat);
    try {
      const image = new Qcow2Backend(file, header, backing, opts.cache);
      image.checkTables(length);
      if (!file.readOnly && header.version === 3 && header.autoclear !== 0n) {
        // Autoclear features (bitmaps...) describe data we do not keep up to date.
        file.write(H_AUTOCLEAR, entryBytes(0));
      }
      return image;
    } catch (err) {
      backing?.close();
      if (err instanceof BlockIoError) throw new UserError(`${file.path}: ${err.message}`);
      throw err;
    }
  }

  read(offset: number, buf: Uint8Array): void {
    checkRange(this.size, offset, buf.length);
    this.eachCluster(offset, buf.length, (vc, inCluster, pos, len) => {
      this.readCluster(vc, inCluster, buf.subarray(pos, pos + len));
    });
  }

  write(offset: number, data: Uint8Array): void {
    this.checkWrite(offset, data.length);
    this.eachCluster(offset, data.length, (vc, inCluster, pos, len) => {
      this.writeCluster(vc, inCluster, data.subarray(pos, pos + len));
    });
    this.afterWrite();
  }

  flush(): void {
    if (this.readOnly) return;
    this.commitMetadata();
    if (this.cache !== "unsafe") this.file.sync();
  }

  /** Whole clusters become zero clusters (v3) or unallocated (v2 without backing). */
  discard(offset: number, length: number): void {
    this.checkWrite(offset, length);
    this.eachCluster(offset, length, (vc, inCluster, _pos, len) => {
      if (len !== this.clusterSize) return; // partial clusters: discard is advisory
      if (this.header.version === 3) this.zeroCluster(vc);
      else if (!this.backing) this.unmapCluster(vc);
    });
    this.afterWrite();
  }

  writeZeroes(offset: number, length: number, _unmap: boolean): void {
    this.checkWrite(offset, length);
    this.eachCluster(offset, length, (vc, inCluster, _pos, len) => {
      if (len === this.clusterSize && this.header.version === 3) return this.zeroCluster(vc);
      if (len === this.clusterSize && !this.backing && this.mapping(vc).kind === "unallocated") return;
      for (let done = 0; done < len; done += ZERO_CHUNK.length) {
        this.writeCluster(vc, inCluster + done, ZERO_CHUNK.subarray(0, Math.min(ZERO_CHUNK.length, len - done)));
      }
    });
    this.afterWrite();
  }

  close(): void {
    try {
      if (!this.readOnly) this.flush();
    } finally {
      this.closeFiles();
    }
  }

  private closeFiles(): void {
    try {
      this.file.close();
    } finally {
      this.backing?.close();
    }
  }

  /** Grows the virtual disk (img resize); the L1 table moves if it must grow. */
  resize(newSize: number): void {
    if (this.readOnly) throw new BlockIoError(`${this.file.path}: image is read-only`);
    if (newSize < this.size) throw new UserError("shrinking qcow2 images is not supported");
    if (newSize % 512 !== 0) throw new UserError("the new size must be a multiple of 512 bytes");
    this.commitMetadata();
    const needed = l1EntriesFor(newSize, this.header.clusterBits);
    if (needed > this.l1.length / 8) this.growL1(needed);
    const size = new Uint8Array(8);
    new DataView(size.buffer).setBigUint64(0, BigInt(newSize));
    this.file.write(H_SIZE, size);
    this.file.sync();
    this.size = newSize;
    this.header.size = newSize;
  }

  /** The mapping of virtual cluster `vc` (img check, tests). */
  mapping(vc: number): Mapping {
    const l2Offset = this.l1OffsetAt(Math.floor(vc / this.l2Entries));
    if (l2Offset === 0) return { kind: "unallocated" };
    return this.decode(this.l2Table(l2Offset), vc % this.l2Entries);
  }

  // --- reading ---

  private readCluster(vc: number, inCluster: number, part: Uint8Array): void {
    const m = this.mapping(vc);
    switch (m.kind) {
      case "unallocated":
        return this.readBacking(vc * this.clusterSize + inCluster, part);
      case "zero":
        part.fill(0);
        return;
      case "normal":
        return this.file.read(m.offset + inCluster, part);
      case "compressed":
        part.set(this.inflate(m).subarray(inCluster, inCluster + part.length));
    }
  }

  /** Reads the backing file; bytes past its end (a smaller backing image) are zeros. */
  private readBacking(offset: number, part: Uint8Array): void {
    const available = this.backing ? Math.max(0, Math.min(part.length, this.backing.size - offset)) : 0;
    if (available > 0) this.backing!.read(offset, part.subarray(0, available));
    part.fill(0, available);
  }

  private inflate(m: { offset: number; bytes: number }): Uint8Array {
    if (this.inflated?.offset === m.offset) return this.inflated.data;
    const input = new Uint8Array(m.bytes);
    this.file.read(m.offset, input);
    let out: Buffer;
    try {
      out = inflateRawSync(input, { maxOutputLength: this.clusterSize, finishFlush: 2 /* Z_SYNC_FLUSH */ });
    } catch (err) {
      throw new BlockIoError(`qcow2: compressed cluster at ${m.offset} is corrupt (${(err as Error).message})`);
    }
    const data = new Uint8Array(this.clusterSize);
    data.set(out.subarray(0, this.clusterSize));
    this.inflated = { offset: m.offset, data };
    return data;
  }

  // --- writing ---

  private writeCluster(vc: number, inCluster: number, part: Uint8Array): void {
    const l2Offset = this.ensureL2(Math.floor(vc / this.l2Entries));
    const table = this.l2Table(l2Offset);
    const index = vc % this.l2Entries;
    const m = this.decode(table, index);
    if (m.kind === "normal" && m.copied) return this.file.write(m.offset + inCluster, part);
    // Copy-on-write into a new cluster: old contents, then the new bytes.
    let content: Uint8Array;
    if (part.length === this.clusterSize) content = part;
    else {
      content = new Uint8Array(this.clusterSize);
      this.readCluster(vc, 0, content);
      content.set(part, inCluster);
    }
    const offset = this.refcounts.allocate();
    this.file.write(offset, content);
    this.setL2(l2Offset, index, offset, COPIED_HI, 0);
    this.release(m);
  }

  /** Makes a whole cluster read as zeros without data (v3 zero flag). */
  private zeroCluster(vc: number): void {
    const m = this.mapping(vc);
    if (m.kind === "zero" && m.offset === 0) return;
    if (m.kind === "unallocated" && !this.backing) return;
    const l2Offset = this.ensureL2(Math.floor(vc / this.l2Entries));
    this.setL2(l2Offset, vc % this.l2Entries, 0, 0, ZERO_LO);
    this.release(m);
  }

  private unmapCluster(vc: number): void {
    const m = this.mapping(vc);
    if (m.kind === "unallocated") return;
    const l2Offset = this.ensureL2(Math.floor(vc / this.l2Entries));
    this.setL2(l2Offset, vc % this.l2Entries, 0, 0, 0);
    this.release(m);
  }

  /** Queues the reference an old mapping held; it is dropped once nothing on disk points at it. */
  private release(m: Mapping): void {
    if (m.kind === "unallocated" || (m.kind === "zero" && m.offset === 0)) return;
    if (m.kind === "compressed") this.inflated = undefined;
    this.pendingReleases.push(m);
  }

  private dropReference(m: Mapping): void {
    if ((m.kind === "normal" || m.kind === "zero") && m.offset !== 0) this.refcounts.add(m.offset, -1);
    if (m.kind === "compressed") {
      const first = Math.floor(m.offset / this.clusterSize);
      const last = Math.floor((m.offset + m.bytes - 1) / this.clusterSize);
      for (let c = first; c <= last; c++) this.refcounts.add(c * this.clusterSize, -1);
    }
  }

  /** writethrough: every request is committed and on disk; otherwise commit when RAM fills. */
  private afterWrite(): void {
    if (syncsEachWrite(this.cache)) this.flush();
    else if (this.dirtyL2.size >= this.l2CacheLimit / 2 || this.pendingReleases.length >= MAX_PENDING_RELEASES) {
      this.commitMetadata();
    }
  }

  /** Writes dirty metadata in crash-safe order (see the top of the file). */
  private commitMetadata(): void {
    if (this.dirtyL2.size === 0 && this.dirtyL1.size === 0 && this.pendingReleases.length === 0) return;
    const sync = () => {
      if (this.cache !== "unsafe") this.file.sync();
    };
    sync(); // new data clusters and their refcounts
    for (const offset of this.dirtyL2) this.file.write(offset, this.l2Cache.get(offset)!);
    this.dirtyL2.clear();
    if (this.dirtyL1.size > 0) {
      sync(); // new L2 tables, before the L1 entries pointing at them
      for (const i of this.dirtyL1) this.file.write(this.l1Offset + i * 8, this.l1.subarray(i * 8, i * 8 + 8));
      this.dirtyL1.clear();
    }
    sync(); // nothing on disk refers to the old clusters any more
    const releases = this.pendingReleases;
    this.pendingReleases = [];
    for (const m of releases) this.dropReference(m);
  }

  /** The offset of a writable (refcount 1) L2 table for L1 index `i`. */
  private ensureL2(i: number): number {
    const old = this.l1OffsetAt(i);
    const copied = (this.l1View.getUint32(i * 8) & COPIED_HI) !== 0;
    if (old !== 0 && copied) return old;
    const table = new Uint8Array(this.clusterSize);
    if (old !== 0) table.set(this.l2Table(old)); // shared with a snapshot: copy it
    const offset = this.refcounts.allocate();
    this.cacheL2(offset, table);
    this.dirtyL2.add(offset);
    this.l1.set(entryBytes(BigInt(offset) | (1n << 63n)), i * 8);
    this.dirtyL1.add(i);
    if (old !== 0) this.pendingReleases.push({ kind: "normal", offset: old, copied: false });
    return offset;
  }

  /** Changes an L2 entry in RAM; commitMetadata() writes it. */
  private setL2(l2Offset: number, index: number, offset: number, flagsHi: number, flagsLo: number): void {
    const view = new DataView(this.l2Table(l2Offset).buffer);
    view.setUint32(index * 8, (Math.floor(offset / 2 ** 32) | flagsHi) >>> 0);
    view.setUint32(index * 8 + 4, ((offset % 2 ** 32) | flagsLo) >>> 0);
    this.dirtyL2.add(l2Offset);
  }

  private growL1(entries: number): void {
    const bytes = Math.ceil((entries * 8) / this.clusterSize) * this.clusterSize;
    const l1 = new Uint8Array(bytes);
    l1.set(this.l1);
    const first = this.refcounts.allocateAtEnd(bytes / this.clusterSize);
    this.file.write(first, l1);
    this.file.sync();
    // l1_size and l1_table_offset are adjacent: one 12-byte write switches tables.
    const head = new Uint8Array(12);
    const view = new DataView(head.buffer);
    view.setUint32(0, entries);
    view.setBigUint64(4, BigInt(first));
    this.file.write(H_L1_SIZE, head);
    this.file.sync(); // the header names the new table before the old one may be reused
    const old = { offset: this.l1Offset, clusters: Math.ceil(this.l1.length / this.clusterSize) };
    this.l1 = l1.subarray(0, entries * 8);
    this.l1View = new DataView(l1.buffer, 0, entries * 8);
    this.l1Offset = first;
    this.header.l1Size = entries;
    this.header.l1Offset = first;
    if (old.offset !== 0) {
      for (let i = 0; i < old.clusters; i++) this.refcounts.add(old.offset + i * this.clusterSize, -1);
    }
  }

  // --- tables ---

  private l1OffsetAt(i: number): number {
    if (i * 8 >= this.l1.length) return 0;
    const offset = (this.l1View.getUint32(i * 8) & OFFSET_HI) * 2 ** 32 + ((this.l1View.getUint32(i * 8 + 4) & ~0x1ff) >>> 0);
    if (offset % this.clusterSize !== 0) throw new BlockIoError(`qcow2: L2 table offset ${offset} is not cluster-aligned`);
    return offset;
  }

  private l2Table(offset: number): Uint8Array {
    const cached = this.l2Cache.get(offset);
    if (cached) return cached;
    if (offset + this.clusterSize > Math.max(this.refcounts.end, this.file.length())) {
      throw new BlockIoError(`qcow2: L2 table at ${offset} is outside the image`);
    }
    const table = new Uint8Array(this.clusterSize);
    this.file.read(offset, table);
    this.cacheL2(offset, table);
    return table;
  }

  /** Caches a table, evicting the oldest clean one (dirty tables stay until committed). */
  private cacheL2(offset: number, table: Uint8Array): void {
    if (this.l2Cache.size >= this.l2CacheLimit) {
      if (this.dirtyL2.size >= this.l2CacheLimit / 2) this.commitMetadata();
      for (const key of this.l2Cache.keys()) {
        if (this.dirtyL2.has(key)) continue;
        this.l2Cache.delete(key);
        break;
      }
    }
    this.l2Cache.set(offset, table);
  }

  /** Decodes (and bounds-checks) L2 entry `index` of `table`. */
  private decode(table: Uint8Array, index: number): Mapping {
    const hi = be32(table, index * 8);
    const lo = be32(table, index * 8 + 4);
    const end = Math.max(this.refcounts.end, this.file.length());
    if (hi & COMPRESSED_HI) {
      const x = 62 - (this.header.clusterBits - 8); // bits of host offset
      const offset = (hi & (2 ** (x - 32) - 1)) * 2 ** 32 + lo;
      const sectors = (hi >>> (x - 32)) & (2 ** (this.header.clusterBits - 8) - 1);
      const bytes = (sectors + 1) * 512 - (offset % 512);
      if (offset === 0 || offset >= end) throw new BlockIoError(`qcow2: compressed cluster at ${offset} is outside the image`);
      return { kind: "compressed", offset, bytes };
    }
    const offset = (hi & OFFSET_HI) * 2 ** 32 + ((lo & ~0x1ff) >>> 0);
    const copied = (hi & COPIED_HI) !== 0;
    if (offset !== 0 && (offset % this.clusterSize !== 0 || offset >= end)) {
      throw new BlockIoError(`qcow2: data cluster offset ${offset} is outside the image or unaligned`);
    }
    if (this.header.version === 3 && (lo & ZERO_LO)) return { kind: "zero", offset, copied };
    if (offset === 0) return { kind: "unallocated" };
    return { kind: "normal", offset, copied };
  }

  /** Open-time checks of L1 (always) and L2 entries (small images), so corrupt tables are UserErrors. */
  private checkTables(length: number): void {
    const tables: number[] = [];
    for (let i = 0; i < this.header.l1Size; i++) {
      const offset = this.l1OffsetAt(i);
      if (offset === 0) continue;
      if (offset + this.clusterSize > length) throw new BlockIoError(`L1 entry ${i} points outside the file (L2 table at ${offset})`);
      tables.push(offset);
    }
    if (tables.length * this.clusterSize > OPEN_SCAN_L2_BYTES) return;
    for (const offset of tables) {
      const table = this.l2Table(offset);
      for (let j = 0; j < this.l2Entries; j++) this.decode(table, j);
    }
  }

  private eachCluster(offset: number, length: number, fn: (vc: number, inCluster: number, pos: number, len: number) => void): void {
    for (let pos = 0; pos < length; ) {
      const at = offset + pos;
      const vc = Math.floor(at / this.clusterSize);
      const inCluster = at - vc * this.clusterSize;
      const len = Math.min(length - pos, this.clusterSize - inCluster);
      fn(vc, inCluster, pos, len);
      pos += len;
    }
  }

  private checkWrite(offset: number, length: number): void {
    if (this.readOnly) throw new BlockIoError(`${this.file.path}: image is read-only`);
    checkRange(this.size, offset, length);
  }
}

function be32(bytes: Uint8Array, at: number): number {
  return ((bytes[at] << 24) | (bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]) >>> 0;
}

/** A writable open refuses images QEMU marks corrupt or dirty (needing a refcount rebuild). */
function checkWritable(file: HostFile, header: Qcow2Header): void {
  if (file.readOnly) return;
  if (header.incompatible & INCOMPAT_CORRUPT) {
    throw new UserError(`${file.path}: qcow2 image is marked corrupt; repair it with qemu-img check -r all`);
  }
  if (header.incompatible & INCOMPAT_DIRTY) {
    throw new UserError(`${file.path}: qcow2 image is dirty (lazy refcounts); repair it with qemu-img check -r all`);
  }
  if (header.refcountOrder > 6) throw new UserError(`${file.path}: unsupported refcount width`);
}

// The qcow2 header (docs/interop/qcow2.txt in QEMU): big-endian fields at fixed offsets,
// then header extensions (type, length, data padded to 8 bytes) up to a zero type, then
// the backing file name. Versions 2 and 3; v3 adds feature bits, refcount_order,
// header_length and (optionally) compression_type. Parsing validates everything the
// backend will later trust, so a corrupt header is one UserError at open time.
import { UserError } from "../machine/machine.js";

export const QCOW2_MAGIC = 0x514649fb; // "QFI\xfb"

// Header field offsets.
export const H_MAGIC = 0;
export const H_VERSION = 4;
export const H_BACKING_OFFSET = 8;
export const H_BACKING_SIZE = 16;
export const H_CLUSTER_BITS = 20;
export const H_SIZE = 24;
export const H_CRYPT_METHOD = 32;
export const H_L1_SIZE = 36;
export const H_L1_OFFSET = 40;
export const H_REFTABLE_OFFSET = 48;
export const H_REFTABLE_CLUSTERS = 56;
export const H_NB_SNAPSHOTS = 60;
export const H_SNAPSHOTS_OFFSET = 64;
export const H_INCOMPATIBLE = 72;
export const H_COMPATIBLE = 80;
export const H_AUTOCLEAR = 88;
export const H_REFCOUNT_ORDER = 96;
export const H_HEADER_LENGTH = 100;
export const H_COMPRESSION_TYPE = 104;

export const V2_HEADER_LENGTH = 72;
export const V3_HEADER_LENGTH = 112;

// Incompatible feature bits (v3).
export const INCOMPAT_DIRTY = 1n << 0n;
export const INCOMPAT_CORRUPT = 1n << 1n;
export const INCOMPAT_DATA_FILE = 1n << 2n;
export const INCOMPAT_COMPRESSION = 1n << 3n;
export const INCOMPAT_EXTL2 = 1n << 4n;
const INCOMPAT_KNOWN = INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_COMPRESSION;

// Header extension types.
export const EXT_END = 0;
export const EXT_BACKING_FORMAT = 0xe2792aca;
export const EXT_FEATURE_TABLE = 0x6803f857;

/** Largest image we accept: offsets must stay exact in a Number. */
const MAX_SIZE = 2 ** 53 - 2 ** 30;
const MAX_BACKING_NAME = 1023;
/** QEMU's QCOW_MAX_L1_SIZE and QCOW_MAX_REFTABLE_SIZE: bounds on what open() reads into RAM. */
const MAX_L1_BYTES = 32 * 1024 * 1024;
const MAX_REFTABLE_BYTES = 8 * 1024 * 1024;

export interface Qcow2Header {
  version: 2 | 3;
  backingFile?: string;
  backingFormat?: string;
  clusterBits: number;
  size: number;
  l1Size: number;
  l1Offset: number;
  refcountTableOffset: number;
  refcountTableClusters: number;
  nbSnapshots: number;
  snapshotsOffset: number;
  incompatible: bigint;
  compatible: bigint;
  autoclear: bigint;
  refcountOrder: number;
  headerLength: number;
  /** Bytes the header, extensions and backing name occupy from offset 0. */
  headerEnd: number;
}

function u64(view: DataView, at: number, what: string): number {
  const v = view.getBigUint64(at);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new UserError(`qcow2 ${what} ${v} is out of range`);
  return Number(v);
}

/** Parses and validates a header from the image's first cluster-or-so of bytes. */
export function parseHeader(bytes: Uint8Array, fileLength: number): Qcow2Header {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bad = (what: string): never => {
    throw new UserError(`corrupt qcow2 header: ${what}`);
  };
  if (bytes.length < V2_HEADER_LENGTH || view.getUint32(H_MAGIC) !== QCOW2_MAGIC) bad("bad magic");
  const version = view.getUint32(H_VERSION);
  if (version !== 2 && version !== 3) throw new UserError(`unsupported qcow2 version ${version}`);
  const clusterBits = view.getUint32(H_CLUSTER_BITS);
  if (clusterBits < 9 || clusterBits > 21) bad(`cluster_bits ${clusterBits}`);
  const clusterSize = 2 ** clusterBits;
  if (view.getUint32(H_CRYPT_METHOD) !== 0) {
    throw new UserError("encrypted qcow2 images are not supported (crypt_method is not 0)");
  }
  const h: Qcow2Header = {
    version,
    clusterBits,
    size: u64(view, H_SIZE, "size"),
    l1Size: view.getUint32(H_L1_SIZE),
    l1Offset: u64(view, H_L1_OFFSET, "L1 table offset"),
    refcountTableOffset: u64(view, H_REFTABLE_OFFSET, "refcount table offset"),
    refcountTableClusters: view.getUint32(H_REFTABLE_CLUSTERS),
    nbSnapshots: view.getUint32(H_NB_SNAPSHOTS),
    snapshotsOffset: u64(view, H_SNAPSHOTS_OFFSET, "snapshot table offset"),
    incompatible: 0n,
    compatible: 0n,
    autoclear: 0n,
    refcountOrder: 4,
    headerLength: V2_HEADER_LENGTH,
    headerEnd: V2_HEADER_LENGTH,
  };
  if (version === 3) {
    if (bytes.length < 104) bad("truncated v3 header");
    h.incompatible = view.getBigUint64(H_INCOMPATIBLE);
    h.compatible = view.getBigUint64(H_COMPATIBLE);
    h.autoclear = view.getBigUint64(H_AUTOCLEAR);
    h.refcountOrder = view.getUint32(H_REFCOUNT_ORDER);
    h.headerLength = view.getUint32(H_HEADER_LENGTH);
    if (h.headerLength < 104 || h.headerLength % 8 !== 0 || h.headerLength > Math.min(bytes.length, clusterSize)) {
      bad(`header_length ${h.headerLength}`);
    }
    checkIncompatible(h, view);
  }
  if (h.refcountOrder > 6) bad(`refcount_order ${h.refcountOrder}`);
  if (h.size > MAX_SIZE) bad(`virtual size ${h.size}`);
  if (h.l1Size * 8 > MAX_L1_BYTES) bad(`L1 table of ${h.l1Size} entries is too large`);
  if (h.refcountTableClusters * clusterSize > MAX_REFTABLE_BYTES) bad("refcount table is too large");
  checkTable(h.l1Offset, h.l1Size * 8, clusterSize, fileLength, "L1 table", bad);
  if (h.l1Size < l1EntriesFor(h.size, clusterBits)) bad(`L1 table too small for the virtual size`);
  if (h.refcountTableClusters === 0) bad("no refcount table");
  checkTable(h.refcountTableOffset, h.refcountTableClusters * clusterSize, clusterSize, fileLength, "refcount table", bad);
  if (h.nbSnapshots > 0) checkTable(h.snapshotsOffset, 1, clusterSize, fileLength, "snapshot table", bad);
  parseExtensions(h, bytes, view, clusterSize, bad);
  parseBackingName(h, bytes, view, clusterSize, bad);
  return h;
}

function checkIncompatible(h: Qcow2Header, view: DataView): void {
  if (h.incompatible & INCOMPAT_DATA_FILE) throw new UserError("qcow2 images with an external data file are not supported");
  if (h.incompatible & INCOMPAT_EXTL2) throw new UserError("qcow2 images with extended L2 entries are not supported");
  const unknown = h.incompatible & ~INCOMPAT_KNOWN;
  if (unknown) throw new UserError(`unsupported qcow2 feature(s): incompatible bits 0x${unknown.toString(16)}`);
  const type = h.headerLength > H_COMPRESSION_TYPE ? view.getUint8(H_COMPRESSION_TYPE) : 0;
  if (type !== 0 || (h.incompatible & INCOMPAT_COMPRESSION) !== 0n) {
    throw new UserError(`unsupported qcow2 compression type ${type === 1 ? "zstd" : type} (only zlib is supported)`);
  }
}

/** A table must be cluster-aligned and lie inside the file. */
function checkTable(offset: number, bytes: number, clusterSize: number, fileLength: number, what: string, bad: (w: string) => never): void {
  if (bytes === 0) return;
  if (offset % clusterSize !== 0) bad(`${what} offset ${offset} is not cluster-aligned`);
  if (offset === 0 || offset + bytes > fileLength) bad(`${what} at ${offset} (+${bytes}) is outside the file`);
}

function parseExtensions(h: Qcow2Header, bytes: Uint8Array, view: DataView, clusterSize: number, bad: (w: string) => never): void {
  let at = h.headerLength;
  const limit = Math.min(bytes.length, clusterSize);
  for (;;) {
    if (at + 8 > limit) bad("header extensions run past the first cluster");
    const type = view.getUint32(at);
    const length = view.getUint32(at + 4);
    at += 8;
    if (type === EXT_END) break;
    if (at + length > limit) bad("header extension runs past the first cluster");
    if (type === EXT_BACKING_FORMAT) h.backingFormat = new TextDecoder().decode(bytes.subarray(at, at + length));
    at += Math.ceil(length / 8) * 8;
  }
  h.headerEnd = at;
}

function parseBackingName(h: Qcow2Header, bytes: Uint8Array, view: DataView, clusterSize: number, bad: (w: string) => never): void {
  const offset = u64(view, H_BACKING_OFFSET, "backing file offset");
  const length = view.getUint32(H_BACKING_SIZE);
  if (offset === 0) return;
  if (length === 0 || length > MAX_BACKING_NAME || offset + length > Math.min(bytes.length, clusterSize)) {
    bad("backing file name is outside the first cluster");
  }
  h.backingFile = new TextDecoder().decode(bytes.subarray(offset, offset + length));
  h.headerEnd = Math.max(h.headerEnd, offset + length);
}

/** L1 entries needed to map `size` bytes. */
export function l1EntriesFor(size: number, clusterBits: number): number {
  const perL2 = 2 ** (clusterBits - 3);
  return Math.ceil(size / (perL2 * 2 ** clusterBits));
}

export interface NewHeader {
  version: 2 | 3;
  clusterBits: number;
  size: number;
  refcountTableOffset: number;
  refcountTableClusters: number;
  backingFile?: string;
  backingFormat?: string;
}

/** Serializes a fresh header (no L1 yet, no snapshots) for `img create`. */
export function buildHeader(n: NewHeader): Uint8Array {
  const clusterSize = 2 ** n.clusterBits;
  const headerLength = n.version === 3 ? V3_HEADER_LENGTH : V2_HEADER_LENGTH;
  const enc = new TextEncoder();
  const fmt = n.backingFormat ? enc.encode(n.backingFormat) : undefined;
  const name = n.backingFile ? enc.encode(n.backingFile) : undefined;
  if (name && name.length > MAX_BACKING_NAME) throw new UserError("backing file name is too long");
  const extBytes = (fmt ? 8 + Math.ceil(fmt.length / 8) * 8 : 0) + 8;
  const nameOffset = headerLength + extBytes;
  const total = nameOffset + (name?.length ?? 0);
  if (total > clusterSize) throw new UserError("backing file name does not fit in the first cluster");
  const bytes = new Uint8Array(total);
  const view = new DataView(bytes.buffer);
  view.setUint32(H_MAGIC, QCOW2_MAGIC);
  view.setUint32(H_VERSION, n.version);
  if (name) {
    view.setBigUint64(H_BACKING_OFFSET, BigInt(nameOffset));
    view.setUint32(H_BACKING_SIZE, name.length);
    bytes.set(name, nameOffset);
  }
  view.setUint32(H_CLUSTER_BITS, n.clusterBits);
  view.setBigUint64(H_SIZE, BigInt(n.size));
  view.setBigUint64(H_REFTABLE_OFFSET, BigInt(n.refcountTableOffset));
  view.setUint32(H_REFTABLE_CLUSTERS, n.refcountTableClusters);
  if (n.version === 3) {
    view.setUint32(H_REFCOUNT_ORDER, 4);
    view.setUint32(H_HEADER_LENGTH, headerLength);
  }
  let at = headerLength;
  if (fmt) {
    view.setUint32(at, EXT_BACKING_FORMAT);
    view.setUint32(at + 4, fmt.length);
    bytes.set(fmt, at + 8);
    at += 8 + Math.ceil(fmt.length / 8) * 8;
  }
  view.setUint32(at, EXT_END); // end of extensions
  return bytes;
}

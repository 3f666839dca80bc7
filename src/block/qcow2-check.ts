// `img check` for qcow2: recount every reference (header, L1/L2 tables, data and
// compressed clusters, refcount structures, snapshot tables and their trees) and compare
// with the stored refcounts, as qemu-img check does. A stored count below the references
// (or a reference outside the file, or a wrong COPIED flag) is a corruption; above is a
// leak. Bitmap directories (autoclear extension) are not counted.
import { HostFile } from "./host-file.js";
import { parseHeader, type Qcow2Header } from "./qcow2-header.js";
import { Refcounts, readOffsets } from "./qcow2-refcounts.js";

export interface CheckResult {
  corruptions: number;
  leaks: number;
  /** One line per problem, in qemu-img's words. */
  messages: string[];
  allocatedClusters: number;
  totalClusters: number;
  compressedClusters: number;
  imageEnd: number;
}

const COPIED_HI = 0x80000000;
const COMPRESSED_HI = 0x40000000;

export function checkQcow2(file: HostFile): CheckResult {
  const length = file.length();
  const first = new Uint8Array(Math.min(length, 2 ** 21));
  file.read(0, first);
  const h = parseHeader(first, length);
  const cs = 2 ** h.clusterBits;
  const fileClusters = Math.ceil(length / cs);
  const refs = new Map<number, number>();
  const result: CheckResult = {
    corruptions: 0,
    leaks: 0,
    messages: [],
    allocatedClusters: 0,
    totalClusters: Math.ceil(h.size / cs),
    compressedClusters: 0,
    imageEnd: 0,
  };
  const ref = (offset: number, bytes: number, what: string): boolean => {
    const firstCluster = Math.floor(offset / cs);
    const last = Math.floor((offset + bytes - 1) / cs);
    if (last >= fileClusters) {
      result.corruptions++;
      result.messages.push(`ERROR ${what} at offset ${offset} is beyond the end of the image file`);
      return false;
    }
    for (let c = firstCluster; c <= last; c++) refs.set(c, (refs.get(c) ?? 0) + 1);
    return true;
  };
  const refcounts = new Refcounts(file, h.clusterBits, h.refcountOrder, h.refcountTableOffset, h.refcountTableClusters);
  ref(0, cs, "header");
  const copiedChecks: Array<{ offset: number; copied: boolean; what: string }> = [];
  walkL1(file, h, h.l1Offset, h.l1Size, ref, copiedChecks, result, true);
  walkSnapshots(file, h, ref, copiedChecks, result);
  const rt = refcounts.tableRange;
  ref(rt.offset, rt.clusters * cs, "refcount table");
  for (const block of refcounts.blockOffsets()) if (block !== 0) ref(block, cs, "refcount block");

  let clusters = fileClusters;
  for (const c of refs.keys()) clusters = Math.max(clusters, c + 1);
  for (let c = 0; c < clusters; c++) {
    const stored = safeGet(refcounts, c * cs);
    const expected = refs.get(c) ?? 0;
    if (stored > 0 || expected > 0) result.imageEnd = (c + 1) * cs;
    if (stored < expected) {
      result.corruptions++;
      result.messages.push(`ERROR cluster ${c} refcount=${stored} reference=${expected}`);
    } else if (stored > expected) {
      result.leaks++;
      result.messages.push(`Leaked cluster ${c} refcount=${stored} reference=${expected}`);
    }
  }
  for (const { offset, copied, what } of copiedChecks) {
    const count = safeGet(refcounts, offset);
    if (copied !== (count === 1)) {
      result.corruptions++;
      result.messages.push(`ERROR OFLAG_COPIED ${what}: offset=${offset} refcount=${count}`);
    }
  }
  return result;
}

function safeGet(refcounts: Refcounts, offset: number): number {
  try {
    return refcounts.get(offset);
  } catch {
    return 0;
  }
}

type Ref = (offset: number, bytes: number, what: string) => boolean;

function walkL1(
  file: HostFile,
  h: Qcow2Header,
  l1Offset: number,
  l1Size: number,
  ref: Ref,
  copiedChecks: Array<{ offset: number; copied: boolean; what: string }>,
  result: CheckResult,
  active: boolean,
): void {
  const cs = 2 ** h.clusterBits;
  if (l1Size === 0) return;
  if (!ref(l1Offset, l1Size * 8, "L1 table")) return;
  const l1 = new Uint8Array(l1Size * 8);
  file.read(l1Offset, l1);
  const l1View = new DataView(l1.buffer);
  const l2Offsets = readOffsets(l1);
  l2Offsets.forEach((l2, i) => {
    if (l2 === 0) return;
    if (l2 % cs !== 0 || !ref(l2, cs, "L2 table")) return;
    if (active) copiedChecks.push({ offset: l2, copied: (l1View.getUint32(i * 8) & COPIED_HI) !== 0, what: `L2 table of l1_index=${i}` });
    const table = new Uint8Array(cs);
    file.read(l2, table);
    const view = new DataView(table.buffer);
    for (let j = 0; j < cs / 8; j++) {
      const hi = view.getUint32(j * 8);
      const lo = view.getUint32(j * 8 + 4);
      if (hi & COMPRESSED_HI) {
        const x = 62 - (h.clusterBits - 8);
        const offset = (hi & (2 ** (x - 32) - 1)) * 2 ** 32 + lo;
        const sectors = (hi >>> (x - 32)) & (2 ** (h.clusterBits - 8) - 1);
        ref(offset, (sectors + 1) * 512 - (offset % 512), "compressed cluster");
        if (active) result.compressedClusters++, result.allocatedClusters++;
        continue;
      }
      const offset = (hi & 0x00ffffff) * 2 ** 32 + ((lo & ~0x1ff) >>> 0);
      if (offset === 0) continue;
      if (offset % cs !== 0) {
        result.corruptions++;
        result.messages.push(`ERROR offset=${offset}: Cluster is not properly aligned; L2 entry corrupted.`);
        continue;
      }
      if (!ref(offset, cs, "data cluster")) continue;
      if (active) {
        result.allocatedClusters++;
        copiedChecks.push({ offset, copied: (hi & COPIED_HI) !== 0, what: `data cluster l1_index=${i} l2_index=${j}` });
      }
    }
  });
}

/** Each snapshot: 40-byte header, extra data, id and name, padded to 8 bytes. */
function walkSnapshots(file: HostFile, h: Qcow2Header, ref: Ref, copiedChecks: Array<{ offset: number; copied: boolean; what: string }>, result: CheckResult): void {
  let at = h.snapshotsOffset;
  const fileLength = file.length();
  const start = at;
  for (let i = 0; i < h.nbSnapshots && at + 40 <= fileLength; i++) {
    const head = new Uint8Array(40);
    file.read(at, head);
    const v = new DataView(head.buffer);
    const l1Offset = Number(v.getBigUint64(0));
    const l1Size = v.getUint32(8);
    const idLen = v.getUint16(12);
    const nameLen = v.getUint16(14);
    const extra = v.getUint32(36);
    at += Math.ceil((40 + extra + idLen + nameLen) / 8) * 8;
    if (l1Size * 8 <= 32 * 1024 * 1024 && l1Offset + l1Size * 8 <= fileLength) {
      walkL1(file, h, l1Offset, l1Size, ref, copiedChecks, result, false);
    }
  }
  if (h.nbSnapshots > 0) ref(start, at - start, "snapshot table");
}

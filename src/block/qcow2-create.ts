// Creating images (img create / convert, tests). A new qcow2 is laid out as QEMU does:
// header in cluster 0, refcount table in cluster 1, the first refcount block in
// cluster 2; the L1 table is then grown to the virtual size by the backend's own resize,
// so big L1 tables and small clusters need no second code path.
import { UserError } from "../machine/machine.js";
import { HostFile } from "./host-file.js";
import { buildHeader } from "./qcow2-header.js";
import { Qcow2Backend } from "./qcow2.js";
import { setCounter } from "./qcow2-refcounts.js";

export interface Qcow2CreateOptions {
  size: number;
  /** 9..21; default 16 (64 KiB). */
  clusterBits?: number;
  /** 3 ("compat=1.1", default) or 2 ("compat=0.10"). */
  version?: 2 | 3;
  backingFile?: string;
  backingFormat?: string;
}

export function createQcow2(path: string, opts: Qcow2CreateOptions): void {
  const clusterBits = opts.clusterBits ?? 16;
  if (!Number.isInteger(clusterBits) || clusterBits < 9 || clusterBits > 21) {
    throw new UserError("Cluster size must be a power of two between 512 and 2048k");
  }
  const cs = 2 ** clusterBits;
  const header = buildHeader({
    version: opts.version ?? 3,
    clusterBits,
    size: 0,
    refcountTableOffset: cs,
    refcountTableClusters: 1,
    backingFile: opts.backingFile,
    backingFormat: opts.backingFormat,
  });
  const image = new Uint8Array(3 * cs);
  image.set(header);
  new DataView(image.buffer).setBigUint64(cs, BigInt(2 * cs)); // refcount table[0]
  for (let c = 0; c < 3; c++) setCounter(image.subarray(2 * cs), c, 16, 1);
  const file = HostFile.create(path);
  try {
    file.write(0, image);
  } finally {
    file.close();
  }
  const qcow2 = Qcow2Backend.open(HostFile.open(path, false), { cache: "writeback" });
  try {
    qcow2.resize(Math.ceil(opts.size / 512) * 512);
  } finally {
    qcow2.close();
  }
}

/** A raw image: a sparse file of `size` bytes. */
export function createRaw(path: string, size: number): void {
  const file = HostFile.create(path);
  try {
    file.truncate(size);
  } finally {
    file.close();
  }
}

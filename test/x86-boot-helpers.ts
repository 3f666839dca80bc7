// Synthetic bzImages for the x86 boot tests, and a way to find a real one (the x86 guest
// kernel or Debian's, when engineer C's guest build has put them in the cache).
import { existsSync, readFileSync } from "node:fs";

export interface FakeKernelOptions {
  setupSects?: number;
  protocol?: number;
  xloadflags?: number;
  bootFlag?: number;
  magic?: number;
  initSize?: number;
  kernelAlignment?: number;
  relocatable?: boolean;
  prefAddress?: number;
  cmdlineSize?: number;
  initrdAddrMax?: number;
  loadflags?: number;
  /** Bytes of protected-mode code after the setup sectors. */
  payload?: number;
}

/** A minimal bzImage: setup sectors holding a 2.15 setup header, then `payload` bytes
 *  counting up (so tests can see which byte landed where). */
export function fakeBzImage(o: FakeKernelOptions = {}): Uint8Array {
  const setupSects = o.setupSects ?? 4;
  const payload = o.payload ?? 0x3000;
  const realSects = setupSects === 0 ? 4 : setupSects;
  const b = new Uint8Array((realSects + 1) * 512 + payload);
  const v = new DataView(b.buffer);
  b[0x1f1] = setupSects;
  v.setUint32(0x1f4, Math.ceil(payload / 16), true);
  v.setUint16(0x1fe, o.bootFlag ?? 0xaa55, true);
  b[0x200] = 0xeb; // jmp short over the header: end = 0x202 + 0x6a = 0x26c
  b[0x201] = 0x6a;
  v.setUint32(0x202, o.magic ?? 0x53726448, true);
  v.setUint16(0x206, o.protocol ?? 0x020f, true);
  v.setUint16(0x20e, 0x1234, true); // kernel_version pointer: copied as is
  b[0x211] = o.loadflags ?? 0x01; // LOADED_HIGH, as a bzImage has it
  v.setUint32(0x22c, o.initrdAddrMax ?? 0x7fffffff, true);
  v.setUint32(0x230, o.kernelAlignment ?? 0x200000, true);
  b[0x234] = (o.relocatable ?? true) ? 1 : 0;
  b[0x235] = 21;
  v.setUint16(0x236, o.xloadflags ?? 0x7f, true);
  v.setUint32(0x238, o.cmdlineSize ?? 2047, true);
  v.setBigUint64(0x258, BigInt(o.prefAddress ?? 0x1000000), true);
  v.setUint32(0x260, o.initSize ?? 0x2000000, true);
  b[0x26c] = 0xcc; // past the header: must not be copied into the zero page
  const start = (realSects + 1) * 512;
  for (let i = 0; i < payload; i++) b[start + i] = i & 0xff;
  return b;
}

/** A built x86 kernel image from the guest cache, or a reason to skip. */
export async function realKernel(which: "ours" | "debian"): Promise<{ path: string; data: Uint8Array; initrd: string } | { skip: string }> {
  let paths: Record<string, unknown>;
  try {
    paths = (await import("../guest/paths.js")) as Record<string, unknown>;
  } catch (e) {
    return { skip: `guest/paths.js does not load: ${(e as Error).message}` };
  }
  const fnName = which === "ours" ? "x86GuestPaths" : "debianX86GuestPaths";
  const fn = paths[fnName];
  if (typeof fn !== "function") return { skip: `guest/paths.ts has no ${fnName}() yet` };
  try {
    const { kernel: p, initrd } = (fn as () => { kernel: string; initrd: string }).call(undefined);
    if (!existsSync(p)) return { skip: `${p} is missing` };
    return { path: p, data: new Uint8Array(readFileSync(p)), initrd };
  } catch (e) {
    return { skip: `the ${which === "ours" ? "x86" : "Debian x86"} guest kernel is not built (node dist/guest/build.js): ${(e as Error).message}` };
  }
}

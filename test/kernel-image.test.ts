// The RISC-V Linux `Image` header: either magic marks one; text_offset and image_size
// are read little-endian; anything else is not an Image (and loads as a flat binary).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { guestPaths } from "../guest/paths.js";
import { parseKernelImage } from "../src/loader/kernel-image.js";

function header(opts: { magic?: boolean; magic2?: boolean; textOffset?: bigint; imageSize?: bigint; version?: number }) {
  const b = new Uint8Array(0x40);
  const v = new DataView(b.buffer);
  v.setUint32(0, 0x0000006f, true);
  v.setBigUint64(0x08, opts.textOffset ?? 0x200000n, true);
  v.setBigUint64(0x10, opts.imageSize ?? 0x1234000n, true);
  v.setBigUint64(0x18, 0n, true);
  v.setUint32(0x20, opts.version ?? 0x2, true);
  if (opts.magic ?? true) b.set([0x52, 0x49, 0x53, 0x43, 0x56, 0, 0, 0], 0x30);
  if (opts.magic2 ?? true) b.set([0x52, 0x53, 0x43, 0x05], 0x38);
  return b;
}

test("a header with both magics", () => {
  assert.deepEqual(parseKernelImage(header({})), { textOffset: 0x200000, imageSize: 0x1234000, flags: 0, version: 2 });
});

test("either magic alone is enough (old kernels have only RISCV, new tools check RSC\\x05)", () => {
  assert.equal(parseKernelImage(header({ magic: false }))?.imageSize, 0x1234000);
  assert.equal(parseKernelImage(header({ magic2: false }))?.textOffset, 0x200000);
});

test("no magic, or too short, is not an Image", () => {
  assert.equal(parseKernelImage(header({ magic: false, magic2: false })), undefined);
  assert.equal(parseKernelImage(header({}).subarray(0, 0x3f)), undefined);
  assert.equal(parseKernelImage(new Uint8Array(0)), undefined);
  const elf = new Uint8Array(0x100);
  elf.set([0x7f, 0x45, 0x4c, 0x46]);
  assert.equal(parseKernelImage(elf), undefined);
});

test("works on a subarray (a file read into a larger buffer)", () => {
  const big = new Uint8Array(0x100);
  big.set(header({ imageSize: 0x800000n }), 0x20);
  assert.equal(parseKernelImage(big.subarray(0x20))?.imageSize, 0x800000);
});

// When `npm run guest` has built the kernel, its real header must parse.
function builtKernel(): string | undefined {
  try {
    const k = guestPaths().kernel;
    return existsSync(k) ? k : undefined;
  } catch {
    return undefined;
  }
}
const built = builtKernel();
test("the guest kernel's header", { skip: built === undefined && "no built guest kernel" }, () => {
  const h = parseKernelImage(new Uint8Array(readFileSync(built!)));
  assert.ok(h);
  assert.equal(h.textOffset, 0x200000);
  assert.ok(h.imageSize > 0);
});

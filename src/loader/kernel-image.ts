// The RISC-V Linux raw `Image` header (Documentation/riscv/boot-image-header.rst):
//   0x00 code0, code1 (u32 each)   0x08 text_offset (u64)   0x10 image_size (u64)
//   0x18 flags (u64)   0x20 version (u32)   0x30 magic "RISCV\0\0\0" (deprecated)
//   0x38 magic2 "RSC\x05"
// Either magic marks an Image. The board still loads it like QEMU does (at the first
// 2 MiB boundary after the firmware); image_size tells how much RAM the kernel claims.

const HEADER_SIZE = 0x40;
const MAGIC_OFFSET = 0x30;
const MAGIC2_OFFSET = 0x38;
const MAGIC = [0x52, 0x49, 0x53, 0x43, 0x56, 0, 0, 0]; // "RISCV\0\0\0"
const MAGIC2 = [0x52, 0x53, 0x43, 0x05]; // "RSC\x05"

export interface KernelImageHeader {
  /** Offset from the start of RAM the kernel expects to be loaded at. */
  textOffset: number;
  /** Bytes of RAM the kernel occupies once running (text, data and bss); 0 if unknown. */
  imageSize: number;
  flags: number;
  /** Header version, major << 16 | minor. */
  version: number;
}

/** Parses the header, or returns undefined when the bytes are not a RISC-V Image. */
export function parseKernelImage(bytes: Uint8Array): KernelImageHeader | undefined {
  if (bytes.length < HEADER_SIZE) return undefined;
  const matches = (at: number, magic: number[]) => magic.every((b, i) => bytes[at + i] === b);
  if (!matches(MAGIC_OFFSET, MAGIC) && !matches(MAGIC2_OFFSET, MAGIC2)) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, HEADER_SIZE);
  const u64 = (at: number) => Number(view.getBigUint64(at, true));
  return {
    textOffset: u64(0x08),
    imageSize: u64(0x10),
    flags: u64(0x18),
    version: view.getUint32(0x20, true),
  };
}

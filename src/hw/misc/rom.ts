// Read-only memory (the boot ROM, "mrom" on virt): fixed contents, little-endian reads,
// writes ignored as on a real mask ROM.
import type { AccessSize, MmioDevice } from "../device.js";

export class Rom implements MmioDevice {
  readonly size: number;
  private readonly bytes: Uint8Array;

  /** `size` defaults to the contents' length; the rest of the region reads as zero. */
  constructor(contents: Uint8Array, size = contents.length) {
    if (contents.length > size) throw new Error(`rom: ${contents.length} bytes do not fit in ${size}`);
    this.size = size;
    this.bytes = new Uint8Array(size);
    this.bytes.set(contents);
  }

  read(offset: number, size: AccessSize): number {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) {
      const at = offset + i;
      v = v * 256 + (at < this.size ? this.bytes[at] : 0);
    }
    return v;
  }

  write(): void {}
}

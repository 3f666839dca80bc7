// A virtio-mmio transport slot with no device behind it, as QEMU's virt board leaves its
// unused slots: the magic and version read normally and DeviceID reads 0, which tells a
// driver (Linux's virtio_mmio, U-Boot) to skip the slot. Everything else reads as zero
// and writes are ignored.
import type { MmioDevice } from "../device.js";

const MAGIC_VALUE = 0x000;
const VERSION = 0x004;
const DEVICE_ID = 0x008;
const VENDOR_ID = 0x00c;

const MAGIC = 0x74726976; // "virt"
const VERSION_MODERN = 2;
const VENDOR_QEMU = 0x554d4551; // "QEMU"

export class EmptyVirtioMmioSlot implements MmioDevice {
  readonly size = 0x1000;

  read(offset: number): number {
    switch (offset) {
      case MAGIC_VALUE: return MAGIC;
      case VERSION: return VERSION_MODERN;
      case DEVICE_ID: return 0;
      case VENDOR_ID: return VENDOR_QEMU;
      default: return 0;
    }
  }

  write(): void {}
}

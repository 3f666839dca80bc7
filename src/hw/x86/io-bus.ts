// The x86 port-I/O space (64 K byte-wide ports): maps devices on port ranges and
// dispatches IN/OUT exits, as src/hw/bus.ts does for MMIO. Devices are the same
// MmioDevice kind (offset inside their range, access width); the port space has no
// faults: a port nothing decodes reads as all ones and swallows writes, as on a PC
// (port 0x80 "POST/io delay" and the ISA probes Linux makes rely on that).
import type { AccessSize, MmioDevice } from "../device.js";

export const IO_PORTS = 0x10000;

interface PortRange {
  base: number;
  end: number;
  name: string;
  device: MmioDevice;
}

/** All ones in the low `size` bytes: what a read of an undecoded port returns. */
export function allOnes(size: AccessSize): number {
  return size === 4 ? 0xffff_ffff : size === 2 ? 0xffff : 0xff;
}

export class IoBus {
  private ranges: PortRange[] = [];

  /** Maps `device` on ports [base, base+count). */
  map(base: number, count: number, device: MmioDevice, name: string): void {
    const end = base + count;
    if (!Number.isInteger(base) || base < 0 || count <= 0 || end > IO_PORTS) {
      throw new Error(`io-bus: ${name} at 0x${base.toString(16)}+${count} is outside the port space`);
    }
    for (const r of this.ranges) {
      if (base < r.end && r.base < end) throw new Error(`io-bus: ${name} overlaps ${r.name}`);
    }
    this.ranges.push({ base, end, name, device });
    this.ranges.sort((a, b) => a.base - b.base);
  }

  private find(port: number): PortRange | undefined {
    for (const r of this.ranges) if (port >= r.base && port < r.end) return r;
    return undefined;
  }

  /** IN: an access inside one device goes to it whole; one that straddles ranges is split into bytes. */
  read(port: number, size: AccessSize): number {
    const r = this.find(port);
    if (r && port + size <= r.end) return (r.device.read(port - r.base, size) & allOnes(size)) >>> 0;
    if (!r && size === 1) return 0xff;
    let value = 0;
    for (let i = 0; i < size; i++) value |= this.read((port + i) & 0xffff, 1) << (8 * i);
    return value >>> 0;
  }

  /** OUT: as read; writes to undecoded ports are dropped. */
  write(port: number, value: number, size: AccessSize): void {
    const r = this.find(port);
    if (r && port + size <= r.end) {
      r.device.write(port - r.base, (value & allOnes(size)) >>> 0, size);
      return;
    }
    if (!r && size === 1) return;
    for (let i = 0; i < size; i++) this.write((port + i) & 0xffff, (value >>> (8 * i)) & 0xff, 1);
  }

  list(): readonly Readonly<PortRange>[] {
    return this.ranges;
  }
}

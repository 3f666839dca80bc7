// The physical address bus: maps device regions and dispatches MMIO accesses.
// RAM is not on this list; the CPU checks RAM inline and calls the bus only for the rest.
import type { AccessSize, MmioDevice } from "./device.js";

interface Region {
  base: number;
  end: number;
  name: string;
  device: MmioDevice;
}

export class Bus {
  private regions: Region[] = [];

  map(base: number, device: MmioDevice, name: string): void {
    const end = base + device.size;
    for (const r of this.regions) {
      if (base < r.end && r.base < end) throw new Error(`bus: ${name} overlaps ${r.name}`);
    }
    this.regions.push({ base, end, name, device });
    this.regions.sort((a, b) => a.base - b.base);
  }

  find(addr: number): Region | undefined {
    for (const r of this.regions) if (addr >= r.base && addr < r.end) return r;
    return undefined;
  }

  /** Reads `size` bytes; undefined means nothing answers there (an access fault). */
  read(addr: number, size: AccessSize): number | undefined {
    const r = this.find(addr);
    if (r === undefined || addr + size > r.end) return undefined;
    return r.device.read(addr - r.base, size);
  }

  /** Writes `size` bytes; false means nothing answers there (an access fault). */
  write(addr: number, value: number, size: AccessSize): boolean {
    const r = this.find(addr);
    if (r === undefined || addr + size > r.end) return false;
    r.device.write(addr - r.base, value, size);
    return true;
  }

  list(): readonly Readonly<Region>[] {
    return this.regions;
  }
}

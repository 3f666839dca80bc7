// The contract between a device model and the bus that maps it. Devices see offsets
// inside their own region and never know which accelerator (tcg, kvm) issued the access.

/** Access width in bytes. 8-byte accesses are split by the bus into two 4-byte ones. */
export type AccessSize = 1 | 2 | 4;

export interface MmioDevice {
  /** Bytes of physical address space the device decodes. */
  readonly size: number;
  /** Returns the value zero-extended to 32 bits (unsigned number). */
  read(offset: number, size: AccessSize): number;
  write(offset: number, value: number, size: AccessSize): void;
}

/** A level-triggered interrupt line into an interrupt controller. */
export interface IrqLine {
  set(level: boolean): void;
}

/** What a device may ask of the machine as a whole. */
export interface MachineControl {
  /** Ends the machine; the process exits with `code` unless the embedder says otherwise. */
  powerOff(code: number): void;
  /** Restarts the machine (or ends it under -no-reboot). */
  reset(): void;
}

/** Host clock as the guest sees it; devices take it so that tests can step it. */
export interface Clock {
  /** Monotonic nanoseconds since the machine started. */
  nowNs(): number;
}

/** The `size` bytes at `offset` of a device's 32-bit register word (little-endian). */
export function subWord(word: number, offset: number, size: AccessSize): number {
  if (size === 4) return word >>> 0;
  const shift = (offset & 3) * 8;
  return (word >>> shift) & (size === 1 ? 0xff : 0xffff);
}

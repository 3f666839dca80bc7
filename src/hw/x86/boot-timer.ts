// The boot-timer port (0x440), as Firecracker has one: the guest's init writes a byte to it
// when it starts (`printf '\x7b' | dd of=/dev/port bs=1 seek=1088 count=1`), and the VMM
// records how long it took from the start of the process: the benchmark figure "time to
// init". Reads return all ones like any undecoded port.
import type { AccessSize, MmioDevice } from "../device.js";

export const BOOT_TIMER_PORT = 0x440;

export class BootTimer implements MmioDevice {
  readonly size = 1;
  /** Milliseconds from process start to the guest's first write; undefined before it. */
  firstMs: number | undefined;
  /** Every write so far (a guest could write more than once; we count, not store). */
  writes = 0;

  /**
   * `nowMs`: milliseconds since the process started (performance.now() in Node).
   * `onWrite` gets each write's time and value (the -d boot-timer trace line).
   */
  constructor(
    private readonly nowMs: () => number,
    private readonly onWrite: (ms: number, value: number) => void = () => {},
  ) {}

  read(_offset: number, size: AccessSize): number {
    return size === 4 ? 0xffff_ffff : size === 2 ? 0xffff : 0xff;
  }

  write(_offset: number, value: number, _size: AccessSize): void {
    const ms = this.nowMs();
    this.firstMs ??= ms;
    this.writes++;
    this.onWrite(ms, value & 0xff);
  }
}

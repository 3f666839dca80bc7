// QEMU's "sifive,test1" finisher: firmware writes a code to end or reset the machine.
import type { MachineControl, MmioDevice } from "../device.js";

const FINISHER_FAIL = 0x3333;
const FINISHER_PASS = 0x5555;
const FINISHER_RESET = 0x7777;

export class SifiveTest implements MmioDevice {
  readonly size = 0x1000;

  constructor(private readonly machine: MachineControl) {}

  read(): number {
    return 0;
  }

  write(offset: number, value: number): void {
    if (offset !== 0) return;
    switch (value & 0xffff) {
      case FINISHER_PASS: return this.machine.powerOff(0);
      case FINISHER_FAIL: return this.machine.powerOff(value >>> 16 || 1);
      case FINISHER_RESET: return this.machine.reset();
    }
  }
}

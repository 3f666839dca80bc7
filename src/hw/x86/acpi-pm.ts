// The power-management registers of a hardware-reduced ACPI platform, as the FADT of the
// microvm board declares them (src/machine/x86/acpi-tables.ts): an 8-bit sleep control
// register (SLEEP_CONTROL_REG), an 8-bit sleep status register (SLEEP_STATUS_REG) and the
// reset register (RESET_REG, RESET_VALUE 1) on three consecutive ports. Linux powers off
// by writing SLP_TYP of \_S5 with SLP_EN; it reboots through the reset register.
import type { AccessSize, MmioDevice } from "../device.js";

export const ACPI_PM_PORT = 0x600;
export const ACPI_PM_PORT_COUNT = 3;

// Offsets in the range.
const SLEEP_CONTROL = 0;
const SLEEP_STATUS = 1;
const RESET = 2;

// Sleep control register.
const SLP_EN = 0x20;
const SLP_TYP_SHIFT = 2;
const SLP_TYP_MASK = 0x7;
/** The SLP_TYP value the DSDT's \_S5 package names (soft off). */
export const SLP_TYP_S5 = 5;
/** What the FADT says to write to the reset register. */
export const ACPI_RESET_VALUE = 0x01;

export interface PowerControl {
  powerOff(): void;
  reset(): void;
}

export class AcpiPm implements MmioDevice {
  readonly size = ACPI_PM_PORT_COUNT;

  constructor(private readonly control: PowerControl) {}

  /** Nothing ever wakes the guest, so the status register (WAK_STS) reads 0. */
  read(_offset: number, _size: AccessSize): number {
    return 0;
  }

  write(offset: number, value: number, _size: AccessSize): void {
    switch (offset) {
      case SLEEP_CONTROL: {
        const type = (value >>> SLP_TYP_SHIFT) & SLP_TYP_MASK;
        // S1-S4 would need the guest's state kept in a low-power state; only soft off exists.
        if ((value & SLP_EN) !== 0 && type === SLP_TYP_S5) this.control.powerOff();
        break;
      }
      case SLEEP_STATUS:
        break; // write-1-to-clear bits; none is ever set
      case RESET:
        if ((value & 0xff) === ACPI_RESET_VALUE) this.control.reset();
        break;
    }
  }
}

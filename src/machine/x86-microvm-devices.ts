// The devices of the x86-64 `microvm` board and the vCPU exits they serve: everything of
// the board that is not KVM. The vCPU threads (src/accel/kvm) hand each port-I/O and MMIO
// exit to the ExitHandlers here, on the main thread; interrupts go back out through
// `setIrq` (KVM_IRQ_LINE on the in-kernel IOAPIC). Built without /dev/kvm, so tests drive
// it directly. The map (ports, addresses, GSIs) is the one in the board's ACPI tables.
import type { ExitHandlers, MmioSize, PioSize, VcpuStop } from "../accel/kvm/vcpu-exits.js";
import { KVM_SYSTEM_EVENT_CRASH, KVM_SYSTEM_EVENT_RESET, KVM_SYSTEM_EVENT_SHUTDOWN } from "../accel/kvm/kvm-abi.js";
import { Bus } from "../hw/bus.js";
import type { AccessSize, IrqLine } from "../hw/device.js";
import { Uart16550 } from "../hw/char/uart16550.js";
import { VirtioConsole } from "../hw/virtio/virtio-console.js";
import { VirtioMmio } from "../hw/virtio/virtio-mmio.js";
import { AcpiPm, ACPI_PM_PORT, ACPI_PM_PORT_COUNT } from "../hw/x86/acpi-pm.js";
import { BootTimer, BOOT_TIMER_PORT } from "../hw/x86/boot-timer.js";
import { I8042, I8042_DATA_PORT, I8042_PORT_COUNT } from "../hw/x86/i8042.js";
import { allOnes, IoBus } from "../hw/x86/io-bus.js";
import type { BoardContext } from "./board-machine.js";
import type { GuestMemory } from "./guest-memory.js";
import { createVirtioDevices, warnOf } from "./virtio-devices.js";

/** The board's fixed map (see /tmp/x86-map.md, and the ACPI tables that describe it). */
export const MICROVM = {
  uartPort: 0x3f8,
  uartPorts: 8,
  uartGsi: 4,
  virtioBase: 0xd000_0000,
  virtioSize: 0x1000,
  virtioSlots: 8,
  /** Slot i interrupts on GSI virtioGsi + i. */
  virtioGsi: 5,
} as const;

/** A virtio-mmio slot in use: what the ACPI DSDT or the kernel command line declares. */
export interface VirtioSlot {
  addr: number;
  gsi: number;
}

/** How the devices end the machine; the board decides what each means (reset vs -no-reboot). */
export interface MicrovmEvents {
  powerOff(): void;
  reset(): void;
  /** A vCPU failed (KVM refused to enter, an internal error): one line for the user. */
  fail(message: string): void;
}

export interface MicrovmDeviceOptions {
  /** The board's context: config, host, and the key under which drives stay open across resets. */
  ctx: BoardContext;
  mem: GuestMemory;
  /** Drives the KVM interrupt line `gsi` (KVM_IRQ_LINE). */
  setIrq(gsi: number, level: boolean): void;
  events: MicrovmEvents;
  /** Milliseconds since the process started (the boot timer); default performance.now(). */
  nowMs?: () => number;
}

export class MicrovmDevices implements ExitHandlers {
  readonly io = new IoBus();
  readonly mmio = new Bus();
  readonly uart: Uart16550;
  readonly bootTimer: BootTimer;
  /** The virtio-mmio slots in use, slot 0 first (the first drive is vda). */
  readonly virtioSlots: VirtioSlot[] = [];
  private readonly hvc: VirtioConsole | undefined;
  /** Last level given to each GSI: KVM hears only changes. */
  private readonly levels = new Map<number, boolean>();
  private stoppedOnce = false;

  constructor(private readonly opts: MicrovmDeviceOptions) {
    const { ctx, mem, events } = opts;
    const { config, host } = ctx;
    const consoleOut = config.serial === "none" ? () => {} : (b: number) => host.consoleWrite(Uint8Array.of(b));
    this.uart = new Uart16550(this.irqLine(MICROVM.uartGsi), consoleOut);
    const traceBoot = config.debug.includes("boot-timer") ? host.trace : undefined;
    this.bootTimer = new BootTimer(opts.nowMs ?? (() => performance.now()), (ms) => {
      traceBoot?.(`boot-timer: ${Math.round(ms)} ms`);
    });

    this.io.map(MICROVM.uartPort, MICROVM.uartPorts, this.uart, "uart");
    this.io.map(I8042_DATA_PORT, I8042_PORT_COUNT, new I8042(() => events.reset()), "i8042");
    this.io.map(ACPI_PM_PORT, ACPI_PM_PORT_COUNT, new AcpiPm(events), "acpi-pm");
    this.io.map(BOOT_TIMER_PORT, 1, this.bootTimer, "boot-timer");

    const virtio = createVirtioDevices(ctx, MICROVM.virtioSlots);
    this.hvc = virtio.find((d): d is VirtioConsole => d instanceof VirtioConsole);
    virtio.forEach((dev, i) => {
      const addr = MICROVM.virtioBase + i * MICROVM.virtioSize;
      const gsi = MICROVM.virtioGsi + i;
      this.mmio.map(addr, new VirtioMmio(mem, this.irqLine(gsi), dev, warnOf(ctx)), `virtio-mmio${i}`);
      this.virtioSlots.push({ addr, gsi });
    });
  }

  /** The kernel command line entries that declare the slots in use without ACPI. */
  virtioCmdline(): string {
    return this.virtioSlots
      .map((s) => `virtio_mmio.device=${MICROVM.virtioSize / 1024}K@0x${s.addr.toString(16)}:${s.gsi}`)
      .join(" ");
  }

  /** Console input: UART, or with -serial none virtio-console's hvc0 if there is one. */
  receive(data: Uint8Array): void {
    if (this.opts.ctx.config.serial !== "none") this.uart.receive(data);
    else this.hvc?.receive(data);
  }

  private irqLine(gsi: number): IrqLine {
    return {
      set: (level) => {
        if (this.levels.get(gsi) === level) return;
        this.levels.set(gsi, level);
        this.opts.setIrq(gsi, level);
      },
    };
  }

  pioIn(port: number, size: PioSize, _cpu: number): number {
    return this.io.read(port & 0xffff, size);
  }

  pioOut(port: number, size: PioSize, value: number, _cpu: number): void {
    this.io.write(port & 0xffff, value, size);
  }

  /** 8-byte accesses become two 4-byte ones, low half first, as the devices know only 32-bit registers. */
  mmioRead(addr: number, size: MmioSize, _cpu: number): bigint {
    if (size === 8) {
      const lo = this.read32(addr, 4);
      const hi = this.read32(addr + 4, 4);
      return (BigInt(hi) << 32n) | BigInt(lo);
    }
    return BigInt(this.read32(addr, size));
  }

  mmioWrite(addr: number, size: MmioSize, value: bigint, _cpu: number): void {
    if (size === 8) {
      this.mmio.write(addr, Number(value & 0xffff_ffffn), 4);
      this.mmio.write(addr + 4, Number((value >> 32n) & 0xffff_ffffn), 4);
      return;
    }
    this.mmio.write(addr, Number(value & BigInt(allOnes(size))), size);
  }

  /** Unmapped MMIO reads as all ones (no bus error on x86), and writes there vanish. */
  private read32(addr: number, size: AccessSize): number {
    const value = this.mmio.read(addr, size);
    return value === undefined ? allOnes(size) : (value & allOnes(size)) >>> 0;
  }

  stopped(cpu: number, why: VcpuStop): void {
    // The first vCPU to stop decides; the others stop because the board stops them.
    if (this.stoppedOnce) return;
    this.stoppedOnce = true;
    const { events } = this.opts;
    switch (why.kind) {
      case "shutdown": // a triple fault: the PC resets
        events.reset();
        break;
      case "system-event":
        if (why.type === KVM_SYSTEM_EVENT_SHUTDOWN) events.powerOff();
        else if (why.type === KVM_SYSTEM_EVENT_RESET) events.reset();
        else if (why.type === KVM_SYSTEM_EVENT_CRASH) events.fail(`vCPU ${cpu}: the guest crashed (KVM_SYSTEM_EVENT_CRASH)`);
        else events.fail(`vCPU ${cpu}: unknown KVM system event ${why.type}`);
        break;
      case "error":
        events.fail(`vCPU ${cpu}: ${why.message}`);
        break;
    }
  }
}

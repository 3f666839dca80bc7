// The Machine the CLI sees, for any board that is a set of harts plus devices: it reads
// the boot files once, builds the board, runs it in the shared RunLoop, forwards console
// input, and on a guest reset builds the board again from the same files (fresh RAM,
// devices and harts, as a power cycle), or ends under -no-reboot.
import type { Bus } from "../hw/bus.js";
import type { Clock, MachineControl } from "../hw/device.js";
import { GuestMemory } from "./guest-memory.js";
import type { MachineConfig } from "./config.js";
import type { Machine, MachineHost } from "./machine.js";
import { readBootFiles, type BootFiles } from "./riscv-boot.js";
import { RunLoop, type RunTarget } from "./run-loop.js";

/** What a board's build function gets. */
export interface BoardContext {
  config: MachineConfig;
  files: BootFiles;
  host: MachineHost;
  /** For the devices that end or reset the machine (sifive_test, HTIF). */
  control: MachineControl;
  /** Nanoseconds since the machine was created; survives guest resets. */
  clock: Clock;
  /**
   * Guest RAM of config.memBytes at `ramBase`, all zero. A reset gets the same memory
   * back, cleared, rather than a second allocation of what may be gigabytes.
   */
  memory(ramBase: number): GuestMemory;
  /** Ends a WFI sleep at once: a host event (network frame, console input) reached a device. */
  wake(): void;
}

/** One incarnation of a board. */
export interface BoardInstance extends RunTarget {
  readonly mem: GuestMemory;
  readonly bus: Bus;
  /** The device tree handed to the guest (what -machine dumpdtb writes). */
  readonly dtb: Uint8Array;
  /** Console input for the guest (UART0, HTIF). */
  receive(data: Uint8Array): void;
}

export type BuildBoard = (ctx: BoardContext) => BoardInstance;

export class BoardMachine implements Machine {
  private instance: BoardInstance;
  private readonly loop: RunLoop;

  /** Ends the harts' current slices at once, so nothing runs past a power-off or reset. */
  private stopCpus(): void {
    for (const cpu of this.instance.cpus) cpu.requestStop();
  }

  /** Reads the images and builds the board; bad input throws UserError here. */
  constructor(
    private readonly config: MachineConfig,
    private readonly host: MachineHost,
    build: BuildBoard,
    sliceInstructions?: number,
  ) {
    const start = host.monotonicNs();
    const clock: Clock = { nowNs: () => host.monotonicNs() - start };
    const control: MachineControl = {
      powerOff: (code) => {
        this.stopCpus();
        this.loop.stop(code);
      },
      reset: () => {
        this.stopCpus();
        if (config.noReboot) this.loop.stop(0);
        else this.loop.requestReset();
      },
    };
    const files = readBootFiles(config, host);
    let mem: GuestMemory | undefined;
    const memory = (ramBase: number) => {
      // A reset keeps RAM as it was, as QEMU's does (Linux's ramoops relies on it, and
      // zeroing made all of a guest's RAM resident at its first reboot).
      if (mem?.ramBase === ramBase) mem.clearHartState();
      else mem = new GuestMemory(ramBase, config.memBytes);
      return mem;
    };
    const ctx: BoardContext = { config, files, host, control, clock, memory, wake: () => this.loop.wake() };
    this.instance = build(ctx);
    this.loop = new RunLoop(this.instance, {
      clock,
      sliceInstructions,
      reset: () => (this.instance = build(ctx)),
    });
    // The board routes the keyboard (UART0, or hvc0 under -serial none) or drops it.
    host.onConsoleInput((data) => {
      this.instance.receive(data);
      this.loop.wake();
    });
  }

  async run(): Promise<number> {
    if (this.config.dumpDtb !== undefined) {
      this.host.writeFile(this.config.dumpDtb, this.instance.dtb);
      return 0;
    }
    return this.loop.run();
  }

  stop(code: number): void {
    this.loop.stop(code);
  }

  instructionsRetired(): number {
    return this.loop.instructionsRetired();
  }

  engineReport(): string | undefined {
    return this.loop.engineReport();
  }
}

// The x86-64 `microvm` board under KVM (-M microvm -accel kvm), after QEMU's microvm and
// Firecracker: no firmware, no PCI. The Linux bzImage is loaded and entered in 64-bit mode
// directly (src/machine/x86/boot-state.ts), the vCPUs run in the host kernel (one worker
// thread each, src/accel/kvm), the interrupt controllers and the PIT are KVM's own, and
// the rest (16550 UART, virtio-mmio devices, i8042 reset line, ACPI power registers, boot
// timer) are the TypeScript models in x86-microvm-devices.ts, served on vCPU exits.
// The board describes itself with ACPI tables (acpi=on, the default) or with an MP table
// and virtio_mmio.device= entries on the kernel command line (acpi=off).
//
// Bad input is refused before /dev/kvm is touched, so those errors are the same on every
// host. A guest reset builds a fresh VM (new RAM, devices, vCPUs) from the same files, as
// a power cycle; -no-reboot ends the machine instead.
import { openKvm } from "../accel/kvm/kvm.js";
import { allocateGuestRam, type GuestRam } from "../accel/kvm/guest-ram.js";
import { startVcpus, type StartVcpusOptions, type VcpuGroup } from "../accel/kvm/vcpu-group.js";
import type { CpuidEntry, VcpuSetup } from "../accel/kvm/vcpu-state.js";
import type { Clock, MachineControl } from "../hw/device.js";
import type { BoardContext } from "./board-machine.js";
import type { MachineConfig } from "./config.js";
import { GuestMemory } from "./guest-memory.js";
import { UserError, type Machine, type MachineHost } from "./machine.js";
import type { BootFiles } from "./riscv-boot.js";
import { MicrovmDevices, type MicrovmEvents } from "./x86-microvm-devices.js";
import { buildAcpiTables } from "./x86/acpi-tables.js";
import { kernelFootprintEnd, placeInitrd, setupBoot } from "./x86/boot-state.js";
import { parseBzImage, type BzImage } from "./x86/bzimage.js";
import { guestCpuid } from "./x86/cpuid.js";
import { bootMsrs } from "./x86/msrs.js";
import { buildMpTable } from "./x86/mptable.js";

/** Where the board puts things (the map in the ACPI tables and boot_params agrees). */
export const MICROVM_LAYOUT = {
  /** ACPI tables, RSDP first (boot_params.acpi_rsdp_addr points here). */
  acpiBase: 0xe_0000,
  /** The MP floating pointer and table (acpi=off), in the EBDA the e820 map reserves. */
  mpTableBase: 0x9_fc00,
  /** Three pages VT-x needs for its real-mode TSS, and one for its identity map: below the LAPIC. */
  tssAddr: 0xfffb_d000,
  identityMapAddr: 0xfffb_c000,
  /** RAM ends below the 3 GiB MMIO hole (virtio-mmio at 0xd0000000, IOAPIC, LAPIC). */
  maxRam: 3 * 1024 * 1024 * 1024,
} as const;

/** The command line every guest gets before the user's -append. */
export const MICROVM_CMDLINE = "console=ttyS0 reboot=k panic=-1";

const MiB = 1024 * 1024;

/** What the board uses of the KVM binding (src/accel/kvm's Kvm and Vm have it all). */
export interface KvmHandle {
  readonly fd: number;
  supportedCpuid(): CpuidEntry[];
  createVm(): VmHandle;
  close(): void;
}

export interface VmHandle {
  readonly fd: number;
  setTssAddr(addr: number): void;
  setIdentityMapAddr(addr: number): void;
  createIrqchip(): void;
  createPit2(): void;
  setUserMemoryRegion(slot: number, guestAddr: number, size: number, hostAddr: bigint): void;
  irqLine(gsi: number, level: boolean): void;
  close(): void;
}

/** The KVM side of the board; tests give fakes to run the machine's life cycle without /dev/kvm. */
export interface MicrovmBackend {
  openKvm(): KvmHandle;
  allocateGuestRam(size: number): GuestRam;
  startVcpus(opts: StartVcpusOptions): VcpuGroup;
}

export const KVM_BACKEND: MicrovmBackend = { openKvm: () => openKvm(), allocateGuestRam, startVcpus };

/** A vCPU failed: one line for the user, exit status 1 (as a UserError, which main prints so). */
export class VcpuFailure extends UserError {}

/** The bzImage and initrd, read and checked once; a reset reloads them into fresh RAM. */
export interface MicrovmInputs {
  kernel?: BzImage;
  initrd?: Uint8Array;
  files: BootFiles;
}

/** Flags microvm does not take, judged from the configuration alone. */
export function checkMicrovmConfig(config: MachineConfig): void {
  if (config.bios !== "default" && config.bios !== "none") {
    throw new UserError(`-bios ${config.bios}: not supported on microvm (it boots a Linux bzImage directly with -kernel)`);
  }
  if (config.dtb !== undefined) throw new UserError("-dtb: not supported on microvm (it describes itself with ACPI)");
  if (config.dumpDtb !== undefined) throw new UserError("-machine dumpdtb: microvm has no device tree (it uses ACPI)");
  if (config.memBytes > MICROVM_LAYOUT.maxRam) {
    throw new UserError(`-m ${Math.floor(config.memBytes / MiB)}M: microvm takes at most 3 GiB of RAM (3072M)`);
  }
  if (config.memBytes % 4096 !== 0) throw new UserError(`-m: microvm RAM must be a multiple of 4 KiB`);
  if (config.smp < 1 || config.smp > 64) throw new UserError(`-smp ${config.smp}: microvm takes 1 to 64 CPUs`);
}

/** Reads -kernel and -initrd and checks that they boot in -m, all before KVM is opened. */
export function readMicrovmInputs(config: MachineConfig, host: MachineHost): MicrovmInputs {
  if (config.initrd !== undefined && config.kernel === undefined) {
    throw new UserError("-initrd only allowed with -kernel option");
  }
  if (config.append !== undefined && config.kernel === undefined) {
    throw new UserError("-append only allowed with -kernel option");
  }
  const files: BootFiles = {};
  if (config.kernel === undefined) return { files };
  files.kernel = { path: config.kernel, bytes: host.readFile(config.kernel) };
  const kernel = parseBzImage(files.kernel.bytes, config.kernel);
  if (config.initrd !== undefined) files.initrd = { path: config.initrd, bytes: host.readFile(config.initrd) };
  const initrd = files.initrd?.bytes;
  // The same checks setupBoot makes, here so that they come before /dev/kvm.
  const kernelEnd = kernelFootprintEnd(kernel);
  if (kernelEnd > config.memBytes) {
    throw new UserError(`-m ${Math.floor(config.memBytes / MiB)}M is too small for this kernel: it needs at least ` +
      `${Math.ceil(kernelEnd / MiB)} MiB (init_size)`);
  }
  if (initrd) placeInitrd(config.memBytes, kernel, initrd.length, kernelEnd);
  return { kernel, initrd, files };
}

/** The kernel command line: ours, the virtio slots without ACPI, then the user's -append. */
export function microvmCmdline(config: MachineConfig, devices: MicrovmDevices): string {
  const parts = [MICROVM_CMDLINE];
  if (!config.acpi) {
    parts.push("acpi=off");
    const virtio = devices.virtioCmdline();
    if (virtio) parts.push(virtio);
  }
  if (config.append) parts.push(config.append);
  return parts.join(" ");
}

/** What one incarnation of the machine holds (a reset replaces it whole). */
interface Incarnation {
  vm: VmHandle;
  ram: GuestRam;
  mem: GuestMemory;
  devices: MicrovmDevices;
  setups: VcpuSetup[];
  group?: VcpuGroup;
  /** Set once its VM and RAM are gone: late interrupts from host events are dropped. */
  closed: boolean;
}

export class MicrovmMachine implements Machine {
  private readonly kvm: KvmHandle;
  private readonly inputs: MicrovmInputs & { kernel: BzImage };
  private readonly supportedCpuid: CpuidEntry[];
  private readonly ctx: BoardContext;
  private current: Incarnation;
  private state: "built" | "running" | "resetting" | "ending" = "built";
  private resets = 0;
  /** The boot timer of the first incarnation that wrote it. */
  private firstBootMs: number | undefined;
  private settle!: { resolve(code: number): void; reject(err: Error): void };
  private readonly done: Promise<number>;
  /** A reset under way (its teardown and rebuild). */
  private resetting: Promise<void> | undefined;
  /** Ends from before run() (a stop() while starting) wait here. */
  private pendingEnd: (() => void) | undefined;

  /** Checks the input, opens /dev/kvm and builds the first VM; bad input throws UserError. */
  constructor(
    private readonly config: MachineConfig,
    private readonly host: MachineHost,
    private readonly backend: MicrovmBackend = KVM_BACKEND,
  ) {
    checkMicrovmConfig(config);
    const inputs = readMicrovmInputs(config, host);
    this.kvm = backend.openKvm();
    try {
      if (!inputs.kernel) throw new UserError("-M microvm: needs -kernel (a Linux bzImage): there is no firmware to boot");
      this.inputs = { ...inputs, kernel: inputs.kernel };
      this.supportedCpuid = this.kvm.supportedCpuid();
      this.ctx = this.context();
      this.current = this.build();
    } catch (err) {
      this.kvm.close();
      throw err;
    }
    this.done = new Promise((resolve, reject) => (this.settle = { resolve, reject }));
    // The keyboard goes to whichever incarnation is current.
    host.onConsoleInput((data) => this.current.devices.receive(data));
  }

  async run(): Promise<number> {
    if (this.state === "built") {
      this.state = "running";
      this.start(this.current);
    }
    this.pendingEnd?.();
    return this.done;
  }

  stop(code: number): void {
    void this.end(() => this.settle.resolve(code));
  }

  /** KVM runs the instructions; none are counted. */
  instructionsRetired(): number {
    return 0;
  }

  /** Milliseconds from process start to the guest's first boot-timer write (benchmarks); a reboot keeps the first. */
  bootTimeMs(): number | undefined {
    return this.firstBootMs ?? this.current.devices.bootTimer.firstMs;
  }

  /** vCPU exits so far in this incarnation (benchmarks). */
  exitStats(): { exits: number; pioExits: number; mmioExits: number } {
    return this.current.group?.stats() ?? { exits: 0, pioExits: 0, mmioExits: 0 };
  }

  /** Guest resets served so far. */
  resetCount(): number {
    return this.resets;
  }

  /** The context virtio-devices.ts builds devices in; one for the machine's life, so drives stay open. */
  private context(): BoardContext {
    const start = this.host.monotonicNs();
    const clock: Clock = { nowNs: () => this.host.monotonicNs() - start };
    const control: MachineControl = {
      powerOff: (code) => this.stop(code),
      reset: () => this.reset(),
    };
    return {
      config: this.config,
      files: this.inputs.files,
      host: this.host,
      control,
      clock,
      memory: () => this.current.mem,
      wake: () => {}, // vCPUs sleep in KVM; an interrupt wakes them
    };
  }

  private events(inc: () => Incarnation): MicrovmEvents {
    // A late event from an incarnation already torn down (a reset under way) is stale.
    return {
      powerOff: () => {
        if (!inc().closed) this.stop(0);
      },
      reset: () => {
        if (!inc().closed) this.reset();
      },
      fail: (message) => {
        if (inc().closed) return;
        void this.end(() => this.settle.reject(new VcpuFailure(message)));
      },
    };
  }

  /** A fresh VM with RAM, devices and the boot state written; vCPUs not started. */
  private build(): Incarnation {
    const { config, inputs } = this;
    const vm = this.kvm.createVm();
    let ram: GuestRam | undefined;
    try {
      vm.setTssAddr(MICROVM_LAYOUT.tssAddr);
      vm.setIdentityMapAddr(MICROVM_LAYOUT.identityMapAddr);
      vm.createIrqchip();
      vm.createPit2();
      ram = this.backend.allocateGuestRam(config.memBytes);
      vm.setUserMemoryRegion(0, 0, config.memBytes, ram.hostAddress);
      const mem = GuestMemory.external(ram.buffer, 0, config.memBytes);
      const inc: Incarnation = { vm, ram, mem, devices: undefined!, setups: [], closed: false };
      inc.devices = new MicrovmDevices({
        ctx: this.ctx,
        mem,
        setIrq: (gsi, level) => {
          if (!inc.closed) vm.irqLine(gsi, level);
        },
        events: this.events(() => inc),
      });
      const acpiRsdp = config.acpi ? MICROVM_LAYOUT.acpiBase : undefined;
      const boot = setupBoot({
        mem, kernel: inputs.kernel, initrd: inputs.initrd, cmdline: microvmCmdline(config, inc.devices), acpiRsdp,
      });
      if (config.acpi) {
        mem.writeBytes(MICROVM_LAYOUT.acpiBase,
          buildAcpiTables({ cpus: config.smp, virtio: inc.devices.virtioSlots, base: MICROVM_LAYOUT.acpiBase }));
      } else {
        mem.writeBytes(MICROVM_LAYOUT.mpTableBase, buildMpTable({ cpus: config.smp, base: MICROVM_LAYOUT.mpTableBase }));
      }
      const msrs = bootMsrs();
      for (let id = 0; id < config.smp; id++) {
        inc.setups.push({
          id,
          cpuid: guestCpuid(this.supportedCpuid, id, config.smp),
          msrs,
          // The others wait for INIT/SIPI from the boot vCPU, in the in-kernel LAPIC.
          ...(id === 0 ? { regs: boot.regs, sregs: boot.sregs } : {}),
          fpu: true,
        });
      }
      return inc;
    } catch (err) {
      ram?.free();
      vm.close();
      throw err;
    }
  }

  private start(inc: Incarnation): void {
    inc.group = this.backend.startVcpus({ vmFd: inc.vm.fd, kvmFd: this.kvm.fd, setups: inc.setups, handlers: inc.devices });
  }

  /** Stops the vCPUs, then closes the VM and frees its RAM; once. */
  private async teardown(inc: Incarnation): Promise<void> {
    await inc.group?.stop();
    if (inc.closed) return;
    inc.closed = true;
    inc.vm.close();
    inc.ram.free();
  }

  /** A guest reset: a new VM from the same files, or the end under -no-reboot. */
  private reset(): void {
    if (this.config.noReboot) {
      this.stop(0);
      return;
    }
    if (this.state !== "running") return; // one reset at a time; nothing after the end
    this.state = "resetting";
    this.resetting = (async () => {
      try {
        await this.teardown(this.current);
        this.firstBootMs ??= this.current.devices.bootTimer.firstMs;
        if (this.state !== "resetting") return; // ended meanwhile: end() finishes
        this.current = this.build();
        this.resets++;
        this.state = "running";
        this.start(this.current);
      } catch (err) {
        if (this.state === "ending") return;
        this.state = "ending";
        this.kvm.close();
        this.settle.reject(err as Error);
      } finally {
        this.resetting = undefined;
      }
    })();
  }

  /** Ends the machine once: vCPUs stopped, VM and KVM closed, then `settle` gives run()'s result. */
  private async end(settle: () => void): Promise<void> {
    if (this.state === "ending") return;
    const before = this.state;
    this.state = "ending";
    if (before === "built") {
      // run() has not been called: settle when it is, so that its promise carries the result.
      this.pendingEnd = () => {
        this.pendingEnd = undefined;
        void this.finish(settle);
      };
      return;
    }
    await this.finish(settle);
  }

  private async finish(settle: () => void): Promise<void> {
    await this.resetting; // a reset under way tears its incarnation down and builds no other
    await this.teardown(this.current).catch(() => {});
    this.kvm.close();
    settle();
  }
}

/** The `microvm` machine as the CLI runs it. */
export function createMicrovmMachine(config: MachineConfig, host: MachineHost): Machine {
  return new MicrovmMachine(config, host);
}

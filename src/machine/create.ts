// Builds the board the configuration names; the CLI's one entry into src/machine.
import type { MachineConfig } from "./config.js";
import { RAM_OFFSET } from "./guest-memory.js";
import { UserError, type Machine, type MachineHost } from "./machine.js";
import { createVirtMachine } from "./riscv-virt.js";
import { createSpikeMachine } from "./spike.js";

/** The KVM board, loaded only for -M microvm (a RISC-V boot starts sooner without it). */
type MicrovmModule = typeof import("./x86-microvm.js");

/** Guest RAM is one WebAssembly.Memory: 64 KiB pages, at most 4 GiB with the hart state and TLBs. */
const RAM_GRANULE = 64 * 1024;
const MAX_RAM = 4 * 1024 * 1024 * 1024 - RAM_OFFSET;

/**
 * Builds the machine: loads the board's code and what the host needs for its drives and
 * netdevs (MachineHost.prepare), checks the configuration, reads the images.
 */
export async function createMachine(config: MachineConfig, host: MachineHost): Promise<Machine> {
  const microvm = config.machine === "microvm" ? await import("./x86-microvm.js") : undefined;
  checkConfig(config, microvm);
  await host.prepare?.(config);
  switch (config.machine) {
    case "virt":
      return createVirtMachine(config, host);
    case "spike":
      return createSpikeMachine(config, host);
    case "microvm":
      return microvm!.createMicrovmMachine(config, host);
    default:
      throw new UserError(`-machine ${String(config.machine)}: unsupported machine type`);
  }
}

function checkConfig(config: MachineConfig, microvm: MicrovmModule | undefined): void {
  const mib = config.memBytes / (1024 * 1024);
  if (!Number.isInteger(config.memBytes) || config.memBytes <= 0 || config.memBytes % RAM_GRANULE !== 0) {
    throw new UserError(`-m ${mib}M: RAM size must be a positive multiple of 64 KiB`);
  }
  microvm?.checkMicrovmConfig(config);
  if ((config.machine === "microvm") !== (config.accel === "kvm")) {
    throw new UserError(config.machine === "microvm"
      ? "-M microvm runs only under KVM (-accel kvm)"
      : `-M ${config.machine}: KVM needs an x86-64 guest; use -accel tcg`);
  }
  if (config.memBytes > MAX_RAM) {
    throw new UserError(`-m ${mib}M: at most ${MAX_RAM / (1024 * 1024)} MiB of RAM is supported`);
  }
  if (!Number.isInteger(config.smp) || config.smp < 1) {
    throw new UserError(`-smp ${config.smp}: must be a positive number of CPUs`);
  }
}

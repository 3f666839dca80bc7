// What a vCPU thread runs: a source of exits. The real one (vcpu.ts) is a KVM vCPU; tests
// swap in a scripted one (workerData names the module) to exercise the whole thread
// protocol of vcpu-thread.ts and vcpu-group.ts without /dev/kvm.
import type { MmioSize, PioSize, VcpuStop } from "./vcpu-exits.js";
import type { VcpuSetup } from "./vcpu-state.js";

/**
 * One exit. For reads (pio IN, mmio read), `data` is where the answer goes (count * size
 * bytes, or size bytes): the thread fills it before the next run(), as KVM requires.
 */
export type VcpuExit =
  | { kind: "pio"; write: boolean; port: number; size: PioSize; count: number; data: Uint8Array }
  | { kind: "mmio"; write: boolean; addr: number; size: number; data: Uint8Array }
  | { kind: "intr" } // a kick (EINTR, KVM_EXIT_INTR): the thread checks whether to stop
  | { kind: "stop"; why: VcpuStop };

/** What the main thread needs to kick the vCPU out of KVM_RUN beyond a signal. */
export interface KickInfo {
  /** The vCPU fd, which the main thread maps to set kvm_run.immediate_exit (and closes at the end). */
  vcpuFd: number;
  runSize: number;
}

export interface ExitSource {
  readonly kick?: KickInfo;
  /** Runs to the next exit (blocking the thread). */
  run(): VcpuExit;
  /** Releases the thread's resources (not the vCPU fd: the main thread owns it once kick is sent). */
  close(): void;
}

export interface ExitSourceInit {
  cpu: number;
  vmFd: number;
  kvmFd: number;
  setup: VcpuSetup;
  /** Free-form options for test sources. */
  options?: unknown;
}

/** A source module exports this. */
export type CreateExitSource = (init: ExitSourceInit) => ExitSource | Promise<ExitSource>;

export type { MmioSize, PioSize };

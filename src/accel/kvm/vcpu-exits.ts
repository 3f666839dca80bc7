// What a vCPU's KVM_RUN loop hands to the board: the exits that user space serves.
// The vCPU threads (src/accel/kvm) call these on the main thread, one exit at a time per
// vCPU; the board (src/machine/x86-microvm.ts) implements them with its device models.

export type PioSize = 1 | 2 | 4;
export type MmioSize = 1 | 2 | 4 | 8;

/** Why a vCPU stopped for good (the board then ends or resets the machine). */
export type VcpuStop =
  | { kind: "shutdown" } // KVM_EXIT_SHUTDOWN: triple fault, a reset
  | { kind: "system-event"; type: number } // KVM_EXIT_SYSTEM_EVENT (KVM_SYSTEM_EVENT_*)
  | { kind: "error"; message: string }; // FAIL_ENTRY, INTERNAL_ERROR, an ioctl failing

export interface ExitHandlers {
  /** An IN instruction: returns the value (low `size` bytes used). */
  pioIn(port: number, size: PioSize, cpu: number): number;
  /** An OUT instruction. */
  pioOut(port: number, size: PioSize, value: number, cpu: number): void;
  /** A load from an address no memory slot covers; returns the value (bigint for 8 bytes). */
  mmioRead(addr: number, size: MmioSize, cpu: number): bigint;
  mmioWrite(addr: number, size: MmioSize, value: bigint, cpu: number): void;
  /** The vCPU stopped; it will not run again. */
  stopped(cpu: number, why: VcpuStop): void;
}

// Model-specific registers every vCPU starts with (the set Firecracker writes at boot).
// Firmware would normally leave them this way; the kernel sets the syscall MSRs itself
// later, but starting from known zeros keeps a reset vCPU from inheriting stale values.
// The TSC is deliberately not written: KVM keeps the vCPUs' TSCs in step on its own.
import type { MsrEntry } from "../../accel/kvm/vcpu-state.js";

export const MSR_IA32_SYSENTER_CS = 0x174;
export const MSR_IA32_SYSENTER_ESP = 0x175;
export const MSR_IA32_SYSENTER_EIP = 0x176;
export const MSR_IA32_MISC_ENABLE = 0x1a0;
export const MSR_MTRR_DEF_TYPE = 0x2ff;
export const MSR_STAR = 0xc0000081;
export const MSR_LSTAR = 0xc0000082;
export const MSR_CSTAR = 0xc0000083;
export const MSR_SYSCALL_MASK = 0xc0000084; // SFMASK
export const MSR_KERNEL_GS_BASE = 0xc0000102;

/** IA32_MISC_ENABLE bit 0: fast-string operations (rep movs/stos) enabled. */
export const MISC_ENABLE_FAST_STRING = 1n << 0n;
/** IA32_MTRR_DEF_TYPE: MTRRs enabled (E, bit 11), default type write-back (6). Without it
 *  all memory is uncached for the guest and it runs many times slower. */
export const MTRR_ENABLE = 1n << 11n;
export const MTRR_TYPE_WB = 6n;

/** The MSRs for KVM_SET_MSRS, the same for every vCPU. */
export function bootMsrs(): MsrEntry[] {
  return [
    { index: MSR_IA32_SYSENTER_CS, data: 0n },
    { index: MSR_IA32_SYSENTER_ESP, data: 0n },
    { index: MSR_IA32_SYSENTER_EIP, data: 0n },
    { index: MSR_STAR, data: 0n },
    { index: MSR_LSTAR, data: 0n },
    { index: MSR_CSTAR, data: 0n },
    { index: MSR_SYSCALL_MASK, data: 0n },
    { index: MSR_KERNEL_GS_BASE, data: 0n },
    { index: MSR_IA32_MISC_ENABLE, data: MISC_ENABLE_FAST_STRING },
    { index: MSR_MTRR_DEF_TYPE, data: MTRR_ENABLE | MTRR_TYPE_WB },
  ];
}

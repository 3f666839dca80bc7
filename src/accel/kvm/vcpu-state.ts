// The x86-64 vCPU state as the board computes it (boot setup) and the KVM binding encodes
// it (struct kvm_regs, kvm_sregs, kvm_cpuid_entry2, kvm_msr_entry). Plain data: the board
// code that fills it needs no FFI and is tested everywhere; 64-bit fields are BigInt since
// this is set-up code, never a hot path.

/** struct kvm_segment */
export interface Segment {
  base: bigint;
  limit: number;
  selector: number;
  type: number;
  present: number;
  dpl: number;
  db: number;
  s: number;
  l: number;
  g: number;
  avl: number;
  unusable: number;
}

/** struct kvm_dtable (GDTR / IDTR) */
export interface DescriptorTable {
  base: bigint;
  limit: number;
}

/** struct kvm_regs: general registers, rip and rflags. */
export interface Regs {
  rax: bigint; rbx: bigint; rcx: bigint; rdx: bigint;
  rsi: bigint; rdi: bigint; rsp: bigint; rbp: bigint;
  r8: bigint; r9: bigint; r10: bigint; r11: bigint;
  r12: bigint; r13: bigint; r14: bigint; r15: bigint;
  rip: bigint; rflags: bigint;
}

/** struct kvm_sregs without the interrupt bitmap (left zero). */
export interface Sregs {
  cs: Segment; ds: Segment; es: Segment; fs: Segment; gs: Segment; ss: Segment;
  tr: Segment; ldt: Segment;
  gdt: DescriptorTable; idt: DescriptorTable;
  cr0: bigint; cr2: bigint; cr3: bigint; cr4: bigint; cr8: bigint;
  efer: bigint;
  apicBase: bigint;
}

/** struct kvm_cpuid_entry2 */
export interface CpuidEntry {
  function: number;
  index: number;
  flags: number;
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

/** struct kvm_msr_entry */
export interface MsrEntry {
  index: number;
  data: bigint;
}

/** What one vCPU starts with. The boot vCPU gets regs and sregs; the others wait for INIT/SIPI. */
export interface VcpuSetup {
  id: number;
  cpuid: CpuidEntry[];
  msrs: MsrEntry[];
  regs?: Regs;
  sregs?: Sregs;
  /** Set the legacy FPU/SSE state (fcw 0x37f, mxcsr 0x1f80) as firmware would. */
  fpu: boolean;
}

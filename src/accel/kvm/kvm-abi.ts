// The KVM user-space ABI for x86-64 hosts, in one place: struct layouts (sizes and field
// offsets, named after the C fields of <linux/kvm.h>), ioctl numbers built the way the
// kernel builds them (_IO/_IOR/_IOW/_IOWR over the struct sizes below), exit reasons and
// capabilities. test/kvm-abi.test.ts compiles a C program against the installed headers
// and checks every number here against it.

// ---- ioctl number encoding (asm-generic/ioctl.h: nr 8 bits, type 8, size 14, dir 2) ----
const IOC_NONE = 0;
const IOC_WRITE = 1;
const IOC_READ = 2;
const KVMIO = 0xae;

function ioc(dir: number, nr: number, size: number): number {
  // >>> 0: the direction bits reach bit 31, and ioctl numbers are unsigned.
  return ((dir << 30) | (size << 16) | (KVMIO << 8) | nr) >>> 0;
}
const io = (nr: number) => ioc(IOC_NONE, nr, 0);
const ior = (nr: number, size: number) => ioc(IOC_READ, nr, size);
const iow = (nr: number, size: number) => ioc(IOC_WRITE, nr, size);
const iowr = (nr: number, size: number) => ioc(IOC_READ | IOC_WRITE, nr, size);

export const KVM_API_VERSION = 12;

// ---- struct layouts ----
/** A C struct: its <linux/kvm.h> name, sizeof, and offsetof per (dotted) C field path. */
export interface StructLayout {
  readonly name: string;
  readonly size: number;
  readonly off: Readonly<Record<string, number>>;
}

/** struct kvm_run, the page(s) mmap'ed from a vCPU fd. The exit union starts at 32. */
export const KVM_RUN = {
  name: "kvm_run",
  size: 2352,
  off: {
    request_interrupt_window: 0,
    immediate_exit: 1,
    exit_reason: 8,
    ready_for_interrupt_injection: 12,
    if_flag: 13,
    flags: 14,
    cr8: 16,
    apic_base: 24,
    "hw.hardware_exit_reason": 32,
    "fail_entry.hardware_entry_failure_reason": 32,
    "fail_entry.cpu": 40,
    "io.direction": 32,
    "io.size": 33,
    "io.port": 34,
    "io.count": 36,
    "io.data_offset": 40,
    "mmio.phys_addr": 32,
    "mmio.data": 40,
    "mmio.len": 48,
    "mmio.is_write": 52,
    "system_event.type": 32,
    "system_event.ndata": 36,
    "system_event.data": 40,
    "internal.suberror": 32,
    "internal.ndata": 36,
    "internal.data": 40,
  },
} as const satisfies StructLayout;

/** struct kvm_regs: 18 u64 in this order. */
export const REG_NAMES = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
  "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags"] as const;
export const KVM_REGS = {
  name: "kvm_regs",
  size: 144,
  off: Object.fromEntries(REG_NAMES.map((r, i) => [r, i * 8])) as Record<(typeof REG_NAMES)[number], number>,
} as const satisfies StructLayout;

export const KVM_SEGMENT = {
  name: "kvm_segment",
  size: 24,
  off: { base: 0, limit: 8, selector: 12, type: 14, present: 15, dpl: 16, db: 17, s: 18, l: 19, g: 20, avl: 21, unusable: 22 },
} as const satisfies StructLayout;

export const KVM_DTABLE = {
  name: "kvm_dtable",
  size: 16,
  off: { base: 0, limit: 8 },
} as const satisfies StructLayout;

/** The NR_INTERRUPTS (256) bit interrupt_bitmap ends the struct: 4 u64. */
export const KVM_SREGS = {
  name: "kvm_sregs",
  size: 312,
  off: {
    cs: 0, ds: 24, es: 48, fs: 72, gs: 96, ss: 120, tr: 144, ldt: 168,
    gdt: 192, idt: 208,
    cr0: 224, cr2: 232, cr3: 240, cr4: 248, cr8: 256, efer: 264, apic_base: 272,
    interrupt_bitmap: 280,
  },
} as const satisfies StructLayout;
export const SREGS_SEGMENTS = ["cs", "ds", "es", "fs", "gs", "ss", "tr", "ldt"] as const;

/** struct kvm_fpu: fpr[8][16], control words, xmm[16][16], mxcsr. */
export const KVM_FPU = {
  name: "kvm_fpu",
  size: 416,
  off: { fpr: 0, fcw: 128, fsw: 130, ftwx: 132, last_opcode: 134, last_ip: 136, last_dp: 144, xmm: 152, mxcsr: 408 },
} as const satisfies StructLayout;

export const KVM_USERSPACE_MEMORY_REGION = {
  name: "kvm_userspace_memory_region",
  size: 32,
  off: { slot: 0, flags: 4, guest_phys_addr: 8, memory_size: 16, userspace_addr: 24 },
} as const satisfies StructLayout;

/** struct kvm_cpuid2: a header followed by nent kvm_cpuid_entry2. */
export const KVM_CPUID2 = {
  name: "kvm_cpuid2",
  size: 8,
  off: { nent: 0, entries: 8 },
} as const satisfies StructLayout;

export const KVM_CPUID_ENTRY2 = {
  name: "kvm_cpuid_entry2",
  size: 40,
  off: { function: 0, index: 4, flags: 8, eax: 12, ebx: 16, ecx: 20, edx: 24 },
} as const satisfies StructLayout;

/** struct kvm_msrs: a header followed by nmsrs kvm_msr_entry. */
export const KVM_MSRS = {
  name: "kvm_msrs",
  size: 8,
  off: { nmsrs: 0, entries: 8 },
} as const satisfies StructLayout;

export const KVM_MSR_ENTRY = {
  name: "kvm_msr_entry",
  size: 16,
  off: { index: 0, data: 8 },
} as const satisfies StructLayout;

export const KVM_IRQ_LEVEL = {
  name: "kvm_irq_level",
  size: 8,
  off: { irq: 0, level: 4 },
} as const satisfies StructLayout;

export const KVM_PIT_CONFIG = {
  name: "kvm_pit_config",
  size: 64,
  off: { flags: 0 },
} as const satisfies StructLayout;

export const KVM_MP_STATE = {
  name: "kvm_mp_state",
  size: 4,
  off: { mp_state: 0 },
} as const satisfies StructLayout;

export const STRUCTS: readonly StructLayout[] = [KVM_RUN, KVM_REGS, KVM_SEGMENT, KVM_DTABLE, KVM_SREGS,
  KVM_FPU, KVM_USERSPACE_MEMORY_REGION, KVM_CPUID2, KVM_CPUID_ENTRY2, KVM_MSRS, KVM_MSR_ENTRY,
  KVM_IRQ_LEVEL, KVM_PIT_CONFIG, KVM_MP_STATE];

// ---- ioctls ----
/** The ioctls we use, by their <linux/kvm.h> names. */
export const IOCTL = {
  // system (/dev/kvm)
  KVM_GET_API_VERSION: io(0x00),
  KVM_CREATE_VM: io(0x01),
  KVM_CHECK_EXTENSION: io(0x03),
  KVM_GET_VCPU_MMAP_SIZE: io(0x04),
  KVM_GET_SUPPORTED_CPUID: iowr(0x05, KVM_CPUID2.size),
  // VM
  KVM_CREATE_VCPU: io(0x41),
  KVM_SET_USER_MEMORY_REGION: iow(0x46, KVM_USERSPACE_MEMORY_REGION.size),
  KVM_SET_TSS_ADDR: io(0x47),
  KVM_SET_IDENTITY_MAP_ADDR: iow(0x48, 8), // __u64
  KVM_CREATE_IRQCHIP: io(0x60),
  KVM_IRQ_LINE: iow(0x61, KVM_IRQ_LEVEL.size),
  KVM_CREATE_PIT2: iow(0x77, KVM_PIT_CONFIG.size),
  // vCPU
  KVM_RUN: io(0x80),
  KVM_GET_REGS: ior(0x81, KVM_REGS.size),
  KVM_SET_REGS: iow(0x82, KVM_REGS.size),
  KVM_GET_SREGS: ior(0x83, KVM_SREGS.size),
  KVM_SET_SREGS: iow(0x84, KVM_SREGS.size),
  KVM_GET_MSRS: iowr(0x88, KVM_MSRS.size),
  KVM_SET_MSRS: iow(0x89, KVM_MSRS.size),
  KVM_GET_FPU: ior(0x8c, KVM_FPU.size),
  KVM_SET_FPU: iow(0x8d, KVM_FPU.size),
  KVM_SET_CPUID2: iow(0x90, KVM_CPUID2.size),
  KVM_GET_MP_STATE: ior(0x98, KVM_MP_STATE.size),
  KVM_SET_MP_STATE: iow(0x99, KVM_MP_STATE.size),
} as const;
export type IoctlName = keyof typeof IOCTL;

/** The name of an ioctl number, for messages. */
export function ioctlName(request: number): string {
  for (const [name, value] of Object.entries(IOCTL)) if (value === request) return name;
  return `ioctl 0x${request.toString(16)}`;
}

// ---- exit reasons (kvm_run.exit_reason) ----
export const KVM_EXIT_UNKNOWN = 0;
export const KVM_EXIT_EXCEPTION = 1;
export const KVM_EXIT_IO = 2;
export const KVM_EXIT_HYPERCALL = 3;
export const KVM_EXIT_DEBUG = 4;
export const KVM_EXIT_HLT = 5;
export const KVM_EXIT_MMIO = 6;
export const KVM_EXIT_IRQ_WINDOW_OPEN = 7;
export const KVM_EXIT_SHUTDOWN = 8;
export const KVM_EXIT_FAIL_ENTRY = 9;
export const KVM_EXIT_INTR = 10;
export const KVM_EXIT_INTERNAL_ERROR = 17;
export const KVM_EXIT_SYSTEM_EVENT = 24;

export const KVM_EXIT_IO_IN = 0;
export const KVM_EXIT_IO_OUT = 1;

export const KVM_SYSTEM_EVENT_SHUTDOWN = 1;
export const KVM_SYSTEM_EVENT_RESET = 2;
export const KVM_SYSTEM_EVENT_CRASH = 3;

export const KVM_PIT_SPEAKER_DUMMY = 1;
export const KVM_MP_STATE_RUNNABLE = 0;
export const KVM_MP_STATE_UNINITIALIZED = 1;

/** Names for messages ("KVM_EXIT_FAIL_ENTRY"). */
export const EXIT_NAMES: Readonly<Record<number, string>> = {
  0: "KVM_EXIT_UNKNOWN", 1: "KVM_EXIT_EXCEPTION", 2: "KVM_EXIT_IO", 3: "KVM_EXIT_HYPERCALL",
  4: "KVM_EXIT_DEBUG", 5: "KVM_EXIT_HLT", 6: "KVM_EXIT_MMIO", 7: "KVM_EXIT_IRQ_WINDOW_OPEN",
  8: "KVM_EXIT_SHUTDOWN", 9: "KVM_EXIT_FAIL_ENTRY", 10: "KVM_EXIT_INTR", 17: "KVM_EXIT_INTERNAL_ERROR",
  24: "KVM_EXIT_SYSTEM_EVENT",
};

// ---- capabilities (KVM_CHECK_EXTENSION) ----
export const KVM_CAP_IRQCHIP = 0;
export const KVM_CAP_HLT = 1;
export const KVM_CAP_USER_MEMORY = 3;
export const KVM_CAP_SET_TSS_ADDR = 4;
export const KVM_CAP_EXT_CPUID = 7;
export const KVM_CAP_NR_VCPUS = 9;
export const KVM_CAP_NR_MEMSLOTS = 10;
export const KVM_CAP_MP_STATE = 14;
export const KVM_CAP_PIT2 = 33;
export const KVM_CAP_SET_IDENTITY_MAP_ADDR = 37;
export const KVM_CAP_MAX_VCPUS = 66;
export const KVM_CAP_IMMEDIATE_EXIT = 136;

/** Named constants the ABI test checks against the headers too. */
export const CONSTANTS: Readonly<Record<string, number>> = {
  KVM_API_VERSION, KVM_EXIT_UNKNOWN, KVM_EXIT_EXCEPTION, KVM_EXIT_IO, KVM_EXIT_HYPERCALL, KVM_EXIT_DEBUG,
  KVM_EXIT_HLT, KVM_EXIT_MMIO, KVM_EXIT_IRQ_WINDOW_OPEN, KVM_EXIT_SHUTDOWN, KVM_EXIT_FAIL_ENTRY,
  KVM_EXIT_INTR, KVM_EXIT_INTERNAL_ERROR, KVM_EXIT_SYSTEM_EVENT, KVM_EXIT_IO_IN, KVM_EXIT_IO_OUT,
  KVM_SYSTEM_EVENT_SHUTDOWN, KVM_SYSTEM_EVENT_RESET, KVM_SYSTEM_EVENT_CRASH, KVM_PIT_SPEAKER_DUMMY,
  KVM_MP_STATE_RUNNABLE, KVM_MP_STATE_UNINITIALIZED,
  KVM_CAP_IRQCHIP, KVM_CAP_HLT, KVM_CAP_USER_MEMORY, KVM_CAP_SET_TSS_ADDR, KVM_CAP_EXT_CPUID,
  KVM_CAP_NR_VCPUS, KVM_CAP_NR_MEMSLOTS, KVM_CAP_MP_STATE, KVM_CAP_PIT2, KVM_CAP_SET_IDENTITY_MAP_ADDR,
  KVM_CAP_MAX_VCPUS, KVM_CAP_IMMEDIATE_EXIT,
};

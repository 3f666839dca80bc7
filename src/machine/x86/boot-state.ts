// Everything a 64-bit Linux kernel expects to find when entered directly at startup_64
// (boot.rst, "64-bit Boot Protocol"): the protected-mode kernel at 1 MiB, the initrd at the
// top of RAM, the command line, the zero page, a flat GDT, identity-mapped page tables, and
// a vCPU already in long mode with rsi pointing at the zero page. Addresses follow the board
// map (the lead's x86-map): nothing here is configurable, so the tables never overlap.
import { UserError } from "../machine.js";
import type { GuestMemory } from "../guest-memory.js";
import type { Regs, Segment, Sregs } from "../../accel/kvm/vcpu-state.js";
import type { BzImage } from "./bzimage.js";
import { buildBootParams, e820Map } from "./boot-params.js";

export const GDT_ADDR = 0x500;
export const IDT_ADDR = 0x520;
export const BOOT_PARAMS_ADDR = 0x7000;
export const PML4_ADDR = 0x9000;
export const PDPT_ADDR = 0xa000;
export const PD_ADDR = 0xb000; // four page directories, 0xb000..0xefff
export const CMDLINE_ADDR = 0x20000;
export const BOOT_STACK = 0x8f000;
/** Where the board puts the MP table (acpi=off) and the ACPI tables; reserved in e820. */
export const MP_TABLE_ADDR = 0x9fc00;
export const ACPI_TABLES_ADDR = 0xe0000;
export const KERNEL_ADDR = 0x100000;
/** startup_64 is 0x200 bytes into the protected-mode kernel. */
export const ENTRY_64_OFFSET = 0x200;
/** The page tables identity-map this much with 2 MiB pages: all RAM the board allows. */
export const IDENTITY_MAP_SIZE = 0x1_0000_0000;
export const MAX_RAM = 0xc000_0000;
/** Our own cap on the command line, whatever cmdline_size says: it lives below the stack. */
const CMDLINE_MAX = 0x10000;

/** GDT as Firecracker sets it (descriptor values, selector = index * 8). */
export const GDT_ENTRIES: readonly bigint[] = [
  0n, // null
  0x00af9b000000ffffn, // 0x08: 64-bit code, present, DPL 0, execute/read, accessed, G, L
  0x00cf93000000ffffn, // 0x10: data, present, DPL 0, read/write, accessed, G, D/B
  0x008f8b000000ffffn, // 0x18: 64-bit TSS (busy), G
];
export const SEL_CODE = 0x08;
export const SEL_DATA = 0x10;
export const SEL_TSS = 0x18;

const CR0_PE = 1n << 0n;
const CR0_ET = 1n << 4n;
const CR0_NE = 1n << 5n;
const CR0_PG = 1n << 31n;
const CR4_PAE = 1n << 5n;
const EFER_LME = 1n << 8n;
const EFER_LMA = 1n << 10n;
/** IA32_APIC_BASE: the default xAPIC base, enabled, this is the bootstrap processor.
 *  KVM_SET_SREGS writes it, so zero would switch the local APIC off. */
export const APIC_BASE_BSP = 0xfee00000n | (1n << 11n) | (1n << 8n);

const PTE_PRESENT = 1n;
const PTE_RW = 2n;
const PTE_PS = 0x80n; // 2 MiB page in a page-directory entry
const MiB = 0x100000;
const PAGE = 0x1000;

export interface BootOptions {
  mem: GuestMemory;
  kernel: BzImage;
  initrd?: Uint8Array;
  cmdline: string;
  /** Guest physical address of the ACPI RSDP, passed in the zero page (protocol 2.14+). */
  acpiRsdp?: number;
}

/** Writes the kernel, initrd, command line, zero page, GDT/IDT and page tables into guest
 *  memory and returns the boot vCPU's registers. Throws UserError when the kernel, its
 *  decompression space and the initrd do not fit in RAM, or the command line is too long. */
export function setupBoot(opts: BootOptions): { regs: Regs; sregs: Sregs } {
  const { mem, kernel } = opts;
  if (mem.ramBase !== 0) throw new Error("x86 guest RAM must start at physical address 0");
  if (mem.ramSize > MAX_RAM) throw new UserError(`-m ${mib(mem.ramSize)}M is too large: microvm takes at most 3 GiB of RAM`);
  const cmdline = encodeCmdline(opts.cmdline, kernel);
  const kernelEnd = kernelFootprintEnd(kernel);
  const initrd = opts.initrd ? placeInitrd(mem.ramSize, kernel, opts.initrd.length, kernelEnd) : undefined;
  if (kernelEnd > mem.ramSize) throw tooSmall(mem.ramSize, kernelEnd, opts.initrd?.length);

  mem.writeBytes(KERNEL_ADDR, kernel.kernel);
  if (initrd && opts.initrd) mem.writeBytes(initrd.addr, opts.initrd);
  mem.writeBytes(CMDLINE_ADDR, cmdline);
  mem.writeBytes(BOOT_PARAMS_ADDR, buildBootParams({
    kernel, cmdlineAddr: CMDLINE_ADDR, initrd, e820: e820Map(mem.ramSize), acpiRsdp: opts.acpiRsdp,
  }));
  mem.writeBytes(GDT_ADDR, gdtBytes());
  mem.writeBytes(PML4_ADDR, pageTables());
  return { regs: bootRegs(), sregs: bootSregs() };
}

/** One past the highest byte the kernel uses before it reads the memory map: its runtime
 *  start (where it decompresses itself, boot.rst "init_size") plus init_size, and never less
 *  than the image we load at 1 MiB. */
export function kernelFootprintEnd(k: BzImage): number {
  const loadedEnd = KERNEL_ADDR + k.kernel.length;
  // head_64.S: a relocatable kernel runs at the load address aligned up to kernel_alignment,
  // but never below LOAD_PHYSICAL_ADDR (= pref_address); a fixed one runs at pref_address.
  const align = k.kernelAlignment > 0 ? k.kernelAlignment : 1;
  const runtimeStart = k.relocatable
    ? Math.max(Math.ceil(KERNEL_ADDR / align) * align, k.prefAddress)
    : Math.max(k.prefAddress, KERNEL_ADDR);
  return Math.max(loadedEnd, runtimeStart + k.initSize);
}

/** The initrd goes as high as RAM and initrd_addr_max allow, 4 KiB aligned (as QEMU does),
 *  so the kernel's decompression space below it stays free. */
export function placeInitrd(ramSize: number, k: BzImage, size: number, kernelEnd: number): { addr: number; size: number } {
  const top = Math.min(ramSize, k.initrdAddrMax + 1);
  const addr = Math.floor((top - size) / PAGE) * PAGE;
  if (addr < kernelEnd) throw tooSmall(ramSize, kernelEnd, size);
  return { addr, size };
}

function tooSmall(ramSize: number, kernelEnd: number, initrdSize?: number): UserError {
  const plus = initrdSize ? ` plus the initrd (${Math.ceil(initrdSize / MiB)} MiB)` : "";
  return new UserError(`-m ${mib(ramSize)}M is too small for this kernel: it needs at least ` +
    `${Math.ceil(kernelEnd / MiB)} MiB (init_size)${plus}`);
}

function mib(bytes: number): string {
  return String(Math.floor(bytes / MiB));
}

function encodeCmdline(cmdline: string, k: BzImage): Uint8Array {
  const bytes = new TextEncoder().encode(cmdline);
  const max = Math.min(k.cmdlineSize, CMDLINE_MAX - 1);
  if (bytes.length > max) {
    throw new UserError(`kernel command line is too long: ${bytes.length} bytes, ${k.name} takes at most ${max}`);
  }
  const out = new Uint8Array(bytes.length + 1); // NUL-terminated
  out.set(bytes);
  return out;
}

/** The GDT bytes (little-endian descriptors). */
export function gdtBytes(): Uint8Array {
  const b = new Uint8Array(GDT_ENTRIES.length * 8);
  const v = new DataView(b.buffer);
  GDT_ENTRIES.forEach((e, i) => v.setBigUint64(i * 8, e, true));
  return b;
}

/** PML4, PDPT and four page directories (6 pages, from PML4_ADDR) identity-mapping 4 GiB. */
export function pageTables(): Uint8Array {
  const b = new Uint8Array(6 * PAGE);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, BigInt(PDPT_ADDR) | PTE_PRESENT | PTE_RW, true);
  for (let i = 0; i < 4; i++) {
    v.setBigUint64(PAGE + i * 8, BigInt(PD_ADDR + i * PAGE) | PTE_PRESENT | PTE_RW, true);
  }
  for (let j = 0; j < 4 * 512; j++) {
    v.setBigUint64(2 * PAGE + j * 8, (BigInt(j) << 21n) | PTE_PRESENT | PTE_RW | PTE_PS, true);
  }
  return b;
}

/** struct kvm_segment from a GDT descriptor, with the limit scaled as KVM wants it. */
export function segmentFromGdt(entry: bigint, selector: number): Segment {
  const bits = (lo: bigint, n: bigint) => Number((entry >> lo) & ((1n << n) - 1n));
  const g = bits(55n, 1n);
  const rawLimit = bits(0n, 16n) | (bits(48n, 4n) << 16);
  const present = bits(47n, 1n);
  return {
    base: BigInt(bits(16n, 24n) | (bits(56n, 8n) << 24)),
    limit: g ? ((rawLimit << 12) | 0xfff) >>> 0 : rawLimit,
    selector,
    type: bits(40n, 4n),
    s: bits(44n, 1n),
    dpl: bits(45n, 2n),
    present,
    avl: bits(52n, 1n),
    l: bits(53n, 1n),
    db: bits(54n, 1n),
    g,
    unusable: present ? 0 : 1,
  };
}

function bootRegs(): Regs {
  const z = 0n;
  return {
    rax: z, rbx: z, rcx: z, rdx: z,
    rsi: BigInt(BOOT_PARAMS_ADDR), rdi: z, rsp: BigInt(BOOT_STACK), rbp: BigInt(BOOT_STACK),
    r8: z, r9: z, r10: z, r11: z, r12: z, r13: z, r14: z, r15: z,
    rip: BigInt(KERNEL_ADDR + ENTRY_64_OFFSET),
    rflags: 2n, // bit 1 is reserved and always set; IF clear (boot.rst: interrupts disabled)
  };
}

function bootSregs(): Sregs {
  const code = segmentFromGdt(GDT_ENTRIES[1], SEL_CODE);
  const data = () => segmentFromGdt(GDT_ENTRIES[2], SEL_DATA);
  return {
    cs: code, ds: data(), es: data(), fs: data(), gs: data(), ss: data(),
    tr: segmentFromGdt(GDT_ENTRIES[3], SEL_TSS),
    // The LDT as a vCPU comes out of reset: present, type LDT, unused (selector 0).
    ldt: { base: 0n, limit: 0xffff, selector: 0, type: 2, present: 1, dpl: 0, db: 0, s: 0, l: 0, g: 0, avl: 0, unusable: 0 },
    gdt: { base: BigInt(GDT_ADDR), limit: GDT_ENTRIES.length * 8 - 1 },
    idt: { base: BigInt(IDT_ADDR), limit: 0 },
    cr0: CR0_PE | CR0_ET | CR0_NE | CR0_PG,
    cr2: 0n,
    cr3: BigInt(PML4_ADDR),
    cr4: CR4_PAE,
    cr8: 0n,
    efer: EFER_LME | EFER_LMA,
    apicBase: APIC_BASE_BSP,
  };
}

// Encoding the vCPU state types (vcpu-state.ts) into the C structs the ioctls take, and
// back: plain byte work over the layouts of kvm-abi.ts, testable without KVM.
import {
  KVM_CPUID2, KVM_CPUID_ENTRY2, KVM_DTABLE, KVM_FPU, KVM_IRQ_LEVEL, KVM_MSRS, KVM_MSR_ENTRY,
  KVM_PIT_CONFIG, KVM_REGS, KVM_SEGMENT, KVM_SREGS, KVM_USERSPACE_MEMORY_REGION, REG_NAMES,
  SREGS_SEGMENTS,
} from "./kvm-abi.js";
import type { CpuidEntry, DescriptorTable, MsrEntry, Regs, Segment, Sregs } from "./vcpu-state.js";

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength);

export function encodeRegs(regs: Regs): Uint8Array {
  const b = new Uint8Array(KVM_REGS.size);
  const v = view(b);
  for (const r of REG_NAMES) v.setBigUint64(KVM_REGS.off[r], BigInt.asUintN(64, regs[r]), true);
  return b;
}

export function decodeRegs(b: Uint8Array): Regs {
  const v = view(b);
  const regs = {} as Regs;
  for (const r of REG_NAMES) regs[r] = v.getBigUint64(KVM_REGS.off[r], true);
  return regs;
}

function encodeSegment(v: DataView, at: number, s: Segment): void {
  const o = KVM_SEGMENT.off;
  v.setBigUint64(at + o.base, BigInt.asUintN(64, s.base), true);
  v.setUint32(at + o.limit, s.limit >>> 0, true);
  v.setUint16(at + o.selector, s.selector, true);
  v.setUint8(at + o.type, s.type);
  v.setUint8(at + o.present, s.present);
  v.setUint8(at + o.dpl, s.dpl);
  v.setUint8(at + o.db, s.db);
  v.setUint8(at + o.s, s.s);
  v.setUint8(at + o.l, s.l);
  v.setUint8(at + o.g, s.g);
  v.setUint8(at + o.avl, s.avl);
  v.setUint8(at + o.unusable, s.unusable);
}

function decodeSegment(v: DataView, at: number): Segment {
  const o = KVM_SEGMENT.off;
  return {
    base: v.getBigUint64(at + o.base, true), limit: v.getUint32(at + o.limit, true),
    selector: v.getUint16(at + o.selector, true), type: v.getUint8(at + o.type),
    present: v.getUint8(at + o.present), dpl: v.getUint8(at + o.dpl), db: v.getUint8(at + o.db),
    s: v.getUint8(at + o.s), l: v.getUint8(at + o.l), g: v.getUint8(at + o.g),
    avl: v.getUint8(at + o.avl), unusable: v.getUint8(at + o.unusable),
  };
}

function encodeDtable(v: DataView, at: number, d: DescriptorTable): void {
  v.setBigUint64(at + KVM_DTABLE.off.base, BigInt.asUintN(64, d.base), true);
  v.setUint16(at + KVM_DTABLE.off.limit, d.limit, true);
}

function decodeDtable(v: DataView, at: number): DescriptorTable {
  return { base: v.getBigUint64(at + KVM_DTABLE.off.base, true), limit: v.getUint16(at + KVM_DTABLE.off.limit, true) };
}

const CONTROL = [["cr0", "cr0"], ["cr2", "cr2"], ["cr3", "cr3"], ["cr4", "cr4"], ["cr8", "cr8"],
  ["efer", "efer"], ["apicBase", "apic_base"]] as const;

/**
 * Writes our fields into a kvm_sregs read with KVM_GET_SREGS, in place: what we do not
 * model (the interrupt bitmap, padding) keeps KVM's values, as the API asks.
 */
export function encodeSregsInto(b: Uint8Array, s: Sregs): void {
  const v = view(b);
  for (const seg of SREGS_SEGMENTS) encodeSegment(v, KVM_SREGS.off[seg], s[seg]);
  encodeDtable(v, KVM_SREGS.off.gdt, s.gdt);
  encodeDtable(v, KVM_SREGS.off.idt, s.idt);
  for (const [ours, c] of CONTROL) v.setBigUint64(KVM_SREGS.off[c], BigInt.asUintN(64, s[ours]), true);
}

export function decodeSregs(b: Uint8Array): Sregs {
  const v = view(b);
  const s = {} as Sregs;
  for (const seg of SREGS_SEGMENTS) s[seg] = decodeSegment(v, KVM_SREGS.off[seg]);
  s.gdt = decodeDtable(v, KVM_SREGS.off.gdt);
  s.idt = decodeDtable(v, KVM_SREGS.off.idt);
  for (const [ours, c] of CONTROL) s[ours] = v.getBigUint64(KVM_SREGS.off[c], true);
  return s;
}

/** kvm_fpu as firmware leaves it: x87 control word 0x37f, MXCSR 0x1f80, the rest zero. */
export function encodeResetFpu(): Uint8Array {
  const b = new Uint8Array(KVM_FPU.size);
  const v = view(b);
  v.setUint16(KVM_FPU.off.fcw, 0x37f, true);
  v.setUint32(KVM_FPU.off.mxcsr, 0x1f80, true);
  return b;
}

/** A kvm_cpuid2 with room for `capacity` entries, nent = capacity (KVM_GET_SUPPORTED_CPUID's input). */
export function cpuid2Buffer(capacity: number): Uint8Array {
  const b = new Uint8Array(KVM_CPUID2.size + capacity * KVM_CPUID_ENTRY2.size);
  view(b).setUint32(KVM_CPUID2.off.nent, capacity, true);
  return b;
}

export function encodeCpuid2(entries: readonly CpuidEntry[]): Uint8Array {
  const b = cpuid2Buffer(entries.length);
  const v = view(b);
  const o = KVM_CPUID_ENTRY2.off;
  entries.forEach((e, i) => {
    const at = KVM_CPUID2.off.entries + i * KVM_CPUID_ENTRY2.size;
    v.setUint32(at + o.function, e.function >>> 0, true);
    v.setUint32(at + o.index, e.index >>> 0, true);
    v.setUint32(at + o.flags, e.flags >>> 0, true);
    v.setUint32(at + o.eax, e.eax >>> 0, true);
    v.setUint32(at + o.ebx, e.ebx >>> 0, true);
    v.setUint32(at + o.ecx, e.ecx >>> 0, true);
    v.setUint32(at + o.edx, e.edx >>> 0, true);
  });
  return b;
}

/** The entries of a kvm_cpuid2 (nent of them, as KVM set it). */
export function decodeCpuid2(b: Uint8Array): CpuidEntry[] {
  const v = view(b);
  const o = KVM_CPUID_ENTRY2.off;
  const max = Math.floor((b.byteLength - KVM_CPUID2.size) / KVM_CPUID_ENTRY2.size);
  const n = Math.min(v.getUint32(KVM_CPUID2.off.nent, true), max);
  const out: CpuidEntry[] = [];
  for (let i = 0; i < n; i++) {
    const at = KVM_CPUID2.off.entries + i * KVM_CPUID_ENTRY2.size;
    out.push({
      function: v.getUint32(at + o.function, true), index: v.getUint32(at + o.index, true),
      flags: v.getUint32(at + o.flags, true), eax: v.getUint32(at + o.eax, true),
      ebx: v.getUint32(at + o.ebx, true), ecx: v.getUint32(at + o.ecx, true), edx: v.getUint32(at + o.edx, true),
    });
  }
  return out;
}

export function encodeMsrs(entries: readonly MsrEntry[]): Uint8Array {
  const b = new Uint8Array(KVM_MSRS.size + entries.length * KVM_MSR_ENTRY.size);
  const v = view(b);
  v.setUint32(KVM_MSRS.off.nmsrs, entries.length, true);
  entries.forEach((e, i) => {
    const at = KVM_MSRS.off.entries + i * KVM_MSR_ENTRY.size;
    v.setUint32(at + KVM_MSR_ENTRY.off.index, e.index >>> 0, true);
    v.setBigUint64(at + KVM_MSR_ENTRY.off.data, BigInt.asUintN(64, e.data), true);
  });
  return b;
}

export function encodeMemoryRegion(slot: number, flags: number, guestAddr: number, size: number, hostAddr: bigint): Uint8Array {
  const b = new Uint8Array(KVM_USERSPACE_MEMORY_REGION.size);
  const v = view(b);
  const o = KVM_USERSPACE_MEMORY_REGION.off;
  v.setUint32(o.slot, slot, true);
  v.setUint32(o.flags, flags, true);
  v.setBigUint64(o.guest_phys_addr, BigInt(guestAddr), true);
  v.setBigUint64(o.memory_size, BigInt(size), true);
  v.setBigUint64(o.userspace_addr, hostAddr, true);
  return b;
}

export function encodeIrqLevel(gsi: number, level: boolean): Uint8Array {
  const b = new Uint8Array(KVM_IRQ_LEVEL.size);
  const v = view(b);
  v.setUint32(KVM_IRQ_LEVEL.off.irq, gsi, true);
  v.setUint32(KVM_IRQ_LEVEL.off.level, level ? 1 : 0, true);
  return b;
}

export function encodePitConfig(flags: number): Uint8Array {
  const b = new Uint8Array(KVM_PIT_CONFIG.size);
  view(b).setUint32(KVM_PIT_CONFIG.off.flags, flags, true);
  return b;
}

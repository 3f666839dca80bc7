// The CPUID table one vCPU sees: KVM_GET_SUPPORTED_CPUID filtered as Firecracker and QEMU
// do. KVM reports what it can virtualise; we add what only the VMM knows (this vCPU's APIC
// ID, how many vCPUs there are, that it runs under a hypervisor) and hide what the guest
// must not try to use (power management leaves, the PMU). Intel SDM vol. 2A, CPUID.
import type { CpuidEntry } from "../../accel/kvm/vcpu-state.js";

/** kvm_cpuid_entry2.flags: the leaf's output depends on ECX (the index). (sic, kvm.h spelling) */
export const KVM_CPUID_FLAG_SIGNIFCANT_INDEX = 1;

export const LEAF_VENDOR = 0x0;
export const LEAF_FEATURES = 0x1;
export const LEAF_CACHE = 0x4;
export const LEAF_THERMAL = 0x6;
export const LEAF_PMU = 0xa;
export const LEAF_TOPOLOGY = 0xb;
export const LEAF_TOPOLOGY_V2 = 0x1f;
export const LEAF_KVM_SIGNATURE = 0x40000000;
export const LEAF_KVM_FEATURES = 0x40000001;
export const LEAF_AMD_ADDRESS_SIZES = 0x80000008;
export const LEAF_AMD_TOPOLOGY = 0x8000001e;
/** Leaf 0 EBX of "AuthenticAMD" and "HygonGenuine": AMD's topology leaves apply. */
const VENDOR_AMD_EBX = [0x68747541, 0x6f677948];

/** Leaves whose output depends on the index in ECX. */
const INDEXED_LEAVES = new Set([0x4, 0x7, 0xb, 0xd, 0xf, 0x10, 0x12, 0x14, 0x17, 0x18, 0x1d, 0x1e, 0x1f, 0x20, 0x8000001d]);

const ECX_HYPERVISOR = 1 << 31; // leaf 1: "running under a hypervisor"
const ECX_TSC_DEADLINE = 1 << 24; // leaf 1: the local APIC timer has TSC-deadline mode
const EDX_HTT = 1 << 28; // leaf 1: EBX[23:16] (logical processor count) is valid
const EAX_ARAT = 1 << 2; // leaf 6: the APIC timer keeps running in deep C-states

/** Topology level types in leaves 0xB/0x1F ECX[15:8]. */
const LEVEL_SMT = 1;
const LEVEL_CORE = 2;

/** "KVMKVMKVM\0\0\0" as EBX, ECX, EDX. */
export const KVM_SIGNATURE = [0x4b4d564b, 0x564b4d56, 0x0000004d] as const;

/** The CPUID entries for vCPU `vcpuId` of `vcpuCount` (one thread per core, one package;
 *  the APIC ID equals the vCPU index, as the MADT and MP table say). */
export function guestCpuid(supported: CpuidEntry[], vcpuId: number, vcpuCount: number): CpuidEntry[] {
  const vendor = supported.find((s) => s.function === LEAF_VENDOR);
  const amd = vendor !== undefined && VENDOR_AMD_EBX.includes(vendor.ebx);
  const out: CpuidEntry[] = [];
  for (const s of supported) {
    const e = { ...s };
    if (INDEXED_LEAVES.has(e.function)) e.flags |= KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
    switch (e.function) {
      case LEAF_FEATURES: fixFeatures(e, vcpuId, vcpuCount); break;
      case LEAF_CACHE: fixCache(e, vcpuCount); break;
      case LEAF_THERMAL: e.eax &= EAX_ARAT; e.ebx = e.ecx = e.edx = 0; break;
      case LEAF_PMU: e.eax = e.ebx = e.ecx = e.edx = 0; break;
      case LEAF_TOPOLOGY: case LEAF_TOPOLOGY_V2: continue; // rebuilt below
      case LEAF_KVM_SIGNATURE: [e.ebx, e.ecx, e.edx] = KVM_SIGNATURE; break;
      case LEAF_AMD_ADDRESS_SIZES: if (amd) fixAmdCoreCount(e, vcpuCount); break;
      case LEAF_AMD_TOPOLOGY: if (amd) fixAmdTopology(e, vcpuId); break;
    }
    out.push(e);
  }
  for (const leaf of [LEAF_TOPOLOGY, LEAF_TOPOLOGY_V2]) {
    if (supported.some((s) => s.function === leaf)) out.push(...topology(leaf, vcpuId, vcpuCount));
  }
  return out;
}

/** Leaf 1: initial APIC ID, logical processor count, CLFLUSH line size, hypervisor bit,
 *  TSC-deadline (api.rst: never in KVM_GET_SUPPORTED_CPUID, but the in-kernel local APIC
 *  always emulates it, KVM_CAP_TSC_DEADLINE_TIMER; Linux then needs no APIC timer calibration). */
function fixFeatures(e: CpuidEntry, vcpuId: number, vcpuCount: number): void {
  const clflush = (e.ebx >>> 8) & 0xff || 8; // in 8-byte units; 64-byte lines if KVM left it 0
  e.ebx = (((vcpuId & 0xff) << 24) | (Math.min(vcpuCount, 255) << 16) | (clflush << 8)) >>> 0;
  e.ecx = (e.ecx | ECX_HYPERVISOR | ECX_TSC_DEADLINE) >>> 0;
  e.edx = vcpuCount > 1 ? (e.edx | EDX_HTT) >>> 0 : (e.edx & ~EDX_HTT) >>> 0;
}

/** Leaf 4 (deterministic cache parameters): every vCPU is a core of one package; caches
 *  up to L2 are private to a core, the L3 is shared by all of them. */
function fixCache(e: CpuidEntry, vcpuCount: number): void {
  const level = (e.eax >>> 5) & 7;
  if ((e.eax & 0x1f) === 0) return; // "no more caches": leave it all zero
  const cores = Math.min(vcpuCount, 64) - 1; // EAX[31:26], 6 bits
  const sharing = level >= 3 ? Math.min(vcpuCount, 4096) - 1 : 0; // EAX[25:14], 12 bits
  e.eax = ((e.eax & 0x3fff) | (sharing << 14) | (cores << 26)) >>> 0;
}

/** AMD leaf 0x80000008 ECX: NC (cores - 1) in bits 7:0; ApicIdSize 0 means "derive from NC". */
function fixAmdCoreCount(e: CpuidEntry, vcpuCount: number): void {
  e.ecx = ((e.ecx & ~0xf0ff) | (Math.min(vcpuCount, 256) - 1)) >>> 0;
}

/** AMD leaf 0x8000001E: extended APIC ID, core (compute unit) ID with one thread each, node 0.
 *  KVM reports zeros here (api.rst, "CPU topology"). */
function fixAmdTopology(e: CpuidEntry, vcpuId: number): void {
  e.eax = vcpuId >>> 0;
  e.ebx = vcpuId & 0xff;
  e.ecx = 0;
  e.edx = 0;
}

/** Leaf 0xB / 0x1F: SMT level (one thread), core level (all vCPUs), then the invalid level
 *  that ends the list. EDX is the x2APIC ID at every index. */
function topology(leaf: number, vcpuId: number, vcpuCount: number): CpuidEntry[] {
  const coreShift = Math.ceil(Math.log2(Math.max(vcpuCount, 1)));
  const entry = (index: number, eax: number, ebx: number, type: number): CpuidEntry => ({
    function: leaf, index, flags: KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
    eax, ebx, ecx: (type << 8) | index, edx: vcpuId,
  });
  return [
    entry(0, 0, 1, LEVEL_SMT),
    entry(1, coreShift, vcpuCount, LEVEL_CORE),
    entry(2, 0, 0, 0),
  ];
}

// guestCpuid() over a KVM_GET_SUPPORTED_CPUID list as a Cascade Lake host reports it, and
// bootMsrs().
import { test } from "node:test";
import assert from "node:assert/strict";
import type { CpuidEntry } from "../src/accel/kvm/vcpu-state.js";
import { guestCpuid, KVM_CPUID_FLAG_SIGNIFCANT_INDEX } from "../src/machine/x86/cpuid.js";
import * as msr from "../src/machine/x86/msrs.js";

const e = (fn: number, index: number, flags: number, eax: number, ebx: number, ecx: number, edx: number): CpuidEntry =>
  ({ function: fn, index, flags, eax, ebx, ecx, edx });

/** A hand-written KVM_GET_SUPPORTED_CPUID result (Intel Xeon, Cascade Lake, 16 cores). */
const SUPPORTED: readonly CpuidEntry[] = [
  e(0x0, 0, 0, 0xd, 0x756e6547, 0x6c65746e, 0x49656e69), // "GenuineIntel"
  e(0x1, 0, 0, 0x50657, 0x00000800, 0xf6fa3223, 0x0f8bfbff), // no TSC-deadline: KVM never reports it
  e(0x4, 0, 1, 0x1c004121, 0x01c0003f, 0x3f, 0), // L1d
  e(0x4, 1, 1, 0x1c004122, 0x01c0003f, 0x3f, 0), // L1i
  e(0x4, 2, 1, 0x1c004143, 0x03c0003f, 0x3ff, 0), // L2
  e(0x4, 3, 1, 0x1c03c163, 0x0280003f, 0x9fff, 4), // L3, shared by 16
  e(0x4, 4, 1, 0, 0, 0, 0),
  e(0x6, 0, 0, 0x4, 0, 0, 0), // ARAT only
  e(0x7, 0, 1, 0, 0xd19f4fbb, 0x0000080c, 0xbc000400),
  e(0xa, 0, 0, 0x07300402, 0, 0, 0x603), // architectural PMU v2
  e(0xb, 0, 1, 1, 2, 0x100, 0), // host topology: 2 threads per core
  e(0xb, 1, 1, 5, 0x20, 0x201, 0),
  e(0xd, 0, 1, 0x2e7, 0x340, 0xa88, 0),
  e(0xd, 1, 1, 0xf, 0x3c8, 0x100, 0),
  e(0xd, 2, 1, 0x100, 0x240, 0, 0),
  e(0x40000000, 0, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d), // "KVMKVMKVM"
  e(0x40000001, 0, 0, 0x01007afb, 0, 0, 0),
  e(0x80000000, 0, 0, 0x80000008, 0, 0, 0),
  e(0x80000001, 0, 0, 0, 0, 0x121, 0x2c100800),
  e(0x80000002, 0, 0, 0x65746e49, 0x2952286c, 0x6f655820, 0x2952286e),
  e(0x80000003, 0, 0, 0x6c6f4720, 0x32362064, 0x43203034, 0x40205550),
  e(0x80000004, 0, 0, 0x312e3220, 0x7a484730, 0, 0),
  e(0x80000005, 0, 0, 0, 0, 0, 0),
  e(0x80000006, 0, 0, 0, 0, 0x01006040, 0),
  e(0x80000007, 0, 0, 0, 0, 0, 0x100),
  e(0x80000008, 0, 0, 0x3030, 0, 0, 0),
];

const supported = () => SUPPORTED.map((x) => ({ ...x }));
const find = (list: CpuidEntry[], fn: number, index = 0) => {
  const found = list.filter((x) => x.function === fn && x.index === index);
  assert.equal(found.length, 1, `leaf 0x${fn.toString(16)}.${index}`);
  return found[0];
};

test("leaf 1: APIC ID, logical count, CLFLUSH, hypervisor bit, TSC-deadline kept", () => {
  const l1 = find(guestCpuid(supported(), 3, 4), 1);
  assert.equal(l1.ebx >>> 24, 3);
  assert.equal((l1.ebx >>> 16) & 0xff, 4);
  assert.equal((l1.ebx >>> 8) & 0xff, 8);
  assert.ok(l1.ecx & (1 << 31), "hypervisor");
  assert.ok(l1.ecx & (1 << 24), "TSC-deadline");
  assert.ok(l1.ecx & (1 << 21), "x2APIC kept");
  assert.ok(l1.edx & (1 << 28), "HTT with more than one vCPU");
  assert.equal(l1.eax, 0x50657);
  const single = find(guestCpuid(supported(), 0, 1), 1);
  assert.equal(single.ebx, 0x00010800);
  assert.equal(single.edx & (1 << 28), 0);
  // KVM leaves TSC-deadline clear (api.rst) and maybe the hypervisor bit: we set them.
  const s = supported();
  s[1].ecx &= ~((1 << 31) | (1 << 24));
  assert.equal(find(guestCpuid(s, 0, 1), 1).ecx >>> 0, 0xf7fa3223);
});

test("leaf 4: every vCPU a core of one package, L3 shared by all", () => {
  const out = guestCpuid(supported(), 1, 6);
  for (let i = 0; i < 4; i++) {
    const l = find(out, 4, i);
    const orig = SUPPORTED.find((x) => x.function === 4 && x.index === i)!;
    assert.equal(l.eax >>> 26, 5, "cores per package - 1");
    assert.equal((l.eax >>> 14) & 0xfff, i === 3 ? 5 : 0, "logical processors sharing - 1");
    assert.equal(l.eax & 0x3fff, orig.eax & 0x3fff, "type, level and flags kept");
    assert.deepEqual([l.ebx, l.ecx, l.edx], [orig.ebx, orig.ecx, orig.edx]);
  }
  assert.deepEqual(find(out, 4, 4), e(4, 4, 1, 0, 0, 0, 0));
});

test("leaf 6 keeps only ARAT, leaf 0xA hides the PMU", () => {
  const out = guestCpuid(supported(), 0, 2);
  assert.deepEqual(find(out, 6), e(6, 0, 0, 4, 0, 0, 0));
  const s = supported();
  s[7] = e(6, 0, 0, 0x77, 2, 9, 0);
  assert.deepEqual(find(guestCpuid(s, 0, 2), 6), e(6, 0, 0, 4, 0, 0, 0));
  assert.deepEqual(find(out, 0xa), e(0xa, 0, 0, 0, 0, 0, 0));
});

test("leaf 0xB: one thread per core, all vCPUs in one package, x2APIC ID in EDX", () => {
  for (const [count, shift] of [[1, 0], [2, 1], [3, 2], [4, 2], [5, 3], [16, 4]]) {
    const out = guestCpuid(supported(), count - 1, count);
    const leaves = out.filter((x) => x.function === 0xb);
    assert.equal(leaves.length, 3);
    const F = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
    assert.deepEqual(find(out, 0xb, 0), e(0xb, 0, F, 0, 1, 0x100, count - 1));
    assert.deepEqual(find(out, 0xb, 1), e(0xb, 1, F, shift, count, 0x201, count - 1));
    assert.deepEqual(find(out, 0xb, 2), e(0xb, 2, F, 0, 0, 2, count - 1));
  }
});

test("leaf 0x1F is rebuilt the same way when KVM reports it, absent otherwise", () => {
  assert.equal(guestCpuid(supported(), 0, 2).filter((x) => x.function === 0x1f).length, 0);
  const s = [...supported(), e(0x1f, 0, 1, 1, 2, 0x100, 0), e(0x1f, 1, 1, 5, 0x20, 0x201, 0)];
  const out = guestCpuid(s, 1, 2);
  assert.deepEqual(find(out, 0x1f, 1), e(0x1f, 1, 1, 1, 2, 0x201, 1));
  assert.equal(out.filter((x) => x.function === 0x1f).length, 3);
});

test("KVM leaves: signature KVMKVMKVM, features as supported", () => {
  const s = supported();
  s[15] = e(0x40000000, 0, 0, 0x40000001, 0, 0, 0);
  const out = guestCpuid(s, 0, 1);
  const sig = find(out, 0x40000000);
  const bytes = Buffer.alloc(12);
  bytes.writeUInt32LE(sig.ebx, 0);
  bytes.writeUInt32LE(sig.ecx, 4);
  bytes.writeUInt32LE(sig.edx, 8);
  assert.equal(bytes.toString("latin1"), "KVMKVMKVM\0\0\0");
  assert.equal(sig.eax, 0x40000001);
  assert.deepEqual(find(out, 0x40000001), SUPPORTED[16]);
});

test("other leaves pass through; indexed leaves are flagged; the input is not modified", () => {
  const input = supported();
  input.forEach((x) => { if (x.function === 7 || x.function === 0xd) x.flags = 0; });
  const before = JSON.stringify(input);
  const out = guestCpuid(input, 2, 4);
  assert.equal(JSON.stringify(input), before);
  for (const fn of [0, 0x80000000, 0x80000001, 0x80000002, 0x80000006, 0x80000008]) {
    assert.deepEqual(find(out, fn), SUPPORTED.find((x) => x.function === fn));
  }
  assert.equal(find(out, 7).flags, KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
  assert.equal(find(out, 0xd, 1).flags, KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
  assert.equal(find(out, 7).ebx, 0xd19f4fbb);
  assert.equal(out.length, SUPPORTED.length + 1, "0xB: 2 host entries replaced by 3");
});

test("AMD: 0x80000008 core count and 0x8000001E topology; left alone on Intel", () => {
  const amd = supported();
  amd[0] = e(0, 0, 0, 0x10, 0x68747541, 0x444d4163, 0x69746e65); // "AuthenticAMD"
  amd.push(e(0x8000001e, 0, 0, 0, 0, 0, 0));
  const out = guestCpuid(amd, 2, 4);
  assert.equal(find(out, 0x80000008).ecx, 3);
  assert.equal(find(out, 0x80000008).eax, 0x3030);
  assert.deepEqual(find(out, 0x8000001e), e(0x8000001e, 0, 0, 2, 2, 0, 0));
  assert.equal(find(guestCpuid(supported(), 2, 4), 0x80000008).ecx, 0);
});

test("bootMsrs: the syscall MSRs zeroed, fast strings, write-back MTRR default, no TSC", () => {
  const m = msr.bootMsrs();
  const byIndex = new Map(m.map((x) => [x.index, x.data]));
  assert.equal(byIndex.size, m.length, "no duplicates");
  for (const i of [0x174, 0x175, 0x176, 0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084, 0xc0000102]) {
    assert.equal(byIndex.get(i), 0n, `0x${i.toString(16)}`);
  }
  assert.equal(byIndex.get(0x1a0), 1n);
  assert.equal(byIndex.get(0x2ff), 0x806n);
  assert.equal(byIndex.has(0x10), false, "IA32_TSC left to KVM");
  assert.notEqual(msr.bootMsrs(), m, "a fresh list each call");
});

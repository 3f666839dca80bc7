// kvm-abi.ts against the installed kernel headers: a C program prints every struct size,
// field offset, ioctl number and constant we use, as gcc sees <linux/kvm.h>; each must
// equal ours. Also the struct encoders (kvm-structs.ts) round-trip.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CONSTANTS, IOCTL, STRUCTS, ioctlName } from "../src/accel/kvm/kvm-abi.js";
import {
  decodeCpuid2, decodeRegs, decodeSregs, encodeCpuid2, encodeMsrs, encodeRegs, encodeResetFpu, encodeSregsInto,
} from "../src/accel/kvm/kvm-structs.js";
import type { Regs, Segment, Sregs } from "../src/accel/kvm/vcpu-state.js";

const HEADER = "/usr/include/linux/kvm.h";

function cSkipReason(): string | false {
  if (process.platform !== "linux" || process.arch !== "x64") return "the ABI is x86-64 Linux's; this host is not";
  if (spawnSync("gcc", ["--version"]).status !== 0) return "gcc is not installed (apt-get install gcc)";
  if (!existsSync(HEADER)) return `${HEADER} is missing (apt-get install linux-libc-dev)`;
  return false;
}

/** Runs the generated C program; returns name -> value as it printed them. */
function headerValues(): Map<string, bigint> {
  const lines: string[] = [];
  for (const s of STRUCTS) {
    lines.push(`P("size ${s.name}", sizeof(struct ${s.name}));`);
    for (const f of Object.keys(s.off)) lines.push(`P("off ${s.name}.${f}", offsetof(struct ${s.name}, ${f}));`);
  }
  for (const name of Object.keys(IOCTL)) lines.push(`P("ioctl ${name}", ${name});`);
  for (const name of Object.keys(CONSTANTS)) lines.push(`P("const ${name}", ${name});`);
  const program = [
    "#include <stdio.h>", "#include <stddef.h>", "#include <linux/kvm.h>",
    "#define P(name, v) printf(\"%s=%llu\\n\", name, (unsigned long long)(v))",
    "int main(void) {", ...lines, "return 0; }",
  ].join("\n");
  const dir = mkdtempSync(join(tmpdir(), "tsvisor-kvm-abi-"));
  try {
    writeFileSync(join(dir, "abi.c"), program);
    execFileSync("gcc", ["-o", join(dir, "abi"), join(dir, "abi.c")], { stdio: "pipe" });
    const out = execFileSync(join(dir, "abi"), { encoding: "utf8" });
    return new Map(out.trim().split("\n").map((l) => {
      const [k, v] = l.split("=");
      return [k!, BigInt(v!)];
    }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("struct sizes, field offsets, ioctl numbers and constants match <linux/kvm.h>", { skip: cSkipReason() }, () => {
  const c = headerValues();
  let checked = 0;
  const same = (key: string, ours: number) => {
    assert.ok(c.has(key), `the C program printed no ${key}`);
    assert.equal(BigInt(ours), c.get(key), key);
    checked++;
  };
  for (const s of STRUCTS) {
    same(`size ${s.name}`, s.size);
    for (const [f, off] of Object.entries(s.off)) same(`off ${s.name}.${f}`, off);
  }
  for (const [name, value] of Object.entries(IOCTL)) same(`ioctl ${name}`, value);
  for (const [name, value] of Object.entries(CONSTANTS)) same(`const ${name}`, value);
  assert.ok(checked > 150, `${checked} values checked`);
});

test("ioctl numbers are unsigned and named back", () => {
  assert.equal(IOCTL.KVM_RUN, 0xae80);
  assert.equal(IOCTL.KVM_GET_SREGS, 0x8138ae83);
  assert.equal(IOCTL.KVM_SET_USER_MEMORY_REGION, 0x4020ae46);
  assert.equal(IOCTL.KVM_GET_SUPPORTED_CPUID, 0xc008ae05);
  assert.equal(ioctlName(0x4090ae82), "KVM_SET_REGS");
  assert.equal(ioctlName(0x1234), "ioctl 0x1234");
});

const seg = (selector: number, type: number, l: number): Segment => ({
  base: 0x1000n * BigInt(selector), limit: 0xfffff, selector, type, present: 1, dpl: 0, db: l ? 0 : 1, s: 1, l, g: 1, avl: 0, unusable: 0,
});

test("kvm_regs and kvm_sregs round-trip; sregs keep KVM's interrupt bitmap", () => {
  const regs = {} as Regs;
  ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp", "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags"]
    .forEach((r, i) => { (regs as unknown as Record<string, bigint>)[r] = 0x0102030405060708n * BigInt(i + 1) & 0xffffffffffffffffn; });
  assert.deepEqual(decodeRegs(encodeRegs(regs)), regs);
  const b = encodeRegs({ ...regs, rip: 0x100200n });
  assert.equal(new DataView(b.buffer).getBigUint64(128, true), 0x100200n);

  const sregs: Sregs = {
    cs: seg(0x08, 11, 1), ds: seg(0x10, 3, 0), es: seg(0x10, 3, 0), fs: seg(0x10, 3, 0), gs: seg(0x10, 3, 0),
    ss: seg(0x10, 3, 0), tr: seg(0x18, 11, 0), ldt: { ...seg(0, 2, 0), unusable: 1 },
    gdt: { base: 0x500n, limit: 31 }, idt: { base: 0x520n, limit: 0 },
    cr0: 0x80000011n, cr2: 0n, cr3: 0x9000n, cr4: 0x20n, cr8: 0n, efer: 0x500n, apicBase: 0xfee00900n,
  };
  const raw = new Uint8Array(312);
  raw[280] = 0x5a; // KVM's pending-interrupt bitmap: untouched by our write
  encodeSregsInto(raw, sregs);
  assert.equal(raw[280], 0x5a);
  assert.deepEqual(decodeSregs(raw), sregs);
  const dv = new DataView(raw.buffer);
  assert.equal(dv.getUint16(12, true), 0x08); // cs.selector
  assert.equal(dv.getUint8(19), 1); // cs.l
  assert.equal(dv.getBigUint64(240, true), 0x9000n); // cr3
  assert.equal(dv.getBigUint64(264, true), 0x500n); // efer
});

test("kvm_cpuid2, kvm_msrs and kvm_fpu encodings", () => {
  const entries = [
    { function: 0, index: 0, flags: 0, eax: 0xd, ebx: 0x756e6547, ecx: 0x6c65746e, edx: 0x49656e69 },
    { function: 7, index: 1, flags: 1, eax: 1, ebx: 2, ecx: 3, edx: 0xffffffff },
  ];
  const cpuid = encodeCpuid2(entries);
  assert.equal(cpuid.byteLength, 8 + 2 * 40);
  assert.deepEqual(decodeCpuid2(cpuid), entries);
  const msrs = encodeMsrs([{ index: 0x174, data: 0n }, { index: 0xc0000080, data: 0xffffffff00000001n }]);
  const dv = new DataView(msrs.buffer);
  assert.equal(dv.getUint32(0, true), 2);
  assert.equal(dv.getUint32(8 + 16, true), 0xc0000080);
  assert.equal(dv.getBigUint64(8 + 16 + 8, true), 0xffffffff00000001n);
  const fpu = new DataView(encodeResetFpu().buffer);
  assert.equal(fpu.getUint16(128, true), 0x37f);
  assert.equal(fpu.getUint32(408, true), 0x1f80);
});

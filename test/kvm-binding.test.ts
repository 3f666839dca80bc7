// The KVM binding (libc.ts, kvm.ts, guest-ram.ts, vcpu.ts): errors everywhere; with
// /dev/kvm, a real-mode guest through the Vcpu wrapper and a 64-bit guest through
// startVcpus (worker threads) doing port and MMIO I/O, then hlt.
import { test } from "node:test";
import assert from "node:assert/strict";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { UserError } from "../src/machine/machine.js";
import { errnoText, libc } from "../src/accel/kvm/libc.js";
import { Kvm, KvmError, openError, openKvm } from "../src/accel/kvm/kvm.js";
import { allocateGuestRam } from "../src/accel/kvm/guest-ram.js";
import { Vcpu } from "../src/accel/kvm/vcpu.js";
import { startVcpus } from "../src/accel/kvm/vcpu-group.js";
import { KVM_CAP_USER_MEMORY } from "../src/accel/kvm/kvm-abi.js";
import type { VcpuStop } from "../src/accel/kvm/vcpu-exits.js";
import type { Segment, Sregs } from "../src/accel/kvm/vcpu-state.js";

const x64Linux = process.platform === "linux" && process.arch === "x64";
const ffiSkip = x64Linux ? false : "the KVM binding is for x86-64 Linux hosts";
const kvmSkip = ffiSkip || (existsSync("/dev/kvm") ? false : "/dev/kvm is absent on this host: the real-KVM tests need it");

test("errno texts name the error and say what it means", () => {
  assert.equal(errnoText(1), "EPERM (Operation not permitted)");
  assert.equal(errnoText(25), "ENOTTY (Inappropriate ioctl for device)");
  assert.equal(errnoText(9999), "errno 9999");
});

test("an ioctl on a non-KVM fd fails with a KvmError naming the ioctl and errno", { skip: ffiSkip }, () => {
  const fd = openSync("/dev/null", "r+");
  try {
    const kvm = new Kvm(fd, libc());
    assert.throws(() => kvm.apiVersion(), (err: unknown) => {
      assert.ok(err instanceof KvmError);
      assert.equal(err.ioctl, "KVM_GET_API_VERSION");
      assert.equal(err.errno, 25);
      assert.equal(err.message, "KVM_GET_API_VERSION: ENOTTY (Inappropriate ioctl for device)");
      return true;
    });
    assert.throws(() => kvm.createVm(), /^KvmError: KVM_CREATE_VM: ENOTTY/);
    assert.throws(() => kvm.supportedCpuid(), /KVM_GET_SUPPORTED_CPUID: ENOTTY/);
  } finally {
    closeSync(fd);
  }
});

test("openKvm: one clear UserError line for a missing device, no permission, a non-KVM device", { skip: ffiSkip }, () => {
  assert.throws(() => openKvm("/nonexistent/kvm"), (err: unknown) => {
    assert.ok(err instanceof UserError);
    assert.equal(err.message, "/nonexistent/kvm not found: this host has no KVM (try -accel tcg, or load kvm_intel/kvm_amd)");
    return true;
  });
  assert.throws(() => openKvm("/dev/null"), (err: unknown) => {
    assert.ok(err instanceof UserError);
    assert.equal(err.message, "/dev/null is not a KVM device (KVM_GET_API_VERSION: ENOTTY (Inappropriate ioctl for device))");
    return true;
  });
  // (root opens any file, so permission is checked on the mapping of the open error)
  const eacces = Object.assign(new Error("EACCES: permission denied, open '/dev/kvm'"), { code: "EACCES" });
  assert.equal(openError("/dev/kvm", eacces).message, "/dev/kvm: permission denied (add yourself to the kvm group)");
  if (!existsSync("/dev/kvm")) {
    assert.throws(() => openKvm(), { name: "UserError", message: /^\/dev\/kvm not found: this host has no KVM/ });
  }
});

function rssKiB(): number {
  return Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync("/proc/self/status", "utf8"))![1]);
}

test("guest RAM: an ArrayBuffer over an anonymous mapping; 1 GiB costs no memory until touched", { skip: ffiSkip }, () => {
  const before = rssKiB();
  const ram = allocateGuestRam(2 ** 30);
  try {
    assert.equal(ram.buffer.byteLength, 2 ** 30);
    assert.ok(ram.hostAddress > 0n && ram.hostAddress % 4096n === 0n);
    assert.ok(rssKiB() - before < 8 * 1024, `RSS grew by ${rssKiB() - before} KiB`);
    const u8 = new Uint8Array(ram.buffer);
    assert.equal(u8[12345], 0); // anonymous memory reads as zero
    u8[0] = 0x5a;
    u8[2 ** 30 - 1] = 0xa5;
    new DataView(ram.buffer).setUint32(0x100000, 0xdeadbeef, true);
    assert.equal(u8[0], 0x5a);
    assert.equal(u8[2 ** 30 - 1], 0xa5);
    assert.deepEqual([...u8.subarray(0x100000, 0x100004)], [0xef, 0xbe, 0xad, 0xde]);
    assert.ok(rssKiB() - before < 8 * 1024, "three touched pages, not the gigabyte");
  } finally {
    ram.free();
    ram.free(); // a second free does nothing
  }
  assert.throws(() => allocateGuestRam(1000), RangeError);
});

// ---- real KVM ----

test("KVM: a real-mode guest through Kvm, Vm and Vcpu prints on port 0x3f8 and halts", { skip: kvmSkip }, () => {
  const kvm = openKvm();
  const vm = kvm.createVm();
  const ram = allocateGuestRam(0x10000);
  try {
    assert.ok(kvm.checkExtension(KVM_CAP_USER_MEMORY) > 0);
    assert.ok(kvm.vcpuMmapSize() >= 4096);
    assert.ok(kvm.supportedCpuid().some((e) => e.function === 0));
    // mov dx,0x3f8; mov al,'O'; out dx,al; mov al,'K'; out dx,al; mov dx,0x60; in al,dx;
    // mov dx,0x80; out dx,al; hlt
    new Uint8Array(ram.buffer).set([0xba, 0xf8, 0x03, 0xb0, 0x4f, 0xee, 0xb0, 0x4b, 0xee,
      0xba, 0x60, 0x00, 0xec, 0xba, 0x80, 0x00, 0xee, 0xf4], 0x1000);
    vm.setTssAddr(0xfffbd000);
    vm.setUserMemoryRegion(0, 0, 0x10000, ram.hostAddress);
    const vcpu = Vcpu.create(vm.fd, kvm.fd, 0);
    try {
      const sregs = vcpu.getSregs();
      vcpu.setSregs({ ...sregs, cs: { ...sregs.cs, base: 0n, selector: 0 } });
      vcpu.setRegs({ ...vcpu.getRegs(), rip: 0x1000n, rflags: 2n });
      const seen: string[] = [];
      let why: VcpuStop | undefined;
      for (let i = 0; i < 100 && !why; i++) {
        const exit = vcpu.run();
        if (exit.kind === "pio" && exit.write) seen.push(`out ${exit.port.toString(16)} ${exit.data[0]!.toString(16)}`);
        else if (exit.kind === "pio") {
          seen.push(`in ${exit.port.toString(16)}`);
          exit.data[0] = 0x77;
        } else if (exit.kind === "stop") why = exit.why;
      }
      assert.deepEqual(seen, ["out 3f8 4f", "out 3f8 4b", "in 60", "out 80 77"]);
      assert.match((why as { message: string }).message, /KVM_EXIT_HLT/);
      assert.equal(vcpu.getRegs().rip, 0x1000n + 18n);
    } finally {
      vcpu.close();
    }
  } finally {
    vm.close();
    kvm.close();
    ram.free();
  }
});

const code64: Segment = { base: 0n, limit: 0xfffff, selector: 0x08, type: 11, present: 1, dpl: 0, db: 0, s: 1, l: 1, g: 1, avl: 0, unusable: 0 };
const data64: Segment = { ...code64, selector: 0x10, type: 3, db: 1, l: 0 };

/** Long mode as the board sets it up (docs map): GDT at 0x500, PML4 at 0x9000, 2 MiB pages. */
function longModeSregs(): Sregs {
  return {
    cs: code64, ds: data64, es: data64, fs: data64, gs: data64, ss: data64,
    tr: { ...code64, selector: 0x18, s: 0, l: 0 }, // busy 64-bit TSS, as GDT entry 3
    ldt: { base: 0n, limit: 0xffff, selector: 0, type: 2, present: 1, dpl: 0, db: 0, s: 0, l: 0, g: 0, avl: 0, unusable: 0 },
    gdt: { base: 0x500n, limit: 31 }, idt: { base: 0x520n, limit: 0 },
    cr0: 0x80000011n, cr2: 0n, cr3: 0x9000n, cr4: 0x20n, cr8: 0n, efer: 0x500n, apicBase: 0xfee00900n,
  };
}

function writeLongModeTables(ram: DataView): void {
  [0n, 0x00af9b000000ffffn, 0x00cf93000000ffffn, 0x008f8b000000ffffn].forEach((d, i) => ram.setBigUint64(0x500 + i * 8, d, true));
  ram.setBigUint64(0x9000, 0xa000n | 3n, true); // PML4[0] -> PDPT
  ram.setBigUint64(0xa000, 0xb000n | 3n, true); // PDPT[0] -> PD (first GiB)
  for (let i = 0; i < 512; i++) ram.setBigUint64(0xb000 + i * 8, (BigInt(i) << 21n) | 0x83n, true); // 2 MiB pages
}

test("KVM: a 64-bit guest on a vCPU thread (startVcpus): OUT, IN, MMIO both ways, then hlt", { skip: kvmSkip, timeout: 30_000 }, async () => {
  const kvm = openKvm();
  const vm = kvm.createVm();
  const ram = allocateGuestRam(4 << 20);
  const dv = new DataView(ram.buffer);
  writeLongModeTables(dv);
  new Uint8Array(ram.buffer).set([
    0x66, 0xba, 0xf8, 0x03, // mov dx, 0x3f8
    0xb0, 0x4b, 0xee, // mov al, 'K'; out dx, al
    0xb8, 0x78, 0x56, 0x34, 0x12, // mov eax, 0x12345678
    0x66, 0xba, 0x40, 0x04, 0xef, // mov dx, 0x440; out dx, eax
    0x66, 0xba, 0x60, 0x00, 0xec, // mov dx, 0x60; in al, dx
    0x66, 0xba, 0x80, 0x00, 0xee, // mov dx, 0x80; out dx, al
    0x48, 0x8b, 0x04, 0x25, 0x00, 0x00, 0x00, 0x10, // mov rax, [0x10000000] (no RAM there: MMIO)
    0x89, 0x04, 0x25, 0x08, 0x00, 0x00, 0x10, // mov [0x10000008], eax
    0xf4, // hlt (no irqchip: KVM_EXIT_HLT)
  ], 0x100000);
  const log: string[] = [];
  let stopped: ((why: VcpuStop) => void) | undefined;
  const done = new Promise<VcpuStop>((resolve) => { stopped = resolve; });
  try {
    vm.setTssAddr(0xfffbd000);
    vm.setIdentityMapAddr(0xfffbc000);
    vm.setUserMemoryRegion(0, 0, 4 << 20, ram.hostAddress);
    const regs = { rax: 0n, rbx: 0n, rcx: 0n, rdx: 0n, rsi: 0x7000n, rdi: 0n, rsp: 0x8f000n, rbp: 0x8f000n,
      r8: 0n, r9: 0n, r10: 0n, r11: 0n, r12: 0n, r13: 0n, r14: 0n, r15: 0n, rip: 0x100000n, rflags: 2n };
    const group = startVcpus({
      vmFd: vm.fd, kvmFd: kvm.fd,
      setups: [{ id: 0, cpuid: kvm.supportedCpuid(), msrs: [], regs, sregs: longModeSregs(), fpu: true }],
      handlers: {
        pioIn: (port, size) => { log.push(`in ${port.toString(16)}/${size}`); return 0x5a; },
        pioOut: (port, size, value) => { log.push(`out ${port.toString(16)}/${size} ${value.toString(16)}`); },
        mmioRead: (addr, size) => { log.push(`read ${addr.toString(16)}/${size}`); return 0xcafef00d0badbeefn; },
        mmioWrite: (addr, size, value) => { log.push(`write ${addr.toString(16)}/${size} ${value.toString(16)}`); },
        stopped: (_cpu, why) => stopped!(why),
      },
    });
    const why = await done;
    await group.stop();
    assert.deepEqual(log, ["out 3f8/1 4b", "out 440/4 12345678", "in 60/1", "out 80/1 5a",
      "read 10000000/8", "write 10000008/4 badbeef"]);
    assert.match((why as { message: string }).message, /KVM_EXIT_HLT/);
    const st = group.stats();
    assert.deepEqual([st.pioExits, st.mmioExits], [4, 2]);
    assert.ok(st.exits >= 7, `${st.exits} exits`); // plus any EINTR
  } finally {
    vm.close();
    kvm.close();
    ram.free();
  }
});

test("KVM: stop() kicks a vCPU thread out of a guest that spins forever", { skip: kvmSkip, timeout: 30_000 }, async () => {
  const kvm = openKvm();
  const vm = kvm.createVm();
  const ram = allocateGuestRam(4 << 20);
  writeLongModeTables(new DataView(ram.buffer));
  new Uint8Array(ram.buffer).set([0xeb, 0xfe], 0x100000); // jmp $
  try {
    vm.setTssAddr(0xfffbd000);
    vm.setUserMemoryRegion(0, 0, 4 << 20, ram.hostAddress);
    const regs = { rax: 0n, rbx: 0n, rcx: 0n, rdx: 0n, rsi: 0n, rdi: 0n, rsp: 0x8f000n, rbp: 0n,
      r8: 0n, r9: 0n, r10: 0n, r11: 0n, r12: 0n, r13: 0n, r14: 0n, r15: 0n, rip: 0x100000n, rflags: 2n };
    const stops: VcpuStop[] = [];
    const group = startVcpus({
      vmFd: vm.fd, kvmFd: kvm.fd,
      setups: [{ id: 0, cpuid: kvm.supportedCpuid(), msrs: [], regs, sregs: longModeSregs(), fpu: true }],
      handlers: { pioIn: () => 0, pioOut: () => {}, mmioRead: () => 0n, mmioWrite: () => {}, stopped: (_c, why) => stops.push(why) },
    });
    await new Promise((r) => setTimeout(r, 300));
    const t0 = performance.now();
    await group.stop();
    assert.ok(performance.now() - t0 < 2000);
    assert.deepEqual(stops, []);
  } finally {
    vm.close();
    kvm.close();
    ram.free();
  }
});

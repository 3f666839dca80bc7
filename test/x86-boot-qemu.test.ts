// The x86 boot set-up tried on a real (emulated) x86-64: QEMU's microvm under TCG with a
// 64 KiB "BIOS" of our own that only does what KVM_SET_SREGS/KVM_SET_REGS do for us (load
// our GDT, PAE, CR3, EFER.LME, paging, far jump to the 64-bit code segment, rsi = zero page,
// jump to startup_64). Everything else the kernel sees is what setupBoot(), buildAcpiTables()
// and buildMpTable() wrote, loaded into guest RAM with QEMU's generic loader. It boots a real
// kernel to its shell (ACPI) or to the root-fs panic (acpi=off, MP table). Skipped without
// qemu-system-x86_64, binutils or a built x86 kernel. QEMU's microvm devices are not ours
// (no port 0x600 power-off; its virtio-mmio slots are at 0xFEB00000, 512 bytes apart, IRQs
// 5..12), so the DSDT here describes QEMU's last slot, where the first -device lands, and a
// virtio-blk disk there is found through our LNRO0005 _CRS and read with its interrupt.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GuestMemory } from "../src/machine/guest-memory.js";
import { buildAcpiTables } from "../src/machine/x86/acpi-tables.js";
import { ACPI_TABLES_ADDR, MP_TABLE_ADDR, setupBoot } from "../src/machine/x86/boot-state.js";
import { parseBzImage } from "../src/machine/x86/bzimage.js";
import { buildMpTable } from "../src/machine/x86/mptable.js";
import { realKernel } from "./x86-boot-helpers.js";

const MiB = 0x100000;
const RAM = 256 * MiB;
/** TCG's TSC counts nanoseconds; microvm has no PIT path to calibrate it against. */
const CMDLINE = "console=ttyS0 panic=-1 reboot=k tsc_early_khz=1000000";

/** Real mode straight to long mode (PE and PG set together), as the vCPU state we hand KVM. */
const STUB = `
.code16
.text
start:
  cli
  lgdtl %cs:gdtr
  movl $0x20, %eax          # CR4.PAE
  movl %eax, %cr4
  movl $0x9000, %eax        # PML4
  movl %eax, %cr3
  movl $0xc0000080, %ecx    # EFER.LME
  rdmsr
  orl $0x100, %eax
  wrmsr
  movl $0x80000011, %eax    # CR0.PG | ET | PE
  movl %eax, %cr0
  ljmpl $0x08, $(0xffff0000 + long64)
.code64
long64:
  movw $0x10, %ax
  movw %ax, %ds
  movw %ax, %es
  movw %ax, %ss
  movw %ax, %fs
  movw %ax, %gs
  movl $0x8f000, %esp
  movl $0x7000, %esi        # boot_params
  movl $0x100200, %eax      # startup_64
  jmp *%rax
.code16
gdtr:
  .word 31
  .long 0x500
.org 0xfff0                 # the reset vector, 0xfffffff0
  jmp start
.org 0x10000
`;

function missingTool(): string | undefined {
  for (const tool of ["qemu-system-x86_64", "as", "ld"]) {
    if (spawnSync(tool, ["--version"], { stdio: "ignore" }).error) return `${tool} is not installed`;
  }
  return undefined;
}

/** Runs QEMU until `done` matches the serial output, it exits, or the time runs out. */
function runQemu(dir: string, args: string[], done: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    const q = spawn("qemu-system-x86_64", [
      "-M", "microvm,acpi=off,x-option-roms=off,rtc=off", "-cpu", "max", "-smp", "2", "-m", `${RAM / MiB}M`,
      "-bios", join(dir, "bios.bin"), "-nographic", "-no-reboot", "-serial", "stdio", "-monitor", "none", ...args,
    ], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const finish = () => {
      clearTimeout(timer);
      q.kill("SIGKILL");
      resolve(out);
    };
    const timer = setTimeout(finish, timeoutMs);
    const take = (d: Buffer) => {
      out += d.toString("latin1");
      if (done.test(out)) finish();
    };
    q.stdout.on("data", take);
    q.stderr.on("data", take);
    q.on("exit", finish);
  });
}

/** QEMU 7.2 microvm without the second IOAPIC: 8 transports from 0xFEB00000, IRQ 5 + i. */
const QEMU_LAST_VIRTIO_SLOT = { addr: 0xfeb00000 + 7 * 512, gsi: 5 + 7 };

/** A 1 MiB disk with an MBR holding one Linux partition (the kernel prints " vda: vda1"). */
function mbrDisk(): Uint8Array {
  const d = new Uint8Array(MiB);
  const v = new DataView(d.buffer);
  d[0x1be + 4] = 0x83;
  v.setUint32(0x1be + 8, 1, true); // first LBA
  v.setUint32(0x1be + 12, 100, true); // sectors
  v.setUint16(510, 0xaa55, true);
  return d;
}

async function prepare(t: { skip(msg: string): void }, debianOnly = false) {
  const missing = missingTool();
  if (missing) {
    t.skip(missing);
    return undefined;
  }
  let k = await realKernel("debian");
  if ("skip" in k && !debianOnly) k = await realKernel("ours");
  if ("skip" in k) {
    t.skip(k.skip);
    return undefined;
  }
  const dir = mkdtempSync(join(tmpdir(), "tsvisor-x86-qemu-"));
  writeFileSync(join(dir, "stub.S"), STUB);
  execFileSync("as", ["--64", "-o", join(dir, "stub.o"), join(dir, "stub.S")]);
  execFileSync("ld", ["-m", "elf_x86_64", "-Ttext=0", "--oformat=binary", "-o", join(dir, "bios.bin"), join(dir, "stub.o")]);
  const mem = GuestMemory.external(new ArrayBuffer(RAM), 0, RAM);
  const kernel = parseBzImage(k.data, k.path);
  const blobs: string[] = [];
  /** Guest RAM [addr, addr+len) into a file and onto QEMU's command line. */
  const load = (name: string, addr: number, bytes: Uint8Array) => {
    writeFileSync(join(dir, name), bytes);
    blobs.push("-device", `loader,file=${join(dir, name)},addr=0x${addr.toString(16)},force-raw=on`);
  };
  return { dir, mem, kernel, initrd: k.initrd, load, blobs };
}

test("QEMU TCG boots Debian's kernel with our zero page, page tables, GDT and ACPI tables", async (t) => {
  const p = await prepare(t, true); // a kernel whose ACPI and virtio drivers we know
  if (!p) return;
  try {
    const initrd = new Uint8Array(readFileSync(p.initrd));
    setupBoot({ mem: p.mem, kernel: p.kernel, initrd, cmdline: CMDLINE, acpiRsdp: ACPI_TABLES_ADDR });
    const acpi = buildAcpiTables({ cpus: 2, virtio: [QEMU_LAST_VIRTIO_SLOT], base: ACPI_TABLES_ADDR });
    const initrdAddr = p.mem.view.getUint32(0x7000 + 0x218, true);
    // Below 0xA0000 (the EBDA included), the ACPI tables, the kernel, the initrd: the RAM
    // setupBoot wrote. QEMU maps its BIOS copy at 0xF0000, so the tables must stay below.
    p.load("low.bin", 0, p.mem.bytes(0, 0xa0000));
    p.load("acpi.bin", ACPI_TABLES_ADDR, acpi);
    p.load("kernel.bin", 0x100000, p.kernel.kernel);
    p.load("initrd.bin", initrdAddr, initrd);
    writeFileSync(join(p.dir, "disk.raw"), mbrDisk());
    const disk = ["-drive", `file=${join(p.dir, "disk.raw")},format=raw,if=none,id=d0`, "-device", "virtio-blk-device,drive=d0"];
    const out = await runQemu(p.dir, [...p.blobs, ...disk], /~ # |Kernel panic/, 180_000);
    assert.match(out, /Command line: console=ttyS0 panic=-1/);
    assert.match(out, /BIOS-e820: \[mem 0x0000000000000000-0x000000000009fbff\] usable/);
    assert.match(out, /BIOS-e820: \[mem 0x000000000009fc00-0x000000000009ffff\] reserved/);
    assert.match(out, /BIOS-e820: \[mem 0x00000000000e0000-0x00000000000fffff\] reserved/);
    assert.match(out, /BIOS-e820: \[mem 0x0000000000100000-0x000000000fffffff\] usable/);
    assert.match(out, /ACPI: RSDP 0x00000000000E0000 000024 \(v02 TSVISR\)/);
    for (const sig of ["XSDT", "FACP", "DSDT", "APIC"]) assert.match(out, new RegExp(`ACPI: ${sig} 0x00000000000E0`));
    assert.match(out, /ACPI: INT_SRC_OVR \(bus 0 bus_irq 0 global_irq 2 dfl dfl\)/);
    assert.match(out, /IOAPIC\[0\]: apic_id 2, version \d+, address 0xfec00000, GSI 0-23/);
    assert.match(out, /smp: Brought up 1 node, 2 CPUs/);
    assert.match(out, /ACPI: PM: \(supports S0 S5\)/);
    assert.match(out, /00:00: ttyS0 at I\/O 0x3f8/, "COM1 from the DSDT");
    assert.match(out, new RegExp(`RAMDISK: \\[mem 0x0*${initrdAddr.toString(16)}-0x0*fffffff\\]`));
    assert.match(out, /Run \/init as init process/);
    assert.match(out, /virtio_blk virtio0: \[vda\] 2048 512-byte logical blocks/, "found through the DSDT");
    assert.match(out, / vda: vda1/, "the partition table read back: the Interrupt() descriptor works");
    assert.match(out, /~ # /);
    assert.doesNotMatch(out, /Kernel panic/);
  } finally {
    rmSync(p.dir, { recursive: true, force: true });
  }
});

test("QEMU TCG with acpi=off finds our MP table and brings up both CPUs", async (t) => {
  const p = await prepare(t);
  if (!p) return;
  try {
    setupBoot({ mem: p.mem, kernel: p.kernel, cmdline: `${CMDLINE} acpi=off` });
    p.mem.writeBytes(MP_TABLE_ADDR, buildMpTable({ cpus: 2, base: MP_TABLE_ADDR }));
    p.load("low.bin", 0, p.mem.bytes(0, 0xa0000));
    p.load("kernel.bin", 0x100000, p.kernel.kernel);
    // No initrd: the kernel ends in the root-fs panic and QEMU exits (-no-reboot). Wait for
    // the whole panic line: the serial output can arrive split just after "Kernel panic".
    const out = await runQemu(p.dir, p.blobs, /Kernel panic[^\n]*\n/, 120_000);
    assert.match(out, /found SMP MP-table at \[mem 0x0009fc00-0x0009fc0f\]/);
    assert.match(out, /MPTABLE: OEM ID: TSVISOR/);
    assert.match(out, /Processor #0 \(Bootup-CPU\)/);
    assert.match(out, /Processor #1/);
    assert.match(out, /IOAPIC\[0\]: apic_id 2, version \d+, address 0xfec00000, GSI 0-23/);
    assert.match(out, /smp: Brought up 1 node, 2 CPUs/);
    assert.match(out, /Kernel panic - not syncing: VFS: Unable to mount root fs/, out.slice(-2000));
  } finally {
    rmSync(p.dir, { recursive: true, force: true });
  }
});

// -accel kvm and -M microvm on the command line: the grammar (parseArgs), and the CLI as
// a user meets it on a host without /dev/kvm (this one, and CI): one "tsvisor: ..." line,
// exit status 1, and the errors about the input come before any about /dev/kvm.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs, type CliCommand, type GuestArch } from "../src/cli/args.js";
import type { MachineConfig } from "../src/machine/config.js";
import { UserError } from "../src/machine/machine.js";

const MAIN = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));
const HAS_KVM = existsSync("/dev/kvm");
const X86_LINUX = process.platform === "linux" && process.arch === "x64";
const M = 1024 * 1024;

const guests = {
  riscv64: { kernel: "/cache/Image", initrd: "/cache/initramfs.cpio.gz", append: "console=ttyS0 earlycon=sbi" },
  x86_64: { kernel: "/cache/bzImage", initrd: "/cache/initramfs-x86.cpio.gz", append: "" },
};

function config(...argv: string[]): MachineConfig {
  const cmd = parseArgs(argv, { kvmHost: true, defaultGuest: (arch: GuestArch) => guests[arch] });
  assert.equal(cmd.kind, "run");
  return (cmd as Extract<CliCommand, { kind: "run" }>).config;
}

function fails(argv: string[], message: string | RegExp, kvmHost = true): void {
  assert.throws(() => parseArgs(argv, { kvmHost }), (err: Error) => {
    assert.ok(err instanceof UserError, `UserError expected, got ${err}`);
    assert.ok(!err.message.includes("\n"), "one line");
    if (typeof message === "string") assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

test("-accel kvm, -enable-kvm and -machine accel=kvm pick microvm on an x86-64 Linux host", () => {
  for (const argv of [["-accel", "kvm"], ["-enable-kvm"], ["-machine", "accel=kvm"], ["-M", "microvm"]]) {
    const c = config(...argv);
    assert.equal(c.machine, "microvm", argv.join(" "));
    assert.equal(c.accel, "kvm", argv.join(" "));
    assert.equal(c.acpi, true);
  }
  assert.equal(config("-M", "microvm", "-accel", "kvm:tcg").accel, "kvm");
  assert.equal(config("-accel", "kvm", "-M", "microvm,acpi=off").acpi, false);
  assert.equal(config("-M", "microvm,acpi=on,accel=kvm").acpi, true);
  // Not on other hosts: there the RISC-V board stays and KVM is refused.
  fails(["-accel", "kvm"], "-accel kvm: KVM needs an x86-64 guest; use -accel tcg", false);
  // kvm:tcg without -M keeps the RISC-V board under tcg, as QEMU falls back.
  assert.equal(config("-accel", "kvm:tcg").machine, "virt");
});

test("KVM with a RISC-V board, and microvm under tcg, are refused", () => {
  fails(["-M", "virt", "-accel", "kvm"], "-accel kvm: KVM needs an x86-64 guest; use -accel tcg");
  fails(["-accel", "kvm", "-M", "spike"], "-accel kvm: KVM needs an x86-64 guest; use -accel tcg");
  fails(["-M", "microvm", "-accel", "tcg"], /^-accel tcg: -M microvm runs only under KVM/);
  fails(["-M", "virt,acpi=off"], "-M virt,acpi=off: unknown machine option 'acpi=off'");
  fails(["-M", "microvm,acpi=maybe"], "-M microvm,acpi=maybe: acpi= must be on or off");
});

test("-accel tcg,jit=on|off sets jit; jit= is refused with kvm", () => {
  assert.equal(config().jit, true);
  assert.equal(config("-accel", "tcg,jit=off").jit, false);
  assert.equal(config("-accel", "tcg,thread=single,jit=on").jit, true);
  fails(["-accel", "tcg,jit=maybe"], "-accel tcg,jit=maybe: jit= must be on or off");
  fails(["-accel", "kvm,jit=off"], /^-accel kvm,jit=off: jit= is a tcg option/);
  fails(["-accel", "kvm,thread=single"], "-accel kvm,thread=single: unknown or invalid kvm option 'thread=single'");
  fails(["-accel", "hvf"], "-accel hvf: no accelerator named 'hvf' (use tcg or kvm)");
});

test("-smp: 1 to 64 on microvm, whatever the order of the flags; 1 on RISC-V", () => {
  assert.equal(config("-smp", "4", "-accel", "kvm").smp, 4);
  assert.equal(config("-M", "microvm", "-smp", "cpus=64").smp, 64);
  assert.equal(config("-smp", "2,sockets=1,cores=2", "-enable-kvm").smp, 2);
  fails(["-accel", "kvm", "-smp", "65"], "-smp 65: at most 64 CPUs on microvm");
  fails(["-smp", "2", "-M", "virt"], "-smp 2: only 1 CPU is supported for now");
  fails(["-accel", "kvm", "-smp", "0"], "-smp 0: 'cpus' must be a positive number");
});

test("-m: at most 3 GiB on microvm, whichever comes first", () => {
  assert.equal(config("-accel", "kvm", "-m", "3G").memBytes, 3 * 1024 * M);
  fails(["-m", "3073M", "-accel", "kvm"], "-m 3073M: microvm takes at most 3 GiB of RAM (3072M)");
  fails(["-M", "microvm", "-m", "size=8G"], "-m 8G: microvm takes at most 3 GiB of RAM (3072M)");
  fails(["-m", "8G"], /^-m 8G: RAM size too large \(at most \d+M\)$/);
});

test("-d boot-timer is a log item", () => {
  assert.deepEqual(config("-accel", "kvm", "-d", "boot-timer").debug, ["boot-timer"]);
});

test("--default-guest -accel kvm boots the x86-64 guest on microvm; later flags still override", () => {
  const c = config("--default-guest", "-accel", "kvm");
  assert.equal(c.machine, "microvm");
  assert.equal(c.kernel, guests.x86_64.kernel);
  assert.equal(c.initrd, guests.x86_64.initrd);
  assert.equal(c.memBytes, 256 * M);
  const d = config("-accel", "kvm", "--default-guest", "-append", "quiet", "-m", "1G");
  assert.equal(d.machine, "microvm");
  assert.equal(d.kernel, guests.x86_64.kernel);
  assert.equal(d.append, "quiet");
  assert.equal(d.memBytes, 1024 * M);
  const r = config("--default-guest");
  assert.equal(r.machine, "virt");
  assert.equal(r.kernel, guests.riscv64.kernel);
  assert.equal(config("--default-guest", "-kernel", "mine").kernel, "mine");
});

function tsvisor(args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: "utf8", timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** One "tsvisor: " line matching `pattern`, status 1, nothing on stdout. */
function userError(args: string[], pattern: RegExp): void {
  const r = tsvisor(args);
  const lines = r.stderr.split("\n").filter((line) => line !== "");
  assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
  assert.match(lines[0], /^tsvisor: /);
  assert.match(lines[0], pattern);
  assert.equal(r.status, 1);
  assert.equal(r.stdout, "");
}

test("CLI: -accel kvm without /dev/kvm names /dev/kvm", { skip: (HAS_KVM || !X86_LINUX) && "this host has /dev/kvm (or is not x86-64 Linux)" }, () => {
  userError(["-accel", "kvm"], /\/dev\/kvm not found/);
  userError(["-M", "microvm", "-accel", "kvm", "-smp", "4", "-m", "512M"], /\/dev\/kvm/);
});

test("CLI: input errors come first, on any host", { skip: !X86_LINUX && "not an x86-64 Linux host" }, () => {
  userError(["-M", "microvm", "-accel", "kvm", "-kernel", "/bin/ls"], /^tsvisor: \/bin\/ls is not a Linux bzImage/);
  userError(["-M", "microvm", "-accel", "kvm", "-m", "4G"], /^tsvisor: -m 4G: microvm takes at most 3 GiB of RAM \(3072M\)$/);
  userError(["-M", "microvm", "-bios", "/bin/ls", "-kernel", "/bin/ls"], /^tsvisor: -bios \/bin\/ls: not supported on microvm/);
  userError(["-M", "virt", "-accel", "kvm"], /^tsvisor: -accel kvm: KVM needs an x86-64 guest; use -accel tcg$/);
  userError(["-accel", "tcg,jit=maybe"], /^tsvisor: -accel tcg,jit=maybe: jit= must be on or off$/);
  userError(["-smp", "0"], /^tsvisor: -smp 0: 'cpus' must be a positive number$/);
  userError(["-accel", "kvm", "-smp", "100"], /^tsvisor: -smp 100: at most 64 CPUs on microvm$/);
});

test("CLI: --help has the microvm section with examples", () => {
  const r = tsvisor(["--help"]);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /X86-64 GUESTS UNDER KVM/);
  assert.match(r.stdout, /tsvisor --default-guest -accel kvm/);
  assert.match(r.stdout, /-M microvm,acpi=off -accel kvm/);
});

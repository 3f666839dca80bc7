// Where the built guest and the Debian firmware are, and the facts tests rely on about
// the guest (kernel command line, shell prompt, expected program output).
// guestPaths() only looks; ensureGuest() builds what is missing.

import * as fs from "node:fs";
import * as path from "node:path";
import { isBuilt, outputDir, recipeKey } from "./cache.js";
import { findTarget, TARGET_SETS } from "./targets.js";
import { aptCandidateVersions } from "./x86-targets.js";

/** Kernel command line for the riscv64 boards: the 16550 is the console; earlycon
 *  prints through the SBI console (OpenSBI) until the UART driver is up. */
export const KERNEL_CMDLINE = "console=ttyS0 earlycon=sbi";

/** The guest shell's prompt, exactly (PS1, set in guest/riscv64/init). Wait for it
 *  after boot and after each command. */
export const SHELL_PROMPT = "~ # ";

/** What /bin/fptest prints (lines end in "\r\n" on the serial console). */
export const FPTEST_OUTPUT =
  "fptest: zeta2=1.643934566682 sqrt2=1.414213562373095 third=0.333333343 pi7=3.1428571 " +
  "fma=5.551115e-17 rint=2,4,9007199254740992.0 sgn=-3.0,2.0,1 flags=11 up=0.33333333333333337\n" +
  "fptest: ok\n";
/** The last line of fptest's output when all its checks pass. */
export const FPTEST_OK = "fptest: ok";

/** /bin/bench-cpu [rounds] prints
 *  "bench-cpu: rounds=<n> checksum=<hex8> elapsed_ms=<ms>"; the checksum is fixed per n. */
export const BENCH_CPU = {
  path: "/bin/bench-cpu",
  defaultRounds: 20,
  checksums: { 1: "ea227b6c", 20: "819493b6" } as Readonly<Record<number, string>>,
  pattern: /bench-cpu: rounds=(\d+) checksum=([0-9a-f]{8}) elapsed_ms=([\d.]+)/,
} as const;

/** /bin/coremark SEED1 SEED2 SEED3 ITERATIONS: EEMBC CoreMark (guest/riscv64/coremark).
 *  `0x0 0x0 0x66 N` is its performance run; with its 2000 bytes of data CoreMark checks
 *  the list/matrix/state CRCs itself (it prints "ERROR! ... crc" when one is wrong). Runs
 *  under 10 s also print "Must execute for at least 10 secs" and "Errors detected". */
export const COREMARK = {
  path: "/bin/coremark",
  performanceSeeds: "0x0 0x0 0x66",
  iterationsPerSec: /Iterations\/Sec\s*:\s*([\d.]+)/,
  crcLine: /^\[0\](crclist|crcmatrix|crcstate|crcfinal)\s*:\s*(0x[0-9a-f]{4})/gm,
  crcError: /ERROR! (list|matrix|state) crc/,
  /** The only error a short but correct run reports. */
  tooShort: "ERROR! Must execute for at least 10 secs",
} as const;

/** Firmware from Debian packages (opensbi, u-boot-qemu, qemu-system-data). */
export const FIRMWARE = {
  /** OpenSBI generic platform, dynamic info from the boot ROM (QEMU's -bios default). */
  opensbiDynamic: "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.bin",
  opensbiDynamicElf: "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_dynamic.elf",
  /** OpenSBI jumping to a fixed address (0x80200000). */
  opensbiJump: "/usr/lib/riscv64-linux-gnu/opensbi/generic/fw_jump.bin",
  /** U-Boot for S-mode: load as -kernel under OpenSBI. */
  ubootSmode: "/usr/lib/u-boot/qemu-riscv64_smode/uboot.elf",
  /** U-Boot for M-mode: load as -bios. */
  ubootMmode: "/usr/lib/u-boot/qemu-riscv64/u-boot.bin",
  /** The OpenSBI that QEMU itself loads for -bios default (package qemu-system-data). */
  qemuBiosDefault: "/usr/share/qemu/opensbi-riscv64-generic-fw_dynamic.bin",
} as const;

export interface GuestPaths {
  /** Linux Image (boots at RAM base + 2 MiB under OpenSBI). */
  kernel: string;
  /** The same kernel as an ELF with symbols, and its System.map: for debugging. */
  vmlinux: string;
  systemMap: string;
  initramfs: string;
  /** Statically linked riscv64 test programs, also inside the initramfs as /bin/*. */
  fptest: string;
  benchCpu: string;
  opensbiDynamic: string;
  opensbiJump: string;
  ubootSmode: string;
  ubootMmode: string;
  cmdline: string;
}

export class GuestNotBuiltError extends Error {}

const keys = new Map<string, string>();

/** The recipe key of a target (hash of its files, packages, steps and its deps' keys). */
export function targetKey(name: string): string {
  const cached = keys.get(name);
  if (cached) return cached;
  const t = findTarget(name);
  const deps: Record<string, string> = {};
  for (const d of t.deps) deps[d] = targetKey(d);
  const key = recipeKey({
    name: t.name,
    version: t.version,
    files: t.files,
    packages: t.packages,
    deps,
    // Downloaded packages' versions ride along with the steps' code (no field of their own).
    code: t.build.toString() + (t.downloads ? JSON.stringify(aptCandidateVersions(t.downloads)) : ""),
  });
  keys.set(name, key);
  return key;
}

/** Forgets computed keys (after packages were installed or recipe files changed). */
export function forgetKeys(): void {
  keys.clear();
}

/** The folder of a built target; throws GuestNotBuiltError if it isn't built. */
export function targetDir(name: string): string {
  const key = targetKey(name);
  if (!isBuilt(name, key)) {
    throw new GuestNotBuiltError(
      `tsvisor: the guest ${name} is not built (or its recipe changed; looked for ${outputDir(name, key)}): ` +
        `run \`npm run guest -- ${name}\``,
    );
  }
  return outputDir(name, key);
}

function requireFile(file: string, pkg: string): string {
  if (!fs.existsSync(file)) {
    throw new GuestNotBuiltError(`tsvisor: ${file} is missing (Debian package ${pkg}): run \`npm run guest\``);
  }
  return file;
}

/** Paths of the default guest and firmware; throws GuestNotBuiltError naming the fix. */
export function guestPaths(): GuestPaths {
  const kernel = targetDir("kernel");
  const initramfs = targetDir("initramfs");
  return {
    kernel: path.join(kernel, "Image"),
    vmlinux: path.join(kernel, "vmlinux"),
    systemMap: path.join(kernel, "System.map"),
    initramfs: path.join(initramfs, "initramfs.cpio.gz"),
    fptest: path.join(initramfs, "fptest"),
    benchCpu: path.join(initramfs, "bench-cpu"),
    opensbiDynamic: requireFile(FIRMWARE.opensbiDynamic, "opensbi"),
    opensbiJump: requireFile(FIRMWARE.opensbiJump, "opensbi"),
    ubootSmode: requireFile(FIRMWARE.ubootSmode, "u-boot-qemu"),
    ubootMmode: requireFile(FIRMWARE.ubootMmode, "u-boot-qemu"),
    cmdline: KERNEL_CMDLINE,
  };
}

/** An x86-64 guest: a bzImage and its initramfs (gzip'd cpio). */
export interface X86GuestPaths {
  kernel: string;
  initrd: string;
}

/** Our x86-64 kernel (guest/x86_64/linux.config) and its busybox initramfs, whose /init
 *  writes the boot-timer port 0x440, mounts proc/sys/dev, prints a banner and starts a
 *  shell with SHELL_PROMPT on ttyS0. Throws GuestNotBuiltError naming the fix. */
export function x86GuestPaths(): X86GuestPaths {
  return {
    kernel: path.join(targetDir("x86-kernel"), "bzImage"),
    initrd: path.join(targetDir("x86-initramfs"), "initramfs.cpio.gz"),
  };
}

/** Debian's stock x86-64 kernel (linux-image-amd64) and an initramfs with the same /init
 *  that first loads its virtio modules (virtio_mmio finds devices through ACPI only:
 *  Debian has no VIRTIO_MMIO_CMDLINE_DEVICES). Throws GuestNotBuiltError naming the fix. */
export function debianX86GuestPaths(): X86GuestPaths {
  const dir = targetDir("x86-debian");
  return { kernel: path.join(dir, "vmlinuz"), initrd: path.join(dir, "initramfs.cpio.gz") };
}

/** Builds whatever of the set is missing (installing packages if needed), then returns
 *  the paths. Progress goes to stderr. */
export async function ensureGuest(set: keyof typeof TARGET_SETS = "default"): Promise<GuestPaths> {
  const { buildTargets } = await import("./build.js");
  await buildTargets(TARGET_SETS[set]);
  return guestPaths();
}

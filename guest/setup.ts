// The set-up step: Debian packages the project needs, installed when missing, and the
// deb-src entry that `apt-get source` needs. Anything impossible here (not root, no apt)
// ends in one line that says what to run by hand.

import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import { packageVersions } from "./cache.js";

/** Every package the project uses: guest builds, firmware, and the reference QEMU that
 *  differential tests and benchmarks compare against. */
export const PROJECT_PACKAGES = [
  "gcc-riscv64-linux-gnu",
  "libc6-dev-riscv64-cross",
  "linux-source-6.1",
  "bc",
  "flex",
  "bison",
  "cpio",
  "xz-utils",
  "bzip2",
  "gzip",
  "make",
  "gcc",
  "libc6-dev",
  "dpkg-dev",
  "libelf-dev", // objtool, for the x86-64 guest kernel
  "opensbi",
  "u-boot-qemu",
  "device-tree-compiler",
  "qemu-user",
  "qemu-system-misc",
  "qemu-system-x86", // the reference for the x86-64 guests (test/x86-guest.test.ts)
  "acpica-tools", // iasl: checks the ACPI tables of the x86 board (test/x86-*.test.ts)
  "qemu-utils", // qemu-img: interoperability tests of tsvisor's qcow2 (test/qcow2*.test.ts)
] as const;

const DEB_SRC_FILE = "/etc/apt/sources.list.d/tsvisor-deb-src.sources";
const DEB_SOURCES = "/etc/apt/sources.list.d/debian.sources";

export class SetupError extends Error {}

function hasCommand(cmd: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${cmd}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

function isRoot(): boolean {
  return typeof process.getuid === "function" && process.getuid() === 0;
}

export function missingPackages(names: readonly string[]): string[] {
  const versions = packageVersions(names);
  return names.filter((n) => versions[n] === "missing");
}

/** Says why we cannot run apt-get ourselves, or undefined when we can. */
function aptBlocker(): string | undefined {
  if (!hasCommand("apt-get") || !hasCommand("dpkg-query")) return "this is not a Debian-style system (no apt-get)";
  if (!isRoot()) return "installing needs root";
  return undefined;
}

/** Installs the packages that are missing; `run` executes a command with logging. */
export async function ensurePackages(
  names: readonly string[],
  run: (cmd: string, args: string[], env?: NodeJS.ProcessEnv) => Promise<void>,
): Promise<string[]> {
  const missing = missingPackages(names);
  if (missing.length === 0) return [];
  const blocker = aptBlocker();
  if (blocker) {
    throw new SetupError(
      `tsvisor: missing Debian packages (${blocker}): run  sudo apt-get install -y ${missing.join(" ")}`,
    );
  }
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  await run("apt-get", ["update"], env);
  await run("apt-get", ["install", "-y", "--no-install-recommends", ...missing], env);
  const still = missingPackages(missing);
  if (still.length > 0) throw new SetupError(`tsvisor: apt-get could not install: ${still.join(" ")}`);
  return missing;
}

/** Makes `apt-get source` work: adds deb-src twins of the deb entries and updates. */
export async function ensureDebSrc(
  pkg: string,
  run: (cmd: string, args: string[], env?: NodeJS.ProcessEnv) => Promise<void>,
): Promise<void> {
  if (hasSourceRecord(pkg)) return;
  const blocker = aptBlocker();
  if (blocker) {
    throw new SetupError(
      `tsvisor: no deb-src entry for apt to fetch the ${pkg} source (${blocker}): add one ` +
        `(a copy of ${DEB_SOURCES} with "Types: deb-src") and run  sudo apt-get update`,
    );
  }
  if (!fs.existsSync(DEB_SRC_FILE)) {
    if (!fs.existsSync(DEB_SOURCES)) {
      throw new SetupError(`tsvisor: ${DEB_SOURCES} not found; add a deb-src entry for ${pkg} by hand`);
    }
    const text = fs.readFileSync(DEB_SOURCES, "utf8").replace(/^Types:.*$/gm, "Types: deb-src");
    fs.writeFileSync(DEB_SRC_FILE, `# Written by tsvisor's guest builder (guest/setup.ts) for apt-get source.\n${text}`);
  }
  await run("apt-get", ["update"], { ...process.env, DEBIAN_FRONTEND: "noninteractive" });
  if (!hasSourceRecord(pkg)) throw new SetupError(`tsvisor: apt still knows no source package ${pkg}`);
}

function hasSourceRecord(pkg: string): boolean {
  try {
    const out = execFileSync("apt-cache", ["showsrc", pkg], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
    return /^Package:/m.test(out);
  } catch {
    return false;
  }
}

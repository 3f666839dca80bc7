// Helpers for tests that build small RISC-V programs with Debian's cross toolchain.
// (Not a test file itself: its name does not end in .test.ts.)
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const FIXTURES = fileURLToPath(new URL("../../test/fixtures/boards/", import.meta.url));
const GCC = "riscv64-linux-gnu-gcc";
const haveGcc = spawnSync(GCC, ["--version"]).status === 0;
export const noGcc = haveGcc ? false : `${GCC} not installed (Debian: gcc-riscv64-linux-gnu)`;

/** Builds test/fixtures/boards/NAME.S (linked at 0x80000000) and returns the ELF's bytes. */
export function buildFixture(name: string): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), "tsvisor-elf-"));
  try {
    const out = join(dir, `${name}.elf`);
    execFileSync(GCC, [
      "-static", "-no-pie", "-nostdlib", "-nostartfiles", "-Wl,--build-id=none",
      "-T", join(FIXTURES, "link.ld"), "-o", out, join(FIXTURES, `${name}.S`),
    ], { stdio: "pipe" });
    return new Uint8Array(readFileSync(out));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** test/fixtures/boards/htif-hello.S: prints "hello\nbye\n" through HTIF, exits with 3. */
export function buildHtifHello(): Uint8Array {
  return buildFixture("htif-hello");
}

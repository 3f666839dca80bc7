// Shared by the image tests: temp dirs, a seeded PRNG, and qemu-img (Debian's qemu-utils)
// when installed; tests that need it skip with a message naming the package otherwise.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawnSync } from "node:child_process";

export function tempDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `tsvisor-${tag}-`));
}

const probe = spawnSync("qemu-img", ["--version"], { encoding: "utf8" });
/** False, or the reason to skip: pass as node:test's `skip` option. */
export const NO_QEMU_IMG: false | string =
  probe.status === 0 ? false : "qemu-img not installed (apt-get install qemu-utils; guest/setup.ts installs it)";

export function qemuImg(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync("qemu-img", args, { encoding: "utf8", timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** xorshift32: reproducible random tests. */
export function prng(seed: number): (n: number) => number {
  let s = seed >>> 0 || 1;
  return (n: number) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
}

export function randomBytes(rand: (n: number) => number, length: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(length / 4));
  let x = rand(2 ** 32) >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x;
  }
  return new Uint8Array(words.buffer, 0, length);
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0;
}

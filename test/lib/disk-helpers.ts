// Host-side helpers for the guest disk tests: running qemu-img / qemu-io / `tsvisor img`,
// byte patterns the busybox guest can also make (`yes WORD | head -c N`), md5 sums, and
// a shell runner that stops typing once the guest has stopped answering.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { guestSkipReason } from "./default-guest.js";
import { TSVISOR_MAIN, onPath } from "./guest-session.js";

export const KiB = 1024;
export const MiB = 1024 * KiB;

export const md5 = (b: Uint8Array): string => createHash("md5").update(b).digest("hex");

export interface ToolResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion; never throws for a non-zero exit (the caller asserts). */
export function runTool(program: string, args: string[]): ToolResult {
  const r = spawnSync(program, args, { encoding: "utf8", timeout: 60_000 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Runs a program and throws with its output unless it exits 0. */
export function mustRun(program: string, args: string[]): string {
  const r = runTool(program, args);
  if (r.status !== 0) {
    throw new Error(`${program} ${args.join(" ")} exited ${r.status}\n${r.stdout}${r.stderr}`);
  }
  return r.stdout;
}

/** `tsvisor img ARGS` through the built CLI. */
export function tsvisorImg(args: string[]): ToolResult {
  return runTool(process.execPath, [TSVISOR_MAIN, "img", ...args]);
}

/** Why the guest disk tests cannot run here, or false when they can. */
export function guestDiskSkip(tools: string[] = ["qemu-img"]): string | false {
  for (const tool of tools) if (!onPath(tool)) return `${tool} is not installed (apt install qemu-utils)`;
  return guestSkipReason();
}

/** The bytes `yes WORD | head -c LENGTH` prints: "WORD\n" repeated, cut at LENGTH. */
export function yesPattern(word: string, length: number): Uint8Array {
  const unit = new TextEncoder().encode(`${word}\n`);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i += unit.length) out.set(unit.subarray(0, Math.min(unit.length, length - i)), i);
  return out;
}

/** Deterministic pseudo-random bytes (xorshift32), so failures reproduce. */
export function prngBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

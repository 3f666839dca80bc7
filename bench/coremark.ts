// EEMBC CoreMark inside the guest (/bin/coremark, guest/riscv64/coremark): running it at
// a shell prompt, reading its report, and judging whether the guest CPU computed right.
// CoreMark checks its own list/matrix/state CRCs against known values for the standard
// seeds, so a wrong CPU shows as "ERROR! ... crc"; the final CRC (which depends on the
// iteration count) is compared with the same binary under qemu-riscv64 (user mode).
import { execFileSync } from "node:child_process";
import { COREMARK, SHELL_PROMPT } from "../guest/paths.js";
import type { GuestSession } from "../test/lib/guest-session.js";

/** What CoreMark printed, parsed. */
export interface CoremarkReport {
  iterations: number;
  /** CoreMark's own timing (guest clock_gettime): seconds and iterations per second. */
  seconds?: number;
  iterationsPerSec?: number;
  /** crclist, crcmatrix, crcstate, crcfinal -> "0x1234". */
  crcs: Record<string, string>;
  /** The known-seed line ("2K performance run parameters for coremark."), if any. */
  runType?: string;
  output: string;
}

const SECONDS = /Total time \(secs\)\s*:\s*([\d.]+)/;
const RUN_TYPE = /^(.*run parameters for coremark)\.$/m;

/** The command line for the standard performance run with `iterations`. */
export function coremarkCommand(iterations: number): string {
  return `${COREMARK.path} ${COREMARK.performanceSeeds} ${iterations}`;
}

export function parseCoremark(output: string, iterations: number): CoremarkReport {
  const crcs: Record<string, string> = {};
  for (const m of output.matchAll(COREMARK.crcLine)) crcs[m[1]] = m[2];
  const secs = SECONDS.exec(output);
  const ips = COREMARK.iterationsPerSec.exec(output);
  return {
    iterations,
    seconds: secs ? Number(secs[1]) : undefined,
    iterationsPerSec: ips ? Number(ips[1]) : undefined,
    crcs,
    runType: RUN_TYPE.exec(output)?.[1],
    output,
  };
}

/**
 * Why the report shows a wrong computation, or undefined when it is right: CoreMark
 * recognised its seeds, found no CRC errors, printed all four CRCs and, when
 * `reference` is given, the same ones. A run under 10 s may only carry CoreMark's
 * "Must execute for at least 10 secs" error.
 */
export function coremarkProblem(r: CoremarkReport, reference?: CoremarkReport): string | undefined {
  const out = r.output;
  if (!r.runType) return `CoreMark did not recognise the performance-run seeds:\n${out}`;
  const crcError = COREMARK.crcError.exec(out);
  if (crcError) return `CoreMark found a wrong ${crcError[1]} CRC:\n${out}`;
  const errors = out.split("\n").filter((l) => /ERROR/.test(l) && !l.includes(COREMARK.tooShort));
  if (errors.length > 0) return `CoreMark reported: ${errors.join("; ")}`;
  if (!out.includes("Correct operation validated") && !out.includes(COREMARK.tooShort)) {
    return `CoreMark did not validate its run:\n${out}`;
  }
  for (const name of ["crclist", "crcmatrix", "crcstate", "crcfinal"]) {
    if (!r.crcs[name]) return `CoreMark printed no ${name}:\n${out}`;
    if (reference && reference.crcs[name] !== r.crcs[name]) {
      return `${name} ${r.crcs[name]}, but qemu-riscv64 computes ${reference.crcs[name]} (${r.iterations} iterations)`;
    }
  }
  return undefined;
}

/** Runs /bin/coremark at the guest's shell prompt and parses its report. */
export async function runCoremark(s: GuestSession, iterations: number, timeoutMs: number): Promise<CoremarkReport> {
  const out = await s.command(coremarkCommand(iterations), SHELL_PROMPT, timeoutMs);
  return parseCoremark(out, iterations);
}

/** The same binary (the initramfs build's copy) under qemu-riscv64 user mode: the
 *  reference CRCs. Undefined when qemu-riscv64 is not installed or fails. */
export function referenceCoremark(binary: string, iterations: number): CoremarkReport | undefined {
  try {
    const out = execFileSync("qemu-riscv64", [binary, ...COREMARK.performanceSeeds.split(" "), String(iterations)], {
      encoding: "utf8",
      timeout: 60_000,
      stdio: ["ignore", "pipe", "ignore"],
    });
    return parseCoremark(out, iterations);
  } catch {
    return undefined;
  }
}

/** Seconds a measured CoreMark run aims for (CoreMark's own timer, millisecond steps). */
export const COREMARK_TARGET_S = 3;

/**
 * Measures CoreMark's iterations/s in a booted guest: short runs first (10 iterations,
 * then more) until one lasts half a second, then runs sized to last about COREMARK_TARGET_S
 * at the last run's speed until one lasts at least half that (the figure). Every run's
 * CRCs are checked; a wrong one throws.
 */
export async function measureCoremark(
  s: GuestSession,
  timeoutMs: number,
  reference?: (iterations: number) => CoremarkReport | undefined,
): Promise<CoremarkReport> {
  const run = async (n: number) => {
    const r = await runCoremark(s, n, timeoutMs);
    const problem = coremarkProblem(r, reference?.(n));
    if (problem) throw new Error(problem);
    return r;
  };
  let n = 10;
  let r = await run(n);
  while ((r.seconds ?? 0) < 0.5 && n < 10_000_000) {
    n = Math.ceil(n * Math.min(50, 1 / Math.max(r.seconds ?? 0, 0.002)));
    r = await run(n);
  }
  // Always one more run: the sizing runs include the host's warm-up (V8 compiling the
  // emulator's hot paths, the translator's first translations and V8 optimizing them),
  // so the sized run may go much faster than they did: size again from it until a run
  // lasts at least half the target.
  for (let tries = 0; ; tries++) {
    const ips = r.iterationsPerSec ?? n / Math.max(r.seconds ?? 1, 0.001);
    r = await run(Math.max(1, Math.round(ips * COREMARK_TARGET_S)));
    if ((r.seconds ?? 0) >= COREMARK_TARGET_S / 2 || tries === 3) return r;
  }
}

// The CPU half of `npm run bench` beyond bench-cpu's mixed rounds: CoreMark's
// iterations/s (bench/coremark.ts) and guest MIPS on each part of the CPU, run by
// `/bin/bench-cpu int|mem|tlb|fp N` (guest/riscv64/bench-cpu.c): integer ALU work in
// registers, loads and stores within a working set a TLB holds, a pointer chase over
// random pages of 4 MiB (software-TLB misses), double-precision floating point.
//
// Each part runs with 1 round, then more until a run lasts 0.3 s (to size the real run),
// then with enough rounds to last about PART_TARGET_S. bench-cpu reads `rdinstret` around
// its rounds, so on tsvisor (whose instret counts exactly the instructions retired)
// instructions / elapsed is the guest MIPS. QEMU's TCG has no exact instret (it counts
// host time), but the parts are deterministic (the checksum proves the same work), so
// tsvisor's count per round divides QEMU's time as well: see cpuMips().
import { execFileSync } from "node:child_process";
import { BENCH_CPU, SHELL_PROMPT } from "../guest/paths.js";
import type { GuestSession } from "../test/lib/guest-session.js";
import { measureCoremark, referenceCoremark, type CoremarkReport } from "./coremark.js";

export const PARTS = ["int", "mem", "tlb", "fp"] as const;
export type Part = (typeof PARTS)[number];

export const PART_LABELS: Readonly<Record<Part, string>> = {
  int: "integer (ALU in registers)",
  mem: "memory-bound (loads/stores, 600 KiB)",
  tlb: "TLB-bound (random pages of 4 MiB)",
  fp: "floating point (double)",
};

/** Seconds each part's measured run aims for. */
const PART_TARGET_S = 2;
const MAX_ROUNDS = 100_000;
const PART_LINE = /bench-cpu: mode=(\w+) rounds=(\d+) checksum=([0-9a-f]{8}) elapsed_ms=([\d.]+) instret=(-?\d+)/;

export interface PartRun {
  rounds: number;
  checksum: string;
  elapsedS: number;
  /** Retired instructions over the rounds (rdinstret); undefined where unreadable. */
  instret?: number;
}

export interface CpuResult {
  coremark?: CoremarkReport;
  parts: Partial<Record<Part, PartRun>>;
  /** Per-part instructions per round from this engine's instret (tsvisor only). */
  perRound: Partial<Record<Part, number>>;
  error?: string;
}

export interface CpuOptions {
  timeoutMs: number;
  /** tsvisor: its instret is exact, so it gives the instruction counts. */
  countsInstructions: boolean;
  /** Check checksums and CoreMark CRCs against the same binaries under qemu-riscv64
   *  (skipped for QEMU itself, whose long runs would take as long again in user mode). */
  verify: boolean;
  /** The built initramfs's copies of /bin/coremark and /bin/bench-cpu. */
  coremarkBinary: string;
  benchCpuBinary: string;
}

/** Runs CoreMark and the parts in a booted guest; never throws (errors go into
 *  `error`, with what was measured before them kept). */
export async function measureCpu(s: GuestSession, o: CpuOptions): Promise<CpuResult> {
  const r: CpuResult = { parts: {}, perRound: {} };
  try {
    const reference = o.verify ? memo((n: number) => referenceCoremark(o.coremarkBinary, n)) : undefined;
    r.coremark = await measureCoremark(s, o.timeoutMs, reference);
    for (const part of PARTS) {
      const checked = async (rounds: number) => {
        const run = await runPart(s, part, rounds, o.timeoutMs);
        checkChecksum(o, part, run);
        return run;
      };
      // Short runs until one lasts 0.3 s (the first rounds also pay for translation and
      // page faults), then one sized to last PART_TARGET_S at that speed.
      let run = await checked(1);
      while (run.elapsedS < 0.3 && run.rounds < MAX_ROUNDS) {
        run = await checked(Math.min(MAX_ROUNDS, Math.ceil(run.rounds * Math.min(50, 0.5 / Math.max(run.elapsedS, 0.001)))));
      }
      // Always one more run: the sizing runs include the host's own warm-up (V8 compiling
      // tsvisor's hot paths), which would otherwise be timed.
      run = await checked(Math.min(MAX_ROUNDS, Math.max(1, Math.round((run.rounds * PART_TARGET_S) / run.elapsedS))));
      r.parts[part] = run;
      if (o.countsInstructions && run.instret !== undefined) r.perRound[part] = run.instret / run.rounds;
    }
  } catch (err) {
    r.error = (err as Error).message;
  }
  return r;
}

/** Guest MIPS of one part: instructions per round (from tsvisor) x rounds / seconds. */
export function cpuMips(run: PartRun | undefined, perRound: number | undefined): number | undefined {
  if (!run || perRound === undefined || run.elapsedS <= 0) return undefined;
  return (perRound * run.rounds) / run.elapsedS / 1e6;
}

/** Runs `bench-cpu PART ROUNDS` at the guest's shell prompt. */
export async function runPart(s: GuestSession, part: Part, rounds: number, timeoutMs: number): Promise<PartRun> {
  const out = await s.command(`${BENCH_CPU.path} ${part} ${rounds}`, SHELL_PROMPT, timeoutMs);
  const m = PART_LINE.exec(out);
  if (!m || m[1] !== part) throw new Error(`bench-cpu ${part} ${rounds} printed no result:\n${out}`);
  const instret = Number(m[5]);
  return { rounds: Number(m[2]), checksum: m[3], elapsedS: Number(m[4]) / 1000, instret: instret >= 0 ? instret : undefined };
}

const referenceChecksums = new Map<string, string | undefined>();

/** The checksum of `bench-cpu PART ROUNDS` under qemu-riscv64 (user mode): the reference.
 *  Undefined when qemu-riscv64 is not installed or fails (nothing to compare with). */
export function referencePartChecksum(binary: string, part: Part, rounds: number): string | undefined {
  const key = `${binary} ${part} ${rounds}`;
  if (!referenceChecksums.has(key)) {
    let sum: string | undefined;
    try {
      const out = execFileSync("qemu-riscv64", [binary, part, String(rounds)], {
        encoding: "utf8",
        timeout: 120_000,
        stdio: ["ignore", "pipe", "ignore"],
      });
      sum = PART_LINE.exec(out)?.[3];
    } catch {
      sum = undefined;
    }
    referenceChecksums.set(key, sum);
  }
  return referenceChecksums.get(key);
}

/** Throws when the guest's checksum differs from qemu-riscv64's for the same rounds. */
function checkChecksum(o: CpuOptions, part: Part, run: PartRun): void {
  if (!o.verify) return;
  const key = `${part} ${run.rounds}`;
  const expected = referencePartChecksum(o.benchCpuBinary, part, run.rounds);
  if (expected !== undefined && expected !== run.checksum) {
    throw new Error(`bench-cpu ${key}: checksum ${run.checksum}, qemu-riscv64 computes ${expected} (the guest computed wrongly)`);
  }
}

function memo<T>(f: (n: number) => T): (n: number) => T {
  const cache = new Map<number, T>();
  return (n) => {
    if (!cache.has(n)) cache.set(n, f(n));
    return cache.get(n)!;
  };
}

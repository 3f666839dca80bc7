// Builds and runs difftest batches: the reference under qemu-riscv64 (Linux user mode),
// the candidate as a spike ELF under tsvisor (or QEMU's spike, to check the harness).
// (Not a test file; test/difftest.test.ts drives it.)
import { join } from "node:path";
import {
  BAREMETAL_FLAGS, ISA_DIR, QEMU_USER, buildElf, describeRun, runCommand, runQemuSpike,
  runTsvisorSpike, type RunResult,
} from "../isa-build.js";
import { generateProgram, type Program } from "./generator.js";
import {
  describeInit, firstDifference, linuxSource, listingAround, parseDumps, spikeSource,
} from "./harness.js";

export interface BatchSpec {
  seed: number;
  /** Program indices in this batch. */
  indices: number[];
  /** Instructions per program. */
  length: number;
}

export interface BuiltBatch {
  programs: Program[];
  linuxElf: string;
  spikeElf: string;
}

const LINUX_FLAGS = [
  "-march=rv64gc", "-mabi=lp64d", "-nostdlib", "-nostartfiles", "-static", "-no-pie",
  "-Wl,--build-id=none",
];

export function buildBatch(spec: BatchSpec): BuiltBatch {
  const programs = spec.indices.map((i) => generateProgram(spec.seed, i, spec.length));
  const name = `difftest seed ${spec.seed} programs ${spec.indices[0]}..${spec.indices.at(-1)}`;
  const linuxElf = buildElf({ source: { text: linuxSource(programs), name: `${name} (linux)` }, flags: LINUX_FLAGS });
  const linkScript = join(ISA_DIR, "link.ld");
  const spikeElf = buildElf({
    source: { text: spikeSource(programs), name: `${name} (spike)` },
    deps: [linkScript],
    flags: [...BAREMETAL_FLAGS, "-T", linkScript],
  });
  return { programs, linuxElf, spikeElf };
}

export type Runner = "qemu-user" | "qemu-spike" | "tsvisor";

/** Runs a built batch on one runner; returns the dumps or a message saying what failed. */
export async function runBatch(b: BuiltBatch, runner: Runner, timeoutMs: number, accel = "tcg"): Promise<Uint8Array[] | string> {
  let r: RunResult;
  switch (runner) {
    case "qemu-user":
      r = await runCommand(QEMU_USER, [b.linuxElf], timeoutMs);
      break;
    case "qemu-spike":
      r = await runQemuSpike(b.spikeElf, timeoutMs);
      break;
    case "tsvisor":
      r = await runTsvisorSpike(b.spikeElf, timeoutMs, accel);
      break;
  }
  const out = r.stdout.toString("latin1");
  const dumps = parseDumps(out, b.programs.length);
  if (typeof dumps === "string") {
    return `${runner}: ${dumps}; ${describeRun(r)}${r.stderr ? `\n${r.stderr.trim().slice(-1500)}` : ""}`;
  }
  if (r.status !== 0) return `${runner}: ${describeRun(r)} after all dumps\n${r.stderr.trim().slice(-1500)}`;
  return dumps;
}

/** Compares two runs; returns a report of the first program that differs, if any. */
export function compareRuns(
  b: BuiltBatch,
  expected: Uint8Array[],
  actual: Uint8Array[],
  names: { expected: string; actual: string },
): string | undefined {
  for (let i = 0; i < b.programs.length; i++) {
    const d = firstDifference(expected[i], actual[i]);
    if (!d) continue;
    const p = b.programs[i];
    return [
      `difftest: seed ${p.seed}, program ${p.index}: ${d.what} differs`,
      `  ${names.expected}: ${d.expected}`,
      `  ${names.actual}: ${d.actual}`,
      `reproduce: TSVISOR_DIFFTEST_SEED=${p.seed} TSVISOR_DIFFTEST_ONLY=${p.index} node --test dist/test/difftest.test.js`,
      listingAround(p.body, d.resource),
      describeInit(p),
    ].join("\n");
  }
  return undefined;
}

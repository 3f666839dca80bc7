// `npm run bench`: how fast tsvisor's interpreter runs a real guest, next to QEMU's TCG
// on the same guest and flags. Prints tables; never fails on time (only when a run breaks:
// no prompt, a wrong checksum, an emulator crash).
//
// Measured, for each emulator (BENCH_RUNS runs each, default 3; the tables show medians):
// - boot to shell: seconds from spawning the process to the shell prompt
//   (default guest: OpenSBI -> Linux -> busybox; same kernel, initramfs and command line);
// - bench-cpu: /bin/bench-cpu's own elapsed time (guest clock_gettime, which both emulators
//   take from the host's monotonic clock) for BENCH_ROUNDS rounds;
// - guest MIPS: bench-cpu's instructions / its elapsed seconds. The instruction count
//   comes from tsvisor (TSVISOR_STATS=1, SIGUSR2 prints the instructions retired so far):
//   the guest runs `bench-cpu 1` and `bench-cpu N`, and the difference of the two
//   commands' retired counts, divided by N-1, is one round's instructions: what the two
//   commands share (typing, fork, exec, page faults, exit, the prompt) cancels out. It
//   still includes the kernel's timer ticks during the extra rounds, as a real CPU's
//   instret would. The program is deterministic (its checksum proves the same work), so
//   the same count divides QEMU's time (from a longer `bench-cpu 500`, as 20 rounds take
//   QEMU only some 40 ms).
// - I/O (bench/io.ts, one more boot per emulator and run, with a disk and a NIC): guest
//   sequential write and read MiB/s on virtio-blk, guest-to-host TCP MiB/s through
//   user-mode networking.
// - CPU (bench/cpu-parts.ts, in the same boots as bench-cpu): CoreMark iterations/s and
//   guest MIPS on the integer, memory-bound, TLB-bound and floating-point parts, for
//   tsvisor with the translator (-accel tcg, the default), tsvisor's interpreter alone
//   (-accel tcg,jit=off: one more boot per run) and QEMU; ratios to QEMU.
import * as os from "node:os";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { BENCH_CPU, SHELL_PROMPT, guestPaths, type GuestPaths } from "../guest/paths.js";
import { GuestSession, TSVISOR_MAIN, onPath } from "../test/lib/guest-session.js";
import { COREMARK_TARGET_S } from "./coremark.js";
import { PARTS, PART_LABELS, cpuMips, measureCpu, type CpuOptions, type CpuResult, type Part } from "./cpu-parts.js";
import { DISK_MIB, NET_MIB, measureIo, type IoResult } from "./io.js";

const BENCH_ROUNDS = 20;
/** QEMU runs 20 rounds in some 40 ms: too short to time well, so its MIPS come from a
 *  longer run (a second or so), with the per-round count measured on tsvisor. */
const QEMU_MIPS_ROUNDS = 500;
const BOOT_TIMEOUT_MS = 600_000;
const COMMAND_TIMEOUT_MS = 120_000;
const QEMU = "qemu-system-riscv64";
/** Boots per emulator; each figure is the median over them. */
const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 3) || 3);
const STATS_LINE = /tsvisor: (\d+) instructions retired in ([\d.]+) seconds/;
/** tsvisor's interpreter alone: the CPU table's middle column. */
const INTERPRETER_ACCEL = "tcg,jit=off";

interface BenchCpuRun {
  rounds: number;
  checksum: string;
  elapsedS: number;
}

interface RunResult {
  bootS?: number;
  /** tsvisor only. */
  instructionsToShell?: number;
  bootMips?: number;
  one?: BenchCpuRun;
  many?: BenchCpuRun;
  /** qemu only: the longer run its MIPS come from. */
  long?: BenchCpuRun;
  /** tsvisor only: retired-instruction deltas of the `bench-cpu 1` and `bench-cpu N` commands. */
  deltaOne?: number;
  deltaMany?: number;
  /** tsvisor only: (deltaMany - deltaOne) / (BENCH_ROUNDS - 1). */
  perRound?: number;
  totalInstructions?: number;
  totalS?: number;
  /** CoreMark and the CPU parts (bench/cpu-parts.ts). */
  cpu?: CpuResult;
  error?: string;
}

async function main(): Promise<number> {
  let paths: GuestPaths;
  try {
    paths = guestPaths();
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 1;
  }
  printHeader();
  withoutExtraCaCerts();
  const cpuOptions = (tsvisor: boolean): CpuOptions => ({
    timeoutMs: COMMAND_TIMEOUT_MS,
    countsInstructions: tsvisor,
    verify: tsvisor,
    coremarkBinary: path.join(path.dirname(paths.initramfs), "coremark"),
    benchCpuBinary: paths.benchCpu,
  });
  const interpreter = accelAccepted(INTERPRETER_ACCEL);

  const qemuArgs = ["-M", "virt", "-m", "256M", "-nographic", "-bios", "default",
    "-kernel", paths.kernel, "-initrd", paths.initramfs, "-append", paths.cmdline];
  const tsRuns: RunResult[] = [];
  const qmRuns: RunResult[] = [];
  const tsIo: IoResult[] = [];
  const qmIo: IoResult[] = [];
  const interpRuns: RunResult[] = [];
  // Alternating, so a change in the host's load touches both emulators alike.
  for (let i = 1; i <= RUNS; i++) {
    process.stderr.write(`bench: run ${i}/${RUNS}: tsvisor...\n`);
    tsRuns.push(await measure("tsvisor", () => GuestSession.tsvisor(["--default-guest"], { TSVISOR_STATS: "1" }), cpuOptions(true)));
    if (interpreter) {
      process.stderr.write(`bench: run ${i}/${RUNS}: tsvisor -accel ${INTERPRETER_ACCEL}...\n`);
      interpRuns.push(await measureCpuOnly(`tsvisor -accel ${INTERPRETER_ACCEL}`,
        () => GuestSession.tsvisor(["--default-guest", "-accel", INTERPRETER_ACCEL]), cpuOptions(true)));
    }
    if (onPath(QEMU)) {
      process.stderr.write(`bench: run ${i}/${RUNS}: qemu...\n`);
      qmRuns.push(await measure("qemu", () => GuestSession.qemu(qemuArgs), cpuOptions(false)));
    }
    process.stderr.write(`bench: run ${i}/${RUNS}: tsvisor I/O...\n`);
    tsIo.push(await measureIo("tsvisor", (dev) => GuestSession.tsvisor(["--default-guest", ...dev])));
    if (onPath(QEMU)) {
      process.stderr.write(`bench: run ${i}/${RUNS}: qemu I/O...\n`);
      qmIo.push(await measureIo("qemu", (dev) => GuestSession.qemu([...qemuArgs, ...dev])));
    }
  }
  const ts = median(tsRuns);
  const qm = qmRuns.length > 0 ? median(qmRuns) : undefined;
  const tsI = medianIo(tsIo);
  const qmI = qmIo.length > 0 ? medianIo(qmIo) : undefined;
  printResults(ts, qm, tsI, qmI);
  printCpu(tsRuns, interpreter ? interpRuns : undefined, qmRuns.length > 0 ? qmRuns : undefined);
  process.stdout.write(`\nboot to shell, each run (s): tsvisor ${tsRuns.map((r) => fmt(r.bootS, 2)).join(" ")}` +
    (qm ? `; qemu ${qmRuns.map((r) => fmt(r.bootS, 2)).join(" ")}` : "") + "\n");
  const io = (runs: IoResult[]) => runs.map((r) => `${fmt(r.diskWrite, 1)}/${fmt(r.diskRead, 1)}/${fmt(r.netSend, 1)}`).join(" ");
  process.stdout.write(`disk write/read/net MiB/s, each run: tsvisor ${io(tsIo)}` + (qm ? `; qemu ${io(qmIo)}` : "") + "\n");
  const interpFailed = interpRuns.some((r) => r.error);
  return ts.error || qm?.error || tsI.error || qmI?.error || interpFailed ? 1 : 0;
}

function mid(values: (number | undefined)[]): number | undefined {
  const v = values.filter((x): x is number => x !== undefined).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
}

/** Each I/O figure's median over the runs that measured it; the errors of all runs. */
function medianIo(runs: IoResult[]): IoResult {
  const errors = runs.map((r, i) => (r.error ? `I/O run ${i + 1}: ${r.error}` : "")).filter((e) => e);
  return {
    diskWrite: mid(runs.map((r) => r.diskWrite)),
    diskRead: mid(runs.map((r) => r.diskRead)),
    netSend: mid(runs.map((r) => r.netSend)),
    error: errors.length ? errors.join("\n") : undefined,
  };
}

/** Each figure's median over the runs that measured it; the errors of all runs. */
function median(runs: RunResult[]): RunResult {
  const num = (key: "bootS" | "instructionsToShell" | "bootMips" | "deltaOne" | "deltaMany" | "perRound" | "totalInstructions" | "totalS") =>
    mid(runs.map((r) => r[key]));
  const cpu = (key: "one" | "many" | "long"): BenchCpuRun | undefined => {
    const done = runs.map((r) => r[key]).filter((x): x is BenchCpuRun => x !== undefined);
    return done.length === 0 ? undefined : { ...done[0]!, elapsedS: mid(done.map((d) => d.elapsedS))! };
  };
  const errors = runs.map((r, i) => (r.error ? `run ${i + 1}: ${r.error}` : "")).filter((e) => e);
  return {
    bootS: num("bootS"), instructionsToShell: num("instructionsToShell"), bootMips: num("bootMips"),
    one: cpu("one"), many: cpu("many"), long: cpu("long"),
    deltaOne: num("deltaOne"), deltaMany: num("deltaMany"), perRound: num("perRound"),
    totalInstructions: num("totalInstructions"), totalS: num("totalS"),
    error: errors.length ? errors.join("\n") : undefined,
  };
}

/** Boots one emulator, runs bench-cpu twice, CoreMark and the CPU parts, and powers off. */
async function measure(name: string, start: () => GuestSession, cpu: CpuOptions): Promise<RunResult> {
  const r: RunResult = {};
  const s = start();
  const tsvisor = name === "tsvisor";
  try {
    await s.expect(SHELL_PROMPT, BOOT_TIMEOUT_MS);
    r.bootS = (performance.now() - s.startedAt) / 1000;
    let retired = tsvisor ? await retiredSoFar(s) : 0;
    if (tsvisor) {
      r.instructionsToShell = retired;
      r.bootMips = retired / r.bootS / 1e6;
    }
    r.one = await benchCpu(s, 1);
    if (tsvisor) {
      const now = await retiredSoFar(s);
      r.deltaOne = now - retired;
      retired = now;
    }
    r.many = await benchCpu(s, BENCH_ROUNDS);
    if (tsvisor) {
      r.deltaMany = (await retiredSoFar(s)) - retired;
      r.perRound = (r.deltaMany - r.deltaOne!) / (BENCH_ROUNDS - 1);
    }
    else r.long = await benchCpu(s, QEMU_MIPS_ROUNDS);
    r.cpu = await measureCpu(s, cpu);
    if (r.cpu.error) throw new Error(r.cpu.error);
    await s.send("poweroff\n");
    const status = await s.exit(COMMAND_TIMEOUT_MS);
    if (status.code !== 0) throw new Error(`${name} exited with ${JSON.stringify(status)} after poweroff`);
    if (tsvisor) {
      const m = STATS_LINE.exec(s.stderr.slice(s.stderr.lastIndexOf("tsvisor: ")));
      if (m) {
        r.totalInstructions = Number(m[1]);
        r.totalS = Number(m[2]);
      }
    }
  } catch (err) {
    r.error = (err as Error).message;
    process.stderr.write(`bench: ${name} failed: ${r.error}\n`);
  } finally {
    s.close();
  }
  return r;
}

/** Boots, runs only CoreMark and the CPU parts, and powers off (the interpreter column). */
async function measureCpuOnly(name: string, start: () => GuestSession, cpu: CpuOptions): Promise<RunResult> {
  const r: RunResult = {};
  const s = start();
  try {
    await s.expect(SHELL_PROMPT, BOOT_TIMEOUT_MS);
    r.bootS = (performance.now() - s.startedAt) / 1000;
    r.cpu = await measureCpu(s, cpu);
    if (r.cpu.error) throw new Error(r.cpu.error);
    await s.send("poweroff\n");
    const status = await s.exit(COMMAND_TIMEOUT_MS);
    if (status.code !== 0) throw new Error(`${name} exited with ${JSON.stringify(status)} after poweroff`);
  } catch (err) {
    r.error = (err as Error).message;
    process.stderr.write(`bench: ${name} failed: ${r.error}\n`);
  } finally {
    s.close();
  }
  return r;
}

/** Whether this tsvisor accepts `-accel <accel>` (a flag still being added shows as no). */
function accelAccepted(accel: string): boolean {
  const r = spawnSync(process.execPath, [TSVISOR_MAIN, "-accel", accel, "-M", "help"], { stdio: "ignore", timeout: 30_000 });
  return r.status === 0;
}

/** One engine's CPU figures: medians over its runs. */
interface CpuFigures {
  coremark?: number;
  coremarkIterations?: number;
  bootS?: number;
  mips: Partial<Record<Part, number>>;
}

/** Instructions per round of each part: the median of what tsvisor's instret counted. */
function perRoundCounts(runs: RunResult[]): Partial<Record<Part, number>> {
  const counts: Partial<Record<Part, number>> = {};
  for (const part of PARTS) counts[part] = mid(runs.map((r) => r.cpu?.perRound[part]));
  return counts;
}

/** An engine's medians; MIPS from its own instret where it has one (tsvisor), else from
 *  `perRound` (the parts are deterministic: the same work takes the same instructions). */
function cpuFigures(runs: RunResult[], perRound: Partial<Record<Part, number>>): CpuFigures {
  const mips: Partial<Record<Part, number>> = {};
  for (const part of PARTS) {
    mips[part] = mid(runs.map((r) => cpuMips(r.cpu?.parts[part], r.cpu?.perRound[part] ?? perRound[part])));
  }
  return {
    coremark: mid(runs.map((r) => r.cpu?.coremark?.iterationsPerSec)),
    coremarkIterations: mid(runs.map((r) => r.cpu?.coremark?.iterations)),
    bootS: mid(runs.map((r) => r.bootS)),
    mips,
  };
}

/** The CPU table: CoreMark and per-part MIPS, translator / interpreter / QEMU, with
 *  tsvisor's figures as fractions of QEMU's (higher is better; the goal is 0.5x+). */
function printCpu(tsRuns: RunResult[], interpRuns: RunResult[] | undefined, qmRuns: RunResult[] | undefined): void {
  const perRound = perRoundCounts([...tsRuns, ...(interpRuns ?? [])]);
  const ts = cpuFigures(tsRuns, perRound);
  const ip = interpRuns ? cpuFigures(interpRuns, perRound) : undefined;
  const qm = qmRuns ? cpuFigures(qmRuns, perRound) : undefined;
  const of = (a?: number, b?: number) => (a !== undefined && b !== undefined && b > 0 ? `${(a / b).toFixed(3)}x` : "-");
  const row = (label: string, get: (f: CpuFigures) => number | undefined, digits: number) => {
    const [a, b, c] = [get(ts), ip && get(ip), qm && get(qm)];
    return [label, fmt(a, digits), fmt(b, digits), fmt(c, digits), of(a, c), of(b, c)];
  };
  const rows: string[][] = [
    ["CPU (in the guest)", "tsvisor tcg", `tsvisor jit=off`, "qemu", "tcg / qemu", "jit=off / qemu"],
    row("CoreMark (iterations/s)", (f) => f.coremark, 1),
    ...PARTS.map((part) => row(`guest MIPS, ${PART_LABELS[part]}`, (f) => f.mips[part], 1)),
  ];
  process.stdout.write("\n" + table(rows) + "\n\n");
  const details: string[][] = [
    ["CPU detail", "value"],
    ...PARTS.map((part) => [`bench-cpu ${part}: instructions per round (tsvisor instret)`, count(perRound[part])]),
    ["CoreMark iterations in the measured run: tcg / jit=off / qemu",
      [ts, ip, qm].map((f) => count(f?.coremarkIterations)).join(" / ")],
    [`boot to shell with -accel ${INTERPRETER_ACCEL} (s)`, fmt(ip?.bootS, 2)],
  ];
  process.stdout.write(table(details) + "\n\n");
  if (!interpRuns) {
    process.stdout.write(`(this tsvisor does not accept -accel ${INTERPRETER_ACCEL} yet: no interpreter column)\n`);
  }
  process.stdout.write(
    `CoreMark: \`coremark 0x0 0x0 0x66 N\` (EEMBC CoreMark 1.0, 2K performance run, gcc -O2), N sized\n` +
      `by short runs to last about ${COREMARK_TARGET_S} s on each engine; iterations/s as CoreMark reports it (guest\n` +
      `clock). Its CRCs are checked in every run (and against qemu-riscv64 for tsvisor's). Parts:\n` +
      `\`bench-cpu int|mem|tlb|fp N\` sized to last about 2 s; MIPS = instructions (rdinstret on\n` +
      `tsvisor; for QEMU, tsvisor's count per round, as its instret is not exact) / bench-cpu's\n` +
      `elapsed time. tlb chases pointers through 1024 random pages: QEMU's software TLB (256\n` +
      `entries by default) misses on most steps there.\n`,
  );
  interpRuns?.forEach((r, i) => {
    if (r.error) process.stdout.write(`\ntsvisor -accel ${INTERPRETER_ACCEL} run ${i + 1} FAILED:\n${r.error}\n`);
  });
}

/** Asks tsvisor (TSVISOR_STATS=1) for its retired-instruction count with SIGUSR2. */
async function retiredSoFar(s: GuestSession): Promise<number> {
  const from = s.stderr.length;
  s.kill("SIGUSR2");
  const m = await s.expectStderr(STATS_LINE, from);
  return Number(m[1]);
}

async function benchCpu(s: GuestSession, rounds: number): Promise<BenchCpuRun> {
  const out = await s.command(`${BENCH_CPU.path} ${rounds}`, SHELL_PROMPT, COMMAND_TIMEOUT_MS);
  const m = BENCH_CPU.pattern.exec(out);
  if (!m) throw new Error(`bench-cpu ${rounds} printed no result:\n${out}`);
  const run = { rounds: Number(m[1]), checksum: m[2], elapsedS: Number(m[3]) / 1000 };
  const expected = BENCH_CPU.checksums[rounds];
  if (expected !== undefined && run.checksum !== expected) {
    throw new Error(`bench-cpu ${rounds}: checksum ${run.checksum}, expected ${expected} (the guest computed wrongly)`);
  }
  return run;
}

/**
 * With NODE_EXTRA_CA_CERTS set, Node parses that CA bundle before any JavaScript runs:
 * ~60 ms at every start on the development VM, which sets it for its proxy. tsvisor makes
 * no TLS connection, so that is the host's environment, not tsvisor: its runs go without.
 */
function withoutExtraCaCerts(): void {
  if (process.env.NODE_EXTRA_CA_CERTS === undefined) return;
  delete process.env.NODE_EXTRA_CA_CERTS;
  process.stdout.write("(NODE_EXTRA_CA_CERTS unset for the runs: Node would parse its CA bundle at every start)\n\n");
}

function printHeader(): void {
  const cpus = os.cpus();
  const load = os.loadavg().map((l) => l.toFixed(2)).join(" ");
  const lines = [
    `tsvisor ${packageVersion()} benchmark, ${new Date().toISOString()}`,
    `host: ${cpus[0]?.model ?? "unknown CPU"} x ${cpus.length}, ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ` +
      `${os.type()} ${os.release()} ${os.arch()}`,
    `node ${process.version}; load average at start: ${load}`,
    "",
  ];
  process.stdout.write(lines.join("\n") + "\n");
}

function printResults(ts: RunResult, qm: RunResult | undefined, tsI: IoResult, qmI: IoResult | undefined): void {
  const perRound = ts.perRound;
  const loopInstructions = perRound === undefined ? undefined : perRound * BENCH_ROUNDS;
  const mips = (r: RunResult | undefined) => {
    const run = r?.long ?? r?.many;
    return perRound !== undefined && run ? (perRound * run.rounds) / run.elapsedS / 1e6 : undefined;
  };
  const slower = (a?: number, b?: number) => (a !== undefined && b !== undefined && b > 0 ? a / b : undefined);
  const tsMips = mips(ts);
  const qmMips = mips(qm);
  const rows: string[][] = [
    ["metric", "tsvisor", "qemu", "tsvisor slower (x)"],
    ["boot to shell (s)", fmt(ts.bootS, 2), fmt(qm?.bootS, 2), fmt(slower(ts.bootS, qm?.bootS), 1)],
    [`bench-cpu ${BENCH_ROUNDS} rounds (s)`, fmt(ts.many?.elapsedS, 3), fmt(qm?.many?.elapsedS, 3),
      fmt(slower(ts.many?.elapsedS, qm?.many?.elapsedS), 1)],
    ["guest MIPS (bench-cpu)", fmt(tsMips, 1), fmt(qmMips, 1), fmt(slower(qmMips, tsMips), 1)],
  ];
  if (qm?.long) {
    rows.push([`bench-cpu ${QEMU_MIPS_ROUNDS} rounds (s)`, "-", fmt(qm.long.elapsedS, 3), "-"]);
  }
  // Throughputs: higher is better, so the ratio is qemu / tsvisor.
  rows.push(
    [`disk seq. write, ${DISK_MIB} MiB (MiB/s)`, fmt(tsI.diskWrite, 1), fmt(qmI?.diskWrite, 1), fmt(slower(qmI?.diskWrite, tsI.diskWrite), 1)],
    [`disk seq. read, ${DISK_MIB} MiB (MiB/s)`, fmt(tsI.diskRead, 1), fmt(qmI?.diskRead, 1), fmt(slower(qmI?.diskRead, tsI.diskRead), 1)],
    [`net guest->host TCP, ${NET_MIB} MiB (MiB/s)`, fmt(tsI.netSend, 1), fmt(qmI?.netSend, 1), fmt(slower(qmI?.netSend, tsI.netSend), 1)],
  );
  process.stdout.write(table(rows) + "\n\n");

  const details: string[][] = [
    ["tsvisor detail", "value"],
    ["instructions to the shell prompt", count(ts.instructionsToShell)],
    ["average MIPS during boot (incl. idle waits)", fmt(ts.bootMips, 1)],
    ["bench-cpu instructions per round", count(perRound)],
    [`bench-cpu ${BENCH_ROUNDS} rounds, instructions`, count(loopInstructions)],
    ["`bench-cpu 1` command, instructions retired", count(ts.deltaOne)],
    [`\`bench-cpu ${BENCH_ROUNDS}\` command, instructions retired`, count(ts.deltaMany)],
    ["whole run: instructions / seconds", ts.totalInstructions === undefined ? "-" :
      `${count(ts.totalInstructions)} / ${fmt(ts.totalS, 1)}`],
  ];
  process.stdout.write(table(details) + "\n\n");
  if (!qm) process.stdout.write(`(${QEMU} is not installed: no QEMU column; apt-get install qemu-system-misc)\n`);
  process.stdout.write(
    `Medians of ${RUNS} runs each, wall-clock on this host. Guest MIPS = bench-cpu's instructions\n` +
      `(counted by tsvisor: the \`bench-cpu ${BENCH_ROUNDS}\` minus \`bench-cpu 1\` commands' retired counts,\n` +
      `divided by ${BENCH_ROUNDS - 1} rounds) x rounds run / bench-cpu's own elapsed time; QEMU's from\n` +
      `\`bench-cpu ${QEMU_MIPS_ROUNDS}\`. The count includes the guest kernel's timer ticks during the run.\n` +
      `Disk: busybox dd's bytes / its own elapsed time (guest clock), virtio-blk on a raw image in\n` +
      `${os.tmpdir()}; write with conv=fsync, read after drop_caches. Net: \`dd | nc 10.0.2.2 PORT\` through\n` +
      `-netdev user to a sink on the host's 127.0.0.1, timed on the host from first byte to last.\n`,
  );
  for (const [name, r] of [["tsvisor", ts], ["qemu", qm], ["tsvisor I/O", tsI], ["qemu I/O", qmI]] as const) {
    if (r?.error) process.stdout.write(`\n${name} FAILED:\n${r.error}\n`);
  }
}

function fmt(n: number | undefined, digits: number): string {
  return n === undefined || !Number.isFinite(n) ? "-" : n.toFixed(digits);
}

function count(n: number | undefined): string {
  return n === undefined ? "-" : Math.round(n).toLocaleString("en-US");
}

/** A plain-text table, first row the header, numbers right-aligned. */
function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  const line = (row: string[]) =>
    row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join(" | ");
  const rule = widths.map((w) => "-".repeat(w)).join("-|-");
  return [line(rows[0]), rule, ...rows.slice(1).map(line)].join("\n");
}

function packageVersion(): string {
  try {
    return JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")).version;
  } catch {
    return "";
  }
}

/** `npm run bench -- kvm`: the x86-64 KVM table (bench/kvm.ts) instead; `-- memory [MINUTES]`:
 *  the memory loop (bench/memory-loop.ts). */
function selected(): Promise<number> {
  if (process.argv[2] === "kvm") return import("./kvm.js").then((m) => m.benchKvm());
  if (process.argv[2] !== "memory") return main();
  const minutes = process.argv[3] === undefined ? 60 : Number(process.argv[3]);
  if (!(minutes > 0)) {
    process.stderr.write(`bench: memory ${process.argv[3]}: minutes must be a positive number\n`);
    return Promise.resolve(1);
  }
  return import("./memory-loop.js").then((m) => m.memoryLoop(minutes));
}

selected().then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? err}\n`);
    process.exit(1);
  },
);

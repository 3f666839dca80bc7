// Builds RISC-V test programs with Debian's cross gcc into a cache keyed by the hash of
// everything that goes into them, and runs emulators on them with a time limit.
// Shared by the ISA tests and the differential tests. (Not a test file itself.)
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const CROSS_GCC = "riscv64-linux-gnu-gcc";
export const QEMU_SYSTEM = "qemu-system-riscv64";
export const QEMU_USER = "qemu-riscv64";

/** The project root (this file runs from dist/test/). */
export const PROJECT_ROOT = fileURLToPath(new URL("../../", import.meta.url));
/** tsvisor's command line, as built by `npx tsc -p .`. */
export const TSVISOR_CLI = join(PROJECT_ROOT, "dist/src/cli/main.js");
/** Sources of the bare-metal ISA tests. */
export const ISA_DIR = join(PROJECT_ROOT, "test/isa");

/** Flags for a bare-metal ELF at 0x80000000 (riscv-tests layout). */
export const BAREMETAL_FLAGS = [
  "-march=rv64gc", "-mabi=lp64d", "-nostdlib", "-nostartfiles", "-static",
  "-Wl,--build-id=none", "-Wl,--no-warn-rwx-segments",
];

const available = new Map<string, boolean>();

/** True when `cmd --version` runs. */
export function haveCommand(cmd: string): boolean {
  let ok = available.get(cmd);
  if (ok === undefined) {
    ok = spawnSync(cmd, ["--version"], { stdio: "ignore" }).status === 0;
    available.set(cmd, ok);
  }
  return ok;
}

/** A skip reason when the cross compiler is missing, else false. */
export function noCrossGcc(): string | false {
  return haveCommand(CROSS_GCC) ? false : `${CROSS_GCC} not installed (Debian: gcc-riscv64-linux-gnu)`;
}

/** Where built programs are kept: $TSVISOR_TEST_CACHE, else ~/.cache/tsvisor/tests. */
export function cacheDir(): string {
  const dir =
    process.env.TSVISOR_TEST_CACHE ??
    (homedir() ? join(homedir(), ".cache/tsvisor/tests") : join(tmpdir(), "tsvisor-test-cache"));
  mkdirSync(dir, { recursive: true });
  return dir;
}

export interface BuildRequest {
  /** Assembly source: a path, or the text itself with a name for messages. */
  source: { path: string } | { text: string; name: string };
  /** Files the source includes (headers, linker script): part of the cache key. */
  deps?: string[];
  /** gcc flags besides the source and -o. */
  flags: string[];
}

/** Compiles (or finds in the cache) one ELF; returns its path. Throws gcc's messages. */
export function buildElf(req: BuildRequest): string {
  const text = "path" in req.source ? readFileSync(req.source.path, "utf8") : req.source.text;
  const hash = createHash("sha256");
  hash.update(CROSS_GCC + "\0" + req.flags.join("\0") + "\0" + text);
  for (const dep of req.deps ?? []) hash.update("\0" + dep + "\0" + readFileSync(dep, "utf8"));
  const out = join(cacheDir(), hash.digest("hex").slice(0, 32) + ".elf");
  if (existsSync(out)) return out;

  const tmp = `${out}.${process.pid}.tmp`;
  let srcPath: string;
  let tmpSrc: string | undefined;
  if ("path" in req.source) {
    srcPath = req.source.path;
  } else {
    tmpSrc = `${out}.${process.pid}.S`;
    writeFileSync(tmpSrc, text);
    srcPath = tmpSrc;
  }
  try {
    const r = spawnSync(CROSS_GCC, [...req.flags, srcPath, "-o", tmp], { encoding: "utf8" });
    if (r.status !== 0) {
      const name = "path" in req.source ? req.source.path : req.source.name;
      throw new Error(`${CROSS_GCC} failed on ${name}:\n${r.stderr || r.error}`);
    }
    renameSync(tmp, out); // atomic: a concurrent build of the same key is harmless
  } finally {
    rmSync(tmp, { force: true });
    if (tmpSrc) rmSync(tmpSrc, { force: true });
  }
  return out;
}

export interface RunResult {
  /** Exit status, or null when killed (timeout or signal). */
  status: number | null;
  signal: NodeJS.Signals | null;
  timedOut: boolean;
  stdout: Buffer;
  stderr: string;
  ms: number;
}

/**
 * Runs a command without a shell, stdin closed, killing it after `timeoutMs`. Standard
 * output goes through a file, not a pipe: QEMU writes its console without blocking and
 * drops what a full pipe does not take.
 */
export function runCommand(cmd: string, args: string[], timeoutMs: number): Promise<RunResult> {
  const outPath = join(cacheDir(), `run-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}.out`);
  const outFd = openSync(outPath, "w+");
  return new Promise((resolve) => {
    const start = performance.now();
    const child = spawn(cmd, args, { stdio: ["ignore", outFd, "pipe"] });
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, timeoutMs);
    child.stderr!.on("data", (d: Buffer) => err.push(d));
    child.on("error", (e) => err.push(Buffer.from(String(e))));
    child.on("close", (status, signal) => {
      clearTimeout(timer);
      closeSync(outFd);
      const stdout = readFileSync(outPath);
      rmSync(outPath, { force: true });
      resolve({
        status,
        signal,
        timedOut,
        stdout,
        stderr: Buffer.concat(err).toString("utf8"),
        ms: performance.now() - start,
      });
    });
  });
}

/** Runs a bare-metal ELF on tsvisor's spike board. */
/**
 * The CPU engines a test runs on: the interpreter alone, and the translator with every
 * block translated as soon as it ran once (so short test programs exercise it), at its
 * first tier and with every page translated again at tier 2 after its first block.
 */
export const ENGINES = [
  { name: "interpreter", accel: "tcg,jit=off" },
  { name: "translator", accel: "tcg,jit=on,jit-threshold=1" },
  { name: "translator tier 2", accel: "tcg,jit=on,jit-threshold=1,jit-tier-up=1" },
] as const;

export function runTsvisorSpike(elf: string, timeoutMs: number, accel = "tcg"): Promise<RunResult> {
  return runCommand(process.execPath, [TSVISOR_CLI, "-M", "spike", "-accel", accel, "-bios", elf, "-nographic"], timeoutMs);
}

/** Runs a bare-metal ELF on QEMU's spike board (the reference). */
export function runQemuSpike(elf: string, timeoutMs: number): Promise<RunResult> {
  return runCommand(QEMU_SYSTEM, ["-M", "spike", "-nographic", "-bios", elf], timeoutMs);
}

/** One line saying how a run ended, for assertion messages. */
export function describeRun(r: RunResult): string {
  if (r.timedOut) return `timed out after ${Math.round(r.ms)} ms`;
  if (r.status === null) return `killed by ${r.signal}`;
  return `exit status ${r.status}`;
}

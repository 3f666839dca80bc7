#!/usr/bin/env node
// tsvisor's command line: parse QEMU-style flags, build the machine, run it with this
// terminal as its console, and exit with the guest's status. Every user error is one
// line on stderr, "tsvisor: ..." naming the flag or file, exit status 1.
import { readFileSync } from "node:fs";
import { constants as osConstants } from "node:os";
import { setFlagsFromString } from "node:v8";
import { hasVirtioConsole, type MachineConfig } from "../machine/config.js";
import { UserError, type Machine } from "../machine/machine.js";
import { NodeHost, TraceWriter, checkReadableFile, errnoText, isSystemError } from "../host/node-host.js";
import { Terminal } from "../host/terminal.js";
import { inputFiles, parseArgs, type DefaultGuest, type GuestArch } from "./args.js";
import { helpText } from "./help.js";
import { formatSize } from "./size.js";

const DEFAULT_GUEST_FLAGS = new Set(["-default-guest", "--default-guest"]);

/** What must be undone before the process ends, whichever way it ends. */
let cleanup: () => void = () => {};
let running: Machine | undefined;

/**
 * How much a WebAssembly function runs (V8's rough count of bytes executed) before V8
 * recompiles it with its optimizing compiler. V8's default (1.8 M) suits ordinary modules;
 * translated guest pages run that much within milliseconds, and optimizing one costs
 * ~0.5 s of CPU (they are large and branchy), so on a small host the boot spent most of
 * its time compiling code that was already fast enough. About 1000x the default keeps the
 * optimizing compiler for the code that runs for seconds (measured on 2 cores with
 * jit-threshold=1000: its CPU time in the first 12-15 s of a boot fell from 37.7 s to 9.2 s).
 */
const WASM_TIERING_BUDGET = 2_000_000_000;

async function main(argv: string[]): Promise<number> {
  if (argv[0] === "img") {
    // `tsvisor img ...`: qemu-img's common commands (src/cli/img.ts).
    const { runImg } = await import("./img.js");
    return runImg(argv.slice(1), { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) });
  }
  setFlagsFromString(`--wasm-tiering-budget=${WASM_TIERING_BUDGET}`);
  // Validate each translated function when it is first called (V8 compiles them lazily
  // anyway): functions never called are never validated. WebAssembly.Module() took
  // ~25% less time per boot (62-83 -> 52-60 ms for ~160 modules, 1.2 MB).
  setFlagsFromString("--wasm-lazy-validation");
  const defaultGuest = argv.some((arg) => DEFAULT_GUEST_FLAGS.has(arg)) ? await loadDefaultGuest() : undefined;
  // -accel kvm alone picks the x86-64 microvm board where KVM can run one.
  const kvmHost = process.platform === "linux" && process.arch === "x64";
  const command = parseArgs(argv, { defaultGuest, kvmHost });
  switch (command.kind) {
    case "help":
      process.stdout.write(helpText(version()));
      return 0;
    case "version":
      process.stdout.write(`tsvisor version ${version()} (QEMU-compatible command line)\n`);
      return 0;
    case "print":
      process.stdout.write(command.text);
      return 0;
  }
  const { config } = command;
  checkFiles(config, command.defaultGuest);

  const trace = config.debug.length > 0 ? new TraceWriter(config.debugFile) : undefined;
  // Under -serial none an hvc0 (virtio-console) gets the keyboard, with the escapes.
  const keyboard = config.serial === "none" && hasVirtioConsole(config) ? "mon:stdio" : config.serial;
  const terminal = new Terminal({ serial: keyboard });
  const host = new NodeHost({ terminal, trace });
  cleanup = () => {
    cleanup = () => {};
    terminal.restore();
    host.flush();
    trace?.close();
  };

  // Loaded only now, so that --help and flag errors stay instant. The interpreter's
  // warm-up runs first: V8 optimizes it on another thread while the rest loads.
  if (config.accel === "tcg") (await import("../target/riscv/warmup.js")).warmUpInterpreter(config.jit);
  const { createMachine } = await import("../machine/create.js");
  const machine = await allocating(config, () => createMachine(config, host));
  // hostfwd=/listen= ports bind asynchronously; one in use is fatal before the guest runs.
  await host.ready();
  running = machine;
  installSignalHandlers(machine);
  const stats = installStats(machine);
  if (config.dumpDtb === undefined) {
    terminal.start({
      input: (data) => host.deliverInput(data),
      quit: () => machine.stop(0),
      signal: (name) => terminateOnSignal(name),
      outputClosed: () => machine.stop(0),
    });
  }
  const code = await machine.run();
  running = undefined;
  cleanup();
  stats();
  return code;
}

/** TSVISOR_STATS=1 (benchmarks): "tsvisor: N instructions retired in S seconds (M MIPS)"
 *  and lines on the translator's work and on memory on stderr at exit, and at any time on SIGUSR2;
 *  returns the printer. */
function installStats(machine: Machine): () => void {
  if (process.env.TSVISOR_STATS !== "1") return () => {};
  if (isKvmMachine(machine)) return kvmStats(machine);
  const start = performance.now();
  const print = () => {
    const n = machine.instructionsRetired();
    const s = (performance.now() - start) / 1000;
    const eol = process.stderr.isTTY ? "\r\n" : "\n"; // the terminal may be in raw mode
    process.stderr.write(`tsvisor: ${n} instructions retired in ${s.toFixed(3)} seconds (${(n / s / 1e6).toFixed(2)} MIPS)${eol}`);
    const engine = machine.engineReport?.();
    if (engine) process.stderr.write(`tsvisor: ${engine}${eol}`);
    process.stderr.write(`tsvisor: ${memoryReport()}${eol}`);
  };
  if (process.platform !== "win32") process.on("SIGUSR2", print);
  return print;
}

/** The process's memory as V8 sees it: where a growth is (JavaScript objects, or outside them). */
function memoryReport(): string {
  const m = process.memoryUsage();
  const mib = (n: number) => (n / 2 ** 20).toFixed(1);
  return `memory: resident ${mib(m.rss)} MiB, JavaScript heap ${mib(m.heapUsed)} MiB used of ${mib(m.heapTotal)}, ` +
    `outside it ${mib(m.external)} MiB (guest RAM's whole WebAssembly.Memory, buffers)`;
}

/** What the KVM board (src/machine/x86-microvm.ts) reports instead of instructions. */
interface KvmStats {
  bootTimeMs(): number | undefined;
  exitStats(): { exits: number; pioExits: number; mmioExits: number };
}

function isKvmMachine(machine: Machine): machine is Machine & KvmStats {
  return "exitStats" in machine && "bootTimeMs" in machine;
}

/** Under KVM no instructions are counted: "tsvisor: boot-timer N ms, E vCPU exits (P port,
 *  M MMIO)" at exit. No SIGUSR2 printer: the vCPU threads are kicked with SIGUSR2. */
function kvmStats(machine: KvmStats): () => void {
  return () => {
    const boot = machine.bootTimeMs();
    const { exits, pioExits, mmioExits } = machine.exitStats();
    const eol = process.stderr.isTTY ? "\r\n" : "\n";
    process.stderr.write(`tsvisor: boot-timer ${boot === undefined ? "-" : boot.toFixed(0)} ms, ` +
      `${exits} vCPU exits (${pioExits} port, ${mmioExits} MMIO)${eol}`);
  };
}

/**
 * guest/paths.ts says where `npm run guest` put the default guests: the RISC-V one, or
 * with -accel kvm the x86-64 one (the board adds console=ttyS0 to its command line).
 */
async function loadDefaultGuest(): Promise<(arch: GuestArch) => DefaultGuest> {
  const paths = await import("../../guest/paths.js");
  return (arch) => {
    try {
      if (arch === "x86_64") {
        const guest = paths.x86GuestPaths();
        return { kernel: guest.kernel, initrd: guest.initrd, append: "" };
      }
      const guest = paths.guestPaths();
      return { kernel: guest.kernel, initrd: guest.initramfs, append: guest.cmdline };
    } catch (err) {
      if (!(err instanceof paths.GuestNotBuiltError)) throw err;
      throw new UserError(`--default-guest: ${err.message.replace(/^tsvisor: /, "")}`);
    }
  };
}

/** Names the flag and file that cannot be read, before any of the board is built. */
function checkFiles(config: MachineConfig, defaultGuest: boolean): void {
  for (const { flag, path } of inputFiles(config)) {
    try {
      checkReadableFile(path);
    } catch (err) {
      const built = defaultGuest && (path === config.kernel || path === config.initrd);
      const build = config.machine === "microvm" ? "npm run guest -- x86-kernel x86-initramfs" : "npm run guest";
      if (built) throw new UserError(`--default-guest: ${path} is missing; build the guest with ${build}`);
      throw new UserError(`${flag}: ${(err as Error).message}`);
    }
  }
}

/** Guest RAM comes from one big allocation; its failure is the user's -m, not a bug. */
async function allocating<T>(config: MachineConfig, build: () => Promise<T>): Promise<T> {
  try {
    return await build();
  } catch (err) {
    if (err instanceof RangeError && /allocat|memory/i.test(err.message)) {
      throw new UserError(`-m ${formatSize(config.memBytes)}: cannot allocate guest RAM (try a smaller -m)`);
    }
    throw err;
  }
}

let signalled = false;

/** As QEMU: the first SIGINT/SIGTERM/SIGHUP stops the machine (status 0), a second one exits now. */
function terminateOnSignal(name: NodeJS.Signals): void {
  const signo = osConstants.signals[name];
  if (signalled || !running) {
    cleanup();
    process.exit(128 + signo);
  }
  signalled = true;
  process.stderr.write(`tsvisor: terminating on signal ${signo}\n`);
  running.stop(0);
}

function installSignalHandlers(machine: Machine): void {
  for (const name of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(name, () => terminateOnSignal(name));
  }
  // The run loop keeps the event loop busy; if it ever drains, the board lost its way.
  process.on("beforeExit", () => {
    if (running === machine) fail(new Error("the machine stopped running without powering off"));
  });
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8"));
    return String(pkg.version);
  } catch {
    return "unknown";
  }
}

/** One line for the user; the stack only for developers (TSVISOR_DEBUG=1). */
function errorLine(err: unknown): string {
  if (err instanceof UserError || (err instanceof Error && err.name === "UserError")) {
    return oneLine(err.message.replace(/^tsvisor: /, ""));
  }
  if (isSystemError(err)) {
    const path = (err as NodeJS.ErrnoException).path;
    return oneLine(path ? `${path}: ${errnoText(err)}` : errnoText(err));
  }
  const message = err instanceof Error ? err.message : String(err);
  const hint = process.env.TSVISOR_DEBUG === "1" ? "" : "; TSVISOR_DEBUG=1 shows where";
  return oneLine(`internal error: ${message} (please report it${hint})`);
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, " ").trim();
}

function fail(err: unknown): never {
  cleanup();
  process.stderr.write(`tsvisor: ${errorLine(err)}\n`);
  const isUserError = err instanceof UserError || (err instanceof Error && err.name === "UserError");
  if (process.env.TSVISOR_DEBUG === "1" && err instanceof Error && !isUserError) {
    process.stderr.write(`${err.stack}\n`);
  }
  process.exit(1);
}

process.on("uncaughtException", fail);
process.on("unhandledRejection", fail);

main(process.argv.slice(2)).then(
  (code) => {
    cleanup();
    process.exit(code);
  },
  fail,
);

// QEMU's command-line grammar -> MachineConfig. Pure: no Node modules, no file access
// (main.ts checks the files this names), so the whole grammar is unit-tested.
//
// QEMU spells every option with one dash and also accepts two (`-m` = `--m`); an option
// either stands alone or takes the next argument verbatim, even one that starts with a
// dash (`-append -v`). Suboptions are `key=value` lists where `,,` is a literal comma.
// The last occurrence of an option wins, as in QEMU.
import { DEFAULT_CONFIG, type Accelerator, type MachineConfig, type MachineType } from "../machine/config.js";
import { UserError } from "../machine/machine.js";
import { MAX_RAM_BYTES, parseRamSize, parseSize } from "./size.js";
import { applyDevice, applyDrive, applyNet, applyNetdev, applyNic, deviceHelp, finishDevices } from "./device-args.js";

/** What the project's default guest (guest/paths.ts) contributes to --default-guest. */
export interface DefaultGuest {
  kernel: string;
  initrd: string;
  append: string;
}

/** Which of the project's guests --default-guest boots: RISC-V (tcg) or x86-64 (kvm). */
export type GuestArch = "riscv64" | "x86_64";

export interface ParseOptions {
  /**
   * Supplies the default guest's files; needed only when --default-guest is given, and
   * called once the line is read (-accel kvm picks the x86-64 guest).
   */
  defaultGuest?: (arch: GuestArch) => DefaultGuest;
  /** The host is x86-64 Linux: -accel kvm without -M picks the microvm board. */
  kvmHost?: boolean;
}

export type CliCommand =
  | { kind: "run"; config: MachineConfig; defaultGuest: boolean }
  | { kind: "help" }
  | { kind: "version" }
  /** A listing asked for with `help` as a value (-M help, -d help, -accel help). */
  | { kind: "print"; text: string };

export const MACHINES: ReadonlyArray<readonly [MachineType, string]> = [
  ["spike", "RISC-V Spike board (HTIF console, for ISA tests)"],
  ["virt", "RISC-V VirtIO board (default)"],
  ["microvm", "x86-64 microvm under KVM (-accel kvm; the default with -accel kvm)"],
];

/** CPUs the microvm board takes (-smp); the RISC-V boards run one hart for now. */
export const MICROVM_MAX_CPUS = 64;
/** RAM ends below the MMIO hole at 3 GiB on microvm. */
const MICROVM_MAX_RAM = 3 * 1024 * 1024 * 1024;

/** -d items the CPU and board understand. */
export const DEBUG_ITEMS: ReadonlyArray<readonly [string, string]> = [
  ["in_asm", "show target assembly code for each translated block"],
  ["int", "show interrupts and exceptions"],
  ["exec", "show trace before each executed block"],
  ["cpu", "show CPU registers before entering a block"],
  ["boot-timer", "log the time from start to the guest's boot-timer write (port 0x440, microvm)"],
];

const SERIAL_BACKENDS = ["mon:stdio", "stdio", "none"] as const;
const KVM_ERROR = "KVM needs an x86-64 guest; use -accel tcg";

/** QEMU options we know but do not implement: a truthful message beats "invalid option". */
const NOT_YET = new Set([
  "cpu", "hda", "hdb", "cdrom", "blockdev",
  "chardev", "mon", "qmp", "gdb", "s", "S", "vnc", "vga", "object", "global",
  "rtc", "icount", "boot", "fsdev", "virtfs", "daemonize", "pidfile", "loadvm", "incoming",
  "plugin", "semihosting", "semihosting-config", "numa", "audiodev", "usb", "usbdevice",
  "parallel", "virtioconsole", "watchdog-action", "action", "overcommit", "sandbox",
  "name", "uuid", "k", "full-screen", "trace", "L", "fw_cfg", "readconfig", "writeconfig",
  "nodefaults", "no-shutdown", "msg", "seed",
]);

interface State {
  config: MachineConfig;
  /** -serial as given; -nographic and the default both mean mon:stdio. */
  serial?: MachineConfig["serial"];
  defaultGuest: boolean;
  /** -snapshot: every drive gets snapshot=on once the line is read. */
  snapshot: boolean;
  /** -M gave a board type (--default-guest's virt does not count: -accel kvm may replace it). */
  machineGiven: boolean;
  /** The accelerators asked for, in order of preference, and the flag that asked. */
  accel?: { candidates: Accelerator[]; where: string };
  /** -m as given, and the error of a size too large for the RISC-V boards: judged once the board is known. */
  mem?: { where: string; tooLarge?: UserError };
  /** -smp as given; judged once the board is known. */
  smp?: { total: number; where: string };
  /** Set when an option asks to print something and exit. */
  result?: CliCommand;
  opts: ParseOptions;
}

interface OptionSpec {
  /** Takes the next argument. */
  arg: boolean;
  apply(s: State, value: string, flag: string): void;
}

const OPTIONS: Record<string, OptionSpec> = {
  h: { arg: false, apply: (s) => (s.result ??= { kind: "help" }) },
  help: { arg: false, apply: (s) => (s.result ??= { kind: "help" }) },
  version: { arg: false, apply: (s) => (s.result ??= { kind: "version" }) },
  "default-guest": { arg: false, apply: applyDefaultGuest },
  M: { arg: true, apply: applyMachine },
  machine: { arg: true, apply: applyMachine },
  m: { arg: true, apply: applyMemory },
  smp: { arg: true, apply: applySmp },
  bios: { arg: true, apply: (s, v, f) => (s.config.bios = nonEmpty(v, f, "a file name, default or none")) },
  kernel: { arg: true, apply: (s, v, f) => (s.config.kernel = nonEmpty(v, f, "a file name")) },
  initrd: { arg: true, apply: (s, v, f) => (s.config.initrd = nonEmpty(v, f, "a file name")) },
  dtb: { arg: true, apply: (s, v, f) => (s.config.dtb = nonEmpty(v, f, "a file name")) },
  append: { arg: true, apply: (s, v) => (s.config.append = v) },
  nographic: { arg: false, apply: () => {} }, // no display exists; serial defaults to mon:stdio
  serial: { arg: true, apply: applySerial },
  accel: { arg: true, apply: applyAccel },
  "enable-kvm": { arg: false, apply: (s, _v, f) => (s.accel = { candidates: ["kvm"], where: f }) },
  "no-reboot": { arg: false, apply: (s) => (s.config.noReboot = true) },
  d: { arg: true, apply: applyDebug },
  D: { arg: true, apply: (s, v, f) => (s.config.debugFile = nonEmpty(v, f, "a file name")) },
  display: { arg: true, apply: applyDisplay },
  monitor: { arg: true, apply: applyMonitor },
  drive: { arg: true, apply: (s, v, f) => applyDrive(s, splitSuboptions(v), f) },
  device: { arg: true, apply: applyDeviceFlag },
  netdev: { arg: true, apply: (s, v, f) => applyNetdev(s, splitSuboptions(v), f) },
  nic: { arg: true, apply: (s, v, f) => applyNic(s, splitSuboptions(v), f) },
  net: { arg: true, apply: (s, v, f) => applyNet(s, splitSuboptions(v), f) },
  snapshot: { arg: false, apply: (s) => (s.snapshot = true) },
};

/** Parses argv (without node and the script) into what main.ts should do. */
export function parseArgs(argv: readonly string[], opts: ParseOptions = {}): CliCommand {
  const s: State = {
    // DEFAULT_CONFIG's arrays are copied: the parser appends to them.
    config: { ...DEFAULT_CONFIG, debug: [...DEFAULT_CONFIG.debug], drives: [], netdevs: [], devices: [] },
    defaultGuest: false,
    machineGiven: false,
    snapshot: false,
    opts,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const name = optionName(flag);
    if (name === undefined) {
      throw new UserError(`${flag}: unexpected argument (a disk image is -drive file=IMAGE,format=raw)`);
    }
    const spec = OPTIONS[name];
    if (!spec) {
      if (NOT_YET.has(name)) throw new UserError(`${flag}: ${notYetReason(name)}`);
      throw new UserError(`${flag}: invalid option`);
    }
    let value = "";
    if (spec.arg) {
      if (i + 1 >= argv.length) throw new UserError(`${flag}: requires an argument`);
      value = argv[++i];
    }
    spec.apply(s, value, flag);
    // Help and listings end parsing as in QEMU: the rest of the line is not judged.
    if (s.result) return s.result;
  }
  s.config.serial = s.serial ?? "mon:stdio";
  resolveBoard(s);
  finishDevices(s);
  return { kind: "run", config: s.config, defaultGuest: s.defaultGuest };
}

/** Files the configuration reads, with the flag that named each (checked before booting). */
export function inputFiles(config: MachineConfig): Array<{ flag: string; path: string }> {
  const files: Array<{ flag: string; path: string }> = [];
  if (config.bios !== "default" && config.bios !== "none") files.push({ flag: "-bios", path: config.bios });
  if (config.kernel !== undefined) files.push({ flag: "-kernel", path: config.kernel });
  if (config.initrd !== undefined) files.push({ flag: "-initrd", path: config.initrd });
  if (config.dtb !== undefined) files.push({ flag: "-dtb", path: config.dtb });
  for (const d of config.drives) files.push({ flag: "-drive", path: d.file });
  return files;
}

/** "-m" and "--m" -> "m"; undefined for a word that is not an option. */
function optionName(arg: string): string | undefined {
  if (!arg.startsWith("-") || arg === "-" || arg === "--") return undefined;
  return arg.startsWith("--") ? arg.slice(2) : arg.slice(1);
}

function notYetReason(name: string): string {
  if (name === "cpu") return "not supported yet (the CPU is always RV64GC)";
  return "not supported yet";
}

function nonEmpty(value: string, flag: string, what: string): string {
  if (value === "") throw new UserError(`${flag}: requires ${what}`);
  return value;
}

function applyDefaultGuest(s: State, _value: string, flag: string): void {
  if (!s.opts.defaultGuest) throw new UserError(`${flag}: the default guest is not available`);
  // Same as -M virt -m 256M -nographic -bios default -kernel .. -initrd .. -append ..; the
  // files are filled in at the end (resolveBoard), where they are still unset, because
  // -accel kvm later on the line makes it the x86-64 guest on microvm instead.
  Object.assign(s.config, {
    machine: "virt",
    memBytes: 256 * 1024 * 1024,
    bios: "default",
    kernel: undefined,
    initrd: undefined,
    append: undefined,
  });
  s.machineGiven = false;
  s.defaultGuest = true;
}

/**
 * Settles the board and the accelerator once the whole line is read (flags may come in
 * any order): -accel kvm alone picks microvm on an x86-64 Linux host, -M microvm alone
 * runs under kvm, KVM with a RISC-V board is refused, -smp is judged for the board, and
 * --default-guest's files are those of the board's architecture.
 */
function resolveBoard(s: State): void {
  const c = s.config;
  const accel = s.accel;
  if (accel) {
    const kvmOnly = accel.candidates.length === 1 && accel.candidates[0] === "kvm";
    if (kvmOnly && !s.machineGiven && s.opts.kvmHost) c.machine = "microvm";
    if (c.machine === "microvm") {
      if (!accel.candidates.includes("kvm")) {
        throw new UserError(`${accel.where}: -M microvm runs only under KVM (-accel kvm); tcg emulates RISC-V`);
      }
      c.accel = "kvm";
    } else {
      if (!accel.candidates.includes("tcg")) throw new UserError(`${accel.where}: ${KVM_ERROR}`);
      c.accel = "tcg";
    }
  } else {
    c.accel = c.machine === "microvm" ? "kvm" : "tcg";
  }
  if (s.mem) {
    const tooLarge = s.mem.tooLarge !== undefined || c.memBytes > MICROVM_MAX_RAM;
    if (c.machine === "microvm" && tooLarge) throw new UserError(`${s.mem.where}: microvm takes at most 3 GiB of RAM (3072M)`);
    if (s.mem.tooLarge) throw s.mem.tooLarge;
  }
  if (s.smp) {
    const { total, where } = s.smp;
    if (c.machine === "microvm" && total > MICROVM_MAX_CPUS) {
      throw new UserError(`${where}: at most ${MICROVM_MAX_CPUS} CPUs on microvm`);
    }
    if (c.machine !== "microvm" && total > 1) throw new UserError(`${where}: only 1 CPU is supported for now`);
    c.smp = total;
  }
  if (s.defaultGuest) {
    const guest = s.opts.defaultGuest!(c.machine === "microvm" ? "x86_64" : "riscv64");
    c.kernel ??= guest.kernel;
    c.initrd ??= guest.initrd;
    c.append ??= guest.append;
  }
}

/** -machine [type=]virt|spike[,dumpdtb=FILE][,accel=tcg]; the type may be left out. */
function applyMachine(s: State, value: string, flag: string): void {
  const items = splitSuboptions(value);
  if (items.length === 1 && (items[0] === "help" || items[0] === "?")) {
    s.result = { kind: "print", text: machineHelp() };
    return;
  }
  items.forEach((item, index) => {
    const [key, val] = keyValue(item, index === 0 ? "type" : undefined);
    switch (key) {
      case "type":
        s.config.machine = machineType(val, flag, value);
        s.machineGiven = true;
        break;
      case "acpi":
        if (s.config.machine !== "microvm") throw new UserError(`${flag} ${value}: unknown machine option '${item}'`);
        s.config.acpi = onOff(val, `${flag} ${value}`, "acpi");
        break;
      case "dumpdtb":
        s.config.dumpDtb = nonEmpty(val, `${flag} dumpdtb=`, "a file name");
        break;
      case "accel":
        accelerator(s, val, `${flag} ${value}`);
        break;
      default:
        throw new UserError(`${flag} ${value}: unknown machine option '${item}'`);
    }
  });
}

function machineType(name: string, flag: string, value: string): MachineType {
  const known = MACHINES.find(([type]) => type === name);
  if (!known) throw new UserError(`${flag} ${value}: unsupported machine type (-M help lists them)`);
  return known[0];
}

function machineHelp(): string {
  const lines = MACHINES.map(([name, text]) => `${name.padEnd(10)} ${text}`);
  return `Supported machines are:\n${lines.join("\n")}\n`;
}

/** -m [size=]SIZE; QEMU's memory hotplug options (slots, maxmem) do not exist here. */
function applyMemory(s: State, value: string, flag: string): void {
  const items = splitSuboptions(value);
  items.forEach((item, index) => {
    const [key, val] = keyValue(item, index === 0 ? "size" : undefined);
    if (key !== "size") throw new UserError(`${flag} ${value}: '${key}' is not supported (only size)`);
    s.mem = { where: `${flag} ${val}` };
    try {
      s.config.memBytes = parseRamSize(val, flag);
    } catch (err) {
      // Too large for RISC-V is also too large for microvm, whose message says its own limit.
      if (!((parseSize(val) ?? 0) > MAX_RAM_BYTES)) throw err;
      s.mem.tooLarge = err as UserError;
    }
  });
}

const SMP_KEYS = new Set(["cpus", "maxcpus", "sockets", "dies", "clusters", "cores", "threads"]);

/** -smp [cpus=]N[,maxcpus=..,sockets=..,cores=..,threads=..]: 1 on RISC-V, up to 64 on microvm. */
function applySmp(s: State, value: string, flag: string): void {
  let total = 1;
  splitSuboptions(value).forEach((item, index) => {
    const [key, val] = keyValue(item, index === 0 ? "cpus" : undefined);
    if (!SMP_KEYS.has(key)) throw new UserError(`${flag} ${value}: unknown option '${key}'`);
    if (!/^\d+$/.test(val) || Number(val) < 1) {
      throw new UserError(`${flag} ${value}: '${key}' must be a positive number`);
    }
    total = Math.max(total, Number(val));
  });
  s.smp = { total, where: `${flag} ${value}` };
}

function applySerial(s: State, value: string, flag: string): void {
  const backend = SERIAL_BACKENDS.find((b) => b === value);
  if (!backend) {
    throw new UserError(`${flag} ${value}: unsupported serial backend (use mon:stdio, stdio or none)`);
  }
  if (s.serial !== undefined) throw new UserError(`${flag} ${value}: only one serial port (UART0) exists`);
  s.serial = backend;
}

/**
 * -accel tcg[,thread=single|multi,tb-size=N,jit=on|off,jit-threshold=N,jit-tier-up=N] or -accel kvm; `kvm:tcg` is a list
 * of choices as in QEMU: kvm on microvm, tcg on the RISC-V boards.
 */
function applyAccel(s: State, value: string, flag: string): void {
  if (value === "help" || value === "?") {
    s.result = { kind: "print", text: "Accelerators supported in tsvisor:\ntcg\nkvm\n" };
    return;
  }
  accelerator(s, value, `${flag} ${value}`);
}

/** Checks an accelerator with its options into `s`; `where` starts the error line. */
function accelerator(s: State, value: string, where: string): void {
  const [name, ...options] = splitSuboptions(value);
  const names = name.split(":");
  const candidates = names.filter((n): n is Accelerator => n === "tcg" || n === "kvm");
  if (candidates.length === 0) {
    throw new UserError(`${where}: no accelerator named '${name}' (use tcg${s.opts.kvmHost ? " or kvm" : ""})`);
  }
  const tcg = candidates.includes("tcg");
  for (const option of options) {
    const [key, val] = keyValue(option);
    if ((key === "jit" || key === "jit-threshold" || key === "jit-tier-up") && !candidates.includes("tcg")) {
      throw new UserError(`${where}: ${key}= is a tcg option; KVM runs the guest's code natively`);
    }
    if (key === "jit") {
      s.config.jit = onOff(val, where, "jit");
      continue;
    }
    if (key === "jit-threshold") {
      if (!/^\d+$/.test(val) || Number(val) < 1 || Number(val) > 65535) {
        throw new UserError(`${where}: jit-threshold=${val}: expected a number from 1 to 65535`);
      }
      s.config.jitThreshold = Number(val);
      continue;
    }
    if (key === "jit-tier-up") {
      if (!/^\d+$/.test(val) || Number(val) < 1 || Number(val) > 0x7fffffff) {
        throw new UserError(`${where}: jit-tier-up=${val}: expected a number from 1 to 2147483647`);
      }
      s.config.jitTierUp = Number(val);
      continue;
    }
    const ok = tcg && ((key === "thread" && (val === "single" || val === "multi")) ||
      (key === "tb-size" && /^\d+$/.test(val)) ||
      (key === "split-wx" && (val === "on" || val === "off")));
    if (!ok) throw new UserError(`${where}: unknown or invalid ${candidates.join(":")} option '${option}'`);
  }
  s.accel = { candidates, where };
}

function onOff(value: string, where: string, key: string): boolean {
  if (value === "on") return true;
  if (value === "off") return false;
  throw new UserError(`${where}: ${key}= must be on or off`);
}

function applyDebug(s: State, value: string, flag: string): void {
  const items = value.split(",").map((item) => item.trim());
  if (items.includes("help") || items.includes("?")) {
    s.result = { kind: "print", text: debugHelp() };
    return;
  }
  for (const item of items) {
    if (!DEBUG_ITEMS.some(([name]) => name === item)) {
      throw new UserError(`${flag} ${value}: unknown log item '${item}' (-d help lists them)`);
    }
  }
  s.config.debug = [...new Set(items)];
}

function debugHelp(): string {
  const lines = DEBUG_ITEMS.map(([name, text]) => `${name.padEnd(10)} ${text}`);
  return `Log items (comma separated):\n${lines.join("\n")}\n`;
}

function applyDeviceFlag(s: State, value: string, flag: string): void {
  if (value === "help" || value === "?") {
    s.result = { kind: "print", text: deviceHelp() };
    return;
  }
  applyDevice(s, splitSuboptions(value), flag);
}

function applyDisplay(s: State, value: string, flag: string): void {
  const [name] = splitSuboptions(value);
  if (name === "help" || name === "?") {
    s.result = { kind: "print", text: "Available display backend types:\nnone\n" };
    return;
  }
  if (name !== "none") throw new UserError(`${flag} ${value}: no display exists; use -display none or -nographic`);
}

function applyMonitor(_s: State, value: string, flag: string): void {
  if (value !== "none") throw new UserError(`${flag} ${value}: no monitor exists yet; use -monitor none`);
}

/** "a,b=c,,d" -> ["a", "b=c,d"]: QEMU's option lists, where ",," is a literal comma. */
export function splitSuboptions(value: string): string[] {
  const items: string[] = [];
  let current = "";
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c !== ",") {
      current += c;
    } else if (value[i + 1] === ",") {
      current += ",";
      i++;
    } else {
      items.push(current);
      current = "";
    }
  }
  items.push(current);
  return items;
}

/** "k=v" -> [k, v]; a bare word is the value of `implicitKey` when one is allowed. */
function keyValue(item: string, implicitKey?: string): [string, string] {
  const eq = item.indexOf("=");
  if (eq >= 0) return [item.slice(0, eq), item.slice(eq + 1)];
  if (implicitKey !== undefined) return [implicitKey, item];
  return [item, ""];
}

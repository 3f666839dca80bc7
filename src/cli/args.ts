// QEMU's command-line grammar -> MachineConfig. Pure: no Node modules, no file access
// (main.ts checks the files this names), so the whole grammar is unit-tested.
//
// QEMU spells every option with one dash and also accepts two (`-m` = `--m`); an option
// either stands alone or takes the next argument verbatim, even one that starts with a
// dash (`-append -v`). Suboptions are `key=value` lists where `,,` is a literal comma.
// The last occurrence of an option wins, as in QEMU.
import { DEFAULT_CONFIG, type MachineConfig, type MachineType } from "../machine/config.js";
import { UserError } from "../machine/machine.js";
import { parseRamSize } from "./size.js";
import { applyDevice, applyDrive, applyNet, applyNetdev, applyNic, deviceHelp, finishDevices } from "./device-args.js";

/** What the project's default guest (guest/paths.ts) contributes to --default-guest. */
export interface DefaultGuest {
  kernel: string;
  initrd: string;
  append: string;
}

export interface ParseOptions {
  /** Supplies the default guest's files; needed only when --default-guest is given. */
  defaultGuest?: () => DefaultGuest;
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
];

/** -d items the CPU and board understand. */
export const DEBUG_ITEMS: ReadonlyArray<readonly [string, string]> = [
  ["in_asm", "show target assembly code for each translated block"],
  ["int", "show interrupts and exceptions"],
  ["exec", "show trace before each executed block"],
  ["cpu", "show CPU registers before entering a block"],
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
  "nodefaults", "no-shutdown", "msg", "seed", "enable-kvm",
]);

interface State {
  config: MachineConfig;
  /** -serial as given; -nographic and the default both mean mon:stdio. */
  serial?: MachineConfig["serial"];
  defaultGuest: boolean;
  /** -snapshot: every drive gets snapshot=on once the line is read. */
  snapshot: boolean;
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
  if (name === "enable-kvm") return KVM_ERROR;
  if (name === "cpu") return "not supported yet (the CPU is always RV64GC)";
  return "not supported yet";
}

function nonEmpty(value: string, flag: string, what: string): string {
  if (value === "") throw new UserError(`${flag}: requires ${what}`);
  return value;
}

function applyDefaultGuest(s: State, _value: string, flag: string): void {
  if (!s.opts.defaultGuest) throw new UserError(`${flag}: the default guest is not available`);
  const guest = s.opts.defaultGuest();
  // Same as -M virt -m 256M -nographic -bios default -kernel .. -initrd .. -append ..
  Object.assign(s.config, {
    machine: "virt",
    memBytes: 256 * 1024 * 1024,
    bios: "default",
    kernel: guest.kernel,
    initrd: guest.initrd,
    append: guest.append,
  });
  s.defaultGuest = true;
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
        break;
      case "dumpdtb":
        s.config.dumpDtb = nonEmpty(val, `${flag} dumpdtb=`, "a file name");
        break;
      case "accel":
        s.config.accel = accelerator(val, `${flag} ${value}`);
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
    s.config.memBytes = parseRamSize(val, flag);
  });
}

const SMP_KEYS = new Set(["cpus", "maxcpus", "sockets", "dies", "clusters", "cores", "threads"]);

/** -smp [cpus=]N[,maxcpus=..,sockets=..,cores=..,threads=..]: only 1 for now. */
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
  if (total > 1) throw new UserError(`${flag} ${value}: only 1 CPU is supported for now`);
  s.config.smp = 1;
}

function applySerial(s: State, value: string, flag: string): void {
  const backend = SERIAL_BACKENDS.find((b) => b === value);
  if (!backend) {
    throw new UserError(`${flag} ${value}: unsupported serial backend (use mon:stdio, stdio or none)`);
  }
  if (s.serial !== undefined) throw new UserError(`${flag} ${value}: only one serial port (UART0) exists`);
  s.serial = backend;
}

/** -accel tcg[,thread=single|multi,tb-size=N]; `kvm:tcg` falls back to tcg as in QEMU. */
function applyAccel(s: State, value: string, flag: string): void {
  if (value === "help" || value === "?") {
    s.result = { kind: "print", text: "Accelerators supported in tsvisor:\ntcg\n" };
    return;
  }
  s.config.accel = accelerator(value, `${flag} ${value}`);
}

/** Checks an accelerator with its options; `where` starts the error line. */
function accelerator(value: string, where: string): MachineConfig["accel"] {
  const [name, ...options] = splitSuboptions(value);
  const candidates = name.split(":");
  if (!candidates.includes("tcg")) {
    if (candidates.includes("kvm")) throw new UserError(`${where}: ${KVM_ERROR}`);
    throw new UserError(`${where}: no accelerator named '${name}' (use tcg)`);
  }
  for (const option of options) {
    const [key, val] = keyValue(option);
    const ok = (key === "thread" && (val === "single" || val === "multi")) ||
      (key === "tb-size" && /^\d+$/.test(val)) ||
      (key === "split-wx" && (val === "on" || val === "off"));
    if (!ok) throw new UserError(`${where}: unknown or invalid tcg option '${option}'`);
  }
  return "tcg";
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

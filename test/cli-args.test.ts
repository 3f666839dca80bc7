// The QEMU command-line grammar -> MachineConfig.
import { test } from "node:test";
import assert from "node:assert/strict";
import { inputFiles, parseArgs, splitSuboptions, type CliCommand } from "../src/cli/args.js";
import { DEFAULT_CONFIG, type MachineConfig } from "../src/machine/config.js";
import { UserError } from "../src/machine/machine.js";

const M = 1024 * 1024;
const guest = { kernel: "/cache/Image", initrd: "/cache/initramfs.cpio.gz", append: "console=ttyS0 quiet" };

function config(...argv: string[]): MachineConfig {
  const cmd = parseArgs(argv, { defaultGuest: () => guest });
  assert.equal(cmd.kind, "run");
  return (cmd as Extract<CliCommand, { kind: "run" }>).config;
}

/** Asserts the exact one-line message (after "tsvisor: ") of a UserError. */
function fails(argv: string[], message: string | RegExp): void {
  assert.throws(() => parseArgs(argv), (err: Error) => {
    assert.ok(err instanceof UserError, `UserError expected, got ${err}`);
    assert.ok(!err.message.includes("\n"), "one line");
    if (typeof message === "string") assert.equal(err.message, message);
    else assert.match(err.message, message);
    return true;
  });
}

test("no flags gives the default configuration with mon:stdio", () => {
  assert.deepEqual(config(), { ...DEFAULT_CONFIG, serial: "mon:stdio" });
});

test("a full QEMU Linux command line", () => {
  const c = config("-M", "virt", "-m", "256M", "-nographic", "-bios", "default", "-kernel", "Image",
    "-initrd", "rd.gz", "-append", "console=ttyS0 earlycon", "-smp", "1", "-accel", "tcg", "-no-reboot");
  assert.equal(c.machine, "virt");
  assert.equal(c.memBytes, 256 * M);
  assert.equal(c.bios, "default");
  assert.equal(c.kernel, "Image");
  assert.equal(c.initrd, "rd.gz");
  assert.equal(c.append, "console=ttyS0 earlycon");
  assert.equal(c.smp, 1);
  assert.equal(c.accel, "tcg");
  assert.equal(c.noReboot, true);
  assert.equal(c.serial, "mon:stdio");
});

test("one dash or two", () => {
  assert.deepEqual(config("--M", "spike", "--m", "64", "--kernel", "k", "--nographic"),
    config("-M", "spike", "-m", "64", "-kernel", "k", "-nographic"));
  assert.equal(config("--bios", "none").bios, "none");
});

test("-machine and -M: type, dumpdtb, accel, and dumpdtb alone keeps the board", () => {
  assert.equal(config("-machine", "spike").machine, "spike");
  assert.equal(config("-machine", "type=spike").machine, "spike");
  const c = config("-M", "virt,dumpdtb=out.dtb");
  assert.equal(c.machine, "virt");
  assert.equal(c.dumpDtb, "out.dtb");
  const d = config("-M", "spike", "-machine", "dumpdtb=x.dtb");
  assert.equal(d.machine, "spike");
  assert.equal(d.dumpDtb, "x.dtb");
  assert.equal(config("-machine", "virt,dumpdtb=a,,b.dtb").dumpDtb, "a,b.dtb");
  assert.equal(config("-machine", "virt,accel=tcg").accel, "tcg");
  fails(["-M", "pc"], "-M pc: unsupported machine type (-M help lists them)");
  fails(["-machine", "virt,aia=aplic"], "-machine virt,aia=aplic: unknown machine option 'aia=aplic'");
  fails(["-machine", "virt,accel=kvm"], "-machine virt,accel=kvm: KVM needs an x86-64 guest; use -accel tcg");
  fails(["-M", "virt,dumpdtb="], /dumpdtb=: requires a file name/);
});

test("-m forms", () => {
  assert.equal(config("-m", "size=512M").memBytes, 512 * M);
  assert.equal(config("-m", "1G").memBytes, 1024 * M);
  assert.equal(config("-m", "2048k").memBytes, 2 * M);
  fails(["-m", "12Q"], /^-m 12Q: invalid RAM size/);
  fails(["-m", "0"], "-m 0: RAM size must be greater than zero");
  fails(["-m", "256M,maxmem=1G"], "-m 256M,maxmem=1G: 'maxmem' is not supported (only size)");
});

test("-smp: one CPU in any spelling, more is refused clearly", () => {
  assert.equal(config("-smp", "1").smp, 1);
  assert.equal(config("-smp", "cpus=1").smp, 1);
  assert.equal(config("-smp", "1,sockets=1,cores=1,threads=1,maxcpus=1").smp, 1);
  fails(["-smp", "2"], "-smp 2: only 1 CPU is supported for now");
  fails(["-smp", "cpus=4"], "-smp cpus=4: only 1 CPU is supported for now");
  fails(["-smp", "1,cores=2"], "-smp 1,cores=2: only 1 CPU is supported for now");
  fails(["-smp", "0"], "-smp 0: 'cpus' must be a positive number");
  fails(["-smp", "two"], "-smp two: 'cpus' must be a positive number");
  fails(["-smp", "1,bogus=1"], "-smp 1,bogus=1: unknown option 'bogus'");
});

test("-bios, -kernel, -initrd, -dtb, -append take their argument verbatim", () => {
  assert.equal(config("-bios", "fw_jump.bin").bios, "fw_jump.bin");
  assert.equal(config("-dtb", "board.dtb").dtb, "board.dtb");
  assert.equal(config("-append", "-v --x").append, "-v --x");
  assert.equal(config("-append", "").append, "");
  assert.equal(config("-kernel", "a", "-kernel", "b").kernel, "b", "the last one wins");
  fails(["-kernel", ""], "-kernel: requires a file name");
  fails(["-bios", ""], "-bios: requires a file name, default or none");
});

test("the files to check before booting, with their flags", () => {
  assert.deepEqual(inputFiles(config("-kernel", "k", "-initrd", "i", "-dtb", "d", "-bios", "b")), [
    { flag: "-bios", path: "b" },
    { flag: "-kernel", path: "k" },
    { flag: "-initrd", path: "i" },
    { flag: "-dtb", path: "d" },
  ]);
  assert.deepEqual(inputFiles(config("-bios", "none")), []);
  assert.deepEqual(inputFiles(config()), []);
});

test("-serial and -nographic", () => {
  assert.equal(config("-nographic").serial, "mon:stdio");
  assert.equal(config("-serial", "stdio").serial, "stdio");
  assert.equal(config("-nographic", "-serial", "stdio").serial, "stdio");
  assert.equal(config("-serial", "stdio", "-nographic").serial, "stdio");
  assert.equal(config("-serial", "none").serial, "none");
  assert.equal(config("-serial", "mon:stdio").serial, "mon:stdio");
  fails(["-serial", "pty"], "-serial pty: unsupported serial backend (use mon:stdio, stdio or none)");
  fails(["-serial", "stdio", "-serial", "none"], "-serial none: only one serial port (UART0) exists");
});

test("-accel: tcg with options; kvm is refused with the reason", () => {
  assert.equal(config("-accel", "tcg").accel, "tcg");
  assert.equal(config("-accel", "tcg,thread=single").accel, "tcg");
  assert.equal(config("-accel", "tcg,thread=multi,tb-size=64").accel, "tcg");
  assert.equal(config("-accel", "kvm:tcg").accel, "tcg");
  fails(["-accel", "kvm"], "-accel kvm: KVM needs an x86-64 guest; use -accel tcg");
  fails(["-enable-kvm"], "-enable-kvm: KVM needs an x86-64 guest; use -accel tcg");
  fails(["-accel", "hvf"], "-accel hvf: no accelerator named 'hvf' (use tcg)");
  fails(["-accel", "tcg,thread=many"], "-accel tcg,thread=many: unknown or invalid tcg option 'thread=many'");
});

test("-d and -D", () => {
  assert.deepEqual(config().debug, []);
  assert.deepEqual(config("-d", "in_asm,int,exec,cpu").debug, ["in_asm", "int", "exec", "cpu"]);
  assert.deepEqual(config("-d", "int", "-D", "trace.log").debug, ["int"]);
  assert.equal(config("-D", "trace.log").debugFile, "trace.log");
  assert.deepEqual(config("-d", "int", "-d", "exec").debug, ["exec"], "the last -d wins, as in QEMU");
  fails(["-d", "int,bogus"], "-d int,bogus: unknown log item 'bogus' (-d help lists them)");
  fails(["-D", ""], "-D: requires a file name");
});

test("help listings end parsing and print", () => {
  for (const argv of [["-d", "help"], ["-M", "help"], ["-machine", "?"], ["-accel", "help"], ["-display", "help"]]) {
    const cmd = parseArgs([...argv, "-bogus"]);
    assert.equal(cmd.kind, "print", argv.join(" "));
  }
  const d = parseArgs(["-d", "help"]) as { text: string };
  for (const item of ["in_asm", "int", "exec", "cpu"]) assert.match(d.text, new RegExp(`^${item} `, "m"));
  assert.match((parseArgs(["-M", "help"]) as { text: string }).text, /^virt .*\n/m);
});

test("-display none and -monitor none are accepted; others say why not", () => {
  config("-display", "none", "-monitor", "none");
  fails(["-display", "gtk"], "-display gtk: no display exists; use -display none or -nographic");
  fails(["-monitor", "stdio"], "-monitor stdio: no monitor exists yet; use -monitor none");
});

test("help and version in every spelling", () => {
  for (const flag of ["-h", "--h", "-help", "--help"]) assert.deepEqual(parseArgs([flag]), { kind: "help" });
  for (const flag of ["-version", "--version"]) assert.deepEqual(parseArgs([flag]), { kind: "version" });
  assert.deepEqual(parseArgs(["-m", "256M", "--help", "-bogus"]), { kind: "help" });
});

test("--default-guest is -M virt -m 256M -bios default -kernel -initrd -append; later flags override", () => {
  const cmd = parseArgs(["--default-guest"], { defaultGuest: () => guest });
  assert.deepEqual(cmd, {
    kind: "run",
    defaultGuest: true,
    config: { ...DEFAULT_CONFIG, memBytes: 256 * M, serial: "mon:stdio", ...guest },
  });
  const c = config("-m", "64M", "-M", "spike", "--default-guest", "-m", "1G", "-append", "console=hvc0", "-d", "int");
  assert.equal(c.memBytes, 1024 * M);
  assert.equal(c.machine, "virt");
  assert.equal(c.append, "console=hvc0");
  assert.equal(c.kernel, guest.kernel);
  assert.deepEqual(c.debug, ["int"]);
  assert.equal(config("-default-guest", "-serial", "stdio").serial, "stdio");
  fails(["--default-guest"], "--default-guest: the default guest is not available");
});

test("unknown options, missing arguments and stray words", () => {
  fails(["-foo"], "-foo: invalid option");
  fails(["--foo"], "--foo: invalid option");
  fails(["-m"], "-m: requires an argument");
  fails(["-kernel", "k", "--append"], "--append: requires an argument");
  fails(["disk.img"], "disk.img: unexpected argument (disk images are not supported yet)");
  fails(["-"], /^-: unexpected argument/);
  fails(["-drive", "file=x"], "-drive: not supported yet");
  fails(["-cpu", "rv64"], "-cpu: not supported yet (the CPU is always RV64GC)");
});

test("suboption lists use ,, for a literal comma", () => {
  assert.deepEqual(splitSuboptions("a,b=c,,d,e"), ["a", "b=c,d", "e"]);
  assert.deepEqual(splitSuboptions(""), [""]);
  assert.deepEqual(splitSuboptions("x,,"), ["x,"]);
});

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

test("-accel tcg: the translator's options", () => {
  const c = config("-accel", "tcg,jit=on,jit-threshold=300,jit-tier-up=1");
  assert.deepEqual([c.jit, c.jitThreshold, c.jitTierUp], [true, 300, 1]);
  assert.equal(config("-accel", "tcg,jit=off").jit, false);
  assert.equal(config().jitTierUp, 100_000);
  fails(["-accel", "tcg,jit-threshold=0"], "-accel tcg,jit-threshold=0: jit-threshold=0: expected a number from 1 to 65535");
  fails(["-accel", "tcg,jit-tier-up=x"], "-accel tcg,jit-tier-up=x: jit-tier-up=x: expected a number from 1 to 2147483647");
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
  fails(["disk.img"], "disk.img: unexpected argument (a disk image is -drive file=IMAGE,format=raw)");
  fails(["-"], /^-: unexpected argument/);
  fails(["-hda", "x"], "-hda: not supported yet");
  fails(["-cpu", "rv64"], "-cpu: not supported yet (the CPU is always RV64GC)");
});

test("suboption lists use ,, for a literal comma", () => {
  assert.deepEqual(splitSuboptions("a,b=c,,d,e"), ["a", "b=c,d", "e"]);
  assert.deepEqual(splitSuboptions(""), [""]);
  assert.deepEqual(splitSuboptions("x,,"), ["x,"]);
});

test("-drive: every option, QEMU's defaults, generated ids", () => {
  const c = config("-drive", "file=a.img,format=raw,if=virtio", "-drive", "file=b,,c.qcow2,format=qcow2,if=none,id=d1,readonly=on,cache=unsafe,snapshot=on");
  assert.deepEqual(c.drives, [
    { id: "virtio0", file: "a.img", interface: "virtio", readOnly: false, cache: "writeback", snapshot: false, format: "raw" },
    { id: "d1", file: "b,c.qcow2", format: "qcow2", interface: "none", readOnly: true, cache: "unsafe", snapshot: true },
  ]);
  // d1 is if=none and unused by a device: allowed (QEMU too).
  assert.equal(config("-drive", "file=x").drives[0].format, undefined, "probed later");
  assert.deepEqual(inputFiles(c).filter((f) => f.flag === "-drive").map((f) => f.path), ["a.img", "b,c.qcow2"]);
  assert.deepEqual(DEFAULT_CONFIG.drives, [], "the defaults are never mutated");
});

test("-snapshot applies to every drive", () => {
  const c = config("-snapshot", "-drive", "file=a", "-drive", "file=b,if=none,id=x");
  assert.deepEqual(c.drives.map((d) => d.snapshot), [true, true]);
});

test("-device drivers and their references", () => {
  const c = config("-drive", "file=a,if=none,id=hd", "-device", "virtio-blk-device,drive=hd",
    "-netdev", "user,id=n0,hostfwd=tcp::2222-:22,hostfwd=udp:127.0.0.1:5353-10.0.2.15:53",
    "-device", "virtio-net-device,netdev=n0,mac=52:54:00:aa:bb:cc", "-device", "virtio-rng-device",
    "-device", "virtio-serial-device", "-device", "virtconsole");
  assert.deepEqual(c.devices.map((d) => d.driver), ["virtio-blk-device", "virtio-net-device", "virtio-rng-device", "virtio-serial-device", "virtconsole"]);
  assert.deepEqual(c.devices[1].props, { netdev: "n0", mac: "52:54:00:aa:bb:cc" });
  assert.deepEqual(c.netdevs[0].hostForwards, [
    { protocol: "tcp", hostAddress: "", hostPort: 2222, guestAddress: "", guestPort: 22 },
    { protocol: "udp", hostAddress: "127.0.0.1", hostPort: 5353, guestAddress: "10.0.2.15", guestPort: 53 },
  ]);
});

test("-netdev tap, socket and -nic", () => {
  const c = config("-netdev", "tap,id=t,ifname=tap0", "-device", "virtio-net-device,netdev=t",
    "-netdev", "socket,id=s,listen=:1234", "-device", "virtio-net-device,netdev=s",
    "-nic", "user,hostfwd=tcp::8080-:80,mac=52:54:00:00:00:01");
  assert.deepEqual(c.netdevs.map((n) => [n.type, n.options]), [
    ["tap", { ifname: "tap0" }], ["socket", { listen: ":1234" }], ["user", {}],
  ]);
  assert.equal(c.netdevs[2].hostForwards[0].hostPort, 8080);
  assert.deepEqual(c.devices[2], { driver: "virtio-net-device", props: { netdev: c.netdevs[2].id, mac: "52:54:00:00:00:01" } });
});

test("-device help lists the drivers", () => {
  const cmd = parseArgs(["-device", "help"]);
  assert.equal(cmd.kind, "print");
  assert.match((cmd as { text: string }).text, /virtio-blk-device/);
});

test("device errors are one clear line", () => {
  fails(["-drive", "format=raw"], "-drive format=raw: requires file=IMAGE");
  fails(["-drive", "file=a,format=vmdk"], "-drive file=a,format=vmdk: Unknown driver 'vmdk' (use raw or qcow2)");
  fails(["-drive", "file=a,if=ide"], /if=ide is not supported/);
  fails(["-drive", "file=a,cache=fast"], /invalid cache mode 'fast'/);
  fails(["-drive", "file=a,readonly=maybe"], /readonly=maybe must be on or off/);
  fails(["-drive", "file=a,bogus=1"], /unknown -drive option 'bogus'/);
  fails(["-drive", "file=a,if=none"], /if=none needs id=ID/);
  fails(["-drive", "file=a,id=x", "-drive", "file=b,id=x"], /duplicate drive id 'x'/);
  fails(["-device", "e1000"], "-device e1000: unknown device driver 'e1000' (-device help lists them)");
  fails(["-device", "virtio-blk-pci,drive=x"], /no PCI here: use virtio-blk-device/);
  fails(["-device", "virtio-blk-device"], "-device virtio-blk-device: requires drive=ID");
  fails(["-device", "virtio-blk-device,drive=nope"], "-device virtio-blk-device,drive=nope: no -drive with id 'nope'");
  fails(["-drive", "file=a,id=d", "-device", "virtio-blk-device,drive=d"], /drive 'd' is already in use/);
  fails(["-drive", "file=a,if=none,id=d", "-device", "virtio-blk-device,drive=d", "-device", "virtio-blk-device,drive=d"], /already in use/);
  fails(["-device", "virtio-rng-device,speed=3"], /'virtio-rng-device' has no property 'speed'/);
  fails(["-device", "virtconsole"], /needs a -device virtio-serial-device before it/);
  fails(["-device", "virtio-net-device,netdev=n"], /no -netdev with id 'n'/);
  fails(["-device", "virtio-net-device,netdev=n,mac=zz"], /invalid mac=zz/);
  fails(["-netdev", "user,id=n"], "-netdev user,id=n: no -device virtio-net-device uses it");
  fails(["-netdev", "slirp,id=n"], /unknown netdev type 'slirp'/);
  fails(["-netdev", "user"], /requires id=ID/);
  fails(["-netdev", "user,id=n,hostfwd=tcp:22"], /invalid hostfwd=tcp:22/);
  fails(["-netdev", "tap,id=n"], /tap needs ifname/);
  fails(["-netdev", "socket,id=n"], /socket needs one of listen/);
  fails(Array.from({ length: 9 }, () => ["-device", "virtio-rng-device"]).flat(), "9 virtio devices asked for; the virt board has 8 virtio-mmio slots");
});

test("-net nic -net user: the old spelling joins one NIC to one backend", () => {
  const c = config("-net", "nic,model=virtio,macaddr=52:54:00:00:00:09", "-net", "user,hostfwd=tcp::2222-:22");
  assert.deepEqual(c.netdevs.map((n) => [n.id, n.type, n.hostForwards.length]), [["__net0", "user", 1]]);
  assert.deepEqual(c.devices, [{ driver: "virtio-net-device", props: { netdev: "__net0", mac: "52:54:00:00:00:09" } }]);
  assert.deepEqual(config("-net", "none").devices, []);
  fails(["-net", "nic"], /needs one -net nic and one -net user/);
  fails(["-net", "nic,model=e1000", "-net", "user"], /only model=virtio/);
  fails(["-net", "user,id=x", "-net", "nic"], /use -netdev for id=/);
});

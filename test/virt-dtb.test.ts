// The virt board's device tree (dtc accepts it without a warning; it matches QEMU 7.2's
// own where both describe the same device), where images land in RAM, and the errors a
// user can provoke with -bios/-kernel/-initrd/-dtb/-m.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createMachine } from "../src/machine/create.js";
import { UserError } from "../src/machine/machine.js";
import { readBootFiles } from "../src/machine/riscv-boot.js";
import { buildVirt, buildVirtDtb } from "../src/machine/riscv-virt.js";
import { boardContext, config, fakeHost, INSN, words } from "./board-helpers.js";
import { cells, readDtb, strings, u64s, type DtNodes } from "./dtb-reader.js";

const MiB = 1 << 20;
const haveDtc = spawnSync("dtc", ["--version"]).status === 0;
const haveQemu = spawnSync("qemu-system-riscv64", ["--version"]).status === 0;

function userError(pattern: RegExp) {
  return (err: unknown) => err instanceof UserError && pattern.test(err.message) && !err.message.includes("\n");
}

function withTmp<T>(fn: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), "tsvisor-dtb-"));
  try {
    return fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const sampleDtb = () =>
  buildVirtDtb({ memBytes: 128 * MiB, harts: 1, bootargs: "console=ttyS0", initrd: { start: 0x84200000, end: 0x84300000 } });

test("dtc decompiles the blob without a warning", { skip: !haveDtc && "dtc not installed" }, () => {
  withTmp((dir) => {
    for (const [name, blob] of [["one", sampleDtb()], ["two", buildVirtDtb({ memBytes: 2048 * MiB, harts: 2 })]] as const) {
      const file = join(dir, `${name}.dtb`);
      writeFileSync(file, blob);
      const r = spawnSync("dtc", ["-I", "dtb", "-O", "dts", "-o", join(dir, `${name}.dts`), file], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stderr, "", `dtc warned about the ${name}-hart tree`);
    }
  });
});

test("the nodes and properties Linux and OpenSBI look for", () => {
  const dt = readDtb(sampleDtb());
  const prop = (node: string, name: string) => {
    const p = dt.get(node)?.get(name);
    assert.ok(p, `${node} ${name}`);
    return p;
  };
  assert.deepEqual(strings(prop("/", "compatible")), ["riscv-virtio"]);
  assert.deepEqual(strings(prop("/", "model")), ["riscv-virtio,qemu"]);
  assert.deepEqual(cells(prop("/", "#address-cells")), [2]);
  assert.deepEqual(strings(prop("/chosen", "bootargs")), ["console=ttyS0"]);
  assert.deepEqual(strings(prop("/chosen", "stdout-path")), ["/soc/serial@10000000"]);
  assert.deepEqual(u64s(prop("/chosen", "linux,initrd-start")), [0x84200000n]);
  assert.deepEqual(u64s(prop("/chosen", "linux,initrd-end")), [0x84300000n]);
  assert.deepEqual(u64s(prop("/memory@80000000", "reg")), [0x80000000n, BigInt(128 * MiB)]);
  assert.deepEqual(cells(prop("/cpus", "timebase-frequency")), [10_000_000]);
  assert.deepEqual(strings(prop("/cpus/cpu@0", "riscv,isa")), ["rv64imafdc"]);
  assert.deepEqual(strings(prop("/cpus/cpu@0", "mmu-type")), ["riscv,sv48"]);
  assert.deepEqual(strings(prop("/cpus/cpu@0/interrupt-controller", "compatible")), ["riscv,cpu-intc"]);
  assert.deepEqual(strings(prop("/soc/clint@2000000", "compatible")), ["sifive,clint0", "riscv,clint0"]);
  assert.deepEqual(strings(prop("/soc/plic@c000000", "compatible")), ["sifive,plic-1.0.0", "riscv,plic0"]);
  assert.deepEqual(cells(prop("/soc/plic@c000000", "riscv,ndev")), [0x35]);
  assert.deepEqual(strings(prop("/soc/serial@10000000", "compatible")), ["ns16550a"]);
  assert.deepEqual(cells(prop("/soc/serial@10000000", "interrupts")), [10]);
  assert.deepEqual(cells(prop("/soc/rtc@101000", "interrupts")), [11]);
  assert.deepEqual(strings(prop("/soc/test@100000", "compatible")), ["sifive,test1", "sifive,test0", "syscon"]);
  assert.deepEqual(cells(prop("/poweroff", "value")), [0x5555]);
  assert.deepEqual(cells(prop("/reboot", "value")), [0x7777]);
  assert.ok(!readDtb(buildVirtDtb({ memBytes: MiB, harts: 1 })).get("/chosen")!.has("bootargs"));
});

/** Phandle cells replaced by the path of the node they name, so two trees compare. */
const PHANDLE_PROPS: Record<string, number> = {
  // property -> cells per entry (the phandle is the first cell of each entry)
  "interrupts-extended": 2,
  "interrupt-parent": 1,
  regmap: 1,
  cpu: 1,
};

function resolved(dt: DtNodes): Map<string, Map<string, string>> {
  const byPhandle = new Map<number, string>();
  for (const [path, props] of dt) {
    const ph = props.get("phandle");
    if (ph) byPhandle.set(cells(ph)[0], path);
  }
  const out = new Map<string, Map<string, string>>();
  for (const [path, props] of dt) {
    const m = new Map<string, string>();
    for (const [name, value] of props) {
      if (name === "phandle") continue;
      const stride = PHANDLE_PROPS[name];
      if (stride === undefined) m.set(name, Buffer.from(value).toString("hex"));
      else m.set(name, cells(value).map((c, i) => (i % stride === 0 ? byPhandle.get(c) : c)).join(","));
    }
    out.set(path, m);
  }
  return out;
}

test("every node matches QEMU 7.2's virt tree", { skip: !haveQemu && "qemu-system-riscv64 not installed" }, () => {
  const qemuBlob = withTmp((dir) => {
    const file = join(dir, "q.dtb");
    execFileSync("qemu-system-riscv64", ["-M", `virt,dumpdtb=${file}`, "-m", "128M", "-nographic"], { stdio: "pipe" });
    return new Uint8Array(readFileSync(file));
  });
  const qemu = resolved(readDtb(qemuBlob));
  const ours = resolved(readDtb(buildVirtDtb({ memBytes: 128 * MiB, harts: 1 })));
  // Where we knowingly differ: the ISA we implement, the PLIC's source count, and an
  // #address-cells that keeps dtc quiet.
  const differs = new Set(["/cpus/cpu@0 riscv,isa", "/soc/plic@c000000 riscv,ndev", "/cpus/cpu@0/interrupt-controller #address-cells"]);
  for (const [path, props] of ours) {
    const theirs = qemu.get(path);
    assert.ok(theirs, `QEMU has no ${path}`);
    for (const [name, value] of props) {
      if (differs.has(`${path} ${name}`)) continue;
      assert.equal(value, theirs.get(name), `${path} ${name}`);
    }
  }
});

/** An Image header claiming `imageSize` bytes of RAM. */
function kernelImage(fileSize: number, imageSize: number): Uint8Array {
  const b = new Uint8Array(fileSize);
  const v = new DataView(b.buffer);
  v.setUint32(0, INSN.loop, true);
  v.setBigUint64(0x08, 0x200000n, true);
  v.setBigUint64(0x10, BigInt(imageSize), true);
  b.set(new TextEncoder().encode("RISCV"), 0x30);
  b.set([0x52, 0x53, 0x43, 0x05], 0x38);
  return b;
}

function bootVirt(files: Record<string, Uint8Array>, overrides: Parameters<typeof config>[0]) {
  const host = fakeHost(files);
  const cfg = config(overrides);
  const { ctx } = boardContext(cfg, host, readBootFiles(cfg, host));
  return buildVirt(ctx);
}

test("firmware at the RAM base, kernel at +2 MiB, initrd halfway, FDT at the top", () => {
  const fw = words(INSN.loop);
  const kernel = kernelImage(64 * 1024, 8 * MiB);
  const initrd = new Uint8Array(MiB).fill(0x5a);
  const board = bootVirt(
    { "fw.bin": fw, Image: kernel, "initrd.cpio": initrd },
    { bios: "fw.bin", kernel: "Image", initrd: "initrd.cpio", append: "console=ttyS0 quiet", memBytes: 128 * MiB },
  );
  const { mem, bus } = board;
  assert.deepEqual(mem.bytes(0x80000000, 4), fw);
  assert.deepEqual(mem.bytes(0x80200000, kernel.length), kernel);
  assert.deepEqual(mem.bytes(0x84200000, initrd.length), initrd);
  assert.deepEqual(mem.bytes(0x87e00000, board.dtb.length), board.dtb);
  const chosen = readDtb(board.dtb).get("/chosen")!;
  assert.deepEqual(strings(chosen.get("bootargs")!), ["console=ttyS0 quiet"]);
  assert.deepEqual(u64s(chosen.get("linux,initrd-start")!), [0x84200000n]);
  assert.deepEqual(u64s(chosen.get("linux,initrd-end")!), [0x84300000n]);
  // The ROM: start at the firmware, FDT pointer, next_addr = kernel.
  assert.equal(bus.read(0x1018, 4), 0x80000000);
  assert.equal(bus.read(0x1020, 4), 0x87e00000);
  assert.equal(bus.read(0x1038, 4), 0x80200000);
  // An empty virtio-mmio slot answers like QEMU's.
  assert.deepEqual([bus.read(0x10001000, 4), bus.read(0x10001004, 4), bus.read(0x10001008, 4)], [0x74726976, 2, 0]);
  assert.deepEqual([bus.read(0x10008000, 4), bus.read(0x10009000, 4)], [0x74726976, undefined]);
});

test("the kernel goes at the first 2 MiB boundary after a large firmware", () => {
  const board = bootVirt({ "fw.bin": new Uint8Array(3 * MiB), Image: kernelImage(4096, 0) }, { bios: "fw.bin", kernel: "Image" });
  assert.equal(board.bus.read(0x1038, 4), 0x80400000);
});

test("an initrd too big for its usual place goes just below the FDT", () => {
  const initrd = new Uint8Array(70 * MiB + 123);
  const board = bootVirt(
    { "fw.bin": words(INSN.loop), Image: kernelImage(4096, 4 * MiB), initrd },
    { bios: "fw.bin", kernel: "Image", initrd: "initrd", memBytes: 128 * MiB },
  );
  const start = Math.floor((0x87e00000 - initrd.length) / 4096) * 4096;
  const chosen = readDtb(board.dtb).get("/chosen")!;
  assert.deepEqual(u64s(chosen.get("linux,initrd-start")!), [BigInt(start)]);
  assert.deepEqual(u64s(chosen.get("linux,initrd-end")!), [BigInt(start + initrd.length)]);
});

test("images that do not fit in RAM are UserErrors naming the file", () => {
  const fw = words(INSN.loop);
  assert.throws(
    () => bootVirt({ "fw.bin": fw, Image: kernelImage(4096, 4 * MiB), big: new Uint8Array(60 * MiB) }, { bios: "fw.bin", kernel: "Image", initrd: "big", memBytes: 64 * MiB }),
    userError(/^big: \d+ bytes do not fit in RAM between the kernel/),
  );
  assert.throws(
    () => bootVirt({ "fw.bin": fw, Image: kernelImage(4096, 200 * MiB) }, { bios: "fw.bin", kernel: "Image", memBytes: 128 * MiB }),
    userError(/^Image: \d+ bytes at 0x80200000 do not fit in RAM/),
  );
  assert.throws(
    () => bootVirt({ "fw.bin": new Uint8Array(130 * MiB) }, { bios: "fw.bin", memBytes: 128 * MiB }),
    userError(/^fw\.bin: .* do not fit in RAM/),
  );
});

test("the default firmware missing tells how to install it", async () => {
  const host = fakeHost({});
  await assert.rejects(createMachine(config({}), host), userError(/apt-get install opensbi/));
});

test("-initrd and -append need -kernel; -dtb must be a device tree; -m must be sane", async () => {
  const host = fakeHost({ "i.cpio": new Uint8Array(4), "bad.dtb": new Uint8Array(64) });
  await assert.rejects(createMachine(config({ bios: "none", initrd: "i.cpio" }), host), userError(/-initrd only allowed with -kernel/));
  await assert.rejects(createMachine(config({ bios: "none", append: "x" }), host), userError(/-append only allowed with -kernel/));
  await assert.rejects(createMachine(config({ bios: "none", dtb: "bad.dtb" }), host), userError(/^bad\.dtb: not a device tree blob/));
  host.files.set("good.dtb", buildVirtDtb({ memBytes: 128 * MiB, harts: 1 }));
  host.files.set("k", new Uint8Array(4));
  await assert.rejects(
    createMachine(config({ bios: "none", kernel: "k", append: "quiet", dtb: "good.dtb" }), host),
    userError(/^-dtb good\.dtb: cannot be combined with -append or -initrd/),
  );
  await assert.rejects(createMachine(config({ bios: "none", memBytes: 1000 }), host), userError(/multiple of 64 KiB/));
  await assert.rejects(createMachine(config({ bios: "none", kernel: "nope" }), host), userError(/^nope: No such file/));
});

test("an ELF kernel over the firmware is refused", () => {
  // A minimal ELF64 RISC-V executable with one segment at 0x80000000.
  const elf = new Uint8Array(64 + 56 + 4);
  const v = new DataView(elf.buffer);
  elf.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
  v.setUint16(16, 2, true);
  v.setUint16(18, 243, true);
  v.setBigUint64(24, 0x80000000n, true);
  v.setBigUint64(32, 64n, true);
  v.setUint16(54, 56, true);
  v.setUint16(56, 1, true);
  v.setUint32(64, 1, true);
  v.setBigUint64(64 + 8, 120n, true);
  v.setBigUint64(64 + 24, 0x80000000n, true);
  v.setBigUint64(64 + 32, 4n, true);
  v.setBigUint64(64 + 40, 4n, true);
  assert.throws(
    () => bootVirt({ "fw.bin": words(INSN.loop), "k.elf": elf }, { bios: "fw.bin", kernel: "k.elf" }),
    userError(/^k\.elf: loads at 0x80000000, over the firmware/),
  );
  // Without firmware the same ELF is the M-mode program the ROM jumps to.
  const board = bootVirt({ "k.elf": elf }, { bios: "none", kernel: "k.elf" });
  assert.equal(board.bus.read(0x1018, 4), 0x80000000);
});

test("-machine dumpdtb writes the tree and exits 0; -dtb replaces it", async () => {
  const host = fakeHost({ "fw.bin": words(INSN.loop), Image: kernelImage(4096, 0) });
  const m = await createMachine(config({ bios: "fw.bin", kernel: "Image", append: "root=/dev/vda", dumpDtb: "out.dtb" }), host);
  assert.equal(await m.run(), 0);
  const dumped = host.written.get("out.dtb")!;
  assert.deepEqual(strings(readDtb(dumped).get("/chosen")!.get("bootargs")!), ["root=/dev/vda"]);

  host.files.set("mine.dtb", dumped);
  const board = bootVirt(Object.fromEntries(host.files), { bios: "fw.bin", dtb: "mine.dtb", memBytes: 64 * MiB });
  assert.deepEqual(board.dtb, dumped);
  assert.deepEqual(board.mem.bytes(0x80000000 + 62 * MiB, dumped.length), dumped);
});

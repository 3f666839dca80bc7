// The virt board's virtio slots: devices from the configuration fill them from the last
// one down (as QEMU), the device tree lists all eight, images are opened once per machine.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BlockIoError, type BlockBackend } from "../src/block/block-backend.js";
import type { DriveConfig } from "../src/machine/config.js";
import { buildVirt } from "../src/machine/riscv-virt.js";
import { readBootFiles } from "../src/machine/riscv-boot.js";
import { UserError } from "../src/machine/machine.js";
import { parseArgs, type CliCommand } from "../src/cli/args.js";
import { boardContext, fakeHost, INSN, words } from "./board-helpers.js";
import { cells, readDtb, strings } from "./dtb-reader.js";

function disk(size: number): BlockBackend {
  return {
    size, readOnly: false,
    read: (_o, buf) => buf.fill(1), write: () => {}, flush: () => {},
    discard: () => {}, writeZeroes: () => { throw new BlockIoError("no"); }, close: () => {},
  };
}

function board(...argv: string[]) {
  const cmd = parseArgs(["-bios", "fw.bin", ...argv]) as Extract<CliCommand, { kind: "run" }>;
  const host = fakeHost({ "fw.bin": words(INSN.loop) });
  const opened: string[] = [];
  host.openDrive = (d: DriveConfig) => {
    opened.push(d.file);
    return disk(d.file === "big" ? 1 << 20 : 4096);
  };
  const { ctx } = boardContext(cmd.config, host, readBootFiles(cmd.config, host));
  return { ctx, opened, b: buildVirt(ctx), host };
}

const slot = (i: number) => 0x10001000 + 0x1000 * i;

test("devices fill the slots from the last one down; the rest answer DeviceID 0", () => {
  const { b } = board("-drive", "file=big,format=raw", "-device", "virtio-rng-device", "-device", "virtio-console-device");
  const ids = Array.from({ length: 8 }, (_, i) => b.bus.read(slot(i) + 8, 4));
  assert.deepEqual(ids, [0, 0, 0, 0, 0, 3, 4, 2]);
  assert.equal(b.bus.read(slot(7) + 0x100, 4), 2048, "capacity of the 1 MiB image");
});

test("the device tree lists all eight transports, highest address first, as QEMU", () => {
  const { b } = board();
  const nodes = [...readDtb(b.dtb).keys()].filter((p) => p.startsWith("/soc/virtio_mmio@"));
  assert.deepEqual(nodes, Array.from({ length: 8 }, (_, i) => `/soc/virtio_mmio@${slot(7 - i).toString(16)}`));
  const n = readDtb(b.dtb).get("/soc/virtio_mmio@10008000")!;
  assert.deepEqual(strings(n.get("compatible")!), ["virtio,mmio"]);
  assert.deepEqual(cells(n.get("interrupts")!), [8]);
  assert.deepEqual(cells(n.get("reg")!), [0, 0x10008000, 0, 0x1000]);
});

test("a guest reset rebuilds the devices but keeps the images open", () => {
  const { ctx, opened } = board("-drive", "file=a", "-drive", "file=b,if=none,id=x", "-device", "virtio-blk-device,drive=x");
  assert.deepEqual(opened, ["a", "b"]);
  const again = buildVirt(ctx);
  assert.deepEqual(opened, ["a", "b"]);
  assert.equal(again.bus.read(slot(6) + 8, 4), 2);
});

test("a host that cannot open images refuses -drive with one line", () => {
  const cmd = parseArgs(["-bios", "fw.bin", "-drive", "file=a"]) as Extract<CliCommand, { kind: "run" }>;
  const host = fakeHost({ "fw.bin": words(INSN.loop) });
  const { ctx } = boardContext(cmd.config, host, readBootFiles(cmd.config, host));
  assert.throws(() => buildVirt(ctx), (e: Error) => e instanceof UserError && /cannot open disk images/.test(e.message));
});

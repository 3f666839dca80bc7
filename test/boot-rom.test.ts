// The reset vector: its words are QEMU's instructions (checked against objdump when
// the cross binutils are installed), its data words and fw_dynamic_info hold what
// OpenSBI reads, and on the virt board a hart started at 0x1000 arrives at the start
// address with a0 = hartid, a1 = FDT, a2 = &fw_dynamic_info.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  buildResetVector,
  FW_DYNAMIC_INFO_MAGIC,
  FW_DYNAMIC_INFO_OFFSET,
} from "../src/machine/boot-rom.js";
import { buildVirt, VIRT_MEMMAP } from "../src/machine/riscv-virt.js";
import { boardContext, config, fakeHost, INSN, words } from "./board-helpers.js";

const OBJDUMP = "riscv64-linux-gnu-objdump";
const noObjdump = spawnSync(OBJDUMP, ["--version"]).status === 0 ? false : `${OBJDUMP} not installed`;

const params = { startAddr: 0x80000000, fdtAddr: 0x87e00000, kernelEntry: 0x80200000 };

test("code words are QEMU's reset vector", () => {
  const rom = buildResetVector(params);
  const v = new DataView(rom.buffer);
  const code = [0, 1, 2, 3, 4, 5].map((i) => v.getUint32(i * 4, true));
  assert.deepEqual(code, [0x00000297, 0x02828613, 0xf1402573, 0x0202b583, 0x0182b283, 0x00028067]);
});

test("data words and fw_dynamic_info", () => {
  const rom = buildResetVector({ ...params, startAddr: 0x1_2345_6780, bootHart: 0 });
  const v = new DataView(rom.buffer);
  const u64 = (off: number) => v.getBigUint64(off, true);
  assert.equal(u64(0x18), 0x1_2345_6780n); // start_addr, both halves
  assert.equal(u64(0x20), 0x87e00000n); // fdt_laddr
  assert.equal(FW_DYNAMIC_INFO_OFFSET, 0x28);
  const info = [0, 1, 2, 3, 4, 5].map((i) => u64(FW_DYNAMIC_INFO_OFFSET + i * 8));
  assert.deepEqual(info, [BigInt(FW_DYNAMIC_INFO_MAGIC), 2n, 0x80200000n, 1n, 0n, 0n]);
  assert.equal(FW_DYNAMIC_INFO_MAGIC, 0x4942534f);
  assert.equal(rom.length, 0x28 + 48);
});

test("objdump decodes the code as auipc/addi/csrr/ld/ld/jr", { skip: noObjdump }, () => {
  const dir = mkdtempSync(join(tmpdir(), "tsvisor-rom-"));
  try {
    const file = join(dir, "rom.bin");
    writeFileSync(file, buildResetVector(params).subarray(0, 24));
    const text = execFileSync(OBJDUMP, ["-D", "-b", "binary", "-m", "riscv:rv64", "-M", "no-aliases,numeric", file], {
      encoding: "utf8",
    });
    const insns = text
      .split("\n")
      .filter((l) => /^\s+[0-9a-f]+:\t/.test(l))
      .map((l) => l.split("\t").slice(2).join(" ").replace(/\s+#.*$/, "").replace(/\s+/g, " ").trim());
    assert.deepEqual(insns, [
      "auipc x5,0x0",
      "addi x12,x5,40",
      "csrrs x10,mhartid,x0",
      "ld x11,32(x5)",
      "ld x5,24(x5)",
      "jalr x0,0(x5)",
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("on virt, the hart leaves the ROM for the kernel with a0/a1/a2 set (-bios none)", () => {
  const host = fakeHost({ "loop.bin": words(INSN.loop) });
  const cfg = config({ bios: "none", kernel: "loop.bin", memBytes: 64 << 20 });
  const { ctx } = boardContext(cfg, host, { kernel: { path: "loop.bin", bytes: host.readFile("loop.bin") } });
  const board = buildVirt(ctx);
  const cpu = board.cpus[0];
  assert.equal(cpu.pc, VIRT_MEMMAP.mrom.base);
  cpu.run(10);
  assert.equal(cpu.pc, 0x80000000);
  assert.equal(cpu.getX(10), 0n); // a0 = mhartid
  assert.equal(cpu.getX(11), BigInt(0x80000000 + (64 << 20) - (2 << 20))); // a1 = FDT
  assert.equal(cpu.getX(12), 0x1028n); // a2 = &fw_dynamic_info
  // The FDT really is there.
  assert.equal(board.mem.view.getUint32(board.mem.ram.byteOffset + (62 << 20), false), 0xd00dfeed);
  // fw_dynamic_info as the bus shows it: next_addr is the kernel.
  assert.equal(board.bus.read(0x1028, 4), FW_DYNAMIC_INFO_MAGIC);
  assert.equal(board.bus.read(0x1038, 4), 0x80000000);
});

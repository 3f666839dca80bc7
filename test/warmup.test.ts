// The interpreter's warm-up program (src/target/riscv/warmup.S, run once per process before
// a guest so that V8 optimizes the interpreter with complete type feedback): the embedded
// bytes are the source assembled, and it runs to its final WFI through every trap it means
// to exercise, on both engines.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runWarmUp } from "../src/target/riscv/warmup.js";
import { WARMUP_CODE_HEX } from "../src/target/riscv/warmup-code.js";
import { PROJECT_ROOT, haveCommand } from "./isa-build.js";

const AS = "riscv64-linux-gnu-as";

test("warmup-code.ts is warmup.S assembled", { skip: haveCommand(AS) ? false : `${AS} not installed (Debian: binutils-riscv64-linux-gnu)` }, () => {
  const dir = mkdtempSync(join(tmpdir(), "tsvisor-warmup-"));
  try {
    const run = (cmd: string, args: string[]) => {
      const r = spawnSync(cmd, args, { encoding: "utf8" });
      assert.equal(r.status, 0, `${cmd}: ${r.stderr}`);
    };
    run(AS, ["-march=rv64gc", "-o", join(dir, "w.o"), join(PROJECT_ROOT, "src/target/riscv/warmup.S")]);
    run("riscv64-linux-gnu-ld", ["-Ttext=0x80000000", "-o", join(dir, "w.elf"), join(dir, "w.o")]);
    run("riscv64-linux-gnu-objcopy", ["-O", "binary", join(dir, "w.elf"), join(dir, "w.bin")]);
    assert.equal(readFileSync(join(dir, "w.bin")).toString("hex"), WARMUP_CODE_HEX,
      "regenerate src/target/riscv/warmup-code.ts (the command is in its header)");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

for (const jit of [false, true]) {
  test(`the warm-up program ends in S-mode at its WFI after every trap it takes (jit=${jit ? "on" : "off"})`, () => {
    const traps: string[] = [];
    const cpu = runWarmUp(jit, (line) => traps.push(line));
    const count = (re: RegExp) => traps.filter((l) => re.test(l)).length;
    assert.equal(count(/interrupt cause=1 /), 3, "a software interrupt per M-mode round");
    assert.equal(count(/exception cause=5 .*tval=00007fff00000008/), 3, "a load access fault per M-mode round");
    assert.equal(count(/exception cause=7 .*tval=00007ffefffffffc/), 3, "a store access fault per M-mode round");
    assert.equal(count(/exception cause=9 pc=ffffffff8/), 3, "an ecall per S-mode round, from the Sv39 alias");
    assert.equal(count(/exception cause=2 pc=ffffffff8/), 9, "rdtime, rdcycle and rdinstret: illegal in S-mode with mcounteren 0");
    assert.equal(traps.length, 21);
    assert.ok(cpu.waiting, "it stopped at the WFI");
    assert.ok(cpu.pc < 0, "at the kernel-style address 0xffffffff8...");
    assert.ok(cpu.instret > 1000 && cpu.instret < 2000, `${cpu.instret} instructions`);
  });
}

// The `-d in_asm` disassembler against its reference, GNU objdump: test/fixtures/disasm-all.S
// (every RV64GC form, aliases, rounding modes, CSR names, compressed forms and HINTs) and a
// generated file (all 16-bit parcels, seeded random 32-bit words) are assembled with the
// cross toolchain; every line objdump prints must come out of disassemble() identically.
// The objdump tests are skipped when the cross binutils are missing.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { disassemble } from '../src/target/riscv/disasm.js';

const GCC = 'riscv64-linux-gnu-gcc';
const OBJDUMP = 'riscv64-linux-gnu-objdump';
const FIXTURE = fileURLToPath(new URL('../../test/fixtures/disasm-all.S', import.meta.url));

function hasTool(cmd: string): boolean {
  const r = spawnSync(cmd, ['--version'], { stdio: 'ignore' });
  return r.error === undefined && r.status === 0;
}
const noTools = hasTool(GCC) && hasTool(OBJDUMP)
  ? false
  : `${GCC} / ${OBJDUMP} not installed (Debian: gcc-riscv64-linux-gnu, binutils-riscv64-linux-gnu)`;

interface Line { pc: number; bits: number; text: string }

/**
 * Assembles and links `source` at 0x80000000 and returns objdump's lines with whitespace
 * runs made single spaces and the "<symbol+off>" and "# address" annotations removed.
 * The newest privileged spec is asked for, so CSRs such as menvcfg print by name, and
 * Zihintpause, so that objdump names `pause` as it does in a Linux vmlinux.
 */
function objdump(source: string): Line[] {
  const dir = mkdtempSync(join(tmpdir(), 'tsvisor-disasm-'));
  try {
    const elf = join(dir, 'a.elf');
    const gcc = spawnSync(GCC, ['-march=rv64gc_zihintpause', '-Wa,-mpriv-spec=1.12', '-nostdlib',
      '-Wl,--build-id=none', '-Ttext=0x80000000', '-o', elf, source], { encoding: 'utf8' });
    assert.equal(gcc.status, 0, `assembling ${source} failed:\n${gcc.stderr}`);
    const dump = spawnSync(OBJDUMP, ['-d', elf], { encoding: 'utf8', maxBuffer: 1 << 28 });
    assert.equal(dump.status, 0, dump.stderr);
    const lines: Line[] = [];
    for (const line of dump.stdout.split('\n')) {
      const m = /^\s*([0-9a-f]+):\t([0-9a-f]+)\s*\t(.*)$/.exec(line);
      if (!m) continue;
      const text = m[3].replace(/\s+#.*$/, '').replace(/\s+<[^>]*>$/, '').replace(/\s+/g, ' ').trim();
      lines.push({ pc: parseInt(m[1], 16), bits: parseInt(m[2], 16), text });
    }
    return lines;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function assertMatchesObjdump(lines: Line[]): void {
  const wrong = lines
    .map((l) => ({ ...l, got: disassemble(l.bits, l.pc) }))
    .filter((l) => l.got !== l.text)
    .map((l) => `${l.pc.toString(16)}: ${l.bits.toString(16)} objdump "${l.text}", got "${l.got}"`);
  assert.deepEqual(wrong.slice(0, 30), [], `${wrong.length} of ${lines.length} lines differ`);
}

/** xorshift32: the same "random" words on every run. */
function xorshift(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x;
  };
}

const MAJOR_OPCODES = [
  0x03, 0x07, 0x0f, 0x13, 0x17, 0x1b, 0x23, 0x27, 0x2f, 0x33, 0x37, 0x3b, 0x43, 0x47, 0x4b,
  0x4f, 0x53, 0x63, 0x67, 0x6f, 0x73,
];

/** Random 32-bit words, mostly with a real major opcode and often zero register fields (aliases). */
function randomWords(count: number, seed: number): number[] {
  const next = xorshift(seed);
  const words: number[] = [];
  for (let i = 0; i < count; i++) {
    let w = next();
    if (next() % 8 !== 0) w = (w & ~0x7f) | MAJOR_OPCODES[next() % MAJOR_OPCODES.length];
    if (next() % 4 === 0) w &= ~(0x1f << 7);
    if (next() % 4 === 0) w &= ~(0x1f << 15);
    if (next() % 4 === 0) w &= ~(0x1f << 20);
    if (next() % 4 === 0) w &= 0x07ffffff; // small funct7: the defined ones
    w |= 3;
    if ((w & 0x1f) === 0x1f) w &= ~4; // keep it a 32-bit encoding
    words.push(w >>> 0);
  }
  return words;
}

test('matches objdump on every RV64GC instruction form', { skip: noTools }, () => {
  const lines = objdump(FIXTURE);
  assert.ok(lines.length > 380, `only ${lines.length} instructions parsed from objdump`);
  assertMatchesObjdump(lines);
});

test('matches objdump on every 16-bit parcel and on seeded random 32-bit words', { skip: noTools }, () => {
  const src = ['\t.globl _start', '_start:'];
  for (let c = 0; c < 0x10000; c++) if ((c & 3) !== 3) src.push(`\t.insn 2, 0x${c.toString(16)}`);
  for (const w of randomWords(20000, 0x2545f491)) src.push(`\t.insn 4, 0x${w.toString(16)}`);
  const dir = mkdtempSync(join(tmpdir(), 'tsvisor-disasm-src-'));
  try {
    const file = join(dir, 'generated.S');
    writeFileSync(file, src.join('\n') + '\n');
    const lines = objdump(file);
    assert.equal(lines.length, 0xc000 + 20000);
    assertMatchesObjdump(lines);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('objdump-style text for common instructions', () => {
  const pc = 0x80000000;
  assert.equal(disassemble(0x00000297, pc), 'auipc t0,0x0');
  assert.equal(disassemble(0xff010113, pc), 'add sp,sp,-16'); // addi, as objdump 2.40 names it
  assert.equal(disassemble(0x1141, pc), 'add sp,sp,-16'); // c.addi
  assert.equal(disassemble(0x00813083, pc), 'ld ra,8(sp)');
  assert.equal(disassemble(0x234000ef, pc), 'jal 80000234');
  assert.equal(disassemble(0x00050863, pc), 'beqz a0,80000010');
  assert.equal(disassemble(0x00008067, pc), 'ret');
  assert.equal(disassemble(0x8082, pc), 'ret');
  assert.equal(disassemble(0x30529073, pc), 'csrw mtvec,t0');
  assert.equal(disassemble(0x34202573, pc), 'csrr a0,mcause');
  assert.equal(disassemble(0xc2051553, pc), 'fcvt.w.d a0,fa0,rtz');
  assert.equal(disassemble(0x0ff0000f, pc), 'fence');
  assert.equal(disassemble(0x0100000f, pc), 'pause');
  assert.equal(disassemble(0x100a252f | 0x06000000, pc), 'lr.w.aqrl a0,(s4)');
  assert.equal(disassemble(0x0000, pc), 'unimp');
  assert.equal(disassemble(0x0000707b, pc), '.4byte 0x707b'); // custom-3
  assert.equal(disassemble(0x0000707f, pc), '.4byte 0x707f'); // first word of a longer encoding
  assert.equal(disassemble(0x9c41, pc), '.2byte 0x9c41');
});

test('branch targets are unsigned 64-bit addresses, also from negative pcs', () => {
  assert.equal(disassemble(0xffdff06f, -0x80000000), 'j ffffffff7ffffffc');
  assert.equal(disassemble(0xffdff06f, 0), 'j fffffffffffffffc');
  assert.equal(disassemble(0xa001, 0x1000), 'j 1000'); // c.j .
  assert.equal(disassemble(0x7ff0006f, 2 ** 52), 'j 10000000000ffe');
  // A signed 32-bit word is the same instruction as its unsigned spelling.
  assert.equal(disassemble(0xffdff06f | 0, 16), disassemble(0xffdff06f, 16));
});

test('any 32-bit word or 16-bit parcel disassembles without throwing', () => {
  fc.assert(fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 32 - 1 }), fc.integer(), (inst, pc) => {
    const text = disassemble(inst, pc);
    assert.equal(typeof text, 'string');
    assert.ok(text.length > 0);
  }), { numRuns: 20000 });
  for (const pc of [NaN, Infinity, 0.5, 2 ** 64]) assert.match(disassemble(0x0000006f, pc), /^j [0-9a-f]+$/);
});

// Wraps generated programs into two executables that run the very same instructions:
//  - a static Linux ELF (U-mode, run by qemu-riscv64: the reference), output through
//    the `write` system call;
//  - a bare-metal spike ELF (M-mode, run by tsvisor -M spike or qemu-system-riscv64
//    -M spike), output through HTIF: the proxied `write` where the board offers it
//    (tsvisor), byte-wise console putchar where it does not (QEMU 7.2).
// Each program loads its registers from its state block, runs, stores them back and
// prints the block as one line of hex. A batch is one ELF running many programs.
// Then: parse both outputs and name the first difference. (Not a test file.)
import {
  BLOCK_BYTES, F_OFF, FCSR_OFF, SCRATCH_BYTES, X_OFF, type GenInstr, type Program,
} from "./generator.js";

const XNAMES = [
  "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1", "a0", "a1", "a2", "a3", "a4", "a5",
  "a6", "a7", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6",
];

/** Assembly shared by both harnesses: the programs and the hex dumper. */
function programsText(programs: Program[]): string {
  const out: string[] = [];
  // The programs clobber every register, so the return address waits in memory.
  out.push("\t.text", "run_programs:", "\tla t0, saved_ra", "\tsd ra, 0(t0)");
  for (const p of programs) {
    out.push(`# ---- program ${p.index} (seed ${p.seed})`, `\tla sp, block_${p.index}`);
    out.push(`\tld x1, ${FCSR_OFF}(sp)`, "\tfscsr x1");
    for (let x = 1; x < 32; x++) if (x !== 2) out.push(`\tld x${x}, ${X_OFF + 8 * x}(sp)`);
    for (let f = 0; f < 32; f++) out.push(`\tfld f${f}, ${F_OFF + 8 * f}(sp)`);
    out.push("\t.option push", "\t.option rvc");
    for (const ins of p.body) for (const line of ins.text.split("\n")) out.push(line.endsWith(":") ? line : `\t${line}`);
    out.push("\t.option pop");
    for (let x = 1; x < 32; x++) out.push(x === 2 ? `\tsd zero, ${X_OFF + 16}(sp)` : `\tsd x${x}, ${X_OFF + 8 * x}(sp)`);
    for (let f = 0; f < 32; f++) out.push(`\tfsd f${f}, ${F_OFF + 8 * f}(sp)`);
    out.push("\tfrcsr t0", `\tsd t0, ${FCSR_OFF}(sp)`, `\tsd zero, ${FCSR_OFF + 8}(sp)`);
    out.push("\tmv a0, sp", `\tli a1, ${BLOCK_BYTES}`, "\tcall dump_hex");
  }
  out.push("\tla t0, saved_ra", "\tld ra, 0(t0)", "\tret");
  out.push(`
# dump_hex(a0 = address, a1 = length): one line of lowercase hex, then write_out.
dump_hex:
	mv s10, ra
	la t0, outbuf
	la t3, hexdigits
1:	beqz a1, 2f
	lbu t1, 0(a0)
	srli t2, t1, 4
	add t2, t2, t3
	lbu t2, 0(t2)
	sb t2, 0(t0)
	andi t2, t1, 15
	add t2, t2, t3
	lbu t2, 0(t2)
	sb t2, 1(t0)
	addi t0, t0, 2
	addi a0, a0, 1
	addi a1, a1, -1
	j 1b
2:	li t1, 10
	sb t1, 0(t0)
	addi t0, t0, 1
	la a0, outbuf
	sub a1, t0, a0
	call write_out
	mv ra, s10
	ret

	.section .rodata
hexdigits: .ascii "0123456789abcdef"
	.data
	.balign 16
saved_ra: .dword 0, 0`);
  for (const p of programs) {
    out.push(`block_${p.index}:`);
    for (let i = 0; i < p.init.length; i += 16) {
      out.push("\t.byte " + Array.from(p.init.subarray(i, i + 16), (b) => `0x${b.toString(16)}`).join(","));
    }
  }
  out.push("\t.bss", "\t.balign 16", `outbuf: .skip ${2 * BLOCK_BYTES + 16}`);
  return out.join("\n") + "\n";
}

/** Static Linux executable: _start runs the programs, exit(0). */
export function linuxSource(programs: Program[]): string {
  return `# difftest batch, Linux user-mode harness
	.option nopic
	.option norelax                 # no gp-relative addressing: gp is a test register
	.text
	.globl _start
_start:
	call run_programs
	li a0, 0
	li a7, 93
	ecall

# write_out(a0 = buffer, a1 = length): write(1, ...) until done
write_out:
	mv t4, a0
	mv t5, a1
1:	blez t5, 2f
	li a0, 1
	mv a1, t4
	mv a2, t5
	li a7, 64
	ecall
	blez a0, 3f
	add t4, t4, a0
	sub t5, t5, a0
	j 1b
2:	ret
3:	li a0, 2
	li a7, 93
	ecall
${programsText(programs)}`;
}

/** Bare-metal spike executable (link with test/isa/link.ld). */
export function spikeSource(programs: Program[]): string {
  return `# difftest batch, bare-metal spike harness
	.option nopic
	.option norelax
	.section .text.init
	.globl _start
_start:
	la t0, trap
	csrw mtvec, t0
	li t0, 3 << 13                  # mstatus.FS = Dirty
	csrs mstatus, t0
	csrwi fcsr, 0
	call run_programs
	li a0, 1
	j exit

# An unexpected trap prints "TRAP mcause mepc mtval" and exits with status 3.
	.align 2
trap:
	la sp, trapregs
	csrr t0, mcause
	sd t0, 0(sp)
	csrr t0, mepc
	sd t0, 8(sp)
	csrr t0, mtval
	sd t0, 16(sp)
	la a0, trapmsg
	li a1, 5
	call write_out
	mv a0, sp
	li a1, 24
	call dump_hex
	li a0, 7
exit:
	la t0, tohost
1:	sd a0, 0(t0)
	j 1b

# write_out(a0 = buffer, a1 = length): HTIF syscall write(1, ...); where the board
# does not answer it (QEMU 7.2 has no syscall proxy), console putchar byte by byte.
write_out:
	la t0, magic
	li t1, 64
	sd t1, 0(t0)
	li t1, 1
	sd t1, 8(t0)
	sd a0, 16(t0)
	sd a1, 24(t0)
	fence
	la t2, tohost
	la t3, fromhost
1:	ld t1, 0(t2)
	bnez t1, 1b
	sd t0, 0(t2)
2:	ld t1, 0(t2)                    # served when tohost is cleared...
	bnez t1, 2b
	ld t1, 0(t3)                    # ...and answered (or not) in fromhost
	beqz t1, putchars
	sd zero, 0(t3)
	ret
putchars:
	li t4, 0x0101000000000000       # device 1 (console), command 1 (putchar)
3:	beqz a1, 6f
	lbu t1, 0(a0)
	or t1, t1, t4
4:	ld t5, 0(t2)
	bnez t5, 4b
	sd t1, 0(t2)
5:	ld t5, 0(t3)
	beqz t5, 5b
	sd zero, 0(t3)
	addi a0, a0, 1
	addi a1, a1, -1
	j 3b
6:	ret

	.data
	.balign 64
magic: .skip 64
trapmsg: .ascii "TRAP "
	.balign 8
trapregs: .skip 24

	.section .tohost, "aw", @progbits
	.balign 64
	.globl tohost
tohost: .dword 0
	.size tohost, 8
	.balign 64
	.globl fromhost
fromhost: .dword 0
	.size fromhost, 8
${programsText(programs)}`;
}

/** Splits a harness's output into one block per program; an error names what is off. */
export function parseDumps(output: string, count: number): Uint8Array[] | string {
  const lines = output.split(/\r?\n/).filter((l) => /^[0-9a-f]+$/.test(l) && l.length === 2 * BLOCK_BYTES);
  const trap = /TRAP ([0-9a-f]{48})/.exec(output);
  if (trap) {
    const b = Buffer.from(trap[1], "hex");
    const word = (i: number) => "0x" + b.readBigUInt64LE(i * 8).toString(16);
    return `program ${lines.length} trapped: mcause ${word(0)}, mepc ${word(1)}, mtval ${word(2)}`;
  }
  if (lines.length !== count) return `expected ${count} dumps, got ${lines.length}`;
  return lines.map((l) => new Uint8Array(Buffer.from(l, "hex")));
}

export interface Difference {
  /** "x5 (t0)", "f3", "fcsr" or "mem[0x1a8]" */
  what: string;
  /** Register name used to find the instruction to blame ("x5", "f3", "fcsr", "mem"). */
  resource: string;
  expected: string;
  actual: string;
}

const hex64 = (v: bigint) => "0x" + v.toString(16).padStart(16, "0");

/** The first difference between two final blocks, registers first. */
export function firstDifference(expected: Uint8Array, actual: Uint8Array): Difference | undefined {
  const e = new DataView(expected.buffer, expected.byteOffset, expected.byteLength);
  const a = new DataView(actual.buffer, actual.byteOffset, actual.byteLength);
  const word = (v: DataView, off: number) => v.getBigUint64(off, true);
  for (let x = 1; x < 32; x++) {
    const off = X_OFF + 8 * x;
    if (word(e, off) !== word(a, off)) {
      return { what: `x${x} (${XNAMES[x]})`, resource: `x${x}`, expected: hex64(word(e, off)), actual: hex64(word(a, off)) };
    }
  }
  for (let f = 0; f < 32; f++) {
    const off = F_OFF + 8 * f;
    if (word(e, off) !== word(a, off)) {
      return { what: `f${f}`, resource: `f${f}`, expected: hex64(word(e, off)), actual: hex64(word(a, off)) };
    }
  }
  if (word(e, FCSR_OFF) !== word(a, FCSR_OFF)) {
    const show = (v: bigint) => `0x${v.toString(16)} (frm ${v >> 5n}, fflags 0x${(v & 31n).toString(16)})`;
    return { what: "fcsr", resource: "fcsr", expected: show(word(e, FCSR_OFF)), actual: show(word(a, FCSR_OFF)) };
  }
  for (let off = 0; off < SCRATCH_BYTES; off += 8) {
    if (word(e, off) !== word(a, off)) {
      return { what: `mem[sp+0x${off.toString(16)}] (8 bytes)`, resource: "mem", expected: hex64(word(e, off)), actual: hex64(word(a, off)) };
    }
  }
  return undefined;
}

/** The program's listing around the last instruction that may have written `resource`. */
export function listingAround(body: GenInstr[], resource: string, context = 8): string {
  let blame = -1;
  for (let i = body.length - 1; i >= 0; i--) {
    if (body[i].writes.includes(resource)) {
      blame = i;
      break;
    }
  }
  const from = Math.max(0, (blame < 0 ? 0 : blame) - context);
  const to = Math.min(body.length, (blame < 0 ? 2 * context : blame + 4));
  const lines: string[] = [];
  for (let i = from; i < to; i++) {
    const mark = i === blame ? "=>" : "  ";
    body[i].text.split("\n").forEach((l, k) => lines.push(`${mark} ${k === 0 ? String(i).padStart(4) : "    "}  ${l}`));
  }
  const note = blame < 0 ? "(no instruction writes it: the initial value differs?)" : `(=> last instruction that writes ${resource})`;
  return `${note}\n${lines.join("\n")}`;
}

/** The initial values of the registers, for reproducing a failure by hand. */
export function describeInit(p: Program): string {
  const v = new DataView(p.init.buffer, p.init.byteOffset, p.init.byteLength);
  const xs = [];
  for (let x = 1; x < 32; x++) if (x !== 2) xs.push(`x${x}=${hex64(v.getBigUint64(X_OFF + 8 * x, true))}`);
  const fs = [];
  for (let f = 0; f < 32; f++) fs.push(`f${f}=${hex64(v.getBigUint64(F_OFF + 8 * f, true))}`);
  return `initial ${xs.join(" ")}\ninitial ${fs.join(" ")}\ninitial fcsr=0x${v.getBigUint64(FCSR_OFF, true).toString(16)}`;
}

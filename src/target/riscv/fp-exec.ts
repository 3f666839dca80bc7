// Execution of the F and D instructions (OP-FP and the fused multiply-adds): operand
// fetch with NaN unboxing, the FPU call, result boxing, fflags accrual and FS dirtying.
// Loads and stores of f registers are in the interpreter (they are integer-like moves).
import type { RiscvCpu } from "./cpu.js";
import * as fpu from "./fpu.js";
import { addF64, divF64, fmaF64, mulF64 } from "./fpu-fast.js";

const OP_FMADD = 0x43, OP_FMSUB = 0x47, OP_FNMSUB = 0x4b, OP_FNMADD = 0x4f;

function readF(cpu: RiscvCpu, fmt: number, r: number): bigint {
  const v = cpu.f[r]!;
  return fmt === fpu.FMT_S ? fpu.unboxS(v) : v;
}

function writeF(cpu: RiscvCpu, fmt: number, r: number, v: bigint): void {
  cpu.f[r] = fmt === fpu.FMT_S ? fpu.boxS(v) : v;
  cpu.markFpDirty();
}

function accrue(cpu: RiscvCpu): void {
  if (fpu.fpFlags.value !== 0) {
    cpu.fflags |= fpu.fpFlags.value;
    fpu.fpFlags.value = 0;
    cpu.markFpDirty();
  }
}

/**
 * binary64 add, sub, mul, div and the fused forms in round-to-nearest-even, on the
 * registers as host doubles: the BigInt path allocates for every register read and
 * write, and made floating-point code ~30x slower than integer code. False where the
 * fast path declines (fpu-fast.ts) or does not apply; the exact path then runs.
 */
function fastDouble(cpu: RiscvCpu, inst: number, opcode: number): boolean {
  const funct5 = inst >>> 27;
  if (opcode === 0x53 && funct5 > 3) return false;
  if (cpu.roundingMode((inst >> 12) & 7, inst) !== fpu.RNE) return false;
  const fd = cpu.fD;
  const x = fd[(inst >> 15) & 31]!, y = fd[(inst >> 20) & 31]!;
  let r: number;
  switch (opcode) {
    case 0x53: r = funct5 === 0 ? addF64(x, y) : funct5 === 1 ? addF64(x, -y) : funct5 === 2 ? mulF64(x, y) : divF64(x, y); break;
    case OP_FMADD: r = fmaF64(x, y, fd[funct5]!); break;
    case OP_FMSUB: r = fmaF64(x, y, -fd[funct5]!); break;
    case OP_FNMSUB: r = fmaF64(-x, y, fd[funct5]!); break;
    default: r = fmaF64(-x, y, -fd[funct5]!); break;
  }
  if (r !== r) return false; // declined: no flags were raised
  fd[(inst >> 7) & 31] = r;
  cpu.markFpDirty();
  return true;
}

export function executeFp(cpu: RiscvCpu, inst: number): void {
  cpu.requireFp(inst);
  const opcode = inst & 0x7f;
  const rd = (inst >> 7) & 31, rs1 = (inst >> 15) & 31, rs2 = (inst >> 20) & 31;
  const f3 = (inst >> 12) & 7;
  const fmt = (inst >> 25) & 3;
  if (fmt > 1) cpu.illegalInstruction(inst); // H and Q are not implemented
  fpu.fpFlags.value = 0;
  if (fmt === fpu.FMT_D && fpu.fpuOptions.fastPaths && fastDouble(cpu, inst, opcode)) {
    accrue(cpu);
    return;
  }
  if (opcode !== 0x53) {
    const rm = cpu.roundingMode(f3, inst);
    const a = readF(cpu, fmt, rs1), b = readF(cpu, fmt, rs2), c = readF(cpu, fmt, inst >>> 27);
    const op = opcode === OP_FMADD ? fpu.fmadd : opcode === OP_FMSUB ? fpu.fmsub
      : opcode === OP_FNMSUB ? fpu.fnmsub : fpu.fnmadd;
    writeF(cpu, fmt, rd, op(fmt, a, b, c, rm));
    accrue(cpu);
    return;
  }
  const funct5 = inst >>> 27;
  switch (funct5) {
    case 0x00: case 0x01: case 0x02: case 0x03: {
      const rm = cpu.roundingMode(f3, inst);
      const op = [fpu.fadd, fpu.fsub, fpu.fmul, fpu.fdiv][funct5]!;
      writeF(cpu, fmt, rd, op(fmt, readF(cpu, fmt, rs1), readF(cpu, fmt, rs2), rm));
      break;
    }
    case 0x0b: {
      if (rs2 !== 0) cpu.illegalInstruction(inst);
      writeF(cpu, fmt, rd, fpu.fsqrt(fmt, readF(cpu, fmt, rs1), cpu.roundingMode(f3, inst)));
      break;
    }
    case 0x04: {
      if (f3 > 2) cpu.illegalInstruction(inst);
      const op = [fpu.fsgnj, fpu.fsgnjn, fpu.fsgnjx][f3]!;
      writeF(cpu, fmt, rd, op(fmt, readF(cpu, fmt, rs1), readF(cpu, fmt, rs2)));
      break;
    }
    case 0x05: {
      if (f3 > 1) cpu.illegalInstruction(inst);
      const op = f3 === 0 ? fpu.fmin : fpu.fmax;
      writeF(cpu, fmt, rd, op(fmt, readF(cpu, fmt, rs1), readF(cpu, fmt, rs2)));
      break;
    }
    case 0x08: { // FCVT.S.D / FCVT.D.S
      if (rs2 > 1 || rs2 === fmt) cpu.illegalInstruction(inst);
      const rm = cpu.roundingMode(f3, inst);
      writeF(cpu, fmt, rd, fpu.fcvtFF(fmt, rs2, readF(cpu, rs2, rs1), rm));
      break;
    }
    case 0x14: {
      const op = f3 === 2 ? fpu.feq : f3 === 1 ? fpu.flt : f3 === 0 ? fpu.fle : undefined;
      if (op === undefined) cpu.illegalInstruction(inst);
      cpu.setX(rd, op(fmt, readF(cpu, fmt, rs1), readF(cpu, fmt, rs2)));
      break;
    }
    case 0x18: { // FCVT.W/WU/L/LU.fmt
      if (rs2 > 3) cpu.illegalInstruction(inst);
      const rm = cpu.roundingMode(f3, inst);
      cpu.setX(rd, fpu.fcvtToInt(fmt, readF(cpu, fmt, rs1), rs2, rm));
      break;
    }
    case 0x1a: { // FCVT.fmt.W/WU/L/LU
      if (rs2 > 3) cpu.illegalInstruction(inst);
      const rm = cpu.roundingMode(f3, inst);
      writeF(cpu, fmt, rd, fpu.fcvtFromInt(fmt, cpu.getX(rs1), rs2, rm));
      break;
    }
    case 0x1c: { // FMV.X.W / FMV.X.D, FCLASS
      if (rs2 !== 0) cpu.illegalInstruction(inst);
      if (f3 === 0) {
        const raw = cpu.f[rs1]!;
        cpu.setX(rd, fmt === fpu.FMT_S ? BigInt.asIntN(32, raw) : raw);
      } else if (f3 === 1) {
        cpu.setX(rd, fpu.fclass(fmt, readF(cpu, fmt, rs1)));
      } else cpu.illegalInstruction(inst);
      break;
    }
    case 0x1e: { // FMV.W.X / FMV.D.X
      if (rs2 !== 0 || f3 !== 0) cpu.illegalInstruction(inst);
      const v = BigInt.asUintN(64, cpu.getX(rs1));
      writeF(cpu, fmt, rd, fmt === fpu.FMT_S ? v & 0xffffffffn : v);
      break;
    }
    default:
      cpu.illegalInstruction(inst);
  }
  accrue(cpu);
}

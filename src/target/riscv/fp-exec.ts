// Execution of the F and D instructions (OP-FP and the fused multiply-adds): operand
// fetch with NaN unboxing, the FPU call, result boxing, fflags accrual and FS dirtying.
// Loads and stores of f registers are in the interpreter (they are integer-like moves).
import type { RiscvCpu } from "./cpu.js";
import * as fpu from "./fpu.js";
import { addF64, divF64, fusedF64, mulF64 } from "./fpu-fast.js";

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
 * binary64 arithmetic, the fused forms, compares, moves and conversions to and from
 * integers, on the registers as host doubles and int32 words: the BigInt path allocates
 * for every register read and write, and made floating-point code ~30x slower than
 * integer code. Arithmetic runs in round-to-nearest-even only. False where the fast path
 * declines (NaN operands, results that need flags other than NX, values beyond 2^53) or
 * does not apply; the exact path then runs.
 */
function fastDouble(cpu: RiscvCpu, inst: number, opcode: number): boolean {
  const funct5 = inst >>> 27;
  const fd = cpu.fD;
  const rd = (inst >> 7) & 31, rs1 = (inst >> 15) & 31, rs2 = (inst >> 20) & 31;
  if (opcode === 0x53 && funct5 > 3) return fastDoubleMove(cpu, inst, funct5, rd, rs1, rs2);
  if (cpu.roundingMode((inst >> 12) & 7, inst) !== fpu.RNE) return false;
  const x = fd[rs1]!, y = fd[rs2]!;
  const r = opcode !== 0x53
    ? fusedF64(x, y, fd[funct5]!, opcode === OP_FNMSUB || opcode === OP_FNMADD, opcode === OP_FMSUB || opcode === OP_FNMADD)
    : funct5 === 0 ? addF64(x, y) : funct5 === 1 ? addF64(x, -y) : funct5 === 2 ? mulF64(x, y) : divF64(x, y);
  if (r !== r) return false; // declined: no flags were raised
  fd[rd] = r;
  cpu.markFpDirty();
  return true;
}

const TWO32 = 2 ** 32;
/** Integers below this in magnitude are exact doubles (and int32 word pairs). */
const EXACT_INT = 2 ** 53;

/** feq/flt/fle, fcvt between binary64 and integers, fmv.x.d and fmv.d.x (see fastDouble). */
function fastDoubleMove(cpu: RiscvCpu, inst: number, funct5: number, rd: number, rs1: number, rs2: number): boolean {
  const f3 = (inst >> 12) & 7;
  const x = cpu.x, fw = cpu.fWords;
  const a = cpu.fD[rs1]!;
  let lo: number, hi: number;
  switch (funct5) {
    case 0x14: { // FEQ, FLT, FLE: a NaN operand raises NV (or not): the exact path decides
      const b = cpu.fD[rs2]!;
      if (f3 > 2 || a !== a || b !== b) return false;
      lo = (f3 === 2 ? a === b : f3 === 1 ? a < b : a <= b) ? 1 : 0;
      hi = 0;
      break;
    }
    case 0x18: { // FCVT.W/WU/L/LU.D
      if (rs2 > 3 || !(Math.abs(a) < EXACT_INT)) return false;
      const r = roundToInteger(a, cpu.roundingMode(f3, inst));
      const bound = rs2 === 0 ? 2 ** 31 : rs2 === 1 ? TWO32 : EXACT_INT;
      if (rs2 & 1 ? r < 0 || r >= bound : r < -bound || r >= bound) return false; // NV: exact path
      if (r !== a) fpu.fpFlags.value |= fpu.FLAG_NX;
      lo = r | 0;
      hi = rs2 < 2 ? lo >> 31 : Math.floor(r / TWO32) | 0; // W and WU results are sign-extended
      break;
    }
    case 0x1a: { // FCVT.D.W/WU/L/LU: exact unless beyond 2^53
      const xl = x[rs1 * 2]!, xh = rs1 === 0 ? 0 : x[rs1 * 2 + 1]!;
      let v: number;
      if (rs2 === 0) v = rs1 === 0 ? 0 : xl;
      else if (rs2 === 1) v = rs1 === 0 ? 0 : xl >>> 0;
      else if (rs2 === 2 && xh >= -(1 << 21) && xh < 1 << 21) v = xh * TWO32 + (xl >>> 0);
      else if (rs2 === 3 && xh >>> 0 < 1 << 21) v = (xh >>> 0) * TWO32 + (xl >>> 0);
      else return false;
      cpu.roundingMode(f3, inst); // an invalid rm is still illegal
      cpu.fD[rd] = v;
      cpu.markFpDirty();
      return true;
    }
    case 0x1c: // FMV.X.D (FCLASS: exact path)
      if (rs2 !== 0 || f3 !== 0) return false;
      lo = fw[rs1 * 2]!;
      hi = fw[rs1 * 2 + 1]!;
      break;
    case 0x1e: // FMV.D.X
      if (rs2 !== 0 || f3 !== 0) return false;
      fw[rd * 2] = rs1 === 0 ? 0 : x[rs1 * 2]!;
      fw[rd * 2 + 1] = rs1 === 0 ? 0 : x[rs1 * 2 + 1]!;
      cpu.markFpDirty();
      return true;
    default:
      return false;
  }
  if (rd !== 0) {
    x[rd * 2] = lo;
    x[rd * 2 + 1] = hi;
  }
  return true;
}

/** a (finite, |a| < 2^53) rounded to an integer in rounding mode rm. */
function roundToInteger(a: number, rm: number): number {
  switch (rm) {
    case fpu.RTZ: return Math.trunc(a);
    case fpu.RDN: return Math.floor(a);
    case fpu.RUP: return Math.ceil(a);
    default: { // RNE, RMM: a - floor(a) is exact below 2^53
      const f = Math.floor(a);
      const d = a - f;
      if (d !== 0.5) return d < 0.5 ? f : f + 1;
      return rm === fpu.RMM ? (a < 0 ? f : f + 1) : f % 2 === 0 ? f : f + 1;
    }
  }
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

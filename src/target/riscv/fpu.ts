// The RISC-V F and D floating-point unit, as functions on bit patterns.
//
// Contract with the interpreter:
// - Values are unsigned bigint bit patterns: 64 bits for D (fmt 1), 32 bits for S
//   (fmt 0). S operands are what unboxS() read from the f register (an improperly
//   NaN-boxed register reads as the canonical NaN); S results are 32-bit patterns the
//   caller stores with boxS().
// - rm is a concrete rounding mode 0..4 (RNE, RTZ, RDN, RUP, RMM). The caller resolves
//   DYN (7) from frm and raises illegal instruction for 5, 6 or an invalid frm.
// - Exception flags are ORed into fpFlags.value (fflags layout: NV 16, DZ 8, OF 4,
//   UF 2, NX 1); the caller ORs them into fflags and clears fpFlags.value.
// - Integer results (compare, fclass, fcvt to integer) are the x register value as an
//   unsigned 64-bit bigint; 32-bit conversion results are sign-extended as RV64 requires.
import * as sf from './fpu-softfloat.js';
import * as fast from './fpu-fast.js';
import { FLAG_NV, QNAN, RNE, SNAN, ZERO, fpFlags } from './fpu-softfloat.js';

export {
  fpFlags,
  FLAG_NV, FLAG_DZ, FLAG_OF, FLAG_UF, FLAG_NX,
  RNE, RTZ, RDN, RUP, RMM,
  INT_W, INT_WU, INT_L, INT_LU,
} from './fpu-softfloat.js';

export const FMT_S = 0;
export const FMT_D = 1;

export const CANONICAL_NAN_S = 0x7fc00000n;
export const CANONICAL_NAN_D = 0x7ff8000000000000n;

/** Host-double fast paths for RNE; tests switch them off to compare with the exact core. */
export const fpuOptions = { fastPaths: true };

function format(fmt: number): sf.FloatFormat {
  return fmt === FMT_D ? sf.F64 : sf.F32;
}

// ---- arithmetic ----------------------------------------------------------------------

export function fadd(fmt: number, a: bigint, b: bigint, rm: number): bigint {
  if (rm === RNE && fpuOptions.fastPaths) {
    const r = fmt === FMT_D ? fast.addD(a, b) : fast.addS(a, b);
    if (r !== undefined) return r;
  }
  return sf.add(format(fmt), a, b, rm, 0);
}

export function fsub(fmt: number, a: bigint, b: bigint, rm: number): bigint {
  if (rm === RNE && fpuOptions.fastPaths) {
    // Negating b is exact, and a NaN b is declined by the fast path anyway.
    const r = fmt === FMT_D ? fast.addD(a, b ^ sf.F64.signBit) : fast.addS(a, b ^ sf.F32.signBit);
    if (r !== undefined) return r;
  }
  return sf.add(format(fmt), a, b, rm, 1);
}

export function fmul(fmt: number, a: bigint, b: bigint, rm: number): bigint {
  if (rm === RNE && fpuOptions.fastPaths) {
    const r = fmt === FMT_D ? fast.mulD(a, b) : fast.mulS(a, b);
    if (r !== undefined) return r;
  }
  return sf.mul(format(fmt), a, b, rm);
}

export function fdiv(fmt: number, a: bigint, b: bigint, rm: number): bigint {
  if (rm === RNE && fpuOptions.fastPaths) {
    const r = fmt === FMT_D ? fast.divD(a, b) : fast.divS(a, b);
    if (r !== undefined) return r;
  }
  return sf.div(format(fmt), a, b, rm);
}

export function fsqrt(fmt: number, a: bigint, rm: number): bigint {
  if (rm === RNE && fpuOptions.fastPaths) {
    const r = fmt === FMT_D ? fast.sqrtD(a) : fast.sqrtS(a);
    if (r !== undefined) return r;
  }
  return sf.sqrt(format(fmt), a, rm);
}

/** The fused multiply-adds: (-1)^negProduct * a * b + (-1)^negAddend * c, rounded once. */
function fused(fmt: number, a: bigint, b: bigint, c: bigint, rm: number, negProduct: 0 | 1, negAddend: 0 | 1): bigint {
  if (rm === RNE && fmt === FMT_D && fpuOptions.fastPaths) {
    const r = fast.fmaD(a, b, c, negProduct === 1, negAddend === 1);
    if (r !== undefined) return r;
  }
  return sf.fma(format(fmt), a, b, c, rm, negProduct, negAddend);
}

/** a * b + c, rounded once. */
export function fmadd(fmt: number, a: bigint, b: bigint, c: bigint, rm: number): bigint {
  return fused(fmt, a, b, c, rm, 0, 0);
}

/** a * b - c, rounded once. */
export function fmsub(fmt: number, a: bigint, b: bigint, c: bigint, rm: number): bigint {
  return fused(fmt, a, b, c, rm, 0, 1);
}

/** -(a * b) + c, rounded once. */
export function fnmsub(fmt: number, a: bigint, b: bigint, c: bigint, rm: number): bigint {
  return fused(fmt, a, b, c, rm, 1, 0);
}

/** -(a * b) - c, rounded once. */
export function fnmadd(fmt: number, a: bigint, b: bigint, c: bigint, rm: number): bigint {
  return fused(fmt, a, b, c, rm, 1, 1);
}

// ---- sign injection --------------------------------------------------------------------

export function fsgnj(fmt: number, a: bigint, b: bigint): bigint {
  const s = format(fmt).signBit;
  return (a & ~s) | (b & s);
}

export function fsgnjn(fmt: number, a: bigint, b: bigint): bigint {
  const s = format(fmt).signBit;
  return (a & ~s) | (~b & s);
}

export function fsgnjx(fmt: number, a: bigint, b: bigint): bigint {
  return a ^ (b & format(fmt).signBit);
}

// ---- min / max and comparisons ------------------------------------------------------------

function magnitude(f: sf.FloatFormat, bits: bigint): bigint {
  return bits & (f.signBit - 1n);
}

/** An integer ordered like the value, with -0 below +0 (for fmin/fmax). */
function minMaxKey(f: sf.FloatFormat, bits: bigint): bigint {
  const m = magnitude(f, bits);
  return (bits & f.signBit) !== 0n ? -m - 1n : m;
}

/** An integer ordered like the value, with -0 equal to +0 (for comparisons). */
function compareKey(f: sf.FloatFormat, bits: bigint): bigint {
  const m = magnitude(f, bits);
  return (bits & f.signBit) !== 0n ? -m : m;
}

/** IEEE 754-2019 minimumNumber/maximumNumber as RISC-V F 2.2 defines fmin/fmax. */
function minMax(fmt: number, a: bigint, b: bigint, wantMin: boolean): bigint {
  const f = format(fmt);
  const x = sf.unpack(f, a);
  const y = sf.unpack(f, b);
  if (x.kind === SNAN || y.kind === SNAN) fpFlags.value |= FLAG_NV;
  const xNaN = x.kind >= QNAN;
  const yNaN = y.kind >= QNAN;
  if (xNaN && yNaN) return f.canonicalNaN;
  if (xNaN) return b;
  if (yNaN) return a;
  const aBelow = minMaxKey(f, a) < minMaxKey(f, b);
  return aBelow === wantMin ? a : b;
}

export function fmin(fmt: number, a: bigint, b: bigint): bigint {
  return minMax(fmt, a, b, true);
}

export function fmax(fmt: number, a: bigint, b: bigint): bigint {
  return minMax(fmt, a, b, false);
}

/** Signaling comparisons (flt, fle) raise NV on any NaN, quiet ones (feq) on sNaN only. */
function unordered(f: sf.FloatFormat, a: bigint, b: bigint, signaling: boolean): boolean {
  const xk = sf.unpack(f, a).kind;
  const yk = sf.unpack(f, b).kind;
  if (xk < QNAN && yk < QNAN) return false;
  if (signaling || xk === SNAN || yk === SNAN) fpFlags.value |= FLAG_NV;
  return true;
}

export function feq(fmt: number, a: bigint, b: bigint): bigint {
  const f = format(fmt);
  if (unordered(f, a, b, false)) return 0n;
  return compareKey(f, a) === compareKey(f, b) ? 1n : 0n;
}

export function flt(fmt: number, a: bigint, b: bigint): bigint {
  const f = format(fmt);
  if (unordered(f, a, b, true)) return 0n;
  return compareKey(f, a) < compareKey(f, b) ? 1n : 0n;
}

export function fle(fmt: number, a: bigint, b: bigint): bigint {
  const f = format(fmt);
  if (unordered(f, a, b, true)) return 0n;
  return compareKey(f, a) <= compareKey(f, b) ? 1n : 0n;
}

// ---- classification -------------------------------------------------------------------------

export const CLASS_NEG_INF = 1 << 0;
export const CLASS_NEG_NORMAL = 1 << 1;
export const CLASS_NEG_SUBNORMAL = 1 << 2;
export const CLASS_NEG_ZERO = 1 << 3;
export const CLASS_POS_ZERO = 1 << 4;
export const CLASS_POS_SUBNORMAL = 1 << 5;
export const CLASS_POS_NORMAL = 1 << 6;
export const CLASS_POS_INF = 1 << 7;
export const CLASS_SNAN = 1 << 8;
export const CLASS_QNAN = 1 << 9;

/** fclass: a one-hot 10-bit mask. */
export function fclass(fmt: number, a: bigint): bigint {
  const f = format(fmt);
  const x = sf.unpack(f, a);
  let c: number;
  switch (x.kind) {
    case SNAN: c = CLASS_SNAN; break;
    case QNAN: c = CLASS_QNAN; break;
    case sf.INF: c = x.sign ? CLASS_NEG_INF : CLASS_POS_INF; break;
    case ZERO: c = x.sign ? CLASS_NEG_ZERO : CLASS_POS_ZERO; break;
    default:
      if (x.sig < f.hidden) c = x.sign ? CLASS_NEG_SUBNORMAL : CLASS_POS_SUBNORMAL;
      else c = x.sign ? CLASS_NEG_NORMAL : CLASS_POS_NORMAL;
  }
  return BigInt(c);
}

// ---- conversions ----------------------------------------------------------------------------

/** fcvt.s.d (toFmt 0, fromFmt 1) and fcvt.d.s (toFmt 1, fromFmt 0). */
export function fcvtFF(toFmt: number, fromFmt: number, a: bigint, rm: number): bigint {
  return sf.convert(format(toFmt), format(fromFmt), a, rm);
}

/**
 * fcvt.{w,wu,l,lu}.{s,d}; type is the instruction's rs2 field (0 W, 1 WU, 2 L, 3 LU).
 * Out of range or NaN saturates with NV (NaN reads as +max); NX when inexact in range.
 */
export function fcvtToInt(fmt: number, a: bigint, type: number, rm: number): bigint {
  return sf.toInt(format(fmt), a, type, rm);
}

/** fcvt.{s,d}.{w,wu,l,lu}; x is the x register value, type the rs2 field. */
export function fcvtFromInt(fmt: number, x: bigint, type: number, rm: number): bigint {
  return sf.fromInt(format(fmt), x, type, rm);
}

// ---- NaN boxing -----------------------------------------------------------------------------

const BOX = 0xffffffff00000000n;

/** The 64-bit f register value holding a single: upper 32 bits all ones. */
export function boxS(bits32: bigint): bigint {
  return BOX | (bits32 & 0xffffffffn);
}

/** The single held in an f register; an improperly boxed value reads as the canonical NaN. */
export function unboxS(bits64: bigint): bigint {
  return (bits64 & BOX) === BOX ? bits64 & 0xffffffffn : CANONICAL_NAN_S;
}

// Fast paths for round-to-nearest-even arithmetic on the host's IEEE doubles.
// JavaScript's + - * / are correctly rounded binary64 RNE operations, so a host result
// is the RISC-V result whenever the operands are ordinary finite numbers; the only
// extra work is the NX flag, found with error-free transformations (TwoSum, Dekker's
// TwoProduct) or an exact back-multiplication. The fused multiply-add, which JavaScript
// lacks, is emulated with rounding to odd (Boldo and Melquiond, "Emulation of FMA and
// correctly rounded sums: proved algorithms using rounding to odd", IEEE Trans. Computers
// 57(4), 2008). Each function declines (NaN, infinity, overflow, possible underflow, or
// operands outside the range where the transformation is exact), and the caller falls
// back to the exact BigInt core: the bit-pattern functions return undefined then, the
// *F64 ones (on numbers, for the interpreter's binary64 lane) return NaN, which no
// accepted operation produces.
//
// binary32 runs in doubles too: products of two 24-bit significands are exact in 53
// bits, and for / and sqrt rounding first to 53 then to 24 bits equals rounding once,
// because 53 >= 2 * 24 + 2 (Figueroa, "When is double rounding innocuous?", 1995).
import { FLAG_NX, fpFlags } from './fpu-softfloat.js';

const scratch = new ArrayBuffer(8);
const f64 = new Float64Array(scratch);
const u64 = new BigUint64Array(scratch);
const f32 = new Float32Array(scratch);
const u32 = new Uint32Array(scratch);

function toF64(bits: bigint): number {
  u64[0] = bits;
  return f64[0]!;
}

function fromF64(x: number): bigint {
  f64[0] = x;
  return u64[0]!;
}

function toF32(bits: bigint): number {
  u32[0] = Number(bits);
  return f32[0]!;
}

function fromF32(x: number): bigint {
  f32[0] = x;
  return BigInt(u32[0]!);
}

// Dekker's TwoProduct is exact when both factors lie in [2^-450, 2^450]: the split
// cannot overflow and the product's error term (a multiple of 2^-1004) is a normal double.
const DEKKER_LO = 2 ** -450;
const DEKKER_HI = 2 ** 450;
const SPLITTER = 134217729; // 2^27 + 1
const MIN_NORMAL_F32 = 2 ** -126;
const TWO_SUM_MAX = 2 ** 1020; // operands this small keep TwoSum's intermediates finite

function dekkerSafe(x: number): boolean {
  const ax = Math.abs(x);
  return ax >= DEKKER_LO && ax <= DEKKER_HI;
}

/** The rounding error of x * y (x * y - fl(x * y)), exact for dekkerSafe factors. */
function productError(x: number, y: number, p: number): number {
  let c = SPLITTER * x;
  const xh = c - (c - x);
  const xl = x - xh;
  c = SPLITTER * y;
  const yh = c - (c - y);
  const yl = y - yh;
  return xh * yh - p + xh * yl + xl * yh + xl * yl;
}

function inexact(): void {
  fpFlags.value |= FLAG_NX;
}

/** The exact error of the sum s = fl(x + y) (TwoSum): x + y = s + error. */
function sumError(x: number, y: number, s: number): number {
  const bb = s - x;
  return x - (s - bb) + (y - bb);
}

/** RNE x + y; NaN to decline. */
export function addF64(x: number, y: number): number {
  if (!(Math.abs(x) <= TWO_SUM_MAX && Math.abs(y) <= TWO_SUM_MAX)) return NaN; // also NaN, inf
  const s = x + y;
  if (sumError(x, y, s) !== 0) inexact();
  return s; // a sum that lands in the subnormal range is always exact
}

/** RNE x * y; NaN to decline. */
export function mulF64(x: number, y: number): number {
  const p = x * y;
  if (!Number.isFinite(p)) return NaN;
  if (p === 0 && (x === 0 || y === 0)) return p;
  if (!dekkerSafe(x) || !dekkerSafe(y)) return NaN;
  if (productError(x, y, p) !== 0) inexact();
  return p;
}

/** RNE x / y; NaN to decline. */
export function divF64(x: number, y: number): number {
  if (y === 0 || !Number.isFinite(x) || !Number.isFinite(y)) return NaN;
  const q = x / y;
  if (x === 0) return q;
  if (!dekkerSafe(y) || !dekkerSafe(q)) return NaN;
  // The quotient is exact iff q * y reproduces x exactly.
  if (q * y !== x || productError(q, y, q * y) !== 0) inexact();
  return q;
}

/** Results and round-to-odd sums below this may be tiny (underflow): the exact core decides. */
const FMA_TINY = 2 ** -1020;

/**
 * RNE x * y + z rounded once; NaN to decline. x * y = uh + ul and z + uh = th + tl exactly;
 * then RN(th + RO(tl + ul)) is the correctly rounded result (Boldo-Melquiond, Algorithm 5),
 * where RO rounds to odd: to the neighbour whose last significand bit is 1 when inexact.
 */
export function fmaF64(x: number, y: number, z: number): number {
  if (!dekkerSafe(x) || !dekkerSafe(y) || !(Math.abs(z) <= TWO_SUM_MAX)) return NaN;
  const uh = x * y;
  const ul = productError(x, y, uh);
  const th = z + uh;
  const tl = sumError(z, uh, th);
  let v = tl + ul;
  const ve = sumError(tl, ul, v);
  if (ve !== 0) {
    if (Math.abs(v) < FMA_TINY) return NaN;
    f64[0] = v;
    if ((u32[0]! & 1) === 0) v = stepToward(v, ve); // even: the other neighbour is odd
  }
  const r = th + v;
  if (!(Math.abs(r) <= TWO_SUM_MAX) || (r === 0 ? ve !== 0 : Math.abs(r) < FMA_TINY)) return NaN;
  if (ve !== 0 || sumError(th, v, r) !== 0) inexact();
  return r;
}

/** The double next to v (finite, nonzero) in the direction of the sign of `dir`. */
function stepToward(v: number, dir: number): number {
  f64[0] = v;
  // Away from zero when dir has v's sign: the bit pattern's magnitude grows by one.
  const up = (v > 0) === (dir > 0);
  const lo = u32[0]!;
  if (up) {
    u32[0] = lo + 1;
    if (lo === 0xffffffff) u32[1] = u32[1]! + 1;
  } else {
    u32[0] = lo - 1;
    if (lo === 0) u32[1] = u32[1]! - 1;
  }
  return f64[0]!;
}

function declinedOr(r: number): bigint | undefined {
  return r !== r ? undefined : fromF64(r);
}

export function addD(a: bigint, b: bigint): bigint | undefined {
  return declinedOr(addF64(toF64(a), toF64(b)));
}

export function mulD(a: bigint, b: bigint): bigint | undefined {
  return declinedOr(mulF64(toF64(a), toF64(b)));
}

export function divD(a: bigint, b: bigint): bigint | undefined {
  return declinedOr(divF64(toF64(a), toF64(b)));
}

/** The four fused forms: (-1)^negProduct * x * y + (-1)^negAddend * z; NaN to decline. */
export function fusedF64(x: number, y: number, z: number, negProduct: boolean, negAddend: boolean): number {
  return fmaF64(negProduct ? -x : x, y, negAddend ? -z : z);
}

export function fmaD(a: bigint, b: bigint, c: bigint, negProduct: boolean, negAddend: boolean): bigint | undefined {
  return declinedOr(fusedF64(toF64(a), toF64(b), toF64(c), negProduct, negAddend));
}

// Math.sqrt is the hardware's correctly rounded square root in V8 (sqrtsd / fsqrt); the
// randomized tests against the exact core and against QEMU keep that assumption honest.
export function sqrtD(a: bigint): bigint | undefined {
  const x = toF64(a);
  if (!(x > 0) || x === Infinity) return x === 0 ? a : undefined;
  const s = Math.sqrt(x);
  if (!dekkerSafe(s)) return undefined;
  if (s * s !== x || productError(s, s, s * s) !== 0) inexact();
  return fromF64(s);
}

/** Rounds an exact double to binary32; declines on overflow and on a possible underflow. */
function roundExactToF32(exact: number): bigint | undefined {
  const r = Math.fround(exact);
  if (!Number.isFinite(r)) return undefined;
  if (r !== exact) {
    if (Math.abs(exact) < MIN_NORMAL_F32) return undefined;
    inexact();
  }
  return fromF32(r);
}

export function addS(a: bigint, b: bigint): bigint | undefined {
  const x = toF32(a);
  const y = toF32(b);
  const s = x + y;
  if (!Number.isFinite(s)) return undefined;
  const bb = s - x;
  if (x - (s - bb) + (y - bb) !== 0) return undefined; // not exact in 53 bits: rare, go slow
  return roundExactToF32(s);
}

export function mulS(a: bigint, b: bigint): bigint | undefined {
  const x = toF32(a);
  const y = toF32(b);
  const p = x * y; // exact: 48 significant bits, exponent well inside binary64's range
  if (!Number.isFinite(p)) return undefined;
  return roundExactToF32(p);
}

export function divS(a: bigint, b: bigint): bigint | undefined {
  const x = toF32(a);
  const y = toF32(b);
  if (y === 0 || !Number.isFinite(x) || !Number.isFinite(y)) return undefined;
  const q = x / y;
  const r = Math.fround(q);
  if (x === 0) return fromF32(r);
  // A quotient at or below 2^-126 may be tiny after rounding: leave UF to the exact core.
  if (!Number.isFinite(r) || Math.abs(q) <= MIN_NORMAL_F32) return undefined;
  if (r * y !== x) inexact(); // r * y is exact in a double
  return fromF32(r);
}

export function sqrtS(a: bigint): bigint | undefined {
  const x = toF32(a);
  if (!(x > 0) || x === Infinity) return x === 0 ? a : undefined;
  const r = Math.fround(Math.sqrt(x));
  if (r * r !== x) inexact(); // r * r is exact in a double
  return fromF32(r);
}

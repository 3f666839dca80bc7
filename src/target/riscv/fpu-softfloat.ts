// Exact IEEE-754 binary32/binary64 arithmetic for the RISC-V F and D extensions.
// Every operation computes its exact result with BigInt (sums by aligning, products
// exactly, quotients and square roots with spare bits plus a sticky bit) and rounds it
// once in roundPack(). NaN results follow RISC-V: always the canonical quiet NaN, and a
// signaling NaN operand raises NV. Tininess is detected after rounding, as in RISC-V
// hardware and QEMU's softfloat; UF is raised only for a tiny and inexact result.

export const FLAG_NV = 16;
export const FLAG_DZ = 8;
export const FLAG_OF = 4;
export const FLAG_UF = 2;
export const FLAG_NX = 1;

export const RNE = 0;
export const RTZ = 1;
export const RDN = 2;
export const RUP = 3;
export const RMM = 4;

/** Exception flags (fflags layout) raised by operations since the caller last cleared it. */
export const fpFlags = { value: 0 };

/** Integer operand/result type, numbered like the rs2 field of fcvt: W, WU, L, LU. */
export const INT_W = 0;
export const INT_WU = 1;
export const INT_L = 2;
export const INT_LU = 3;

export interface FloatFormat {
  readonly p: number; // precision in bits, hidden bit included
  readonly bias: number;
  readonly emin: number; // exponent of the smallest normal number
  readonly emax: number; // exponent of the largest finite number
  readonly qmin: number; // exponent of the least significant bit of a subnormal
  readonly fracBits: bigint; // p - 1
  readonly hidden: bigint; // 1 << (p - 1)
  readonly fracMask: bigint;
  readonly expField: bigint; // the all-ones exponent field value
  readonly signBit: bigint;
  readonly quietBit: bigint;
  readonly infinity: bigint;
  readonly maxFinite: bigint;
  readonly canonicalNaN: bigint;
}

function makeFormat(expBits: number, p: number): FloatFormat {
  const fracBits = BigInt(p - 1);
  const bias = (1 << (expBits - 1)) - 1;
  const expField = (1n << BigInt(expBits)) - 1n;
  const infinity = expField << fracBits;
  return {
    p,
    bias,
    emin: 1 - bias,
    emax: bias,
    qmin: 1 - bias - (p - 1),
    fracBits,
    hidden: 1n << fracBits,
    fracMask: (1n << fracBits) - 1n,
    expField,
    signBit: 1n << BigInt(expBits + p - 1),
    quietBit: 1n << (fracBits - 1n),
    infinity,
    maxFinite: infinity - 1n,
    canonicalNaN: infinity | (1n << (fracBits - 1n)),
  };
}

export const F32 = makeFormat(8, 24);
export const F64 = makeFormat(11, 53);
/** Indexed by the instruction's fmt field: 0 = S, 1 = D. */
export const FORMATS: readonly FloatFormat[] = [F32, F64];

// Operand classes after unpacking.
export const ZERO = 0;
export const FINITE = 1;
export const INF = 2;
export const QNAN = 3;
export const SNAN = 4;

/** A decoded operand: for FINITE, value = (-1)^sign * sig * 2^exp with sig > 0. */
export interface Unpacked {
  kind: number;
  sign: number;
  sig: bigint;
  exp: number;
}

export function unpack(f: FloatFormat, bits: bigint): Unpacked {
  const sign = (bits & f.signBit) !== 0n ? 1 : 0;
  const e = (bits >> f.fracBits) & f.expField;
  const frac = bits & f.fracMask;
  if (e === f.expField) {
    if (frac === 0n) return { kind: INF, sign, sig: 0n, exp: 0 };
    return { kind: (frac & f.quietBit) !== 0n ? QNAN : SNAN, sign, sig: 0n, exp: 0 };
  }
  if (e === 0n) {
    if (frac === 0n) return { kind: ZERO, sign, sig: 0n, exp: 0 };
    return { kind: FINITE, sign, sig: frac, exp: f.qmin };
  }
  return { kind: FINITE, sign, sig: frac | f.hidden, exp: Number(e) - f.bias - (f.p - 1) };
}

export function bitLength(x: bigint): number {
  if (x === 0n) return 0;
  const hex = x.toString(16);
  return (hex.length - 1) * 4 + (32 - Math.clz32(parseInt(hex[0]!, 16)));
}

let shiftInexact = false;

/** sig >> sh rounded per rm (sign picks the direction for RDN/RUP); sets shiftInexact. */
function roundShift(sig: bigint, sh: number, rm: number, sign: number): bigint {
  const s = BigInt(sh);
  const q = sig >> s;
  const rem = sig - (q << s);
  shiftInexact = rem !== 0n;
  if (!shiftInexact) return q;
  const half = 1n << (s - 1n);
  let up: boolean;
  switch (rm) {
    case RNE: up = rem > half || (rem === half && (q & 1n) === 1n); break;
    case RTZ: up = false; break;
    case RDN: up = sign === 1; break;
    case RUP: up = sign === 0; break;
    default: up = rem >= half; break; // RMM: ties away from zero
  }
  return up ? q + 1n : q;
}

function signed(f: FloatFormat, sign: number, magnitude: bigint): bigint {
  return sign ? f.signBit | magnitude : magnitude;
}

function overflow(f: FloatFormat, sign: number, rm: number): bigint {
  fpFlags.value |= FLAG_OF | FLAG_NX;
  const toInfinity = rm === RNE || rm === RMM || (rm === RDN && sign === 1) || (rm === RUP && sign === 0);
  return signed(f, sign, toInfinity ? f.infinity : f.maxFinite);
}

/**
 * IEEE "tiny after rounding": the value rounded to p bits with an unbounded exponent
 * range is below the smallest normal. Only called when the exact value is below it.
 */
function tinyAfterRounding(f: FloatFormat, sign: number, sig: bigint, exp: number, top: number, rm: number): boolean {
  if (top < f.emin - 1) return true; // even rounding up cannot reach 2^emin
  const q = top - (f.p - 1);
  if (exp >= q) return true; // exact at p bits, so it stays below 2^emin
  return roundShift(sig, q - exp, rm, sign) < (f.hidden << 1n);
}

/** Rounds (-1)^sign * sig * 2^exp (exact, sig >= 0) to format f; raises NX/UF/OF. */
export function roundPack(f: FloatFormat, sign: number, sig: bigint, exp: number, rm: number): bigint {
  if (sig === 0n) return signed(f, sign, 0n);
  const top = exp + bitLength(sig) - 1; // exponent of the leading one
  let q = Math.max(top - (f.p - 1), f.qmin); // exponent of the result's last bit
  let m: bigint;
  if (exp >= q) {
    m = sig << BigInt(exp - q);
  } else {
    m = roundShift(sig, q - exp, rm, sign);
    if (shiftInexact) {
      let flags = FLAG_NX;
      if (top < f.emin && tinyAfterRounding(f, sign, sig, exp, top, rm)) flags |= FLAG_UF;
      fpFlags.value |= flags;
    }
    if (m === f.hidden << 1n) { // rounding carried into a new leading bit
      m = f.hidden;
      q++;
    }
  }
  if (m < f.hidden) return signed(f, sign, m); // subnormal (or zero), exponent field 0
  if (q + f.p - 1 > f.emax) return overflow(f, sign, rm);
  return signed(f, sign, (BigInt(q + f.p - 1 + f.bias) << f.fracBits) | (m - f.hidden));
}

/** Exact x + y, then one rounding; handles IEEE's sign of an exact zero sum. */
function addTerms(f: FloatFormat, sx: number, mx: bigint, ex: number, sy: number, my: bigint, ey: number, rm: number): bigint {
  if (mx === 0n && my === 0n) return signed(f, sx === sy ? sx : rm === RDN ? 1 : 0, 0n);
  if (mx === 0n) return roundPack(f, sy, my, ey, rm);
  if (my === 0n) return roundPack(f, sx, mx, ex, rm);
  const e = Math.min(ex, ey);
  const vx = mx << BigInt(ex - e);
  const vy = my << BigInt(ey - e);
  const total = (sx ? -vx : vx) + (sy ? -vy : vy);
  if (total === 0n) return signed(f, rm === RDN ? 1 : 0, 0n); // x - x is +0, or -0 in RDN
  return total < 0n ? roundPack(f, 1, -total, e, rm) : roundPack(f, 0, total, e, rm);
}

function isNaNKind(u: Unpacked): boolean {
  return u.kind >= QNAN;
}

/** The canonical NaN; NV when any operand is a signaling NaN. */
function nanResult(f: FloatFormat, ...ops: Unpacked[]): bigint {
  if (ops.some((u) => u.kind === SNAN)) fpFlags.value |= FLAG_NV;
  return f.canonicalNaN;
}

function invalid(f: FloatFormat): bigint {
  fpFlags.value |= FLAG_NV;
  return f.canonicalNaN;
}

export function add(f: FloatFormat, a: bigint, b: bigint, rm: number, negateB: number): bigint {
  const x = unpack(f, a);
  const y = unpack(f, b);
  if (isNaNKind(x) || isNaNKind(y)) return nanResult(f, x, y);
  const sy = y.sign ^ negateB;
  if (x.kind === INF || y.kind === INF) {
    if (x.kind === INF && y.kind === INF && x.sign !== sy) return invalid(f); // inf - inf
    return signed(f, x.kind === INF ? x.sign : sy, f.infinity);
  }
  return addTerms(f, x.sign, x.sig, x.exp, sy, y.sig, y.exp, rm);
}

export function mul(f: FloatFormat, a: bigint, b: bigint, rm: number): bigint {
  const x = unpack(f, a);
  const y = unpack(f, b);
  if (isNaNKind(x) || isNaNKind(y)) return nanResult(f, x, y);
  const sign = x.sign ^ y.sign;
  if (x.kind === INF || y.kind === INF) {
    if (x.kind === ZERO || y.kind === ZERO) return invalid(f); // 0 * inf
    return signed(f, sign, f.infinity);
  }
  if (x.kind === ZERO || y.kind === ZERO) return signed(f, sign, 0n);
  return roundPack(f, sign, x.sig * y.sig, x.exp + y.exp, rm);
}

export function div(f: FloatFormat, a: bigint, b: bigint, rm: number): bigint {
  const x = unpack(f, a);
  const y = unpack(f, b);
  if (isNaNKind(x) || isNaNKind(y)) return nanResult(f, x, y);
  const sign = x.sign ^ y.sign;
  if (x.kind === INF) return y.kind === INF ? invalid(f) : signed(f, sign, f.infinity);
  if (y.kind === INF) return signed(f, sign, 0n);
  if (y.kind === ZERO) {
    if (x.kind === ZERO) return invalid(f); // 0 / 0
    fpFlags.value |= FLAG_DZ;
    return signed(f, sign, f.infinity);
  }
  if (x.kind === ZERO) return signed(f, sign, 0n);
  // Scale the dividend so the quotient has at least p + 2 bits; the remainder becomes a
  // sticky bit below them, which is all rounding needs to know about the lost tail.
  const k = Math.max(0, f.p + 2 + bitLength(y.sig) - bitLength(x.sig));
  const n = x.sig << BigInt(k);
  const q = n / y.sig;
  const sticky = n - q * y.sig !== 0n ? 1n : 0n;
  return roundPack(f, sign, (q << 1n) | sticky, x.exp - y.exp - k - 1, rm);
}

/** floor(sqrt(n)) by Newton's iteration from an over-estimate. */
export function isqrt(n: bigint): bigint {
  if (n < 2n) return n;
  let x = 1n << BigInt(Math.ceil(bitLength(n) / 2));
  for (;;) {
    const y = (x + n / x) >> 1n;
    if (y >= x) return x;
    x = y;
  }
}

export function sqrt(f: FloatFormat, a: bigint, rm: number): bigint {
  const x = unpack(f, a);
  if (isNaNKind(x)) return nanResult(f, x);
  if (x.kind === ZERO) return a; // sqrt(-0) = -0
  if (x.sign) return invalid(f);
  if (x.kind === INF) return a;
  // Shift to get an even exponent and a root of at least p + 2 bits, plus a sticky bit.
  let k = Math.max(0, 2 * (f.p + 2) - bitLength(x.sig));
  if ((x.exp - k) % 2 !== 0) k++;
  const n = x.sig << BigInt(k);
  const s = isqrt(n);
  const sticky = s * s !== n ? 1n : 0n;
  return roundPack(f, 0, (s << 1n) | sticky, (x.exp - k) / 2 - 1, rm);
}

/**
 * (-1)^negProduct * a * b + (-1)^negAddend * c with a single rounding. FNMSUB negates the
 * product, FNMADD both, as the operands rather than the rounded result (like QEMU), so
 * directed rounding and the sign of zero come out right.
 */
export function fma(f: FloatFormat, a: bigint, b: bigint, c: bigint, rm: number, negProduct: number, negAddend: number): bigint {
  const x = unpack(f, a);
  const y = unpack(f, b);
  const z = unpack(f, c);
  const infTimesZero = (x.kind === INF && y.kind === ZERO) || (x.kind === ZERO && y.kind === INF);
  if (isNaNKind(x) || isNaNKind(y) || isNaNKind(z)) {
    // The spec: inf * 0 raises NV even when the addend is a quiet NaN.
    if (infTimesZero) fpFlags.value |= FLAG_NV;
    return nanResult(f, x, y, z);
  }
  if (infTimesZero) return invalid(f);
  const ps = x.sign ^ y.sign ^ negProduct;
  const zs = z.sign ^ negAddend;
  if (x.kind === INF || y.kind === INF) {
    if (z.kind === INF && zs !== ps) return invalid(f);
    return signed(f, ps, f.infinity);
  }
  if (z.kind === INF) return signed(f, zs, f.infinity);
  return addTerms(f, ps, x.sig * y.sig, x.exp + y.exp, zs, z.sig, z.exp, rm);
}

/** fcvt between formats (S <-> D). */
export function convert(to: FloatFormat, from: FloatFormat, a: bigint, rm: number): bigint {
  const x = unpack(from, a);
  if (isNaNKind(x)) return nanResult(to, x);
  if (x.kind === INF) return signed(to, x.sign, to.infinity);
  if (x.kind === ZERO) return signed(to, x.sign, 0n);
  return roundPack(to, x.sign, x.sig, x.exp, rm);
}

const INT_MIN = [-(1n << 31n), 0n, -(1n << 63n), 0n];
const INT_MAX = [(1n << 31n) - 1n, (1n << 32n) - 1n, (1n << 63n) - 1n, (1n << 64n) - 1n];

/** The x register value for an integer result: 32-bit results are sign-extended (RV64). */
function intResult(type: number, v: bigint): bigint {
  return type <= INT_WU ? BigInt.asUintN(64, BigInt.asIntN(32, v)) : BigInt.asUintN(64, v);
}

/**
 * fcvt.{w,wu,l,lu}.{s,d}: round to an integer, then saturate. NaN and +inf give the
 * maximum, -inf the minimum; out of range raises NV alone (no NX), like RISC-V hardware.
 */
export function toInt(f: FloatFormat, a: bigint, type: number, rm: number): bigint {
  const x = unpack(f, a);
  const lo = INT_MIN[type]!;
  const hi = INT_MAX[type]!;
  if (isNaNKind(x) || x.kind === INF) {
    fpFlags.value |= FLAG_NV;
    return intResult(type, x.kind === INF && x.sign ? lo : hi);
  }
  if (x.kind === ZERO) return 0n;
  let magnitude: bigint;
  let inexact = false;
  if (x.exp >= 0) {
    magnitude = x.exp > 64 ? 1n << 65n : x.sig << BigInt(x.exp); // anything >= 2^65 saturates
  } else {
    magnitude = roundShift(x.sig, -x.exp, rm, x.sign);
    inexact = shiftInexact;
  }
  const v = x.sign ? -magnitude : magnitude;
  if (v < lo || v > hi) {
    fpFlags.value |= FLAG_NV;
    return intResult(type, x.sign ? lo : hi);
  }
  if (inexact) fpFlags.value |= FLAG_NX;
  return intResult(type, v);
}

/** fcvt.{s,d}.{w,wu,l,lu}: the source is the x register value, read per the type. */
export function fromInt(f: FloatFormat, xreg: bigint, type: number, rm: number): bigint {
  let v: bigint;
  switch (type) {
    case INT_W: v = BigInt.asIntN(32, xreg); break;
    case INT_WU: v = BigInt.asUintN(32, xreg); break;
    case INT_L: v = BigInt.asIntN(64, xreg); break;
    default: v = BigInt.asUintN(64, xreg); break;
  }
  if (v === 0n) return 0n;
  return v < 0n ? roundPack(f, 1, -v, 0, rm) : roundPack(f, 0, v, 0, rm);
}

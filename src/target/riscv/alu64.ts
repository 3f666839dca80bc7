// 64-bit multiply and divide on (lo, hi) int32 halves, written straight into a register
// file laid out as Int32Array pairs. The common cases stay in Number arithmetic; only
// operands beyond 2^53 fall back to BigInt.

const TWO32 = 4294967296;

/** Writes the low 64 bits of a*b into x[2*rd], x[2*rd+1]. */
export function mul64(x: Int32Array, rd: number, alo: number, ahi: number, blo: number, bhi: number): void {
  const a0 = alo & 0xffff, a1 = alo >>> 16, b0 = blo & 0xffff, b1 = blo >>> 16;
  const mid = a0 * b1 + a1 * b0; // < 2^33
  const midLo = mid % 65536, midHi = (mid - midLo) / 65536;
  const t = a0 * b0 + midLo * 65536; // < 2^33
  const carry = t >= TWO32 ? 1 : 0;
  const loHi = a1 * b1 + midHi + carry; // high word of alo*blo (unsigned)
  x[rd * 2] = t | 0;
  x[rd * 2 + 1] = (loHi + Math.imul(alo, bhi) + Math.imul(ahi, blo)) | 0;
}

/** 32-bit multiply for MULW: low 32 bits sign-extended. */
export function mulw(x: Int32Array, rd: number, a: number, b: number): void {
  const r = Math.imul(a, b);
  x[rd * 2] = r;
  x[rd * 2 + 1] = r >> 31;
}

function toBig(lo: number, hi: number, signed: boolean): bigint {
  const v = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
  return signed ? BigInt.asIntN(64, v) : v;
}

function setBig(x: Int32Array, rd: number, v: bigint): void {
  const u = BigInt.asUintN(64, v);
  x[rd * 2] = Number(u & 0xffffffffn) | 0;
  x[rd * 2 + 1] = Number(u >> 32n) | 0;
}

const limbsA = new Float64Array(4);
const limbsB = new Float64Array(4);
const prod = new Float64Array(8);

function toLimbs(out: Float64Array, lo: number, hi: number): void {
  out[0] = lo & 0xffff;
  out[1] = lo >>> 16;
  out[2] = hi & 0xffff;
  out[3] = hi >>> 16;
}

/**
 * MULH (ss), MULHSU (su), MULHU (uu): high 64 bits of the 128-bit product, by 16-bit
 * limbs (every partial sum stays below 2^53). The signed forms correct the unsigned
 * high word: a negative operand contributes -(other operand) << 64.
 */
export function mulh(x: Int32Array, rd: number, alo: number, ahi: number, blo: number, bhi: number,
  aSigned: boolean, bSigned: boolean): void {
  toLimbs(limbsA, alo, ahi);
  toLimbs(limbsB, blo, bhi);
  prod.fill(0);
  for (let i = 0; i < 4; i++) {
    let carry = 0;
    const ai = limbsA[i]!;
    for (let j = 0; j < 4; j++) {
      const t = prod[i + j]! + ai * limbsB[j]! + carry;
      carry = Math.floor(t / 65536);
      prod[i + j] = t - carry * 65536;
    }
    prod[i + 4] = carry;
  }
  let lo = (prod[4]! + prod[5]! * 65536) | 0;
  let hi = (prod[6]! + prod[7]! * 65536) | 0;
  if (aSigned && ahi < 0) [lo, hi] = sub64(lo, hi, blo, bhi);
  if (bSigned && bhi < 0) [lo, hi] = sub64(lo, hi, alo, ahi);
  x[rd * 2] = lo;
  x[rd * 2 + 1] = hi;
}

function sub64(alo: number, ahi: number, blo: number, bhi: number): [number, number] {
  const lo = (alo - blo) | 0;
  const borrow = (alo >>> 0) < (blo >>> 0) ? 1 : 0;
  return [lo, (ahi - bhi - borrow) | 0];
}

/** True when the signed 64-bit value (lo, hi) is within ±2^52 (exact as a Number). */
function smallSigned(hi: number): boolean {
  return hi >= -0x100000 && hi < 0x100000;
}
function smallUnsigned(hi: number): boolean {
  return (hi >>> 0) < 0x100000;
}
function setNum(x: Int32Array, rd: number, v: number): void {
  x[rd * 2] = v | 0; // ToInt32 is exact modulo 2^32 for integral Numbers
  x[rd * 2 + 1] = Math.floor(v / TWO32) | 0;
}

/** DIV/REM (signed) per the spec: x/0 = -1, x%0 = x, MIN/-1 = MIN, MIN%-1 = 0. */
export function divs(x: Int32Array, rd: number, alo: number, ahi: number, blo: number, bhi: number,
  rem: boolean): void {
  if (blo === 0 && bhi === 0) {
    if (rem) { x[rd * 2] = alo; x[rd * 2 + 1] = ahi; } else { x[rd * 2] = -1; x[rd * 2 + 1] = -1; }
    return;
  }
  if (smallSigned(ahi) && smallSigned(bhi)) {
    const a = ahi * TWO32 + (alo >>> 0), b = bhi * TWO32 + (blo >>> 0);
    setNum(x, rd, rem ? a % b : Math.trunc(a / b));
    return;
  }
  const a = toBig(alo, ahi, true), b = toBig(blo, bhi, true);
  if (b === -1n && a === -(1n << 63n)) {
    setBig(x, rd, rem ? 0n : a);
    return;
  }
  setBig(x, rd, rem ? a % b : a / b);
}

/** DIVU/REMU: x/0 = all ones, x%0 = x. */
export function divu(x: Int32Array, rd: number, alo: number, ahi: number, blo: number, bhi: number,
  rem: boolean): void {
  if (blo === 0 && bhi === 0) {
    if (rem) { x[rd * 2] = alo; x[rd * 2 + 1] = ahi; } else { x[rd * 2] = -1; x[rd * 2 + 1] = -1; }
    return;
  }
  if (smallUnsigned(ahi) && smallUnsigned(bhi)) {
    const a = (ahi >>> 0) * TWO32 + (alo >>> 0), b = (bhi >>> 0) * TWO32 + (blo >>> 0);
    setNum(x, rd, rem ? a % b : Math.floor(a / b));
    return;
  }
  const a = toBig(alo, ahi, false), b = toBig(blo, bhi, false);
  setBig(x, rd, rem ? a % b : a / b);
}

/** DIVW/REMW/DIVUW/REMUW on the low 32 bits; the 32-bit result is sign-extended. */
export function div32(x: Int32Array, rd: number, a: number, b: number, signed: boolean, rem: boolean): void {
  let r: number;
  if (b === 0) r = rem ? a : -1;
  else if (signed) {
    if (a === -0x80000000 && b === -1) r = rem ? 0 : a;
    else r = rem ? a % b : Math.trunc(a / b);
  } else {
    const ua = a >>> 0, ub = b >>> 0;
    r = rem ? ua % ub : Math.floor(ua / ub);
  }
  r |= 0;
  x[rd * 2] = r;
  x[rd * 2 + 1] = r >> 31;
}

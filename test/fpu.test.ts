// The RISC-V FPU against hand-picked cases from the spec and IEEE 754, each run with the
// host fast paths on and off; plus a randomized check that the fast paths equal the core.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  boxS, fadd, fclass, fcvtFF, fcvtFromInt, fcvtToInt, fdiv, feq, fle, flt, fmadd, fmax,
  fmin, fmsub, fmul, fnmadd, fnmsub, fpFlags, fpuOptions, fsgnj, fsgnjn, fsgnjx, fsqrt,
  fsub, unboxS,
  CANONICAL_NAN_D, CANONICAL_NAN_S, FMT_D, FMT_S,
  FLAG_DZ, FLAG_NV, FLAG_NX, FLAG_OF, FLAG_UF,
  INT_L, INT_LU, INT_W, INT_WU, RDN, RMM, RNE, RTZ, RUP,
} from '../src/target/riscv/fpu.js';
import { rng } from './lib/rng.js';

const view = new DataView(new ArrayBuffer(8));
/** binary64 bits of a JS number. */
function d(x: number): bigint {
  view.setFloat64(0, x);
  return view.getBigUint64(0);
}
/** binary32 bits of a JS number (rounded to single first). */
function s(x: number): bigint {
  view.setFloat32(0, x);
  return BigInt(view.getUint32(0));
}
const hex = (b: bigint): string => '0x' + b.toString(16);

/** Runs fn with the fast paths on and off; both must agree. Returns [result, flags]. */
function both(fn: () => bigint): [string, number] {
  const out: [string, number][] = [];
  for (const fast of [true, false]) {
    fpuOptions.fastPaths = fast;
    fpFlags.value = 0;
    const r = fn();
    out.push([hex(r), fpFlags.value]);
  }
  fpuOptions.fastPaths = true;
  fpFlags.value = 0;
  assert.deepEqual(out[0], out[1], 'fast path and exact core disagree');
  return out[0]!;
}

function expect(fn: () => bigint, bits: bigint, flags: number, what = ''): void {
  assert.deepEqual(both(fn), [hex(bits), flags], what);
}

const D_MAX = 0x7fefffffffffffffn;
const D_INF = 0x7ff0000000000000n;
const D_MIN_SUB = 1n;
const D_MAX_SUB = 0x000fffffffffffffn;
const D_MIN_NORMAL = 0x0010000000000000n;
const D_SNAN = 0x7ff0000000000001n;
const D_QNAN_PAYLOAD = 0x7ff8000000001234n;
const D_NEG = 0x8000000000000000n;
const S_MAX = 0x7f7fffffn;
const S_INF = 0x7f800000n;
const S_MAX_SUB = 0x007fffffn;
const S_MIN_NORMAL = 0x00800000n;
const S_SNAN = 0x7f800001n;
const S_NEG = 0x80000000n;
const ALL_RM = [RNE, RTZ, RDN, RUP, RMM]; // per-mode tables below are in this order

test('addition rounds ties per mode, in both directions', () => {
  const tie = 2 ** -53; // half an ulp of 1.0
  const up = d(1 + 2 ** -52);
  const want = [d(1), d(1), d(1), up, up];
  for (const rm of ALL_RM) expect(() => fadd(FMT_D, d(1), d(tie), rm), want[rm]!, FLAG_NX, `rm ${rm}`);
  const negWant = [d(-1), d(-1), d(-1 - 2 ** -52), d(-1), d(-1 - 2 ** -52)];
  for (const rm of ALL_RM) expect(() => fsub(FMT_D, d(-1), d(tie), rm), negWant[rm]!, FLAG_NX, `rm ${rm}`);
  // An odd significand at a tie rounds up in RNE.
  expect(() => fadd(FMT_D, d(1 + 2 ** -52), d(tie), RNE), d(1 + 2 ** -51), FLAG_NX);
  // Single precision: 1 + 2^-24 is a tie.
  expect(() => fadd(FMT_S, s(1), s(2 ** -24), RNE), s(1), FLAG_NX);
  expect(() => fadd(FMT_S, s(1), s(2 ** -24), RMM), s(1 + 2 ** -23), FLAG_NX);
  expect(() => fadd(FMT_S, s(1), s(2 ** -24), RUP), s(1 + 2 ** -23), FLAG_NX);
  expect(() => fadd(FMT_S, s(1), s(2 ** -24 + 2 ** -40), RNE), s(1 + 2 ** -23), FLAG_NX);
  expect(() => fadd(FMT_S, s(1), s(2 ** -60), RNE), s(1), FLAG_NX);
  expect(() => fadd(FMT_S, s(1.5), s(2.25), RNE), s(3.75), 0);
});

test('exact zero sums: +0 except in RDN; signed zeros', () => {
  for (const rm of ALL_RM) {
    const zero = rm === RDN ? D_NEG : 0n;
    expect(() => fsub(FMT_D, d(1.5), d(1.5), rm), zero, 0, `x - x, rm ${rm}`);
    expect(() => fadd(FMT_D, d(-2), d(2), rm), zero, 0);
    expect(() => fadd(FMT_D, d(0), D_NEG, rm), zero, 0, `+0 + -0, rm ${rm}`);
    expect(() => fadd(FMT_D, D_NEG, D_NEG, rm), D_NEG, 0, `-0 + -0, rm ${rm}`);
    expect(() => fsub(FMT_S, s(3), s(3), rm), rm === RDN ? S_NEG : 0n, 0);
  }
  expect(() => fadd(FMT_D, D_NEG, d(5), RNE), d(5), 0);
});

test('overflow: infinity or the largest finite number per mode and sign', () => {
  const flags = FLAG_OF | FLAG_NX;
  const pos = [D_INF, D_MAX, D_MAX, D_INF, D_INF];
  const neg = [D_INF, D_MAX, D_INF, D_MAX, D_INF];
  for (const rm of ALL_RM) {
    expect(() => fadd(FMT_D, D_MAX, D_MAX, rm), pos[rm]!, flags, `rm ${rm}`);
    expect(() => fmul(FMT_D, D_MAX | D_NEG, d(2), rm), neg[rm]! | D_NEG, flags, `rm ${rm}`);
  }
  expect(() => fmul(FMT_S, S_MAX, s(2), RNE), S_INF, flags);
  expect(() => fmul(FMT_S, S_MAX, s(2), RTZ), S_MAX, flags);
  // Half an ulp above the largest finite value is a tie that rounds to even: infinity.
  expect(() => fadd(FMT_D, D_MAX, d(2 ** 970), RNE), D_INF, flags);
  expect(() => fadd(FMT_D, D_MAX, d(2 ** 969), RNE), D_MAX, FLAG_NX);
  expect(() => fadd(FMT_D, D_MAX, d(2 ** 970), RTZ), D_MAX, FLAG_NX);
});

test('underflow: subnormal results, UF only when tiny and inexact, tininess after rounding', () => {
  // Exact subnormal results raise nothing.
  expect(() => fsub(FMT_D, D_MIN_NORMAL, D_MIN_SUB, RNE), D_MAX_SUB, 0);
  expect(() => fmul(FMT_D, D_MAX_SUB + 1n, d(0.5), RNE), 0x0008000000000000n, 0);
  // Half the smallest subnormal: a tie between 0 and it.
  const flags = FLAG_UF | FLAG_NX;
  const half = [0n, 0n, 0n, D_MIN_SUB, D_MIN_SUB];
  for (const rm of ALL_RM) expect(() => fmul(FMT_D, D_MIN_SUB, d(0.5), rm), half[rm]!, flags, `rm ${rm}`);
  expect(() => fmul(FMT_D, D_MIN_SUB | D_NEG, d(0.5), RDN), D_MIN_SUB | D_NEG, flags);
  expect(() => fmul(FMT_D, D_MIN_SUB | D_NEG, d(0.5), RNE), D_NEG, flags);
  expect(() => fdiv(FMT_S, 1n, s(3), RNE), 0n, flags);
  // Largest subnormal * (1 + 2^-52) rounds to the smallest normal, and with an unbounded
  // exponent it would round there too: not tiny after rounding, so NX without UF.
  expect(() => fmul(FMT_D, D_MAX_SUB, d(1 + 2 ** -52), RNE), D_MIN_NORMAL, FLAG_NX);
  // Largest subnormal + 2^-1075 also lands on the smallest normal (tie to even), but
  // 2^-1022 - 2^-1075 has 53 bits, so unbounded rounding keeps it below 2^-1022: tiny.
  expect(() => fmadd(FMT_D, d(2 ** -538), d(2 ** -537), D_MAX_SUB, RNE), D_MIN_NORMAL, flags);
  expect(() => fmadd(FMT_S, s(2 ** -75), s(2 ** -75), S_MAX_SUB, RNE), S_MIN_NORMAL, flags);
  expect(() => fmul(FMT_S, S_MAX_SUB, s(1 + 2 ** -23), RNE), S_MIN_NORMAL, FLAG_NX);
});

test('division: rounding, 0/0, x/0, infinities', () => {
  const third = [d(1 / 3), d(1 / 3), d(1 / 3), d(1 / 3) + 1n, d(1 / 3)];
  for (const rm of ALL_RM) expect(() => fdiv(FMT_D, d(1), d(3), rm), third[rm]!, FLAG_NX, `rm ${rm}`);
  expect(() => fdiv(FMT_D, d(2), d(3), RNE), d(2 / 3), FLAG_NX);
  expect(() => fdiv(FMT_D, d(2), d(3), RTZ), d(2 / 3), FLAG_NX);
  expect(() => fdiv(FMT_D, d(2), d(3), RUP), d(2 / 3) + 1n, FLAG_NX);
  expect(() => fdiv(FMT_D, d(6), d(3), RUP), d(2), 0);
  expect(() => fdiv(FMT_D, 0n, 0n, RNE), CANONICAL_NAN_D, FLAG_NV);
  expect(() => fdiv(FMT_D, D_INF, D_INF, RNE), CANONICAL_NAN_D, FLAG_NV);
  expect(() => fdiv(FMT_D, d(1), 0n, RNE), D_INF, FLAG_DZ);
  expect(() => fdiv(FMT_D, d(-1), 0n, RNE), D_INF | D_NEG, FLAG_DZ);
  expect(() => fdiv(FMT_D, d(1), D_NEG, RNE), D_INF | D_NEG, FLAG_DZ);
  expect(() => fdiv(FMT_D, D_INF, 0n, RNE), D_INF, 0);
  expect(() => fdiv(FMT_D, d(1), D_INF | D_NEG, RNE), D_NEG, 0);
  expect(() => fdiv(FMT_S, s(1), s(3), RNE), s(1 / 3), FLAG_NX);
  expect(() => fdiv(FMT_S, s(1), 0n, RNE), S_INF, FLAG_DZ);
  expect(() => fdiv(FMT_S, 0n, 0n, RNE), CANONICAL_NAN_S, FLAG_NV);
});

test('square root', () => {
  const r2 = d(Math.SQRT2); // rounded up from the exact value
  const want = [r2, r2 - 1n, r2 - 1n, r2, r2];
  for (const rm of ALL_RM) expect(() => fsqrt(FMT_D, d(2), rm), want[rm]!, FLAG_NX, `rm ${rm}`);
  expect(() => fsqrt(FMT_D, d(4), RNE), d(2), 0);
  expect(() => fsqrt(FMT_D, D_NEG, RNE), D_NEG, 0);
  expect(() => fsqrt(FMT_D, D_INF, RNE), D_INF, 0);
  expect(() => fsqrt(FMT_D, d(-1), RNE), CANONICAL_NAN_D, FLAG_NV);
  expect(() => fsqrt(FMT_D, D_INF | D_NEG, RNE), CANONICAL_NAN_D, FLAG_NV);
  expect(() => fsqrt(FMT_D, D_SNAN, RNE), CANONICAL_NAN_D, FLAG_NV);
  expect(() => fsqrt(FMT_D, D_MIN_SUB, RNE), d(Math.sqrt(2 ** -1074)), 0);
  expect(() => fsqrt(FMT_S, s(2), RNE), s(Math.SQRT2), FLAG_NX);
  expect(() => fsqrt(FMT_S, s(2), RUP), s(Math.SQRT2) + 1n, FLAG_NX); // fround rounded down
  expect(() => fsqrt(FMT_S, s(2), RTZ), s(Math.SQRT2), FLAG_NX);
  expect(() => fsqrt(FMT_S, s(-0), RNE), S_NEG, 0);
});

test('fused multiply-add rounds once, negates operands, and raises NV for inf * 0', () => {
  // (1 + 2^-52)(1 - 2^-52) - 1 = -2^-104 exactly; a separate multiply would give 0.
  expect(() => fmsub(FMT_D, d(1 + 2 ** -52), d(1 - 2 ** -52), d(1), RNE), d(-(2 ** -104)), 0);
  expect(() => fmadd(FMT_D, d(1 + 2 ** -52), d(1 - 2 ** -52), d(-1), RNE), d(-(2 ** -104)), 0);
  expect(() => fnmsub(FMT_D, d(1 + 2 ** -52), d(1 - 2 ** -52), d(1), RNE), d(2 ** -104), 0);
  expect(() => fnmadd(FMT_D, d(1 + 2 ** -52), d(1 - 2 ** -52), d(-1), RNE), d(2 ** -104), 0);
  // 3 * (1/3 rounded) + 0: one rounding of the exact product.
  expect(() => fmadd(FMT_D, d(3), d(1 / 3), 0n, RNE), d(1), FLAG_NX);
  expect(() => fmadd(FMT_D, d(3), d(1 / 3), 0n, RTZ), d(1 - 2 ** -53), FLAG_NX);
  // Exact zero results: +0, or -0 in RDN; fnmadd negates operands, not the result.
  expect(() => fmadd(FMT_D, d(1), d(1), d(-1), RNE), 0n, 0);
  expect(() => fmadd(FMT_D, d(1), d(1), d(-1), RDN), D_NEG, 0);
  expect(() => fnmadd(FMT_D, d(1), d(1), d(-1), RNE), 0n, 0);
  expect(() => fmadd(FMT_D, D_NEG, d(1), D_NEG, RNE), D_NEG, 0);
  expect(() => fmadd(FMT_D, 0n, d(1), D_NEG, RNE), 0n, 0);
  expect(() => fmadd(FMT_D, 0n, d(1), D_NEG, RDN), D_NEG, 0);
  // Invalid cases.
  expect(() => fmadd(FMT_D, D_INF, 0n, CANONICAL_NAN_D, RNE), CANONICAL_NAN_D, FLAG_NV);
  expect(() => fmadd(FMT_D, D_INF, 0n, d(1), RNE), CANONICAL_NAN_D, FLAG_NV);
  expect(() => fmadd(FMT_D, D_INF, d(1), D_INF | D_NEG, RNE), CANONICAL_NAN_D, FLAG_NV);
  expect(() => fmsub(FMT_D, D_INF, d(1), D_INF, RNE), CANONICAL_NAN_D, FLAG_NV);
  expect(() => fmadd(FMT_D, D_INF, d(1), D_INF, RNE), D_INF, 0);
  expect(() => fmadd(FMT_D, d(1), d(1), D_INF | D_NEG, RNE), D_INF | D_NEG, 0);
  expect(() => fmadd(FMT_D, d(1), d(1), D_QNAN_PAYLOAD, RNE), CANONICAL_NAN_D, 0);
  expect(() => fmadd(FMT_S, s(1), S_SNAN, s(1), RNE), CANONICAL_NAN_S, FLAG_NV);
  // Overflow inside a fused op.
  expect(() => fmadd(FMT_D, D_MAX, d(2), D_MAX | D_NEG, RNE), D_MAX, 0);
  expect(() => fmadd(FMT_D, D_MAX, d(2), d(0), RTZ), D_MAX, FLAG_OF | FLAG_NX);
});

test('NaN propagation is always the canonical NaN; sNaN raises NV', () => {
  expect(() => fadd(FMT_D, D_QNAN_PAYLOAD, d(1), RNE), CANONICAL_NAN_D, 0);
  expect(() => fadd(FMT_D, d(1), D_SNAN, RNE), CANONICAL_NAN_D, FLAG_NV);
  expect(() => fmul(FMT_D, D_SNAN | D_NEG, D_QNAN_PAYLOAD, RNE), CANONICAL_NAN_D, FLAG_NV);
  expect(() => fadd(FMT_S, 0xffc01234n, s(1), RNE), CANONICAL_NAN_S, 0);
  expect(() => fdiv(FMT_S, S_SNAN, s(1), RNE), CANONICAL_NAN_S, FLAG_NV);
  expect(() => fsub(FMT_D, D_INF, D_INF, RNE), CANONICAL_NAN_D, FLAG_NV);
  expect(() => fadd(FMT_D, D_INF, D_INF | D_NEG, RNE), CANONICAL_NAN_D, FLAG_NV);
  expect(() => fadd(FMT_D, D_INF, D_INF, RNE), D_INF, 0);
  expect(() => fmul(FMT_D, 0n, D_INF, RNE), CANONICAL_NAN_D, FLAG_NV);
  expect(() => fmul(FMT_S, S_INF, S_NEG, RNE), CANONICAL_NAN_S, FLAG_NV);
  expect(() => fmul(FMT_D, D_INF, d(-2), RNE), D_INF | D_NEG, 0);
});

test('fmin/fmax: -0 < +0, NaN operands, signaling NaN raises NV', () => {
  expect(() => fmin(FMT_D, 0n, D_NEG), D_NEG, 0);
  expect(() => fmin(FMT_D, D_NEG, 0n), D_NEG, 0);
  expect(() => fmax(FMT_D, D_NEG, 0n), 0n, 0);
  expect(() => fmax(FMT_D, 0n, D_NEG), 0n, 0);
  expect(() => fmin(FMT_D, d(1), d(-3)), d(-3), 0);
  expect(() => fmax(FMT_D, d(1), d(-3)), d(1), 0);
  expect(() => fmax(FMT_D, d(-1), D_INF | D_NEG), d(-1), 0);
  expect(() => fmin(FMT_D, D_QNAN_PAYLOAD, d(1)), d(1), 0);
  expect(() => fmax(FMT_D, d(1), D_QNAN_PAYLOAD), d(1), 0);
  expect(() => fmin(FMT_D, D_SNAN, d(1)), d(1), FLAG_NV);
  expect(() => fmin(FMT_D, D_QNAN_PAYLOAD, D_QNAN_PAYLOAD), CANONICAL_NAN_D, 0);
  expect(() => fmax(FMT_D, D_SNAN, D_QNAN_PAYLOAD), CANONICAL_NAN_D, FLAG_NV);
  expect(() => fmin(FMT_S, S_NEG, 0n), S_NEG, 0);
  expect(() => fmax(FMT_S, S_SNAN, s(2)), s(2), FLAG_NV);
  expect(() => fmin(FMT_S, s(-2), s(-1)), s(-2), 0);
});

test('comparisons: feq is quiet, flt/fle signal on any NaN', () => {
  expect(() => feq(FMT_D, d(1), d(1)), 1n, 0);
  expect(() => feq(FMT_D, 0n, D_NEG), 1n, 0);
  expect(() => flt(FMT_D, D_NEG, 0n), 0n, 0);
  expect(() => fle(FMT_D, 0n, D_NEG), 1n, 0);
  expect(() => flt(FMT_D, D_INF | D_NEG, d(-1e300)), 1n, 0);
  expect(() => flt(FMT_D, d(-2), d(-1)), 1n, 0);
  expect(() => fle(FMT_D, d(-1), d(-2)), 0n, 0);
  expect(() => feq(FMT_D, D_QNAN_PAYLOAD, D_QNAN_PAYLOAD), 0n, 0);
  expect(() => feq(FMT_D, D_SNAN, d(1)), 0n, FLAG_NV);
  expect(() => flt(FMT_D, D_QNAN_PAYLOAD, d(1)), 0n, FLAG_NV);
  expect(() => fle(FMT_D, d(1), D_QNAN_PAYLOAD), 0n, FLAG_NV);
  expect(() => flt(FMT_S, s(1), s(2)), 1n, 0);
  expect(() => feq(FMT_S, S_SNAN, S_SNAN), 0n, FLAG_NV);
});

test('fclass: all ten classes', () => {
  const cases: [bigint, number][] = [
    [D_INF | D_NEG, 0], [d(-1), 1], [D_MIN_SUB | D_NEG, 2], [D_NEG, 3], [0n, 4],
    [D_MAX_SUB, 5], [D_MIN_NORMAL, 6], [D_INF, 7], [D_SNAN, 8], [CANONICAL_NAN_D, 9],
  ];
  for (const [v, bit] of cases) expect(() => fclass(FMT_D, v), 1n << BigInt(bit), 0, hex(v));
  const single: [bigint, number][] = [
    [S_INF | S_NEG, 0], [s(-1), 1], [S_MAX_SUB | S_NEG, 2], [S_NEG, 3], [0n, 4],
    [1n, 5], [S_MAX, 6], [S_INF, 7], [S_SNAN, 8], [0x7fc00001n, 9],
  ];
  for (const [v, bit] of single) expect(() => fclass(FMT_S, v), 1n << BigInt(bit), 0, hex(v));
});

test('sign injection', () => {
  expect(() => fsgnj(FMT_D, d(1), d(-2)), d(-1), 0);
  expect(() => fsgnjn(FMT_D, d(1), d(-2)), d(1), 0);
  expect(() => fsgnjx(FMT_D, d(-1), d(-2)), d(1), 0);
  expect(() => fsgnjn(FMT_S, s(3), s(3)), s(-3), 0);
  expect(() => fsgnjx(FMT_S, s(-3), s(3)), s(-3), 0);
  expect(() => fsgnj(FMT_S, S_SNAN, S_NEG), S_SNAN | S_NEG, 0); // no NaN rules here
});

const SEXT32 = (v: number): bigint => BigInt.asUintN(64, BigInt(v));

test('float to integer: rounding, saturation, NV and NX', () => {
  const w = (x: number, rm = RTZ): bigint => fcvtToInt(FMT_D, d(x), INT_W, rm);
  expect(() => w(3e9), 0x7fffffffn, FLAG_NV);
  expect(() => w(-3e9), SEXT32(-(2 ** 31)), FLAG_NV);
  expect(() => fcvtToInt(FMT_D, CANONICAL_NAN_D, INT_W, RNE), 0x7fffffffn, FLAG_NV);
  expect(() => fcvtToInt(FMT_D, D_QNAN_PAYLOAD | D_NEG, INT_W, RNE), 0x7fffffffn, FLAG_NV);
  expect(() => fcvtToInt(FMT_D, D_INF | D_NEG, INT_W, RNE), SEXT32(-(2 ** 31)), FLAG_NV);
  expect(() => w(-1), SEXT32(-1), 0);
  expect(() => w(-2147483648.9), SEXT32(-(2 ** 31)), FLAG_NX);
  expect(() => w(-2147483648.9, RDN), SEXT32(-(2 ** 31)), FLAG_NV);
  expect(() => w(2147483647.5, RNE), 0x7fffffffn, FLAG_NV); // ties to even: 2^31
  expect(() => w(2147483647.4, RNE), 0x7fffffffn, FLAG_NX);
  const halves: [number, number[]][] = [[2.5, [2, 2, 2, 3, 3]], [-2.5, [-2, -2, -3, -2, -3]], [0.5, [0, 0, 0, 1, 1]]];
  for (const [x, want] of halves) {
    for (const rm of ALL_RM) expect(() => w(x, rm), SEXT32(want[rm]!), FLAG_NX, `${x} rm ${rm}`);
  }
  const wu = (x: number, rm = RTZ): bigint => fcvtToInt(FMT_D, d(x), INT_WU, rm);
  expect(() => wu(-1), 0n, FLAG_NV);
  expect(() => wu(-0.5), 0n, FLAG_NX);
  expect(() => wu(-0.5, RDN), 0n, FLAG_NV);
  expect(() => wu(4294967295), 0xffffffffffffffffn, 0); // sign-extended 32-bit result
  expect(() => wu(4294967296), 0xffffffffffffffffn, FLAG_NV);
  expect(() => wu(2 ** 31), 0xffffffff80000000n, 0);
  expect(() => fcvtToInt(FMT_D, CANONICAL_NAN_D, INT_WU, RNE), 0xffffffffffffffffn, FLAG_NV);
  const l = (x: number, type: number, rm = RTZ): bigint => fcvtToInt(FMT_D, d(x), type, rm);
  expect(() => l(2 ** 63, INT_L), 0x7fffffffffffffffn, FLAG_NV);
  expect(() => l(-(2 ** 63), INT_L), 0x8000000000000000n, 0);
  expect(() => l(-1e300, INT_L), 0x8000000000000000n, FLAG_NV);
  expect(() => l(2 ** 64, INT_LU), 0xffffffffffffffffn, FLAG_NV);
  expect(() => l(2 ** 64 - 2048, INT_LU), 0xfffffffffffff800n, 0);
  expect(() => l(-1, INT_LU), 0n, FLAG_NV);
  expect(() => fcvtToInt(FMT_D, D_INF | D_NEG, INT_LU, RNE), 0n, FLAG_NV);
  expect(() => fcvtToInt(FMT_D, D_INF, INT_LU, RNE), 0xffffffffffffffffn, FLAG_NV);
  expect(() => fcvtToInt(FMT_D, D_NEG, INT_LU, RNE), 0n, 0);
  expect(() => fcvtToInt(FMT_D, D_MIN_SUB, INT_L, RUP), 1n, FLAG_NX);
  expect(() => fcvtToInt(FMT_S, s(-7.75), INT_L, RNE), BigInt.asUintN(64, -8n), FLAG_NX);
  expect(() => fcvtToInt(FMT_S, s(2 ** 31), INT_W, RNE), 0x7fffffffn, FLAG_NV);
  expect(() => fcvtToInt(FMT_S, s(-(2 ** 31)), INT_W, RNE), SEXT32(-(2 ** 31)), 0);
});

test('integer to float: rounding and NX; W types read the low 32 bits', () => {
  const x = (v: bigint): bigint => BigInt.asUintN(64, v);
  expect(() => fcvtFromInt(FMT_S, x(16777217n), INT_W, RNE), s(16777216), FLAG_NX);
  expect(() => fcvtFromInt(FMT_S, x(16777217n), INT_W, RUP), s(16777218), FLAG_NX);
  expect(() => fcvtFromInt(FMT_S, x(-16777217n), INT_W, RDN), s(-16777218), FLAG_NX);
  expect(() => fcvtFromInt(FMT_S, x(-1n), INT_WU, RNE), s(4294967296), FLAG_NX);
  expect(() => fcvtFromInt(FMT_S, x(-1n), INT_WU, RTZ), s(4294967040), FLAG_NX);
  expect(() => fcvtFromInt(FMT_D, x(-1n), INT_W, RNE), d(-1), 0);
  expect(() => fcvtFromInt(FMT_D, 0x100000005n, INT_W, RNE), d(5), 0);
  expect(() => fcvtFromInt(FMT_D, 0x180000000n, INT_WU, RNE), d(2 ** 31), 0);
  expect(() => fcvtFromInt(FMT_D, 0x180000000n, INT_W, RNE), d(-(2 ** 31)), 0);
  expect(() => fcvtFromInt(FMT_D, x(-1n), INT_LU, RNE), d(2 ** 64), FLAG_NX);
  expect(() => fcvtFromInt(FMT_D, x(-1n), INT_LU, RTZ), d(2 ** 64 - 2048), FLAG_NX);
  expect(() => fcvtFromInt(FMT_D, x(-(2n ** 63n)), INT_L, RNE), d(-(2 ** 63)), 0);
  expect(() => fcvtFromInt(FMT_D, x((1n << 53n) + 1n), INT_L, RMM), d(2 ** 53 + 2), FLAG_NX);
  expect(() => fcvtFromInt(FMT_D, 0n, INT_L, RDN), 0n, 0);
});

test('single <-> double conversion', () => {
  expect(() => fcvtFF(FMT_S, FMT_D, d(1 + 2 ** -30), RNE), s(1), FLAG_NX);
  expect(() => fcvtFF(FMT_S, FMT_D, d(1 + 2 ** -30), RUP), s(1 + 2 ** -23), FLAG_NX);
  expect(() => fcvtFF(FMT_S, FMT_D, d(1e300), RNE), S_INF, FLAG_OF | FLAG_NX);
  expect(() => fcvtFF(FMT_S, FMT_D, d(-1e300), RTZ), S_MAX | S_NEG, FLAG_OF | FLAG_NX);
  expect(() => fcvtFF(FMT_S, FMT_D, d(1e-50), RNE), 0n, FLAG_UF | FLAG_NX);
  expect(() => fcvtFF(FMT_S, FMT_D, d(1e-50), RUP), 1n, FLAG_UF | FLAG_NX);
  expect(() => fcvtFF(FMT_S, FMT_D, d(2 ** -149), RNE), 1n, 0);
  expect(() => fcvtFF(FMT_S, FMT_D, D_QNAN_PAYLOAD, RNE), CANONICAL_NAN_S, 0);
  expect(() => fcvtFF(FMT_S, FMT_D, D_SNAN, RNE), CANONICAL_NAN_S, FLAG_NV);
  expect(() => fcvtFF(FMT_S, FMT_D, D_INF | D_NEG, RNE), S_INF | S_NEG, 0);
  expect(() => fcvtFF(FMT_D, FMT_S, s(0.1), RNE), d(Math.fround(0.1)), 0);
  expect(() => fcvtFF(FMT_D, FMT_S, 1n, RNE), d(2 ** -149), 0);
  expect(() => fcvtFF(FMT_D, FMT_S, S_SNAN, RNE), CANONICAL_NAN_D, FLAG_NV);
  expect(() => fcvtFF(FMT_D, FMT_S, S_NEG, RNE), D_NEG, 0);
});

test('NaN boxing', () => {
  assert.equal(boxS(0x3f800000n), 0xffffffff3f800000n);
  assert.equal(unboxS(0xffffffff3f800000n), 0x3f800000n);
  assert.equal(unboxS(0x000000003f800000n), CANONICAL_NAN_S);
  assert.equal(unboxS(0xfffffffe3f800000n), CANONICAL_NAN_S);
  assert.equal(unboxS(0x7ff0000000000000n), CANONICAL_NAN_S);
  assert.equal(unboxS(boxS(S_SNAN)), S_SNAN);
});

// ---- fast paths == exact core, on random operands biased toward hard cases -------------

function randomBits(rand: () => number, fmt: number): bigint {
  const [expBits, fracBits] = fmt === FMT_D ? [11, 52] : [8, 23];
  const expMax = (1 << expBits) - 1;
  const bias = expMax >> 1;
  const pick = rand();
  let e: number;
  if (pick < 0.05) e = 0;
  else if (pick < 0.1) e = expMax;
  else if (pick < 0.2) e = Math.floor(rand() * 4);
  else if (pick < 0.3) e = expMax - 1 - Math.floor(rand() * 4);
  else if (pick < 0.4) e = Math.floor(rand() * expMax);
  else e = bias + Math.floor((rand() - 0.5) * 2 * (fracBits + 10));
  let frac = 0n;
  for (let i = 0; i < fracBits; i += 16) frac = (frac << 16n) | BigInt(Math.floor(rand() * 65536));
  frac &= (1n << BigInt(fracBits)) - 1n;
  if (rand() < 0.4) frac &= ~((1n << BigInt(Math.floor(rand() * fracBits))) - 1n); // short significands
  const sign = rand() < 0.5 ? 1n : 0n;
  return (sign << BigInt(expBits + fracBits)) | (BigInt(e) << BigInt(fracBits)) | frac;
}

test('host fast paths agree with the exact core (RNE)', () => {
  const rand = rng(12345);
  const ops = [fadd, fsub, fmul, fdiv];
  for (let i = 0; i < 20000; i++) {
    const fmt = i & 1;
    const a = randomBits(rand, fmt);
    let b = randomBits(rand, fmt);
    if (rand() < 0.3) b = a ^ BigInt(Math.floor(rand() * 64)); // near a: cancellation, exact quotients
    const op = ops[i % 4]!;
    both(() => op(fmt, a, b, RNE));
    both(() => fsqrt(fmt, a & (fmt === FMT_D ? ~D_NEG : ~S_NEG), RNE));
  }
});

test('fused multiply-add fast path agrees with the exact core (RNE), ties and cancellation included', () => {
  const rand = rng(777);
  const fused = [fmadd, fmsub, fnmsub, fnmadd];
  const num = (b: bigint) => { view.setBigUint64(0, b); return view.getFloat64(0); };
  for (let i = 0; i < 40000; i++) {
    const a = randomBits(rand, FMT_D);
    const b = randomBits(rand, FMT_D);
    let c = randomBits(rand, FMT_D);
    const p = num(a) * num(b);
    const pick = rand();
    if (Number.isFinite(p) && p !== 0) {
      const ulp = 2 ** (Math.floor(Math.log2(Math.abs(p))) - 52);
      // The product's negation (near-total cancellation), or a fraction of its last place:
      // exact halves make ties, nearby values land just off them.
      if (pick < 0.25) c = d(-p) ^ BigInt(Math.floor(rand() * 8));
      else if (pick < 0.5) c = d((rand() < 0.5 ? -1 : 1) * ulp * [0.5, 0.25, 1.5, 0.5 + 2 ** -40, 1][Math.floor(rand() * 5)]!);
      else if (pick < 0.6) c = d(p * (rand() < 0.5 ? 1 : -1) * 2 ** Math.floor(rand() * 120 - 60));
    }
    both(() => fused[i % 4]!(FMT_D, a, b, c, RNE));
  }
});

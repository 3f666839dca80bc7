// The wasm writer's i64 constants: a number (the translator's pcs and immediates) must be
// encoded exactly as the same value as a bigint, and V8 must read back that value.
import assert from "node:assert/strict";
import { test } from "node:test";
import { assemble, CodeWriter } from "../src/accel/tcg/wasm-emitter.js";

const I64 = 0x7e;
const EDGES = [
  0, 1, -1, 63, 64, -64, -65, 0x7fffffff, -0x80000000, 0x80000000, -0x80000001, 0xffffffff, 2 ** 32,
  -(2 ** 32), 2 ** 53 - 1, -(2 ** 53 - 1), -0x7fe0cb22, 0x3fffffc000, -0x80000000000,
];

function bytesOf(v: number | bigint): number[] {
  return [...new CodeWriter().i64(v).view()];
}

/** Runs a function that returns the constant `v`, through V8. */
function roundTrip(v: number): bigint {
  const w = new CodeWriter().i64(v);
  const bytes = assemble({
    types: [{ params: [], results: [I64] }], imports: [], memoryPages: 1,
    funcs: [{ type: 0, locals: [], body: w }], exports: [{ name: "f", func: 0 }],
  });
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 1 });
  const f = new WebAssembly.Instance(new WebAssembly.Module(bytes), { m: { mem: memory } }).exports.f as () => bigint;
  return f();
}

test("wasm emitter: i64 constants from numbers encode as the same bigint and read back exactly", () => {
  let seed = 12345;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const values = [...EDGES];
  for (let k = 0; k < 2000; k++) values.push(Math.floor((rand() - 0.5) * 2 ** (1 + Math.floor(rand() * 53))));
  for (const v of values) {
    assert.deepEqual(bytesOf(v), bytesOf(BigInt(v)), `encoding of ${v}`);
  }
  for (const v of EDGES) assert.equal(roundTrip(v), BigInt(v), `value of ${v}`);
});

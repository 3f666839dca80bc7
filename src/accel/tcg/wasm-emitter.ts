// A small WebAssembly binary writer: just what the translator emits (one function type
// per module kind, imported memory and helpers, functions made of i32/i64/f64 code).
// Opcodes are named after the spec's text format; see the WebAssembly core spec, 5.4.

export const enum Op {
  unreachable = 0x00, block = 0x02, loop = 0x03, if = 0x04, else = 0x05, end = 0x0b,
  br = 0x0c, br_if = 0x0d, br_table = 0x0e, return = 0x0f, call = 0x10, call_indirect = 0x11,
  return_call = 0x12,
  drop = 0x1a, select = 0x1b,
  local_get = 0x20, local_set = 0x21, local_tee = 0x22, global_get = 0x23, global_set = 0x24,
  i32_load = 0x28, i64_load = 0x29,
  i64_load8_s = 0x30, i64_load8_u = 0x31, i64_load16_s = 0x32, i64_load16_u = 0x33,
  i64_load32_s = 0x34, i64_load32_u = 0x35,
  i32_store = 0x36, i64_store = 0x37, i64_store8 = 0x3c, i64_store16 = 0x3d, i64_store32 = 0x3e,
  i32_const = 0x41, i64_const = 0x42,
  i32_eqz = 0x45, i32_eq = 0x46, i32_ne = 0x47, i32_lt_s = 0x48, i32_gt_s = 0x4a, i32_le_s = 0x4c,
  i32_le_u = 0x4d,
  i64_eqz = 0x50, i64_eq = 0x51, i64_ne = 0x52, i64_lt_s = 0x53, i64_lt_u = 0x54,
  i64_ge_s = 0x59, i64_ge_u = 0x5a,
  i32_add = 0x6a, i32_sub = 0x6b, i32_mul = 0x6c, i32_div_s = 0x6d, i32_div_u = 0x6e,
  i32_rem_s = 0x6f, i32_rem_u = 0x70, i32_and = 0x71, i32_or = 0x72, i32_xor = 0x73,
  i32_shl = 0x74, i32_shr_s = 0x75, i32_shr_u = 0x76,
  i64_add = 0x7c, i64_sub = 0x7d, i64_mul = 0x7e, i64_div_s = 0x7f, i64_div_u = 0x80,
  i64_rem_s = 0x81, i64_rem_u = 0x82, i64_and = 0x83, i64_or = 0x84, i64_xor = 0x85,
  i64_shl = 0x86, i64_shr_s = 0x87, i64_shr_u = 0x88,
  i32_wrap_i64 = 0xa7, i64_extend_i32_s = 0xac, i64_extend_i32_u = 0xad,
}

export const enum ValType { i32 = 0x7f, i64 = 0x7e, f64 = 0x7c }
/** Block type: no result. */
export const VOID = 0x40;

/** A growable byte buffer (a plain array of numbers is several times slower to fill). */
class Bytes {
  buf = new Uint8Array(256);
  length = 0;

  push(b: number): void {
    if (this.length === this.buf.length) this.grow(1);
    this.buf[this.length++] = b;
  }
  append(bytes: Uint8Array): void {
    if (this.length + bytes.length > this.buf.length) this.grow(bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }
  uleb(v: number): void {
    let x = v >>> 0;
    do {
      let b = x & 0x7f;
      x >>>= 7;
      if (x !== 0) b |= 0x80;
      this.push(b);
    } while (x !== 0);
  }
  sleb32(v: number): void {
    let x = v | 0;
    for (;;) {
      const b = x & 0x7f;
      x >>= 7;
      const done = (x === 0 && (b & 0x40) === 0) || (x === -1 && (b & 0x40) !== 0);
      this.push(done ? b : b | 0x80);
      if (done) return;
    }
  }
  view(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
  private grow(need: number): void {
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + need));
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
}

/** Function body bytes: instructions with LEB128 immediates. */
export class CodeWriter {
  private readonly bytes = new Bytes();

  op(o: Op): this {
    this.bytes.push(o);
    return this;
  }
  u32(v: number): this {
    this.bytes.uleb(v);
    return this;
  }
  /**
   * Signed LEB128 of an i64 constant: a bigint, or a number that is a safe integer (the
   * translator's pcs and immediates; a bigint costs an allocation per operation).
   */
  s64(v: bigint | number): this {
    if (typeof v === "number") {
      if (v === (v | 0)) return this.s32(v);
      let x = v;
      for (;;) {
        const b = x & 127; // x mod 128 (ToInt32 keeps the low bits of a safe integer)
        x = Math.floor(x / 128);
        const done = (x === 0 && (b & 0x40) === 0) || (x === -1 && (b & 0x40) !== 0);
        this.bytes.push(done ? b : b | 0x80);
        if (done) return this;
      }
    }
    if (v >= -0x8000_0000n && v <= 0x7fff_ffffn) return this.s32(Number(v));
    let x = v;
    for (;;) {
      const b = Number(x & 0x7fn);
      x >>= 7n;
      const done = (x === 0n && (b & 0x40) === 0) || (x === -1n && (b & 0x40) !== 0);
      this.bytes.push(done ? b : b | 0x80);
      if (done) return this;
    }
  }
  s32(v: number): this {
    this.bytes.sleb32(v);
    return this;
  }
  i32(v: number): this {
    return this.op(Op.i32_const).s32(v);
  }
  i64(v: bigint | number): this {
    return this.op(Op.i64_const).s64(v);
  }
  get(local: number): this {
    return this.op(Op.local_get).u32(local);
  }
  set(local: number): this {
    return this.op(Op.local_set).u32(local);
  }
  tee(local: number): this {
    return this.op(Op.local_tee).u32(local);
  }
  /** A load or store with alignment hint `align` (log2) and a constant offset. */
  mem(o: Op, offset: number, align = 0): this {
    return this.op(o).u32(align).u32(offset);
  }
  blockOf(o: Op.block | Op.loop | Op.if, type: number = VOID): this {
    this.bytes.push(o);
    this.bytes.push(type);
    return this;
  }
  get length(): number {
    return this.bytes.length;
  }
  view(): Uint8Array {
    return this.bytes.view();
  }
}

export interface FuncType {
  params: ValType[];
  results: ValType[];
}

export interface ModuleSpec {
  types: FuncType[];
  /** Imported functions (module "h"), each with its type index. */
  imports: { name: string; type: number }[];
  /** Import the memory as "m"."mem". */
  memoryPages: number;
  /** Import a funcref table as "m"."tab" (for call_indirect). */
  table?: boolean;
  /** Defined functions: type index, locals (as runs of one type), body (without the final end). */
  funcs: { type: number; locals: { count: number; type: ValType }[]; body: CodeWriter }[];
  /** Exports: name -> defined function index (0-based among defined functions). */
  exports: { name: string; func: number }[];
  /** Mutable i32 globals the module defines, by their initial values. */
  globals?: number[];
}

function name(s: string, out: Bytes): void {
  out.uleb(s.length);
  for (let i = 0; i < s.length; i++) out.push(s.charCodeAt(i));
}

function section(id: number, content: Bytes, out: Bytes): void {
  out.push(id);
  out.uleb(content.length);
  out.append(content.view());
}

/** Assembles a module. Imported functions come first in the function index space. */
export function assemble(spec: ModuleSpec): Uint8Array<ArrayBuffer> {
  const out = new Bytes();
  out.append(Uint8Array.of(0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00));
  const types = new Bytes();
  types.uleb(spec.types.length);
  for (const t of spec.types) {
    types.push(0x60);
    types.uleb(t.params.length);
    for (const p of t.params) types.push(p);
    types.uleb(t.results.length);
    for (const r of t.results) types.push(r);
  }
  section(1, types, out);

  const imports = new Bytes();
  imports.uleb(spec.imports.length + 1 + (spec.table ? 1 : 0));
  name("m", imports);
  name("mem", imports);
  imports.push(0x02);
  imports.push(0x01); // memory with a maximum
  imports.uleb(spec.memoryPages);
  imports.uleb(spec.memoryPages);
  if (spec.table) {
    name("m", imports);
    name("tab", imports);
    imports.push(0x01); // table
    imports.push(0x70); // funcref
    imports.push(0x00); // limits: a minimum only
    imports.uleb(0);
  }
  for (const imp of spec.imports) {
    name("h", imports);
    name(imp.name, imports);
    imports.push(0x00);
    imports.uleb(imp.type);
  }
  section(2, imports, out);

  const funcs = new Bytes();
  funcs.uleb(spec.funcs.length);
  for (const f of spec.funcs) funcs.uleb(f.type);
  section(3, funcs, out);

  if (spec.globals !== undefined && spec.globals.length > 0) {
    const globals = new Bytes();
    globals.uleb(spec.globals.length);
    for (const g of spec.globals) {
      globals.push(ValType.i32);
      globals.push(0x01); // mutable
      globals.push(Op.i32_const);
      globals.sleb32(g);
      globals.push(Op.end);
    }
    section(6, globals, out);
  }

  const exports = new Bytes();
  exports.uleb(spec.exports.length);
  for (const e of spec.exports) {
    name(e.name, exports);
    exports.push(0x00);
    exports.uleb(spec.imports.length + e.func);
  }
  section(7, exports, out);

  const code = new Bytes();
  code.uleb(spec.funcs.length);
  for (const f of spec.funcs) {
    const head = new Bytes();
    head.uleb(f.locals.length);
    for (const l of f.locals) {
      head.uleb(l.count);
      head.push(l.type);
    }
    const body = f.body.view();
    code.uleb(head.length + body.length + 1);
    code.append(head.view());
    code.append(body);
    code.push(Op.end);
  }
  section(10, code, out);
  return out.view().slice();
}

// Random user-level RV64GC programs for differential testing. A program is a state
// block (scratch memory + initial x/f registers + fcsr) and ~200 instructions that only
// do deterministic, non-trapping, position-independent work on it: the same program
// gives the same final block on any correct hart, in M-mode on a bare board or in
// U-mode under Linux. (Not a test file.)
//
// Rules that keep it so:
//  - sp (x2) holds the block's address and is never changed (C.ADDI16SP comes in pairs).
//  - No absolute address stays in a register: a base register set to sp + off is
//    turned back into `off` after its access, link registers and AUIPC results are made
//    pc-relative.
//  - Memory accesses stay inside the scratch area; atomics are aligned.
//  - No CSR but fcsr/frm/fflags, and frm only ever gets valid rounding modes.
//  - Control flow only goes forward.
import { Prng } from "./prng.js";

/** Block layout: [scratch][x0..x31][f0..f31][fcsr]. */
export const SCRATCH_BYTES = 512;
export const X_OFF = SCRATCH_BYTES;
export const F_OFF = X_OFF + 32 * 8;
export const FCSR_OFF = F_OFF + 32 * 8;
export const BLOCK_BYTES = FCSR_OFF + 16;

/** One generated instruction (or a short fixed sequence) and what it may change. */
export interface GenInstr {
  /** Assembly lines, separated by "\n". */
  text: string;
  /** Registers ("x5", "f3", "fcsr") and "mem" it may write. */
  writes: string[];
}

export interface Program {
  seed: number;
  index: number;
  /** Initial block contents. */
  init: Uint8Array;
  body: GenInstr[];
}

const XREGS = [1, ...Array.from({ length: 29 }, (_, i) => i + 3)]; // x1, x3..x31
const CREGS = [8, 9, 10, 11, 12, 13, 14, 15];
const RMS = ["rne", "rtz", "rdn", "rup", "rmm", "dyn"];
const MASK64 = (1n << 64n) - 1n;

const INTERESTING: bigint[] = [
  0n, 1n, 2n, 31n, 32n, 63n, 64n, MASK64, MASK64 - 1n, 1n << 63n, (1n << 63n) - 1n, (1n << 63n) + 1n,
  0x7fffffffn, 0x80000000n, 0xffffffffn, 0x100000000n, 0xffffffff80000000n, 0xffffffff7fffffffn,
  0x00000000ffff0000n, 0x8000n, 0xffffn, 0x7fffn, 0xffffffffffff8000n, 0x5555555555555555n,
  0xaaaaaaaaaaaaaaaan, 0x0000000100000001n, 0xfffffffe00000000n,
];

const D = {
  zero: 0n, mzero: 1n << 63n, one: 0x3ff0000000000000n, mone: 0xbff0000000000000n,
  inf: 0x7ff0000000000000n, minf: 0xfff0000000000000n, qnan: 0x7ff8000000000000n,
  snan: 0x7ff4000000000000n, qnanPayload: 0x7ff800000000beefn, nnan: 0xfff8000000000001n,
  minSub: 1n, maxSub: 0x000fffffffffffffn, minNorm: 0x0010000000000000n, max: 0x7fefffffffffffffn,
  half: 0x3fe0000000000000n, oneHalf: 0x3ff8000000000000n, twoHalf: 0x4004000000000000n,
  mTwoHalf: 0xc004000000000000n, p31: 0x41e0000000000000n, p32: 0x41f0000000000000n,
  p63: 0x43e0000000000000n, p64: 0x43f0000000000000n, mp63: 0xc3e0000000000000n,
  e20: 0x4415af1d78b58c40n, third: 0x3fd5555555555555n, m31: 0xc1e0000000200000n,
};
const S = [
  0x00000000n, 0x80000000n, 0x3f800000n, 0xbf800000n, 0x7f800000n, 0xff800000n, 0x7fc00000n,
  0x7fa00000n, 0x00000001n, 0x007fffffn, 0x00800000n, 0x7f7fffffn, 0x4f000000n, 0xcf000000n,
  0x5f000000n, 0x3eaaaaabn, 0x40200000n, 0xc0200000n, 0x4f800000n,
];
const BOX = 0xffffffff00000000n;

/** Generates program `index` of the batch with master seed `seed`. */
export function generateProgram(seed: number, index: number, length = 200): Program {
  const g = new Generator(new Prng(seed, index));
  return { seed, index, init: g.initBlock(), body: g.body(length, `p${index}`) };
}

class Generator {
  private labels = 0;
  private prefix = "";

  constructor(private readonly r: Prng) {}

  // ---- values

  intValue(): bigint {
    const r = this.r;
    switch (r.int(5)) {
      case 0:
      case 1:
        return r.pick(INTERESTING);
      case 2:
        return r.u64();
      case 3:
        return BigInt.asUintN(64, BigInt.asIntN(32, BigInt(r.u32()))); // a sign-extended word
      default:
        return BigInt.asUintN(64, BigInt(r.range(-300, 300)));
    }
  }

  fpValue(): bigint {
    const r = this.r;
    switch (r.int(6)) {
      case 0:
      case 1:
        return r.pick(Object.values(D));
      case 2:
        return BOX | r.pick(S);
      case 3:
        return BOX | BigInt(r.u32());
      case 4: // improperly boxed single: reads as the canonical NaN in .s operations
        return r.chance(0.5) ? r.pick(S) : (BigInt(r.u32()) << 32n) | r.pick(S);
      default: // a plain double of moderate exponent
        return (BigInt(r.range(0x3c0, 0x440) | (r.chance(0.5) ? 0x800 : 0)) << 52n) | (r.u64() & ((1n << 52n) - 1n));
    }
  }

  initBlock(): Uint8Array {
    const block = new Uint8Array(BLOCK_BYTES);
    const view = new DataView(block.buffer);
    for (let off = 0; off < SCRATCH_BYTES; off += 8) {
      view.setBigUint64(off, this.r.chance(0.3) ? this.intValue() : this.fpValue(), true);
    }
    for (const x of XREGS) view.setBigUint64(X_OFF + 8 * x, this.intValue(), true);
    for (let f = 0; f < 32; f++) view.setBigUint64(F_OFF + 8 * f, this.fpValue(), true);
    view.setBigUint64(FCSR_OFF, BigInt(this.r.int(5) << 5), true); // frm valid, flags clear
    return block;
  }

  // ---- registers and immediates

  x(): number {
    return this.r.pick(XREGS);
  }
  xOther(...not: number[]): number {
    for (;;) {
      const v = this.x();
      if (!not.includes(v)) return v;
    }
  }
  cx(...not: number[]): number {
    for (;;) {
      const v = this.r.pick(CREGS);
      if (!not.includes(v)) return v;
    }
  }
  f(): number {
    return this.r.int(32);
  }
  imm12(): number {
    return this.r.chance(0.4) ? this.r.pick([0, 1, -1, 2047, -2048, 0x7f0, -2047]) : this.r.range(-2048, 2047);
  }
  imm6(nonzero = false): number {
    for (;;) {
      const v = this.r.chance(0.3) ? this.r.pick([-32, 31, -1, 1]) : this.r.range(-32, 31);
      if (!nonzero || v !== 0) return v;
    }
  }
  shamt(bits: 64 | 32, nonzero = false): number {
    const max = bits - 1;
    for (;;) {
      const v = this.r.chance(0.5) ? this.r.pick([0, 1, 31, 32, 63, 16, 48].filter((s) => s <= max)) : this.r.int(bits);
      if (!nonzero || v !== 0) return v;
    }
  }
  /** An offset into scratch for an access of `size` bytes, aligned with `align`. */
  offset(size: number, align = 1, limit = SCRATCH_BYTES): number {
    return Math.floor(this.r.int(limit - size + 1) / align) * align;
  }
  memOffset(size: number): number {
    return this.offset(size, this.r.chance(0.6) ? size : 1);
  }
  label(): string {
    return `.L${this.prefix}_${this.labels++}`;
  }

  // ---- instruction classes

  body(length: number, prefix: string): GenInstr[] {
    this.prefix = prefix;
    const out: GenInstr[] = [];
    while (out.length < length) out.push(...this.one());
    return out;
  }

  private one(): GenInstr[] {
    const kind = this.r.weighted({
      alu: 18, muldiv: 9, imm: 12, lui: 2, li: 5, load: 7, store: 7, fmem: 3, comp: 12,
      branch: 5, jump: 2, amo: 4, lrsc: 1, farith: 9, fcmp: 3, fcvt: 6, fspecial: 2, fcsr: 1,
    });
    switch (kind) {
      case "branch":
        return this.branch();
      case "jump":
        return this.jump();
      default:
        return [this.simple(kind)];
    }
  }

  /** Anything that falls through (usable inside skipped blocks). */
  private simple(kind: string): GenInstr {
    const r = this.r;
    switch (kind) {
      case "alu": {
        const op = r.pick(["add", "sub", "sll", "slt", "sltu", "xor", "srl", "sra", "or", "and",
          "addw", "subw", "sllw", "srlw", "sraw"]);
        const rd = this.x();
        return { text: `${op} x${rd}, x${this.x()}, x${this.x()}`, writes: [`x${rd}`] };
      }
      case "muldiv": {
        const op = r.pick(["mul", "mulh", "mulhsu", "mulhu", "div", "divu", "rem", "remu",
          "mulw", "divw", "divuw", "remw", "remuw"]);
        const rd = this.x();
        return { text: `${op} x${rd}, x${this.x()}, x${this.x()}`, writes: [`x${rd}`] };
      }
      case "imm": {
        const rd = this.x();
        const rs = this.x();
        const w = [`x${rd}`];
        switch (r.int(4)) {
          case 0:
          case 1:
            return { text: `${r.pick(["addi", "slti", "sltiu", "xori", "ori", "andi", "addiw"])} x${rd}, x${rs}, ${this.imm12()}`, writes: w };
          case 2:
            return { text: `${r.pick(["slli", "srli", "srai"])} x${rd}, x${rs}, ${this.shamt(64)}`, writes: w };
          default:
            return { text: `${r.pick(["slliw", "srliw", "sraiw"])} x${rd}, x${rs}, ${this.shamt(32)}`, writes: w };
        }
      }
      case "lui": {
        const rd = this.x();
        const imm = r.chance(0.5) ? r.pick([0, 1, 0x80000, 0x7ffff, 0xfffff, 0x80001]) : r.int(0x100000);
        return { text: `lui x${rd}, 0x${imm.toString(16)}`, writes: [`x${rd}`] };
      }
      case "li": {
        const rd = this.x();
        return { text: `li x${rd}, 0x${this.intValue().toString(16)}`, writes: [`x${rd}`] };
      }
      case "load": {
        const [op, size] = r.pick([["lb", 1], ["lh", 2], ["lw", 4], ["ld", 8], ["lbu", 1], ["lhu", 2], ["lwu", 4]] as const);
        const rd = this.x();
        return { text: `${op} x${rd}, ${this.memOffset(size)}(sp)`, writes: [`x${rd}`] };
      }
      case "store": {
        const [op, size] = r.pick([["sb", 1], ["sh", 2], ["sw", 4], ["sd", 8]] as const);
        return { text: `${op} x${this.x()}, ${this.memOffset(size)}(sp)`, writes: ["mem"] };
      }
      case "fmem": {
        const [op, size] = r.pick([["flw", 4], ["fld", 8], ["fsw", 4], ["fsd", 8]] as const);
        const f = this.f();
        const store = op.startsWith("fs");
        return { text: `${op} f${f}, ${this.memOffset(size)}(sp)`, writes: store ? ["mem"] : [`f${f}`] };
      }
      case "comp":
        return this.compressed();
      case "amo":
        return this.amo();
      case "lrsc":
        return this.lrsc();
      case "farith":
        return this.farith();
      case "fcmp": {
        const rd = this.x();
        const p = r.pick(["s", "d"]);
        if (r.chance(0.25)) return { text: `fclass.${p} x${rd}, f${this.f()}`, writes: [`x${rd}`] };
        return { text: `${r.pick(["feq", "flt", "fle"])}.${p} x${rd}, f${this.f()}, f${this.f()}`, writes: [`x${rd}`, "fcsr"] };
      }
      case "fcvt":
        return this.fcvt();
      case "fspecial": {
        const rd = this.x();
        const f = this.f();
        return { text: `li x${rd}, 0x${this.fpValue().toString(16)}\nfmv.d.x f${f}, x${rd}`, writes: [`x${rd}`, `f${f}`] };
      }
      case "fcsr": {
        const rd = this.x();
        switch (r.int(4)) {
          case 0:
            return { text: `csrwi frm, ${r.int(5)}`, writes: ["fcsr"] };
          case 1:
            return { text: `frcsr x${rd}`, writes: [`x${rd}`] };
          case 2:
            return { text: `fsflags x${rd}, x${this.x()}`, writes: [`x${rd}`, "fcsr"] };
          default:
            return { text: `csrrci x${rd}, fflags, ${r.int(32)}`, writes: [`x${rd}`, "fcsr"] };
        }
      }
    }
    throw new Error(`unknown kind ${kind}`);
  }

  private farith(): GenInstr {
    const r = this.r;
    const p = r.pick(["s", "d"]);
    const fd = this.f();
    const w = [`f${fd}`, "fcsr"];
    const rm = r.pick(RMS);
    switch (r.int(6)) {
      case 0:
      case 1:
        return { text: `${r.pick(["fadd", "fsub", "fmul", "fdiv"])}.${p} f${fd}, f${this.f()}, f${this.f()}, ${rm}`, writes: w };
      case 2:
        return { text: `fsqrt.${p} f${fd}, f${this.f()}, ${rm}`, writes: w };
      case 3:
        return { text: `${r.pick(["fmin", "fmax"])}.${p} f${fd}, f${this.f()}, f${this.f()}`, writes: w };
      case 4:
        return { text: `${r.pick(["fsgnj", "fsgnjn", "fsgnjx"])}.${p} f${fd}, f${this.f()}, f${this.f()}`, writes: [`f${fd}`] };
      default:
        return { text: `${r.pick(["fmadd", "fmsub", "fnmadd", "fnmsub"])}.${p} f${fd}, f${this.f()}, f${this.f()}, f${this.f()}, ${rm}`, writes: w };
    }
  }

  private fcvt(): GenInstr {
    const r = this.r;
    const rm = r.pick(RMS);
    const p = r.pick(["s", "d"]);
    const rd = this.x();
    const fd = this.f();
    switch (r.int(5)) {
      case 0:
        return { text: `fcvt.${r.pick(["w", "wu", "l", "lu"])}.${p} x${rd}, f${this.f()}, ${rm}`, writes: [`x${rd}`, "fcsr"] };
      case 1: {
        const from = r.pick(["w", "wu", "l", "lu"]);
        // int -> double is exact for w/wu: those take no rounding mode
        const exact = p === "d" && (from === "w" || from === "wu");
        return { text: `fcvt.${p}.${from} f${fd}, x${this.x()}${exact ? "" : `, ${rm}`}`, writes: [`f${fd}`, "fcsr"] };
      }
      case 2:
        return r.chance(0.5)
          ? { text: `fcvt.s.d f${fd}, f${this.f()}, ${rm}`, writes: [`f${fd}`, "fcsr"] }
          : { text: `fcvt.d.s f${fd}, f${this.f()}`, writes: [`f${fd}`, "fcsr"] };
      case 3:
        return { text: `fmv.x.${r.pick(["w", "d"])} x${rd}, f${this.f()}`, writes: [`x${rd}`] };
      default:
        return { text: `fmv.${r.pick(["w", "d"])}.x f${fd}, x${this.x()}`, writes: [`f${fd}`] };
    }
  }

  private amo(): GenInstr {
    const r = this.r;
    const wide = r.chance(0.5);
    const size = wide ? 8 : 4;
    const base = this.x();
    const rd = this.r.chance(0.1) ? 0 : this.xOther(base);
    const rs2 = this.xOther(base);
    const op = r.pick(["amoswap", "amoadd", "amoxor", "amoand", "amoor", "amomin", "amomax", "amominu", "amomaxu"]);
    const order = r.pick(["", "", ".aq", ".rl", ".aqrl"]);
    return {
      text: `addi x${base}, sp, ${this.offset(size, size)}\n${op}.${wide ? "d" : "w"}${order} x${rd}, x${rs2}, (x${base})\nsub x${base}, x${base}, sp`,
      writes: [`x${rd}`, `x${base}`, "mem"],
    };
  }

  /** LR, a few ALU instructions, SC to the same address: the SC succeeds. */
  private lrsc(): GenInstr {
    const wide = this.r.chance(0.5);
    const size = wide ? 8 : 4;
    const s = wide ? "d" : "w";
    const base = this.x();
    const rd = this.xOther(base);
    const rs2 = this.xOther(base);
    const sc = this.xOther(base);
    const lines = [`addi x${base}, sp, ${this.offset(size, size)}`, `lr.${s} x${rd}, (x${base})`];
    const writes = [`x${rd}`, `x${sc}`, `x${base}`, "mem"];
    for (let i = this.r.int(3); i > 0; i--) {
      const t = this.xOther(base);
      lines.push(`add x${t}, x${this.xOther(base)}, x${this.xOther(base)}`);
      writes.push(`x${t}`);
    }
    lines.push(`sc.${s} x${sc}, x${rs2}, (x${base})`, `sub x${base}, x${base}, sp`);
    return { text: lines.join("\n"), writes };
  }

  private compressed(): GenInstr {
    const r = this.r;
    const rd = this.x();
    const c1 = this.cx();
    const w = [`x${rd}`];
    const cw = [`x${c1}`];
    switch (r.int(22)) {
      case 0:
        return { text: `c.addi x${rd}, ${this.imm6(true)}`, writes: w };
      case 1:
        return { text: `c.addiw x${rd}, ${this.imm6()}`, writes: w };
      case 2:
        return { text: `c.li x${rd}, ${this.imm6()}`, writes: w };
      case 3: {
        const v = r.chance(0.5) ? r.range(1, 31) : r.range(0xfffe0, 0xfffff);
        return { text: `c.lui x${rd}, 0x${v.toString(16)}`, writes: w };
      }
      case 4:
        return { text: `${r.pick(["c.srli", "c.srai"])} x${c1}, ${this.shamt(64, true)}`, writes: cw };
      case 5:
        return { text: `c.andi x${c1}, ${this.imm6()}`, writes: cw };
      case 6:
      case 7:
        return { text: `${r.pick(["c.sub", "c.xor", "c.or", "c.and", "c.subw", "c.addw"])} x${c1}, x${this.cx()}`, writes: cw };
      case 8:
        return { text: `c.slli x${rd}, ${this.shamt(64, true)}`, writes: w };
      case 9:
        return { text: `c.mv x${rd}, x${this.x()}`, writes: w };
      case 10:
        return { text: `c.add x${rd}, x${this.x()}`, writes: w };
      case 11:
        return { text: `c.lwsp x${rd}, ${this.offset(4, 4, 256)}(sp)`, writes: w };
      case 12:
        return { text: `c.ldsp x${rd}, ${this.offset(8, 8, 512)}(sp)`, writes: w };
      case 13:
        return r.chance(0.5)
          ? { text: `c.swsp x${this.x()}, ${this.offset(4, 4, 256)}(sp)`, writes: ["mem"] }
          : { text: `c.sdsp x${this.x()}, ${this.offset(8, 8, 512)}(sp)`, writes: ["mem"] };
      case 14: {
        const f = this.f();
        return r.chance(0.5)
          ? { text: `c.fldsp f${f}, ${this.offset(8, 8, 512)}(sp)`, writes: [`f${f}`] }
          : { text: `c.fsdsp f${f}, ${this.offset(8, 8, 512)}(sp)`, writes: ["mem"] };
      }
      case 15:
      case 16: {
        // register-based C loads/stores: base = sp + b, then back to b
        const [op, size, max] = r.pick([["c.lw", 4, 124], ["c.ld", 8, 248], ["c.sw", 4, 124], ["c.sd", 8, 248], ["c.fld", 8, 248], ["c.fsd", 8, 248]] as const);
        const b = this.offset(max + size, 8);
        const off = this.offset(size, size, Math.min(max + size, SCRATCH_BYTES - b));
        const data = op.endsWith("fld") || op.endsWith("fsd") ? `f${this.r.range(8, 15)}` : `x${this.cx(c1)}`;
        const store = op.startsWith("c.s") || op === "c.fsd";
        return {
          text: `addi x${c1}, sp, ${b}\n${op} ${data}, ${off}(x${c1})\nsub x${c1}, x${c1}, sp`,
          writes: [`x${c1}`, store ? "mem" : data],
        };
      }
      case 17:
        return { text: `c.addi4spn x${c1}, sp, ${4 * r.range(1, 255)}\nsub x${c1}, x${c1}, sp`, writes: cw };
      case 18: {
        const k = 16 * r.range(1, 8);
        return {
          text: `c.addi16sp sp, ${k}\nc.ldsp x${rd}, ${this.offset(8, 8, SCRATCH_BYTES - k)}(sp)\nc.addi16sp sp, ${-k}`,
          writes: w,
        };
      }
      case 19:
        return { text: "c.nop", writes: [] };
      default:
        return { text: `addw x${rd}, x${this.x()}, x${this.x()}`, writes: w };
    }
  }

  /** A block of plain instructions for branches to skip. */
  private filler(): GenInstr[] {
    const out: GenInstr[] = [];
    for (let n = this.r.range(1, 4); n > 0; n--) {
      out.push(this.simple(this.r.pick(["alu", "imm", "load", "store", "farith", "comp", "li", "muldiv"])));
    }
    return out;
  }

  private branch(): GenInstr[] {
    const r = this.r;
    const l = this.label();
    const head = r.chance(0.2)
      ? `${r.pick(["c.beqz", "c.bnez"])} x${this.cx()}, ${l}`
      : `${r.pick(["beq", "bne", "blt", "bge", "bltu", "bgeu"])} x${this.x()}, x${r.chance(0.2) ? 0 : this.x()}, ${l}`;
    return [{ text: head, writes: [] }, ...this.filler(), { text: `${l}:`, writes: [] }];
  }

  /** Unconditional jumps; link registers and AUIPC are made pc-relative at the target. */
  private jump(): GenInstr[] {
    const r = this.r;
    const l = this.label();
    const t = this.x();
    switch (r.int(4)) {
      case 0:
        return [{ text: `${r.pick(["j", "c.j"])} ${l}`, writes: [] }, ...this.filler(), { text: `${l}:`, writes: [] }];
      case 1: {
        const rd = this.xOther(t);
        return [
          { text: `jal x${rd}, ${l}`, writes: [`x${rd}`] },
          ...this.filler(),
          { text: `${l}:\nauipc x${t}, 0\nsub x${rd}, x${rd}, x${t}\nli x${t}, 0`, writes: [`x${rd}`, `x${t}`] },
        ];
      }
      case 2: {
        const a = this.xOther(t);
        const rd = this.xOther(t, a);
        return [
          { text: `la x${a}, ${l}\njalr x${rd}, 0(x${a})`, writes: [`x${a}`, `x${rd}`] },
          ...this.filler(),
          { text: `${l}:\nauipc x${t}, 0\nsub x${a}, x${a}, x${t}\nsub x${rd}, x${rd}, x${t}\nli x${t}, 1`, writes: [`x${a}`, `x${rd}`, `x${t}`] },
        ];
      }
      default: {
        const a = this.xOther(t, 1);
        const link = r.chance(0.5);
        const fix = link ? `\nsub x1, x1, x${t}` : "";
        return [
          { text: `la x${a}, ${l}\n${link ? "c.jalr" : "c.jr"} x${a}`, writes: [`x${a}`, ...(link ? ["x1"] : [])] },
          ...this.filler(),
          { text: `${l}:\nauipc x${t}, 0\nsub x${a}, x${a}, x${t}${fix}\nli x${t}, 2`, writes: [`x${a}`, `x${t}`, "x1"] },
        ];
      }
    }
  }
}

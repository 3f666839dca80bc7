// RVC (compressed) instructions: each 16-bit form expands to the 32-bit instruction it
// abbreviates, so the interpreter (and later the translator) handles one encoding.
// The expansion of all 49152 compressed encodings is computed once into a table.
// 0 marks an illegal or reserved encoding (0 is also not a valid 32-bit instruction).

const OP_LOAD = 0x03, OP_LOAD_FP = 0x07, OP_IMM = 0x13, OP_IMM_32 = 0x1b, OP_STORE = 0x23;
const OP_STORE_FP = 0x27, OP = 0x33, OP_LUI = 0x37, OP_32 = 0x3b, OP_BRANCH = 0x63;
const OP_JALR = 0x67, OP_JAL = 0x6f, OP_SYSTEM = 0x73;

function bits(v: number, hi: number, lo: number): number {
  return (v >>> lo) & ((1 << (hi - lo + 1)) - 1);
}
function sext(v: number, width: number): number {
  const s = 32 - width;
  return (v << s) >> s;
}

function iType(op: number, rd: number, f3: number, rs1: number, imm: number): number {
  return (((imm & 0xfff) << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0;
}
function sType(op: number, f3: number, rs1: number, rs2: number, imm: number): number {
  return ((((imm >> 5) & 0x7f) << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) |
    ((imm & 0x1f) << 7) | op) >>> 0;
}
function rType(op: number, rd: number, f3: number, rs1: number, rs2: number, f7: number): number {
  return ((f7 << 25) | (rs2 << 20) | (rs1 << 15) | (f3 << 12) | (rd << 7) | op) >>> 0;
}
function bType(f3: number, rs1: number, rs2: number, imm: number): number {
  return ((((imm >> 12) & 1) << 31) | (((imm >> 5) & 0x3f) << 25) | (rs2 << 20) | (rs1 << 15) |
    (f3 << 12) | (((imm >> 1) & 0xf) << 8) | (((imm >> 11) & 1) << 7) | OP_BRANCH) >>> 0;
}
function jType(rd: number, imm: number): number {
  return ((((imm >> 20) & 1) << 31) | (((imm >> 1) & 0x3ff) << 21) | (((imm >> 11) & 1) << 20) |
    (((imm >> 12) & 0xff) << 12) | (rd << 7) | OP_JAL) >>> 0;
}

/** Register x8..x15 from a 3-bit field. */
const rp = (v: number): number => 8 + v;

function cjImm(c: number): number {
  const imm = (bits(c, 12, 12) << 11) | (bits(c, 11, 11) << 4) | (bits(c, 10, 9) << 8) |
    (bits(c, 8, 8) << 10) | (bits(c, 7, 7) << 6) | (bits(c, 6, 6) << 7) | (bits(c, 5, 3) << 1) |
    (bits(c, 2, 2) << 5);
  return sext(imm, 12);
}
function cbImm(c: number): number {
  const imm = (bits(c, 12, 12) << 8) | (bits(c, 11, 10) << 3) | (bits(c, 6, 5) << 6) |
    (bits(c, 4, 3) << 1) | (bits(c, 2, 2) << 5);
  return sext(imm, 9);
}
/** CI-format 6-bit signed immediate. */
const ciImm = (c: number): number => sext((bits(c, 12, 12) << 5) | bits(c, 6, 2), 6);

function quadrant0(c: number): number {
  const rdp = rp(bits(c, 4, 2)), rs1p = rp(bits(c, 9, 7));
  const uimmW = (bits(c, 12, 10) << 3) | (bits(c, 6, 6) << 2) | (bits(c, 5, 5) << 6);
  const uimmD = (bits(c, 12, 10) << 3) | (bits(c, 6, 5) << 6);
  switch (bits(c, 15, 13)) {
    case 0: { // C.ADDI4SPN
      const imm = (bits(c, 12, 11) << 4) | (bits(c, 10, 7) << 6) | (bits(c, 6, 6) << 2) |
        (bits(c, 5, 5) << 3);
      return imm === 0 ? 0 : iType(OP_IMM, rdp, 0, 2, imm);
    }
    case 1: return iType(OP_LOAD_FP, rdp, 3, rs1p, uimmD); // C.FLD
    case 2: return iType(OP_LOAD, rdp, 2, rs1p, uimmW); // C.LW
    case 3: return iType(OP_LOAD, rdp, 3, rs1p, uimmD); // C.LD
    case 5: return sType(OP_STORE_FP, 3, rs1p, rdp, uimmD); // C.FSD
    case 6: return sType(OP_STORE, 2, rs1p, rdp, uimmW); // C.SW
    case 7: return sType(OP_STORE, 3, rs1p, rdp, uimmD); // C.SD
    default: return 0; // reserved
  }
}

function quadrant1(c: number): number {
  const rd = bits(c, 11, 7);
  switch (bits(c, 15, 13)) {
    case 0: return iType(OP_IMM, rd, 0, rd, ciImm(c)); // C.ADDI (C.NOP when rd=0)
    case 1: return rd === 0 ? 0 : iType(OP_IMM_32, rd, 0, rd, ciImm(c)); // C.ADDIW
    case 2: return iType(OP_IMM, rd, 0, 0, ciImm(c)); // C.LI
    case 3: {
      if (rd === 2) { // C.ADDI16SP
        const imm = sext((bits(c, 12, 12) << 9) | (bits(c, 6, 6) << 4) | (bits(c, 5, 5) << 6) |
          (bits(c, 4, 3) << 7) | (bits(c, 2, 2) << 5), 10);
        return imm === 0 ? 0 : iType(OP_IMM, 2, 0, 2, imm);
      }
      const imm = ciImm(c); // C.LUI
      if (imm === 0) return 0;
      return (((imm << 12) & 0xfffff000) | (rd << 7) | OP_LUI) >>> 0;
    }
    case 4: return quadrant1Alu(c);
    case 5: return jType(0, cjImm(c)); // C.J
    case 6: return bType(0, rp(bits(c, 9, 7)), 0, cbImm(c)); // C.BEQZ
    case 7: return bType(1, rp(bits(c, 9, 7)), 0, cbImm(c)); // C.BNEZ
  }
  return 0;
}

function quadrant1Alu(c: number): number {
  const rd = rp(bits(c, 9, 7));
  const shamt = (bits(c, 12, 12) << 5) | bits(c, 6, 2);
  switch (bits(c, 11, 10)) {
    case 0: return iType(OP_IMM, rd, 5, rd, shamt); // C.SRLI
    case 1: return iType(OP_IMM, rd, 5, rd, shamt | 0x400); // C.SRAI
    case 2: return iType(OP_IMM, rd, 7, rd, ciImm(c)); // C.ANDI
  }
  const rs2 = rp(bits(c, 4, 2));
  const wide = bits(c, 12, 12);
  switch ((wide << 2) | bits(c, 6, 5)) {
    case 0: return rType(OP, rd, 0, rd, rs2, 0x20); // C.SUB
    case 1: return rType(OP, rd, 4, rd, rs2, 0); // C.XOR
    case 2: return rType(OP, rd, 6, rd, rs2, 0); // C.OR
    case 3: return rType(OP, rd, 7, rd, rs2, 0); // C.AND
    case 4: return rType(OP_32, rd, 0, rd, rs2, 0x20); // C.SUBW
    case 5: return rType(OP_32, rd, 0, rd, rs2, 0); // C.ADDW
  }
  return 0;
}

function quadrant2(c: number): number {
  const rd = bits(c, 11, 7), rs2 = bits(c, 6, 2);
  switch (bits(c, 15, 13)) {
    case 0: return iType(OP_IMM, rd, 1, rd, (bits(c, 12, 12) << 5) | rs2); // C.SLLI
    case 1: // C.FLDSP
      return iType(OP_LOAD_FP, rd, 3, 2, (bits(c, 12, 12) << 5) | (bits(c, 6, 5) << 3) |
        (bits(c, 4, 2) << 6));
    case 2: // C.LWSP
      if (rd === 0) return 0;
      return iType(OP_LOAD, rd, 2, 2, (bits(c, 12, 12) << 5) | (bits(c, 6, 4) << 2) |
        (bits(c, 3, 2) << 6));
    case 3: // C.LDSP
      if (rd === 0) return 0;
      return iType(OP_LOAD, rd, 3, 2, (bits(c, 12, 12) << 5) | (bits(c, 6, 5) << 3) |
        (bits(c, 4, 2) << 6));
    case 4:
      if (bits(c, 12, 12) === 0) {
        if (rs2 === 0) return rd === 0 ? 0 : iType(OP_JALR, 0, 0, rd, 0); // C.JR
        return rType(OP, rd, 0, 0, rs2, 0); // C.MV
      }
      if (rs2 === 0) {
        if (rd === 0) return iType(OP_SYSTEM, 0, 0, 0, 1); // C.EBREAK
        return iType(OP_JALR, 1, 0, rd, 0); // C.JALR
      }
      return rType(OP, rd, 0, rd, rs2, 0); // C.ADD
    case 5: // C.FSDSP
      return sType(OP_STORE_FP, 3, 2, rs2, (bits(c, 12, 10) << 3) | (bits(c, 9, 7) << 6));
    case 6: // C.SWSP
      return sType(OP_STORE, 2, 2, rs2, (bits(c, 12, 9) << 2) | (bits(c, 8, 7) << 6));
    case 7: // C.SDSP
      return sType(OP_STORE, 3, 2, rs2, (bits(c, 12, 10) << 3) | (bits(c, 9, 7) << 6));
  }
  return 0;
}

/** Expands one 16-bit instruction (low two bits != 3); 0 for illegal/reserved. */
export function expandCompressed(c: number): number {
  switch (c & 3) {
    case 0: return quadrant0(c);
    case 1: return quadrant1(c);
    case 2: return quadrant2(c);
  }
  return 0;
}

/** Marks a 16-bit value not expanded yet (no expansion ends in 01: they are 32-bit forms). */
const UNEXPANDED = 1;

/**
 * expandCompressed for every 16-bit value, as signed int32 (index = the 16 bits), filled on
 * first use: computing all 49152 at start-up took 20-30 ms of a boot.
 */
const table = new Int32Array(0x10000).fill(UNEXPANDED);

/** The 32-bit form of the 16-bit instruction `c` (low two bits != 3); 0 for illegal/reserved. */
export function rvcExpand(c: number): number {
  const e = table[c]!;
  return e !== UNEXPANDED ? e : (table[c] = expandCompressed(c) | 0);
}

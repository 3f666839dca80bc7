// RV64GC disassembler for the `-d in_asm` trace. The text matches GNU objdump 2.40's default
// output (`riscv64-linux-gnu-objdump -d`, pseudo-instructions on, the newest privileged
// spec's CSR names) for every RV64GC encoding, plus Zihintpause's `pause`, on which Linux
// spins; so a trace reads like, and diffs against, objdump. Where objdump's alias choice
// looks odd ("add sp,sp,-16" for addi, "csrw mstatus,5" for csrwi) it is still objdump's, on
// purpose. Differences: no "# <address>" comments (objdump tracks auipc/lui across
// instructions; this function sees one), and encodings longer than 32 bits print as
// ".4byte" of their first word.
import { expandCompressed } from './rvc.js';

const X = [
  'zero', 'ra', 'sp', 'gp', 'tp', 't0', 't1', 't2', 's0', 's1', 'a0', 'a1', 'a2', 'a3', 'a4', 'a5',
  'a6', 'a7', 's2', 's3', 's4', 's5', 's6', 's7', 's8', 's9', 's10', 's11', 't3', 't4', 't5', 't6',
];
const F = [
  'ft0', 'ft1', 'ft2', 'ft3', 'ft4', 'ft5', 'ft6', 'ft7', 'fs0', 'fs1', 'fa0', 'fa1', 'fa2', 'fa3',
  'fa4', 'fa5', 'fa6', 'fa7', 'fs2', 'fs3', 'fs4', 'fs5', 'fs6', 'fs7', 'fs8', 'fs9', 'fs10',
  'fs11', 'ft8', 'ft9', 'ft10', 'ft11',
];
/** Rounding modes; objdump names the reserved ones "unknown". */
const RM = ['rne', 'rtz', 'rdn', 'rup', 'rmm', 'unknown', 'unknown', 'dyn'];
const RM_DYN = 7;
/** FENCE predecessor/successor sets (bits i o r w); an empty set prints as "unknown". */
const IORW = [
  'unknown', 'w', 'r', 'rw', 'o', 'ow', 'or', 'orw', 'i', 'iw', 'ir', 'irw', 'io', 'iow', 'ior', 'iorw',
];

const OP_LOAD = 0x03, OP_LOAD_FP = 0x07, OP_MISC_MEM = 0x0f, OP_IMM = 0x13, OP_AUIPC = 0x17;
const OP_IMM_32 = 0x1b, OP_STORE = 0x23, OP_STORE_FP = 0x27, OP_AMO = 0x2f, OP = 0x33;
const OP_LUI = 0x37, OP_32 = 0x3b, OP_MADD = 0x43, OP_MSUB = 0x47, OP_NMSUB = 0x4b;
const OP_NMADD = 0x4f, OP_FP = 0x53, OP_BRANCH = 0x63, OP_JALR = 0x67, OP_JAL = 0x6f;
const OP_SYSTEM = 0x73;

// ---- CSR names (objdump's table for the newest privileged spec) ----------------------------

const CSR_NAMES = new Map<number, string>();

function csrs(base: number, names: string): void {
  names.split(' ').forEach((name, i) => { if (name !== '-') CSR_NAMES.set(base + i, name); });
}
/** A numbered family, e.g. pmpaddr0..pmpaddr63. */
function csrFamily(base: number, prefix: string, first: number, last: number, suffix = ''): void {
  for (let n = first; n <= last; n++) CSR_NAMES.set(base + n - first, `${prefix}${n}${suffix}`);
}

// Unprivileged: floating point, vector, entropy source, counters.
csrs(0x001, 'fflags frm fcsr');
csrs(0x008, 'vstart vxsat vxrm - - - - vcsr');
csrs(0x015, 'seed');
csrs(0xc00, 'cycle time instret');
csrFamily(0xc03, 'hpmcounter', 3, 31);
csrs(0xc20, 'vl vtype vlenb');
csrs(0xc80, 'cycleh timeh instreth');
csrFamily(0xc83, 'hpmcounter', 3, 31, 'h');
// Supervisor.
csrs(0x100, 'sstatus - - - sie stvec scounteren - - - senvcfg - sstateen0 sstateen1 sstateen2 sstateen3');
csrs(0x114, 'sieh');
csrs(0x140, 'sscratch sepc scause stval sip - - - - - - - - stimecmp');
csrs(0x150, 'siselect sireg - - siph - - - - - - - stopei stimecmph');
csrs(0x180, 'satp');
csrs(0x5a8, 'scontext');
csrs(0xda0, 'scountovf');
csrs(0xdb0, 'stopi');
// Hypervisor and virtual supervisor.
csrs(0x200, 'vsstatus - - - vsie vstvec');
csrs(0x214, 'vsieh');
csrs(0x240, 'vsscratch vsepc vscause vstval vsip - - - - - - - - vstimecmp');
csrs(0x250, 'vsiselect vsireg - - vsiph - - - - - - - vstopei vstimecmph');
csrs(0x280, 'vsatp');
csrs(0x600, 'hstatus - hedeleg hideleg hie htimedelta hcounteren hgeie hvien hvictl henvcfg - ' +
  'hstateen0 hstateen1 hstateen2 hstateen3');
csrs(0x613, 'hidelegh - htimedeltah - - hvienh - henvcfgh - hstateen0h hstateen1h hstateen2h hstateen3h');
csrs(0x643, 'htval hip hvip hviprio1 hviprio2 - - htinst');
csrs(0x655, 'hviph hviprio1h hviprio2h');
csrs(0x680, 'hgatp');
csrs(0x6a8, 'hcontext');
csrs(0xe12, 'hgeip');
csrs(0xeb0, 'vstopi');
// Machine.
csrs(0x300, 'mstatus misa medeleg mideleg mie mtvec mcounteren - mvien mvip menvcfg - ' +
  'mstateen0 mstateen1 mstateen2 mstateen3 mstatush - - midelegh mieh - - - mvienh mviph ' +
  'menvcfgh - mstateen0h mstateen1h mstateen2h mstateen3h mcountinhibit');
csrFamily(0x323, 'mhpmevent', 3, 31);
csrs(0x340, 'mscratch mepc mcause mtval mip - - - - - mtinst mtval2');
csrs(0x350, 'miselect mireg - - miph - - - - - - - mtopei');
csrFamily(0x3a0, 'pmpcfg', 0, 15);
csrFamily(0x3b0, 'pmpaddr', 0, 63);
csrFamily(0x723, 'mhpmevent', 3, 31, 'h');
csrs(0x747, 'mseccfg');
csrs(0x757, 'mseccfgh');
csrs(0xb00, 'mcycle - minstret');
csrFamily(0xb03, 'mhpmcounter', 3, 31);
csrs(0xb80, 'mcycleh - minstreth');
csrFamily(0xb83, 'mhpmcounter', 3, 31, 'h');
csrs(0xf11, 'mvendorid marchid mimpid mhartid mconfigptr');
csrs(0xfb0, 'mtopi');
// Debug and trigger.
csrs(0x7a0, 'tselect tdata1 tdata2 tdata3 tinfo tcontrol - - mcontext - mscontext');
csrs(0x7b0, 'dcsr dpc dscratch0 dscratch1');

const csrName = (n: number): string => CSR_NAMES.get(n) ?? `0x${n.toString(16)}`;

// ---- fields and formatting ---------------------------------------------------------------

const rdOf = (w: number): number => (w >>> 7) & 31;
const f3Of = (w: number): number => (w >>> 12) & 7;
const rs1Of = (w: number): number => (w >>> 15) & 31;
const rs2Of = (w: number): number => (w >>> 20) & 31;
const immI = (w: number): number => w >> 20;
const immS = (w: number): number => ((w >> 25) << 5) | ((w >>> 7) & 31);
function immB(w: number): number {
  return ((w >> 31) << 12) | (((w >>> 7) & 1) << 11) | (((w >>> 25) & 0x3f) << 5) |
    (((w >>> 8) & 0xf) << 1);
}
function immJ(w: number): number {
  return ((w >> 31) << 20) | (((w >>> 12) & 0xff) << 12) | (((w >>> 20) & 1) << 11) |
    (((w >>> 21) & 0x3ff) << 1);
}

const hex = (v: number): string => `0x${(v >>> 0).toString(16)}`;
const insn = (name: string, ...args: (string | number)[]): string =>
  args.length === 0 ? name : `${name} ${args.join(',')}`;
const mem = (offset: number, base: number): string => `${offset}(${X[base]})`;

/** pc + offset as objdump prints an absolute target: unsigned 64-bit hex, no 0x. */
function target(pc: number, offset: number): string {
  const base = Number.isSafeInteger(pc) ? BigInt(pc) : 0n;
  return BigInt.asUintN(64, base + BigInt(offset)).toString(16);
}

/** An FP operation whose rounding mode is printed unless it is dyn. */
function withRm(name: string, rm: number, ...args: string[]): string {
  return rm === RM_DYN ? insn(name, ...args) : insn(name, ...args, RM[rm]);
}

// ---- 32-bit instructions -----------------------------------------------------------------

function load(w: number): string | undefined {
  const name = ['lb', 'lh', 'lw', 'ld', 'lbu', 'lhu', 'lwu', undefined][f3Of(w)];
  return name && insn(name, X[rdOf(w)], mem(immI(w), rs1Of(w)));
}

function store(w: number): string | undefined {
  const name = ['sb', 'sh', 'sw', 'sd'][f3Of(w)];
  return name && insn(name, X[rs2Of(w)], mem(immS(w), rs1Of(w)));
}

function loadFp(w: number): string | undefined {
  const name = ['', '', 'flw', 'fld'][f3Of(w)];
  return name ? insn(name, F[rdOf(w)], mem(immI(w), rs1Of(w))) : undefined;
}

function storeFp(w: number): string | undefined {
  const name = ['', '', 'fsw', 'fsd'][f3Of(w)];
  return name ? insn(name, F[rs2Of(w)], mem(immS(w), rs1Of(w))) : undefined;
}

function miscMem(w: number): string | undefined {
  if (rdOf(w) !== 0 || rs1Of(w) !== 0) return undefined;
  if (f3Of(w) === 1) return w === 0x0000100f ? 'fence.i' : undefined;
  if (f3Of(w) !== 0) return undefined;
  const fm = w >>> 28, pred = (w >>> 24) & 15, succ = (w >>> 20) & 15;
  if (fm === 8 && pred === 3 && succ === 3) return 'fence.tso';
  if (fm !== 0) return undefined;
  // Zihintpause's "fence w,0" (Linux's cpu_relax); objdump names it for Linux's vmlinux.
  if (pred === 1 && succ === 0) return 'pause';
  return pred === 15 && succ === 15 ? 'fence' : insn('fence', IORW[pred], IORW[succ]);
}

function opImm(w: number): string | undefined {
  const rd = X[rdOf(w)], rs1 = rs1Of(w), imm = immI(w), top6 = w >>> 26, shamt = hex((w >>> 20) & 0x3f);
  switch (f3Of(w)) {
    case 0:
      if (rs1 === 0) return rdOf(w) === 0 && imm === 0 ? 'nop' : insn('li', rd, imm);
      return imm === 0 ? insn('mv', rd, X[rs1]) : insn('add', rd, X[rs1], imm);
    case 1: return top6 === 0 ? insn('sll', rd, X[rs1], shamt) : undefined;
    case 2: return insn('slti', rd, X[rs1], imm);
    case 3: return imm === 1 ? insn('seqz', rd, X[rs1]) : insn('sltiu', rd, X[rs1], imm);
    case 4: return imm === -1 ? insn('not', rd, X[rs1]) : insn('xor', rd, X[rs1], imm);
    case 5:
      if (top6 === 0) return insn('srl', rd, X[rs1], shamt);
      return top6 === 0x10 ? insn('sra', rd, X[rs1], shamt) : undefined;
    case 6: return insn('or', rd, X[rs1], imm);
    default: return imm === 255 ? insn('zext.b', rd, X[rs1]) : insn('and', rd, X[rs1], imm);
  }
}

function opImm32(w: number): string | undefined {
  const rd = X[rdOf(w)], rs1 = X[rs1Of(w)], imm = immI(w), f7 = w >>> 25, shamt = hex((w >>> 20) & 31);
  switch (f3Of(w)) {
    case 0: return imm === 0 ? insn('sext.w', rd, rs1) : insn('addw', rd, rs1, imm);
    case 1: return f7 === 0 ? insn('sllw', rd, rs1, shamt) : undefined;
    case 5:
      if (f7 === 0) return insn('srlw', rd, rs1, shamt);
      return f7 === 0x20 ? insn('sraw', rd, rs1, shamt) : undefined;
  }
  return undefined;
}

const OP_NAMES = ['add', 'sll', 'slt', 'sltu', 'xor', 'srl', 'or', 'and'];
const MULDIV_NAMES = ['mul', 'mulh', 'mulhsu', 'mulhu', 'div', 'divu', 'rem', 'remu'];

function op(w: number): string | undefined {
  const rd = X[rdOf(w)], rs1 = rs1Of(w), rs2 = rs2Of(w), f3 = f3Of(w);
  switch (w >>> 25) {
    case 0x00:
      if (f3 === 2 && rs2 === 0) return insn('sltz', rd, X[rs1]);
      if (f3 === 2 && rs1 === 0) return insn('sgtz', rd, X[rs2]);
      if (f3 === 3 && rs1 === 0) return insn('snez', rd, X[rs2]);
      return insn(OP_NAMES[f3], rd, X[rs1], X[rs2]);
    case 0x01: return insn(MULDIV_NAMES[f3], rd, X[rs1], X[rs2]);
    case 0x20:
      if (f3 === 0) return rs1 === 0 ? insn('neg', rd, X[rs2]) : insn('sub', rd, X[rs1], X[rs2]);
      return f3 === 5 ? insn('sra', rd, X[rs1], X[rs2]) : undefined;
  }
  return undefined;
}

function op32(w: number): string | undefined {
  const rd = X[rdOf(w)], rs1 = rs1Of(w), rs2 = X[rs2Of(w)], f3 = f3Of(w);
  switch (w >>> 25) {
    case 0x00: {
      const name = ['addw', 'sllw', '', '', '', 'srlw', '', ''][f3];
      return name ? insn(name, rd, X[rs1], rs2) : undefined;
    }
    case 0x01: {
      const name = ['mulw', '', '', '', 'divw', 'divuw', 'remw', 'remuw'][f3];
      return name ? insn(name, rd, X[rs1], rs2) : undefined;
    }
    case 0x20:
      if (f3 === 0) return rs1 === 0 ? insn('negw', rd, rs2) : insn('subw', rd, X[rs1], rs2);
      return f3 === 5 ? insn('sraw', rd, X[rs1], rs2) : undefined;
  }
  return undefined;
}

const AMO_NAMES: Record<number, string> = {
  0x00: 'amoadd', 0x01: 'amoswap', 0x02: 'lr', 0x03: 'sc', 0x04: 'amoxor', 0x08: 'amoor',
  0x0c: 'amoand', 0x10: 'amomin', 0x14: 'amomax', 0x18: 'amominu', 0x1c: 'amomaxu',
};

function amo(w: number): string | undefined {
  const f3 = f3Of(w), funct5 = w >>> 27, base = AMO_NAMES[funct5];
  if ((f3 !== 2 && f3 !== 3) || base === undefined) return undefined;
  const order = ['', '.rl', '.aq', '.aqrl'][(w >>> 25) & 3];
  const name = `${base}${f3 === 2 ? '.w' : '.d'}${order}`;
  const addr = `(${X[rs1Of(w)]})`;
  if (base !== 'lr') return insn(name, X[rdOf(w)], X[rs2Of(w)], addr);
  return rs2Of(w) === 0 ? insn(name, X[rdOf(w)], addr) : undefined;
}

function branch(w: number, pc: number): string | undefined {
  const rs1 = rs1Of(w), rs2 = rs2Of(w), to = target(pc, immB(w));
  switch (f3Of(w)) {
    case 0: return rs2 === 0 ? insn('beqz', X[rs1], to) : insn('beq', X[rs1], X[rs2], to);
    case 1: return rs2 === 0 ? insn('bnez', X[rs1], to) : insn('bne', X[rs1], X[rs2], to);
    case 4:
      if (rs2 === 0) return insn('bltz', X[rs1], to);
      return rs1 === 0 ? insn('bgtz', X[rs2], to) : insn('blt', X[rs1], X[rs2], to);
    case 5:
      if (rs1 === 0) return insn('blez', X[rs2], to);
      return rs2 === 0 ? insn('bgez', X[rs1], to) : insn('bge', X[rs1], X[rs2], to);
    case 6: return insn('bltu', X[rs1], X[rs2], to);
    case 7: return insn('bgeu', X[rs1], X[rs2], to);
  }
  return undefined;
}

function jalr(w: number): string | undefined {
  if (f3Of(w) !== 0) return undefined;
  const rd = rdOf(w), rs1 = rs1Of(w), imm = immI(w);
  if (rd === 0) {
    if (imm === 0) return rs1 === 1 ? 'ret' : insn('jr', X[rs1]);
    return insn('jr', mem(imm, rs1));
  }
  if (rd === 1) return insn('jalr', imm === 0 ? X[rs1] : mem(imm, rs1));
  return insn('jalr', X[rd], imm === 0 ? X[rs1] : mem(imm, rs1));
}

function jal(w: number, pc: number): string {
  const rd = rdOf(w), to = target(pc, immJ(w));
  if (rd === 0) return insn('j', to);
  return rd === 1 ? insn('jal', to) : insn('jal', X[rd], to);
}

const SYSTEM_EXACT: Record<number, string> = {
  0x00000073: 'ecall', 0x00100073: 'ebreak', 0x00200073: 'uret', 0x10200073: 'sret',
  0x20200073: 'hret', 0x30200073: 'mret', 0x7b200073: 'dret', 0x10500073: 'wfi',
  0xc0001073: 'unimp', // csrw cycle,zero: the canonical 32-bit illegal instruction
};

function system(w: number): string | undefined {
  const exact = SYSTEM_EXACT[w];
  if (exact !== undefined) return exact;
  if (f3Of(w) !== 0) return csrInsn(w);
  const rs1 = rs1Of(w), rs2 = rs2Of(w);
  if ((w & 0xfff07fff) === 0x10400073) return rs1 === 0 ? 'sfence.vm' : insn('sfence.vm', X[rs1]);
  if ((w & 0xfe007fff) !== 0x12000073) return undefined;
  if (rs2 !== 0) return insn('sfence.vma', X[rs1], X[rs2]);
  return rs1 === 0 ? 'sfence.vma' : insn('sfence.vma', X[rs1]);
}

const CSR_FFLAGS = 0x001, CSR_FRM = 0x002, CSR_FCSR = 0x003;
const COUNTER_READS: Record<number, string> = { 0xc00: 'rdcycle', 0xc01: 'rdtime', 0xc02: 'rdinstret' };
const FCSR_READS: Record<number, string> = { [CSR_FFLAGS]: 'frflags', [CSR_FRM]: 'frrm', [CSR_FCSR]: 'frcsr' };
const FCSR_WRITES: Record<number, string> = { [CSR_FFLAGS]: 'fsflags', [CSR_FRM]: 'fsrm', [CSR_FCSR]: 'fscsr' };

function csrInsn(w: number): string | undefined {
  const f3 = f3Of(w), rd = rdOf(w), rs1 = rs1Of(w), csr = w >>> 20;
  if (f3 === 4) return undefined;
  if (f3 === 2 && rs1 === 0) { // csrr and the read-only aliases
    const alias = COUNTER_READS[csr] ?? FCSR_READS[csr];
    return alias ? insn(alias, X[rd]) : insn('csrr', X[rd], csrName(csr));
  }
  if (f3 === 1 && FCSR_WRITES[csr] !== undefined) {
    return rd === 0 ? insn(FCSR_WRITES[csr], X[rs1]) : insn(FCSR_WRITES[csr], X[rd], X[rs1]);
  }
  if (f3 === 5 && (csr === CSR_FRM || csr === CSR_FFLAGS)) {
    return insn(csr === CSR_FRM ? 'fsrmi' : 'fsflagsi', X[rd], rs1);
  }
  // objdump names the immediate forms like the register ones: "csrw mstatus,5".
  const source = f3 & 4 ? rs1 : X[rs1];
  if (rd === 0) return insn(['', 'csrw', 'csrs', 'csrc'][f3 & 3], csrName(csr), source);
  return insn(['', 'csrrw', 'csrrs', 'csrrc'][f3 & 3], X[rd], csrName(csr), source);
}

const FMA_NAMES: Record<number, string> = {
  [OP_MADD]: 'fmadd', [OP_MSUB]: 'fmsub', [OP_NMSUB]: 'fnmsub', [OP_NMADD]: 'fnmadd',
};

function fma(w: number): string | undefined {
  const fmt = (w >>> 25) & 3;
  if (fmt > 1) return undefined;
  const name = `${FMA_NAMES[w & 0x7f]}${fmt ? '.d' : '.s'}`;
  return withRm(name, f3Of(w), F[rdOf(w)], F[rs1Of(w)], F[rs2Of(w)], F[w >>> 27]);
}

function opFp(w: number): string | undefined {
  const fmt = (w >>> 25) & 3;
  if (fmt > 1) return undefined;
  const s = fmt ? '.d' : '.s', rm = f3Of(w), rd = rdOf(w), rs1 = rs1Of(w), rs2 = rs2Of(w);
  switch (w >>> 27) {
    case 0x00: return withRm(`fadd${s}`, rm, F[rd], F[rs1], F[rs2]);
    case 0x01: return withRm(`fsub${s}`, rm, F[rd], F[rs1], F[rs2]);
    case 0x02: return withRm(`fmul${s}`, rm, F[rd], F[rs1], F[rs2]);
    case 0x03: return withRm(`fdiv${s}`, rm, F[rd], F[rs1], F[rs2]);
    case 0x0b: return rs2 === 0 ? withRm(`fsqrt${s}`, rm, F[rd], F[rs1]) : undefined;
    case 0x04: {
      if (rm > 2) return undefined;
      if (rs1 === rs2) return insn(`${['fmv', 'fneg', 'fabs'][rm]}${s}`, F[rd], F[rs1]);
      return insn(`${['fsgnj', 'fsgnjn', 'fsgnjx'][rm]}${s}`, F[rd], F[rs1], F[rs2]);
    }
    case 0x05: return rm < 2 ? insn(`${['fmin', 'fmax'][rm]}${s}`, F[rd], F[rs1], F[rs2]) : undefined;
    case 0x08: return fcvtFloat(fmt, rm, rd, rs1, rs2);
    case 0x14: {
      const name = ['fle', 'flt', 'feq'][rm];
      return name ? insn(`${name}${s}`, X[rd], F[rs1], F[rs2]) : undefined;
    }
    case 0x18: {
      const to = ['w', 'wu', 'l', 'lu'][rs2];
      return to ? withRm(`fcvt.${to}${s}`, rm, X[rd], F[rs1]) : undefined;
    }
    case 0x1a: {
      const from = ['w', 'wu', 'l', 'lu'][rs2];
      if (!from) return undefined;
      // fcvt.d.w/wu are exact: objdump knows them only with rm = 0 and prints no mode.
      if (fmt === 1 && rs2 < 2) return rm === 0 ? insn(`fcvt${s}.${from}`, F[rd], X[rs1]) : undefined;
      return withRm(`fcvt${s}.${from}`, rm, F[rd], X[rs1]);
    }
    case 0x1c:
      if (rs2 !== 0 || rm > 1) return undefined;
      return rm === 0 ? insn(fmt ? 'fmv.x.d' : 'fmv.x.w', X[rd], F[rs1]) : insn(`fclass${s}`, X[rd], F[rs1]);
    case 0x1e:
      return rs2 === 0 && rm === 0 ? insn(fmt ? 'fmv.d.x' : 'fmv.w.x', F[rd], X[rs1]) : undefined;
  }
  return undefined;
}

/** fcvt.s.d (rounds) and fcvt.d.s (exact: known to objdump only with rm = 0). */
function fcvtFloat(fmt: number, rm: number, rd: number, rs1: number, rs2: number): string | undefined {
  if (fmt === 0 && rs2 === 1) return withRm('fcvt.s.d', rm, F[rd], F[rs1]);
  if (fmt === 1 && rs2 === 0 && rm === 0) return insn('fcvt.d.s', F[rd], F[rs1]);
  return undefined;
}

function decode32(w: number, pc: number): string | undefined {
  switch (w & 0x7f) {
    case OP_LOAD: return load(w);
    case OP_LOAD_FP: return loadFp(w);
    case OP_MISC_MEM: return miscMem(w);
    case OP_IMM: return opImm(w);
    case OP_AUIPC: return insn('auipc', X[rdOf(w)], hex(w >>> 12));
    case OP_IMM_32: return opImm32(w);
    case OP_STORE: return store(w);
    case OP_STORE_FP: return storeFp(w);
    case OP_AMO: return amo(w);
    case OP: return op(w);
    case OP_LUI: return insn('lui', X[rdOf(w)], hex(w >>> 12));
    case OP_32: return op32(w);
    case OP_MADD: case OP_MSUB: case OP_NMSUB: case OP_NMADD: return fma(w);
    case OP_FP: return opFp(w);
    case OP_BRANCH: return branch(w, pc);
    case OP_JALR: return jalr(w);
    case OP_JAL: return jal(w, pc);
    case OP_SYSTEM: return system(w);
  }
  return undefined;
}

// ---- 16-bit instructions -----------------------------------------------------------------

/**
 * The compressed encodings objdump does not print as their 32-bit expansion: HINTs (written
 * with a "c." prefix) and a few forms it names differently (c.mv is "mv", c.addi with
 * immediate 0 stays "add"). Undefined for everything else.
 */
function compressedSpecial(c: number): string | undefined {
  const rd = (c >>> 7) & 31, rs2 = (c >>> 2) & 31, ciImm = (((c >>> 12) & 1) ? -32 : 0) | rs2;
  const rdp = X[8 + ((c >>> 7) & 7)], shamt = (((c >>> 12) & 1) << 5) | rs2;
  switch (((c >>> 13) << 2) | (c & 3)) {
    case (0 << 2) | 1: // c.addi
      if (rd === 0) return ciImm === 0 ? 'nop' : insn('c.nop', ciImm);
      return ciImm === 0 ? insn('add', X[rd], X[rd], 0) : undefined;
    case (2 << 2) | 1: return rd === 0 ? insn('c.li', 'zero', ciImm) : undefined;
    case (3 << 2) | 1: // c.addi16sp / c.lui
      if (rd === 2) return ((c >>> 2) & 0x41f) === 0 ? insn('add', 'sp', 'sp', 0) : undefined;
      return rd === 0 && ciImm !== 0 ? insn('c.lui', 'zero', hex(ciImm & 0xfffff)) : undefined;
    case (4 << 2) | 1: { // c.srli / c.srai with shift 0
      const kind = (c >>> 10) & 3;
      return kind < 2 && shamt === 0 ? insn(kind ? 'c.srai64' : 'c.srli64', rdp) : undefined;
    }
    case (0 << 2) | 2: // c.slli
      if (shamt === 0) return insn('c.slli64', X[rd]);
      return rd === 0 ? insn('c.slli', 'zero', hex(shamt)) : undefined;
    case (4 << 2) | 2: // c.mv / c.add
      if (rs2 === 0) return undefined;
      if ((c >>> 12) & 1) return rd === 0 ? insn('c.add', 'zero', X[rs2]) : undefined;
      return rd === 0 ? insn('c.mv', 'zero', X[rs2]) : insn('mv', X[rd], X[rs2]);
  }
  return undefined;
}

function decode16(c: number, pc: number): string {
  if (c === 0) return 'unimp';
  const special = compressedSpecial(c);
  if (special !== undefined) return special;
  const w = expandCompressed(c);
  return (w !== 0 && decode32(w, pc)) || `.2byte ${hex(c)}`;
}

/**
 * One instruction as objdump -d prints it, mnemonic and operands separated by one space.
 * `inst`: the 16-bit parcel of a compressed instruction ((inst & 3) !== 3) or the 32-bit
 * word (signed or unsigned); `pc`: its address, for branch and jump targets.
 * Never throws; encodings that are not RV64GC print as ".2byte 0x…" / ".4byte 0x…".
 */
export function disassemble(inst: number, pc: number): string {
  if ((inst & 3) !== 3) return decode16(inst & 0xffff, pc);
  const w = inst >>> 0;
  if ((w & 0x1f) === 0x1f) return `.4byte ${hex(w)}`; // a 48-bit or longer encoding
  return decode32(w, pc) ?? `.4byte ${hex(w)}`;
}

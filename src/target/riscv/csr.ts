// CSR numbers and status-register fields of the RISC-V privileged spec (v1.12).

export const CSR = {
  fflags: 0x001, frm: 0x002, fcsr: 0x003,
  cycle: 0xc00, time: 0xc01, instret: 0xc02, hpmcounter3: 0xc03, hpmcounter31: 0xc1f,
  sstatus: 0x100, sie: 0x104, stvec: 0x105, scounteren: 0x106, senvcfg: 0x10a,
  sscratch: 0x140, sepc: 0x141, scause: 0x142, stval: 0x143, sip: 0x144, satp: 0x180,
  mvendorid: 0xf11, marchid: 0xf12, mimpid: 0xf13, mhartid: 0xf14, mconfigptr: 0xf15,
  mstatus: 0x300, misa: 0x301, medeleg: 0x302, mideleg: 0x303, mie: 0x304, mtvec: 0x305,
  mcounteren: 0x306, menvcfg: 0x30a, mcountinhibit: 0x320, mhpmevent3: 0x323, mhpmevent31: 0x33f,
  mscratch: 0x340, mepc: 0x341, mcause: 0x342, mtval: 0x343, mip: 0x344, mtinst: 0x34a,
  mtval2: 0x34b, pmpcfg0: 0x3a0, pmpcfg15: 0x3af, pmpaddr0: 0x3b0, pmpaddr63: 0x3ef,
  mcycle: 0xb00, minstret: 0xb02, mhpmcounter3: 0xb03, mhpmcounter31: 0xb1f,
  tselect: 0x7a0, tdata1: 0x7a1, tdata2: 0x7a2, tdata3: 0x7a3,
} as const;

// mstatus fields (low 32 bits; UXL/SXL/SD live in the high word and are computed).
export const MSTATUS_SIE = 1 << 1;
export const MSTATUS_MIE = 1 << 3;
export const MSTATUS_SPIE = 1 << 5;
export const MSTATUS_MPIE = 1 << 7;
export const MSTATUS_SPP = 1 << 8;
export const MSTATUS_MPP_SHIFT = 11;
export const MSTATUS_MPP = 3 << 11;
export const MSTATUS_FS = 3 << 13;
export const MSTATUS_FS_DIRTY = 3 << 13;
export const MSTATUS_MPRV = 1 << 17;
export const MSTATUS_SUM = 1 << 18;
export const MSTATUS_MXR = 1 << 19;
export const MSTATUS_TVM = 1 << 20;
export const MSTATUS_TW = 1 << 21;
export const MSTATUS_TSR = 1 << 22;
/** Bits of mstatus's low word that M-mode may write. */
export const MSTATUS_WMASK = MSTATUS_SIE | MSTATUS_MIE | MSTATUS_SPIE | MSTATUS_MPIE | MSTATUS_SPP |
  MSTATUS_MPP | MSTATUS_FS | MSTATUS_MPRV | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_TVM | MSTATUS_TW |
  MSTATUS_TSR;
/** The sstatus view of mstatus (low word). */
export const SSTATUS_MASK = MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_FS | MSTATUS_SUM |
  MSTATUS_MXR;
/** UXL = SXL = 2 (64-bit): bits 32-35 of mstatus, i.e. the high word's bits 0-3. */
export const MSTATUS_HI_XL = 0xa;
export const SSTATUS_HI_XL = 0x2;

// Privilege levels.
export const PRV_U = 0;
export const PRV_S = 1;
export const PRV_M = 3;

// Exception causes.
export const EXC_INST_MISALIGNED = 0;
export const EXC_INST_ACCESS = 1;
export const EXC_ILLEGAL = 2;
export const EXC_BREAKPOINT = 3;
export const EXC_LOAD_MISALIGNED = 4;
export const EXC_LOAD_ACCESS = 5;
export const EXC_STORE_MISALIGNED = 6;
export const EXC_STORE_ACCESS = 7;
export const EXC_ECALL_U = 8;
export const EXC_ECALL_S = 9;
export const EXC_ECALL_M = 11;
export const EXC_INST_PAGE = 12;
export const EXC_LOAD_PAGE = 13;
export const EXC_STORE_PAGE = 15;

/** Exceptions S-mode may take by delegation (not ECALL from M, not reserved ones). */
export const MEDELEG_MASK = 0xb3ff;
/** Interrupts that can be delegated to S-mode: SSI, STI, SEI. */
export const MIDELEG_MASK = 0x222;
export const MIE_MASK = 0xaaa;
/** mip bits M-mode software may write (SSIP, STIP, SEIP). */
export const MIP_WMASK = 0x222;

/** misa: MXL=64 and extensions A C D F I M S U. */
export const MISA_LO = 0x14112d;
export const MISA_HI = 0x80000000 | 0;

// Zicsr: CSRRW/S/C and immediate forms, the rd=x0 / rs1=x0 write rules on a read-only
// CSR, machine identification CSRs, and Zicntr counters moving forward.
#include "test.h"

TEST_BEGIN

  //--- read/modify/write semantics on mscratch (a full 64-bit WARL-free register)
  TEST_CASE(2, a0, 0, csrw mscratch, zero; li a1, 0x123456789abcdef0; csrrw a0, mscratch, a1)
  TEST_CASE(3, a0, 0x123456789abcdef0, csrr a0, mscratch)
  TEST_CASE(4, a0, 0x123456789abcdef0, li a1, 0x0f; csrrs a0, mscratch, a1)
  TEST_CASE(5, a0, 0x123456789abcdeff, csrr a0, mscratch)
  TEST_CASE(6, a0, 0x123456789abcdeff, li a1, 0xff000000000000f0; csrrc a0, mscratch, a1)
  TEST_CASE(7, a0, 0x003456789abcde0f, csrr a0, mscratch)
  TEST_CASE(8, a0, 0x003456789abcde0f, csrrwi a0, mscratch, 31)
  TEST_CASE(9, a0, 31, csrr a0, mscratch)          // uimm is zero-extended
  TEST_CASE(10, a0, 31, csrrci a0, mscratch, 0x11)
  TEST_CASE(11, a0, 0x0e, csrr a0, mscratch)
  TEST_CASE(12, a0, 0x0e, csrrsi a0, mscratch, 0x10)
  TEST_CASE(13, a0, 0x1e, csrr a0, mscratch)
  TEST_CASE(14, a0, 0x1e, csrrs a0, mscratch, x0)  // rs1 = x0: read only
  TEST_CASE(15, a0, 0x1e, csrrc a0, mscratch, x0)
  TEST_CASE(16, a0, 0x1e, csrrsi a0, mscratch, 0)
  TEST_CASE(17, a0, 0x1e, csrrci a0, mscratch, 0; csrr a0, mscratch)
  TEST_CASE(18, a0, 0x55, li a1, 0x55; csrrw x0, mscratch, a1; csrr a0, mscratch)
  TEST_CASE(19, a0, 0x55, csrrw a0, mscratch, a0; csrr a0, mscratch)  // rd == rs1

  //--- read-only CSRs: reads are fine, no write is attempted when rs1 = x0 / uimm = 0
  TEST_NUM(20)
        csrrs a0, cycle, x0
        csrrc a0, instret, x0
        csrrci a0, cycle, 0
        csrr a0, mhartid
        CHECK(a0, 0)
  //--- ...but any real write is an illegal instruction with mtval = the instruction
  EXPECT_TRAP(21, CAUSE_ILLEGAL_INSN, 1: csrrw x0, cycle, x0)
        lwu t4, 1b
        bne t2, t4, fail
        la t3, 1b
        bne t1, t3, fail
  EXPECT_TRAP(22, CAUSE_ILLEGAL_INSN, li a1, 1; 1: csrrs a0, instret, a1)
        lwu t4, 1b
        bne t2, t4, fail
  EXPECT_TRAP(23, CAUSE_ILLEGAL_INSN, 1: csrrwi a0, time, 0)
        lwu t4, 1b
        bne t2, t4, fail
  EXPECT_TRAP(24, CAUSE_ILLEGAL_INSN, 1: csrrsi a0, mhartid, 1)
        lwu t4, 1b
        bne t2, t4, fail
  EXPECT_TRAP(25, CAUSE_ILLEGAL_INSN, 1: csrrci a0, mvendorid, 2)
  //--- a CSR that does not exist
  EXPECT_TRAP(26, CAUSE_ILLEGAL_INSN, 1: csrr a0, 0x8ff)
        lwu t4, 1b
        bne t2, t4, fail
  EXPECT_TRAP(27, CAUSE_ILLEGAL_INSN, 1: csrw 0x7ff, a0)
  EXPECT_TRAP(28, CAUSE_ILLEGAL_INSN, 1: csrr a0, 0x5ff)

  //--- identification
  TEST_NUM(29)                       // misa: MXL = 2 (RV64) and IMAFDC + S + U
        csrr a0, misa
        srli a1, a0, 62
        CHECK(a1, 2)
        li t0, (1 << ('I' - 'A')) | (1 << ('M' - 'A')) | (1 << ('A' - 'A')) | (1 << ('F' - 'A')) | (1 << ('D' - 'A')) | (1 << ('C' - 'A')) | (1 << ('S' - 'A')) | (1 << ('U' - 'A'))
        and a1, a0, t0
        bne a1, t0, fail
  TEST_NUM(30)                       // mstatus.UXL = SXL = 2 on RV64
        csrr a0, mstatus
        srli a1, a0, 32
        andi a1, a1, 0xf
        CHECK(a1, 0xa)
  TEST_NUM(31)                       // sstatus is a view of mstatus
        csrsi sstatus, MSTATUS_SIE
        csrr a0, mstatus
        andi a0, a0, MSTATUS_SIE
        CHECK(a0, MSTATUS_SIE)
        csrci mstatus, MSTATUS_SIE
        csrr a0, sstatus
        andi a0, a0, MSTATUS_SIE
        CHECK(a0, 0)
  TEST_NUM(32)                       // sstatus hides M-only fields (MPP)
        li t0, MSTATUS_MPP
        csrs mstatus, t0
        csrr a0, sstatus
        and a0, a0, t0
        CHECK(a0, 0)
        csrc mstatus, t0

  //--- Zicntr: counters count
  TEST_NUM(33)
        rdinstret a0
        nop; nop; nop; nop
        rdinstret a1
        sub a2, a1, a0
        li t0, 5
        blt a2, t0, fail             // at least the four nops plus the read
  TEST_NUM(34)
        rdcycle a0
        nop; nop; nop; nop
        rdcycle a1
        bgeu a0, a1, fail
  // `time` is optional in M-mode: QEMU's spike board leaves it to firmware (rdtime is
  // an illegal instruction there), its virt board implements it. Where it exists it must
  // advance and agree with the CLINT.
  TEST_NUM(35)                       // time advances (bounded wait)
        SET_TRAP(no_time_csr)
        rdtime a0
        RESTORE_TRAP
        li a2, 20000000
1:      rdtime a1
        bne a0, a1, 2f
        addi a2, a2, -1
        bnez a2, 1b
        j fail
2:      bltu a1, a0, fail
  TEST_NUM(36)                       // minstret / mcycle read the same counters
        rdinstret a0
        csrr a1, minstret
        bltu a1, a0, fail
        rdcycle a0
        csrr a1, mcycle
        bltu a1, a0, fail
  TEST_NUM(37)                       // time matches the CLINT's mtime
        li t0, CLINT_MTIME
        rdtime a0
        ld a1, 0(t0)
        rdtime a2
        bltu a1, a0, fail
        bltu a2, a1, fail
        j 1f
        .align 2
no_time_csr:
        RESTORE_TRAP
        csrr t0, mcause
        CHECK(t0, CAUSE_ILLEGAL_INSN)
1:

  j pass
TEST_END

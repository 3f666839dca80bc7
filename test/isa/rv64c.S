// C extension on RV64: every compressed form, with the immediates' edges. Mnemonics are
// written as c.* so the assembler cannot pick a 4-byte encoding; C.EBREAK is checked
// by trapping.
#include "test.h"

TEST_BEGIN
        .option push
        .option rvc

  //--- quadrant 1: immediates and ALU
  TEST_CASE(2, a0, -32, li a0, 99; c.li a0, -32)
  TEST_CASE(3, a0, 31, c.li a0, 31)
  TEST_CASE(4, a0, 0xfffffffffffff000, c.lui a0, 0xfffff)
  TEST_CASE(5, a0, 0xfffffffffffe0000, c.lui a0, 0xfffe0)
  TEST_CASE(6, a0, 0x1f000, c.lui a0, 0x1f)
  TEST_CASE(7, a0, 0x1000, c.lui a0, 1)
  TEST_CASE(8, a0, 68, li a0, 100; c.addi a0, -32)
  TEST_CASE(9, a0, 0x8000000000000000, li a0, 0x7fffffffffffffff; c.addi a0, 1)
  TEST_CASE(10, a0, 0xffffffff80000000, li a0, 0x7fffffff; c.addiw a0, 1)
  TEST_CASE(11, a0, 0xffffffff80000000, li a0, 0x80000000; c.addiw a0, 0)
  TEST_CASE(12, a0, 0x7fffffe0, li a0, 0xffffffff80000000; c.addiw a0, -32)
  // RV32's C.JAL encoding (quadrant 1, funct3 001) is C.ADDIW on RV64: never a jump
  TEST_CASE(48, ra, 0xffffffff80000000, li ra, 0x7fffffff; .hword 0x2085)   // c.addiw ra, 1
  TEST_CASE(49, ra, 6, li ra, 5; .hword 0x2085; nop)
  TEST_CASE(13, a0, 1, li a0, 0x8000000000000000; c.srli a0, 63)
  TEST_CASE(14, a0, -1, li a0, 0x8000000000000000; c.srai a0, 63)
  TEST_CASE(15, a0, 0xfffffffff0000000, li a0, 0x8000000000000000; c.srai a0, 35)
  TEST_CASE(16, a0, 0x0000000010000000, li a0, 0x8000000000000000; c.srli a0, 35)
  TEST_CASE(17, a0, 0x0000000040000000, li a0, 0x0000000080000000; c.srai a0, 1)
  TEST_CASE(18, a0, 0x8000000000000000, li a0, 1; c.slli a0, 63)
  TEST_CASE(19, a0, 0x0000000100000000, li a0, 1; c.slli a0, 32)
  TEST_CASE(20, a0, 0xffffffffffffffe5, li a0, -1; c.andi a0, -27)
  TEST_CASE(21, a0, 0x1f, li a0, 0xffffffffffffffff; c.andi a0, 31)
  TEST_CASE(22, a0, 0x8000000000000000, li a0, 0x7fffffffffffffff; li a1, -1; c.sub a0, a1)
  TEST_CASE(23, a0, 0xf00ff00ff00ff00f, li a0, 0xff00ff00ff00ff00; li a1, 0x0f0f0f0f0f0f0f0f; c.xor a0, a1)
  TEST_CASE(24, a0, 0xff0fff0fff0fff0f, li a0, 0xff00ff00ff00ff00; li a1, 0x0f0f0f0f0f0f0f0f; c.or a0, a1)
  TEST_CASE(25, a0, 0x0f000f000f000f00, li a0, 0xff00ff00ff00ff00; li a1, 0x0f0f0f0f0f0f0f0f; c.and a0, a1)
  TEST_CASE(26, a0, 0x7fffffff, li a0, 0xffffffff80000000; li a1, 1; c.subw a0, a1)
  TEST_CASE(27, a0, 0xffffffff80000000, li a0, 0x7fffffff; li a1, 0x1000000001; c.addw a0, a1)
  TEST_CASE(28, a0, -1, li a0, 0; li a1, 1; c.subw a0, a1)
  TEST_CASE(29, a0, 5, li a0, 5; c.nop)

  //--- quadrant 2 register forms
  TEST_CASE(30, t3, 0x123456789abcdef0, li t4, 0x123456789abcdef0; c.mv t3, t4)
  TEST_CASE(31, t3, 3, li t3, 1; li t4, 2; c.add t3, t4)
  TEST_CASE(32, s2, 0x8000000000000000, li s2, 1; c.slli s2, 63)

  //--- stack-pointer forms
  TEST_NUM(33)
        la sp, stack_top
        c.addi16sp sp, -512
        la t0, stack_top - 512
        bne sp, t0, fail
        c.addi16sp sp, 496
        la t0, stack_top - 16
        bne sp, t0, fail
        c.addi16sp sp, 16
  TEST_NUM(34)
        c.addi4spn a0, sp, 1020
        la t0, stack_top + 1020
        bne a0, t0, fail
        c.addi4spn a1, sp, 4
        la t0, stack_top + 4
        bne a1, t0, fail
  TEST_NUM(35)                      // SDSP/LDSP with the largest offset
        c.addi16sp sp, -512
        li t0, 0x8877665544332211
        c.sdsp t0, 504(sp)
        c.ldsp t1, 504(sp)
        bne t0, t1, fail
        ld t2, 504(sp)
        bne t0, t2, fail
  TEST_NUM(36)                      // SWSP/LWSP sign-extend
        li t0, 0x00000000f0000001
        c.swsp t0, 252(sp)
        c.lwsp t1, 252(sp)
        CHECK(t1, 0xfffffffff0000001)
        ld t2, 248(sp)
        srli t2, t2, 32
        CHECK(t2, 0xf0000001)
  TEST_NUM(37)                      // FSDSP/FLDSP
        li t0, 0x400921fb54442d18
        fmv.d.x ft0, t0
        c.fsdsp ft0, 8(sp)
        c.fldsp ft1, 8(sp)
        FCHECK_D(ft1, 0x400921fb54442d18)
        ld t2, 8(sp)
        CHECK(t2, 0x400921fb54442d18)
        c.addi16sp sp, 496
        c.addi16sp sp, 16

  //--- register-based loads and stores (x8-x15 only)
  TEST_NUM(38)
        la s0, cdata
        li a0, 0x0102030405060708
        c.sd a0, 248(s0)
        c.ld a1, 248(s0)
        bne a0, a1, fail
        li a0, 0x80000000
        c.sw a0, 124(s0)
        c.lw a2, 124(s0)
        CHECK(a2, 0xffffffff80000000)
        lwu a3, 124(s0)
        CHECK(a3, 0x80000000)
  TEST_NUM(39)
        li t0, 0xbff0000000000000
        fmv.d.x fa0, t0
        c.fsd fa0, 0(s0)
        c.fld fa1, 0(s0)
        FCHECK_D(fa1, 0xbff0000000000000)
        c.fld fa2, 248(s0)
        FCHECK_D(fa2, 0x0102030405060708)

  //--- control flow
  TEST_NUM(40)
        c.j 1f
        j fail
1:      li a0, 0
        c.beqz a0, 1f
        j fail
1:      li a0, 1
        c.beqz a0, fail
        c.bnez a0, 1f
        j fail
1:      li a0, 0
        c.bnez a0, fail
  TEST_NUM(41)                      // C.JALR links pc + 2
        la t0, 2f
        c.jalr t0
1:      j fail
2:      la t1, 1b
        bne ra, t1, fail
  TEST_NUM(42)                      // C.JR
        la t0, 1f
        c.jr t0
        j fail
1:
  TEST_NUM(43)                      // backward C.BNEZ loop
        li a0, 4
        li a1, 0
1:      c.addi a1, 3
        c.addi a0, -1
        c.bnez a0, 1b
        CHECK(a1, 12)
  TEST_NUM(44)                      // 4-byte instructions at 2-byte-aligned addresses
        .balign 4
        c.nop
        li a0, 0x12345
        addi a0, a0, 1
        jal ra, 1f                  // at an odd halfword
        j 2f
1:      c.addi a0, 1
        c.jr ra
2:      CHECK(a0, 0x12347)
  TEST_NUM(45)                      // JALR to a halfword-aligned target
        la t0, 1f
        jalr ra, 0(t0)
        j fail
        .balign 4
        c.nop
1:      andi t1, t0, 3
        CHECK(t1, 2)

  //--- C.EBREAK: breakpoint exception with mepc at the 2-byte instruction
  EXPECT_TRAP(46, CAUSE_BREAKPOINT, 1: c.ebreak)
        la t3, 1b
        bne t1, t3, fail
        csrr t0, mtval
  TEST_NUM(47)                      // EBREAK (4-byte) too
        SET_TRAP(2f)
1:      ebreak
        j fail
        .align 2
2:      RESTORE_TRAP
        csrr t0, mcause
        CHECK(t0, CAUSE_BREAKPOINT)
        csrr t1, mepc
        la t3, 1b
        bne t1, t3, fail

        .option pop
  j pass
TEST_END

  .data
  .align 6
cdata:
  .fill 64, 8, 0
  .align 4
stack:
  .fill 256, 8, 0
stack_top:
  .fill 256, 8, 0

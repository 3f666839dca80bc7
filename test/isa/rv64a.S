// A extension: LR/SC in the simple sequences the spec guarantees, and every AMO in W and
// D width (old value returned, W results sign-extended, the upper word left alone).
#include "test.h"

// W-width AMO on the low word of a doubleword whose upper word is a guard.
#define TEST_AMO_W(n, inst, init, operand, old, new)                        \
  TEST_NUM(n);                                                              \
        la s0, amo_buf;                                                     \
        li t0, (0x5a5a5a5a << 32) | ((init) & 0xffffffff); sd t0, 0(s0);    \
        li a1, operand;                                                     \
        inst a0, a1, (s0);                                                  \
        CHECK(a0, old);                                                     \
        ld a2, 0(s0);                                                       \
        CHECK(a2, (0x5a5a5a5a << 32) | ((new) & 0xffffffff));

#define TEST_AMO_D(n, inst, init, operand, old, new)                        \
  TEST_NUM(n);                                                              \
        la s0, amo_buf;                                                     \
        li t0, init; sd t0, 0(s0);                                          \
        li a1, operand;                                                     \
        inst a0, a1, (s0);                                                  \
        CHECK(a0, old);                                                     \
        ld a2, 0(s0);                                                       \
        CHECK(a2, new);

TEST_BEGIN

  //--- LR/SC
  TEST_NUM(2)                       // LR.W sign-extends; SC.W after LR succeeds
        la s0, amo_buf
        li t0, 0x1111111180000001; sd t0, 0(s0)
        lr.w a0, (s0)
        CHECK(a0, 0xffffffff80000001)
        li a1, 0x12345678
        sc.w a2, a1, (s0)
        CHECK(a2, 0)
        ld a3, 0(s0)
        CHECK(a3, 0x1111111112345678)
  TEST_NUM(3)                       // a second SC without a new LR fails, no write
        li a1, 0x0badf00d
        sc.w a2, a1, (s0)
        beqz a2, fail
        ld a3, 0(s0)
        CHECK(a3, 0x1111111112345678)
  TEST_NUM(4)                       // LR.D / SC.D
        li t0, 0x8000000000000005; sd t0, 8(s0)
        addi s1, s0, 8
        lr.d a0, (s1)
        CHECK(a0, 0x8000000000000005)
        addi a0, a0, 1
        sc.d a2, a0, (s1)
        CHECK(a2, 0)
        ld a3, 8(s0)
        CHECK(a3, 0x8000000000000006)
  TEST_NUM(5)                       // SC.D with no reservation fails
        sc.d a2, zero, (s1)
        beqz a2, fail
        ld a3, 8(s0)
        CHECK(a3, 0x8000000000000006)
  TEST_NUM(6)                       // an LR/SC increment loop, with aq/rl bits
        sw zero, 16(s0)
        addi s1, s0, 16
        li a4, 10
1:      lr.w.aq a0, (s1)
        addi a0, a0, 3
        sc.w.rl a2, a0, (s1)
        bnez a2, 1b
        addi a4, a4, -1
        bnez a4, 1b
        lw a3, 16(s0)
        CHECK(a3, 30)
  TEST_NUM(7)                       // SC writes rd = 0 even if rd == rs2
        lr.d a0, (s1)
        li a5, 77
        sc.d a5, a5, (s1)
        CHECK(a5, 0)
        ld a3, 16(s0)
        CHECK(a3, 77)

  //--- AMO*.W: returns the old word sign-extended
  TEST_AMO_W(10, amoswap.w, 0x80000000, 0x1234, 0xffffffff80000000, 0x1234)
  TEST_AMO_W(11, amoadd.w, 0x7fffffff, 1, 0x7fffffff, 0x80000000)
  TEST_AMO_W(12, amoadd.w, 0xffffffff, 1, -1, 0)
  TEST_AMO_W(13, amoxor.w, 0xff00ff00, 0x0ff00ff0, 0xffffffffff00ff00, 0xf0f0f0f0)
  TEST_AMO_W(14, amoand.w, 0xff00ff00, 0x0ff00ff0, 0xffffffffff00ff00, 0x0f000f00)
  TEST_AMO_W(15, amoor.w, 0xff00ff00, 0x0ff00ff0, 0xffffffffff00ff00, 0xfff0fff0)
  TEST_AMO_W(16, amomin.w, 0x80000000, 1, 0xffffffff80000000, 0x80000000)
  TEST_AMO_W(17, amominu.w, 0x80000000, 1, 0xffffffff80000000, 1)
  TEST_AMO_W(18, amomax.w, 0x80000000, 1, 0xffffffff80000000, 1)
  TEST_AMO_W(19, amomaxu.w, 0x80000000, 1, 0xffffffff80000000, 0x80000000)
  // only the low 32 bits of rs2 take part in W operations
  TEST_AMO_W(20, amomin.w, 5, 0x00000001fffffffe, 5, 0xfffffffe)
  TEST_AMO_W(21, amomaxu.w, 5, 0xffffffff00000003, 5, 5)
  TEST_AMO_W(22, amoadd.w, 1, 0xffffffff00000002, 1, 3)
  TEST_AMO_W(23, amomin.w, -1, -2, -1, -2)
  TEST_AMO_W(24, amominu.w, -1, -2, -1, -2)
  TEST_AMO_W(25, amomax.w, -1, -2, -1, -1)
  TEST_AMO_W(26, amoswap.w.aqrl, 7, 8, 7, 8)

  //--- AMO*.D
  TEST_AMO_D(30, amoswap.d, 0x8000000000000000, 0x1234, 0x8000000000000000, 0x1234)
  TEST_AMO_D(31, amoadd.d, 0x7fffffffffffffff, 1, 0x7fffffffffffffff, 0x8000000000000000)
  TEST_AMO_D(32, amoadd.d, 0x00000000ffffffff, 1, 0x00000000ffffffff, 0x0000000100000000)
  TEST_AMO_D(33, amoxor.d, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0xff00ff00ff00ff00, 0xf0f0f0f0f0f0f0f0)
  TEST_AMO_D(34, amoand.d, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0xff00ff00ff00ff00, 0x0f000f000f000f00)
  TEST_AMO_D(35, amoor.d, 0xff00ff00ff00ff00, 0x0ff00ff00ff00ff0, 0xff00ff00ff00ff00, 0xfff0fff0fff0fff0)
  TEST_AMO_D(36, amomin.d, 0x8000000000000000, 1, 0x8000000000000000, 0x8000000000000000)
  TEST_AMO_D(37, amominu.d, 0x8000000000000000, 1, 0x8000000000000000, 1)
  TEST_AMO_D(38, amomax.d, 0x8000000000000000, 1, 0x8000000000000000, 1)
  TEST_AMO_D(39, amomaxu.d, 0x8000000000000000, 1, 0x8000000000000000, 0x8000000000000000)
  TEST_AMO_D(40, amomin.d, 0x0000000080000000, 0x00000000ffffffff, 0x0000000080000000, 0x0000000080000000)
  TEST_AMO_D(41, amomax.d, -5, -3, -5, -3)
  TEST_AMO_D(42, amominu.d, -5, -3, -5, -5)

  //--- rd == x0 still performs the write; rd == rs2 returns the old value
  TEST_NUM(50)
        la s0, amo_buf
        li t0, 10; sd t0, 0(s0)
        li a1, 5
        amoadd.d x0, a1, (s0)
        ld a2, 0(s0)
        CHECK(a2, 15)
  TEST_NUM(51)
        li a1, 100
        amoadd.d a1, a1, (s0)
        CHECK(a1, 15)
        ld a2, 0(s0)
        CHECK(a2, 115)
  TEST_NUM(52)                      // W AMO on the upper word of a doubleword
        li t0, 0x0000000100000002; sd t0, 0(s0)
        li a1, -1
        addi s1, s0, 4
        amoadd.w a0, a1, (s1)
        CHECK(a0, 1)
        ld a2, 0(s0)
        CHECK(a2, 0x0000000000000002)

  j pass
TEST_END

  .data
  .align 6
amo_buf:
  .dword 0, 0, 0, 0

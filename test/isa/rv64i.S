// RV64I: integer ALU (64-bit and W forms), shifts, LUI/AUIPC, jumps, branches,
// loads and stores of every width.
#include "test.h"

TEST_BEGIN

  //--- ADD/SUB/ADDI wrap around and x0 stays zero
  TEST_RR(2, add, 0x8000000000000000, 0x7fffffffffffffff, 1)
  TEST_RR(3, add, 0, -1, 1)
  TEST_RR(4, sub, 0x7fffffffffffffff, 0x8000000000000000, 1)
  TEST_RR(5, sub, -1, 0, 1)
  TEST_IMM(6, addi, 0x7ffffffffffff800, 0x7fffffffffffffff, -2047 - 1 + 1)
  TEST_IMM(7, addi, 0xfffffffffffff800, 0, -2048)
  TEST_IMM(8, addi, 2047, 0, 2047)
  TEST_CASE(9, x0, 0, addi x0, x0, 5; li x11, 7; add x0, x11, x11)

  //--- W forms: 32-bit result, sign-extended; upper source bits ignored
  TEST_RR(10, addw, 0xffffffff80000000, 0x7fffffff, 1)
  TEST_RR(11, addw, 0, 0x100000001, 0xffffffff)
  TEST_RR(12, addw, 0x0000000012345678, 0xabcdef0012345678, 0x5a5a5a5a00000000)
  TEST_RR(13, subw, -1, 0, 1)
  TEST_RR(14, subw, 0x7fffffff, 0xffffffff80000000, 1)
  TEST_RR(15, subw, 0xffffffff80000000, 0x7fffffff, -1)
  TEST_IMM(16, addiw, 0xffffffff80000000, 0x7fffffff, 1)
  TEST_IMM(17, addiw, 0xffffffff80000000, 0x0000000080000000, 0)
  TEST_IMM(18, addiw, 0x12345678, 0xffffffff12345678, 0)
  TEST_IMM(19, addiw, 0x7ffff800, 0xffffffff80000000, -2048)

  //--- 64-bit shifts: amounts use the low 6 bits
  TEST_RR(20, sll, 0x8000000000000000, 1, 63)
  TEST_RR(21, sll, 1, 1, 64)
  TEST_RR(22, sll, 0x0000000100000000, 1, 32)
  TEST_RR(23, srl, 1, 0x8000000000000000, 63)
  TEST_RR(24, srl, 0x0000000080000000, 0x8000000000000000, 32)
  TEST_RR(25, sra, -1, 0x8000000000000000, 63)
  TEST_RR(26, sra, 0xffffffff80000000, 0x8000000000000000, 32)
  TEST_RR(27, sra, 0x8000000000000000, 0x8000000000000000, 0xffffffffffffffc0)
  TEST_IMM(28, slli, 0x8000000000000000, 1, 63)
  TEST_IMM(29, srli, 1, 0x8000000000000000, 63)
  TEST_IMM(30, srai, -1, 0x8000000000000000, 63)
  TEST_IMM(31, srai, 0xfffffffff0000000, 0x8000000000000000, 35)
  TEST_IMM(32, srli, 0x0000000010000000, 0x8000000000000000, 35)

  //--- 32-bit shifts: amounts use the low 5 bits, result sign-extended
  TEST_RR(33, sllw, 0xffffffff80000000, 1, 31)
  TEST_RR(34, sllw, 0x12345678, 0xffffffff12345678, 32)
  TEST_RR(35, sllw, 0xffffffffc0000000, 0x00000000c0000000, 0)
  TEST_RR(36, srlw, 0xffffffff80000000, 0x0000000080000000, 0)
  TEST_RR(37, srlw, 1, 0xffffffff80000000, 31)
  TEST_RR(38, srlw, 0x0fffffff, 0x12345678ffffffff, 4)
  TEST_RR(39, srlw, 0xffffffff80000000, 0x0000000080000000, 32)
  TEST_RR(40, sraw, -1, 0x0000000080000000, 31)
  TEST_RR(41, sraw, 0x07ffffff, 0x123456787fffffff, 4)
  TEST_RR(42, sraw, 0xfffffffff8000000, 0x0000000080000000, 36)
  TEST_IMM(43, slliw, 0xffffffff80000000, 0xffff0001, 31)
  TEST_IMM(44, slliw, 0x00000000, 0xffffffff00000000, 1)
  TEST_IMM(45, srliw, 0xffffffff80000000, 0x80000000, 0)
  TEST_IMM(46, srliw, 1, 0x80000000, 31)
  TEST_IMM(47, sraiw, 0xffffffff80000000, 0x80000000, 0)
  TEST_IMM(48, sraiw, -1, 0x80000000, 31)
  TEST_IMM(49, sraiw, 0x00000000000000ff, 0xffffffff7fffffff, 23)

  //--- compares
  TEST_RR(50, slt, 1, -1, 0)
  TEST_RR(51, sltu, 0, -1, 0)
  TEST_RR(52, slt, 0, 0x7fffffffffffffff, 0x8000000000000000)
  TEST_RR(53, sltu, 1, 0x7fffffffffffffff, 0x8000000000000000)
  TEST_IMM(54, slti, 1, 0x8000000000000000, -2048)
  TEST_IMM(55, sltiu, 1, 0xfffffffffffffffe, -1)
  TEST_IMM(56, sltiu, 0, -1, -1)
  TEST_IMM(57, sltiu, 1, 0, 1)
  TEST_IMM(58, slti, 0, 0, 0)

  //--- logic ops; immediates sign-extend to 64 bits
  TEST_RR(59, and, 0x0f000f000f000f00, 0xff00ff00ff00ff00, 0x0f0f0f0f0f0f0f0f)
  TEST_RR(60, or, 0xff0fff0fff0fff0f, 0xff00ff00ff00ff00, 0x0f0f0f0f0f0f0f0f)
  TEST_RR(61, xor, 0xf00ff00ff00ff00f, 0xff00ff00ff00ff00, 0x0f0f0f0f0f0f0f0f)
  TEST_IMM(62, andi, 0xff00ff00ff00ff00, 0xff00ff00ff00ff00, -1)
  TEST_IMM(63, andi, 0x0000000000000700, 0xff00ff00ff00ff00, 0x7ff)
  TEST_IMM(64, ori, 0xfffffffffffff80f, 0xf, -2048)
  TEST_IMM(65, xori, 0x00ff00ff00ff00ff, 0xff00ff00ff00ff00, -1)

  //--- LUI and AUIPC sign-extend their 32-bit result
  TEST_CASE(66, x14, 0xffffffff80000000, lui x14, 0x80000)
  TEST_CASE(67, x14, 0x7ffff000, lui x14, 0x7ffff)
  TEST_CASE(68, x14, 0xfffffffffffff000, lui x14, 0xfffff)
  TEST_NUM(69)
1:      auipc a0, 0
        la a1, 1b
        bne a0, a1, fail
  TEST_NUM(70)
1:      auipc a0, 0x80000          // pc - 2^31
        la a1, 1b
        li t0, 0x80000000
        sub a1, a1, t0
        bne a0, a1, fail
  TEST_NUM(71)
1:      auipc a0, 0x7ffff          // pc + 0x7ffff000
        la a1, 1b
        li t0, 0x7ffff000
        add a1, a1, t0
        bne a0, a1, fail

  //--- JAL/JALR link values; JALR clears bit 0 of the target; rd == rs1
  TEST_NUM(72)
        jal ra, 1f
2:      j fail
1:      la t0, 2b
        bne ra, t0, fail
  TEST_NUM(73)
        la t0, 1f
        addi t0, t0, 1             // odd target: bit 0 is cleared
        jalr a0, 0(t0)
2:      j fail
        .align 2
1:      la t1, 2b
        bne a0, t1, fail
  TEST_NUM(74)
        la t0, 1f - 4
        jalr t0, 4(t0)             // rd == rs1: target uses the old value
2:      j fail
1:      la t1, 2b
        bne t0, t1, fail
  TEST_NUM(75)
        la t0, 1f
        jalr x0, 0(t0)
        j fail
1:

  //--- branches: taken and not taken, signed vs unsigned
#define TEST_BR_TAKEN(n, inst, a, b)                                           \
  TEST_NUM(n); li x11, a; li x12, b; inst x11, x12, 1f; j fail; 1:
#define TEST_BR_NOT(n, inst, a, b)                                             \
  TEST_NUM(n); li x11, a; li x12, b; inst x11, x12, fail;
  TEST_BR_TAKEN(76, beq, -1, -1)
  TEST_BR_NOT(77, beq, 0, 0x100000000)
  TEST_BR_TAKEN(78, bne, 0, 0x100000000)
  TEST_BR_NOT(79, bne, 5, 5)
  TEST_BR_TAKEN(80, blt, -1, 0)
  TEST_BR_NOT(81, blt, 0, -1)
  TEST_BR_NOT(82, blt, 3, 3)
  TEST_BR_TAKEN(83, bge, 0, -1)
  TEST_BR_TAKEN(84, bge, 3, 3)
  TEST_BR_NOT(85, bge, 0x8000000000000000, 0x7fffffffffffffff)
  TEST_BR_TAKEN(86, bltu, 0, -1)
  TEST_BR_NOT(87, bltu, -1, 0)
  TEST_BR_NOT(88, bltu, 7, 7)
  TEST_BR_TAKEN(89, bgeu, -1, 0)
  TEST_BR_TAKEN(90, bgeu, 7, 7)
  TEST_BR_NOT(91, bgeu, 0x7fffffffffffffff, 0x8000000000000000)
  TEST_NUM(92)                      // backward branch loop
        li a0, 0; li a1, 5
1:      addi a0, a0, 1
        blt a0, a1, 1b
        CHECK(a0, 5)

  //--- loads: sign and zero extension of every width
  la s0, ldata
  TEST_CASE(93, x14, 0xffffffffffffff81, lb x14, 0(s0))
  TEST_CASE(94, x14, 0x81, lbu x14, 0(s0))
  TEST_CASE(95, x14, 0xffffffffffff8281, lh x14, 0(s0))
  TEST_CASE(96, x14, 0x8281, lhu x14, 0(s0))
  TEST_CASE(97, x14, 0xffffffff84838281, lw x14, 0(s0))
  TEST_CASE(98, x14, 0x84838281, lwu x14, 0(s0))
  TEST_CASE(99, x14, 0x8887868584838281, ld x14, 0(s0))
  TEST_CASE(100, x14, 0x7f, lb x14, 8(s0))
  TEST_CASE(101, x14, 0x7f7f, lh x14, 8(s0))
  TEST_CASE(102, x14, 0x7ffe7f7f, lw x14, 8(s0))
  TEST_CASE(103, x14, 0x8887868584838281, addi t0, s0, 16; ld x14, -16(t0))
  TEST_CASE(104, x14, 0xffffffff88878685, addi t0, s0, 2047; lw x14, -2043(t0))

  //--- stores: each width writes exactly its bytes
  la s1, sdata
  TEST_CASE(105, x14, 0x11111111111111ab, li t0, 0x1111111111111111; sd t0, 0(s1); li t1, 0xfffffffffffffeab; sb t1, 0(s1); ld x14, 0(s1))
  TEST_CASE(106, x14, 0x111111111111cdab, li t1, 0x1234cd00; sh t1, 0(s1); lb t2, 0(s1); sb t2, 0(s1); ld x14, 0(s1); li t1, 0x12345678cdab; sh t1, 0(s1); ld x14, 0(s1))
  TEST_CASE(107, x14, 0x11111111deadbeef, li t1, 0xffffffffdeadbeef; sw t1, 0(s1); ld x14, 0(s1))
  TEST_CASE(108, x14, 0x0123456789abcdef, li t1, 0x0123456789abcdef; sd t1, 0(s1); ld x14, 0(s1))
  TEST_CASE(109, x14, 0x0123ffff89abcdef, li t1, -1; sh t1, 4(s1); ld x14, 0(s1))
  TEST_CASE(110, x14, 0x55, li t1, 0x55; sb t1, 15(s1); lbu x14, 15(s1))
  TEST_CASE(111, x14, 0x5500000000000000, sd zero, 8(s1); sb t1, 15(s1); ld x14, 8(s1))

  //--- FENCE / FENCE.I execute; code written then fenced runs
  TEST_NUM(112)
        fence
        fence rw, rw
        fence.i
        la t0, patch
        li t1, 0x02a00513          // addi a0, x0, 42
        sw t1, 0(t0)
        fence.i
        li a0, 0
        jal ra, patch
        CHECK(a0, 42)

  j pass

patch:
        addi a0, x0, 1
        ret

TEST_END

  .data
  .align 4
ldata:
  .byte 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88
  .byte 0x7f, 0x7f, 0xfe, 0x7f, 0x00, 0x00, 0x00, 0x00
sdata:
  .dword 0, 0

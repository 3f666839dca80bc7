// M extension: multiply high parts with signed/unsigned operands, division by zero,
// signed overflow, and the W forms' sign extension.
#include "test.h"

#define INT64_MIN 0x8000000000000000
#define INT64_MAX 0x7fffffffffffffff

TEST_BEGIN

  //--- MUL / MULH / MULHU / MULHSU
  TEST_RR(2, mul, 1, -1, -1)
  TEST_RR(3, mul, INT64_MIN, INT64_MIN, -1)
  TEST_RR(4, mul, 0xfffffffffffffffe, INT64_MAX, 2)
  TEST_RR(5, mul, 0x2236d88fe5618cf0, 0x123456789abcdef0, 0x0fedcba987654321)
  TEST_RR(6, mulh, 0, -1, -1)
  TEST_RR(7, mulh, 0x4000000000000000, INT64_MIN, INT64_MIN)
  TEST_RR(8, mulh, 0, INT64_MIN, -1)
  TEST_RR(9, mulh, -1, -1, 1)
  TEST_RR(10, mulh, 0x3fffffffffffffff, INT64_MAX, INT64_MAX)
  TEST_RR(11, mulh, 0xc000000000000000, INT64_MIN, INT64_MAX)
  TEST_RR(12, mulhu, 0xfffffffffffffffe, -1, -1)
  TEST_RR(13, mulhu, 1, INT64_MIN, 2)
  TEST_RR(14, mulhu, 0, 0xffffffff, 0xffffffff)
  TEST_RR(15, mulhsu, -1, -1, -1)
  TEST_RR(16, mulhsu, INT64_MIN, INT64_MIN, -1)
  TEST_RR(17, mulhsu, 1, 2, -1)
  TEST_RR(18, mulhsu, -1, -2, 3)
  TEST_RR(19, mulhsu, 0, 5, 7)
  TEST_RR(20, mulhu, 0x0121fa00ad77d742, 0x123456789abcdef0, 0x0fedcba987654321)

  //--- MULW: low 32 bits of the product, sign-extended
  TEST_RR(21, mulw, -2, 0x7fffffff, 2)
  TEST_RR(22, mulw, 15, 0x100000003, 5)
  TEST_RR(23, mulw, 0, 0x10000, 0x10000)
  TEST_RR(24, mulw, 0xffffffff80000000, 0x8000, 0x10000)
  TEST_RR(25, mulw, 1, -1, 0xffffffffffffffff)

  //--- DIV / DIVU / REM / REMU: rounding toward zero, sign of the remainder
  TEST_RR(26, div, -3, -7, 2)
  TEST_RR(27, rem, -1, -7, 2)
  TEST_RR(28, div, -3, 7, -2)
  TEST_RR(29, rem, 1, 7, -2)
  TEST_RR(30, div, 3, -7, -2)
  TEST_RR(31, rem, -1, -7, -2)
  TEST_RR(32, divu, 0x7ffffffffffffffc, -7, 2)
  TEST_RR(33, remu, 1, -7, 2)
  //--- division by zero: quotient all ones, remainder the dividend
  TEST_RR(34, div, -1, 12345, 0)
  TEST_RR(35, div, -1, -12345, 0)
  TEST_RR(36, rem, 12345, 12345, 0)
  TEST_RR(37, rem, -12345, -12345, 0)
  TEST_RR(38, divu, 0xffffffffffffffff, 12345, 0)
  TEST_RR(39, remu, -12345, -12345, 0)
  //--- signed overflow: INT64_MIN / -1
  TEST_RR(40, div, INT64_MIN, INT64_MIN, -1)
  TEST_RR(41, rem, 0, INT64_MIN, -1)
  TEST_RR(42, divu, 0, INT64_MIN, -1)
  TEST_RR(43, remu, INT64_MIN, INT64_MIN, -1)

  //--- W forms: 32-bit operands (upper bits ignored), result sign-extended
  TEST_RR(44, divw, -3, -7, 2)
  TEST_RR(45, remw, -1, -7, 2)
  TEST_RR(46, divw, 10, 0xffffffff00000064, 0xa)
  TEST_RR(47, divw, -1, 0x1234, 0xffffffff00000000)
  TEST_RR(48, divuw, -1, 0x1234, 0)
  TEST_RR(49, remw, 7, 0x100000007, 0)
  TEST_RR(50, remw, 0xffffffff80000000, 0x80000000, 0)
  TEST_RR(51, remuw, 0xffffffff80000000, 0x80000000, 0)
  TEST_RR(52, divw, 0xffffffff80000000, 0x80000000, -1)
  TEST_RR(53, remw, 0, 0x80000000, -1)
  TEST_RR(54, divuw, -1, 0xffffffff, 1)
  TEST_RR(55, divuw, 0x40000000, 0x80000000, 2)
  TEST_RR(56, divuw, 0x7ffffffc, -7, 2)
  TEST_RR(57, remuw, 15, 0xffffffff, 0x10)
  TEST_RR(58, divuw, 0, 0x80000000, 0xffffffff)
  TEST_RR(59, remuw, 0xffffffff80000000, 0x80000000, 0xffffffff)
  TEST_RR(60, divw, 0xffffffff80000000, 0x80000000, 1)

  //--- rd overlapping a source
  TEST_CASE(61, x11, 42, li x11, 6; li x12, 7; mul x11, x11, x12)
  TEST_CASE(62, x12, 3, li x11, 21; li x12, 7; divu x12, x11, x12)

  j pass
TEST_END

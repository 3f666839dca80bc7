// F and D, the parts an emulator most often gets wrong: NaN boxing, canonical NaNs,
// conversion saturation, FCLASS, sign injection, rounding modes and frm, fflags
// accrual, and mstatus.FS (off: every FP instruction is illegal; written: Dirty).
#include "test.h"

#define D_ONE    0x3ff0000000000000
#define D_TWO    0x4000000000000000
#define D_THREE  0x4008000000000000
#define D_FOUR   0x4010000000000000
#define D_TEN    0x4024000000000000
#define D_HALF   0x3fe0000000000000
#define D_2_5    0x4004000000000000
#define D_M2_5   0xc004000000000000
#define D_1E20   0x4415af1d78b58c40
#define D_INF    0x7ff0000000000000
#define D_MINF   0xfff0000000000000
#define D_QNAN   0x7ff8000000000000
#define D_SNAN   0x7ff4000000000000
#define D_MZERO  0x8000000000000000
#define D_MAX    0x7fefffffffffffff
#define D_MINNORM 0x0010000000000000
#define D_THIRD  0x3fd5555555555555
#define S_ONE    0x3f800000
#define S_TWO    0x40000000
#define S_THREE  0x40400000
#define S_QNAN   0x7fc00000
#define S_SNAN   0x7fa00000
#define S_INF    0x7f800000
#define S_2P31   0x4f000000
#define BOX(s)   (0xffffffff00000000 | (s))

#define NX 1
#define UF 2
#define OF 4
#define DZ 8
#define NV 16

// fa2 = op(fa0, fa1) in double; checks the bits and the flags it raised.
#define FTEST_D(n, inst, a, b, expect, flags)                                \
  TEST_NUM(n); csrwi fflags, 0;                                             \
        FLOAD_D(fa0, a); FLOAD_D(fa1, b);                                   \
        inst fa2, fa0, fa1;                                                 \
        FCHECK_D(fa2, expect);                                              \
        csrr t0, fflags; CHECK(t0, flags)
#define FTEST_S(n, inst, a, b, expect, flags)                                \
  TEST_NUM(n); csrwi fflags, 0;                                             \
        FLOAD_S(fa0, a); FLOAD_S(fa1, b);                                   \
        inst fa2, fa0, fa1;                                                 \
        FCHECK_D(fa2, BOX(expect));                                         \
        csrr t0, fflags; CHECK(t0, flags)
// a0 = op(fa0) for conversions / compares to integer registers.
#define FTEST_TOINT(n, expect, flags, code...)                                 \
  TEST_NUM(n); csrwi fflags, 0;                                             \
        code;                                                               \
        CHECK(a0, expect);                                                  \
        csrr t0, fflags; CHECK(t0, flags)

TEST_BEGIN

  //--- arithmetic
  FTEST_D(2, fadd.d, D_ONE, D_TWO, D_THREE, 0)
  FTEST_D(3, fsub.d, D_ONE, D_THREE, 0xc000000000000000, 0)
  FTEST_D(4, fmul.d, D_TWO, D_2_5, 0x4014000000000000, 0)
  FTEST_D(5, fdiv.d, D_ONE, D_THREE, D_THIRD, NX)
  FTEST_D(6, fdiv.d, D_ONE, 0, D_INF, DZ)
  FTEST_D(7, fdiv.d, 0, 0, D_QNAN, NV)            // canonical NaN
  FTEST_D(8, fsub.d, D_INF, D_INF, D_QNAN, NV)
  FTEST_D(9, fmul.d, D_MAX, D_TWO, D_INF, OF | NX)
  FTEST_D(10, fmul.d, D_MINNORM, D_THIRD, 0x0005555555555555, UF | NX)
  FTEST_D(11, fadd.d, D_QNAN | 0x1234, D_ONE, D_QNAN, 0)   // payloads are not kept
  FTEST_D(12, fadd.d, D_SNAN, D_ONE, D_QNAN, NV)
  FTEST_S(13, fadd.s, S_ONE, S_TWO, S_THREE, 0)
  FTEST_S(14, fdiv.s, 0, 0, S_QNAN, NV)
  FTEST_S(15, fmul.s, 0x7f7fffff, S_TWO, S_INF, OF | NX)
  TEST_NUM(16)                                    // sqrt, fused multiply-add signs
        csrwi fflags, 0
        FLOAD_D(fa0, D_FOUR); fsqrt.d fa1, fa0; FCHECK_D(fa1, D_TWO)
        FLOAD_D(fa0, 0xbff0000000000000); fsqrt.d fa1, fa0; FCHECK_D(fa1, D_QNAN)
        csrr t0, fflags; CHECK(t0, NV)
        FLOAD_D(fa0, D_TWO); FLOAD_D(fa1, D_THREE); FLOAD_D(fa2, D_FOUR)
        fmadd.d fa3, fa0, fa1, fa2;  FCHECK_D(fa3, D_TEN)
        fmsub.d fa3, fa0, fa1, fa2;  FCHECK_D(fa3, D_TWO)
        fnmadd.d fa3, fa0, fa1, fa2; FCHECK_D(fa3, 0xc024000000000000)
        fnmsub.d fa3, fa0, fa1, fa2; FCHECK_D(fa3, 0xc000000000000000)
        FLOAD_S(fa0, S_TWO); FLOAD_S(fa1, S_THREE); FLOAD_S(fa2, 0x40800000)
        fmadd.s fa3, fa0, fa1, fa2;  FCHECK_D(fa3, BOX(0x41200000))
        fnmsub.s fa3, fa0, fa1, fa2; FCHECK_D(fa3, BOX(0xc0000000))
  TEST_NUM(17)                                    // fma: one rounding, inf*0 invalid
        csrwi fflags, 0
        FLOAD_D(fa0, D_INF); fmv.d.x fa1, zero; FLOAD_D(fa2, D_ONE)
        fmadd.d fa3, fa0, fa1, fa2; FCHECK_D(fa3, D_QNAN)
        csrr t0, fflags; CHECK(t0, NV)

  //--- min/max: NaN loses, -0 < +0, both NaN -> canonical NaN
  FTEST_D(20, fmin.d, D_QNAN, D_ONE, D_ONE, 0)
  FTEST_D(21, fmax.d, D_ONE, D_QNAN, D_ONE, 0)
  FTEST_D(22, fmin.d, D_SNAN, D_ONE, D_ONE, NV)
  FTEST_D(23, fmin.d, D_QNAN | 5, D_SNAN, D_QNAN, NV)
  FTEST_D(24, fmin.d, D_MZERO, 0, D_MZERO, 0)
  FTEST_D(25, fmax.d, D_MZERO, 0, 0, 0)
  FTEST_S(26, fmin.s, S_QNAN, S_TWO, S_TWO, 0)
  FTEST_S(27, fmax.s, 0x80000000, 0, 0, 0)

  //--- compares: feq is quiet, flt/fle signal on any NaN
  FTEST_TOINT(30, 0, 0, FLOAD_D(fa0, D_QNAN); feq.d a0, fa0, fa0)
  FTEST_TOINT(31, 0, NV, FLOAD_D(fa0, D_SNAN); feq.d a0, fa0, fa0)
  FTEST_TOINT(32, 0, NV, FLOAD_D(fa0, D_QNAN); FLOAD_D(fa1, D_ONE); flt.d a0, fa0, fa1)
  FTEST_TOINT(33, 0, NV, FLOAD_D(fa0, D_QNAN); FLOAD_D(fa1, D_ONE); fle.d a0, fa1, fa0)
  FTEST_TOINT(34, 1, 0, FLOAD_D(fa0, D_MZERO); fmv.d.x fa1, zero; feq.d a0, fa0, fa1)
  FTEST_TOINT(35, 0, 0, FLOAD_D(fa0, D_MZERO); fmv.d.x fa1, zero; flt.d a0, fa0, fa1)
  FTEST_TOINT(36, 1, 0, FLOAD_D(fa0, D_ONE); FLOAD_D(fa1, D_TWO); fle.d a0, fa0, fa1)
  FTEST_TOINT(37, 1, 0, FLOAD_S(fa0, S_ONE); FLOAD_S(fa1, S_TWO); flt.s a0, fa0, fa1)

  //--- moves: FMV.X.W sign-extends, FMV.W.X / FLW NaN-box
  TEST_CASE(40, a0, 0xffffffff80000000, li t0, 0x80000000; fmv.w.x fa0, t0; fmv.x.w a0, fa0)
  TEST_CASE(41, a0, BOX(0x3f800000), li t0, 0x123456783f800000; fmv.w.x fa0, t0; fmv.x.d a0, fa0)
  TEST_CASE(42, a0, BOX(0x40400000), la t1, fdata; li t0, 0x40400000; sw t0, 0(t1); flw fa0, 0(t1); fmv.x.d a0, fa0)
  //--- improperly boxed singles read as the canonical NaN...
  TEST_CASE(43, a0, BOX(S_QNAN), FLOAD_D(fa0, 0x000000003f800000); fadd.s fa1, fa0, fa0; fmv.x.d a0, fa1)
  TEST_CASE(44, a0, BOX(S_QNAN), FLOAD_D(fa0, 0x7fffffff3f800000); fsgnj.s fa1, fa0, fa0; fmv.x.d a0, fa1)
  TEST_CASE(45, a0, 0x200, FLOAD_D(fa0, 0x00000000bf800000); fclass.s a0, fa0)
  TEST_CASE(46, a0, 0x7fffffff, FLOAD_D(fa0, 0x0000000000000000); fcvt.w.s a0, fa0)
  TEST_CASE(47, a0, BOX(S_QNAN), FLOAD_D(fa0, D_ONE); FLOAD_S(fa1, S_ONE); fmin.s fa2, fa0, fa1; fmv.x.d a0, fa2; CHECK(a0, BOX(S_ONE)); fmax.s fa2, fa0, fa0; fmv.x.d a0, fa2)
  //--- ...but transfers out (FMV.X.W, FSW) take the low 32 bits as they are
  TEST_CASE(48, a0, 0x3f800000, FLOAD_D(fa0, 0x000000003f800000); fmv.x.w a0, fa0)
  TEST_CASE(49, a0, 0xdeadbeef, FLOAD_D(fa0, 0x12345678deadbeef); la t1, fdata; fsw fa0, 0(t1); lwu a0, 0(t1))

  //--- sign injection (no NaN canonicalisation for doubles)
  TEST_CASE(50, a0, 0xbff0000000000000, FLOAD_D(fa0, D_ONE); FLOAD_D(fa1, D_MZERO); fsgnj.d fa2, fa0, fa1; fmv.x.d a0, fa2)
  TEST_CASE(51, a0, 0x3ff0000000000000, FLOAD_D(fa0, 0xbff0000000000000); fsgnjn.d fa2, fa0, fa0; fmv.x.d a0, fa2)
  TEST_CASE(52, a0, 0x3ff0000000000000, FLOAD_D(fa0, 0xbff0000000000000); FLOAD_D(fa1, 0xbff0000000000000); fsgnjx.d fa2, fa0, fa1; fmv.x.d a0, fa2)
  TEST_CASE(53, a0, 0xfff4000000001234, FLOAD_D(fa0, 0x7ff4000000001234); fneg.d fa2, fa0; fmv.x.d a0, fa2)
  TEST_CASE(54, a0, 0x7ff4000000001234, FLOAD_D(fa0, 0xfff4000000001234); fabs.d fa2, fa0; fmv.x.d a0, fa2)
  TEST_CASE(55, a0, BOX(0xbf800000), FLOAD_S(fa0, S_ONE); fneg.s fa2, fa0; fmv.x.d a0, fa2)
  TEST_CASE(56, a0, BOX(0x7fa00001), FLOAD_S(fa0, 0xffa00001); fabs.s fa2, fa0; fmv.x.d a0, fa2)

  //--- FCLASS: one bit per class
  TEST_CASE(60, a0, 1 << 0, FLOAD_D(fa0, D_MINF); fclass.d a0, fa0)
  TEST_CASE(61, a0, 1 << 1, FLOAD_D(fa0, 0xbff0000000000000); fclass.d a0, fa0)
  TEST_CASE(62, a0, 1 << 2, FLOAD_D(fa0, 0x8000000000000001); fclass.d a0, fa0)
  TEST_CASE(63, a0, 1 << 3, FLOAD_D(fa0, D_MZERO); fclass.d a0, fa0)
  TEST_CASE(64, a0, 1 << 4, FLOAD_D(fa0, 0); fclass.d a0, fa0)
  TEST_CASE(65, a0, 1 << 5, FLOAD_D(fa0, 0x000fffffffffffff); fclass.d a0, fa0)
  TEST_CASE(66, a0, 1 << 6, FLOAD_D(fa0, D_MINNORM); fclass.d a0, fa0)
  TEST_CASE(67, a0, 1 << 7, FLOAD_D(fa0, D_INF); fclass.d a0, fa0)
  TEST_CASE(68, a0, 1 << 8, FLOAD_D(fa0, D_SNAN); fclass.d a0, fa0)
  TEST_CASE(69, a0, 1 << 9, FLOAD_D(fa0, D_QNAN); fclass.d a0, fa0)
  TEST_CASE(70, a0, 1 << 8, FLOAD_S(fa0, S_SNAN); fclass.s a0, fa0)
  TEST_CASE(71, a0, 1 << 2, FLOAD_S(fa0, 0x80000001); fclass.s a0, fa0)
  TEST_CASE(72, a0, 1 << 7, FLOAD_S(fa0, S_INF); fclass.s a0, fa0)

  //--- conversions to integers saturate; NaN converts to the largest value
  FTEST_TOINT(80, 0x7fffffff, NV, FLOAD_D(fa0, D_QNAN); fcvt.w.d a0, fa0, rtz)
  FTEST_TOINT(81, 0x7fffffff, NV, FLOAD_D(fa0, D_INF); fcvt.w.d a0, fa0, rtz)
  FTEST_TOINT(82, 0xffffffff80000000, NV, FLOAD_D(fa0, D_MINF); fcvt.w.d a0, fa0, rtz)
  FTEST_TOINT(83, 0x7fffffff, NV, FLOAD_D(fa0, D_1E20); fcvt.w.d a0, fa0, rtz)
  FTEST_TOINT(84, 0, NV, FLOAD_D(fa0, 0xbff0000000000000); fcvt.wu.d a0, fa0, rtz)
  FTEST_TOINT(85, 0xffffffffffffffff, NV, FLOAD_D(fa0, D_QNAN); fcvt.wu.d a0, fa0, rtz)
  FTEST_TOINT(86, 0xffffffffffffffff, 0, FLOAD_D(fa0, 0x41efffffffe00000); fcvt.wu.d a0, fa0, rtz)
  FTEST_TOINT(87, 0, NX, FLOAD_D(fa0, 0xbfe0000000000000); fcvt.wu.d a0, fa0, rtz)
  FTEST_TOINT(88, 0x7fffffffffffffff, NV, FLOAD_D(fa0, D_QNAN); fcvt.l.d a0, fa0, rtz)
  FTEST_TOINT(89, 0x8000000000000000, NV, FLOAD_D(fa0, D_MINF); fcvt.l.d a0, fa0, rtz)
  FTEST_TOINT(90, 0, NV, FLOAD_D(fa0, D_MINF); fcvt.lu.d a0, fa0, rtz)
  FTEST_TOINT(91, 0xffffffffffffffff, NV, FLOAD_D(fa0, D_QNAN); fcvt.lu.d a0, fa0, rtz)
  FTEST_TOINT(92, 0x7fffffffffffffff, NV, FLOAD_D(fa0, 0x43e0000000000000); fcvt.l.d a0, fa0, rtz)
  FTEST_TOINT(93, 0x8000000000000000, 0, FLOAD_D(fa0, 0xc3e0000000000000); fcvt.l.d a0, fa0, rtz)
  FTEST_TOINT(94, 0x7fffffff, NV, FLOAD_S(fa0, S_2P31); fcvt.w.s a0, fa0, rtz)
  FTEST_TOINT(95, 0xffffffff80000000, 0, FLOAD_S(fa0, 0xcf000000); fcvt.w.s a0, fa0, rtz)
  FTEST_TOINT(96, 0xffffffffffffffff, NV, FLOAD_S(fa0, S_QNAN); fcvt.lu.s a0, fa0, rtz)
  FTEST_TOINT(97, 0, NV, FLOAD_S(fa0, 0xbf800000); fcvt.lu.s a0, fa0, rtz)

  //--- rounding modes in the instruction's rm field
  FTEST_TOINT(100, 2, NX, FLOAD_D(fa0, D_2_5); fcvt.w.d a0, fa0, rne)
  FTEST_TOINT(101, 2, NX, FLOAD_D(fa0, D_2_5); fcvt.w.d a0, fa0, rtz)
  FTEST_TOINT(102, 2, NX, FLOAD_D(fa0, D_2_5); fcvt.w.d a0, fa0, rdn)
  FTEST_TOINT(103, 3, NX, FLOAD_D(fa0, D_2_5); fcvt.w.d a0, fa0, rup)
  FTEST_TOINT(104, 3, NX, FLOAD_D(fa0, D_2_5); fcvt.w.d a0, fa0, rmm)
  FTEST_TOINT(105, -2, NX, FLOAD_D(fa0, D_M2_5); fcvt.w.d a0, fa0, rne)
  FTEST_TOINT(106, -2, NX, FLOAD_D(fa0, D_M2_5); fcvt.w.d a0, fa0, rtz)
  FTEST_TOINT(107, -3, NX, FLOAD_D(fa0, D_M2_5); fcvt.w.d a0, fa0, rdn)
  FTEST_TOINT(108, -2, NX, FLOAD_D(fa0, D_M2_5); fcvt.w.d a0, fa0, rup)
  FTEST_TOINT(109, -3, NX, FLOAD_D(fa0, D_M2_5); fcvt.w.d a0, fa0, rmm)
  FTEST_TOINT(110, 4, NX, FLOAD_D(fa0, 0x400c000000000000); fcvt.l.d a0, fa0, rne)  // 3.5
  //--- ... and dynamic rounding from frm
  FTEST_TOINT(111, 3, NX, csrwi frm, 3; FLOAD_D(fa0, D_2_5); fcvt.w.d a0, fa0, dyn)
  FTEST_TOINT(112, 2, NX, csrwi frm, 2; FLOAD_D(fa0, D_2_5); fcvt.w.d a0, fa0, dyn)
  FTEST_TOINT(113, -3, NX, csrwi frm, 4; FLOAD_D(fa0, D_M2_5); fcvt.w.d a0, fa0, dyn)
  TEST_NUM(114)                                   // arithmetic honours frm: 1/3 up vs down
        csrwi frm, 3
        FLOAD_D(fa0, D_ONE); FLOAD_D(fa1, D_THREE)
        fdiv.d fa2, fa0, fa1
        FCHECK_D(fa2, 0x3fd5555555555556)
        csrwi frm, 2
        fdiv.d fa2, fa0, fa1
        FCHECK_D(fa2, 0x3fd5555555555555)
        fdiv.d fa2, fa0, fa1, rup        // the static field wins over frm
        FCHECK_D(fa2, 0x3fd5555555555556)
        csrwi frm, 0
  TEST_NUM(115)                                   // int -> float rounding
        csrwi fflags, 0
        li a2, 16777217
        fcvt.s.w fa0, a2
        FCHECK_D(fa0, BOX(0x4b800000))
        fcvt.s.w fa0, a2, rup
        FCHECK_D(fa0, BOX(0x4b800001))
        csrr t0, fflags; CHECK(t0, NX)
        li a2, -1
        fcvt.d.lu fa0, a2
        FCHECK_D(fa0, 0x43f0000000000000)
        fcvt.d.l fa0, a2
        FCHECK_D(fa0, 0xbff0000000000000)
        li a2, 0xffffffff
        fcvt.d.wu fa0, a2
        FCHECK_D(fa0, 0x41efffffffe00000)
        fcvt.d.w fa0, a2
        FCHECK_D(fa0, 0xbff0000000000000)
  TEST_NUM(116)                                   // float <-> double
        csrwi fflags, 0
        FLOAD_S(fa0, S_SNAN); fcvt.d.s fa1, fa0
        FCHECK_D(fa1, D_QNAN)
        csrr t0, fflags; CHECK(t0, NV)
        csrwi fflags, 0
        FLOAD_D(fa0, 0x7e37e43c8800759c); fcvt.s.d fa1, fa0      // 1e300
        FCHECK_D(fa1, BOX(S_INF))
        csrr t0, fflags; CHECK(t0, OF | NX)
        FLOAD_D(fa0, D_THIRD); fcvt.s.d fa1, fa0
        FCHECK_D(fa1, BOX(0x3eaaaaab))
        FLOAD_S(fa0, 0x3eaaaaab); fcvt.d.s fa1, fa0
        FCHECK_D(fa1, 0x3fd5555560000000)

  //--- invalid rounding modes are illegal instructions (rm = 5, and dyn with frm = 5)
  EXPECT_TRAP(120, CAUSE_ILLEGAL_INSN, 1: .insn r 0x53, 5, 0x61, a0, fa0, x0)
        lwu t4, 1b
        bne t2, t4, fail
  EXPECT_TRAP(121, CAUSE_ILLEGAL_INSN, csrwi frm, 5; 1: fadd.d fa0, fa0, fa0, dyn)
        csrwi frm, 0

  //--- fcsr = frm << 5 | fflags
  TEST_NUM(122)
        csrwi fcsr, 0
        csrwi frm, 3
        csrr a0, fcsr
        CHECK(a0, 0x60)
        csrwi fflags, 0x15
        csrr a0, fcsr
        CHECK(a0, 0x75)
        li t0, 0xfff
        csrw fcsr, t0                   // only 8 bits exist
        csrr a0, fcsr
        CHECK(a0, 0xff)
        csrr a0, frm
        CHECK(a0, 7)
        csrr a0, fflags
        CHECK(a0, 0x1f)
        csrwi fcsr, 0
  TEST_NUM(123)                                   // flags accrue, never clear
        csrwi fflags, 0
        FLOAD_D(fa0, D_ONE); fmv.d.x fa1, zero
        fdiv.d fa2, fa0, fa1            // DZ
        FLOAD_D(fa1, D_THREE)
        fdiv.d fa2, fa0, fa1            // NX
        fadd.d fa2, fa0, fa0            // exact: no change
        csrr a0, fflags
        CHECK(a0, DZ | NX)

  //--- mstatus.FS
  TEST_NUM(130)                                   // FS: Initial -> Dirty on a write, SD set
        li t0, MSTATUS_FS
        csrc mstatus, t0
        li t0, 1 << 13
        csrs mstatus, t0
        fadd.d fa0, fa0, fa0
        csrr a0, mstatus
        srli a1, a0, 13
        andi a1, a1, 3
        CHECK(a1, 3)
        bgez a0, fail                   // SD (bit 63) summarises Dirty
  EXPECT_TRAP(131, CAUSE_ILLEGAL_INSN, li t0, MSTATUS_FS; csrc mstatus, t0; 1: fadd.d fa0, fa0, fa0)
        lwu t4, 1b
        bne t2, t4, fail
  EXPECT_TRAP(132, CAUSE_ILLEGAL_INSN, 1: csrr a0, fcsr)
  EXPECT_TRAP(133, CAUSE_ILLEGAL_INSN, 1: fmv.d.x fa0, zero)
  EXPECT_TRAP(134, CAUSE_ILLEGAL_INSN, la t3, fdata; 1: fld fa0, 0(t3))
  EXPECT_TRAP(135, CAUSE_ILLEGAL_INSN, la t3, fdata; 1: fsw fa0, 0(t3))
  EXPECT_TRAP(136, CAUSE_ILLEGAL_INSN, 1: csrwi frm, 1)
  TEST_NUM(137)
        csrr a0, mstatus
        bltz a0, fail                   // FS = Off: SD clear
        li t0, MSTATUS_FS
        csrs mstatus, t0

  j pass
TEST_END

  .data
  .align 4
fdata:
  .dword 0, 0

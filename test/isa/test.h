// Shared scaffolding for the bare-metal ISA tests (riscv-tests conventions).
//
// A test program is M-mode code entered at 0x80000000. `gp` (TESTNUM) holds the number
// of the sub-test running; `fail` writes (TESTNUM << 1) | 1 to tohost, `pass` writes 1,
// so the emulator's exit status names the failing sub-test (0 = all passed).
// Any trap the test did not ask for lands in `unexpected_trap`, which fails.

// `la` must be pc-relative (no GOT): the programs are static and position-dependent.
        .option nopic
        // 4-byte encodings only, so that RV64I tests do not depend on C; rv64c.S
        // turns compression on where it wants it.
        .option norvc

#define TESTNUM gp

#define MSTATUS_SIE   (1 << 1)
#define MSTATUS_MIE   (1 << 3)
#define MSTATUS_SPIE  (1 << 5)
#define MSTATUS_MPIE  (1 << 7)
#define MSTATUS_SPP   (1 << 8)
#define MSTATUS_MPP   (3 << 11)
#define MSTATUS_MPP_S (1 << 11)
#define MSTATUS_FS    (3 << 13)
#define MSTATUS_MPRV  (1 << 17)
#define MSTATUS_SUM   (1 << 18)
#define MSTATUS_MXR   (1 << 19)

#define CAUSE_MISALIGNED_FETCH 0
#define CAUSE_FETCH_ACCESS     1
#define CAUSE_ILLEGAL_INSN     2
#define CAUSE_BREAKPOINT       3
#define CAUSE_MISALIGNED_LOAD  4
#define CAUSE_LOAD_ACCESS      5
#define CAUSE_MISALIGNED_STORE 6
#define CAUSE_STORE_ACCESS     7
#define CAUSE_USER_ECALL       8
#define CAUSE_SUPERVISOR_ECALL 9
#define CAUSE_MACHINE_ECALL    11
#define CAUSE_FETCH_PAGE_FAULT 12
#define CAUSE_LOAD_PAGE_FAULT  13
#define CAUSE_STORE_PAGE_FAULT 15
#define CAUSE_INTERRUPT        (1 << 63)

#define PRV_U 0
#define PRV_S 1
#define PRV_M 3

// Sv39/Sv48 page-table entry bits.
#define PTE_V (1 << 0)
#define PTE_R (1 << 1)
#define PTE_W (1 << 2)
#define PTE_X (1 << 3)
#define PTE_U (1 << 4)
#define PTE_G (1 << 5)
#define PTE_A (1 << 6)
#define PTE_D (1 << 7)

#define SATP_MODE_SV39 (8 << 60)
#define SATP_MODE_SV48 (9 << 60)

#define CLINT_BASE     0x02000000
#define CLINT_MTIMECMP (CLINT_BASE + 0x4000)
#define CLINT_MTIME    (CLINT_BASE + 0xbff8)

// mtimecmp = mtime + delta (delta in 10 MHz ticks); TIMER_OFF: never (clobber t0, t1)
#define TIMER_IN(delta)                                                     \
        li t0, CLINT_MTIME; ld t1, 0(t0);                                   \
        li t0, delta; add t1, t1, t0;                                       \
        li t0, CLINT_MTIMECMP; sd t1, 0(t0);
#define TIMER_OFF                                                           \
        li t0, CLINT_MTIMECMP; li t1, -1; sd t1, 0(t0);

//----------------------------------------------------------------------------
// Program frame

#define TEST_BEGIN                                                          \
        .section .text.init;                                                \
        .align 6;                                                           \
        .globl _start;                                                      \
_start:                                                                     \
        j reset_vector;                                                     \
        .align 2;                                                           \
unexpected_trap:                                                            \
        j fail;                                                             \
reset_vector:                                                               \
        INIT_XREG;                                                          \
        la t0, unexpected_trap; csrw mtvec, t0;                             \
        csrwi mie, 0; csrwi mip, 0;                                         \
        csrw mscratch, zero;                                                \
        /* PMP: let S and U reach all of memory (skipped if PMP is absent) */\
        la t0, 1f; csrw mtvec, t0;                                          \
        li t0, (1 << 54) - 1; csrw pmpaddr0, t0;                            \
        li t0, 0x1f; csrw pmpcfg0, t0;                                      \
        .align 2;                                                           \
1:      la t0, 1f; csrw mtvec, t0;                                          \
        csrwi satp, 0; csrwi medeleg, 0; csrwi mideleg, 0;                  \
        .align 2;                                                           \
1:      la t0, unexpected_trap; csrw mtvec, t0;                             \
        li t0, MSTATUS_FS; csrs mstatus, t0;                                \
        csrwi fcsr, 0;                                                      \
        li TESTNUM, 0;                                                      \
        .set cur_test, 0;                                                   \
        j test_start;                                                       \
        .text;                                                              \
test_start:

#define TEST_END                                                            \
        .text;                                                              \
pass:   fence;                                                              \
        li a0, 1;                                                           \
        j write_tohost;                                                     \
fail:   fence;                                                              \
        /* a failure before the first sub-test still fails */              \
        slli a0, TESTNUM, 1; ori a0, a0, 1;                                 \
        li t0, 1; bne a0, t0, write_tohost;                                 \
        li a0, 0x7ff;                                                       \
write_tohost:                                                               \
        la t5, tohost;                                                      \
1:      sd a0, 0(t5);                                                       \
        j 1b;                                                               \
        .section .tohost, "aw", @progbits;                                  \
        .align 6; .globl tohost; tohost: .dword 0; .size tohost, 8;         \
        .align 6; .globl fromhost; fromhost: .dword 0; .size fromhost, 8;

#define INIT_XREG                                                           \
        li x1, 0; li x2, 0; li x3, 0; li x4, 0; li x5, 0; li x6, 0;         \
        li x7, 0; li x8, 0; li x9, 0; li x10, 0; li x11, 0; li x12, 0;      \
        li x13, 0; li x14, 0; li x15, 0; li x16, 0; li x17, 0; li x18, 0;   \
        li x19, 0; li x20, 0; li x21, 0; li x22, 0; li x23, 0; li x24, 0;   \
        li x25, 0; li x26, 0; li x27, 0; li x28, 0; li x29, 0; li x30, 0;   \
        li x31, 0;

//----------------------------------------------------------------------------
// Sub-test helpers. x7 is the scratch for expected values; keep it out of tests.

// Building with -DBREAK_TEST=n corrupts every expected value of sub-test n, which
// must then fail with status n: a check that the checks check something.
#ifndef BREAK_TEST
#define BREAK_TEST -1
#endif
#define EXPECT_X7(expect)                                                   \
        li x7, expect;                                                      \
        .if cur_test == BREAK_TEST; xori x7, x7, 1; .endif;

// Starts sub-test n (for hand-written sequences).
#define TEST_NUM(n) .set cur_test, n; li TESTNUM, n;

// Requires `reg` to equal `expect` inside the current sub-test.
#define CHECK(reg, expect)  EXPECT_X7(expect); bne reg, x7, fail;

// Runs `code`, then requires register `reg` to equal `expect`.
#define TEST_CASE(n, reg, expect, code...)                                  \
        TEST_NUM(n);                                                        \
        code;                                                               \
        CHECK(reg, expect)

// rd = op(v1, v2), rd = op(v1, imm), and the rd==rs variants.
#define TEST_RR(n, inst, expect, v1, v2)                                    \
        TEST_CASE(n, x14, expect, li x11, v1; li x12, v2; inst x14, x11, x12)
#define TEST_IMM(n, inst, expect, v1, imm)                                  \
        TEST_CASE(n, x14, expect, li x11, v1; inst x14, x11, imm)
#define TEST_R(n, inst, expect, v1)                                         \
        TEST_CASE(n, x14, expect, li x11, v1; inst x14, x11)

// Installs a trap vector for a sub-test that expects a trap; RESTORE_TRAP undoes it.
#define SET_TRAP(label)  la t0, label; csrw mtvec, t0;
#define RESTORE_TRAP     la t0, unexpected_trap; csrw mtvec, t0;

// Executes `code`, which must trap to M-mode with mcause == cause. After the trap
// t1 = mepc, t2 = mtval (for the caller's CHECKs); execution continues after the macro
// in M-mode. Fails if `code` completes without trapping.
#define EXPECT_TRAP(n, cause, code...)                                      \
        TEST_NUM(n);                                                        \
        SET_TRAP(98f);                                                      \
        code;                                                               \
        j fail;                                                             \
        .align 2;                                                           \
98:     RESTORE_TRAP;                                                       \
        csrr t0, mcause; CHECK(t0, cause)                                   \
        csrr t1, mepc; csrr t2, mtval;

// EXPECT_TRAP accepting either of two causes (where QEMU 7.2 and the spec differ).
#define EXPECT_TRAP_EITHER(n, cause, cause2, code...)                       \
        TEST_NUM(n);                                                        \
        SET_TRAP(98f);                                                      \
        code;                                                               \
        j fail;                                                             \
        .align 2;                                                           \
98:     RESTORE_TRAP;                                                       \
        csrr t0, mcause; li t1, cause2; beq t0, t1, 97f;                    \
        CHECK(t0, cause);                                                   \
97:     csrr t1, mepc; csrr t2, mtval;

// Floating point: bit-pattern checks.
#define FCHECK_D(freg, bits) fmv.x.d t0, freg; CHECK(t0, bits)
#define FCHECK_S(freg, bits) fmv.x.w t0, freg; CHECK(t0, bits)
#define FLOAD_D(freg, bits)  li t0, bits; fmv.d.x freg, t0;
#define FLOAD_S(freg, bits)  li t0, bits; fmv.w.x freg, t0;

// From M-mode, drops to privilege `mode` (PRV_U / PRV_S) at `label` via MRET.
#define GOTO_MODE(mode, label)                                              \
        li t0, MSTATUS_MPP; csrc mstatus, t0;                               \
        li t0, (mode) << 11; csrs mstatus, t0;                              \
        la t0, label; csrw mepc, t0;                                        \
        mret;

// Requires a CSR field to hold `expect`: (csr >> shift) & mask.
#define CHECK_FIELD(csr, shift, mask, expect)                               \
        csrr t0, csr; srli t0, t0, shift; andi t0, t0, mask; CHECK(t0, expect)

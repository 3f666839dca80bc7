// What a binary translator gets wrong: code that changes after it was translated (with
// and without fence.i, on another page and inside the block being executed), a timer
// interrupt in a loop that never ends by itself, LR/SC split across blocks, page faults
// in the middle and at the end of a block (registers written before the fault are kept,
// mepc/mtval name the faulting instruction), and the same virtual address meaning other
// code after a satp switch or a PTE change.
//
// The loops run HOT times so that the translator's default threshold is passed too
// (the tests also run with -accel tcg,jit-threshold=1, where every block is translated
// before its first run).
//
// Memory map while paging (Sv39; two roots, A and B, differ only in VA page 0):
//   0x8000_0000  1 GiB identity, RWX, not U: S-mode runs the test code here
//   0x0000_0000  code_a (root A) / code_b (root B): RX, not U
//   0x0000_1000  invalid: a straight run off the end of page 0 faults here
//   0x0000_3000  data_pg, RW
//   0x0000_4000  invalid
#include "test.h"

#define HOT         6000
#define IRQ_MTIMER  (CAUSE_INTERRUPT | 7)
#define MIP_MTIP    (1 << 7)
#define VA_CODE     0x0000
#define VA_HOLE     0x1000
#define VA_DATA     0x3000
#define VA_DATA_END 0x4000

// table[index] = PTE(pa, flags) through set_pte (clobbers a0-a3, t0, t1, ra).
#define PTE(table, index, pa_sym, flags)                                    \
        la a0, table; li a1, index; la a2, pa_sym; li a3, flags; jal set_pte;
#define SATP_OF(reg, root)                                                  \
        la reg, root; srli reg, reg, 12; li t0, SATP_MODE_SV39; or reg, reg, t0;

TEST_BEGIN
        jal build_tables

  //--- self-modifying code, patched with fence.i after the function ran hot
  TEST_NUM(2)
        li s2, HOT
1:      jal smc_fn
        CHECK(a0, 1)
        addi s2, s2, -1
        bnez s2, 1b
        la t0, smc_fn; lw t1, insn_li_a0_2; sw t1, 0(t0)
        fence.i
        li s2, HOT
1:      jal smc_fn
        CHECK(a0, 2)
        addi s2, s2, -1
        bnez s2, 1b

  //--- a store alone (no fence.i) to translated code on another page is seen, as QEMU does
  TEST_NUM(3)
        la t0, smc_fn; lw t1, insn_li_a0_3; sw t1, 0(t0)
        jal smc_fn
        CHECK(a0, 3)

  //--- a store into the block being executed: each pass patches an instruction of its own
  //--- block, and the next pass must run the patched one (the block was invalidated)
  TEST_NUM(4)
        li s2, HOT
        lw s3, insn_li_a0_2             // s3: the word stored next, s6: what it loads
        lw s4, insn_li_a0_3
        li s6, 2
        la s5, 2f
        sw s3, 0(s5)
        fence.i
        mv s7, s6                       // s7: what the instruction at 2f loads now
1:      li a0, 0
2:      li a0, 5                        // patched
        mv t4, a0
        xor s3, s3, s4; xor s4, s4, s3; xor s3, s3, s4   // swap: the other one next time
        xori s6, s6, 1                  // 2 <-> 3 with them
        sw s3, 0(s5)
        bne t4, s7, fail
        mv s7, s6
        addi s2, s2, -1
        bnez s2, 1b
  //--- a store, fence.i, and the changed instruction right after them in the same block
  TEST_NUM(5)
        li s2, HOT
        la s5, 2f
1:      li a0, 0
        xor s3, s3, s4; xor s4, s4, s3; xor s3, s3, s4
        xori s6, s6, 1
        sw s3, 0(s5)
        fence.i
2:      li a0, 5                        // patched
        bne a0, s6, fail
        addi s2, s2, -1
        bnez s2, 1b

  //--- a timer interrupt ends a jump-to-self loop and a long counted loop: both in M-mode
        TIMER_OFF                       // (QEMU's mtimecmp resets to 0: due at once)
  EXPECT_TRAP(6, IRQ_MTIMER, li t0, MIP_MTIP; csrs mie, t0; csrsi mstatus, MSTATUS_MIE; TIMER_IN(10000); 2: j 2b)
        la t3, 2b; bne t1, t3, fail
        TIMER_OFF
  EXPECT_TRAP(7, IRQ_MTIMER, csrsi mstatus, MSTATUS_MIE; TIMER_IN(100000); li a5, -1; 2: addi a5, a5, -1; jal nop_fn; bnez a5, 2b; j fail)
        TIMER_OFF
        li t0, MIP_MTIP; csrc mie, t0
        li t0, -100; bgt a5, t0, fail   // the loop ran a while (10 ms) before the timer fired

  //--- LR and SC in different blocks
  TEST_NUM(8)
        la s1, amo_word
        sd zero, 0(s1)
        li s2, HOT
1:      lr.d a0, (s1)
        j 2f                            // the SC is in another block...
        .align 6
2:      addi a0, a0, 1
        sc.d a1, a0, (s1)
        bnez a1, 1b                     // ...and must still succeed
        addi s2, s2, -1
        bnez s2, 1b
        ld a0, 0(s1)
        CHECK(a0, HOT)
  TEST_NUM(9)                           // an SC without a new LR fails and writes nothing
        lr.d a0, (s1)
        sc.d a1, a0, (s1)
        CHECK(a1, 0)
        li a0, 77
        j 1f
1:      sc.d a1, a0, (s1)
        beqz a1, fail
        ld a0, 0(s1)
        CHECK(a0, HOT)
  TEST_NUM(10)                          // an SC to another address than the LR's fails
        li t0, 4096; add s8, s1, t0
        lr.d a0, (s1)
        j 1f
1:      li a0, 55
        sc.d a1, a0, (s8)
        beqz a1, fail
        ld a0, 0(s8)
        CHECK(a0, 0)

        SATP_OF(s10, root_a)
        SATP_OF(s11, root_b)
        csrw satp, s10
        sfence.vma

  //--- a load page fault after a hot loop walked up to an invalid page: the loop's count,
  //--- mepc = the load, mtval = the first invalid address
  EXPECT_TRAP(11, CAUSE_LOAD_PAGE_FAULT, li a3, 0; li s1, VA_DATA; GOTO_MODE(PRV_S, 1f); 1: ld a2, 0(s1); 2: addi a3, a3, 1; addi s1, s1, 8; j 1b)
        la t3, 1b; bne t1, t3, fail
        CHECK(t2, VA_DATA_END)
        CHECK(a3, 512)
  EXPECT_TRAP(12, CAUSE_STORE_PAGE_FAULT, li a3, 0; li s1, VA_DATA; GOTO_MODE(PRV_S, 1f); 1: addi a3, a3, 1; sd a3, 0(s1); addi s1, s1, 8; j 1b)
        CHECK(t2, VA_DATA_END)
        CHECK(a3, 513)                  // incremented before the faulting store
        la t3, data_pg + 4088; ld a0, 0(t3)
        CHECK(a0, 512)
  //--- a fault in the middle of a straight block: what came before it is kept
  EXPECT_TRAP(13, CAUSE_LOAD_PAGE_FAULT, GOTO_MODE(PRV_S, 1f); 1: li a0, 1; li a1, 2; li s1, VA_HOLE + 8; 2: ld a2, 0(s1); li a0, 3; li a1, 4)
        la t3, 2b; bne t1, t3, fail
        CHECK(t2, VA_HOLE + 8)
        CHECK(a0, 1)
        CHECK(a1, 2)
  //--- straight-line code running off the end of its page into an invalid one
  EXPECT_TRAP(14, CAUSE_FETCH_PAGE_FAULT, GOTO_MODE(PRV_S, 1f); 1: li a1, 0; li t0, VA_CODE + 0xff0; jr t0)
        CHECK(t1, VA_HOLE)
        CHECK(t2, VA_HOLE)
        CHECK(a1, 4)

  //--- the same virtual address, other code: after satp switches and after a PTE change
  EXPECT_TRAP(15, CAUSE_SUPERVISOR_ECALL, li s2, HOT; GOTO_MODE(PRV_S, 1f); 1: jal satp_flip; ecall)
        CHECK(s2, 0)
  EXPECT_TRAP(16, CAUSE_SUPERVISOR_ECALL, GOTO_MODE(PRV_S, 1f); 1: csrw satp, s10; sfence.vma; li t0, VA_CODE; jalr t0; mv s3, a0; ecall)
        CHECK(s3, 1)
        PTE(l0_a, 0, code_b, PTE_V | PTE_R | PTE_X | PTE_A)
  EXPECT_TRAP(17, CAUSE_SUPERVISOR_ECALL, GOTO_MODE(PRV_S, 1f); 1: sfence.vma; li t0, VA_CODE; jalr t0; mv s3, a0; ecall)
        CHECK(s3, 2)
        csrw satp, zero

  //--- FP code that ran hot with the FPU on (loads and stores inline, arithmetic through the
  //--- fast helper): an invalid frm, then FS off, make the same instructions illegal, with
  //--- mepc at the instruction (the translated code must not keep using what it knew)
  TEST_NUM(18)
        li t0, MSTATUS_FS; csrs mstatus, t0
        csrwi frm, 0
        li s2, HOT
1:      jal fp_fn
        addi s2, s2, -1
        bnez s2, 1b
        la a4, fp_data; ld t0, 8(a4); li t1, 0x4000000000000000; bne t0, t1, fail  // 1.0 + 1.0
  EXPECT_TRAP(19, CAUSE_ILLEGAL_INSN, csrwi frm, 5; jal fp_fn)
        la t3, fp_add; bne t1, t3, fail
        csrwi frm, 0
  EXPECT_TRAP(20, CAUSE_ILLEGAL_INSN, li t0, MSTATUS_FS; csrc mstatus, t0; jal fp_fn)
        la t3, fp_ld; bne t1, t3, fail
        j pass

// fp_data[1] = fp_data[0] + fp_data[0], in the dynamic rounding mode.
fp_fn:
        la a4, fp_data
fp_ld:  fld fa0, 0(a4)
fp_add: fadd.d fa1, fa0, fa0
        fsd fa1, 8(a4)
        ret

// S-mode: HOT times, run VA_CODE under root A (returns 1) and root B (returns 2).
satp_flip:
        mv s9, ra
1:      csrw satp, s10
        sfence.vma
        li t0, VA_CODE; jalr t0
        li t1, 1; bne a0, t1, fail
        csrw satp, s11
        sfence.vma
        li t0, VA_CODE; jalr t0
        li t1, 2; bne a0, t1, fail
        addi s2, s2, -1
        bnez s2, 1b
        mv ra, s9
        ret

nop_fn:
        ret

// table[a1] = (a2 >> 12) << 10 | a3
set_pte:
        srli a2, a2, 12; slli a2, a2, 10; or a2, a2, a3
        slli a1, a1, 3; add a0, a0, a1; sd a2, 0(a0)
        ret

build_tables:
        mv s9, ra
        PTE(root_a, 0, l1_a, PTE_V)
        PTE(l1_a, 0, l0_a, PTE_V)
        PTE(root_b, 0, l1_b, PTE_V)
        PTE(l1_b, 0, l0_b, PTE_V)
        PTE(root_a, 2, _start, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D)
        PTE(root_b, 2, _start, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D)
        PTE(l0_a, 0, code_a, PTE_V | PTE_R | PTE_X | PTE_A)
        PTE(l0_b, 0, code_b, PTE_V | PTE_R | PTE_X | PTE_A)
        PTE(l0_a, 3, data_pg, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)
        PTE(l0_b, 3, data_pg, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)
        mv ra, s9
        ret

TEST_END

// The code pages seen at VA 0 (page-aligned; the linker puts .text.* after .text).
// No linker relaxation here: it would make .align reserve padding and break .org.
        .option norelax
        .section .text.pages, "ax", @progbits
        .align 12
code_a:
        li a0, 1
        ret
        .org 0xff0
        addi a1, a1, 1                  // the last four instructions of the page
        addi a1, a1, 1
        addi a1, a1, 1
        addi a1, a1, 1
code_b:
        li a0, 2
        ret

// Patched at run time: in a writable section of its own page, away from the test code.
        .section .text.smc, "awx", @progbits
        .align 12
smc_fn:
        li a0, 1
        ret

        .data
        .align 3
insn_li_a0_2:   li a0, 2
insn_li_a0_3:   li a0, 3
        .align 3
amo_word:       .dword 0
fp_data:        .dword 0x3ff0000000000000, 0    // 1.0, then the sum
        .align 12
                .fill 512, 8, 0         // amo_word + 4096 lands here
        .align 12
root_a:     .fill 512, 8, 0
l1_a:       .fill 512, 8, 0
l0_a:       .fill 512, 8, 0
root_b:     .fill 512, 8, 0
l1_b:       .fill 512, 8, 0
l0_b:       .fill 512, 8, 0
data_pg:    .fill 512, 8, 0

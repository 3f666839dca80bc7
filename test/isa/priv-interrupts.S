// Interrupts: the CLINT timer (mtimecmp) and software (msip) interrupts with their
// mcause values, MTIP tracking mtime >= mtimecmp, WFI waking on a pending interrupt even
// with MIE clear, an interrupt taken right after MRET enables it, M interrupts
// preempting lower modes, priority, vectored mtvec, and S-mode interrupts via mideleg.
#include "test.h"

#define CLINT_MSIP  CLINT_BASE
#define MIP_SSIP    (1 << 1)
#define MIP_MSIP    (1 << 3)
#define MIP_STIP    (1 << 5)
#define MIP_MTIP    (1 << 7)
#define IRQ(n)      (CAUSE_INTERRUPT | (n))
#define SPIN        10000000        // bounded waits: fail rather than hang

#define SPIN_WAIT                                                           \
        li a5, SPIN; 1: addi a5, a5, -1; bnez a5, 1b;

TEST_BEGIN
        TIMER_OFF
        li t0, CLINT_MSIP; sw zero, 0(t0)

  //--- MTIP follows mtime >= mtimecmp and is not writable through mip
  TEST_NUM(2)
        csrr a0, mip
        andi a0, a0, MIP_MTIP
        CHECK(a0, 0)
        li t0, CLINT_MTIMECMP; sd zero, 0(t0)
        csrr a0, mip
        andi a0, a0, MIP_MTIP
        CHECK(a0, MIP_MTIP)
        csrc mip, a0                    // read-only in mip: stays set
        csrr a0, mip
        andi a0, a0, MIP_MTIP
        CHECK(a0, MIP_MTIP)
        TIMER_OFF
        csrr a0, mip
        andi a0, a0, MIP_MTIP
        CHECK(a0, 0)
  TEST_NUM(3)                           // the CLINT's mtimecmp reads back
        li t0, CLINT_MTIMECMP
        li t1, 0x123456789a
        sd t1, 0(t0)
        ld a0, 0(t0)
        CHECK(a0, 0x123456789a)
        lw a0, 4(t0)
        CHECK(a0, 0x12)
        TIMER_OFF
  TEST_NUM(4)                           // mtime counts up
        li t0, CLINT_MTIME
        ld a0, 0(t0)
        li a5, SPIN
1:      ld a1, 0(t0)
        bne a1, a0, 2f
        addi a5, a5, -1
        bnez a5, 1b
        j fail
2:      bltu a1, a0, fail

  //--- a pending, enabled timer interrupt with MIE = 1 is taken: mcause = 1 << 63 | 7
  // (1 ms ahead: an interpreter on a busy host may take 10 us between two instructions)
  EXPECT_TRAP(5, IRQ(7), li t0, MIP_MTIP; csrs mie, t0; csrsi mstatus, MSTATUS_MIE; TIMER_IN(10000); 2: SPIN_WAIT)
        bltz t2, fail                   // (mtval is zero for interrupts)
        bnez t2, fail
        CHECK_FIELD(mstatus, 3, 1, 0)   // MIE cleared by the trap...
        CHECK_FIELD(mstatus, 7, 1, 1)   // ...and saved in MPIE
        CHECK_FIELD(mstatus, 11, 3, PRV_M)
        la t3, 2b; bltu t1, t3, fail    // mepc: in the wait (or just before it)
        la t3, 1b; addi t3, t3, 4; bgtu t1, t3, fail
        TIMER_OFF
  //--- with MIE = 0 nothing is taken in M-mode, though MTIP is set
  TEST_NUM(6)
        csrci mstatus, MSTATUS_MIE
        li t0, CLINT_MTIMECMP; sd zero, 0(t0)
        nop; nop; nop; nop
        csrr a0, mip
        andi a0, a0, MIP_MTIP
        CHECK(a0, MIP_MTIP)
  //--- WFI returns once an enabled interrupt is pending, even with MIE = 0
  TEST_NUM(7)
        TIMER_IN(1000)
        li a5, 1000
1:      wfi
        csrr a0, mip
        andi a0, a0, MIP_MTIP
        bnez a0, 2f
        addi a5, a5, -1
        bnez a5, 1b
        j fail
2:      csrr a0, mcause                 // and no trap was taken
        CHECK(a0, IRQ(7))
  //--- MRET that sets MIE takes the pending interrupt before the next instruction
  EXPECT_TRAP(8, IRQ(7), li t0, MSTATUS_MPP | MSTATUS_MPIE; csrs mstatus, t0; la t0, 1f; csrw mepc, t0; mret; 1: nop; j fail)
        la t3, 1b; bne t1, t3, fail
        TIMER_OFF
  //--- CSR write enabling MIE takes it too; mepc = the next instruction
  EXPECT_TRAP(9, IRQ(7), li t0, CLINT_MTIMECMP; sd zero, 0(t0); csrsi mstatus, MSTATUS_MIE; 1: j fail)
        la t3, 1b; bne t1, t3, fail
        TIMER_OFF

  //--- M interrupts preempt S and U whatever mstatus.MIE says
  EXPECT_TRAP(10, IRQ(7), csrci mstatus, MSTATUS_MIE; TIMER_IN(10000); GOTO_MODE(PRV_U, 2f); 2: SPIN_WAIT)
        CHECK_FIELD(mstatus, 11, 3, PRV_U)
        TIMER_OFF
  EXPECT_TRAP(11, IRQ(7), csrci mstatus, MSTATUS_MIE; TIMER_IN(10000); GOTO_MODE(PRV_S, 2f); 2: SPIN_WAIT)
        CHECK_FIELD(mstatus, 11, 3, PRV_S)
        TIMER_OFF
        li t0, MIP_MTIP; csrc mie, t0

  //--- software interrupt through the CLINT's msip
  EXPECT_TRAP(12, IRQ(3), li t0, MIP_MSIP; csrs mie, t0; li t0, CLINT_MSIP; li t1, 1; sw t1, 0(t0); csrsi mstatus, MSTATUS_MIE; SPIN_WAIT)
        csrr a0, mip; andi a0, a0, MIP_MSIP
        CHECK(a0, MIP_MSIP)
        li t0, CLINT_MSIP; sw zero, 0(t0)
        csrr a0, mip; andi a0, a0, MIP_MSIP
        CHECK(a0, 0)
  //--- priority: MSI before MTI when both are pending
  EXPECT_TRAP(13, IRQ(3), li t0, MIP_MSIP | MIP_MTIP; csrs mie, t0; li t0, CLINT_MTIMECMP; sd zero, 0(t0); li t0, CLINT_MSIP; li t1, 1; sw t1, 0(t0); csrsi mstatus, MSTATUS_MIE; SPIN_WAIT)
        li t0, CLINT_MSIP; sw zero, 0(t0)
  EXPECT_TRAP(14, IRQ(7), csrsi mstatus, MSTATUS_MIE; SPIN_WAIT)
        TIMER_OFF
        li t0, MIP_MSIP | MIP_MTIP; csrc mie, t0

  //--- vectored mtvec: interrupt n goes to BASE + 4 * n
  TEST_NUM(15)
        la t0, vectors; ori t0, t0, 1; csrw mtvec, t0
        li t0, MIP_MTIP; csrs mie, t0
        li t0, CLINT_MTIMECMP; sd zero, 0(t0)
        li a0, 0
        csrsi mstatus, MSTATUS_MIE
        SPIN_WAIT
        j fail
vector_7_taken:
        RESTORE_TRAP
        TIMER_OFF
        li t0, MIP_MTIP; csrc mie, t0
        csrr t0, mcause
        CHECK(t0, IRQ(7))

  //--- S-mode interrupts delegated by mideleg, taken to stvec
  EXPECT_TRAP(16, CAUSE_SUPERVISOR_ECALL, li t0, MIP_STIP; csrw mideleg, t0; csrs mie, t0; la t0, s_handler; csrw stvec, t0; li t0, MIP_STIP; csrs mip, t0; GOTO_MODE(PRV_U, 2f); 2: SPIN_WAIT; j fail)
        CHECK(a2, IRQ(5))               // scause
        la t3, 2b; blt a3, t3, fail     // sepc inside the U-mode loop
        CHECK(a4, 0)                    // stval
        li t0, MIP_STIP; csrc mip, t0
  //--- in S-mode a delegated interrupt waits for SIE; SSIP is writable through sip
  EXPECT_TRAP(17, CAUSE_SUPERVISOR_ECALL, li t0, MIP_SSIP; csrw mideleg, t0; csrw mie, t0; GOTO_MODE(PRV_S, 2f); 2: csrci sstatus, MSTATUS_SIE; csrsi sip, MIP_SSIP; nop; nop; csrr a2, sip; andi a2, a2, MIP_SSIP; li t0, MIP_SSIP; bne a2, t0, fail; li a2, 0; csrsi sstatus, MSTATUS_SIE; 3: j fail)
        CHECK(a2, IRQ(1))
        la t3, 3b; bne a3, t3, fail     // sepc = the instruction after the enabling write
        csrci mip, MIP_SSIP
        csrw mideleg, zero
        csrw mie, zero

  //--- sie/sip are views of mie/mip through mideleg
  TEST_NUM(18)
        csrw mie, zero
        li t0, 0x222; csrw mideleg, t0
        li t0, -1; csrw sie, t0
        csrr a0, sie
        CHECK(a0, 0x222)
        csrr a0, mie
        CHECK(a0, 0x222)
        csrw mideleg, zero
        csrr a0, sie
        CHECK(a0, 0)
        csrw mie, zero
        csrr a0, sie
        CHECK(a0, 0)

  j pass

// S-mode handler: scause, sepc, stval in a2..a4, back to M.
        .align 2
s_handler:
        csrr a2, scause
        csrr a3, sepc
        csrr a4, stval
        csrci sip, MIP_SSIP
        ecall

        .align 8
vectors:
        j fail                          // 0: exceptions
        j fail
        j fail
        j fail                          // 3: MSI
        j fail
        j fail
        j fail
        j vector_7_taken                // 7: MTI
        j fail
        j fail
        j fail
        j fail                          // 11: MEI

TEST_END

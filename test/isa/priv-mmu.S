// Virtual memory: Sv39 and Sv48 page walks from S and U mode, permission faults with
// stval/mtval = the faulting address, U/SUM/MXR/MPRV, hardware A/D updates (as QEMU
// does), reserved and misaligned PTEs, non-canonical addresses, a fetch fault in the
// second half of a page-straddling instruction, SFENCE.VMA, page-fault delegation, and
// satp's WARL MODE field.
//
// Memory map while paging (built at run time, see build_tables):
//   0x8000_0000 1 GiB identity, RWX, not U      (S-mode runs the test code here)
//   0x4000_0000 1 GiB alias of 0x8000_0000, U   (U-mode runs the same code here)
//   0x0020_0000 + i * 4 KiB: single test pages  (see the VA_* constants)
//   0x0040_0000 a misaligned 2 MiB megapage     (must fault)
//   0x0060_0000 a 2 MiB megapage of 0x8000_0000, U, while the SFENCE.VMA tests need it
#include "test.h"

#define ALIAS_OFF   0x40000000      // U alias = identity address - ALIAS_OFF
#define VA_RW_U     0x200000        // data_page, RW, U
#define VA_RO_U     0x201000        // data_page, R, U
#define VA_INVALID  0x202000        // V = 0
#define VA_RW_S     0x203000        // data_page, RW, not U
#define VA_X_U      0x204000        // data_page, X only, U
#define VA_AD_U     0x205000        // data_page, RW, U, A = D = 0
#define VA_CODE_U   0x206000        // code_page, RX, U; the next page is invalid
#define VA_W_ONLY   0x208000        // W without R: reserved encoding
#define VA_MEGA_BAD 0x400000        // 2 MiB leaf with PPN[0] != 0
#define VA_MEGA     0x600000        // 2 MiB leaf -> 0x8000_0000, U (set by the SFENCE.VMA tests)
#define MAGIC       0x0123456789abcdef
#define MAGIC2      0x5555aaaa5555aaaa

// mepc = the U alias of `label`, MPP = U, MRET.
#define GOTO_U(label)                                                       \
        li t0, MSTATUS_MPP; csrc mstatus, t0;                               \
        la t0, label; li t1, ALIAS_OFF; sub t0, t0, t1; csrw mepc, t0;      \
        mret;
#define CHECK_EPC_ALIAS(label)                                              \
        la t3, label; li t4, ALIAS_OFF; sub t3, t3, t4; bne t1, t3, fail;

// table[index] = PTE(pa, flags), through set_pte (clobbers a0-a3, t0, t1, ra).
#define PTE(table, index, pa_sym, flags)                                    \
        la a0, table; li a1, index; la a2, pa_sym; li a3, flags; jal set_pte;
#define PTE_PA(table, index, pa, flags)                                     \
        la a0, table; li a1, index; li a2, pa; li a3, flags; jal set_pte;

TEST_BEGIN
        jal ra, build_tables

  //--- satp: an unsupported MODE leaves the register unchanged (WARL)
  TEST_NUM(2)
        csrw satp, zero
        li t0, (11 << 60) | 0x1234      // Sv64: not implemented anywhere
        csrw satp, t0
        csrr a0, satp
        CHECK(a0, 0)
        li t0, (1 << 60) | 0x1234       // reserved MODE
        csrw satp, t0
        csrr a0, satp
        CHECK(a0, 0)
  TEST_NUM(3)                           // Sv39 and Sv48 are accepted (M is untranslated)
        la t0, root39; srli t0, t0, 12; li t1, SATP_MODE_SV39; or t0, t0, t1
        csrw satp, t0
        csrr a0, satp
        bne a0, t0, fail
        li t0, (11 << 60)
        csrw satp, t0                   // still ignored while Sv39 is on
        csrr a1, satp
        bne a0, a1, fail
        la t0, root48; srli t0, t0, 12; li t1, SATP_MODE_SV48; or t0, t0, t1
        csrw satp, t0
        csrr a0, satp
        bne a0, t0, fail
        csrw satp, zero

#define MMU_BASE 100
#define MMU_ROOT root39
#define MMU_MODE SATP_MODE_SV39
#include "mmu-suite.h"
#undef MMU_BASE
#undef MMU_ROOT
#undef MMU_MODE

#define MMU_BASE 200
#define MMU_ROOT root48
#define MMU_MODE SATP_MODE_SV48
#include "mmu-suite.h"

        csrw satp, zero
        j pass

// Writes table[index] = PTE(pa, flags). a0 = table, a1 = index, a2 = pa, a3 = flags.
set_pte:
        srli t0, a2, 12
        slli t0, t0, 10
        or t0, t0, a3
        slli t1, a1, 3
        add t1, t1, a0
        sd t0, 0(t1)
        ret

build_tables:
        mv s10, ra
        PTE(root39, 0, l1_table, PTE_V)
        PTE_PA(root39, 1, 0x80000000, PTE_V | PTE_R | PTE_W | PTE_X | PTE_U | PTE_A | PTE_D)
        PTE_PA(root39, 2, 0x80000000, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D)
        PTE(root48, 0, root39, PTE_V)
        PTE(l1_table, 1, l0_table, PTE_V)
        PTE_PA(l1_table, 2, 0x80001000, PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D)
        jal reset_l0
        // code_page: c.nop at 0xffc, then `addi a0, a0, 1` straddling into the next page
        la t0, code_page
        li t1, 0xffc; add t0, t0, t1
        li t1, 0x0001; sh t1, 0(t0)
        li t1, 0x0513; sh t1, 2(t0)
        li t1, 0x0015; sh t1, 4(t0)
        fence.i
        li t0, MAGIC
        la t1, data_page; sd t0, 0(t1)
        li t0, MAGIC2
        la t1, data_page2; sd t0, 0(t1)
        mv ra, s10
        ret

// (Re)writes the level-0 test pages, so each suite starts with A/D bits clear.
reset_l0:
        mv s9, ra
        PTE(l0_table, 0, data_page, PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D)
        PTE(l0_table, 1, data_page, PTE_V | PTE_R | PTE_U | PTE_A)
        PTE_PA(l0_table, 2, 0, 0)
        PTE(l0_table, 3, data_page, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)
        PTE(l0_table, 4, data_page, PTE_V | PTE_X | PTE_U | PTE_A)
        PTE(l0_table, 5, data_page, PTE_V | PTE_R | PTE_W | PTE_U)
        PTE(l0_table, 6, code_page, PTE_V | PTE_R | PTE_X | PTE_U | PTE_A)
        PTE_PA(l0_table, 7, 0, 0)
        PTE(l0_table, 8, data_page, PTE_V | PTE_W | PTE_U | PTE_A | PTE_D)
        sfence.vma
        mv ra, s9
        ret

// S-mode handler for the delegation test: scause, sepc, stval in a2..a4, back to M.
        .align 2
s_handler:
        csrr a2, scause
        csrr a3, sepc
        csrr a4, stval
        ecall

TEST_END

  .data
  .align 12
root39:     .fill 512, 8, 0
root48:     .fill 512, 8, 0
l1_table:   .fill 512, 8, 0
l0_table:   .fill 512, 8, 0
data_page:  .fill 512, 8, 0
data_page2: .fill 512, 8, 0
code_page:  .fill 512, 8, 0

// One pass of the paging tests, included by priv-mmu.S once per mode with MMU_BASE
// (first sub-test number), MMU_ROOT (root table) and MMU_MODE (satp MODE) defined.

  TEST_NUM(MMU_BASE)
        jal reset_l0
        la t0, MMU_ROOT; srli t0, t0, 12; li t1, MMU_MODE; or t0, t0, t1
        csrw satp, t0
        sfence.vma

  //--- plain translated accesses from S and U
  EXPECT_TRAP(MMU_BASE + 1, CAUSE_SUPERVISOR_ECALL, GOTO_MODE(PRV_S, 1f); 1: li t0, VA_RW_S; ld a0, 0(t0); ecall)
        CHECK(a0, MAGIC)
  EXPECT_TRAP(MMU_BASE + 2, CAUSE_USER_ECALL, GOTO_U(1f); 1: li t0, VA_RW_U; ld a0, 0(t0); li a1, 0x77; sd a1, 8(t0); 2: ecall)
        CHECK(a0, MAGIC)
        la t0, data_page; ld a1, 8(t0)
        CHECK(a1, 0x77)
        CHECK_EPC_ALIAS(2b)

  //--- permission faults: cause, mepc and mtval = the faulting VA
  EXPECT_TRAP(MMU_BASE + 3, CAUSE_STORE_PAGE_FAULT, GOTO_U(1f); 1: li s1, VA_RO_U + 0x10; 2: sd a1, 0(s1))
        CHECK(t2, VA_RO_U + 0x10)
        CHECK_EPC_ALIAS(2b)
  EXPECT_TRAP(MMU_BASE + 4, CAUSE_STORE_PAGE_FAULT, GOTO_U(1f); 1: li s1, VA_RO_U + 0x18; amoadd.d a0, a1, (s1))
        CHECK(t2, VA_RO_U + 0x18)
  EXPECT_TRAP(MMU_BASE + 5, CAUSE_LOAD_PAGE_FAULT, GOTO_U(1f); 1: li s1, VA_INVALID + 8; ld a0, 0(s1))
        CHECK(t2, VA_INVALID + 8)
  EXPECT_TRAP(MMU_BASE + 6, CAUSE_LOAD_PAGE_FAULT, GOTO_U(1f); 1: li s1, VA_RW_S + 4; lw a0, 0(s1))
        CHECK(t2, VA_RW_S + 4)
  EXPECT_TRAP(MMU_BASE + 7, CAUSE_STORE_PAGE_FAULT, GOTO_U(1f); 1: li s1, VA_INVALID + 0x20; sb a0, 0(s1))
        CHECK(t2, VA_INVALID + 0x20)
  // a misaligned access that crosses into an invalid page faults on the second page
  EXPECT_TRAP(MMU_BASE + 8, CAUSE_LOAD_PAGE_FAULT, GOTO_U(1f); 1: li s1, VA_RW_U + 0x2ffc; ld a0, 0(s1))
        li t3, VA_RW_U + 0x2ffc; beq t2, t3, 3f
        CHECK(t2, VA_RW_U + 0x3000)
3:

  //--- SUM: S touches U pages only with SUM = 1
  EXPECT_TRAP(MMU_BASE + 9, CAUSE_LOAD_PAGE_FAULT, li t0, MSTATUS_SUM; csrc mstatus, t0; GOTO_MODE(PRV_S, 1f); 1: li s1, VA_RW_U; ld a0, 0(s1))
        CHECK(t2, VA_RW_U)
  EXPECT_TRAP(MMU_BASE + 10, CAUSE_SUPERVISOR_ECALL, li t0, MSTATUS_SUM; csrs mstatus, t0; GOTO_MODE(PRV_S, 1f); 1: li s1, VA_RW_U; ld a0, 0(s1); ecall)
        CHECK(a0, MAGIC)
  // ...but never executes them, even with SUM = 1
  EXPECT_TRAP(MMU_BASE + 11, CAUSE_FETCH_PAGE_FAULT, GOTO_MODE(PRV_S, 1f); 1: la t0, 2f; li t1, ALIAS_OFF; sub t0, t0, t1; jr t0; 2: nop)
        CHECK_EPC_ALIAS(2b)
        bne t1, t2, fail
        li t0, MSTATUS_SUM; csrc mstatus, t0

  //--- MXR: loads from execute-only pages
  EXPECT_TRAP(MMU_BASE + 12, CAUSE_LOAD_PAGE_FAULT, GOTO_U(1f); 1: li s1, VA_X_U; ld a0, 0(s1))
        CHECK(t2, VA_X_U)
  EXPECT_TRAP(MMU_BASE + 13, CAUSE_USER_ECALL, li t0, MSTATUS_MXR; csrs mstatus, t0; GOTO_U(1f); 1: li s1, VA_X_U; ld a0, 0(s1); ecall)
        CHECK(a0, MAGIC)
        li t0, MSTATUS_MXR; csrc mstatus, t0
  EXPECT_TRAP(MMU_BASE + 14, CAUSE_STORE_PAGE_FAULT, li t0, MSTATUS_MXR; csrs mstatus, t0; GOTO_U(1f); 1: li s1, VA_X_U; sd a0, 0(s1))
        li t0, MSTATUS_MXR; csrc mstatus, t0

  //--- instruction fetch faults: mepc = mtval = the target
  EXPECT_TRAP(MMU_BASE + 15, CAUSE_FETCH_PAGE_FAULT, GOTO_MODE(PRV_U, 1f); 1: nop)
        la t3, 1b; bne t1, t3, fail     // U fetch from a non-U page
        bne t2, t3, fail
  EXPECT_TRAP(MMU_BASE + 16, CAUSE_FETCH_PAGE_FAULT, GOTO_U(1f); 1: li s1, VA_RW_U + 0x40; jr s1)
        CHECK(t1, VA_RW_U + 0x40)       // not executable
        CHECK(t2, VA_RW_U + 0x40)
  EXPECT_TRAP(MMU_BASE + 17, CAUSE_FETCH_PAGE_FAULT, GOTO_U(1f); 1: li s1, VA_INVALID; jalr s1)
        CHECK(t2, VA_INVALID)
  // a 4-byte instruction at VA_CODE_U + 0xffe whose second half is on an invalid page:
  // mepc = its start, mtval = the address of the part that faulted
  EXPECT_TRAP(MMU_BASE + 18, CAUSE_FETCH_PAGE_FAULT, GOTO_U(1f); 1: li a0, 0; li s1, VA_CODE_U + 0xffc; jr s1)
        CHECK(t1, VA_CODE_U + 0xffe)
        CHECK(t2, VA_CODE_U + 0x1000)
        CHECK(a0, 0)

  //--- A and D bits are set by the hardware walk (no fault), A on any access, D on writes
  EXPECT_TRAP(MMU_BASE + 19, CAUSE_USER_ECALL, GOTO_U(1f); 1: li s1, VA_AD_U; ld a0, 0(s1); ecall)
        CHECK(a0, MAGIC)
        la t0, l0_table; ld t0, 5 * 8(t0); andi t0, t0, PTE_A | PTE_D
        CHECK(t0, PTE_A)
  EXPECT_TRAP(MMU_BASE + 20, CAUSE_USER_ECALL, GOTO_U(1f); 1: li s1, VA_AD_U; sd zero, 16(s1); ecall)
        la t0, l0_table; ld t0, 5 * 8(t0); andi t0, t0, PTE_A | PTE_D
        CHECK(t0, PTE_A | PTE_D)

  //--- reserved encodings and misaligned superpages fault
  EXPECT_TRAP(MMU_BASE + 21, CAUSE_LOAD_PAGE_FAULT, GOTO_U(1f); 1: li s1, VA_W_ONLY; ld a0, 0(s1))
        CHECK(t2, VA_W_ONLY)
  EXPECT_TRAP(MMU_BASE + 22, CAUSE_STORE_PAGE_FAULT, GOTO_U(1f); 1: li s1, VA_W_ONLY; sd a0, 0(s1))
  EXPECT_TRAP(MMU_BASE + 23, CAUSE_LOAD_PAGE_FAULT, GOTO_U(1f); 1: li s1, VA_MEGA_BAD + 0x1000; ld a0, 0(s1))
        CHECK(t2, VA_MEGA_BAD + 0x1000)
  //--- a non-canonical address (bit 47 set, upper bits clear) is a page fault
  EXPECT_TRAP(MMU_BASE + 24, CAUSE_LOAD_PAGE_FAULT, GOTO_U(1f); 1: li s1, 0x0000800000200000; ld a0, 0(s1))
        CHECK(t2, 0x0000800000200000)
  EXPECT_TRAP(MMU_BASE + 25, CAUSE_STORE_PAGE_FAULT, GOTO_U(1f); 1: li s1, 0xffff000000200000; sd a0, 0(s1))
        CHECK(t2, 0xffff000000200000)

  //--- MPRV: M-mode loads and stores use MPP's translation and permissions
  TEST_NUM(MMU_BASE + 26)
        li t0, MSTATUS_MPP; csrc mstatus, t0          // MPP = U
        li t0, MSTATUS_MPRV; csrs mstatus, t0
        li s1, VA_RW_U
        ld a0, 0(s1)
        li t0, MSTATUS_MPRV; csrc mstatus, t0
        CHECK(a0, MAGIC)
  EXPECT_TRAP(MMU_BASE + 27, CAUSE_LOAD_PAGE_FAULT, li t0, MSTATUS_MPP; csrc mstatus, t0; li t0, MSTATUS_MPRV; csrs mstatus, t0; li s1, VA_RW_S; 1: ld a0, 0(s1))
        li t0, MSTATUS_MPRV; csrc mstatus, t0
        la t3, 1b; bne t1, t3, fail
        CHECK(t2, VA_RW_S)

  //--- SFENCE.VMA makes a changed PTE visible
  EXPECT_TRAP(MMU_BASE + 28, CAUSE_USER_ECALL, PTE(l0_table, 0, data_page2, PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D); sfence.vma; GOTO_U(1f); 1: li s1, VA_RW_U; ld a0, 0(s1); ecall)
        CHECK(a0, MAGIC2)
        PTE(l0_table, 0, data_page, PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D)
        sfence.vma

  //--- SFENCE.VMA with an address drops the entries of that page (from a cached
  //--- superpage: of all of it), whatever the TLB held
  EXPECT_TRAP(MMU_BASE + 30, CAUSE_USER_ECALL, GOTO_U(1f); 1: li s1, VA_RW_U; ld a0, 0(s1); ecall)
        CHECK(a0, MAGIC)
  EXPECT_TRAP(MMU_BASE + 31, CAUSE_USER_ECALL, PTE(l0_table, 0, data_page2, PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D); li t0, VA_RW_U + 0x18; sfence.vma t0; GOTO_U(1f); 1: li s1, VA_RW_U; ld a0, 0(s1); ecall)
        CHECK(a0, MAGIC2)
        PTE(l0_table, 0, data_page, PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D)
        li t0, VA_RW_U; sfence.vma t0, zero
        PTE_PA(l1_table, 3, 0x80000000, PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D)
        sfence.vma
        la s3, data_page; li t0, 0x80000000 - VA_MEGA; sub s3, s3, t0
  EXPECT_TRAP(MMU_BASE + 32, CAUSE_USER_ECALL, GOTO_U(1f); 1: ld a0, 0(s3); ecall)
        CHECK(a0, MAGIC)
  EXPECT_TRAP(MMU_BASE + 33, CAUSE_LOAD_PAGE_FAULT, PTE_PA(l1_table, 3, 0, 0); li t0, VA_MEGA + 0x1ff000; sfence.vma t0; GOTO_U(1f); 1: ld a0, 0(s3))
        bne t2, s3, fail
        sfence.vma

  //--- page faults delegated to S: scause, sepc, stval
  TEST_NUM(MMU_BASE + 29)
        li t0, (1 << CAUSE_LOAD_PAGE_FAULT); csrw medeleg, t0
        la t0, s_handler; csrw stvec, t0
        SET_TRAP(2f)
        GOTO_U(1f)
1:      li s1, VA_INVALID + 0x30
3:      ld a0, 0(s1)
        j fail
        .align 2
2:      RESTORE_TRAP
        csrw medeleg, zero
        csrr t0, mcause; CHECK(t0, CAUSE_SUPERVISOR_ECALL)
        CHECK(a2, CAUSE_LOAD_PAGE_FAULT)
        la t3, 3b; li t4, ALIAS_OFF; sub t3, t3, t4; bne a3, t3, fail
        CHECK(a4, VA_INVALID + 0x30)

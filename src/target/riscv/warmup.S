# The interpreter's warm-up program (src/target/riscv/warmup.ts runs it once per process).
# It executes every common instruction form once in M-mode at 0x80000000 and again in
# S-mode through an Sv39 gigapage at 0xffffffff80000000, with an ecall trap per round,
# so that V8 has type feedback for all of the interpreter's paths before it optimizes it.
# src/target/riscv/warmup-code.ts holds it assembled; test/warmup.test.ts checks that it
# matches this file (the command that regenerates it is in warmup-code.ts).
	.section .text
	.globl _start
_start:
	la	t0, mtrap
	csrw	mtvec, t0
	li	t0, 0x2000		# mstatus.FS = initial: floating point on
	csrs	mstatus, t0
	la	sp, stack_top
	li	t0, 2			# mie.SSIE, then mstatus.MIE
	csrs	mie, t0
	csrsi	mstatus, 8
	li	s0, 3
1:	call	body
	csrsi	mip, 2			# a supervisor software interrupt, taken in M-mode
	.option	push
	.option	norvc			# the handler steps over faults by 4 bytes
	li	t3, 0x7fff00000000	# faults: nothing there
	ld	t4, 8(t3)
	sw	t4, -4(t3)
	.option	pop
	addi	s0, s0, -1
	bnez	s0, 1b
	csrci	mstatus, 8
	# Sv39: gigapages for VA 0 (MMIO, identity) and VA 0xffffffff80000000 (this RAM).
	la	t0, pt
	srli	t0, t0, 12
	li	t1, 8
	slli	t1, t1, 60
	or	t0, t0, t1
	csrw	satp, t0
	sfence.vma
	li	t0, 0x1800		# mstatus.MPP = S
	csrc	mstatus, t0
	li	t0, 0x800
	csrs	mstatus, t0
	la	t0, smain
	li	t1, 0xffffffff00000000
	add	t0, t0, t1
	csrw	mepc, t0
	mret
smain:	add	sp, sp, t1
	li	s0, 3
1:	call	body
	ecall
	addi	s0, s0, -1
	bnez	s0, 1b
2:	wfi
	j	2b

	.balign 4
mtrap:	csrr	t2, mcause
	bltz	t2, 1f
	csrr	t2, mepc		# an exception: step over the instruction
	addi	t2, t2, 4
	csrw	mepc, t2
	mret
1:	csrci	mip, 2			# the software interrupt
	mret

body:	mv	s1, ra
	la	a0, data
	li	a1, -12345678
	li	a2, 0x123456789abcdef0
	li	a7, 0x10000000		# the scratch MMIO device
	add	a3, a1, a2
	sub	a3, a1, a2
	sll	a3, a2, a1
	slt	a3, a1, a2
	sltu	a3, a1, a2
	xor	a3, a1, a2
	srl	a3, a2, a1
	sra	a3, a1, a1
	or	a3, a1, a2
	and	a3, a1, a2
	addw	a3, a1, a2
	subw	a3, a1, a2
	sllw	a3, a2, a1
	srlw	a3, a2, a1
	sraw	a3, a1, a1
	addi	a3, a2, -2047
	slti	a3, a1, 5
	sltiu	a3, a1, -5
	xori	a3, a1, -1
	ori	a3, a1, 0x7f0
	andi	a3, a2, -16
	slli	a3, a2, 13
	srli	a3, a2, 43
	srai	a3, a1, 7
	addiw	a3, a2, 100
	slliw	a3, a2, 3
	srliw	a3, a2, 3
	sraiw	a3, a1, 3
	lui	a4, 0x80000
	auipc	a5, 0
	mul	a3, a1, a2
	mulh	a3, a1, a2
	mulhsu	a3, a1, a2
	mulhu	a3, a1, a2
	div	a3, a2, a1
	divu	a3, a2, a1
	rem	a3, a2, a1
	remu	a3, a2, a1
	div	a3, a2, zero
	mulw	a3, a1, a2
	divw	a3, a2, a1
	divuw	a3, a2, a1
	remw	a3, a2, a1
	remuw	a3, a2, a1
	sb	a2, 0(a0)
	sh	a2, 2(a0)
	sw	a2, 4(a0)
	sd	a2, 8(a0)
	sd	a1, 16(a0)
	lb	a3, 0(a0)
	lh	a3, 2(a0)
	lw	a3, 4(a0)
	ld	a3, 8(a0)
	lbu	a3, 16(a0)
	lhu	a3, 16(a0)
	lwu	a3, 16(a0)
	ld	a3, 6(a0)		# misaligned within the page
	addi	a6, a0, 48
	sd	a1, -8(a6)
	ld	a3, -8(a6)
	sw	a1, -12(a6)
	lw	a3, -12(a6)
	sd	a2, 1032(a0)
	ld	a3, 1032(a0)
	lbu	a3, -1(a6)
	c.lw	a3, 4(a0)
	c.sw	a3, 4(a0)
	c.ld	a3, 8(a0)
	c.sd	a3, 8(a0)
	sb	a2, 0(a7)
	sw	a2, 4(a7)
	lbu	a3, 5(a7)
	lw	a3, 4(a7)
	ld	a3, 8(a7)
	sd	a3, 8(a7)
	addi	a6, a0, 24
	lr.d	a3, (a6)
	sc.d	a4, a2, (a6)
	lr.w	a3, (a6)
	sc.w	a4, a2, (a6)
	amoadd.d a3, a1, (a6)
	amoswap.w a3, a1, (a6)
	amoor.d	a3, a1, (a6)
	amoand.w a3, a1, (a6)
	amomax.d a3, a1, (a6)
	amominu.w a3, a1, (a6)
	fld	fa0, 8(a0)
	fsd	fa0, 32(a0)
	flw	fa1, 4(a0)
	fsw	fa1, 40(a0)
	fcvt.d.l fa2, a1
	fcvt.d.l fa3, a2
	fadd.d	fa4, fa2, fa3
	fmul.d	fa4, fa2, fa3
	fdiv.d	fa4, fa2, fa3
	fmadd.d	fa4, fa2, fa3, fa4
	fsgnj.d	fa4, fa2, fa3
	feq.d	a3, fa2, fa3
	flt.d	a3, fa2, fa3
	fcvt.l.d a3, fa4
	fmv.x.d	a3, fa4
	fmv.d.x	fa5, a2
	fcvt.s.d fa5, fa4
	fadd.s	fa5, fa5, fa5
	frflags	a3
	csrw	sscratch, a1
	csrrw	a3, sscratch, a2
	csrs	sscratch, a1
	csrc	sscratch, a1
	csrrsi	a3, sscratch, 4
	csrrci	a3, sscratch, 4
	csrr	a3, sstatus
	csrs	sstatus, zero
	rdtime	a3
	rdcycle	a3
	rdinstret a3
	beq	a1, a2, 3f
	bne	a1, a1, 3f
	blt	a2, a1, 3f
	bge	a1, a2, 3f
	bltu	a1, a2, 3f
	bgeu	a2, a1, 3f
	li	a4, 7
	li	a5, 9
	bltu	a5, a4, 3f
	bgeu	a4, a5, 3f
	blt	a5, a4, 3f
	bge	a4, a5, 3f
	beq	a1, a1, 4f
3:	nop
4:	bne	a1, a2, 5f
	nop
5:	blt	a1, a2, 6f
	nop
6:	bge	a2, a1, 7f
	nop
7:	bltu	a2, a1, 8f
	nop
8:	bgeu	a1, a2, 9f
	nop
9:	c.beqz	a3, 10f
	c.bnez	a3, 10f
10:	c.li	a3, -7
	c.addi	a3, 5
	c.mv	a4, a3
	c.add	a4, a3
	c.slli	a4, 3
	c.srli	a4, 1
	c.andi	a4, 12
	c.sub	a4, a3
	c.addw	a4, a3
	fence
	fence.i
	la	a5, leaf
	jalr	a5
	jal	leaf
	jr	s1
leaf:	c.jr	ra

# Data, the Sv39 root table (warmup.ts writes its two entries) and the stack.
	.equ	data, 0x80001000
	.equ	pt, 0x80002000
	.equ	stack_top, 0x80003800

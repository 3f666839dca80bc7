import { test } from "node:test";
import assert from "node:assert/strict";
import { Uart16550, UART_HOST_QUEUE_SIZE } from "../src/hw/char/uart16550.js";

const RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5, MSR = 6, SCR = 7;

function make() {
  const out: number[] = [];
  const irq = { level: false, set(l: boolean) { this.level = l; } };
  const uart = new Uart16550(irq, (b) => out.push(b));
  const rd = (off: number) => uart.read(off, 1);
  const wr = (off: number, v: number) => uart.write(off, v, 1);
  return { uart, out, irq, rd, wr };
}

test("reset state: THR empty, no interrupt, modem lines up", () => {
  const { rd, irq } = make();
  assert.equal(rd(LSR), 0x60);
  assert.equal(rd(IIR), 0x01);
  assert.equal(rd(MSR) & 0xf0, 0xb0);
  assert.equal(irq.level, false);
  assert.equal(rd(0x20), 0); // outside the eight registers
});

test("transmit goes to the callback; polling drivers see THRE/TEMT", () => {
  const { rd, wr, out } = make();
  for (const c of "hi\n") {
    assert.ok(rd(LSR) & 0x20);
    wr(THR, c.charCodeAt(0));
  }
  assert.deepEqual(out, [0x68, 0x69, 0x0a]);
  assert.equal(rd(LSR) & 0x60, 0x60);
});

test("DLAB switches offsets 0 and 1 to the divisor latch", () => {
  const { rd, wr, out } = make();
  wr(LCR, 0x83);
  wr(DLL, 0x01);
  wr(DLM, 0x02);
  assert.equal(rd(DLL), 0x01);
  assert.equal(rd(DLM), 0x02);
  assert.deepEqual(out, []);
  wr(LCR, 0x03);
  assert.equal(rd(IER), 0);
  assert.equal(rd(LCR), 0x03);
  wr(SCR, 0x5a);
  assert.equal(rd(SCR), 0x5a);
});

test("FIFO enable shows in IIR bits 6-7 like a 16550A", () => {
  const { rd, wr } = make();
  wr(FCR, 0x07);
  assert.equal(rd(IIR), 0xc1);
  wr(FCR, 0x00);
  assert.equal(rd(IIR), 0x01);
});

test("THRI: raised on enable, cleared by reading IIR, raised again by a write", () => {
  const { rd, wr, irq } = make();
  wr(IER, 0x02);
  assert.equal(irq.level, true);
  assert.equal(rd(IIR), 0x02);
  assert.equal(irq.level, false);
  assert.equal(rd(IIR), 0x01);
  // Linux's startup check: IER=0 then IER=THRI must show the interrupt again.
  wr(IER, 0);
  wr(IER, 0x02);
  assert.equal(rd(IIR) & 0x0f, 0x02);
  wr(THR, 0x41);
  assert.equal(irq.level, true);
  wr(IER, 0);
  assert.equal(irq.level, false);
});

test("receive: DR, RDI, and the IIR priority of RDI over THRI", () => {
  const { uart, rd, wr, irq } = make();
  wr(FCR, 0x01); // FIFO on, trigger level 1
  wr(IER, 0x03);
  rd(IIR); // take the THRI
  uart.receive(new Uint8Array([0x61, 0x62]));
  assert.equal(rd(LSR) & 0x01, 1);
  wr(THR, 0x21); // THRI pending too, but RDI wins
  assert.equal(rd(IIR), 0xc4);
  assert.equal(rd(RBR), 0x61);
  assert.equal(rd(RBR), 0x62);
  assert.equal(rd(LSR) & 0x01, 0);
  assert.equal(rd(IIR), 0xc2);
  assert.equal(irq.level, false);
  assert.equal(rd(RBR), 0); // empty FIFO reads 0
});

test("data below the trigger level reports a character timeout (0x0c)", () => {
  const { uart, rd, wr } = make();
  wr(FCR, 0xc1); // trigger at 14
  wr(IER, 0x01);
  uart.receive(new Uint8Array(3));
  assert.equal(rd(IIR), 0xcc);
  uart.receive(new Uint8Array(11));
  assert.equal(rd(IIR), 0xc4);
});

test("input longer than the FIFO is kept and delivered in order", () => {
  const { uart, rd, wr } = make();
  wr(FCR, 0x07);
  const text = new TextEncoder().encode("x".repeat(10) + "the quick brown fox jumps over the lazy dog ".repeat(40));
  assert.equal(uart.receive(text), text.length);
  const got: number[] = [];
  while (rd(LSR) & 0x01) got.push(rd(RBR));
  assert.deepEqual(got, [...text]);
  assert.equal(rd(LSR) & 0x02, 0); // no overrun
  assert.equal(uart.pendingInput(), 0);
});

test("without the FIFO the receiver holds one byte and still loses nothing", () => {
  const { uart, rd } = make();
  uart.receive(new Uint8Array([1, 2, 3]));
  assert.deepEqual([rd(RBR), rd(RBR), rd(RBR)], [1, 2, 3]);
  assert.equal(rd(LSR) & 0x01, 0);
});

test("a full host queue drops the excess and flags overrun (RLS interrupt)", () => {
  const { uart, rd, wr, irq } = make();
  wr(FCR, 0x01);
  wr(IER, 0x04);
  const n = uart.receive(new Uint8Array(UART_HOST_QUEUE_SIZE + 100));
  assert.equal(n, UART_HOST_QUEUE_SIZE);
  assert.equal(uart.pendingInput(), UART_HOST_QUEUE_SIZE);
  assert.equal(irq.level, true);
  assert.equal(rd(IIR), 0xc6);
  assert.equal(rd(LSR) & 0x03, 0x03);
  assert.equal(rd(LSR) & 0x02, 0); // cleared by the read
  assert.equal(irq.level, false);
});

test("FCR clear drops the FIFO but host input waiting behind it refills it", () => {
  const { uart, rd, wr } = make();
  wr(FCR, 0x01);
  uart.receive(new Uint8Array(20).map((_, i) => i));
  wr(FCR, 0x03);
  assert.equal(rd(RBR), 16);
  assert.equal(uart.pendingInput(), 3);
});

test("loopback: THR feeds the receiver, MCR drives MSR (Linux autoconfig)", () => {
  const { rd, wr, out } = make();
  wr(FCR, 0x01);
  wr(MCR, 0x10 | 0x0a);
  assert.equal(rd(MSR) & 0xf0, 0x90);
  wr(THR, 0x55);
  assert.deepEqual(out, []);
  assert.equal(rd(LSR) & 0x01, 1);
  assert.equal(rd(RBR), 0x55);
  wr(MCR, 0x10 | 0x05);
  const msr = rd(MSR);
  assert.equal(msr & 0xf0, 0x60);
  assert.equal(msr & 0x0b, 0x0b); // dCTS, dDSR, dDCD
  assert.equal(rd(MSR) & 0x0f, 0); // deltas clear on read
});

test("modem status interrupt has the lowest priority", () => {
  const { rd, wr, irq } = make();
  wr(IER, 0x08);
  wr(MCR, 0x10 | 0x02);
  assert.equal(irq.level, true);
  assert.equal(rd(IIR), 0x00);
  rd(MSR);
  assert.equal(irq.level, false);
});

// National Semiconductor 16550A UART ("ns16550a"), as QEMU models it: eight byte-wide
// registers at stride 1 (reg-shift 0), a 16-byte receive FIFO and an instant transmitter.
// Transmitted bytes go to `onTransmit`; host input arrives through `receive()` into a
// bounded host-side queue that refills the FIFO as the guest drains it, so pasted text
// longer than the FIFO is not lost (the queue plays the part of QEMU's chardev backlog).
import type { AccessSize, IrqLine, MmioDevice } from "../device.js";

// Register offsets (DLAB = LCR bit 7 switches 0 and 1 to the divisor latch).
const RBR_THR_DLL = 0;
const IER_DLM = 1;
const IIR_FCR = 2;
const LCR = 3;
const MCR = 4;
const LSR = 5;
const MSR = 6;
const SCR = 7;

// IER: interrupt enables.
const IER_RDI = 0x01; // received data available
const IER_THRI = 0x02; // transmitter holding register empty
const IER_RLSI = 0x04; // receiver line status
const IER_MSI = 0x08; // modem status

// IIR: interrupt identification, highest priority first. Bit 0 set = none pending.
const IIR_NO_INT = 0x01;
const IIR_RLSI = 0x06;
const IIR_RDI = 0x04;
const IIR_CTI = 0x0c; // character timeout: data below the FIFO trigger level
const IIR_THRI = 0x02;
const IIR_MSI = 0x00;
const IIR_FIFO_ENABLED = 0xc0;

// FCR: FIFO control (write only).
const FCR_ENABLE = 0x01;
const FCR_CLEAR_RX = 0x02;
const FCR_TRIGGER_SHIFT = 6;
const RX_TRIGGER_LEVELS = [1, 4, 8, 14];

const LCR_DLAB = 0x80;

// MCR: modem control; in loopback the outputs feed the MSR inputs.
const MCR_DTR = 0x01;
const MCR_RTS = 0x02;
const MCR_OUT1 = 0x04;
const MCR_OUT2 = 0x08;
const MCR_LOOP = 0x10;
const MCR_MASK = 0x1f;

// LSR: line status.
const LSR_DR = 0x01; // data ready
const LSR_OE = 0x02; // overrun error
const LSR_BI = 0x10; // break interrupt
const LSR_THRE = 0x20; // transmitter holding register empty
const LSR_TEMT = 0x40; // transmitter empty
const LSR_ERRORS = 0x1e; // OE | PE | FE | BI: what raises the line status interrupt

// MSR: modem status; the low nibble holds "changed since last read" bits.
const MSR_CTS = 0x10;
const MSR_DSR = 0x20;
const MSR_RI = 0x40;
const MSR_DCD = 0x80;
const MSR_DELTAS = 0x0f;
const MSR_TERI = 0x04; // RI trailing edge: set on a 1 -> 0 change of RI

export const UART_FIFO_SIZE = 16;
/** Host bytes waiting for room in the FIFO; beyond this, input is dropped (overrun). */
export const UART_HOST_QUEUE_SIZE = 4096;

export class Uart16550 implements MmioDevice {
  readonly size = 0x100;

  // Registers.
  private ier = 0;
  private lcr = 0;
  private mcr = MCR_OUT2;
  private lsr = LSR_THRE | LSR_TEMT;
  private msr = MSR_DCD | MSR_DSR | MSR_CTS; // a modem that is always there
  private scr = 0;
  private fcr = 0;
  private divisor = 0;
  /** THR became empty and the guest has not yet seen it in IIR. */
  private thrPending = false;

  // Receive path: the 16-byte FIFO (a ring) fed by the host queue (a ring).
  private readonly fifo = new Uint8Array(UART_FIFO_SIZE);
  private fifoHead = 0;
  private fifoCount = 0;
  private readonly hostQueue = new Uint8Array(UART_HOST_QUEUE_SIZE);
  private hostHead = 0;
  private hostCount = 0;

  private irqLevel = false;

  constructor(
    private readonly irq: IrqLine,
    private readonly onTransmit: (byte: number) => void,
  ) {}

  /**
   * Host input (a terminal, a test). Returns how many bytes were accepted; the rest did
   * not fit the host queue, were dropped, and set the overrun bit.
   */
  receive(bytes: Uint8Array): number {
    let accepted = 0;
    for (const b of bytes) {
      if (this.hostCount === UART_HOST_QUEUE_SIZE) break;
      this.hostQueue[(this.hostHead + this.hostCount) % UART_HOST_QUEUE_SIZE] = b;
      this.hostCount++;
      accepted++;
    }
    if (accepted < bytes.length) this.lsr |= LSR_OE;
    this.refillFifo();
    this.updateIrq();
    return accepted;
  }

  /** Bytes received from the host that the guest has not read yet (FIFO and queue). */
  pendingInput(): number {
    return this.fifoCount + this.hostCount;
  }

  read(offset: number, _size: AccessSize): number {
    switch (offset) {
      case RBR_THR_DLL:
        return this.dlab() ? this.divisor & 0xff : this.readRbr();
      case IER_DLM:
        return this.dlab() ? this.divisor >>> 8 : this.ier;
      case IIR_FCR:
        return this.readIir();
      case LCR:
        return this.lcr;
      case MCR:
        return this.mcr;
      case LSR:
        return this.readLsr();
      case MSR:
        return this.readMsr();
      case SCR:
        return this.scr;
      default:
        return 0;
    }
  }

  write(offset: number, value: number, _size: AccessSize): void {
    value &= 0xff;
    switch (offset) {
      case RBR_THR_DLL:
        if (this.dlab()) this.divisor = (this.divisor & 0xff00) | value;
        else this.transmit(value);
        return;
      case IER_DLM:
        if (this.dlab()) this.divisor = (this.divisor & 0x00ff) | (value << 8);
        else this.writeIer(value);
        return;
      case IIR_FCR:
        return this.writeFcr(value);
      case LCR:
        this.lcr = value;
        return;
      case MCR:
        return this.writeMcr(value);
      case SCR:
        this.scr = value;
        return;
      // LSR and MSR are read-only.
    }
  }

  private dlab(): boolean {
    return (this.lcr & LCR_DLAB) !== 0;
  }

  private fifoEnabled(): boolean {
    return (this.fcr & FCR_ENABLE) !== 0;
  }

  /** Without the FIFO the 16550 holds one received byte, like a 16450. */
  private rxCapacity(): number {
    return this.fifoEnabled() ? UART_FIFO_SIZE : 1;
  }

  private readRbr(): number {
    if (this.fifoCount === 0) return 0;
    const b = this.fifo[this.fifoHead];
    this.fifoHead = (this.fifoHead + 1) % UART_FIFO_SIZE;
    this.fifoCount--;
    this.refillFifo();
    this.updateIrq();
    return b;
  }

  /** The transmitter is instant: the byte leaves (or loops back) and THR is empty again. */
  private transmit(byte: number): void {
    if (this.mcr & MCR_LOOP) this.pushFifo(byte);
    else this.onTransmit(byte);
    this.lsr |= LSR_THRE | LSR_TEMT;
    this.thrPending = true;
    this.updateIrq();
  }

  private writeIer(value: number): void {
    const changed = (this.ier ^ value) & 0x0f;
    this.ier = value & 0x0f;
    // Enabling THRI while THR is empty raises it at once; Linux's startup test relies on it.
    if (changed & IER_THRI) this.thrPending = (this.ier & IER_THRI) !== 0 && (this.lsr & LSR_THRE) !== 0;
    this.updateIrq();
  }

  private writeFcr(value: number): void {
    // Toggling the enable bit clears the FIFOs, as on the real part.
    if ((value ^ this.fcr) & FCR_ENABLE) value |= FCR_CLEAR_RX;
    if (value & FCR_CLEAR_RX) {
      this.fifoHead = 0;
      this.fifoCount = 0;
      this.lsr &= ~LSR_DR;
    }
    // Bit 2 clears the transmit FIFO, which is always empty here.
    this.fcr = value & 0xc9;
    this.refillFifo();
    this.updateIrq();
  }

  private writeMcr(value: number): void {
    const before = this.modemInputs();
    this.mcr = value & MCR_MASK;
    const after = this.modemInputs();
    this.noteModemChange(before, after);
    // Leaving loopback may free FIFO room for waiting host input.
    this.refillFifo();
    this.updateIrq();
  }

  /** MSR's upper nibble: in loopback, DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD. */
  private modemInputs(): number {
    if (!(this.mcr & MCR_LOOP)) return this.msr & 0xf0;
    return ((this.mcr & MCR_DTR) ? MSR_DSR : 0) | ((this.mcr & MCR_RTS) ? MSR_CTS : 0) |
      ((this.mcr & MCR_OUT1) ? MSR_RI : 0) | ((this.mcr & MCR_OUT2) ? MSR_DCD : 0);
  }

  private noteModemChange(before: number, after: number): void {
    const changed = before ^ after;
    let deltas = (changed >>> 4) & 0x0b; // dCTS, dDSR, dDCD
    if ((before & MSR_RI) && !(after & MSR_RI)) deltas |= MSR_TERI;
    this.msr |= deltas;
  }

  private readIir(): number {
    const iir = this.currentIir();
    // Reading IIR acknowledges a THR-empty interrupt (it is re-raised by the next write).
    if (iir === IIR_THRI) {
      this.thrPending = false;
      this.updateIrq();
    }
    return iir | (this.fifoEnabled() ? IIR_FIFO_ENABLED : 0);
  }

  private readLsr(): number {
    const v = this.lsr;
    // Error bits clear on read.
    if (this.lsr & (LSR_OE | LSR_BI)) {
      this.lsr &= ~(LSR_OE | LSR_BI);
      this.updateIrq();
    }
    return v;
  }

  private readMsr(): number {
    const v = this.modemInputs() | (this.msr & MSR_DELTAS);
    if (this.msr & MSR_DELTAS) {
      this.msr &= ~MSR_DELTAS;
      this.updateIrq();
    }
    return v;
  }

  /** The highest-priority pending interrupt among the enabled ones, as an IIR code. */
  private currentIir(): number {
    if ((this.ier & IER_RLSI) && (this.lsr & LSR_ERRORS)) return IIR_RLSI;
    if ((this.ier & IER_RDI) && this.fifoCount > 0) {
      // No receive timer here: data below the trigger level reports a timeout at once.
      return this.fifoCount >= this.triggerLevel() ? IIR_RDI : IIR_CTI;
    }
    if ((this.ier & IER_THRI) && this.thrPending) return IIR_THRI;
    if ((this.ier & IER_MSI) && (this.msr & MSR_DELTAS)) return IIR_MSI;
    return IIR_NO_INT;
  }

  private triggerLevel(): number {
    return this.fifoEnabled() ? RX_TRIGGER_LEVELS[this.fcr >>> FCR_TRIGGER_SHIFT] : 1;
  }

  private updateIrq(): void {
    const level = this.currentIir() !== IIR_NO_INT;
    if (level === this.irqLevel) return;
    this.irqLevel = level;
    this.irq.set(level);
  }

  /** Loopback bytes enter the FIFO directly; a full FIFO drops them and flags overrun. */
  private pushFifo(byte: number): void {
    if (this.fifoCount >= this.rxCapacity()) {
      this.lsr |= LSR_OE;
      return;
    }
    this.fifo[(this.fifoHead + this.fifoCount) % UART_FIFO_SIZE] = byte;
    this.fifoCount++;
    this.lsr |= LSR_DR;
  }

  /** Moves waiting host bytes into the FIFO while it has room (not while looped back). */
  private refillFifo(): void {
    if (!(this.mcr & MCR_LOOP)) {
      while (this.hostCount > 0 && this.fifoCount < this.rxCapacity()) {
        this.fifo[(this.fifoHead + this.fifoCount) % UART_FIFO_SIZE] = this.hostQueue[this.hostHead];
        this.fifoCount++;
        this.hostHead = (this.hostHead + 1) % UART_HOST_QUEUE_SIZE;
        this.hostCount--;
      }
    }
    if (this.fifoCount > 0) this.lsr |= LSR_DR;
    else this.lsr &= ~LSR_DR;
  }
}

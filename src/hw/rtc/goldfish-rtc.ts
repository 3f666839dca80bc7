// Goldfish real-time clock ("google,goldfish-rtc"), as in QEMU's hw/rtc/goldfish_rtc.c and
// Linux's drivers/rtc/rtc-goldfish.c: a 64-bit count of nanoseconds since the Unix epoch
// and one alarm. Reading TIME_LOW latches TIME_HIGH so a low-then-high read is
// consistent. Writing TIME (hwclock -w) moves an offset against the host wall clock.
// The alarm arms on the ALARM_LOW write; one already due fires at once, later ones when
// the board's run loop calls poll().
import type { AccessSize, IrqLine, MmioDevice } from "../device.js";

const TIME_LOW = 0x00;
const TIME_HIGH = 0x04;
const ALARM_LOW = 0x08;
const ALARM_HIGH = 0x0c;
const IRQ_ENABLED = 0x10;
const CLEAR_ALARM = 0x14;
const ALARM_STATUS = 0x18;
const CLEAR_INTERRUPT = 0x1c;

const LOW32 = 0xffffffffn;

export class GoldfishRtc implements MmioDevice {
  readonly size = 0x1000;

  /** Guest time minus host wall time, in ns. */
  private offset = 0n;
  private timeHighLatch = 0;
  private alarmNext = 0n;
  private alarmRunning = false;
  private irqEnabled = false;
  private irqPending = false;
  private irqLevel = false;

  /** `wallNs` gives host wall-clock nanoseconds since the Unix epoch. */
  constructor(
    private readonly irq: IrqLine,
    private readonly wallNs: () => bigint,
  ) {}

  /** Fires the alarm if it is due; the run loop calls this now and then. */
  poll(): void {
    if (this.alarmRunning && this.now() >= this.alarmNext) this.fireAlarm();
  }

  /** Guest-visible RTC time in ns since the epoch. */
  now(): bigint {
    return this.wallNs() + this.offset;
  }

  read(offset: number, _size: AccessSize): number {
    switch (offset) {
      case TIME_LOW: {
        const t = BigInt.asUintN(64, this.now());
        this.timeHighLatch = Number(t >> 32n);
        return Number(t & LOW32);
      }
      case TIME_HIGH: return this.timeHighLatch;
      case ALARM_LOW: return Number(this.alarmNext & LOW32);
      case ALARM_HIGH: return Number(this.alarmNext >> 32n);
      case IRQ_ENABLED: return this.irqEnabled ? 1 : 0;
      case ALARM_STATUS: return this.alarmRunning ? 1 : 0;
      default: return 0;
    }
  }

  write(offset: number, value: number, _size: AccessSize): void {
    const v = BigInt(value >>> 0);
    switch (offset) {
      case TIME_LOW: return this.setTime((BigInt.asUintN(64, this.now()) & ~LOW32) | v);
      case TIME_HIGH: return this.setTime((BigInt.asUintN(64, this.now()) & LOW32) | (v << 32n));
      case ALARM_LOW:
        this.alarmNext = (this.alarmNext & ~LOW32) | v;
        return this.armAlarm();
      case ALARM_HIGH:
        this.alarmNext = (this.alarmNext & LOW32) | (v << 32n);
        return;
      case IRQ_ENABLED:
        this.irqEnabled = (value & 1) !== 0;
        return this.updateIrq();
      case CLEAR_ALARM:
        this.alarmRunning = false;
        return;
      case CLEAR_INTERRUPT:
        this.irqPending = false;
        return this.updateIrq();
    }
  }

  private setTime(t: bigint): void {
    this.offset = t - this.wallNs();
  }

  private armAlarm(): void {
    this.alarmRunning = true;
    this.poll();
  }

  private fireAlarm(): void {
    this.alarmRunning = false;
    this.irqPending = true;
    this.updateIrq();
  }

  private updateIrq(): void {
    const level = this.irqPending && this.irqEnabled;
    if (level === this.irqLevel) return;
    this.irqLevel = level;
    this.irq.set(level);
  }
}

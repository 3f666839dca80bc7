// The software execution loop both RISC-V boards share: run each hart for a slice of
// instructions, let the devices catch up (timer lines, RTC alarm, HTIF mailbox), and
// give the host's event loop a turn every few milliseconds so console input and timers
// are serviced. When every hart sits in WFI with nothing pending, the host sleeps until
// the next timer deadline or until input arrives: an idle guest costs no CPU.
// No Node imports: the same loop runs in a browser (setImmediate is used when present).
import type { Clock } from "../hw/device.js";
import type { JitStats } from "../accel/tcg/jit.js";
import type { RiscvCpu } from "../target/riscv/cpu.js";

/** What the loop drives; a guest reset swaps in a fresh one (see RunLoopOptions.reset). */
export interface RunTarget {
  readonly cpus: readonly RiscvCpu[];
  /** Device housekeeping after each slice: CLINT MTIP levels, RTC alarm, HTIF. */
  poll(): void;
  /** Clock time (the loop's Clock) of the next timer deadline, or Infinity. */
  nextDeadlineNs(): number;
}

export interface RunLoopOptions {
  clock: Clock;
  /**
   * Most instructions per hart per slice (default 100k); spike uses less to poll HTIF
   * often. Slices shrink when they take long (tracing, slow MMIO) so that the devices
   * and the host event loop are never starved.
   */
  sliceInstructions?: number;
  /** Builds the machine afresh after the guest asked for a reset. */
  reset?: () => RunTarget;
}

const DEFAULT_SLICE = 100_000;
const MIN_SLICE = 1_000;
/** A slice should take about this long: timer interrupts are raised between slices. */
const SLICE_TARGET_NS = 2e6;
/** Give the host event loop a turn at least this often while the guest computes. */
const YIELD_INTERVAL_NS = 10e6;
/** Longest single sleep: bounds how late an RTC alarm (which has no deadline here) fires. */
const MAX_SLEEP_MS = 50;

export class RunLoop {
  private target: RunTarget;
  private readonly clock: Clock;
  private readonly maxSlice: number;
  private slice: number;
  private readonly rebuild?: () => RunTarget;
  private exitCode: number | undefined;
  private resetPending = false;
  /** Instructions retired by harts of machines a reset has thrown away. */
  private retiredBefore = 0;
  private wakeSleeper: (() => void) | undefined;

  constructor(target: RunTarget, opts: RunLoopOptions) {
    this.target = target;
    this.clock = opts.clock;
    this.maxSlice = opts.sliceInstructions ?? DEFAULT_SLICE;
    this.slice = this.maxSlice;
    this.rebuild = opts.reset;
  }

  /** Runs until stop(); resolves with its code. */
  async run(): Promise<number> {
    let lastYield = this.clock.nowNs();
    while (this.exitCode === undefined) {
      if (this.resetPending) this.doReset();
      const busy = this.runSlice();
      this.target.poll();
      if (this.exitCode !== undefined) break;
      if (!busy && !this.anyRunnable()) {
        await this.sleep();
        lastYield = this.clock.nowNs();
      } else if (this.clock.nowNs() - lastYield >= YIELD_INTERVAL_NS) {
        await yieldToHost();
        lastYield = this.clock.nowNs();
      }
    }
    return this.exitCode;
  }

  /** Ends run() with `code` (the first code given wins). */
  stop(code: number): void {
    this.exitCode ??= code;
    this.wake();
  }

  /** Restarts the machine at the end of the current slice. */
  requestReset(): void {
    this.resetPending = true;
  }

  /** Ends a WFI sleep early: console input arrived. */
  wake(): void {
    const w = this.wakeSleeper;
    this.wakeSleeper = undefined;
    w?.();
  }

  instructionsRetired(): number {
    let n = this.retiredBefore;
    for (const cpu of this.target.cpus) n += cpu.instret;
    return n;
  }

  /** How the translator did since the last reset, all harts; undefined with jit=off. */
  engineReport(): string | undefined {
    const cpus = this.target.cpus.filter((c) => c.jit !== undefined);
    if (cpus.length === 0) return undefined;
    const sum = (f: (c: RiscvCpu) => number) => cpus.reduce((a, c) => a + f(c), 0);
    const retired = sum((c) => c.instret);
    const translated = sum((c) => c.translatedRetired);
    const st = (k: keyof JitStats) => sum((c) => c.jit!.stats[k]);
    const pct = retired > 0 ? (100 * translated) / retired : 0;
    return `translator: ${pct.toFixed(1)}% of instructions in translated code, ${sum((c) => c.dispatches)} entries, ` +
      `${sum((c) => c.chunkCalls)} chunk calls, ` +
      `${st("chunksTranslated")} chunks (${st("instructionsTranslated")} instructions) in ${st("modules")} modules, ` +
      `${st("tierUps")} retranslated at tier 2, compile ${st("compileMs").toFixed(0)} ms, ` +
      `${st("invalidations")} invalidations, ${st("flushes")} flushes`;
  }

  /** One slice on every hart that can run; false when all of them are waiting. */
  private runSlice(): boolean {
    let busy = false;
    const start = this.clock.nowNs();
    let ran = 0;
    for (const cpu of this.target.cpus) {
      if (cpu.waiting) {
        if (!cpu.interruptPending()) continue;
        cpu.waiting = false;
      }
      busy = true;
      ran += cpu.run(this.slice);
      if (this.exitCode !== undefined || this.resetPending) break;
    }
    if (ran >= this.slice) this.tuneSlice(this.clock.nowNs() - start);
    return busy;
  }

  /** Halves or doubles the slice toward SLICE_TARGET_NS of wall time. */
  private tuneSlice(elapsedNs: number): void {
    if (elapsedNs > 2 * SLICE_TARGET_NS) this.slice = Math.max(MIN_SLICE, this.slice >> 1);
    else if (elapsedNs < SLICE_TARGET_NS / 2) this.slice = Math.min(this.maxSlice, this.slice * 2);
  }

  /** After poll(): does some waiting hart now have an interrupt to take? */
  private anyRunnable(): boolean {
    return this.resetPending || this.target.cpus.some((c) => !c.waiting || c.interruptPending());
  }

  private doReset(): void {
    this.resetPending = false;
    if (this.rebuild === undefined) return;
    for (const cpu of this.target.cpus) this.retiredBefore += cpu.instret;
    this.target = this.rebuild();
  }

  /** Sleeps until the next timer deadline, input (wake) or stop, whichever comes first. */
  private sleep(): Promise<void> {
    const delayNs = this.target.nextDeadlineNs() - this.clock.nowNs();
    if (delayNs <= 0) return yieldToHost();
    const ms = Math.min(MAX_SLEEP_MS, Math.ceil(delayNs / 1e6));
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.wakeSleeper = undefined;
        resolve();
      }, ms);
      this.wakeSleeper = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/** Lets pending host events (input, timers, I/O) run, then continues. */
function yieldToHost(): Promise<void> {
  return typeof setImmediate === "function"
    ? new Promise((resolve) => setImmediate(resolve))
    : new Promise((resolve) => setTimeout(resolve, 0));
}

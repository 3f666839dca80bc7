// A one-line progress display for long host work (guest builds, image conversion).
// On a TTY: a spinner (or a bar when the total is known) with the step name, elapsed
// time and the latest detail, redrawn in place. Elsewhere (CI, pipes): plain lines at
// step changes and a "still working" line now and then, so logs stay short.

const SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏";
const TTY_REDRAW_MS = 100;
const PLAIN_HEARTBEAT_MS = 30_000;
const BAR_WIDTH = 20;

export interface ProgressUpdate {
  /** Units of work finished so far (files compiled, bytes written). */
  done?: number;
  /** Units expected in all; with `done` it turns the spinner into a bar. */
  total?: number;
  /** A short note shown after the time, e.g. the file being compiled. */
  detail?: string;
}

export interface ProgressOptions {
  /** Where to draw; default process.stderr. */
  stream?: NodeJS.WriteStream;
  /** Force the TTY (true) or plain (false) style; default: stream.isTTY. */
  tty?: boolean;
}

/** Formats milliseconds as m:ss (or h:mm:ss). */
export function formatElapsed(ms: number): string {
  const s = Math.floor(ms / 1000);
  const two = (n: number) => String(n).padStart(2, "0");
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}:${two(m)}:${two(s % 60)}` : `${m}:${two(s % 60)}`;
}

function bar(done: number, total: number): string {
  const frac = Math.max(0, Math.min(1, done / total));
  const full = Math.round(frac * BAR_WIDTH);
  return `[${"#".repeat(full)}${"-".repeat(BAR_WIDTH - full)}] ${String(Math.floor(frac * 100)).padStart(3)}%`;
}

export class Progress {
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;
  private stepName = "";
  private stepStart = 0;
  private state: ProgressUpdate = {};
  private timer: NodeJS.Timeout | undefined;
  private frame = 0;
  private lastPlain = 0;

  constructor(private readonly title: string, options: ProgressOptions = {}) {
    this.stream = options.stream ?? process.stderr;
    this.tty = options.tty ?? Boolean(this.stream.isTTY);
  }

  /** Starts a new step; the previous one is reported as finished. */
  step(name: string, update: ProgressUpdate = {}): void {
    this.finishStep("done");
    this.stepName = name;
    this.stepStart = Date.now();
    this.state = { ...update };
    this.lastPlain = this.stepStart;
    if (this.tty) {
      this.timer = setInterval(() => this.draw(), TTY_REDRAW_MS);
      this.timer.unref();
      this.draw();
    } else {
      this.stream.write(`${this.title}: ${name}...\n`);
    }
  }

  /** Updates the running step's counters or detail. Cheap; call as often as you like. */
  update(update: ProgressUpdate): void {
    Object.assign(this.state, update);
    if (this.tty || !this.stepName) return;
    const now = Date.now();
    if (now - this.lastPlain >= PLAIN_HEARTBEAT_MS) {
      this.lastPlain = now;
      this.stream.write(`${this.title}: ${this.stepName} ${this.counters()}(${formatElapsed(now - this.stepStart)})\n`);
    }
  }

  /** Prints a line above the bar without breaking it. */
  log(line: string): void {
    if (this.tty) this.clearLine();
    this.stream.write(line + "\n");
    if (this.tty && this.timer) this.draw();
  }

  /** Ends the running step as finished. */
  done(): void {
    this.finishStep("done");
  }

  /** Ends the running step as failed. */
  fail(): void {
    this.finishStep("FAILED");
  }

  private finishStep(verdict: string): void {
    if (!this.stepName) return;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.tty) this.clearLine();
    this.stream.write(`${this.title}: ${this.stepName} ${verdict} (${formatElapsed(Date.now() - this.stepStart)})\n`);
    this.stepName = "";
  }

  private counters(): string {
    const { done, total } = this.state;
    if (done === undefined) return "";
    return total ? `${bar(done, total)} ` : `${done} `;
  }

  private draw(): void {
    const { done, total, detail } = this.state;
    const head = total && done !== undefined ? bar(done, total) : SPINNER[this.frame++ % SPINNER.length];
    const elapsed = formatElapsed(Date.now() - this.stepStart);
    let line = `${head} ${this.title}: ${this.stepName} ${elapsed}${detail ? "  " + detail : ""}`;
    const width = this.stream.columns || 80;
    if (line.length > width - 1) line = line.slice(0, width - 1);
    this.stream.write(`\r${line}\x1b[K`);
  }

  private clearLine(): void {
    this.stream.write("\r\x1b[K");
  }
}

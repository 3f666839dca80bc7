// The interactive console: this process's stdin/stdout wired to the guest's UART, with
// QEMU's character-device multiplexer behaviour (chardev/char-mux.c) for -serial mon:stdio:
// Ctrl-A is an escape prefix (Ctrl-A X quits, Ctrl-A H lists the escapes, Ctrl-A Ctrl-A
// sends a Ctrl-A, Ctrl-A T toggles timestamps) and Ctrl-C goes to the guest. With
// -serial stdio there are no escapes and Ctrl-C, Ctrl-\ and Ctrl-Z act on tsvisor, as
// QEMU's stdio backend leaves the terminal's signals on.
//
// ConsoleMux is the pure part (bytes in -> bytes for the guest + actions) and is unit
// tested; Terminal adds the TTY: raw mode, restored on every way out.

export const CTRL_A = 0x01;
const CTRL_C = 0x03;
const CTRL_BACKSLASH = 0x1c;
const CTRL_Z = 0x1a;
const LF = 0x0a;

/** What Ctrl-A H prints (QEMU's wording, only the escapes that exist here). */
export const ESCAPE_HELP =
  "C-a h    print this help\n" +
  "C-a x    exit emulator\n" +
  "C-a t    toggle console timestamps\n" +
  "C-a C-a  sends C-a\n";

export const TERMINATED_MESSAGE = "tsvisor: terminated\n";

export type ConsoleAction =
  | "quit" // Ctrl-A X
  | "help" // Ctrl-A H
  | "timestamps" // Ctrl-A T (the mux has toggled them already)
  | "interrupt" // Ctrl-C under -serial stdio: as SIGINT
  | "sigquit" // Ctrl-\ under -serial stdio: as SIGQUIT
  | "suspend"; // Ctrl-Z under -serial stdio: as SIGTSTP

export interface ConsoleMuxOptions {
  /** Ctrl-A escapes (-serial mon:stdio). */
  escapes: boolean;
  /** Terminal signal keys act on tsvisor (-serial stdio on a TTY in raw mode). */
  signals: boolean;
}

export interface ConsoleInput {
  /** Bytes to hand to the guest, in order. */
  guest: Uint8Array;
  /** Escapes and signal keys seen, in order. */
  actions: ConsoleAction[];
}

export class ConsoleMux {
  private gotEscape = false;
  private timestamps = false;
  private timestampsStartMs = -1;
  private lineStart = false;

  constructor(private readonly opts: ConsoleMuxOptions) {}

  /** Splits typed bytes into guest input and actions; an escape may span chunks. */
  input(data: Uint8Array): ConsoleInput {
    const { escapes, signals } = this.opts;
    if (!escapes && !signals) return { guest: data, actions: [] };
    const guest: number[] = [];
    const actions: ConsoleAction[] = [];
    for (const byte of data) {
      if (this.gotEscape) {
        this.gotEscape = false;
        if (byte === CTRL_A) guest.push(byte);
        else this.escape(byte, actions);
      } else if (escapes && byte === CTRL_A) {
        this.gotEscape = true;
      } else if (signals && signalAction(byte) !== undefined) {
        actions.push(signalAction(byte)!);
      } else {
        guest.push(byte);
      }
    }
    return { guest: Uint8Array.from(guest), actions };
  }

  /** Output to the user: "[hh:mm:ss.mmm] " before each line while timestamps are on. */
  output(data: Uint8Array, nowMs: number): Uint8Array {
    if (!this.timestamps) return data;
    if (this.timestampsStartMs < 0) this.timestampsStartMs = nowMs;
    const stamp = new TextEncoder().encode(formatStamp(nowMs - this.timestampsStartMs));
    const out: number[] = [];
    for (const byte of data) {
      if (this.lineStart) {
        out.push(...stamp);
        this.lineStart = false;
      }
      out.push(byte);
      if (byte === LF) this.lineStart = true;
    }
    return Uint8Array.from(out);
  }

  /** An escape letter after Ctrl-A; unknown ones are ignored as in QEMU. */
  private escape(byte: number, actions: ConsoleAction[]): void {
    switch (String.fromCharCode(byte).toLowerCase()) {
      case "x":
        actions.push("quit");
        break;
      case "h":
      case "?":
        actions.push("help");
        break;
      case "t":
        // As QEMU: the clock restarts and the first stamp waits for the next line.
        this.timestamps = !this.timestamps;
        this.timestampsStartMs = -1;
        this.lineStart = false;
        actions.push("timestamps");
        break;
    }
  }
}

function signalAction(byte: number): ConsoleAction | undefined {
  if (byte === CTRL_C) return "interrupt";
  if (byte === CTRL_BACKSLASH) return "sigquit";
  if (byte === CTRL_Z) return "suspend";
  return undefined;
}

function formatStamp(ms: number): string {
  const secs = Math.floor(ms / 1000);
  const two = (n: number) => String(n).padStart(2, "0");
  const h = Math.floor(secs / 3600);
  return `[${two(h)}:${two(Math.floor(secs / 60) % 60)}:${two(secs % 60)}.${String(Math.floor(ms % 1000)).padStart(3, "0")}] `;
}

/** Lines end in CR LF as QEMU writes them, right whatever the terminal's output mode. */
function crlf(text: string): string {
  return text.replace(/\n/g, "\r\n");
}

export interface TerminalOptions {
  serial: "mon:stdio" | "stdio" | "none";
  stdin?: NodeJS.ReadStream;
  stdout?: NodeJS.WriteStream;
  /** Milliseconds for console timestamps; performance.now() unless a test steps it. */
  nowMs?: () => number;
}

export interface TerminalEvents {
  /** Bytes the user typed, for the guest. */
  input(data: Uint8Array): void;
  /** Ctrl-A X: the message is printed; end the machine with status 0. */
  quit(): void;
  /** A terminal signal key under -serial stdio, to be treated as that signal. */
  signal(name: "SIGINT" | "SIGQUIT"): void;
  /** Nobody reads the output any more (tsvisor | head): end quietly. */
  outputClosed?(): void;
}

export class Terminal {
  private readonly stdin: NodeJS.ReadStream;
  private readonly stdout: NodeJS.WriteStream;
  private readonly mux: ConsoleMux;
  private readonly nowMs: () => number;
  private raw = false;
  private started = false;
  private pending: Uint8Array[] = [];
  private flushScheduled = false;
  private events?: TerminalEvents;
  private readonly onContinue = () => this.enterRaw();
  private readonly onExit = () => this.restore();

  constructor(private readonly opts: TerminalOptions) {
    this.stdin = opts.stdin ?? process.stdin;
    this.stdout = opts.stdout ?? process.stdout;
    this.nowMs = opts.nowMs ?? (() => performance.now());
    const tty = this.stdin.isTTY === true;
    this.mux = new ConsoleMux({
      escapes: opts.serial === "mon:stdio",
      signals: opts.serial === "stdio" && tty,
    });
    // A closed reader (tsvisor | head) must end the run quietly, not crash it.
    this.stdout.on("error", () => this.events?.outputClosed?.());
  }

  /** Starts reading the keyboard. With -serial none nothing is read. */
  start(events: TerminalEvents): void {
    if (this.started || this.opts.serial === "none") return;
    this.started = true;
    this.events = events;
    this.enterRaw();
    process.on("exit", this.onExit);
    process.on("SIGCONT", this.onContinue);
    this.stdin.on("data", (chunk: Buffer) => this.typed(chunk, events));
    // At EOF (a pipe, /dev/null) the guest keeps running; it ends by power-off or signal.
    this.stdin.on("error", () => {});
    this.stdin.resume();
  }

  /** Guest console output, batched into one stdout write per event-loop turn. */
  write(data: Uint8Array): void {
    if (this.opts.serial === "none") return;
    this.pending.push(this.mux.output(data, this.nowMs()));
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Writes out batched output now (before exiting). */
  flush(): void {
    this.flushScheduled = false;
    if (this.pending.length === 0) return;
    const data = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending);
    this.pending = [];
    if (this.stdout.writable) this.stdout.write(data);
  }

  /** Leaves raw mode and stops reading; safe to call more than once. */
  restore(): void {
    this.flush();
    if (this.raw) {
      this.raw = false;
      try {
        this.stdin.setRawMode(false);
      } catch {
        // The terminal may be gone (SIGHUP); nothing left to restore.
      }
    }
    if (this.started) {
      this.started = false;
      process.off("SIGCONT", this.onContinue);
      process.off("exit", this.onExit);
      this.stdin.pause();
    }
  }

  private enterRaw(): void {
    if (this.stdin.isTTY !== true || this.raw) return;
    this.stdin.setRawMode(true);
    this.raw = true;
  }

  private typed(chunk: Buffer, events: TerminalEvents): void {
    const { guest, actions } = this.mux.input(chunk);
    if (guest.length > 0) events.input(guest);
    for (const action of actions) {
      switch (action) {
        case "quit":
          this.flush();
          this.stdout.write(crlf(TERMINATED_MESSAGE));
          events.quit();
          return;
        case "help":
          this.flush();
          this.stdout.write(crlf(ESCAPE_HELP));
          break;
        case "interrupt":
          events.signal("SIGINT");
          break;
        case "sigquit":
          events.signal("SIGQUIT");
          break;
        case "suspend":
          this.suspend();
          break;
        case "timestamps":
          break;
      }
    }
  }

  /** Ctrl-Z under -serial stdio: give the shell its terminal back; SIGCONT re-enters raw mode. */
  private suspend(): void {
    this.flush();
    if (this.raw) {
      this.stdin.setRawMode(false);
      this.raw = false;
    }
    process.kill(process.pid, "SIGTSTP");
  }
}

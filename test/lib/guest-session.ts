// An expect-like driver for a guest on the serial console: spawn tsvisor (or QEMU with
// the same flags), wait for text on the console, type commands like a person, quit with
// Ctrl-A X and collect the exit status. Used by the boot tests and the benchmark.
//
//   const s = GuestSession.tsvisor(["-M", "virt", "-nographic", "-bios", "default"]);
//   await s.expect("Platform Name");
//   s.quit();
//   assert.equal((await s.exit()).code, 0);
//
// On an expect timeout (or if the emulator exits first) the error carries the last
// ~2 KB of console output and stderr, so a failed boot shows where it stopped.
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants as fsConstants, statSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** dist/src/cli/main.js, found from this file's place in dist/test/lib/. */
export const TSVISOR_MAIN = fileURLToPath(new URL("../../src/cli/main.js", import.meta.url));

/** Generous: the machine running the tests is shared with builds. */
export const DEFAULT_TIMEOUT_MS = 120_000;

/** Pause between typed characters: a fast typist, and slow enough that the guest's
 *  line discipline echoes each key as it would for a person. */
const TYPE_DELAY_MS = 3;

/** How much console output an error message shows. */
const TAIL_CHARS = 2048;

export const CTRL_A_X = "\x01x";

export interface SessionOptions {
  /** The program to run; its arguments are `args`. */
  program: string;
  args: string[];
  /** Added to this process's environment. */
  env?: Record<string, string>;
  /** Shown in error messages ("tsvisor", "qemu"). */
  name?: string;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class ExpectTimeoutError extends Error {
  override readonly name = "ExpectTimeoutError";
}

interface Waiter {
  pattern: RegExp;
  resolve(text: string): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
  description: string;
}

export class GuestSession {
  /** Everything the guest's console printed so far. */
  output = "";
  /** Everything the emulator wrote to stderr so far. */
  stderr = "";
  /** performance.now() when the process was spawned. */
  readonly startedAt: number;
  /** The match of the latest expect(). */
  lastMatch: RegExpExecArray | null = null;
  /** Where the next expect() starts looking in `output`. */
  private cursor = 0;
  private readonly child: ChildProcess;
  private readonly name: string;
  private waiter?: Waiter;
  private status?: ExitStatus;
  private readonly exited: Promise<ExitStatus>;
  private stderrListeners: Array<() => void> = [];

  constructor(opts: SessionOptions) {
    this.name = opts.name ?? opts.program;
    this.startedAt = performance.now();
    this.child = spawn(opts.program, opts.args, {
      env: { ...process.env, ...opts.env },
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.child.stdout!.setEncoding("latin1");
    this.child.stderr!.setEncoding("latin1");
    this.child.stdout!.on("data", (chunk: string) => {
      this.output += chunk;
      this.check();
    });
    this.child.stderr!.on("data", (chunk: string) => {
      this.stderr += chunk;
      for (const listener of this.stderrListeners) listener();
    });
    // A guest that has exited cannot read; its stdin closing is not our error.
    this.child.stdin!.on("error", () => {});
    this.exited = new Promise((resolve) => {
      this.child.on("error", (err) => {
        this.stderr += `\n[spawn ${opts.program}: ${err.message}]\n`;
        this.status = { code: null, signal: null };
        resolve(this.status);
        this.failWaiter("could not start");
      });
      this.child.on("close", (code, signal) => {
        this.status = { code, signal };
        resolve(this.status);
        this.failWaiter(`exited (code ${code}, signal ${signal})`);
      });
    });
  }

  /** tsvisor (node dist/src/cli/main.js) with QEMU-style flags. */
  static tsvisor(args: string[], env?: Record<string, string>): GuestSession {
    return new GuestSession({ program: process.execPath, args: [TSVISOR_MAIN, ...args], env, name: "tsvisor" });
  }

  /** qemu-system-riscv64 with the same flags. */
  static qemu(args: string[], env?: Record<string, string>): GuestSession {
    return new GuestSession({ program: "qemu-system-riscv64", args, env, name: "qemu" });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Exit status once the process has ended, else undefined. */
  get exitStatus(): ExitStatus | undefined {
    return this.status;
  }

  /** Waits until `pattern` appears in console output after the previous match; resolves
   *  to the output from there up to and including the match. */
  expect(pattern: RegExp | string, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<string> {
    if (this.waiter) return Promise.reject(new Error("expect(): another expect() is still waiting"));
    const regex = typeof pattern === "string" ? new RegExp(escapeRegExp(pattern)) : pattern;
    const description = typeof pattern === "string" ? JSON.stringify(pattern) : String(pattern);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => this.failWaiter(`did not print ${description} within ${(timeoutMs / 1000).toFixed(0)} s`),
        timeoutMs,
      );
      this.waiter = { pattern: regex, resolve, reject, timer, description };
      this.check();
      if (this.waiter && this.status) this.failWaiter(`exited (code ${this.status.code}, signal ${this.status.signal})`);
    });
  }

  /** Types `text` one character at a time (type a command only once its prompt shows). */
  async send(text: string, delayMs = TYPE_DELAY_MS): Promise<void> {
    for (const ch of text) {
      this.sendRaw(ch);
      if (delayMs > 0) await sleep(delayMs);
    }
  }

  /** Writes bytes to the console input at once. */
  sendRaw(data: string | Uint8Array): void {
    if (this.status || this.child.stdin!.destroyed) return;
    this.child.stdin!.write(typeof data === "string" ? Buffer.from(data, "latin1") : data);
  }

  /** At a shell prompt: types `command` + "\n", waits for `prompt` and returns what the
   *  command printed (without the echoed command line and the prompt), lines joined by "\n". */
  async command(command: string, prompt: string | RegExp, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<string> {
    await this.send(`${command}\n`);
    const text = await this.expect(prompt, timeoutMs);
    const body = text.slice(0, text.length - (this.lastMatch?.[0].length ?? 0));
    const lines = stripAnsi(body).replace(/\r/g, "").split("\n");
    // The first line is the shell's echo of the command.
    const echo = lines.findIndex((line) => line.includes(command));
    return lines.slice(echo + 1).join("\n").replace(/\n$/, "");
  }

  /** Ctrl-A X: the emulator's console escape to quit (status 0). */
  quit(): void {
    this.sendRaw(CTRL_A_X);
  }

  /** Waits for the process to end; kills it (SIGKILL) after `timeoutMs`. */
  async exit(timeoutMs = DEFAULT_TIMEOUT_MS): Promise<ExitStatus> {
    if (this.status) return this.status;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), timeoutMs)));
    const result = await Promise.race([this.exited, timedOut]);
    clearTimeout(timer);
    if (result === "timeout") {
      this.child.kill("SIGKILL");
      await this.exited;
      throw new ExpectTimeoutError(this.failure(`did not exit within ${(timeoutMs / 1000).toFixed(0)} s`));
    }
    return result;
  }

  /** Ends the process now (SIGKILL) if it still runs; safe to call more than once. */
  close(): void {
    if (!this.status) this.child.kill("SIGKILL");
    if (this.waiter) this.failWaiter("was closed");
  }

  /** Sends a signal to the emulator (e.g. SIGUSR2 for tsvisor's TSVISOR_STATS line). */
  kill(signal: NodeJS.Signals): void {
    if (!this.status) this.child.kill(signal);
  }

  /** Waits until stderr matches `pattern` after position `from`; resolves to the match. */
  expectStderr(pattern: RegExp, from = 0, timeoutMs = 10_000): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const look = (): boolean => {
        const m = pattern.exec(this.stderr.slice(from));
        if (!m) return false;
        done();
        resolve(m);
        return true;
      };
      const timer = setTimeout(() => {
        done();
        reject(new ExpectTimeoutError(this.failure(`did not write ${pattern} to stderr`)));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        this.stderrListeners = this.stderrListeners.filter((l) => l !== listener);
      };
      const listener = () => void look();
      this.stderrListeners.push(listener);
      look();
    });
  }

  /** The last ~2 KB of console output, control characters made visible. */
  tail(chars = TAIL_CHARS): string {
    return visible(this.output.slice(-chars));
  }

  private check(): void {
    const w = this.waiter;
    if (!w) return;
    w.pattern.lastIndex = 0;
    const m = w.pattern.exec(this.output.slice(this.cursor));
    if (!m) return;
    const end = this.cursor + m.index + m[0].length;
    const text = this.output.slice(this.cursor, end);
    this.cursor = end;
    this.lastMatch = m;
    this.waiter = undefined;
    clearTimeout(w.timer);
    w.resolve(text);
  }

  private failWaiter(why: string): void {
    const w = this.waiter;
    if (!w) return;
    this.waiter = undefined;
    clearTimeout(w.timer);
    w.reject(new ExpectTimeoutError(this.failure(`${why} (waiting for ${w.description})`)));
  }

  private failure(why: string): string {
    const err = this.stderr.trim() ? `\n--- stderr (last ${TAIL_CHARS} chars) ---\n${visible(this.stderr.slice(-TAIL_CHARS))}` : "";
    return `${this.name} ${why}\n--- console (last ${TAIL_CHARS} chars) ---\n${this.tail()}${err}\n---`;
  }
}

/** Removes terminal escape sequences (the shell's line editor may send some). */
export function stripAnsi(text: string): string {
  return text.replace(/\x1b\[[0-9;?]*[ -\/]*[@-~]/g, "").replace(/\x1b[()][0-9A-Za-z]/g, "");
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Keeps newlines; shows other control bytes as \xNN so a stuck escape sequence is visible. */
function visible(text: string): string {
  return text.replace(/\r\n/g, "\n").replace(/[\x00-\x08\x0b-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Whether `program` can be found on PATH. */
export function onPath(program: string): boolean {
  const dirs = (process.env.PATH ?? "").split(":");
  return dirs.some((dir) => {
    try {
      return dir !== "" && isExecutable(`${dir}/${program}`);
    } catch {
      return false;
    }
  });
}

function isExecutable(file: string): boolean {
  if (!statSync(file).isFile()) return false;
  accessSync(file, fsConstants.X_OK);
  return true;
}

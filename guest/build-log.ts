// Runs build commands with their output going to a log file (the full story, kept under
// the cache) while the last lines stay in memory for a failure message.

import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

const TAIL_LINES = 25;

export class BuildError extends Error {
  constructor(message: string, readonly logFile: string, readonly tail: readonly string[]) {
    super(message);
  }
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Called with each line of output (stdout and stderr mixed), e.g. to count progress. */
  onLine?: (line: string) => void;
  /** Send stdout to this file instead of the log (for commands that write data). */
  stdoutFile?: string;
}

/** Build commands running now, each the leader of its own process group. */
const running = new Set<number>();

/** Stops every running build command and its children (make's compilers, too). */
export function killRunningCommands(signal: NodeJS.Signals = "SIGTERM"): void {
  for (const pid of running) {
    try {
      process.kill(-pid, signal);
    } catch {
      // already gone
    }
  }
}

process.on("exit", () => killRunningCommands());

export class BuildLog {
  private readonly fd: number;
  private readonly tail: string[] = [];

  constructor(readonly file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.fd = fs.openSync(file, "w");
  }

  /** Writes a line of our own to the log. */
  note(line: string): void {
    this.append(`# ${line}\n`);
  }

  lastLines(): readonly string[] {
    return this.tail;
  }

  close(): void {
    fs.closeSync(this.fd);
  }

  /** Runs a command to completion; rejects with a BuildError if it fails. */
  run(cmd: string, args: readonly string[], options: RunOptions = {}): Promise<void> {
    this.note(`$ ${options.cwd ? `(cd ${options.cwd}) ` : ""}${[cmd, ...args].join(" ")}`);
    const out = options.stdoutFile ? fs.openSync(options.stdoutFile, "w") : "pipe";
    const child = spawn(cmd, args, {
      cwd: options.cwd,
      env: { LC_ALL: "C", ...(options.env ?? process.env) },
      stdio: ["ignore", out, "pipe"],
      detached: true, // its own process group, so killRunningCommands reaches make's children
    });
    if (child.pid) running.add(child.pid);
    let partial = "";
    const take = (chunk: Buffer) => {
      this.append(chunk);
      const lines = (partial + chunk.toString("utf8")).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) this.keep(line, options.onLine);
    };
    child.stdout?.on("data", take);
    child.stderr?.on("data", take);
    return new Promise((resolve, reject) => {
      child.on("error", (e) => reject(this.failure(`${cmd}: ${e.message}`)));
      child.on("close", (code, signal) => {
        if (child.pid) running.delete(child.pid);
        if (typeof out === "number") fs.closeSync(out);
        if (partial) this.keep(partial, options.onLine);
        if (code === 0) return resolve();
        reject(this.failure(`${cmd} ${args.slice(0, 3).join(" ")} failed (${signal ?? `exit ${code}`})`));
      });
    });
  }

  failure(message: string): BuildError {
    this.note(message);
    return new BuildError(message, this.file, [...this.tail]);
  }

  private keep(line: string, onLine?: (line: string) => void): void {
    this.tail.push(line);
    if (this.tail.length > TAIL_LINES) this.tail.shift();
    onLine?.(line);
  }

  private append(data: string | Buffer): void {
    if (typeof data === "string") fs.writeSync(this.fd, data);
    else fs.writeSync(this.fd, data);
  }
}

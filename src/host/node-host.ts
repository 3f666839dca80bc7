// MachineHost on Node.js: files through fs, the console through a Terminal, clocks
// from process.hrtime and Date, and the -d trace through a buffered writer.
import * as fs from "node:fs";
import { webcrypto } from "node:crypto";
import type { BlockBackend } from "../block/block-backend.js";
import type { DriveConfig, MachineConfig, NetdevConfig } from "../machine/config.js";
import type { NetBackend } from "../net/net-backend.js";
import { UserError, type MachineHost } from "../machine/machine.js";
import type { Terminal } from "./terminal.js";

export interface NodeHostOptions {
  /** The console; without one (-serial none) guest output is dropped. */
  terminal?: Terminal;
  /** The -d trace; without one host.trace stays undefined and the CPU pays nothing. */
  trace?: TraceWriter;
}

// The image formats and the network stack: loaded by prepare() when a -drive or -netdev
// needs them (a boot without either starts ~25 ms sooner).
type BlockLayer = typeof import("../block/open-image.js");
type NetStack = typeof import("../net/create.js");

export class NodeHost implements MachineHost {
  readonly trace?: (line: string) => void;
  private inputHandler?: (data: Uint8Array) => void;
  /** Typed before the board registered its UART; delivered on registration. */
  private early: Uint8Array[] = [];
  private readonly startHr = process.hrtime();
  /** Open images, closed (committed, unlocked) by flush() at exit. */
  private drives: BlockBackend[] = [];
  /** Network backends, closed (sockets, tap fds) by flush() at exit. */
  private nets: NetBackend[] = [];
  private block?: BlockLayer;
  private net?: NetStack;

  constructor(private readonly opts: NodeHostOptions = {}) {
    const trace = opts.trace;
    if (trace) this.trace = (line) => trace.line(line);
  }

  readFile(path: string): Uint8Array {
    try {
      return fs.readFileSync(path);
    } catch (err) {
      throw new UserError(fsErrorMessage(err, "read", path));
    }
  }

  writeFile(path: string, data: Uint8Array): void {
    try {
      fs.writeFileSync(path, data);
    } catch (err) {
      throw new UserError(fsErrorMessage(err, "write", path));
    }
  }

  consoleWrite(data: Uint8Array): void {
    this.opts.terminal?.write(data);
  }

  onConsoleInput(handler: (data: Uint8Array) => void): void {
    this.inputHandler = handler;
    const early = this.early;
    this.early = [];
    for (const data of early) handler(data);
  }

  /** Bytes from the keyboard (Terminal's input event) for the guest. */
  deliverInput(data: Uint8Array): void {
    if (this.inputHandler) this.inputHandler(data);
    else this.early.push(data);
  }

  wallClockNs(): bigint {
    return BigInt(Date.now()) * 1_000_000n;
  }

  /** Nanoseconds since this host was made: exact in a Number for 104 days. */
  monotonicNs(): number {
    const [s, ns] = process.hrtime(this.startHr);
    return s * 1e9 + ns;
  }

  randomBytes(buf: Uint8Array): void {
    webcrypto.getRandomValues(buf);
  }

  async prepare(config: Pick<MachineConfig, "drives" | "netdevs">): Promise<void> {
    if (config.drives.length > 0) this.block ??= await import("../block/open-image.js");
    if (config.netdevs.length > 0) this.net ??= await import("../net/create.js");
  }

  openDrive(drive: DriveConfig): BlockBackend {
    const backend = loaded(this.block, "drives").openBlockBackend({
      file: drive.file,
      format: drive.format,
      readOnly: drive.readOnly,
      snapshot: drive.snapshot,
      cache: drive.cache as BlockOpenCache,
      warn: (line) => this.warn(line),
    });
    this.drives.push(backend);
    return backend;
  }

  createNetBackend(netdev: NetdevConfig): NetBackend {
    try {
      const backend = loaded(this.net, "netdevs").createNetBackend(netdev, { warn: (line) => this.warn(line) });
      this.nets.push(backend);
      return backend;
    } catch (err) {
      if (err instanceof UserError) throw err;
      throw new UserError(err instanceof Error ? err.message : String(err));
    }
  }

  /**
   * Resolves once every network backend is listening (hostfwd=, listen=); rejects with a
   * UserError naming the netdev when one cannot, which the CLI makes fatal as QEMU does.
   */
  async ready(): Promise<void> {
    try {
      const net = this.net;
      if (net !== undefined) await Promise.all(this.nets.map((n) => net.netBackendReady(n)));
    } catch (err) {
      throw new UserError(err instanceof Error ? err.message : String(err));
    }
  }

  /** One line on standard error; "\r\n" because the terminal may be in raw mode. */
  warn(message: string): void {
    this.opts.terminal?.flush();
    process.stderr.write(`tsvisor: ${message}${process.stderr.isTTY ? "\r\n" : "\n"}`);
  }

  /** Writes out buffered console output and trace, closes the images and network
   *  backends; call before exiting. */
  flush(): void {
    const nets = this.nets;
    this.nets = [];
    for (const n of nets) {
      try {
        n.close();
      } catch (err) {
        this.warn(`closing a network backend: ${errnoText(err)}`);
      }
    }
    const drives = this.drives;
    this.drives = [];
    for (const d of drives) {
      try {
        d.close();
      } catch (err) {
        this.warn(`closing a disk image: ${errnoText(err)}`);
      }
    }
    this.opts.terminal?.flush();
    this.opts.trace?.flush();
  }
}

type BlockOpenCache = Parameters<BlockLayer["openBlockBackend"]>[0]["cache"];

function loaded<T>(module: T | undefined, what: string): T {
  if (module === undefined) throw new Error(`NodeHost: prepare() was not given the ${what} first`);
  return module;
}

const TRACE_BUFFER_CHARS = 1 << 16;
const TRACE_FLUSH_MS = 250;

/**
 * -d trace lines to a file (-D) or standard error, buffered: an exec trace writes a
 * line per block, and one write per line would cost more than the emulation.
 */
export class TraceWriter {
  private chunks: string[] = [];
  private chars = 0;
  private closed = false;
  private readonly fd?: number;
  private readonly timer: NodeJS.Timeout;

  /** Opens `path` for writing (truncating), or uses standard error. Throws UserError. */
  constructor(path?: string) {
    if (path !== undefined) {
      try {
        this.fd = fs.openSync(path, "w");
      } catch (err) {
        throw new UserError(`-D: ${fsErrorMessage(err, "write", path)}`);
      }
    }
    // An idle guest still shows its last lines soon; the timer never keeps tsvisor alive.
    this.timer = setInterval(() => this.flush(), TRACE_FLUSH_MS);
    this.timer.unref();
  }

  line(text: string): void {
    if (this.closed) return;
    this.chunks.push(text.endsWith("\n") ? text : text + "\n");
    this.chars += text.length + 1;
    if (this.chars >= TRACE_BUFFER_CHARS) this.flush();
  }

  flush(): void {
    if (this.chunks.length === 0) return;
    const text = this.chunks.join("");
    this.chunks = [];
    this.chars = 0;
    if (this.fd === undefined) {
      process.stderr.write(text);
      return;
    }
    try {
      fs.writeSync(this.fd, text);
    } catch (err) {
      throw new UserError(`-D: ${fsErrorMessage(err, "write", "trace file")}`);
    }
  }

  close(): void {
    if (this.closed) return;
    clearInterval(this.timer);
    this.flush();
    this.closed = true;
    if (this.fd !== undefined) fs.closeSync(this.fd);
  }
}

/** C library wording for the errors users meet with files. */
const STRERROR: Record<string, string> = {
  ENOENT: "No such file or directory",
  EACCES: "Permission denied",
  EPERM: "Operation not permitted",
  EISDIR: "Is a directory",
  ENOTDIR: "Not a directory",
  ELOOP: "Too many levels of symbolic links",
  ENAMETOOLONG: "File name too long",
  EMFILE: "Too many open files",
  ENOSPC: "No space left on device",
  EROFS: "Read-only file system",
  EIO: "Input/output error",
  EFBIG: "File too large",
  ENOMEM: "Cannot allocate memory",
  ENXIO: "No such device or address",
  EBUSY: "Device or resource busy",
  ETXTBSY: "Text file busy",
};

/** A Node system error (ENOENT and the like), as fs throws them. */
export function isSystemError(err: unknown): err is NodeJS.ErrnoException & { code: string } {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === "string" &&
    /^E[A-Z0-9]+$/.test((err as NodeJS.ErrnoException).code!);
}

/** "cannot read FILE: No such file or directory" for an fs error on `path`. */
export function fsErrorMessage(err: unknown, verb: "read" | "write", path: string): string {
  return `cannot ${verb} ${path}: ${errnoText(err)}`;
}

/** The strerror text of a system error, or the error's message for anything else. */
export function errnoText(err: unknown): string {
  if (isSystemError(err)) {
    const known = STRERROR[err.code];
    if (known) return known;
    // Node's message is "ECODE: libuv text, syscall 'path'": keep the libuv text.
    const text = /^E[A-Z0-9]+: ([^,]+)/.exec(err.message)?.[1] ?? err.code;
    return text.charAt(0).toUpperCase() + text.slice(1);
  }
  return err instanceof Error ? err.message : String(err);
}

/** Checks that `path` is a readable regular file, before the board tries to read it. */
export function checkReadableFile(path: string): void {
  let stat: fs.Stats;
  try {
    fs.accessSync(path, fs.constants.R_OK);
    stat = fs.statSync(path);
  } catch (err) {
    throw new UserError(fsErrorMessage(err, "read", path));
  }
  if (stat.isDirectory()) throw new UserError(`cannot read ${path}: Is a directory`);
}

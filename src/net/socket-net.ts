// -netdev socket,listen=[host]:port | connect=host:port (and -netdev stream with
// server=on|off,addr.host=,addr.port=): two emulators joined by one TCP connection,
// each Ethernet frame sent as a 4-byte big-endian length then the frame, as QEMU's
// socket and stream netdevs do, so a tsvisor guest can also talk to a QEMU guest.
// The listening side takes one peer at a time; the connecting side retries until the
// peer listens. Frames while no peer is connected are dropped (a cable unplugged).
import * as net from "node:net";
import type { NetBackend } from "./net-backend.js";

/** Largest frame accepted from the peer; a bigger length means a broken stream. */
const MAX_FRAME = 65536 + 14;
/** Bytes queued towards the peer before frames are dropped. */
const MAX_OUTPUT_BUFFER = 1024 * 1024;
const RECONNECT_MS = 500;

export interface SocketNetOptions {
  /** Listen on this address (one peer at a time)... */
  listen?: { host: string; port: number };
  /** ...or connect to it. */
  connect?: { host: string; port: number };
  warn?: (message: string) => void;
}

export class SocketNet implements NetBackend {
  /** Resolves once listening (listen) or immediately (connect). */
  readonly ready: Promise<void>;
  private receiver?: (frame: Uint8Array) => void;
  private peer?: net.Socket;
  private server?: net.Server;
  private closed = false;
  private timer?: ReturnType<typeof setTimeout>;

  constructor(private readonly opts: SocketNetOptions) {
    if (opts.listen) {
      const { host, port } = opts.listen;
      this.server = net.createServer((s) => this.accept(s));
      this.ready = new Promise((resolve, reject) => {
        this.server!.once("error", reject);
        this.server!.listen(port, host || "0.0.0.0", () => resolve());
      });
      this.server.unref();
    } else if (opts.connect) {
      this.ready = Promise.resolve();
      this.dial();
    } else {
      throw new Error("-netdev socket: needs listen= or connect=");
    }
    this.ready.catch((e: Error) => (opts.warn ?? ((m) => process.stderr.write(`tsvisor: ${m}\n`)))(`-netdev socket: ${e.message}`));
  }

  onReceive(handler: (frame: Uint8Array) => void): void {
    this.receiver = handler;
  }

  send(frame: Uint8Array): void {
    const p = this.peer;
    if (!p || p.writableLength > MAX_OUTPUT_BUFFER || frame.length > MAX_FRAME) return;
    const header = Buffer.alloc(4);
    header.writeUInt32BE(frame.length);
    p.write(Buffer.concat([header, frame]));
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.peer?.destroy();
    this.server?.close();
  }

  private accept(s: net.Socket): void {
    if (this.peer || this.closed) return void s.destroy(); // one peer at a time
    this.attach(s);
  }

  private dial(): void {
    if (this.closed) return;
    const { host, port } = this.opts.connect!;
    const s = net.connect({ host, port });
    s.once("connect", () => this.attach(s));
    s.once("error", () => {
      s.destroy();
      if (this.peer !== s) this.retry();
    });
  }

  private retry(): void {
    if (this.closed) return;
    this.timer = setTimeout(() => this.dial(), RECONNECT_MS);
    this.timer.unref?.();
  }

  private attach(s: net.Socket): void {
    this.peer = s;
    s.setNoDelay(true);
    let buffered: Buffer = Buffer.alloc(0);
    s.on("data", (d: Buffer) => {
      buffered = buffered.length ? Buffer.concat([buffered, d]) : d;
      while (buffered.length >= 4) {
        const len = buffered.readUInt32BE(0);
        if (len > MAX_FRAME) return void s.destroy(); // not a frame stream
        if (buffered.length < 4 + len) break;
        const frame = new Uint8Array(buffered.subarray(4, 4 + len));
        buffered = buffered.subarray(4 + len);
        this.receiver?.(frame);
      }
    });
    s.on("error", () => {});
    s.on("close", () => {
      if (this.peer === s) this.peer = undefined;
      if (this.opts.connect) this.retry();
    });
  }
}

/** "host:port", ":port" or "port" to its parts; null if the port is not a number. */
export function parseHostPort(text: string): { host: string; port: number } | null {
  const i = text.lastIndexOf(":");
  const host = i < 0 ? "" : text.slice(0, i);
  const port = Number(i < 0 ? text : text.slice(i + 1));
  if (!Number.isInteger(port) || port < 0 || port > 65535) return null;
  return { host, port };
}

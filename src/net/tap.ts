// -netdev tap,id=ID,ifname=NAME: frames to and from a host TAP interface (Linux).
// /dev/net/tun is opened with node:fs; attaching it to an interface takes one ioctl
// (TUNSETIFF), which Node cannot make, so it goes through koffi (an FFI package with
// prebuilt binaries), loaded only here and only when a tap netdev is used: it is an
// optional dependency and nothing else needs it. The fd is non-blocking and polled with
// readSync from a timer: a blocking fs.read would pin a libuv threadpool thread and,
// worse, keep the interface alive after close() until the next frame arrives.
// Not done: script=/downscript= (QEMU runs /etc/qemu-ifup); the user configures the
// interface (`ip link set NAME up`, a bridge...) before or after starting.
import * as fs from "node:fs";
import { createRequire } from "node:module";
import { constants as osConstants } from "node:os";
import type { NetBackend } from "./net-backend.js";

const TUN_DEVICE = "/dev/net/tun";
/** _IOW('T', 202, int) from <linux/if_tun.h>. */
const TUNSETIFF = 0x400454ca;
const IFF_TAP = 0x0002;
/** No 4-byte packet-information header before each frame: plain Ethernet frames. */
const IFF_NO_PI = 0x1000;
/** struct ifreq: char ifr_name[IFNAMSIZ]; then a union, flags (short) first. */
const IFNAMSIZ = 16;
const IFREQ_SIZE = 40;
const IFREQ_FLAGS = 16;

/** Bigger than any frame the guest can be sent (64 KiB GSO frames are not enabled). */
const READ_BUFFER = 65536;
/** Frames read per poll before yielding to the machine. */
const MAX_BATCH = 64;
/** Poll delay while idle: doubles from the first to the last, reset by traffic. */
const POLL_MIN_MS = 1;
const POLL_MAX_MS = 8;

export interface TapOptions {
  /** Interface name; empty lets the kernel pick tapN. */
  ifname: string;
  /** What error lines name the netdev by ("-netdev tap,id=n0,ifname=tap0"). */
  what: string;
  /** The clone device (tests inject a missing one). */
  device?: string;
  warn?: (message: string) => void;
}

/** Builds a tap backend from -netdev options; throws Error with a one-line message. */
export function createTapBackend(options: Record<string, string>, id = "", warn?: (m: string) => void): TapNet {
  const ifname = options.ifname ?? "";
  const parts = ["-netdev tap", id && `id=${id}`, ifname && `ifname=${ifname}`].filter(Boolean);
  const what = parts.join(",");
  if (options.fd !== undefined || options.fds !== undefined) throw new Error(`${what}: fd= is not supported; use ifname=`);
  const script = options.script;
  if (script !== undefined && script !== "no" && script !== "") {
    warn?.(`${what}: script=${script} is not run; configure the interface yourself`);
  }
  return new TapNet({ ifname, what, warn });
}

export class TapNet implements NetBackend {
  /** The kernel's name for the interface (ifname, or the tapN it picked). */
  readonly ifname: string;
  /** Opening is synchronous; always resolved (present like the other backends'). */
  readonly ready: Promise<void> = Promise.resolve();
  private fd: number;
  private receiver?: (frame: Uint8Array) => void;
  private readonly buf = Buffer.alloc(READ_BUFFER);
  private timer?: ReturnType<typeof setTimeout>;
  private delay = POLL_MIN_MS;
  private writeErrors = 0;

  constructor(private readonly opts: TapOptions) {
    if (process.platform !== "linux") throw new Error(`${opts.what}: tap networking is only supported on Linux`);
    if (Buffer.byteLength(opts.ifname) >= IFNAMSIZ) throw new Error(`${opts.what}: interface name longer than ${IFNAMSIZ - 1} bytes`);
    const device = opts.device ?? TUN_DEVICE;
    try {
      this.fd = fs.openSync(device, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
    } catch (err) {
      throw new Error(`${opts.what}: ${tapErrorText((err as NodeJS.ErrnoException).code ?? "", "open", device, opts.ifname)}`);
    }
    try {
      this.ifname = attach(this.fd, opts.ifname, opts.what, device);
    } catch (err) {
      fs.closeSync(this.fd);
      throw err;
    }
    this.schedule(0);
  }

  onReceive(handler: (frame: Uint8Array) => void): void {
    this.receiver = handler;
  }

  send(frame: Uint8Array): void {
    if (this.fd < 0) return;
    try {
      fs.writeSync(this.fd, frame);
    } catch (err) {
      // EAGAIN (queue full), EIO (interface down): a lost frame, as on a real wire.
      if (this.writeErrors++ === 0) this.opts.warn?.(`${this.opts.what}: dropping frames: ${(err as Error).message}`);
    }
  }

  close(): void {
    if (this.fd < 0) return;
    if (this.timer) clearTimeout(this.timer);
    fs.closeSync(this.fd); // without TUNSETPERSIST the kernel removes the interface
    this.fd = -1;
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => this.poll(), ms);
    this.timer.unref?.(); // the machine keeps the process alive, not its network
  }

  private poll(): void {
    let frames = 0;
    while (this.fd >= 0 && frames < MAX_BATCH) {
      let n: number;
      try {
        n = fs.readSync(this.fd, this.buf, 0, READ_BUFFER, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "EAGAIN") break;
        this.opts.warn?.(`${this.opts.what}: reading: ${(err as Error).message}; tap stopped`);
        return this.close();
      }
      frames++;
      if (n > 0) this.receiver?.(new Uint8Array(this.buf.subarray(0, n)));
    }
    if (this.fd < 0) return;
    this.delay = frames > 0 ? POLL_MIN_MS : Math.min(this.delay * 2, POLL_MAX_MS);
    this.schedule(frames === MAX_BATCH ? 0 : this.delay);
  }
}

/** TUNSETIFF: makes the fd the TAP interface `ifname`; returns the name the kernel used. */
function attach(fd: number, ifname: string, what: string, device: string): string {
  const { ioctl, errno } = libc(what);
  const ifr = Buffer.alloc(IFREQ_SIZE);
  ifr.write(ifname, 0, IFNAMSIZ - 1, "utf8");
  if (osEndianLittle()) ifr.writeUInt16LE(IFF_TAP | IFF_NO_PI, IFREQ_FLAGS);
  else ifr.writeUInt16BE(IFF_TAP | IFF_NO_PI, IFREQ_FLAGS);
  if (ioctl(fd, TUNSETIFF, "void *", ifr) < 0) {
    throw new Error(`${what}: ${tapErrorText(errnoName(errno()), "attach", device, ifname)}`);
  }
  const end = ifr.indexOf(0);
  return ifr.toString("utf8", 0, end < 0 || end > IFNAMSIZ ? IFNAMSIZ : end);
}

/**
 * The one-line reason for a failed open (of the clone device) or TUNSETIFF, with what
 * to do about it. `code` is an errno name (ENOENT, EACCES, ...).
 */
export function tapErrorText(code: string, step: "open" | "attach", device: string, ifname: string): string {
  const name = ifname || "a new tap interface";
  switch (code) {
    case "ENOENT":
    case "ENODEV":
    case "ENXIO":
      return `${device} does not exist (load the tun module: modprobe tun)`;
    case "EACCES":
    case "EPERM":
      return step === "open"
        ? `permission denied opening ${device} (needs root or CAP_NET_ADMIN)`
        : `permission denied creating ${name} (needs root or CAP_NET_ADMIN, or a tap made for this user with ip tuntap add ... user)`;
    case "EBUSY":
      return `${name} is busy (another program, or another -netdev, has it open)`;
    case "EINVAL":
      return `cannot use ${name}: it exists and is not a tap interface, or the name is invalid`;
    default:
      return `cannot ${step === "open" ? `open ${device}` : `create ${name}`}: ${code || "unknown error"}`;
  }
}

interface Libc {
  ioctl: (fd: number, request: number, type: string, arg: Buffer) => number;
  errno: () => number;
}

let cachedLibc: Libc | undefined;

/** koffi, loaded on first use (createRequire keeps the backend constructor synchronous). */
function libc(what: string): Libc {
  if (cachedLibc) return cachedLibc;
  let koffi: { load(path: string): { func(decl: string): (...args: unknown[]) => number }; errno(): number };
  try {
    koffi = createRequire(import.meta.url)("koffi");
  } catch {
    throw new Error(`${what}: needs the optional koffi package to configure the interface (npm install koffi)`);
  }
  const lib = koffi.load("libc.so.6");
  const ioctl = lib.func("int ioctl(int fd, unsigned long request, ...)");
  cachedLibc = { ioctl: (fd, req, type, arg) => ioctl(fd, req, type, arg), errno: () => koffi.errno() };
  return cachedLibc;
}

function errnoName(errno: number): string {
  for (const [name, value] of Object.entries(osConstants.errno)) if (value === errno) return name;
  return `errno ${errno}`;
}

function osEndianLittle(): boolean {
  return new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
}

// The I/O half of `npm run bench`: guest sequential disk write and read on virtio-blk and
// guest-to-host TCP through user-mode networking, for tsvisor and QEMU with the same flags.
//
// - disk: a raw image (DISK_MIB, filled with 0xa5 so a lost write shows) on
//   virtio-blk-device. The guest runs `dd if=/dev/zero of=/dev/vda bs=1M conv=fsync`
//   (write), drops its page cache, then `dd if=/dev/vda of=/dev/null bs=1M` (read);
//   each figure is busybox dd's own byte count over its own elapsed time (guest
//   clock_gettime, which both emulators take from the host's monotonic clock).
//   After power-off the host checks that the image holds the guest's zeros.
// - network: `-netdev user` + virtio-net-device; `udhcpc -i eth0`, then the guest pipes
//   NET_MIB of zeros through busybox `nc 10.0.2.2 PORT` to a sink on the host's
//   127.0.0.1 (user networking maps 10.0.2.2 to the host's loopback). Timed on the host,
//   first byte to last; the sink checks the byte count.
//
// The drive is if=none + -device virtio-blk-device: QEMU 7.2's riscv virt board turns
// -drive if=virtio into virtio-blk-pci, which the guest kernel (no PCI) cannot see.
import * as net from "node:net";
import { once } from "node:events";
import { mkdtempSync, openSync, readSync, closeSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SHELL_PROMPT } from "../guest/paths.js";
import type { GuestSession } from "../test/lib/guest-session.js";

const MiB = 1024 * 1024;
/** Disk image size, and what dd writes and reads: all of it. */
export const DISK_MIB = 64;
/** Bytes the guest sends to the host through the user network. */
export const NET_MIB = 32;
const NET_BLOCK = 64 * 1024;
const BOOT_TIMEOUT_MS = 600_000;
const COMMAND_TIMEOUT_MS = 180_000;
/** A filler byte the guest's zeros must replace. */
const FILL = 0xa5;
/** busybox dd: "67108864 bytes (64.0MB) copied, 1.282226 seconds, 49.9MB/s". */
const DD_LINE = /(\d+) bytes \([^)]*\) copied, ([\d.]+) seconds/;

export interface IoResult {
  /** MiB/s (2^20 bytes per second), guest-timed. */
  diskWrite?: number;
  diskRead?: number;
  /** MiB/s, host-timed (first byte to last). */
  netSend?: number;
  error?: string;
}

/** Device flags for one disk and one user-network NIC, the same for both emulators. */
export function ioArgs(image: string): string[] {
  return ["-drive", `file=${image},format=raw,if=none,id=d0`, "-device", "virtio-blk-device,drive=d0",
    "-netdev", "user,id=n0", "-device", "virtio-net-device,netdev=n0"];
}

/** Boots one emulator with a fresh disk image and a NIC, measures, powers off. */
export async function measureIo(name: string, start: (deviceArgs: string[]) => GuestSession): Promise<IoResult> {
  const r: IoResult = {};
  const dir = mkdtempSync(join(tmpdir(), "tsvisor-bench-"));
  const image = join(dir, "disk.img");
  const sink = await TcpSink.listen();
  let s: GuestSession | undefined;
  try {
    writeFileSync(image, Buffer.alloc(DISK_MIB * MiB, FILL));
    s = start(ioArgs(image));
    const guest = s;
    const run = (cmd: string) => guest.command(cmd, SHELL_PROMPT, COMMAND_TIMEOUT_MS);
    await s.expect(SHELL_PROMPT, BOOT_TIMEOUT_MS);
    r.diskWrite = dd(await run(`dd if=/dev/zero of=/dev/vda bs=1M count=${DISK_MIB} conv=fsync`), "write");
    r.diskRead = dd(await run("echo 3 > /proc/sys/vm/drop_caches; dd if=/dev/vda of=/dev/null bs=1M"), "read");
    const dhcp = await run("udhcpc -i eth0");
    if (!/lease of 10\.0\.2\.15 obtained/.test(dhcp)) throw new Error(`udhcpc got no lease:\n${dhcp}`);
    const received = sink.next(NET_MIB * MiB);
    received.catch(() => {}); // awaited below; a failure before then is reported there
    const count = (NET_MIB * MiB) / NET_BLOCK;
    const sent = await run(`dd if=/dev/zero bs=64k count=${count} | nc 10.0.2.2 ${sink.port}; echo rc=$?`);
    if (!/rc=0/.test(sent)) throw new Error(`the guest's nc failed:\n${sent}`);
    const got = await received;
    r.netSend = got.bytes / MiB / got.seconds;
    await s.send("poweroff\n");
    const status = await s.exit(COMMAND_TIMEOUT_MS);
    if (status.code !== 0) throw new Error(`${name} exited with ${JSON.stringify(status)} after poweroff`);
    checkZeros(image);
  } catch (err) {
    r.error = (err as Error).message;
    process.stderr.write(`bench: ${name} I/O failed: ${r.error}\n`);
  } finally {
    s?.close();
    sink.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return r;
}

/** MiB/s from busybox dd's summary line; the whole disk must have been copied. */
function dd(out: string, what: string): number {
  const m = DD_LINE.exec(out);
  if (!m) throw new Error(`disk ${what}: dd printed no summary:\n${out}`);
  const bytes = Number(m[1]);
  const seconds = Number(m[2]);
  if (bytes !== DISK_MIB * MiB) throw new Error(`disk ${what}: dd copied ${bytes} bytes, expected ${DISK_MIB * MiB}:\n${out}`);
  return bytes / MiB / Math.max(seconds, 1e-6);
}

/** The guest wrote zeros over the whole image: a filler byte left means a lost write. */
function checkZeros(image: string): void {
  const fd = openSync(image, "r");
  try {
    const buf = Buffer.alloc(MiB);
    for (let off = 0; off < DISK_MIB * MiB; off += MiB) {
      const n = readSync(fd, buf, 0, MiB, off);
      const bad = buf.subarray(0, n).findIndex((b) => b !== 0);
      if (n !== MiB || bad >= 0) throw new Error(`disk write: the image's byte ${off + Math.max(bad, n)} is not the guest's zero`);
    }
  } finally {
    closeSync(fd);
  }
}

interface Received {
  bytes: number;
  seconds: number;
}

/** A TCP server on 127.0.0.1 that counts what one connection sends and times it. */
class TcpSink {
  private constructor(private readonly server: net.Server, readonly port: number) {}

  static async listen(): Promise<TcpSink> {
    const server = net.createServer().listen(0, "127.0.0.1");
    await once(server, "listening");
    return new TcpSink(server, (server.address() as net.AddressInfo).port);
  }

  /** The next connection's byte count and first-to-last-byte time; it must carry `expected`. */
  next(expected: number): Promise<Received> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("network: the host sink got no complete transfer")), COMMAND_TIMEOUT_MS);
      this.server.once("connection", (c: net.Socket) => {
        let bytes = 0;
        let first = 0;
        let last = 0;
        c.on("data", (d: Buffer) => {
          const now = performance.now();
          if (bytes === 0) first = now;
          bytes += d.length;
          last = now;
        });
        c.on("error", () => {});
        c.on("close", () => {
          clearTimeout(timer);
          if (bytes !== expected) reject(new Error(`network: the host got ${bytes} bytes, expected ${expected}`));
          else resolve({ bytes, seconds: Math.max(last - first, 1e-3) / 1000 });
        });
      });
    });
  }

  close(): void {
    this.server.close();
  }
}

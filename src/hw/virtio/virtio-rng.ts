// virtio-rng ("entropy device", virtio 1.x spec 5.4): one queue of device-writable
// buffers, each filled from the host's random source. No features, no config space.
import type { VirtioDevice, VirtioTransport } from "./virtio-mmio.js";
import { VIRTIO_ID_RNG } from "./virtio-mmio.js";

const QUEUE_SIZE = 256;
/** Web Crypto's getRandomValues fills at most 64 KiB per call. */
const CHUNK = 65536;

export class VirtioRng implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_RNG;
  readonly features = 0n;
  readonly queueMax = [QUEUE_SIZE];
  private transport!: VirtioTransport;

  /** `randomBytes` fills its argument with random bytes (crypto.getRandomValues). */
  constructor(private readonly randomBytes: (buf: Uint8Array) => void) {}

  attach(transport: VirtioTransport): void {
    this.transport = transport;
  }

  readConfig(): number {
    return 0;
  }

  writeConfig(): void {}

  reset(): void {}

  queueNotify(index: number): void {
    if (index !== 0) return;
    const q = this.transport.queues[0];
    for (let el = q.pop(); el; el = q.pop()) {
      // Straight into guest RAM: the buffers were checked inside it when popped.
      for (const s of el.writable) {
        const buf = this.transport.mem.bytesForWrite(s.addr, s.len);
        for (let off = 0; off < buf.length; off += CHUNK) this.randomBytes(buf.subarray(off, off + CHUNK));
      }
      q.push(el, el.writeLen);
    }
    q.notify();
  }
}

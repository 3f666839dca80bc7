// virtio-net (virtio 1.x spec 5.1), the minimum Linux and U-Boot need: a MAC address
// (VIRTIO_NET_F_MAC) and link status (VIRTIO_NET_F_STATUS), one receive queue (0) and
// one transmit queue (1), no offloads, no mergeable buffers, no control queue.
// Every frame carries a 12-byte virtio_net_hdr in front (VERSION_1 layout, num_buffers
// included); with no offloads negotiated we ignore it on transmit and write zeros
// (num_buffers = 1) on receive. Frames arriving from the network while the driver has
// posted no receive buffers wait in a bounded queue; beyond it they are dropped, as a
// real NIC drops on a full ring.
import type { AccessSize } from "../device.js";
import type { NetBackend } from "../../net/net-backend.js";
import type { VirtioDevice, VirtioTransport } from "./virtio-mmio.js";
import { VIRTIO_ID_NET } from "./virtio-mmio.js";
import { readFromChain, writeToChain } from "./virtqueue.js";

// Feature bits.
export const VIRTIO_NET_F_MAC = 1n << 5n;
export const VIRTIO_NET_F_STATUS = 1n << 16n;

// Configuration space: mac[6] at 0, status u16 at 6.
const CONFIG_MAC = 0;
const CONFIG_STATUS = 6;
const CONFIG_SIZE = 8;
const VIRTIO_NET_S_LINK_UP = 1;

/** struct virtio_net_hdr with num_buffers (VERSION_1). */
export const NET_HDR_SIZE = 12;
const HDR_NUM_BUFFERS = 10;

const RXQ = 0;
const TXQ = 1;
const QUEUE_SIZE = 256;
/** Largest frame either way: the most a 16-bit IP length allows, plus the Ethernet header
 *  (no offloads are negotiated, so the guest sends MTU-sized frames well below it). */
export const MAX_FRAME = 65535 + 14;
/** Frames waiting for receive buffers, beyond which new ones are dropped. */
export const RX_PENDING_FRAMES = 256;
const RX_PENDING_BYTES = 1024 * 1024;

export class VirtioNet implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_NET;
  readonly features = VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS;
  readonly queueMax = [QUEUE_SIZE, QUEUE_SIZE];
  /** Frames dropped: no room in the pending queue, too big for a buffer, malformed. */
  dropped = 0;
  private transport!: VirtioTransport;
  private readonly config = new Uint8Array(CONFIG_SIZE);
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;

  constructor(
    private readonly backend: NetBackend,
    mac: Uint8Array,
  ) {
    this.config.set(mac.subarray(0, 6), CONFIG_MAC);
    this.config[CONFIG_STATUS] = VIRTIO_NET_S_LINK_UP;
  }

  attach(transport: VirtioTransport): void {
    this.transport = transport;
    this.backend.onReceive((frame) => this.receive(frame));
  }

  /** Little-endian read of the config bytes; outside them reads 0. */
  readConfig(offset: number, size: AccessSize): number {
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + (offset + i < CONFIG_SIZE ? this.config[offset + i] : 0);
    return v >>> 0;
  }

  /** The MAC is read-only without VIRTIO_NET_F_CTRL_MAC_ADDR (legacy writes are ignored). */
  writeConfig(): void {}

  reset(): void {
    this.pending = [];
    this.pendingBytes = 0;
  }

  driverReady(): void {
    this.deliverRx();
  }

  queueNotify(index: number): void {
    if (index === TXQ) this.drainTx();
    else if (index === RXQ) this.deliverRx();
  }

  /** A frame from the network for the guest. */
  receive(frame: Uint8Array): void {
    if (!this.transport.driverOk || frame.length > MAX_FRAME) return void this.dropped++;
    if (this.pending.length >= RX_PENDING_FRAMES || this.pendingBytes + frame.length > RX_PENDING_BYTES) return void this.dropped++;
    this.pending.push(frame);
    this.pendingBytes += frame.length;
    this.deliverRx();
  }

  /** Frames waiting for receive buffers. */
  get pendingFrames(): number {
    return this.pending.length;
  }

  private drainTx(): void {
    const q = this.transport.queues[TXQ];
    for (let el = q.pop(); el; el = q.pop()) {
      const len = el.readLen - NET_HDR_SIZE;
      if (len > 0 && len <= MAX_FRAME) {
        const frame = new Uint8Array(len);
        readFromChain(this.transport.mem, el.readable, NET_HDR_SIZE, frame);
        q.push(el, 0);
        this.backend.send(frame);
      } else {
        this.dropped++;
        q.push(el, 0);
      }
    }
    q.notify();
  }

  private deliverRx(): void {
    if (!this.transport.driverOk || this.pending.length === 0) return;
    const q = this.transport.queues[RXQ];
    const hdr = new Uint8Array(NET_HDR_SIZE);
    hdr[HDR_NUM_BUFFERS] = 1;
    let delivered = false;
    while (this.pending.length > 0) {
      const el = q.pop();
      if (!el) break;
      const frame = this.pending.shift()!;
      this.pendingBytes -= frame.length;
      if (el.writeLen < NET_HDR_SIZE + frame.length) {
        this.dropped++; // a buffer too small for the frame: the frame is lost, the buffer returned
        q.push(el, 0);
      } else {
        writeToChain(this.transport.mem, el.writable, 0, hdr);
        writeToChain(this.transport.mem, el.writable, NET_HDR_SIZE, frame);
        q.push(el, NET_HDR_SIZE + frame.length);
      }
      delivered = true;
    }
    if (delivered) q.notify();
  }
}

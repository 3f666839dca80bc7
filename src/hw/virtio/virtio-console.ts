// virtio-console (virtio 1.x spec 5.3) with a single port (hvc0 in Linux), without
// VIRTIO_CONSOLE_F_MULTIPORT: queue 0 carries input to the guest (receiveq), queue 1 its
// output (transmitq). Output goes to a host sink as it comes; input given to receive()
// waits in a bounded buffer until the driver posts receive buffers.
import type { AccessSize } from "../device.js";
import type { VirtioDevice, VirtioTransport } from "./virtio-mmio.js";
import { VIRTIO_ID_CONSOLE } from "./virtio-mmio.js";
import { readFromChain, writeToChain } from "./virtqueue.js";

const RECEIVEQ = 0;
const TRANSMITQ = 1;
const QUEUE_SIZE = 128;
/** Input the guest has not taken yet, beyond which bytes are dropped. */
const INPUT_LIMIT = 64 * 1024;
/** Largest output chain copied at once (a guest may post a huge one; we copy it in pieces). */
const OUTPUT_CHUNK = 64 * 1024;

export class VirtioConsole implements VirtioDevice {
  readonly deviceId = VIRTIO_ID_CONSOLE;
  readonly features = 0n;
  readonly queueMax = [QUEUE_SIZE, QUEUE_SIZE];
  private transport!: VirtioTransport;
  private input: Uint8Array[] = [];
  private inputBytes = 0;

  /** `output` gets what the guest writes to hvc0. */
  constructor(private readonly output: (data: Uint8Array) => void) {}

  attach(transport: VirtioTransport): void {
    this.transport = transport;
  }

  /** Config: cols u16, rows u16, max_nr_ports u32, emerg_wr u32 (all zero: not offered). */
  readConfig(_offset: number, _size: AccessSize): number {
    return 0;
  }

  writeConfig(): void {}

  reset(): void {
    this.input = [];
    this.inputBytes = 0;
  }

  /** Bytes typed for the guest; delivered now if the driver has buffers posted. */
  receive(data: Uint8Array): void {
    const room = INPUT_LIMIT - this.inputBytes;
    if (room <= 0) return;
    const kept = data.slice(0, room);
    this.input.push(kept);
    this.inputBytes += kept.length;
    this.deliverInput();
  }

  queueNotify(index: number): void {
    if (index === TRANSMITQ) this.drainOutput();
    else if (index === RECEIVEQ) this.deliverInput();
  }

  driverReady(): void {
    this.deliverInput();
  }

  private drainOutput(): void {
    const q = this.transport.queues[TRANSMITQ];
    for (let el = q.pop(); el; el = q.pop()) {
      for (let off = 0; off < el.readLen; off += OUTPUT_CHUNK) {
        const chunk = new Uint8Array(Math.min(OUTPUT_CHUNK, el.readLen - off));
        readFromChain(this.transport.mem, el.readable, off, chunk);
        this.output(chunk);
      }
      q.push(el, 0);
    }
    q.notify();
  }

  private deliverInput(): void {
    if (!this.transport.driverOk || this.inputBytes === 0) return;
    const q = this.transport.queues[RECEIVEQ];
    while (this.input.length > 0) {
      const el = q.pop();
      if (!el) break;
      let written = 0;
      while (this.input.length > 0 && written < el.writeLen) {
        const head = this.input[0];
        const n = writeToChain(this.transport.mem, el.writable, written, head);
        written += n;
        this.inputBytes -= n;
        if (n === head.length) this.input.shift();
        else this.input[0] = head.subarray(n);
      }
      q.push(el, written);
    }
    q.notify();
  }
}

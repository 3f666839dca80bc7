// The virtio-mmio transport, version 2 register layout (virtio 1.x spec 4.2.2), as one
// slot of QEMU's virt board (0x1000 bytes each, from 0x10001000, PLIC sources 1..8).
// Legacy version 1 (QueuePFN) is not offered: Linux and U-Boot both speak version 2.
//
// API for device models: implement VirtioDevice and hand it to `new VirtioMmio(mem, irq,
// device, warn)`; the transport calls device.attach(transport) once. The device then uses
//   transport.queues[i]          // Virtqueue (see virtqueue.ts), sized by device.queueMax
//   transport.driverFeatures     // what the driver accepted (bigint, valid after FEATURES_OK)
//   transport.driverOk           // the driver set DRIVER_OK
//   transport.configChanged()    // config space changed: bumps ConfigGeneration, interrupts
//   transport.needsReset(reason) // device-side error: DEVICE_NEEDS_RESET + config interrupt
// and gets queueNotify(i) when the driver kicks queue i, reset() when the driver writes
// Status = 0 (the transport resets the queues itself).
import type { AccessSize, IrqLine, MmioDevice } from "../device.js";
import type { GuestMemory } from "../../machine/guest-memory.js";
import { Virtqueue, VIRTQ_MAX_SIZE } from "./virtqueue.js";

// Registers (offsets in the slot).
const MAGIC_VALUE = 0x000;
const VERSION = 0x004;
const DEVICE_ID = 0x008;
const VENDOR_ID = 0x00c;
const DEVICE_FEATURES = 0x010;
const DEVICE_FEATURES_SEL = 0x014;
const DRIVER_FEATURES = 0x020;
const DRIVER_FEATURES_SEL = 0x024;
const QUEUE_SEL = 0x030;
const QUEUE_NUM_MAX = 0x034;
const QUEUE_NUM = 0x038;
const QUEUE_READY = 0x044;
const QUEUE_NOTIFY = 0x050;
const INTERRUPT_STATUS = 0x060;
const INTERRUPT_ACK = 0x064;
const STATUS = 0x070;
const QUEUE_DESC_LOW = 0x080;
const QUEUE_DESC_HIGH = 0x084;
const QUEUE_DRIVER_LOW = 0x090;
const QUEUE_DRIVER_HIGH = 0x094;
const QUEUE_DEVICE_LOW = 0x0a0;
const QUEUE_DEVICE_HIGH = 0x0a4;
const SHM_LEN_LOW = 0x0b0;
const SHM_BASE_HIGH = 0x0bc;
const CONFIG_GENERATION = 0x0fc;
const CONFIG = 0x100;

const MAGIC = 0x74726976; // "virt"
const VERSION_MODERN = 2;
const VENDOR_QEMU = 0x554d4551; // "QEMU"
const SLOT_SIZE = 0x1000;

/** Device status bits (spec 2.1). */
export const STATUS_ACKNOWLEDGE = 1;
export const STATUS_DRIVER = 2;
export const STATUS_DRIVER_OK = 4;
export const STATUS_FEATURES_OK = 8;
export const STATUS_DEVICE_NEEDS_RESET = 0x40;
export const STATUS_FAILED = 0x80;

/** InterruptStatus bits. */
export const INT_USED_BUFFER = 1;
export const INT_CONFIG_CHANGE = 2;

/** Transport and ring feature bits, offered for every device. */
export const VIRTIO_RING_F_INDIRECT_DESC = 1n << 28n;
export const VIRTIO_RING_F_EVENT_IDX = 1n << 29n;
export const VIRTIO_F_VERSION_1 = 1n << 32n;
const TRANSPORT_FEATURES = VIRTIO_RING_F_INDIRECT_DESC | VIRTIO_RING_F_EVENT_IDX | VIRTIO_F_VERSION_1;

/** Device IDs (spec 5). */
export const VIRTIO_ID_NET = 1;
export const VIRTIO_ID_BLOCK = 2;
export const VIRTIO_ID_CONSOLE = 3;
export const VIRTIO_ID_RNG = 4;

/** A device model behind the transport. */
export interface VirtioDevice {
  readonly deviceId: number;
  /** Device-specific feature bits (the transport adds VERSION_1, INDIRECT_DESC, EVENT_IDX). */
  readonly features: bigint;
  /** Maximum size of each queue; the length is the number of queues. */
  readonly queueMax: readonly number[];
  /** Called once by the transport's constructor. */
  attach(transport: VirtioTransport): void;
  /** Device-specific configuration space, byte `offset` from its start. */
  readConfig(offset: number, size: AccessSize): number;
  writeConfig(offset: number, value: number, size: AccessSize): void;
  /** The driver made buffers available in queue `index`. */
  queueNotify(index: number): void;
  /** Status = 0: forget all device state (queues are already reset). */
  reset(): void;
  /** The driver set DRIVER_OK (optional: devices that produce data start here). */
  driverReady?(): void;
}

/** What a device sees of its transport. */
export interface VirtioTransport {
  readonly queues: readonly Virtqueue[];
  readonly driverFeatures: bigint;
  readonly driverOk: boolean;
  readonly mem: GuestMemory;
  configChanged(): void;
  needsReset(reason: string): void;
}

export class VirtioMmio implements MmioDevice, VirtioTransport {
  readonly size = SLOT_SIZE;
  readonly queues: Virtqueue[];
  driverFeatures = 0n;

  private status = 0;
  private interruptStatus = 0;
  private deviceFeaturesSel = 0;
  private driverFeaturesSel = 0;
  private queueSel = 0;
  private configGeneration = 0;
  private readonly offered: bigint;

  constructor(
    readonly mem: GuestMemory,
    private readonly irq: IrqLine,
    readonly device: VirtioDevice,
    private readonly warn: (message: string) => void = () => {},
  ) {
    this.offered = device.features | TRANSPORT_FEATURES;
    const hooks = {
      interrupt: () => this.raise(INT_USED_BUFFER),
      broken: (reason: string) => this.needsReset(reason),
    };
    this.queues = device.queueMax.map((max) => new Virtqueue(mem, Math.min(max, VIRTQ_MAX_SIZE), hooks));
    device.attach(this);
  }

  get driverOk(): boolean {
    return (this.status & STATUS_DRIVER_OK) !== 0 && (this.status & STATUS_DEVICE_NEEDS_RESET) === 0;
  }

  configChanged(): void {
    this.configGeneration = (this.configGeneration + 1) >>> 0;
    this.raise(INT_CONFIG_CHANGE);
  }

  needsReset(reason: string): void {
    this.warn(`virtio-mmio (device ${this.device.deviceId}): ${reason}; device needs reset`);
    if (this.status & STATUS_DEVICE_NEEDS_RESET) return;
    this.status |= STATUS_DEVICE_NEEDS_RESET;
    // The spec asks for a configuration change notification when DRIVER_OK was set.
    if (this.status & STATUS_DRIVER_OK) this.raise(INT_CONFIG_CHANGE);
  }

  read(offset: number, size: AccessSize): number {
    if (offset >= CONFIG) return this.device.readConfig(offset - CONFIG, size);
    // Registers below the config space are 32 bits wide; other accesses read 0.
    if (size !== 4 || (offset & 3) !== 0) return 0;
    const q = this.queues[this.queueSel];
    switch (offset) {
      case MAGIC_VALUE: return MAGIC;
      case VERSION: return VERSION_MODERN;
      case DEVICE_ID: return this.device.deviceId;
      case VENDOR_ID: return VENDOR_QEMU;
      case DEVICE_FEATURES: return this.featureWord(this.offered, this.deviceFeaturesSel);
      case QUEUE_NUM_MAX: return q ? q.maxSize : 0;
      case QUEUE_READY: return q?.ready ? 1 : 0;
      case INTERRUPT_STATUS: return this.interruptStatus;
      case STATUS: return this.status;
      case CONFIG_GENERATION: return this.configGeneration;
      default:
        // No shared memory regions: their length and base read all ones, as in QEMU.
        return offset >= SHM_LEN_LOW && offset <= SHM_BASE_HIGH ? 0xffff_ffff : 0;
    }
  }

  write(offset: number, value: number, size: AccessSize): void {
    if (offset >= CONFIG) return this.device.writeConfig(offset - CONFIG, value, size);
    if (size !== 4 || (offset & 3) !== 0) return;
    value >>>= 0;
    switch (offset) {
      case DEVICE_FEATURES_SEL: this.deviceFeaturesSel = value; return;
      case DRIVER_FEATURES: return this.writeDriverFeatures(value);
      case DRIVER_FEATURES_SEL: this.driverFeaturesSel = value; return;
      case QUEUE_SEL: this.queueSel = value; return;
      case QUEUE_NOTIFY: return this.notify(value);
      case INTERRUPT_ACK: return this.ack(value);
      case STATUS: return this.writeStatus(value);
      default: return this.writeQueueRegister(offset, value);
    }
  }

  /** QueueNum, QueueReady and the ring addresses of the selected queue. */
  private writeQueueRegister(offset: number, value: number): void {
    const q = this.queues[this.queueSel];
    // The spec forbids changing a live queue; ignoring such writes keeps the rings sane.
    if (!q || (q.ready && offset !== QUEUE_READY)) return;
    const high = value * 0x1_0000_0000;
    const low = (old: number) => Math.floor(old / 0x1_0000_0000) * 0x1_0000_0000 + value;
    const hi = (old: number) => (old % 0x1_0000_0000) + high;
    switch (offset) {
      case QUEUE_NUM: q.size = value; return;
      case QUEUE_READY: q.ready = (value & 1) === 1; return;
      case QUEUE_DESC_LOW: q.descAddr = low(q.descAddr); return;
      case QUEUE_DESC_HIGH: q.descAddr = hi(q.descAddr); return;
      case QUEUE_DRIVER_LOW: q.driverAddr = low(q.driverAddr); return;
      case QUEUE_DRIVER_HIGH: q.driverAddr = hi(q.driverAddr); return;
      case QUEUE_DEVICE_LOW: q.deviceAddr = low(q.deviceAddr); return;
      case QUEUE_DEVICE_HIGH: q.deviceAddr = hi(q.deviceAddr); return;
    }
  }

  private featureWord(features: bigint, sel: number): number {
    if (sel > 1) return 0;
    return Number((features >> BigInt(32 * sel)) & 0xffff_ffffn);
  }

  private writeDriverFeatures(value: number): void {
    if (this.status & STATUS_FEATURES_OK || this.driverFeaturesSel > 1) return;
    const shift = BigInt(32 * this.driverFeaturesSel);
    const mask = 0xffff_ffffn << shift;
    this.driverFeatures = (this.driverFeatures & ~mask) | (BigInt(value) << shift);
  }

  private writeStatus(value: number): void {
    if (value === 0) return this.reset();
    value &= 0xff;
    // FEATURES_OK only sticks for a feature set we offered that includes VERSION_1.
    if (value & STATUS_FEATURES_OK && !(this.status & STATUS_FEATURES_OK)) {
      const f = this.driverFeatures;
      if ((f & ~this.offered) !== 0n || (f & VIRTIO_F_VERSION_1) === 0n) value &= ~STATUS_FEATURES_OK;
      else this.applyRingFeatures();
    }
    const becameOk = value & STATUS_DRIVER_OK && !(this.status & STATUS_DRIVER_OK);
    this.status = (value & ~STATUS_DEVICE_NEEDS_RESET) | (this.status & STATUS_DEVICE_NEEDS_RESET);
    if (becameOk && this.driverOk) this.device.driverReady?.();
  }

  private applyRingFeatures(): void {
    for (const q of this.queues) {
      q.eventIdx = (this.driverFeatures & VIRTIO_RING_F_EVENT_IDX) !== 0n;
      q.indirect = (this.driverFeatures & VIRTIO_RING_F_INDIRECT_DESC) !== 0n;
    }
  }

  private notify(index: number): void {
    if (!this.driverOk || index >= this.queues.length || !this.queues[index].ready) return;
    this.device.queueNotify(index);
  }

  private reset(): void {
    this.status = 0;
    this.driverFeatures = 0n;
    this.deviceFeaturesSel = this.driverFeaturesSel = this.queueSel = 0;
    for (const q of this.queues) q.reset();
    this.device.reset();
    this.interruptStatus = 0;
    this.irq.set(false);
  }

  private raise(bits: number): void {
    this.interruptStatus |= bits;
    this.irq.set(true);
  }

  private ack(bits: number): void {
    this.interruptStatus &= ~bits;
    if (this.interruptStatus === 0) this.irq.set(false);
  }
}

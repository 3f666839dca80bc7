// The virtio devices a MachineConfig asks for (-drive if=virtio, -device virtio-*), built
// for a board that puts each behind a transport. Images and network backends are opened
// once per machine through the host and kept across guest resets (a reset rebuilds the
// devices, not the disks: reopening would trip over our own image lock).
import type { BlockBackend } from "../block/block-backend.js";
import type { VirtioDevice } from "../hw/virtio/virtio-mmio.js";
import { VirtioBlk } from "../hw/virtio/virtio-blk.js";
import { VirtioConsole } from "../hw/virtio/virtio-console.js";
import { VirtioRng } from "../hw/virtio/virtio-rng.js";
import { VirtioNet } from "../hw/virtio/virtio-net.js";
import type { NetBackend } from "../net/net-backend.js";
import type { BoardContext } from "./board-machine.js";
import { UserError } from "./machine.js";

/** A guest can provoke warnings at will; after this many, they are dropped. */
const WARNING_LIMIT = 20;

interface Opened {
  drives: Map<string, BlockBackend>;
  netdevs: Map<string, NetBackend>;
  /** virtio-net devices made in this incarnation, for QEMU's default MACs. */
  nics: number;
  warnings: number;
}

const opened = new WeakMap<BoardContext, Opened>();

function openedFor(ctx: BoardContext): Opened {
  let o = opened.get(ctx);
  if (!o) {
    o = { drives: new Map(), netdevs: new Map(), nics: 0, warnings: 0 };
    opened.set(ctx, o);
  }
  return o;
}

/** The host's warning line, limited so that a hostile guest cannot flood the terminal. */
export function warnOf(ctx: BoardContext): (message: string) => void {
  const o = openedFor(ctx);
  return (message) => {
    if (o.warnings > WARNING_LIMIT) return;
    o.warnings++;
    const text = o.warnings > WARNING_LIMIT ? "virtio: further warnings suppressed" : message;
    if (ctx.host.warn) ctx.host.warn(text);
    else ctx.host.trace?.(`warning: ${text}`);
  };
}

/** Devices in the order they fill slots: if=virtio drives, then -device in order. */
export function createVirtioDevices(ctx: BoardContext, slots: number): VirtioDevice[] {
  const { config } = ctx;
  const devices: VirtioDevice[] = [];
  openedFor(ctx).nics = 0;
  for (const drive of config.drives) {
    if (drive.interface === "virtio") devices.push(blk(ctx, drive.id));
  }
  for (const dev of config.devices) {
    const d = device(ctx, dev.driver, dev.props);
    if (d) devices.push(d);
  }
  if (devices.length > slots) throw new UserError(`${devices.length} virtio devices asked for; the board has ${slots} slots`);
  return devices;
}

function device(ctx: BoardContext, driver: string, props: Record<string, string>): VirtioDevice | undefined {
  switch (driver) {
    case "virtio-blk-device": return blk(ctx, props.drive, props.serial);
    case "virtio-rng-device": return new VirtioRng(randomSource(ctx));
    case "virtio-console-device":
    case "virtio-serial-device": return new VirtioConsole((data) => ctx.host.consoleWrite(data));
    case "virtconsole": return undefined; // the port of the virtio-serial-device above
    case "virtio-net-device": return net(ctx, props.netdev, props.mac);
    default:
      throw new UserError(`-device ${driver}: not a virtio device of this board`);
  }
}

function blk(ctx: BoardContext, id: string, serial?: string): VirtioBlk {
  const drive = ctx.config.drives.find((d) => d.id === id);
  if (!drive) throw new UserError(`-device virtio-blk-device,drive=${id}: no -drive with id '${id}'`);
  const o = openedFor(ctx);
  let backend = o.drives.get(id);
  if (!backend) {
    if (!ctx.host.openDrive) throw new UserError(`-drive ${drive.file}: this host cannot open disk images`);
    backend = ctx.host.openDrive(drive);
    o.drives.set(id, backend);
  }
  return new VirtioBlk(backend, { serial, warn: warnOf(ctx) });
}

/** QEMU's default MAC: 52:54:00:12:34:56, the next NIC :57, and so on. */
const DEFAULT_MAC = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];

function net(ctx: BoardContext, id: string, mac?: string): VirtioNet {
  const netdev = ctx.config.netdevs.find((n) => n.id === id);
  if (!netdev) throw new UserError(`-device virtio-net-device,netdev=${id}: no -netdev with id '${id}'`);
  const o = openedFor(ctx);
  let backend = o.netdevs.get(id);
  if (!backend) {
    if (!ctx.host.createNetBackend) throw new UserError(`-netdev ${netdev.type},id=${id}: this host has no networking`);
    backend = ctx.host.createNetBackend(netdev);
    o.netdevs.set(id, backend);
  }
  const bytes = mac ? Uint8Array.from(mac.split(":"), (h) => parseInt(h, 16)) : Uint8Array.from(DEFAULT_MAC);
  if (!mac) bytes[5] = (bytes[5] + o.nics) & 0xff;
  o.nics++;
  return new VirtioNet(wakingBackend(backend, ctx.wake), bytes);
}

/** The backend as the device sees it: each received frame also wakes a sleeping hart. */
function wakingBackend(backend: NetBackend, wake: () => void): NetBackend {
  return {
    send: (frame) => backend.send(frame),
    onReceive: (handler) => backend.onReceive((frame) => {
      handler(frame);
      wake();
    }),
    close: () => backend.close(),
  };
}

function randomSource(ctx: BoardContext): (buf: Uint8Array) => void {
  if (ctx.host.randomBytes) return (buf) => ctx.host.randomBytes!(buf);
  return (buf) => void globalThis.crypto.getRandomValues(buf as Uint8Array<ArrayBuffer>);
}

// -drive, -device, -netdev, -nic and -snapshot: QEMU's spelling -> MachineConfig's drives,
// netdevs and devices, and the cross-checks QEMU makes once the whole line is read
// (a drive= or netdev= that names nothing, a drive used twice, too many virtio devices).
// Pure, like args.ts.
import type { DeviceConfig, DriveConfig, HostForward, MachineConfig, NetdevConfig } from "../machine/config.js";
import { UserError } from "../machine/machine.js";

/** The virt board's virtio-mmio slots. */
export const VIRTIO_SLOTS = 8;
const CACHE_MODES = ["writeback", "none", "writethrough", "directsync", "unsafe"];
const FORMATS = ["raw", "qcow2"];
const NETDEV_TYPES = ["user", "tap", "socket", "stream"] as const;

/** -device drivers and the properties each takes. */
export const DEVICE_DRIVERS: ReadonlyArray<readonly [string, readonly string[], string]> = [
  ["virtio-blk-device", ["drive", "serial"], "virtio block device (drive=ID)"],
  ["virtio-net-device", ["netdev", "mac"], "virtio network device (netdev=ID[,mac=MAC])"],
  ["virtio-rng-device", [], "virtio entropy source, fed from the host's crypto random"],
  ["virtio-console-device", [], "virtio console with one port (hvc0), output to stdout"],
  ["virtio-serial-device", ["max_ports"], "virtio serial bus; with virtconsole, as virtio-console-device"],
  ["virtconsole", ["chardev", "name"], "console port on virtio-serial-device (hvc0)"],
];

/** Drivers that are not virtio-mmio devices of their own (ports on a bus). */
const PORT_DRIVERS = new Set(["virtconsole"]);

export interface DeviceArgsState {
  config: MachineConfig;
  /** -snapshot: applied to every drive when the line has been read. */
  snapshot: boolean;
  /** -net nic and -net TYPE items, joined when the line has been read. */
  net?: { nics: string[][]; backends: string[][]; flag: string };
}

/** -drive file=F[,format=..][,if=virtio|none][,id=ID][,readonly=on][,cache=..][,snapshot=on] */
export function applyDrive(s: DeviceArgsState, items: string[], flag: string): void {
  const where = `${flag} ${items.join(",")}`;
  const props = properties(items, where, "file");
  const drive: DriveConfig = { id: "", file: "", interface: "virtio", readOnly: false, cache: "writeback", snapshot: false };
  for (const [key, value] of props) {
    switch (key) {
      case "file": drive.file = value; break;
      case "format":
        if (!FORMATS.includes(value)) throw new UserError(`${where}: Unknown driver '${value}' (use raw or qcow2)`);
        drive.format = value as DriveConfig["format"];
        break;
      case "if":
        if (value !== "virtio" && value !== "none") throw new UserError(`${where}: if=${value} is not supported (use virtio or none)`);
        drive.interface = value;
        break;
      case "id": drive.id = value; break;
      case "readonly": drive.readOnly = onOff(value, key, where); break;
      case "snapshot": drive.snapshot = onOff(value, key, where); break;
      case "cache":
        if (!CACHE_MODES.includes(value)) throw new UserError(`${where}: invalid cache mode '${value}' (${CACHE_MODES.join(", ")})`);
        drive.cache = value;
        break;
      case "media":
        if (value !== "disk") throw new UserError(`${where}: only media=disk is supported`);
        break;
      default: throw new UserError(`${where}: unknown -drive option '${key}'`);
    }
  }
  if (drive.file === "") throw new UserError(`${where}: requires file=IMAGE`);
  if (drive.id === "") {
    if (drive.interface === "none") throw new UserError(`${where}: if=none needs id=ID for -device ...,drive=ID`);
    drive.id = `virtio${s.config.drives.filter((d) => d.interface === "virtio").length}`;
  }
  if (s.config.drives.some((d) => d.id === drive.id)) throw new UserError(`${where}: duplicate drive id '${drive.id}'`);
  s.config.drives.push(drive);
}

/** -device DRIVER[,prop=value...]; `-device help` is handled by the caller. */
export function applyDevice(s: DeviceArgsState, items: string[], flag: string): void {
  const where = `${flag} ${items.join(",")}`;
  const [driver, ...rest] = items;
  const known = DEVICE_DRIVERS.find(([name]) => name === driver);
  if (!known) {
    const mmio = driver.replace(/-pci$/, "-device");
    const hint = mmio !== driver && DEVICE_DRIVERS.some(([n]) => n === mmio) ? ` (the virt board has no PCI here: use ${mmio})` : " (-device help lists them)";
    throw new UserError(`${where}: unknown device driver '${driver}'${hint}`);
  }
  const props: Record<string, string> = {};
  for (const [key, value] of properties(rest, where)) {
    if (key === "id" || key === "bus") continue; // accepted as in QEMU; buses are implicit
    if (!known[1].includes(key)) throw new UserError(`${where}: '${driver}' has no property '${key}'`);
    props[key] = value;
  }
  if (driver === "virtio-net-device" && props.mac !== undefined && !/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(props.mac)) {
    throw new UserError(`${where}: invalid mac=${props.mac} (use 52:54:00:12:34:56)`);
  }
  s.config.devices.push({ driver, props } satisfies DeviceConfig);
}

/** -netdev user|tap|socket|stream,id=ID[,...] */
export function applyNetdev(s: DeviceArgsState, items: string[], flag: string): void {
  const where = `${flag} ${items.join(",")}`;
  const [type, ...rest] = items;
  if (!(NETDEV_TYPES as readonly string[]).includes(type)) {
    throw new UserError(`${where}: unknown netdev type '${type}' (use user, tap or socket)`);
  }
  const netdev: NetdevConfig = { id: "", type: type as NetdevConfig["type"], hostForwards: [], options: {} };
  for (const [key, value] of properties(rest, where)) {
    if (key === "id") netdev.id = value;
    else if (key === "hostfwd" && type === "user") netdev.hostForwards.push(hostForward(value, where));
    else netdev.options[key] = value;
  }
  if (netdev.id === "") throw new UserError(`${where}: requires id=ID`);
  if (type === "tap" && !netdev.options.ifname) throw new UserError(`${where}: tap needs ifname=NAME`);
  if (type === "socket" && (netdev.options.listen === undefined) === (netdev.options.connect === undefined)) {
    throw new UserError(`${where}: socket needs one of listen=[HOST]:PORT or connect=HOST:PORT`);
  }
  if (s.config.netdevs.some((n) => n.id === netdev.id)) throw new UserError(`${where}: duplicate netdev id '${netdev.id}'`);
  s.config.netdevs.push(netdev);
}

/** -nic user[,hostfwd=..][,mac=..]: a user netdev and a virtio-net device in one flag. */
export function applyNic(s: DeviceArgsState, items: string[], flag: string): void {
  const where = `${flag} ${items.join(",")}`;
  const [type, ...rest] = items;
  const mac = rest.find((i) => i.startsWith("mac="));
  const model = rest.find((i) => i.startsWith("model="));
  if (model && model !== "model=virtio" && model !== "model=virtio-net-device") {
    throw new UserError(`${where}: only model=virtio exists on this board`);
  }
  const id = `__nic${s.config.netdevs.length}`;
  applyNetdev(s, [type, `id=${id}`, ...rest.filter((i) => i !== mac && i !== model)], flag);
  applyDevice(s, ["virtio-net-device", `netdev=${id}`, ...(mac ? [mac] : [])], flag);
}

/** Old-style -net nic[,macaddr=..][,model=virtio] / -net user|tap|socket,...: kept until
 *  the line is read, then every NIC is joined to the one backend (QEMU's hub 0). */
export function applyNet(s: DeviceArgsState, items: string[], flag: string): void {
  const where = `${flag} ${items.join(",")}`;
  s.net ??= { nics: [], backends: [], flag };
  const [type, ...rest] = items;
  if (type === "none") return;
  if (type === "nic") {
    for (const item of rest) {
      const [key, value] = [item.slice(0, item.indexOf("=")), item.slice(item.indexOf("=") + 1)];
      if (key === "model" && value !== "virtio" && value !== "virtio-net-device") throw new UserError(`${where}: only model=virtio exists on this board`);
      if (key !== "model" && key !== "macaddr" && key !== "name") throw new UserError(`${where}: unknown -net nic option '${item}'`);
    }
    s.net.nics.push(rest);
  } else {
    if (rest.some((i) => i.startsWith("id=") || i.startsWith("vlan="))) throw new UserError(`${where}: use -netdev for id= (or vlan=)`);
    s.net.backends.push(items);
  }
}

function finishNet(s: DeviceArgsState): void {
  const net = s.net;
  if (!net || (net.nics.length === 0 && net.backends.length === 0)) return;
  // A backend feeds one device here (no hub), so one NIC and one backend.
  if (net.backends.length !== 1 || net.nics.length !== 1) {
    throw new UserError(`${net.flag}: needs one -net nic and one -net user|tap|socket (or use -netdev with -device)`);
  }
  const id = "__net0";
  applyNetdev(s, [net.backends[0][0], `id=${id}`, ...net.backends[0].slice(1)], net.flag);
  const mac = net.nics[0].find((i) => i.startsWith("macaddr="))?.replace("macaddr=", "mac=");
  applyDevice(s, ["virtio-net-device", `netdev=${id}`, ...(mac ? [mac] : [])], net.flag);
}

/** -snapshot, -net, the device cross-checks: call once the whole line is read. */
export function finishDevices(s: DeviceArgsState): void {
  finishNet(s);
  const { drives, netdevs, devices } = s.config;
  if (s.snapshot) for (const d of drives) d.snapshot = true;
  const usedDrives = new Set<string>();
  const usedNetdevs = new Set<string>();
  for (const d of drives) if (d.interface === "virtio") usedDrives.add(d.id);
  let serialBus = false;
  let ports = 0;
  for (const dev of devices) {
    const where = `-device ${dev.driver}`;
    if (dev.driver === "virtio-blk-device") claim(dev.props.drive, "drive", drives.map((d) => d.id), usedDrives, where);
    if (dev.driver === "virtio-net-device") claim(dev.props.netdev, "netdev", netdevs.map((n) => n.id), usedNetdevs, where);
    if (dev.driver === "virtio-serial-device") serialBus = true;
    if (dev.driver === "virtconsole") {
      if (!serialBus) throw new UserError(`${where}: needs a -device virtio-serial-device before it`);
      if (++ports > 1) throw new UserError(`${where}: only one console port is supported`);
    }
  }
  for (const n of netdevs) {
    if (!usedNetdevs.has(n.id)) throw new UserError(`-netdev ${n.type},id=${n.id}: no -device virtio-net-device uses it`);
  }
  const slots = virtioSlotCount(s.config);
  if (slots > VIRTIO_SLOTS) throw new UserError(`${slots} virtio devices asked for; the virt board has ${VIRTIO_SLOTS} virtio-mmio slots`);
}

/** virtio-mmio slots the configuration fills: if=virtio drives and -device virtio devices. */
export function virtioSlotCount(config: MachineConfig): number {
  return config.drives.filter((d) => d.interface === "virtio").length +
    config.devices.filter((d) => !PORT_DRIVERS.has(d.driver)).length;
}

export function deviceHelp(): string {
  const lines = DEVICE_DRIVERS.map(([name, , text]) => `name "${name}", bus virtio-bus, desc "${text}"`);
  return `Available devices:\n${lines.join("\n")}\n`;
}

function claim(id: string | undefined, what: string, ids: string[], used: Set<string>, where: string): void {
  if (id === undefined || id === "") throw new UserError(`${where}: requires ${what}=ID`);
  if (!ids.includes(id)) throw new UserError(`${where},${what}=${id}: no -${what} with id '${id}'`);
  if (used.has(id)) throw new UserError(`${where},${what}=${id}: ${what} '${id}' is already in use`);
  used.add(id);
}

/** "hostfwd=[tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport", as QEMU's slirp. */
export function hostForward(value: string, where: string): HostForward {
  const m = /^(tcp|udp)?:([^:]*):(\d+)-([^:]*):(\d+)$/.exec(value);
  const port = (p: string) => {
    const n = Number(p);
    if (n < 0 || n > 65535) throw new UserError(`${where}: port ${p} out of range in hostfwd=${value}`);
    return n;
  };
  if (!m) throw new UserError(`${where}: invalid hostfwd=${value} (use tcp::HOSTPORT-:GUESTPORT)`);
  return {
    protocol: (m[1] ?? "tcp") as HostForward["protocol"],
    hostAddress: m[2],
    hostPort: port(m[3]),
    guestAddress: m[4],
    guestPort: port(m[5]),
  };
}

/** key=value pairs in order; a bare first word is `implicitKey`'s value. */
function properties(items: string[], where: string, implicitKey?: string): Array<[string, string]> {
  return items.filter((item) => item !== "").map((item, index) => {
    const eq = item.indexOf("=");
    if (eq >= 0) return [item.slice(0, eq), item.slice(eq + 1)];
    if (index === 0 && implicitKey !== undefined) return [implicitKey, item];
    throw new UserError(`${where}: '${item}' needs a value (${item}=...)`);
  });
}

function onOff(value: string, key: string, where: string): boolean {
  if (value === "on" || value === "true" || value === "yes") return true;
  if (value === "off" || value === "false" || value === "no") return false;
  throw new UserError(`${where}: ${key}=${value} must be on or off`);
}

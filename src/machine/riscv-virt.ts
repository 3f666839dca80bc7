// QEMU's RISC-V `virt` board (7.2 layout, hw/riscv/virt.c), so that QEMU's firmware,
// U-Boot and kernels run unmodified: the memory map below, a boot ROM that hands over
// to OpenSBI with fw_dynamic_info, a device tree describing it all, and UART0 as console.
import { Bus } from "../hw/bus.js";
import { FdtWriter } from "../fdt/fdt-writer.js";
import { Uart16550 } from "../hw/char/uart16550.js";
import { CLINT_TIMEBASE_HZ } from "../hw/intc/clint.js";
import { Plic, PLIC_NDEV } from "../hw/intc/plic.js";
import { GoldfishRtc } from "../hw/rtc/goldfish-rtc.js";
import { Rom } from "../hw/misc/rom.js";
import { SifiveTest } from "../hw/misc/sifive-test.js";
import { EmptyVirtioMmioSlot } from "../hw/virtio/empty-mmio-slot.js";
import { VirtioMmio } from "../hw/virtio/virtio-mmio.js";
import { createVirtioDevices, warnOf } from "./virtio-devices.js";
import { IRQ_M_EXT, IRQ_M_SOFT, IRQ_M_TIMER, IRQ_S_EXT } from "../target/riscv/cpu.js";
import { createHarts } from "./riscv-harts.js";
import { VirtioConsole } from "../hw/virtio/virtio-console.js";
import { buildResetVector } from "./boot-rom.js";
import type { MachineConfig } from "./config.js";
import type { Machine, MachineHost } from "./machine.js";
import { BoardMachine, type BoardContext, type BoardInstance } from "./board-machine.js";
import { fdtAddress, loadBootFiles } from "./riscv-boot.js";

/** The memory map (base, size), as QEMU's virt_memmap[]. */
export const VIRT_MEMMAP = {
  mrom: { base: 0x1000, size: 0xf000 },
  test: { base: 0x10_0000, size: 0x1000 },
  rtc: { base: 0x10_1000, size: 0x1000 },
  clint: { base: 0x200_0000, size: 0x1_0000 },
  plic: { base: 0xc00_0000, size: 0x60_0000 },
  uart0: { base: 0x1000_0000, size: 0x100 },
  virtio: { base: 0x1000_1000, size: 0x1000 },
  dram: { base: 0x8000_0000 },
} as const;

/** PLIC source numbers. */
export const VIRT_IRQ = { virtio: 1, uart0: 10, rtc: 11 } as const;
export const VIRT_VIRTIO_COUNT = 8;
/** What the harts implement, as the device tree tells OpenSBI and Linux. */
export const VIRT_ISA = "rv64imafdc";
export const VIRT_MMU_TYPE = "riscv,sv48";
const UART_CLOCK_HZ = 0x38_4000;
const POWEROFF_VALUE = 0x5555;
const REBOOT_VALUE = 0x7777;

export interface VirtDtbOptions {
  memBytes: number;
  harts: number;
  /** /chosen/bootargs (-append). */
  bootargs?: string;
  /** /chosen linux,initrd-start and -end. */
  initrd?: { start: number; end: number };
  /** PLIC sources ("riscv,ndev"). */
  plicNdev?: number;
}

/** The device tree QEMU's create_fdt() makes for this board (less PCIe, flash, fw-cfg). */
export function buildVirtDtb(o: VirtDtbOptions): Uint8Array {
  const fdt = new FdtWriter();
  const cpuPhandles = Array.from({ length: o.harts }, () => fdt.allocPhandle());
  const intcPhandles = Array.from({ length: o.harts }, () => fdt.allocPhandle());
  const plicPhandle = fdt.allocPhandle();
  const testPhandle = fdt.allocPhandle();
  const m = VIRT_MEMMAP;
  const reg = (base: number, size: number) => fdt.propU64("reg", base, size);

  fdt.beginNode("");
  fdt.propU32("#address-cells", 2).propU32("#size-cells", 2);
  fdt.propString("compatible", "riscv-virtio").propString("model", "riscv-virtio,qemu");

  fdt.beginNode("chosen");
  if (o.bootargs) fdt.propString("bootargs", o.bootargs);
  fdt.propString("stdout-path", `/soc/serial@${hex(m.uart0.base)}`);
  if (o.initrd) {
    fdt.propU64("linux,initrd-start", o.initrd.start).propU64("linux,initrd-end", o.initrd.end);
  }
  fdt.endNode();

  fdt.beginNode(`memory@${hex(m.dram.base)}`);
  fdt.propString("device_type", "memory");
  reg(m.dram.base, o.memBytes);
  fdt.endNode();

  cpusNode(fdt, cpuPhandles, intcPhandles);

  syscon(fdt, "poweroff", "syscon-poweroff", testPhandle, POWEROFF_VALUE);
  syscon(fdt, "reboot", "syscon-reboot", testPhandle, REBOOT_VALUE);

  fdt.beginNode("soc");
  fdt.propU32("#address-cells", 2).propU32("#size-cells", 2);
  fdt.propString("compatible", "simple-bus").propEmpty("ranges");

  fdt.beginNode(`test@${hex(m.test.base)}`);
  fdt.propStrings("compatible", ["sifive,test1", "sifive,test0", "syscon"]);
  reg(m.test.base, m.test.size);
  fdt.propU32("phandle", testPhandle);
  fdt.endNode();

  fdt.beginNode(`rtc@${hex(m.rtc.base)}`);
  fdt.propString("compatible", "google,goldfish-rtc");
  reg(m.rtc.base, m.rtc.size);
  fdt.propU32("interrupts", VIRT_IRQ.rtc).propU32("interrupt-parent", plicPhandle);
  fdt.endNode();

  fdt.beginNode(`clint@${hex(m.clint.base)}`);
  fdt.propStrings("compatible", ["sifive,clint0", "riscv,clint0"]);
  reg(m.clint.base, m.clint.size);
  fdt.propU32("interrupts-extended", ...intcPhandles.flatMap((ph) => [ph, IRQ_M_SOFT, ph, IRQ_M_TIMER]));
  fdt.endNode();

  // All eight transports, the highest address first as QEMU writes them: the first
  // device goes in the last slot, so it is also the first the guest probes (vda).
  for (let i = VIRT_VIRTIO_COUNT - 1; i >= 0; i--) {
    const base = m.virtio.base + i * m.virtio.size;
    fdt.beginNode(`virtio_mmio@${hex(base)}`);
    fdt.propU32("interrupts", VIRT_IRQ.virtio + i).propU32("interrupt-parent", plicPhandle);
    reg(base, m.virtio.size);
    fdt.propString("compatible", "virtio,mmio");
    fdt.endNode();
  }

  fdt.beginNode(`plic@${hex(m.plic.base)}`);
  fdt.propU32("#interrupt-cells", 1).propU32("#address-cells", 0);
  fdt.propStrings("compatible", ["sifive,plic-1.0.0", "riscv,plic0"]);
  fdt.propEmpty("interrupt-controller");
  fdt.propU32("interrupts-extended", ...intcPhandles.flatMap((ph) => [ph, IRQ_M_EXT, ph, IRQ_S_EXT]));
  reg(m.plic.base, m.plic.size);
  fdt.propU32("riscv,ndev", o.plicNdev ?? PLIC_NDEV);
  fdt.propU32("phandle", plicPhandle);
  fdt.endNode();

  fdt.beginNode(`serial@${hex(m.uart0.base)}`);
  fdt.propString("compatible", "ns16550a");
  reg(m.uart0.base, m.uart0.size);
  fdt.propU32("clock-frequency", UART_CLOCK_HZ);
  fdt.propU32("interrupts", VIRT_IRQ.uart0).propU32("interrupt-parent", plicPhandle);
  fdt.endNode();

  fdt.endNode(); // soc
  fdt.endNode(); // root
  return fdt.finish();
}

/** /cpus: one cpu@N per hart, each with its local interrupt controller, and cpu-map. */
export function cpusNode(fdt: FdtWriter, cpuPhandles: number[], intcPhandles: number[]): void {
  fdt.beginNode("cpus");
  fdt.propU32("#address-cells", 1).propU32("#size-cells", 0);
  fdt.propU32("timebase-frequency", CLINT_TIMEBASE_HZ);
  cpuPhandles.forEach((ph, h) => cpuNode(fdt, h, ph, intcPhandles[h]));
  fdt.beginNode("cpu-map").beginNode("cluster0");
  cpuPhandles.forEach((ph, h) => fdt.beginNode(`core${h}`).propU32("cpu", ph).endNode());
  fdt.endNode().endNode();
  fdt.endNode();
}

function cpuNode(fdt: FdtWriter, hart: number, phandle: number, intcPhandle: number): void {
  fdt.beginNode(`cpu@${hart.toString(16)}`);
  fdt.propString("device_type", "cpu").propU32("reg", hart).propString("status", "okay");
  fdt.propString("compatible", "riscv").propString("riscv,isa", VIRT_ISA);
  fdt.propString("mmu-type", VIRT_MMU_TYPE);
  fdt.propU32("phandle", phandle);
  fdt.beginNode("interrupt-controller");
  fdt.propU32("#interrupt-cells", 1);
  // Not needed by Linux, but dtc's interrupt_provider check wants it.
  fdt.propU32("#address-cells", 0);
  fdt.propEmpty("interrupt-controller").propString("compatible", "riscv,cpu-intc");
  fdt.propU32("phandle", intcPhandle);
  fdt.endNode();
  fdt.endNode();
}

function syscon(fdt: FdtWriter, name: string, compatible: string, regmap: number, value: number): void {
  fdt.beginNode(name).propString("compatible", compatible);
  fdt.propU32("regmap", regmap).propU32("offset", 0).propU32("value", value);
  fdt.endNode();
}

function hex(v: number): string {
  return v.toString(16);
}

/** Builds the board: devices on the bus, images in RAM, the ROM pointing at them. */
export function buildVirt(ctx: BoardContext): BoardInstance {
  const { config, files, host, control } = ctx;
  const m = VIRT_MEMMAP;
  const harts = config.smp;
  const mem = ctx.memory(m.dram.base);
  const bus = new Bus();
  const { cpus, clint } = createHarts(ctx, mem, bus);
  const plic = new Plic({
    harts,
    setContextIrq: (c, level) => cpus[c >> 1].setInterrupt(c & 1 ? IRQ_S_EXT : IRQ_M_EXT, level),
  });
  const consoleOut = config.serial === "none" ? () => {} : (b: number) => host.consoleWrite(Uint8Array.of(b));
  const uart = new Uart16550(plic.irqLine(VIRT_IRQ.uart0), consoleOut);
  const rtc = new GoldfishRtc(plic.irqLine(VIRT_IRQ.rtc), () => host.wallClockNs());

  // Images first: the device tree names the initrd, the ROM names the device tree.
  const dtbFor = (initrd?: { start: number; end: number }) =>
    files.dtb?.bytes ??
    buildVirtDtb({ memBytes: config.memBytes, harts, bootargs: config.append, initrd, plicNdev: plic.ndev });
  const fdtAddr = fdtAddress(mem, dtbFor(files.initrd && { start: 0, end: 0 }).length);
  const layout = loadBootFiles(mem, files, fdtAddr);
  const dtb = dtbFor(layout.initrd);
  mem.writeBytes(fdtAddr, dtb);
  const resetVector = buildResetVector({ startAddr: layout.startAddr, fdtAddr, kernelEntry: layout.kernelEntry });

  bus.map(m.mrom.base, new Rom(resetVector, m.mrom.size), "mrom");
  bus.map(m.test.base, new SifiveTest(control), "test");
  bus.map(m.rtc.base, rtc, "rtc");
  bus.map(m.clint.base, clint, "clint");
  bus.map(m.plic.base, plic, "plic");
  bus.map(m.uart0.base, uart, "uart0");
  const virtio = createVirtioDevices(ctx, VIRT_VIRTIO_COUNT);
  const hvc = virtio.find((d): d is VirtioConsole => d instanceof VirtioConsole);
  for (let i = 0; i < VIRT_VIRTIO_COUNT; i++) {
    // Devices fill the slots from the last one down, as in QEMU (see the device tree).
    const dev = virtio[VIRT_VIRTIO_COUNT - 1 - i];
    const slot = dev ? new VirtioMmio(mem, plic.irqLine(VIRT_IRQ.virtio + i), dev, warnOf(ctx)) : new EmptyVirtioMmioSlot();
    bus.map(m.virtio.base + i * m.virtio.size, slot, `virtio-mmio${i}`);
  }
  for (const cpu of cpus) cpu.reset(m.mrom.base);

  return {
    mem,
    bus,
    cpus,
    dtb,
    // The keyboard goes to UART0; with -serial none, to virtio-console's hvc0 if there is one.
    receive: config.serial !== "none" ? (data) => uart.receive(data) : (data) => hvc?.receive(data),
    poll: () => {
      clint.update();
      rtc.poll();
    },
    nextDeadlineNs: () => clint.nextDeadlineNs(),
  };
}

/** The `virt` machine as the CLI runs it. */
export function createVirtMachine(config: MachineConfig, host: MachineHost): Machine {
  return new BoardMachine(config, host, buildVirt);
}

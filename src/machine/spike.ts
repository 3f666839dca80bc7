// QEMU's `spike` board (hw/riscv/spike.c): RAM, a CLINT, the boot ROM and HTIF, the
// Berkeley host interface the RISC-V ISA tests report through. The test ELF (-bios FILE,
// or -kernel FILE with -bios none) names its `tohost`/`fromhost` mailboxes in RAM; the
// run loop polls them between short slices. Without the symbols HTIF is the MMIO window
// at 0x1000000, as in QEMU.
import { Bus } from "../hw/bus.js";
import { FdtWriter } from "../fdt/fdt-writer.js";
import { Htif, HtifMmio, ramMailboxes, type HtifMailboxes } from "../hw/misc/htif.js";
import { Rom } from "../hw/misc/rom.js";
import { IRQ_M_SOFT, IRQ_M_TIMER } from "../target/riscv/cpu.js";
import { createHarts } from "./riscv-harts.js";
import { buildResetVector } from "./boot-rom.js";
import type { MachineConfig } from "./config.js";
import type { GuestMemory } from "./guest-memory.js";
import { UserError, type Machine, type MachineHost } from "./machine.js";
import { BoardMachine, type BoardContext, type BoardInstance } from "./board-machine.js";
import { fdtAddress, loadBootFiles, type BootFiles, type BootLayout } from "./riscv-boot.js";
import { cpusNode } from "./riscv-virt.js";

export const SPIKE_MEMMAP = {
  mrom: { base: 0x1000, size: 0xf000 },
  htif: { base: 0x100_0000, size: 0x1000 },
  clint: { base: 0x200_0000, size: 0x1_0000 },
  dram: { base: 0x8000_0000 },
} as const;

/** Short slices: a test waits on fromhost, which is answered only between slices. */
const SPIKE_SLICE = 10_000;

export interface SpikeDtbOptions {
  memBytes: number;
  harts: number;
  bootargs?: string;
  initrd?: { start: number; end: number };
  /** HTIF is at the MMIO window (no ELF symbols): give its node a reg. */
  htifMmio: boolean;
}

/** The device tree QEMU's spike create_fdt() makes. */
export function buildSpikeDtb(o: SpikeDtbOptions): Uint8Array {
  const fdt = new FdtWriter();
  const cpuPhandles = Array.from({ length: o.harts }, () => fdt.allocPhandle());
  const intcPhandles = Array.from({ length: o.harts }, () => fdt.allocPhandle());
  const m = SPIKE_MEMMAP;
  const htifName = o.htifMmio ? `htif@${m.htif.base.toString(16)}` : "htif";

  fdt.beginNode("");
  fdt.propU32("#address-cells", 2).propU32("#size-cells", 2);
  fdt.propString("compatible", "ucbbar,spike-bare-dev").propString("model", "ucbbar,spike-bare,qemu");

  fdt.beginNode("chosen");
  if (o.bootargs) fdt.propString("bootargs", o.bootargs);
  fdt.propString("stdout-path", `/${htifName}`);
  if (o.initrd) {
    fdt.propU64("linux,initrd-start", o.initrd.start).propU64("linux,initrd-end", o.initrd.end);
  }
  fdt.endNode();

  fdt.beginNode(`memory@${m.dram.base.toString(16)}`);
  fdt.propString("device_type", "memory").propU64("reg", m.dram.base, o.memBytes);
  fdt.endNode();

  cpusNode(fdt, cpuPhandles, intcPhandles);

  fdt.beginNode("soc");
  fdt.propU32("#address-cells", 2).propU32("#size-cells", 2);
  fdt.propString("compatible", "simple-bus").propEmpty("ranges");
  fdt.beginNode(`clint@${m.clint.base.toString(16)}`);
  fdt.propStrings("compatible", ["sifive,clint0", "riscv,clint0"]);
  fdt.propU64("reg", m.clint.base, m.clint.size);
  fdt.propU32("interrupts-extended", ...intcPhandles.flatMap((ph) => [ph, IRQ_M_SOFT, ph, IRQ_M_TIMER]));
  fdt.endNode();
  fdt.endNode();

  fdt.beginNode(htifName);
  fdt.propString("compatible", "ucb,htif0");
  if (o.htifMmio) fdt.propU64("reg", m.htif.base, m.htif.size);
  fdt.endNode();

  fdt.endNode();
  return fdt.finish();
}

/** Builds the board: RAM, CLINT, HTIF, the images and the ROM pointing at them. */
export function buildSpike(ctx: BoardContext): BoardInstance {
  const { config, files, host, control } = ctx;
  const m = SPIKE_MEMMAP;
  const harts = config.smp;
  const mem = ctx.memory(m.dram.base);
  const bus = new Bus();
  const { cpus, clint } = createHarts(ctx, mem, bus);

  // Whether HTIF needs its MMIO window is known only once the ELF is parsed, but the
  // device tree's size does not depend on it beyond a few bytes: size it for the larger.
  const dtbFor = (htifMmio: boolean, initrd?: { start: number; end: number }) =>
    files.dtb?.bytes ??
    buildSpikeDtb({ memBytes: config.memBytes, harts, bootargs: config.append, initrd, htifMmio });
  const fdtAddr = fdtAddress(mem, dtbFor(true, files.initrd && { start: 0, end: 0 }).length);
  const layout = loadBootFiles(mem, files, fdtAddr);
  const mailboxes = htifMailboxes(mem, layout, files);
  const dtb = dtbFor(mailboxes instanceof HtifMmio, layout.initrd);
  mem.writeBytes(fdtAddr, dtb);
  const resetVector = buildResetVector({ startAddr: layout.startAddr, fdtAddr, kernelEntry: layout.kernelEntry });

  const consoleWrite = config.serial === "none" ? () => {} : (data: Uint8Array) => host.consoleWrite(data);
  const htif = new Htif({ mailboxes, mem, consoleWrite, machine: control });
  bus.map(m.mrom.base, new Rom(resetVector, m.mrom.size), "mrom");
  bus.map(m.clint.base, clint, "clint");
  if (mailboxes instanceof HtifMmio) {
    mailboxes.onRequest = () => htif.poll();
    bus.map(m.htif.base, mailboxes, "htif");
  }
  for (const cpu of cpus) cpu.reset(m.mrom.base);

  return {
    mem,
    bus,
    cpus,
    dtb,
    receive: (data) => htif.receive(data),
    poll: () => {
      clint.update();
      htif.poll();
    },
    nextDeadlineNs: () => clint.nextDeadlineNs(),
  };
}

/** The ELF's tohost/fromhost words in RAM, or the MMIO window when it has none. */
function htifMailboxes(mem: GuestMemory, layout: BootLayout, files: BootFiles): HtifMailboxes {
  const tohost = layout.symbol("tohost");
  const fromhost = layout.symbol("fromhost");
  if (tohost === undefined || fromhost === undefined) return new HtifMmio();
  const file = (files.firmware ?? files.kernel)!.path;
  for (const [name, addr] of [["tohost", tohost], ["fromhost", fromhost]] as const) {
    if (!mem.inRam(addr, 8) || addr % 8 !== 0) {
      throw new UserError(`${file}: HTIF ${name} at 0x${addr.toString(16)} is not an aligned word in RAM`);
    }
  }
  return ramMailboxes(mem, tohost, fromhost);
}

/** The `spike` machine as the CLI runs it. */
export function createSpikeMachine(config: MachineConfig, host: MachineHost): Machine {
  return new BoardMachine(config, host, buildSpike, SPIKE_SLICE);
}

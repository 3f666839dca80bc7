// The Intel MultiProcessor Specification 1.4 tables, for guests booted with acpi=off: a
// floating pointer ("_MP_", found by the kernel's scan of the EBDA) pointing at the
// configuration table ("PCMP") listing the processors, one ISA bus, the IOAPIC, how ISA
// IRQs 0-15 reach the IOAPIC, and the local APIC LINT pins. Firecracker's layout: IRQ n
// arrives on IOAPIC pin n, which is KVM's default GSI routing.
import { UserError } from "../machine.js";

export const MP_FLOATING_SIZE = 16;
export const MP_CONFIG_HEADER_SIZE = 44;
const MP_SPEC_REV = 4; // 1.4
const LAPIC_ADDR = 0xfee00000;
const IOAPIC_ADDR = 0xfec00000;
const LAPIC_VERSION = 0x14;
const IOAPIC_VERSION = 0x11;
const CPU_SIGNATURE = 0x600; // family 6
const CPU_FEATURES = 0x201; // FPU, on-chip APIC
const ISA_BUS_ID = 0;
const ISA_IRQS = 16;
/** The tables live in the EBDA's last KiB (0x9FC00-0x9FFFF, reserved in e820): 16 + 44 +
 *  20 per processor + 8 + 8 + 16 * 8 + 2 * 8 bytes fit up to this many vCPUs. */
export const MP_TABLE_SIZE_MAX = 0x400;
export const MP_TABLE_MAX_CPUS = 40;

export const ENTRY_PROCESSOR = 0;
export const ENTRY_BUS = 1;
export const ENTRY_IOAPIC = 2;
export const ENTRY_IO_INTERRUPT = 3;
export const ENTRY_LOCAL_INTERRUPT = 4;
const CPU_ENABLED = 1;
const CPU_BOOTSTRAP = 2;
const INT_TYPE_INT = 0;
const INT_TYPE_NMI = 1;
const INT_TYPE_EXTINT = 3;
const FLAGS_CONFORMS = 0; // polarity and trigger as the bus defines (ISA: high, edge)
const ALL_LAPICS = 0xff;

/** The floating pointer at offset 0, the configuration table right after it. */
export function buildMpTable(opts: { cpus: number; base: number }): Uint8Array {
  if (opts.cpus < 1) throw new Error(`MP table: ${opts.cpus} vCPUs`);
  if (opts.cpus > MP_TABLE_MAX_CPUS) {
    throw new UserError(`-smp ${opts.cpus} with acpi=off: the MP table holds at most ${MP_TABLE_MAX_CPUS} CPUs`);
  }
  const config = configTable(opts.cpus);
  const out = new Uint8Array(MP_FLOATING_SIZE + config.length);
  out.set(floatingPointer(opts.base + MP_FLOATING_SIZE), 0);
  out.set(config, MP_FLOATING_SIZE);
  return out;
}

function floatingPointer(configAddr: number): Uint8Array {
  const b = new Uint8Array(MP_FLOATING_SIZE);
  const v = new DataView(b.buffer);
  ascii(b, 0, "_MP_");
  v.setUint32(4, configAddr, true);
  b[8] = 1; // length in 16-byte paragraphs
  b[9] = MP_SPEC_REV;
  // feature bytes 1-5 stay 0: a configuration table is present, virtual wire mode (no IMCR)
  b[10] = checksum(b);
  return b;
}

function configTable(cpus: number): Uint8Array {
  const entries: number[][] = [];
  for (let i = 0; i < cpus; i++) {
    entries.push([ENTRY_PROCESSOR, i, LAPIC_VERSION, CPU_ENABLED | (i === 0 ? CPU_BOOTSTRAP : 0),
      ...u32(CPU_SIGNATURE), ...u32(CPU_FEATURES), 0, 0, 0, 0, 0, 0, 0, 0]);
  }
  entries.push([ENTRY_BUS, ISA_BUS_ID, ...Array.from("ISA   ", (c) => c.charCodeAt(0))]);
  const ioapicId = cpus;
  entries.push([ENTRY_IOAPIC, ioapicId, IOAPIC_VERSION, 1 /* enabled */, ...u32(IOAPIC_ADDR)]);
  for (let irq = 0; irq < ISA_IRQS; irq++) {
    entries.push([ENTRY_IO_INTERRUPT, INT_TYPE_INT, ...u16(FLAGS_CONFORMS), ISA_BUS_ID, irq, ioapicId, irq]);
  }
  entries.push([ENTRY_LOCAL_INTERRUPT, INT_TYPE_EXTINT, ...u16(FLAGS_CONFORMS), ISA_BUS_ID, 0, 0 /* BSP */, 0 /* LINT0 */]);
  entries.push([ENTRY_LOCAL_INTERRUPT, INT_TYPE_NMI, ...u16(FLAGS_CONFORMS), ISA_BUS_ID, 0, ALL_LAPICS, 1 /* LINT1 */]);

  const body = entries.flat();
  const b = new Uint8Array(MP_CONFIG_HEADER_SIZE + body.length);
  const v = new DataView(b.buffer);
  ascii(b, 0, "PCMP");
  v.setUint16(4, b.length, true); // base table length
  b[6] = MP_SPEC_REV;
  ascii(b, 8, "TSVISOR ");
  ascii(b, 16, "MICROVM     ");
  v.setUint16(34, entries.length, true);
  v.setUint32(36, LAPIC_ADDR, true);
  b.set(body, MP_CONFIG_HEADER_SIZE);
  b[7] = checksum(b);
  return b;
}

function ascii(b: Uint8Array, off: number, s: string): void {
  for (let i = 0; i < s.length; i++) b[off + i] = s.charCodeAt(i);
}

function checksum(b: Uint8Array): number {
  return (0x100 - (b.reduce((s, x) => s + x, 0) & 0xff)) & 0xff;
}

function u16(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff];
}

function u32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

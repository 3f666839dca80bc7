// The ACPI tables of the x86-64 microvm (hardware-reduced ACPI, as QEMU's microvm builds
// them): RSDP -> XSDT -> FADT (-> DSDT) and MADT. The DSDT describes COM1 and one
// virtio-mmio device ("LNRO0005", the ID Linux's virtio_mmio driver matches) per slot in
// use, and \_S5 so the kernel can power off through the FADT's sleep control register.
// Everything is laid out from `base` (0xE0000, where the kernel also scans for the RSDP).
import { checksum, GAS_ACCESS_BYTE, GAS_SYSTEM_IO, OEM_ID, putAscii, putGas, sdt, SDT_HEADER_SIZE } from "./acpi-sdt.js";
import * as aml from "./aml.js";

export const LAPIC_ADDR = 0xfee00000;
export const IOAPIC_ADDR = 0xfec00000;
export const COM1_PORT = 0x3f8;
export const COM1_IRQ = 4;
export const VIRTIO_MMIO_SIZE = 0x1000;
/** Hardware-reduced ACPI registers (port I/O, 8 bits wide), served by the board. */
export const SLEEP_CONTROL_PORT = 0x600;
export const SLEEP_STATUS_PORT = 0x601;
export const RESET_PORT = 0x602;
export const RESET_VALUE = 0x01;
/** SLP_TYP the DSDT's \_S5 package hands the kernel for power-off (control register bits 2-4). */
export const S5_SLP_TYP = 5;
/** The whole set must fit the 0xE0000-0xFFFFF window. */
export const ACPI_MAX_SIZE = 0x10000;

const RSDP_SIZE = 36;
const FADT_REVISION = 6;
const FADT_SIZE = 276; // the ACPI 6.x layout, header included
const FADT_FLAG_RESET_REG_SUP = 1 << 10;
const FADT_FLAG_HW_REDUCED_ACPI = 1 << 20;
/** IA-PC boot architecture flags: an 8042 (as QEMU microvm with its i8042), no VGA, no CMOS RTC. */
const IAPC_8042 = 1 << 1;
const IAPC_VGA_NOT_PRESENT = 1 << 2;
const IAPC_CMOS_RTC_NOT_PRESENT = 1 << 5;
const MADT_REVISION = 1;
const MADT_PCAT_COMPAT = 1; // the in-kernel KVM irqchip includes a dual 8259
const MADT_LAPIC = 0;
const MADT_IOAPIC = 1;
const MADT_INT_SRC_OVERRIDE = 2;
const MADT_LAPIC_NMI = 4;
const MAX_CPUS = 254; // xAPIC IDs; 255 is the broadcast ID

export interface AcpiOptions {
  cpus: number;
  virtio: { addr: number; gsi: number }[];
  base: number;
}

/** All tables, RSDP at offset 0, each table 16-byte aligned after it. */
export function buildAcpiTables(opts: AcpiOptions): Uint8Array {
  if (opts.cpus < 1 || opts.cpus > MAX_CPUS) throw new Error(`ACPI MADT: ${opts.cpus} vCPUs (1..${MAX_CPUS})`);
  const layout = new Layout(opts.base, RSDP_SIZE);
  const dsdtAddr = layout.place(dsdt(opts.virtio));
  const fadtAddr = layout.place(fadt(dsdtAddr));
  const madtAddr = layout.place(madt(opts.cpus));
  const xsdtAddr = layout.place(xsdt([fadtAddr, madtAddr]));
  const out = layout.bytes();
  out.set(rsdp(xsdtAddr), 0);
  if (out.length > ACPI_MAX_SIZE) throw new Error(`ACPI tables too large (${out.length} bytes)`);
  return out;
}

/** Root System Description Pointer, revision 2 (ACPI 6.4 5.2.5.3): points at the XSDT only. */
export function rsdp(xsdtAddr: number): Uint8Array {
  const b = new Uint8Array(RSDP_SIZE);
  const v = new DataView(b.buffer);
  putAscii(b, 0, "RSD PTR ", 8);
  putAscii(b, 9, OEM_ID, 6);
  b[15] = 2; // revision
  v.setUint32(16, 0, true); // no RSDT
  v.setUint32(20, RSDP_SIZE, true);
  v.setBigUint64(24, BigInt(xsdtAddr), true);
  b[8] = checksum(b, 0, 20); // the ACPI 1.0 part
  b[32] = checksum(b, 0, RSDP_SIZE); // the whole structure
  return b;
}

export function xsdt(tables: number[]): Uint8Array {
  const body = new Uint8Array(8 * tables.length);
  const v = new DataView(body.buffer);
  tables.forEach((addr, i) => v.setBigUint64(8 * i, BigInt(addr), true));
  return sdt("XSDT", 1, body);
}

/** Fixed ACPI Description Table: hardware-reduced, so no PM1/GPE blocks and no SCI; sleep
 *  and reset go through the registers the board serves in port I/O. */
export function fadt(dsdtAddr: number): Uint8Array {
  const t = new Uint8Array(FADT_SIZE - SDT_HEADER_SIZE);
  const v = new DataView(t.buffer);
  const at = (off: number) => off - SDT_HEADER_SIZE; // offsets below are from the table start
  v.setUint32(at(40), dsdtAddr, true); // DSDT
  v.setUint16(at(109), IAPC_8042 | IAPC_VGA_NOT_PRESENT | IAPC_CMOS_RTC_NOT_PRESENT, true);
  v.setUint32(at(112), FADT_FLAG_HW_REDUCED_ACPI | FADT_FLAG_RESET_REG_SUP, true);
  putGas(v, at(116), { space: GAS_SYSTEM_IO, bitWidth: 8, accessSize: GAS_ACCESS_BYTE, address: RESET_PORT });
  v.setUint8(at(128), RESET_VALUE);
  v.setUint8(at(131), 0); // FADT minor version: ACPI 6.0
  v.setBigUint64(at(140), BigInt(dsdtAddr), true); // X_DSDT
  putGas(v, at(244), { space: GAS_SYSTEM_IO, bitWidth: 8, accessSize: GAS_ACCESS_BYTE, address: SLEEP_CONTROL_PORT });
  putGas(v, at(256), { space: GAS_SYSTEM_IO, bitWidth: 8, accessSize: GAS_ACCESS_BYTE, address: SLEEP_STATUS_PORT });
  putAscii(t, at(268), "TSVISOR", 8, 0); // hypervisor vendor identity
  return sdt("FACP", FADT_REVISION, t);
}

/** Multiple APIC Description Table: one enabled local APIC per vCPU (APIC ID = index),
 *  the IOAPIC (ID = cpus) with GSIs from 0, IRQ0 -> GSI 2 as on every PC, LINT1 = NMI. */
export function madt(cpus: number): Uint8Array {
  const entries: number[][] = [];
  for (let i = 0; i < cpus; i++) entries.push([MADT_LAPIC, 8, i, i, ...u32(1)]);
  entries.push([MADT_IOAPIC, 12, cpus, 0, ...u32(IOAPIC_ADDR), ...u32(0)]);
  entries.push([MADT_INT_SRC_OVERRIDE, 10, 0 /* ISA */, 0 /* IRQ0 */, ...u32(2), 0, 0 /* conforms: edge, high */]);
  entries.push([MADT_LAPIC_NMI, 6, 0xff /* all processors */, 0, 0, 1 /* LINT1 */]);
  const body = Uint8Array.from([...u32(LAPIC_ADDR), ...u32(MADT_PCAT_COMPAT), ...entries.flat()]);
  return sdt("APIC", MADT_REVISION, body);
}

/** Differentiated System Description Table: \_SB.COM1, \_SB.VRnn per virtio slot, \_S5. */
export function dsdt(virtio: { addr: number; gsi: number }[]): Uint8Array {
  const com1 = aml.device("COM1", [
    aml.name("_HID", aml.eisaId("PNP0501")),
    aml.name("_UID", aml.int(0)),
    aml.name("_CRS", aml.resourceTemplate([aml.io(COM1_PORT, COM1_PORT, 0, 8), aml.irqNoFlags([COM1_IRQ])])),
  ]);
  const level = { consumer: true, edge: false, activeLow: false, shared: false };
  const mmio = virtio.map((d, i) => aml.device(`VR${i.toString(16).toUpperCase().padStart(2, "0")}`, [
    aml.name("_HID", aml.str("LNRO0005")),
    aml.name("_UID", aml.int(i)),
    aml.name("_CRS", aml.resourceTemplate([aml.memory32Fixed(true, d.addr, VIRTIO_MMIO_SIZE), aml.interrupt(level, [d.gsi])])),
  ]));
  return aml.definitionBlock("DSDT", [
    // Relative names at the top level are in the root scope: "_SB" is \_SB, as iasl writes it.
    aml.scope("_SB", [com1, ...mmio]),
    aml.name("_S5", aml.pkg([aml.int(S5_SLP_TYP), aml.int(S5_SLP_TYP), aml.int(0), aml.int(0)])),
  ]);
}

/** Places tables one after another from `base`, each 16-byte aligned. */
class Layout {
  private readonly parts: { off: number; bytes: Uint8Array }[] = [];
  private end: number;
  constructor(private readonly base: number, reserved: number) {
    this.end = reserved;
  }
  place(bytes: Uint8Array): number {
    const off = Math.ceil(this.end / 16) * 16;
    this.parts.push({ off, bytes });
    this.end = off + bytes.length;
    return this.base + off;
  }
  bytes(): Uint8Array {
    const out = new Uint8Array(this.end);
    for (const p of this.parts) out.set(p.bytes, p.off);
    return out;
  }
}

function u32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

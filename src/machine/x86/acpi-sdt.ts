// ACPI system description table plumbing (ACPI 6.4 section 5.2.6): the 36-byte header every
// table starts with, the checksum that makes its bytes sum to zero, and the Generic Address
// Structure the FADT uses for register locations.

export const SDT_HEADER_SIZE = 36;
export const OEM_ID = "TSVISR"; // 6 bytes
export const OEM_TABLE_ID = "TSVMICRO"; // 8 bytes
export const CREATOR_ID = "TSVR";
export const CREATOR_REVISION = 1;

/** Generic Address Structure address space IDs. */
export const GAS_SYSTEM_MEMORY = 0;
export const GAS_SYSTEM_IO = 1;
/** GAS access sizes. */
export const GAS_ACCESS_BYTE = 1;

/** ASCII into `b` at `off`, padded with `pad` to `len` bytes. */
export function putAscii(b: Uint8Array, off: number, s: string, len = s.length, pad = 0x20): void {
  for (let i = 0; i < len; i++) b[off + i] = i < s.length ? s.charCodeAt(i) : pad;
}

/** The byte that makes `b[start, end)` sum to 0 mod 256, given the checksum byte is 0 now. */
export function checksum(b: Uint8Array, start = 0, end = b.length): number {
  let sum = 0;
  for (let i = start; i < end; i++) sum = (sum + b[i]) & 0xff;
  return (0x100 - sum) & 0xff;
}

/** A complete table: header (signature, length, revision, OEM fields, checksum) + body. */
export function sdt(signature: string, revision: number, body: Uint8Array): Uint8Array {
  const t = new Uint8Array(SDT_HEADER_SIZE + body.length);
  const v = new DataView(t.buffer);
  putAscii(t, 0, signature, 4);
  v.setUint32(4, t.length, true);
  t[8] = revision;
  putAscii(t, 10, OEM_ID, 6);
  putAscii(t, 16, OEM_TABLE_ID, 8);
  v.setUint32(24, 1, true); // OEM revision
  putAscii(t, 28, CREATOR_ID, 4);
  v.setUint32(32, CREATOR_REVISION, true);
  t.set(body, SDT_HEADER_SIZE);
  t[9] = checksum(t);
  return t;
}

/** Writes a 12-byte Generic Address Structure at `off`. */
export function putGas(v: DataView, off: number, gas: { space: number; bitWidth: number; accessSize: number; address: number }): void {
  v.setUint8(off, gas.space);
  v.setUint8(off + 1, gas.bitWidth);
  v.setUint8(off + 2, 0); // bit offset
  v.setUint8(off + 3, gas.accessSize);
  v.setBigUint64(off + 4, BigInt(gas.address), true);
}

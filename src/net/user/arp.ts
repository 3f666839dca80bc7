// ARP for IPv4 over Ethernet (RFC 826): the gateway answers for its own addresses.
import { readIp, writeIp } from "./ipv4.js";

export const ARP_LENGTH = 28;
export const ARP_REQUEST = 1;
export const ARP_REPLY = 2;

export interface ArpPacket {
  op: number;
  senderMac: Uint8Array;
  senderIp: number;
  targetMac: Uint8Array;
  targetIp: number;
}

/** Null unless it is Ethernet/IPv4 ARP of at least 28 bytes. */
export function parseArp(buf: Uint8Array): ArpPacket | null {
  if (buf.length < ARP_LENGTH) return null;
  if (((buf[0] << 8) | buf[1]) !== 1 || ((buf[2] << 8) | buf[3]) !== 0x0800 || buf[4] !== 6 || buf[5] !== 4) return null;
  return {
    op: (buf[6] << 8) | buf[7],
    senderMac: buf.slice(8, 14),
    senderIp: readIp(buf, 14),
    targetMac: buf.slice(18, 24),
    targetIp: readIp(buf, 24),
  };
}

export function buildArp(a: ArpPacket): Uint8Array {
  const b = new Uint8Array(ARP_LENGTH);
  b.set([0, 1, 0x08, 0x00, 6, 4, 0, a.op]);
  b.set(a.senderMac.subarray(0, 6), 8);
  writeIp(b, 14, a.senderIp);
  b.set(a.targetMac.subarray(0, 6), 18);
  writeIp(b, 24, a.targetIp);
  return b;
}

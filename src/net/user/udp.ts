// UDP datagrams (RFC 768).
import { transportChecksum } from "./checksum.js";
import { PROTO_UDP } from "./ipv4.js";

export const UDP_HEADER = 8;

export interface UdpDatagram {
  srcPort: number;
  dstPort: number;
  payload: Uint8Array;
}

/** Null if short, lengths disagree, or the checksum (when present) is wrong. */
export function parseUdp(buf: Uint8Array, srcIp: number, dstIp: number): UdpDatagram | null {
  if (buf.length < UDP_HEADER) return null;
  const len = (buf[4] << 8) | buf[5];
  if (len < UDP_HEADER || len > buf.length) return null;
  const sum = (buf[6] << 8) | buf[7];
  if (sum !== 0 && transportChecksum(buf, 0, len, srcIp, dstIp, PROTO_UDP) !== 0) return null;
  return { srcPort: (buf[0] << 8) | buf[1], dstPort: (buf[2] << 8) | buf[3], payload: buf.subarray(UDP_HEADER, len) };
}

export function buildUdp(srcIp: number, dstIp: number, srcPort: number, dstPort: number, payload: Uint8Array): Uint8Array {
  const b = new Uint8Array(UDP_HEADER + payload.length);
  b[0] = srcPort >> 8;
  b[1] = srcPort & 0xff;
  b[2] = dstPort >> 8;
  b[3] = dstPort & 0xff;
  b[4] = b.length >> 8;
  b[5] = b.length & 0xff;
  b.set(payload, UDP_HEADER);
  const c = transportChecksum(b, 0, b.length, srcIp, dstIp, PROTO_UDP) || 0xffff;
  b[6] = c >> 8;
  b[7] = c & 0xff;
  return b;
}

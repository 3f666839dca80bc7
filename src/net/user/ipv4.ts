// IPv4 headers (RFC 791). Addresses are unsigned 32-bit numbers. Fragments are not
// reassembled (slirp-style NAT sees whole datagrams from a guest with MTU 1500):
// a fragment is dropped.
import { checksum } from "./checksum.js";

export const IP_HEADER = 20;
export const PROTO_ICMP = 1;
export const PROTO_TCP = 6;
export const PROTO_UDP = 17;

export interface Ipv4Packet {
  src: number;
  dst: number;
  protocol: number;
  ttl: number;
  payload: Uint8Array;
}

export function ipToString(ip: number): string {
  return `${ip >>> 24}.${(ip >>> 16) & 0xff}.${(ip >>> 8) & 0xff}.${ip & 0xff}`;
}

/** "10.0.2.15" to a number; null if it is not a dotted quad. */
export function parseIp(text: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return null;
  const b = m.slice(1).map(Number);
  if (b.some((x) => x > 255)) return null;
  return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
}

export function readIp(buf: Uint8Array, off: number): number {
  return ((buf[off] << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3]) >>> 0;
}

export function writeIp(buf: Uint8Array, off: number, ip: number): void {
  buf[off] = ip >>> 24;
  buf[off + 1] = (ip >>> 16) & 0xff;
  buf[off + 2] = (ip >>> 8) & 0xff;
  buf[off + 3] = ip & 0xff;
}

/** Null for anything malformed: short, wrong version, bad lengths, bad checksum, a fragment. */
export function parseIpv4(buf: Uint8Array): Ipv4Packet | null {
  if (buf.length < IP_HEADER || buf[0] >> 4 !== 4) return null;
  const ihl = (buf[0] & 0x0f) * 4;
  const total = (buf[2] << 8) | buf[3];
  if (ihl < IP_HEADER || total < ihl || total > buf.length) return null;
  if (checksum(buf, 0, ihl) !== 0) return null;
  const flagsFrag = (buf[6] << 8) | buf[7];
  if ((flagsFrag & 0x2000) !== 0 || (flagsFrag & 0x1fff) !== 0) return null; // MF or offset
  return { src: readIp(buf, 12), dst: readIp(buf, 16), protocol: buf[9], ttl: buf[8], payload: buf.subarray(ihl, total) };
}

let nextId = 1;

export function buildIpv4(src: number, dst: number, protocol: number, payload: Uint8Array, ttl = 64): Uint8Array {
  const p = new Uint8Array(IP_HEADER + payload.length);
  p[0] = 0x45;
  p[2] = p.length >> 8;
  p[3] = p.length & 0xff;
  const id = nextId++ & 0xffff;
  p[4] = id >> 8;
  p[5] = id & 0xff;
  p[6] = 0x40; // DF
  p[8] = ttl;
  p[9] = protocol;
  writeIp(p, 12, src);
  writeIp(p, 16, dst);
  const c = checksum(p, 0, IP_HEADER);
  p[10] = c >> 8;
  p[11] = c & 0xff;
  p.set(payload, IP_HEADER);
  return p;
}

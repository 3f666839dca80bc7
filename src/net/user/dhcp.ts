// A DHCP server (RFC 2131/2132) for one guest, as QEMU's slirp gives it: the guest
// is always offered 10.0.2.15 with the gateway as router and 10.0.2.3 as DNS server.
import { writeIp } from "./ipv4.js";

export const DHCP_SERVER_PORT = 67;
export const DHCP_CLIENT_PORT = 68;

const BOOTREQUEST = 1;
const BOOTREPLY = 2;
const MAGIC_COOKIE = 0x63825363;
const OPTIONS_OFFSET = 240;

export const DHCPDISCOVER = 1;
export const DHCPOFFER = 2;
export const DHCPREQUEST = 3;
export const DHCPACK = 5;
export const DHCPNAK = 6;

const OPT_PAD = 0;
const OPT_NETMASK = 1;
const OPT_ROUTER = 3;
const OPT_DNS = 6;
const OPT_REQUESTED_IP = 50;
const OPT_LEASE_TIME = 51;
const OPT_MESSAGE_TYPE = 53;
const OPT_SERVER_ID = 54;
const OPT_END = 255;

export interface DhcpSettings {
  clientIp: number;
  serverIp: number;
  router: number;
  dns: number;
  netmask: number;
  leaseSeconds: number;
}

export interface DhcpRequest {
  messageType: number;
  xid: Uint8Array;
  flags: number;
  chaddr: Uint8Array;
  requestedIp?: number;
}

/** Null unless it is a well-formed BOOTREQUEST with a DHCP message type. */
export function parseDhcp(buf: Uint8Array): DhcpRequest | null {
  if (buf.length < OPTIONS_OFFSET || buf[0] !== BOOTREQUEST || buf[1] !== 1 || buf[2] !== 6) return null;
  const cookie = ((buf[236] << 24) | (buf[237] << 16) | (buf[238] << 8) | buf[239]) >>> 0;
  if (cookie !== MAGIC_COOKIE) return null;
  const req: DhcpRequest = { messageType: 0, xid: buf.slice(4, 8), flags: (buf[10] << 8) | buf[11], chaddr: buf.slice(28, 44) };
  for (let i = OPTIONS_OFFSET; i < buf.length; ) {
    const code = buf[i];
    if (code === OPT_END) break;
    if (code === OPT_PAD) { i++; continue; }
    if (i + 1 >= buf.length) break;
    const len = buf[i + 1];
    const v = buf.subarray(i + 2, i + 2 + len);
    if (v.length < len) break;
    if (code === OPT_MESSAGE_TYPE && len >= 1) req.messageType = v[0];
    if (code === OPT_REQUESTED_IP && len === 4) req.requestedIp = ((v[0] << 24) | (v[1] << 16) | (v[2] << 8) | v[3]) >>> 0;
    i += 2 + len;
  }
  return req.messageType ? req : null;
}

/** The server's reply payload (OFFER for DISCOVER, ACK or NAK for REQUEST), or null. */
export function dhcpReply(req: DhcpRequest, s: DhcpSettings): Uint8Array | null {
  let type: number;
  if (req.messageType === DHCPDISCOVER) type = DHCPOFFER;
  else if (req.messageType === DHCPREQUEST) type = req.requestedIp === undefined || req.requestedIp === s.clientIp ? DHCPACK : DHCPNAK;
  else return null; // RELEASE, DECLINE, INFORM: nothing to say
  const b = new Uint8Array(OPTIONS_OFFSET + 64);
  b[0] = BOOTREPLY;
  b[1] = 1;
  b[2] = 6;
  b.set(req.xid, 4);
  b[10] = req.flags >> 8;
  b[11] = req.flags & 0xff;
  if (type !== DHCPNAK) writeIp(b, 16, s.clientIp); // yiaddr
  writeIp(b, 20, s.serverIp); // siaddr
  b.set(req.chaddr, 28);
  writeIp(b, 236, MAGIC_COOKIE);
  let i = OPTIONS_OFFSET;
  const opt = (code: number, bytes: number[]): void => {
    b[i++] = code;
    b[i++] = bytes.length;
    for (const x of bytes) b[i++] = x;
  };
  const ip = (v: number): number[] => [v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff];
  opt(OPT_MESSAGE_TYPE, [type]);
  opt(OPT_SERVER_ID, ip(s.serverIp));
  if (type !== DHCPNAK) {
    opt(OPT_LEASE_TIME, ip(s.leaseSeconds));
    opt(OPT_NETMASK, ip(s.netmask));
    opt(OPT_ROUTER, ip(s.router));
    opt(OPT_DNS, ip(s.dns));
  }
  b[i++] = OPT_END;
  return b.subarray(0, Math.max(i, 300)); // BOOTP's minimum message size
}

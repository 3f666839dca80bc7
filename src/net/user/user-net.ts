// -netdev user: QEMU's "slirp" network, in TypeScript. The guest sits alone on
// 10.0.2.0/24 behind a NAT gateway:
//   10.0.2.2  gateway: ARP, ICMP echo, DHCP server; TCP/UDP to it reach the host's 127.0.0.1
//   10.0.2.3  DNS: UDP queries forwarded to the host's resolver (dns.ts)
//   10.0.2.15 the guest's address (by DHCP)
// Guest TCP connections end in host node:net sockets (tcp.ts keeps the guest-side TCP
// state), guest UDP in one node:dgram socket per guest port. hostfwd rules (hostfwd.ts)
// open connections the other way. Host sockets are used directly here (the pragmatic
// exception for network backends): the protocol files around it are Node-free.
// Guests are untrusted: every malformed frame is dropped; tables are bounded.
import * as dgram from "node:dgram";
import * as net from "node:net";
import type { HostForward } from "../../machine/config.js";
import type { NetBackend } from "../net-backend.js";
import { ARP_REPLY, ARP_REQUEST, buildArp, parseArp } from "./arp.js";
import { DHCP_CLIENT_PORT, DHCP_SERVER_PORT, dhcpReply, parseDhcp } from "./dhcp.js";
import { hostDnsUpstream, type DnsUpstream } from "./dns.js";
import { BROADCAST_MAC, buildEthernet, ETHERTYPE_ARP, ETHERTYPE_IPV4, parseEthernet } from "./ethernet.js";
import { HostForwarder } from "./hostfwd.js";
import { echoReply } from "./icmp.js";
import { buildIpv4, ipToString, parseIp, parseIpv4, PROTO_ICMP, PROTO_TCP, PROTO_UDP } from "./ipv4.js";
import { buildTcp, parseTcp, RST, ACK, SYN, TcpConnection, type TcpHostStream, type TcpSegment } from "./tcp.js";
import { buildUdp, parseUdp } from "./udp.js";

export const NETWORK = 0x0a000200; // 10.0.2.0
export const NETMASK = 0xffffff00;
export const GATEWAY_IP = 0x0a000202; // 10.0.2.2
export const DNS_IP = 0x0a000203; // 10.0.2.3
export const GUEST_IP = 0x0a00020f; // 10.0.2.15
/** QEMU's gateway MAC: 52:55 then the gateway's IPv4 address. */
export const GATEWAY_MAC = new Uint8Array([0x52, 0x55, 0x0a, 0x00, 0x02, 0x02]);
const LEASE_SECONDS = 86400;
const LOCALHOST = "127.0.0.1";

const MAX_TCP_CONNECTIONS = 1024;
const MAX_UDP_SOCKETS = 256;
const UDP_IDLE_MS = 60_000;
const CONNECT_TIMEOUT_MS = 30_000;

export interface UserNetOptions {
  hostForwards?: HostForward[];
  /** Where DNS queries to 10.0.2.3 go; default: the host's resolver. */
  dns?: DnsUpstream;
  /** restrict=on: the guest reaches nothing outside (hostfwd still works). */
  restrict?: boolean;
  /** Warnings (a hostfwd port that cannot be bound, ...). */
  warn?: (message: string) => void;
}

interface UdpBinding {
  socket: dgram.Socket;
  guestIp: number;
  guestPort: number;
  lastUsed: number;
}

export class UserNet implements NetBackend {
  /** Resolves once every hostfwd listener is bound; rejects if one cannot be. */
  readonly ready: Promise<void>;
  private receiver?: (frame: Uint8Array) => void;
  private guestMac?: Uint8Array;
  private readonly tcp = new Map<string, TcpConnection>();
  private readonly udp = new Map<number, UdpBinding>();
  private readonly dns: DnsUpstream;
  private readonly forwarder: HostForwarder;
  private readonly sweeper: ReturnType<typeof setInterval>;
  private closed = false;
  /** Exceptions caught while handling guest frames (a bug if not 0). */
  internalErrors = 0;

  constructor(private readonly opts: UserNetOptions = {}) {
    this.dns = opts.dns ?? hostDnsUpstream();
    this.forwarder = new HostForwarder(opts.hostForwards ?? [], {
      openTcp: (guestIp, guestPort, stream) => this.openInbound(guestIp, guestPort, stream),
      sendUdp: (srcPort, guestIp, guestPort, data) => this.sendIp(GATEWAY_IP, guestIp, PROTO_UDP, buildUdp(GATEWAY_IP, guestIp, srcPort, guestPort, data)),
      guestIp: GUEST_IP,
    });
    this.ready = this.forwarder.ready;
    this.ready.catch((e: Error) => (opts.warn ?? ((m) => process.stderr.write(`tsvisor: ${m}\n`)))(e.message));
    this.sweeper = setInterval(() => this.sweepUdp(), UDP_IDLE_MS / 4);
    this.sweeper.unref?.();
  }

  onReceive(handler: (frame: Uint8Array) => void): void {
    this.receiver = handler;
  }

  send(frame: Uint8Array): void {
    if (this.closed) return;
    try {
      this.handleFrame(frame);
    } catch {
      // A frame we failed to understand is a dropped frame, never a host crash. Counted:
      // the parsers are meant to reject bad input without throwing (the fuzz test checks).
      this.internalErrors++;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweeper);
    for (const c of [...this.tcp.values()]) c.destroy();
    this.tcp.clear();
    for (const b of this.udp.values()) b.socket.close();
    this.udp.clear();
    this.forwarder.close();
  }

  /** Open TCP connections (for tests and `info usernet`-like reporting). */
  get tcpConnectionCount(): number {
    return this.tcp.size;
  }

  private handleFrame(frame: Uint8Array): void {
    const eth = parseEthernet(frame);
    if (!eth || eth.src[0] & 1) return; // multicast source: bogus
    if (eth.etherType === ETHERTYPE_ARP) return this.handleArp(eth.payload, eth.src);
    if (eth.etherType !== ETHERTYPE_IPV4) return;
    const ip = parseIpv4(eth.payload);
    if (!ip) return;
    this.guestMac = eth.src.slice();
    if (ip.protocol === PROTO_UDP) this.handleUdp(ip.src, ip.dst, ip.payload);
    else if (ip.protocol === PROTO_TCP) this.handleTcp(ip.src, ip.dst, ip.payload);
    else if (ip.protocol === PROTO_ICMP) this.handleIcmp(ip.src, ip.dst, ip.payload);
  }

  private handleArp(payload: Uint8Array, srcMac: Uint8Array): void {
    const arp = parseArp(payload);
    if (!arp || arp.op !== ARP_REQUEST) return;
    this.guestMac = srcMac.slice();
    // Anything in our network but the guest's own address is "us" (QEMU answers likewise).
    const t = arp.targetIp;
    if ((t & NETMASK) >>> 0 !== NETWORK || t === arp.senderIp || t === GUEST_IP) return;
    const reply = buildArp({ op: ARP_REPLY, senderMac: GATEWAY_MAC, senderIp: t, targetMac: arp.senderMac, targetIp: arp.senderIp });
    this.deliver(buildEthernet(arp.senderMac, GATEWAY_MAC, ETHERTYPE_ARP, reply));
  }

  private handleIcmp(src: number, dst: number, payload: Uint8Array): void {
    if (dst !== GATEWAY_IP && dst !== DNS_IP) return; // no ICMP NAT (needs raw sockets)
    const reply = echoReply(payload);
    if (reply) this.sendIp(dst, src, PROTO_ICMP, reply);
  }

  // --- UDP ---------------------------------------------------------------------------

  private handleUdp(src: number, dst: number, payload: Uint8Array): void {
    const udp = parseUdp(payload, src, dst);
    if (!udp) return;
    if (udp.dstPort === DHCP_SERVER_PORT && (dst === GATEWAY_IP || dst === 0xffffffff)) return this.handleDhcp(udp.payload);
    if (this.forwarder.guestUdp(udp.srcPort, udp.dstPort, udp.payload)) return;
    if (this.opts.restrict || dst === 0xffffffff || udp.srcPort === 0 || udp.dstPort === 0) return;
    let host: string;
    let port = udp.dstPort;
    if (dst === DNS_IP) {
      if (udp.dstPort !== 53) return;
      host = this.dns.address;
      port = this.dns.port;
    } else if (dst === GATEWAY_IP) host = LOCALHOST;
    else if ((dst & NETMASK) >>> 0 === NETWORK || dst >>> 28 >= 14) return; // our net, multicast
    else host = ipToString(dst);
    const b = this.udpBinding(src, udp.srcPort);
    b.lastUsed = Date.now();
    b.socket.send(udp.payload, port, host);
  }

  private handleDhcp(payload: Uint8Array): void {
    const req = parseDhcp(payload);
    if (!req) return;
    const reply = dhcpReply(req, {
      clientIp: GUEST_IP, serverIp: GATEWAY_IP, router: GATEWAY_IP, dns: DNS_IP, netmask: NETMASK, leaseSeconds: LEASE_SECONDS,
    });
    if (!reply) return;
    const udp = buildUdp(GATEWAY_IP, 0xffffffff, DHCP_SERVER_PORT, DHCP_CLIENT_PORT, reply);
    this.deliver(buildEthernet(BROADCAST_MAC, GATEWAY_MAC, ETHERTYPE_IPV4, buildIpv4(GATEWAY_IP, 0xffffffff, PROTO_UDP, udp)));
  }

  /** The host socket for one guest (address, port); replies come back through it. */
  private udpBinding(guestIp: number, guestPort: number): UdpBinding {
    const existing = this.udp.get(guestPort);
    if (existing && existing.guestIp === guestIp) return existing;
    if (existing) this.dropUdp(guestPort);
    if (this.udp.size >= MAX_UDP_SOCKETS) this.dropUdp(this.oldestUdp());
    const socket = dgram.createSocket("udp4");
    const b: UdpBinding = { socket, guestIp, guestPort, lastUsed: Date.now() };
    socket.on("message", (msg, rinfo) => this.udpFromHost(b, msg, rinfo));
    socket.on("error", () => this.dropUdp(guestPort));
    socket.unref();
    this.udp.set(guestPort, b);
    return b;
  }

  private udpFromHost(b: UdpBinding, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.closed || rinfo.family !== "IPv4") return;
    b.lastUsed = Date.now();
    let src = parseIp(rinfo.address) ?? 0;
    let srcPort = rinfo.port;
    if (rinfo.address === this.dns.address && rinfo.port === this.dns.port) {
      src = DNS_IP;
      srcPort = 53;
    } else if (rinfo.address === LOCALHOST) src = GATEWAY_IP;
    const data = new Uint8Array(msg.buffer, msg.byteOffset, Math.min(msg.length, 65507));
    this.sendIp(src, b.guestIp, PROTO_UDP, buildUdp(src, b.guestIp, srcPort, b.guestPort, data));
  }

  private oldestUdp(): number {
    let oldest = -1;
    let t = Infinity;
    for (const [port, b] of this.udp) if (b.lastUsed < t) { t = b.lastUsed; oldest = port; }
    return oldest;
  }

  private dropUdp(port: number): void {
    const b = this.udp.get(port);
    if (!b) return;
    this.udp.delete(port);
    try { b.socket.close(); } catch { /* already closed */ }
  }

  private sweepUdp(): void {
    const now = Date.now();
    for (const [port, b] of [...this.udp]) if (now - b.lastUsed > UDP_IDLE_MS) this.dropUdp(port);
  }

  // --- TCP ---------------------------------------------------------------------------

  private handleTcp(src: number, dst: number, payload: Uint8Array): void {
    const seg = parseTcp(payload, src, dst);
    if (!seg) return;
    const key = tcpKey(src, seg.srcPort, dst, seg.dstPort);
    const conn = this.tcp.get(key);
    if (conn) return conn.guestSegment(seg);
    if ((seg.flags & (SYN | ACK | RST)) === SYN) return this.openOutbound(key, src, dst, seg);
    if (!(seg.flags & RST)) this.resetUnknown(src, dst, seg);
  }

  /** A guest SYN: connect on the host, answer when that succeeds (RST when it fails). */
  private openOutbound(key: string, src: number, dst: number, syn: TcpSegment): void {
    let host: string | null = ipToString(dst);
    if (dst === GATEWAY_IP) host = LOCALHOST;
    else if ((dst & NETMASK) >>> 0 === NETWORK || dst >>> 28 >= 14 || dst === 0 || this.opts.restrict) host = null;
    if (host === null || this.tcp.size >= MAX_TCP_CONNECTIONS) return this.resetUnknown(src, dst, syn);
    const conn = this.newConnection(key, src, dst, syn.srcPort, syn.dstPort, syn);
    const socket = net.connect({ host, port: syn.dstPort, allowHalfOpen: true });
    wireSocket(socket, conn, true);
  }

  /** hostfwd: a host client connected; open a connection to the guest from 10.0.2.2. */
  private openInbound(guestIp: number, guestPort: number, stream: net.Socket): void {
    if (this.closed || this.tcp.size >= MAX_TCP_CONNECTIONS) return void stream.destroy();
    let port = 0;
    for (let i = 0; i < 64 && port === 0; i++) {
      const p = 49152 + Math.floor(Math.random() * 16384);
      if (!this.tcp.has(tcpKey(guestIp, guestPort, GATEWAY_IP, p))) port = p;
    }
    if (port === 0) return void stream.destroy();
    const conn = this.newConnection(tcpKey(guestIp, guestPort, GATEWAY_IP, port), guestIp, GATEWAY_IP, guestPort, port);
    wireSocket(stream, conn, false);
    conn.openToGuest(socketStream(stream));
  }

  private newConnection(key: string, guestIp: number, remoteIp: number, guestPort: number, remotePort: number, syn?: TcpSegment): TcpConnection {
    const conn = new TcpConnection(
      {
        guestPort,
        remotePort,
        output: (s) => this.sendIp(remoteIp, guestIp, PROTO_TCP, buildTcp(remoteIp, guestIp, s)),
        onClosed: () => { if (this.tcp.get(key) === conn) this.tcp.delete(key); },
      },
      syn,
    );
    this.tcp.set(key, conn);
    return conn;
  }

  /** RST for a segment that belongs to no connection (RFC 793's reset generation). */
  private resetUnknown(src: number, dst: number, s: TcpSegment): void {
    const len = s.payload.length + (s.flags & SYN ? 1 : 0) + (s.flags & 1 ? 1 : 0);
    const rst: TcpSegment = s.flags & ACK
      ? { srcPort: s.dstPort, dstPort: s.srcPort, seq: s.ack, ack: 0, flags: RST, window: 0, payload: new Uint8Array(0) }
      : { srcPort: s.dstPort, dstPort: s.srcPort, seq: 0, ack: (s.seq + len) >>> 0, flags: RST | ACK, window: 0, payload: new Uint8Array(0) };
    this.sendIp(dst, src, PROTO_TCP, buildTcp(dst, src, rst));
  }

  // --- output ------------------------------------------------------------------------

  private sendIp(src: number, dst: number, protocol: number, payload: Uint8Array): void {
    const mac = this.guestMac ?? BROADCAST_MAC;
    this.deliver(buildEthernet(mac, GATEWAY_MAC, ETHERTYPE_IPV4, buildIpv4(src, dst, protocol, payload)));
  }

  private deliver(frame: Uint8Array): void {
    if (!this.closed) this.receiver?.(frame);
  }
}

function tcpKey(guestIp: number, guestPort: number, remoteIp: number, remotePort: number): string {
  return `${guestIp}:${guestPort}>${remoteIp}:${remotePort}`;
}

/** A node:net socket as tcp.ts's host stream. */
function socketStream(s: net.Socket): TcpHostStream {
  return {
    write: (d) => s.write(d),
    bufferedAmount: () => s.writableLength,
    end: () => s.end(),
    destroy: () => s.resetAndDestroy(), // the guest reset: the host peer sees a reset too
    pause: () => s.pause(),
    resume: () => s.resume(),
  };
}

/** Socket events into the connection. outbound: the socket is still connecting. */
function wireSocket(s: net.Socket, conn: TcpConnection, outbound: boolean): void {
  s.setNoDelay(true);
  if (outbound) {
    // An unreachable host: give up (RST to the guest) instead of holding a table slot.
    s.setTimeout(CONNECT_TIMEOUT_MS, () => s.destroy());
    s.on("connect", () => {
      s.setTimeout(0);
      conn.hostConnected(socketStream(s));
    });
  }
  s.on("data", (d: Buffer) => conn.hostData(new Uint8Array(d.buffer, d.byteOffset, d.length)));
  s.on("end", () => conn.hostEnd());
  s.on("drain", () => conn.hostDrained());
  s.on("error", () => { /* 'close' follows and decides */ });
  s.on("close", () => conn.hostClosed());
}

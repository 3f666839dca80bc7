// A fake guest for the user-mode network tests: builds frames as a guest kernel would
// and keeps a minimal TCP endpoint (client or listener) that honours the windows, so
// the tests drive src/net/user/ without a CPU. Frames from the network are processed
// from a setImmediate loop, not re-entrantly, as a real NIC interrupt would be.
import { buildEthernet, ETHERTYPE_IPV4, parseEthernet } from "../src/net/user/ethernet.js";
import { buildIpv4, parseIpv4, PROTO_TCP, PROTO_UDP } from "../src/net/user/ipv4.js";
import { ACK, buildTcp, FIN, parseTcp, RST, SYN, seqLt, type TcpSegment } from "../src/net/user/tcp.js";
import { buildUdp, parseUdp } from "../src/net/user/udp.js";
import { GUEST_IP } from "../src/net/user/user-net.js";
import type { NetBackend } from "../src/net/net-backend.js";

export const GUEST_MAC = new Uint8Array([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);

export interface ReceivedIp {
  src: number;
  dst: number;
  protocol: number;
  payload: Uint8Array;
}

export class FakeGuest {
  /** Every frame received, in order. */
  readonly frames: Uint8Array[] = [];
  readonly tcpEndpoints = new Map<number, FakeTcp>();
  udpHandler?: (srcIp: number, srcPort: number, dstPort: number, data: Uint8Array) => void;
  private inbox: Uint8Array[] = [];
  private scheduled = false;

  constructor(readonly net: NetBackend) {
    net.onReceive((f) => {
      this.frames.push(f);
      this.inbox.push(f);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.drain());
      }
    });
  }

  sendIp(dst: number, protocol: number, payload: Uint8Array, dstMac = new Uint8Array(6).fill(0x52)): void {
    this.net.send(buildEthernet(dstMac, GUEST_MAC, ETHERTYPE_IPV4, buildIpv4(GUEST_IP, dst, protocol, payload)));
  }

  sendUdp(dst: number, srcPort: number, dstPort: number, data: Uint8Array): void {
    this.sendIp(dst, PROTO_UDP, buildUdp(GUEST_IP, dst, srcPort, dstPort, data));
  }

  sendTcp(dst: number, seg: TcpSegment): void {
    this.sendIp(dst, PROTO_TCP, buildTcp(GUEST_IP, dst, seg));
  }

  private drain(): void {
    this.scheduled = false;
    const frames = this.inbox;
    this.inbox = [];
    for (const f of frames) this.handle(f);
  }

  private handle(f: Uint8Array): void {
    const eth = parseEthernet(f);
    if (!eth || eth.etherType !== ETHERTYPE_IPV4) return;
    const ip = parseIpv4(eth.payload);
    if (!ip) throw new Error("network sent a bad IPv4 packet");
    if (ip.protocol === PROTO_UDP) {
      const u = parseUdp(ip.payload, ip.src, ip.dst);
      if (!u) throw new Error("network sent a bad UDP datagram");
      this.udpHandler?.(ip.src, u.srcPort, u.dstPort, u.payload);
    } else if (ip.protocol === PROTO_TCP) {
      const s = parseTcp(ip.payload, ip.src, ip.dst);
      if (!s) throw new Error("network sent a bad TCP segment");
      this.tcpEndpoints.get(s.dstPort)?.segment(s, ip.src);
    }
  }
}

/** A minimal guest TCP endpoint: in-order receive only, go-back-N sends without timers
 *  (the network side is in-process and lossless), a fixed receive buffer the test drains. */
export class FakeTcp {
  state: "closed" | "syn-sent" | "listen" | "established" | "reset" = "closed";
  received: Uint8Array[] = [];
  receivedBytes = 0;
  finReceived = false;
  /** Our receive buffer: what is advertised is capacity minus unread bytes. */
  capacity = 65535;
  unread = 0;
  /** Largest byte count the network sent beyond our advertised right edge (must stay 0). */
  windowViolation = 0;
  /** Drop the next N data segments from the network (to force retransmission). */
  dropNext = 0;
  segmentsSeen = 0;
  remoteIp = 0;
  remotePort = 0;
  private iss = 1000;
  private sndNxt = 1000;
  private sndUna = 1000;
  private rcvNxt = 0;
  private peerWindow = 0;
  private rightEdge = 0;
  private outBuf: Uint8Array[] = [];
  private finQueued = false;
  private finSent = false;
  onEstablished?: () => void;
  onData?: () => void;

  constructor(private readonly g: FakeGuest, readonly port: number) {
    g.tcpEndpoints.set(port, this);
  }

  connect(remoteIp: number, remotePort: number, mss = 1460): void {
    this.remoteIp = remoteIp;
    this.remotePort = remotePort;
    this.state = "syn-sent";
    this.emit(SYN, this.iss, new Uint8Array(0), mss);
    this.sndNxt = this.iss + 1;
  }

  listen(): void {
    this.state = "listen";
  }

  write(data: Uint8Array): void {
    this.outBuf.push(data);
    this.pump();
  }

  end(): void {
    this.finQueued = true;
    this.pump();
  }

  reset(): void {
    this.emit(RST | ACK, this.sndNxt, new Uint8Array(0));
    this.state = "reset";
  }

  /** The application read n bytes: our window opens (window update). */
  read(n: number): void {
    this.unread = Math.max(0, this.unread - n);
    this.ack();
  }

  data(): Uint8Array {
    const out = new Uint8Array(this.receivedBytes);
    let o = 0;
    for (const c of this.received) { out.set(c, o); o += c.length; }
    return out;
  }

  segment(s: TcpSegment, srcIp: number): void {
    this.segmentsSeen++;
    if (s.flags & RST) { this.state = "reset"; return; }
    if (this.state === "listen" && s.flags & SYN) {
      this.remoteIp = srcIp;
      this.remotePort = s.srcPort;
      this.rcvNxt = (s.seq + 1) >>> 0;
      this.peerWindow = s.window;
      this.emit(SYN | ACK, this.iss, new Uint8Array(0), 1460);
      this.sndNxt = this.iss + 1;
      this.state = "syn-sent"; // waiting for the ACK of our SYN
      return;
    }
    if (this.state === "syn-sent" && s.flags & SYN) {
      this.rcvNxt = (s.seq + 1) >>> 0;
    }
    if (s.flags & ACK) {
      if (seqLt(this.sndUna, s.ack)) {
        this.sndUna = s.ack;
        if (this.state === "syn-sent") {
          this.state = "established";
          if (s.flags & SYN) this.ack();
          this.onEstablished?.();
        }
      }
      this.peerWindow = s.window;
    }
    if (s.payload.length > 0) {
      const end = (s.seq + s.payload.length) >>> 0;
      if (seqLt(this.rightEdge, end)) this.windowViolation = Math.max(this.windowViolation, (end - this.rightEdge) | 0);
      if (this.dropNext > 0) { this.dropNext--; return; }
      if (s.seq === this.rcvNxt) {
        const take = Math.min(s.payload.length, this.capacity - this.unread);
        if (take > 0) {
          this.received.push(s.payload.slice(0, take));
          this.receivedBytes += take;
          this.unread += take;
          this.rcvNxt = (this.rcvNxt + take) >>> 0;
        }
      }
      this.ack();
      this.onData?.();
    }
    if (s.flags & FIN && ((s.seq + s.payload.length) >>> 0) === this.rcvNxt) {
      this.rcvNxt = (this.rcvNxt + 1) >>> 0;
      this.finReceived = true;
      this.ack();
      this.onData?.();
    }
    this.pump();
  }

  private pump(): void {
    if (this.state !== "established") return;
    let inFlight = (this.sndNxt - this.sndUna) >>> 0;
    while (this.outBuf.length > 0 && inFlight < this.peerWindow) {
      const room = Math.min(this.peerWindow - inFlight, 1460);
      const head = this.outBuf[0];
      const piece = head.subarray(0, room);
      if (piece.length === head.length) this.outBuf.shift();
      else this.outBuf[0] = head.subarray(piece.length);
      this.emit(ACK | 0x08, this.sndNxt, piece);
      this.sndNxt = (this.sndNxt + piece.length) >>> 0;
      inFlight += piece.length;
    }
    if (this.finQueued && !this.finSent && this.outBuf.length === 0) {
      this.emit(FIN | ACK, this.sndNxt, new Uint8Array(0));
      this.sndNxt = (this.sndNxt + 1) >>> 0;
      this.finSent = true;
    }
  }

  private ack(): void {
    this.emit(ACK, this.sndNxt, new Uint8Array(0));
  }

  private emit(flags: number, seq: number, payload: Uint8Array, mss?: number): void {
    const window = Math.max(0, this.capacity - this.unread);
    this.rightEdge = (this.rcvNxt + window) >>> 0;
    this.g.sendTcp(this.remoteIp, {
      srcPort: this.port, dstPort: this.remotePort, seq, ack: flags & ACK ? this.rcvNxt : 0, flags, window, mss, payload,
    });
  }
}

/** Resolves when cond() holds (polled), rejects after ms. */
export async function waitFor(cond: () => boolean, ms = 10_000, what = "condition"): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

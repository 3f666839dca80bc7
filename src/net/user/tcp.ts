// TCP (RFC 793/9293) towards the guest, one TcpConnection per guest connection; the
// other end is a host stream (a node:net socket in user-net.ts, a fake one in tests).
// We keep the whole protocol state on our side: sequence numbers, the guest's window
// (never exceeded), our own receive window (shrinks while the host stream is
// backpressured), retransmission on timeout with exponential backoff, window probes,
// FIN in each direction independently (half-close), RST both ways. No window scaling,
// no SACK: the MSS option is the only one we send or read.
import { transportChecksum } from "./checksum.js";
import { PROTO_TCP } from "./ipv4.js";

export const TCP_HEADER = 20;
export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;

/** What we advertise as MSS and the cap on the guest's (Ethernet MTU 1500). */
export const OUR_MSS = 1460;
const DEFAULT_MSS = 536;
/** A guest MSS below this is raised to it (an MSS of 0 would stall the sender). */
const MIN_MSS = 64;
/** Our receive window: bytes from the guest not yet taken by the host stream. */
export const RCV_WINDOW = 65535;
/** Host bytes buffered for the guest before the host stream is paused. */
export const SND_BUFFER_MAX = 256 * 1024;
const RTO_INITIAL_MS = 1000;
const RTO_MAX_MS = 8000;
const MAX_RETRIES = 10;
/** How long a fully closed connection stays to re-ACK a retransmitted FIN. */
const LINGER_MS = 2000;

export interface TcpSegment {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  flags: number;
  window: number;
  mss?: number;
  payload: Uint8Array;
}

/** Null if short, malformed offsets, or a wrong checksum. */
export function parseTcp(buf: Uint8Array, srcIp: number, dstIp: number): TcpSegment | null {
  if (buf.length < TCP_HEADER) return null;
  const off = (buf[12] >> 4) * 4;
  if (off < TCP_HEADER || off > buf.length) return null;
  if (transportChecksum(buf, 0, buf.length, srcIp, dstIp, PROTO_TCP) !== 0) return null;
  const u32 = (i: number): number => ((buf[i] << 24) | (buf[i + 1] << 16) | (buf[i + 2] << 8) | buf[i + 3]) >>> 0;
  const seg: TcpSegment = {
    srcPort: (buf[0] << 8) | buf[1],
    dstPort: (buf[2] << 8) | buf[3],
    seq: u32(4),
    ack: u32(8),
    flags: buf[13] & 0x3f,
    window: (buf[14] << 8) | buf[15],
    payload: buf.subarray(off),
  };
  for (let i = TCP_HEADER; i < off; ) {
    const kind = buf[i];
    if (kind === 0) break;
    if (kind === 1) { i++; continue; }
    const len = buf[i + 1];
    if (i + 1 >= off || len < 2 || i + len > off) break;
    if (kind === 2 && len === 4) seg.mss = (buf[i + 2] << 8) | buf[i + 3];
    i += len;
  }
  return seg;
}

export function buildTcp(srcIp: number, dstIp: number, s: TcpSegment): Uint8Array {
  const optLen = s.mss !== undefined ? 4 : 0;
  const b = new Uint8Array(TCP_HEADER + optLen + s.payload.length);
  const w32 = (i: number, v: number): void => {
    b[i] = v >>> 24;
    b[i + 1] = (v >>> 16) & 0xff;
    b[i + 2] = (v >>> 8) & 0xff;
    b[i + 3] = v & 0xff;
  };
  b[0] = s.srcPort >> 8;
  b[1] = s.srcPort & 0xff;
  b[2] = s.dstPort >> 8;
  b[3] = s.dstPort & 0xff;
  w32(4, s.seq);
  w32(8, s.ack);
  b[12] = ((TCP_HEADER + optLen) / 4) << 4;
  b[13] = s.flags;
  b[14] = s.window >> 8;
  b[15] = s.window & 0xff;
  if (s.mss !== undefined) b.set([2, 4, s.mss >> 8, s.mss & 0xff], TCP_HEADER);
  b.set(s.payload, TCP_HEADER + optLen);
  const c = transportChecksum(b, 0, b.length, srcIp, dstIp, PROTO_TCP);
  b[16] = c >> 8;
  b[17] = c & 0xff;
  return b;
}

/** Sequence-number comparisons modulo 2^32. */
export const seqLt = (a: number, b: number): boolean => ((a - b) | 0) < 0;
export const seqLe = (a: number, b: number): boolean => ((a - b) | 0) <= 0;
const add = (a: number, n: number): number => (a + n) >>> 0;

function clampMss(mss: number | undefined): number {
  return Math.max(MIN_MSS, Math.min(mss ?? DEFAULT_MSS, OUR_MSS));
}

/** The host side of a connection: a stream with backpressure. */
export interface TcpHostStream {
  /** False: buffered beyond the high-water mark (we shrink our window). */
  write(data: Uint8Array): boolean;
  /** Bytes written but not yet taken by the host. */
  bufferedAmount(): number;
  end(): void;
  destroy(): void;
  pause(): void;
  resume(): void;
}

/** Bytes queued for the guest: acknowledged bytes leave from the front. */
class ByteQueue {
  private chunks: Uint8Array[] = [];
  length = 0;
  push(b: Uint8Array): void {
    if (b.length === 0) return;
    this.chunks.push(b);
    this.length += b.length;
  }
  drop(n: number): void {
    n = Math.min(n, this.length);
    this.length -= n;
    while (n > 0) {
      const c = this.chunks[0];
      if (c.length <= n) { this.chunks.shift(); n -= c.length; }
      else { this.chunks[0] = c.subarray(n); n = 0; }
    }
  }
  /** Copies up to len bytes starting offset bytes in. */
  peek(offset: number, len: number): Uint8Array {
    const out = new Uint8Array(Math.max(0, Math.min(len, this.length - offset)));
    let pos = 0;
    for (const c of this.chunks) {
      if (pos >= out.length) break;
      if (offset >= c.length) { offset -= c.length; continue; }
      const part = c.subarray(offset, offset + out.length - pos);
      out.set(part, pos);
      pos += part.length;
      offset = 0;
    }
    return out;
  }
}

type State = "connecting" | "syn-received" | "syn-sent" | "established" | "closed";

export interface TcpConnectionOptions {
  guestPort: number;
  remotePort: number;
  /** Sends a segment to the guest (the caller adds IP and Ethernet). */
  output(seg: TcpSegment): void;
  /** Called once when the connection is gone (for the owner's table). */
  onClosed(): void;
}

export class TcpConnection {
  state: State;
  host?: TcpHostStream;
  private readonly iss = (Math.random() * 0x100000000) >>> 0;
  private sndUna = this.iss;
  private sndNxt = this.iss;
  private sndWnd = 0;
  private mss = DEFAULT_MSS;
  private readonly sndBuf = new ByteQueue();
  private hostEnded = false;
  private finSent = false;
  private finAcked = false;
  private rcvNxt = 0;
  private guestFin = false;
  private timer?: ReturnType<typeof setTimeout>;
  private rto = RTO_INITIAL_MS;
  private retries = 0;
  private hostPaused = false;
  private lastAdvertised = RCV_WINDOW;
  private lingering = false;

  /** From a guest SYN: "connecting" until the host side connects (acceptGuestSyn). */
  constructor(private readonly o: TcpConnectionOptions, syn?: TcpSegment) {
    if (syn) {
      this.state = "connecting";
      this.rcvNxt = add(syn.seq, 1);
      this.sndWnd = syn.window;
      this.mss = clampMss(syn.mss);
    } else {
      this.state = "syn-sent"; // hostfwd: we open towards the guest
    }
  }

  /** Outbound: the host connected; answer the guest's SYN. */
  hostConnected(host: TcpHostStream): void {
    if (this.state !== "connecting") return;
    this.host = host;
    this.state = "syn-received";
    this.sendSyn();
  }

  /** Outbound: the host refused; RST to the guest. */
  hostFailed(): void {
    if (this.state === "closed") return;
    this.o.output(this.seg(RST | ACK, 0, new Uint8Array(0)));
    this.close();
  }

  /** Inbound (hostfwd): the host client is connected; SYN to the guest. */
  openToGuest(host: TcpHostStream): void {
    this.host = host;
    this.sendSyn();
  }

  /** Data from the host stream for the guest. */
  hostData(data: Uint8Array): void {
    if (this.state === "closed" || this.hostEnded) return;
    this.sndBuf.push(data);
    if (this.sndBuf.length > SND_BUFFER_MAX && !this.hostPaused) {
      this.hostPaused = true;
      this.host?.pause();
    }
    this.trySend();
  }

  /** The host stream ended its sending side: FIN to the guest after the data. */
  hostEnd(): void {
    if (this.state === "closed") return;
    this.hostEnded = true;
    this.trySend();
  }

  /** The host stream failed or was destroyed: RST to the guest. */
  hostError(): void {
    if (this.state === "closed") return;
    if (this.state !== "connecting") this.o.output(this.seg(RST | ACK, this.sndNxt, new Uint8Array(0)));
    this.close();
  }

  /** The host stream closed: fine after both FINs, otherwise an abort (RST). */
  hostClosed(): void {
    if (this.state === "closed" || (this.hostEnded && this.guestFin)) return;
    if (this.state === "connecting") return this.hostFailed();
    this.hostError();
  }

  /** The host stream drained: our window opened again. */
  hostDrained(): void {
    if (this.state === "established" && this.window() > this.lastAdvertised) this.sendAck();
  }

  /** A segment from the guest for this connection. */
  guestSegment(s: TcpSegment): void {
    if (this.state === "closed") {
      // Lingering after a full close: the guest did not see our last ACK of its FIN.
      if (this.lingering && s.flags & FIN && !(s.flags & RST)) this.sendAck();
      return;
    }
    if (s.flags & RST) return this.guestReset(s);
    if (this.state === "connecting") return; // a retransmitted SYN while the host connects
    if (this.state === "syn-sent") return this.synSentSegment(s);
    if (s.flags & SYN) {
      // Our SYN-ACK was lost and the guest repeats its SYN: answer again.
      if (this.state === "syn-received" && add(s.seq, 1) === this.rcvNxt) this.sendSyn();
      else this.sendAck();
      return;
    }
    if (!(s.flags & ACK)) return;
    if (this.state === "syn-received") {
      if (s.ack !== add(this.iss, 1)) return this.o.output(this.seg(RST, s.ack, new Uint8Array(0)));
      this.state = "established";
      this.sndUna = this.sndNxt = add(this.iss, 1);
    }
    this.processAck(s);
    this.processData(s);
    this.trySend();
    this.maybeFinished();
  }

  /** Removes everything at once (backend close). */
  destroy(): void {
    if (this.state !== "closed") this.host?.destroy();
    this.close();
  }

  private guestReset(s: TcpSegment): void {
    // Accept a RST whose sequence number is in our window (RFC 5961 in spirit, loosely).
    if (this.state !== "syn-sent" && !(seqLe(this.rcvNxt, s.seq) && seqLt(s.seq, add(this.rcvNxt, RCV_WINDOW + 1)))) return;
    if (this.state === "syn-sent" && !(s.flags & ACK && s.ack === add(this.iss, 1))) return;
    this.host?.destroy();
    this.close();
  }

  private synSentSegment(s: TcpSegment): void {
    if ((s.flags & (SYN | ACK)) !== (SYN | ACK) || s.ack !== add(this.iss, 1)) return;
    this.rcvNxt = add(s.seq, 1);
    this.sndUna = this.sndNxt = s.ack;
    this.sndWnd = s.window;
    this.mss = clampMss(s.mss);
    this.state = "established";
    this.resetTimer();
    this.sendAck();
    this.trySend();
  }

  private processAck(s: TcpSegment): void {
    if (seqLt(this.sndUna, s.ack) && seqLe(s.ack, this.sndNxt)) {
      let acked = (s.ack - this.sndUna) >>> 0;
      if (this.finSent && s.ack === this.sndNxt) {
        this.finAcked = true;
        acked--; // the FIN's sequence number carries no byte
      }
      this.sndBuf.drop(acked);
      this.sndUna = s.ack;
      this.rto = RTO_INITIAL_MS;
      this.retries = 0;
      this.resetTimer();
      if (this.hostPaused && this.sndBuf.length < SND_BUFFER_MAX / 2) {
        this.hostPaused = false;
        this.host?.resume();
      }
    }
    if (seqLe(this.sndUna, s.ack)) this.sndWnd = s.window;
  }

  private processData(s: TcpSegment): void {
    let data = s.payload;
    let seq = s.seq;
    const fin = (s.flags & FIN) !== 0;
    if (data.length === 0 && !fin) return;
    if (this.guestFin) return this.sendAck(); // a retransmitted FIN or data after it
    if (seqLt(seq, this.rcvNxt)) {
      const old = (this.rcvNxt - seq) >>> 0;
      if (old > data.length) return this.sendAck(); // a duplicate of what we have
      data = data.subarray(old);
      seq = this.rcvNxt;
    }
    if (seq !== this.rcvNxt) return this.sendAck(); // out of order: dup ACK, guest resends
    const take = Math.min(data.length, this.window());
    if (take > 0) {
      this.host?.write(data.slice(0, take));
      this.rcvNxt = add(this.rcvNxt, take);
    }
    if (fin && take === data.length) {
      this.rcvNxt = add(this.rcvNxt, 1);
      this.guestFin = true;
      this.host?.end();
    }
    this.sendAck();
  }

  /** Sends what the guest's window allows; a FIN after the last byte once the host ended. */
  private trySend(): void {
    if (this.state !== "established") return;
    for (;;) {
      const inFlight = (this.sndNxt - this.sndUna) >>> 0;
      const unsent = this.sndBuf.length - (this.finSent ? inFlight - 1 : inFlight);
      const room = this.sndWnd - inFlight;
      if (unsent <= 0 || room <= 0) break;
      const len = Math.min(unsent, room, this.mss);
      const data = this.sndBuf.peek(inFlight, len);
      this.o.output(this.seg(ACK | PSH, this.sndNxt, data));
      this.sndNxt = add(this.sndNxt, len);
    }
    const allSent = ((this.sndNxt - this.sndUna) >>> 0) >= this.sndBuf.length;
    if (this.hostEnded && !this.finSent && allSent) {
      this.o.output(this.seg(FIN | ACK, this.sndNxt, new Uint8Array(0)));
      this.sndNxt = add(this.sndNxt, 1);
      this.finSent = true;
    }
    // Unacknowledged data, or data held back by a zero window (probe it): keep a timer.
    if (this.timer === undefined && (this.sndNxt !== this.sndUna || this.sndBuf.length > 0)) this.armTimer();
  }

  private onTimeout(): void {
    this.timer = undefined;
    if (this.state === "closed") return;
    if (++this.retries > MAX_RETRIES) {
      // The guest stopped answering: give up on both sides.
      this.host?.destroy();
      return this.hostError();
    }
    this.rto = Math.min(this.rto * 2, RTO_MAX_MS);
    if (this.state === "syn-received" || this.state === "syn-sent") return this.sendSyn();
    if (this.state !== "established") return;
    // Go back to the oldest unacknowledged byte; a zero window gets a one-byte probe.
    this.sndNxt = this.sndUna;
    if (!this.finAcked) this.finSent = false;
    if (this.sndWnd === 0 && this.sndBuf.length > 0) {
      this.o.output(this.seg(ACK, this.sndUna, this.sndBuf.peek(0, 1)));
      this.sndNxt = add(this.sndUna, 1);
      this.armTimer();
      return;
    }
    this.trySend();
  }

  private sendSyn(): void {
    const flags = this.state === "syn-sent" ? SYN : SYN | ACK;
    this.o.output({ ...this.seg(flags, this.iss, new Uint8Array(0)), mss: OUR_MSS, ack: flags & ACK ? this.rcvNxt : 0 });
    this.sndNxt = add(this.iss, 1);
    this.resetTimer();
    this.armTimer();
  }

  private sendAck(): void {
    this.o.output(this.seg(ACK, this.sndNxt, new Uint8Array(0)));
  }

  private seg(flags: number, seq: number, payload: Uint8Array): TcpSegment {
    const window = this.window();
    this.lastAdvertised = window;
    return { srcPort: this.o.remotePort, dstPort: this.o.guestPort, seq, ack: this.rcvNxt, flags, window, payload };
  }

  /** Our receive window: what the host stream has not yet taken, from 64 KiB. */
  private window(): number {
    return Math.max(0, RCV_WINDOW - (this.host?.bufferedAmount() ?? 0));
  }

  private maybeFinished(): void {
    if (!(this.finAcked && this.guestFin)) return;
    this.resetTimer();
    this.state = "closed";
    this.lingering = true;
    this.timer = setTimeout(() => this.o.onClosed(), LINGER_MS);
    this.timer.unref?.();
  }

  private armTimer(): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => this.onTimeout(), this.rto);
    this.timer.unref?.();
  }

  private resetTimer(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private close(): void {
    const wasClosed = this.state === "closed";
    this.resetTimer();
    this.state = "closed";
    if (!wasClosed) this.o.onClosed();
  }
}

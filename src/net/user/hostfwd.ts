// hostfwd=tcp|udp:[hostaddr]:hostport-[guestaddr]:guestport: the host listens and each
// host client becomes traffic towards the guest from 10.0.2.2 (as in QEMU).
// TCP: every accepted connection is handed to user-net.ts, which opens a TCP connection
// to the guest. UDP: each host peer gets a gateway port; guest replies to that port go
// back to the peer.
import * as dgram from "node:dgram";
import * as net from "node:net";
import type { HostForward } from "../../machine/config.js";
import { parseIp } from "./ipv4.js";

export interface HostForwardSink {
  guestIp: number;
  openTcp(guestIp: number, guestPort: number, stream: net.Socket): void;
  sendUdp(gatewayPort: number, guestIp: number, guestPort: number, data: Uint8Array): void;
}

interface UdpPeer {
  socket: dgram.Socket;
  address: string;
  port: number;
  guestPort: number;
}

const MAX_UDP_PEERS = 256;
const UDP_PEER_PORT_BASE = 40000;

export class HostForwarder {
  readonly ready: Promise<void>;
  private readonly servers: net.Server[] = [];
  private readonly udpSockets: dgram.Socket[] = [];
  /** Gateway port -> host UDP peer. */
  private readonly udpPeers = new Map<number, UdpPeer>();
  private nextUdpPort = UDP_PEER_PORT_BASE;

  constructor(rules: HostForward[], private readonly sink: HostForwardSink) {
    this.ready = Promise.all(rules.map((r) => this.listen(r))).then(() => undefined);
    this.ready.catch(() => undefined);
  }

  /** A guest UDP datagram to 10.0.2.2:port that answers a forwarded peer: true if taken. */
  guestUdp(guestPort: number, dstPort: number, data: Uint8Array): boolean {
    const peer = this.udpPeers.get(dstPort);
    if (!peer || peer.guestPort !== guestPort) return false;
    peer.socket.send(data, peer.port, peer.address);
    return true;
  }

  close(): void {
    for (const s of this.servers) s.close();
    for (const s of this.udpSockets) s.close();
    this.udpPeers.clear();
  }

  private listen(rule: HostForward): Promise<void> {
    const guestIp = rule.guestAddress ? parseIp(rule.guestAddress) : this.sink.guestIp;
    const what = `${rule.protocol}:${rule.hostAddress}:${rule.hostPort}-${rule.guestAddress}:${rule.guestPort}`;
    if (guestIp === null) return Promise.reject(new Error(`${what}: bad guest address`));
    const host = rule.hostAddress || "0.0.0.0";
    return new Promise((resolve, reject) => {
      const fail = (e: Error): void => reject(new Error(`could not set up host forwarding rule '${what}': ${e.message}`));
      if (rule.protocol === "tcp") {
        const server = net.createServer({ allowHalfOpen: true }, (s) => this.sink.openTcp(guestIp, rule.guestPort, s));
        server.once("error", fail);
        server.listen(rule.hostPort, host, () => resolve());
        server.unref();
        this.servers.push(server);
      } else {
        const socket = dgram.createSocket("udp4");
        socket.once("error", fail);
        socket.on("message", (msg, rinfo) => this.udpFromHost(socket, guestIp, rule.guestPort, msg, rinfo));
        socket.bind(rule.hostPort, host, () => resolve());
        socket.unref();
        this.udpSockets.push(socket);
      }
    });
  }

  private udpFromHost(socket: dgram.Socket, guestIp: number, guestPort: number, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    let gwPort = -1;
    for (const [p, peer] of this.udpPeers) {
      if (peer.socket === socket && peer.address === rinfo.address && peer.port === rinfo.port) gwPort = p;
    }
    if (gwPort < 0) {
      if (this.udpPeers.size >= MAX_UDP_PEERS) this.udpPeers.delete(this.udpPeers.keys().next().value as number);
      gwPort = this.nextUdpPort;
      this.nextUdpPort = this.nextUdpPort >= 49151 ? UDP_PEER_PORT_BASE : this.nextUdpPort + 1;
      this.udpPeers.set(gwPort, { socket, address: rinfo.address, port: rinfo.port, guestPort });
    }
    this.sink.sendUdp(gwPort, guestIp, guestPort, new Uint8Array(msg.buffer, msg.byteOffset, msg.length));
  }
}

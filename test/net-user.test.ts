// User-mode network (src/net/user): ARP, ICMP, DHCP, UDP NAT, DNS forwarding, and a
// fuzz of random frames, all with hand-built frames and checked checksums. Only
// 127.0.0.1 sockets: nothing leaves the machine.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as dgram from "node:dgram";
import { once } from "node:events";
import fc from "fast-check";
import { ARP_REPLY, ARP_REQUEST, buildArp, parseArp } from "../src/net/user/arp.js";
import { checksum, transportChecksum } from "../src/net/user/checksum.js";
import { parseDhcp, dhcpReply, DHCPOFFER } from "../src/net/user/dhcp.js";
import { nameserverFromResolvConf } from "../src/net/user/dns.js";
import { BROADCAST_MAC, buildEthernet, ETHERTYPE_ARP, parseEthernet, parseMac } from "../src/net/user/ethernet.js";
import { buildIpv4, parseIp, parseIpv4, PROTO_ICMP, PROTO_UDP } from "../src/net/user/ipv4.js";
import { buildUdp, parseUdp } from "../src/net/user/udp.js";
import { DNS_IP, GATEWAY_IP, GATEWAY_MAC, GUEST_IP, UserNet } from "../src/net/user/user-net.js";
import { FakeGuest, GUEST_MAC, waitFor } from "./net-fake-guest.js";

function collect(net: UserNet): Uint8Array[] {
  const frames: Uint8Array[] = [];
  net.onReceive((f) => frames.push(f));
  return frames;
}

test("checksum: RFC 1071 example and a verified IPv4 header", () => {
  const words = new Uint8Array([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
  assert.equal(checksum(words), ~0xddf2 & 0xffff);
  const ip = buildIpv4(GUEST_IP, GATEWAY_IP, PROTO_UDP, new Uint8Array(3));
  assert.equal(checksum(ip, 0, 20), 0);
  ip[8]++; // TTL change without fixing the checksum
  assert.equal(parseIpv4(ip), null);
});

test("ARP: the gateway answers for 10.0.2.2 and 10.0.2.3, not for the guest's own address", () => {
  const net = new UserNet({ dns: { address: "127.0.0.1", port: 9 } });
  const frames = collect(net);
  for (const target of [GATEWAY_IP, DNS_IP, GUEST_IP]) {
    const req = buildArp({ op: ARP_REQUEST, senderMac: GUEST_MAC, senderIp: GUEST_IP, targetMac: new Uint8Array(6), targetIp: target });
    net.send(buildEthernet(BROADCAST_MAC, GUEST_MAC, ETHERTYPE_ARP, req));
  }
  assert.equal(frames.length, 2);
  for (const [i, ip] of [GATEWAY_IP, DNS_IP].entries()) {
    const eth = parseEthernet(frames[i])!;
    assert.deepEqual(eth.dst, GUEST_MAC);
    assert.equal(eth.etherType, ETHERTYPE_ARP);
    const arp = parseArp(eth.payload)!;
    assert.equal(arp.op, ARP_REPLY);
    assert.equal(arp.senderIp, ip);
    assert.deepEqual(arp.senderMac, GATEWAY_MAC);
    assert.equal(arp.targetIp, GUEST_IP);
  }
  net.close();
});

test("ICMP: echo to the gateway is answered with a correct checksum", () => {
  const net = new UserNet({ dns: { address: "127.0.0.1", port: 9 } });
  const frames = collect(net);
  const echo = new Uint8Array([8, 0, 0, 0, 0x12, 0x34, 0, 1, ...new TextEncoder().encode("ping data")]);
  const c = checksum(echo);
  echo[2] = c >> 8;
  echo[3] = c & 0xff;
  net.send(buildEthernet(GATEWAY_MAC, GUEST_MAC, 0x0800, buildIpv4(GUEST_IP, GATEWAY_IP, PROTO_ICMP, echo)));
  assert.equal(frames.length, 1);
  const ip = parseIpv4(parseEthernet(frames[0])!.payload)!;
  assert.equal(ip.src, GATEWAY_IP);
  assert.equal(ip.dst, GUEST_IP);
  assert.equal(ip.payload[0], 0); // echo reply
  assert.equal(checksum(ip.payload), 0);
  assert.deepEqual(ip.payload.subarray(4), echo.subarray(4));
  net.close();
});

function dhcpMessage(type: number, requested?: number): Uint8Array {
  const b = new Uint8Array(300);
  b.set([1, 1, 6, 0, 0xde, 0xad, 0xbe, 0xef]);
  b.set(GUEST_MAC, 28);
  b.set([0x63, 0x82, 0x53, 0x63], 236);
  let i = 240;
  b.set([53, 1, type], i); i += 3;
  if (requested !== undefined) { b.set([50, 4, requested >>> 24, (requested >> 16) & 255, (requested >> 8) & 255, requested & 255], i); i += 6; }
  b[i] = 255;
  return b;
}

function dhcpOptions(reply: Uint8Array): Map<number, Uint8Array> {
  const m = new Map<number, Uint8Array>();
  for (let i = 240; i < reply.length && reply[i] !== 255; ) {
    if (reply[i] === 0) { i++; continue; }
    m.set(reply[i], reply.subarray(i + 2, i + 2 + reply[i + 1]));
    i += 2 + reply[i + 1];
  }
  return m;
}

test("DHCP: DISCOVER gets an OFFER of 10.0.2.15, REQUEST an ACK with router, DNS, mask, lease", () => {
  const net = new UserNet({ dns: { address: "127.0.0.1", port: 9 } });
  const frames = collect(net);
  const send = (msg: Uint8Array): void => {
    const udp = buildUdp(0, 0xffffffff, 68, 67, msg);
    const ip = buildIpv4(0, 0xffffffff, PROTO_UDP, udp);
    net.send(buildEthernet(BROADCAST_MAC, GUEST_MAC, 0x0800, ip));
  };
  send(dhcpMessage(1));
  send(dhcpMessage(3, GUEST_IP));
  send(dhcpMessage(3, parseIp("10.0.2.99")!));
  assert.equal(frames.length, 3);
  const types: number[] = [];
  for (const f of frames) {
    const ip = parseIpv4(parseEthernet(f)!.payload)!;
    assert.equal(ip.src, GATEWAY_IP);
    const udp = parseUdp(ip.payload, ip.src, ip.dst)!;
    assert.ok(udp, "UDP checksum verifies");
    assert.equal(udp.srcPort, 67);
    assert.equal(udp.dstPort, 68);
    const d = udp.payload;
    assert.equal(d[0], 2);
    assert.deepEqual(d.subarray(4, 8), new Uint8Array([0xde, 0xad, 0xbe, 0xef]));
    const o = dhcpOptions(d);
    types.push(o.get(53)![0]);
    if (o.get(53)![0] !== 6) {
      assert.deepEqual([...d.subarray(16, 20)], [10, 0, 2, 15]);
      assert.deepEqual([...o.get(1)!], [255, 255, 255, 0]);
      assert.deepEqual([...o.get(3)!], [10, 0, 2, 2]);
      assert.deepEqual([...o.get(6)!], [10, 0, 2, 3]);
      assert.ok(o.has(51));
    }
  }
  assert.deepEqual(types, [2, 5, 6]); // OFFER, ACK, NAK for a foreign address
  net.close();
});

test("DHCP parser: truncated options and no message type are rejected without throwing", () => {
  const m = dhcpMessage(1);
  assert.equal(parseDhcp(m)!.messageType, 1);
  assert.equal(dhcpReply(parseDhcp(m)!, { clientIp: 1, serverIp: 2, router: 3, dns: 4, netmask: 5, leaseSeconds: 6 })![242], DHCPOFFER);
  const noType = m.slice();
  noType[240] = 255;
  assert.equal(parseDhcp(noType), null);
  assert.equal(parseDhcp(m.subarray(0, 241)), null);
  const trunc = m.slice(0, 242);
  trunc[240] = 50;
  trunc[241] = 200;
  assert.equal(parseDhcp(trunc), null);
});

test("UDP NAT: the guest reaches a host server on 127.0.0.1 through 10.0.2.2, and back", async () => {
  const server = dgram.createSocket("udp4");
  server.on("message", (msg, r) => server.send(Buffer.concat([Buffer.from("echo:"), msg]), r.port, r.address));
  server.bind(0, "127.0.0.1");
  await once(server, "listening");
  const net = new UserNet({ dns: { address: "127.0.0.1", port: 9 } });
  const g = new FakeGuest(net);
  const got: Array<[number, number, number, string]> = [];
  g.udpHandler = (src, sp, dp, d) => got.push([src, sp, dp, Buffer.from(d).toString()]);
  g.sendUdp(GATEWAY_IP, 5555, server.address().port, new TextEncoder().encode("hi"));
  await waitFor(() => got.length === 1, 5000, "the UDP echo");
  assert.deepEqual(got[0], [GATEWAY_IP, server.address().port, 5555, "echo:hi"]);
  net.close();
  server.close();
});

test("DNS: queries to 10.0.2.3:53 go to the configured resolver; answers come from 10.0.2.3:53", async () => {
  const resolver = dgram.createSocket("udp4");
  resolver.on("message", (msg, r) => resolver.send(Buffer.concat([msg.subarray(0, 2), Buffer.from("answer")]), r.port, r.address));
  resolver.bind(0, "127.0.0.1");
  await once(resolver, "listening");
  const net = new UserNet({ dns: { address: "127.0.0.1", port: resolver.address().port } });
  const g = new FakeGuest(net);
  const got: Array<[number, number, string]> = [];
  g.udpHandler = (src, sp, _dp, d) => got.push([src, sp, Buffer.from(d).toString()]);
  g.sendUdp(DNS_IP, 40000, 53, new TextEncoder().encode("IDquery"));
  await waitFor(() => got.length === 1, 5000, "the DNS answer");
  assert.deepEqual(got[0], [DNS_IP, 53, "IDanswer"]);
  net.close();
  resolver.close();
});

test("resolv.conf: the first IPv4 nameserver", () => {
  assert.deepEqual(nameserverFromResolvConf("# x\nsearch a\nnameserver ::1\nnameserver 192.168.1.1\nnameserver 8.8.8.8\n"), { address: "192.168.1.1", port: 53 });
  assert.equal(nameserverFromResolvConf("search a\n"), null);
});

test("malformed frames are dropped: bad UDP checksum, short headers, bad MACs", () => {
  const net = new UserNet({ dns: { address: "127.0.0.1", port: 9 } });
  const frames = collect(net);
  const udp = buildUdp(GUEST_IP, GATEWAY_IP, 1, 7, new Uint8Array(4));
  udp[8] ^= 1;
  assert.equal(parseUdp(udp, GUEST_IP, GATEWAY_IP), null);
  assert.notEqual(transportChecksum(udp, 0, udp.length, GUEST_IP, GATEWAY_IP, PROTO_UDP), 0);
  net.send(buildEthernet(GATEWAY_MAC, GUEST_MAC, 0x0800, buildIpv4(GUEST_IP, GATEWAY_IP, PROTO_UDP, udp)));
  net.send(new Uint8Array(5));
  net.send(buildEthernet(GATEWAY_MAC, GUEST_MAC, 0x0800, new Uint8Array(10)));
  net.send(buildEthernet(GATEWAY_MAC, GUEST_MAC, ETHERTYPE_ARP, new Uint8Array(27)));
  assert.equal(frames.length, 0);
  assert.equal(net.internalErrors, 0);
  assert.deepEqual(parseMac("52:54:00:12:34:5"), new Uint8Array([0x52, 0x54, 0, 0x12, 0x34, 5]));
  assert.equal(parseMac("52:54:00:12:34"), null);
  net.close();
});

test("fuzz: random and mutated frames never throw inside the stack", () => {
  const net = new UserNet({ dns: { address: "127.0.0.1", port: 9 }, restrict: true });
  net.onReceive(() => {});
  const valid = [
    buildEthernet(GATEWAY_MAC, GUEST_MAC, 0x0800, buildIpv4(GUEST_IP, GATEWAY_IP, PROTO_UDP, buildUdp(GUEST_IP, GATEWAY_IP, 68, 67, dhcpMessage(1)))),
    buildEthernet(BROADCAST_MAC, GUEST_MAC, ETHERTYPE_ARP, buildArp({ op: 1, senderMac: GUEST_MAC, senderIp: GUEST_IP, targetMac: new Uint8Array(6), targetIp: GATEWAY_IP })),
  ];
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 400 }), fc.nat(1), fc.array(fc.tuple(fc.nat(399), fc.nat(255)), { maxLength: 8 }), (random, which, edits) => {
      net.send(random);
      const m = valid[which].slice();
      for (const [i, v] of edits) if (i < m.length) m[i] = v;
      net.send(m);
    }),
    { numRuns: 2000 },
  );
  assert.equal(net.internalErrors, 0);
  net.close();
});

test("hostfwd udp: a host peer's datagram reaches the guest port; the guest's reply goes back", async () => {
  const probe = dgram.createSocket("udp4");
  probe.bind(0, "127.0.0.1");
  await once(probe, "listening");
  const hostPort = probe.address().port;
  probe.close();
  const net = new UserNet({ dns: { address: "127.0.0.1", port: 9 }, hostForwards: [{ protocol: "udp", hostAddress: "127.0.0.1", hostPort, guestAddress: "10.0.2.15", guestPort: 7 }] });
  await net.ready;
  const g = new FakeGuest(net);
  g.udpHandler = (src, sp, dp, d) => {
    assert.equal(src, GATEWAY_IP);
    assert.equal(dp, 7);
    g.sendUdp(src, 7, sp, new TextEncoder().encode(`re:${Buffer.from(d).toString()}`));
  };
  const client = dgram.createSocket("udp4");
  client.send("ping", hostPort, "127.0.0.1");
  const [reply] = (await once(client, "message")) as [Buffer];
  assert.equal(reply.toString(), "re:ping");
  client.close();
  net.close();
});

test("hostfwd: a port already in use makes `ready` reject with QEMU's message", async () => {
  const busy = dgram.createSocket("udp4");
  busy.bind(0, "127.0.0.1");
  await once(busy, "listening");
  const warnings: string[] = [];
  const net = new UserNet({
    dns: { address: "127.0.0.1", port: 9 }, warn: (m) => warnings.push(m),
    hostForwards: [{ protocol: "udp", hostAddress: "127.0.0.1", hostPort: busy.address().port, guestAddress: "", guestPort: 7 }],
  });
  await assert.rejects(net.ready, /could not set up host forwarding rule/);
  assert.equal(warnings.length, 1);
  net.close();
  busy.close();
});

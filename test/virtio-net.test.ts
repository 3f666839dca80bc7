// virtio-net: config (MAC, link up), transmit strips the 12-byte header, receive
// prepends it, frames wait (bounded) for receive buffers, ARP through the user network.
import { test } from "node:test";
import assert from "node:assert/strict";
import { NET_HDR_SIZE, RX_PENDING_FRAMES, VirtioNet, VIRTIO_NET_F_MAC, VIRTIO_NET_F_STATUS } from "../src/hw/virtio/virtio-net.js";
import type { NetBackend } from "../src/net/net-backend.js";
import { buildArp, parseArp, ARP_REPLY } from "../src/net/user/arp.js";
import { BROADCAST_MAC, buildEthernet, ETHERTYPE_ARP, parseEthernet } from "../src/net/user/ethernet.js";
import { GATEWAY_IP, GATEWAY_MAC, GUEST_IP, UserNet } from "../src/net/user/user-net.js";
import { REG, TestDriver } from "./virtio-helpers.js";

const MAC = new Uint8Array([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);

class LoopBackend implements NetBackend {
  sent: Uint8Array[] = [];
  handler?: (f: Uint8Array) => void;
  send(f: Uint8Array): void { this.sent.push(f); }
  onReceive(h: (f: Uint8Array) => void): void { this.handler = h; }
  close(): void {}
}

test("virtio-net: device id 1, MAC and STATUS features, MAC and link-up in config space", () => {
  const d = new TestDriver(new VirtioNet(new LoopBackend(), MAC));
  assert.equal(d.r(REG.deviceId), 1);
  const f = d.deviceFeatures();
  assert.notEqual(f & VIRTIO_NET_F_MAC, 0n);
  assert.notEqual(f & VIRTIO_NET_F_STATUS, 0n);
  const mac = [...Array(6).keys()].map((i) => d.t.read(REG.config + i, 1));
  assert.deepEqual(mac, [...MAC]);
  assert.equal(d.t.read(REG.config + 6, 2), 1, "VIRTIO_NET_S_LINK_UP");
  assert.equal(d.t.read(REG.config, 4), 0x12005452);
  assert.equal(d.t.read(REG.config + 0x40, 4), 0);
});

test("virtio-net: transmit strips the virtio_net_hdr, across descriptors", () => {
  const be = new LoopBackend();
  const d = new TestDriver(new VirtioNet(be, MAC));
  d.init();
  const frame = new Uint8Array(60).map((_, i) => i);
  d.post(1, [{ data: new Uint8Array(NET_HDR_SIZE) }, { data: frame.subarray(0, 20) }, { data: frame.subarray(20) }]);
  d.post(1, [{ data: new Uint8Array(5) }]); // shorter than the header: dropped, returned
  d.kick(1);
  assert.equal(be.sent.length, 1);
  assert.deepEqual(be.sent[0], frame);
  assert.equal(d.takeUsed(1).length, 2);
});

test("virtio-net: received frames get a header with num_buffers=1 and wait for buffers, bounded", () => {
  const be = new LoopBackend();
  const net = new VirtioNet(be, MAC);
  const d = new TestDriver(net, 64);
  be.handler!(new Uint8Array(60)); // before DRIVER_OK: dropped
  d.init();
  const frame = new Uint8Array(100).fill(7);
  be.handler!(frame);
  assert.equal(net.pendingFrames, 1);
  const small = d.post(0, [{ writeLen: 50 }]);
  const big = d.post(0, [{ writeLen: 1526 }]);
  d.kick(0);
  assert.deepEqual(d.takeUsed(0), [{ id: small.head, len: 0 }], "too small: frame dropped, buffer returned");
  be.handler!(frame);
  assert.deepEqual(d.takeUsed(0), [{ id: big.head, len: NET_HDR_SIZE + 100 }]);
  const got = d.bytes(big.addrs[0], NET_HDR_SIZE + 100);
  assert.equal(got[10], 1);
  assert.deepEqual(got.subarray(NET_HDR_SIZE), frame);
  for (let i = 0; i < RX_PENDING_FRAMES + 50; i++) be.handler!(frame);
  assert.equal(net.pendingFrames, RX_PENDING_FRAMES);
  d.w(REG.status, 0); // reset forgets the queue
  assert.equal(net.pendingFrames, 0);
});

test("virtio-net with the user network: an ARP request for the gateway is answered", () => {
  const unet = new UserNet({ dns: { address: "127.0.0.1", port: 9 } });
  const d = new TestDriver(new VirtioNet(unet, MAC));
  d.init();
  const rx = d.post(0, [{ writeLen: 1526 }]);
  d.kick(0);
  const arp = buildArp({ op: 1, senderMac: MAC, senderIp: GUEST_IP, targetMac: new Uint8Array(6), targetIp: GATEWAY_IP });
  d.post(1, [{ data: new Uint8Array(NET_HDR_SIZE) }, { data: buildEthernet(BROADCAST_MAC, MAC, ETHERTYPE_ARP, arp) }]);
  d.kick(1);
  const [used] = d.takeUsed(0);
  assert.equal(used.id, rx.head);
  const eth = parseEthernet(d.bytes(rx.addrs[0], used.len).subarray(NET_HDR_SIZE))!;
  assert.deepEqual(eth.src, GATEWAY_MAC);
  assert.equal(parseArp(eth.payload)!.op, ARP_REPLY);
  assert.equal(d.irq, true);
  unet.close();
});

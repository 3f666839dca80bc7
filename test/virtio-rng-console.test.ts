// virtio-rng (buffers filled from the host's random source) and virtio-console (hvc0
// output to a sink, input waiting for the driver's buffers).
import { test } from "node:test";
import assert from "node:assert/strict";
import { VirtioRng } from "../src/hw/virtio/virtio-rng.js";
import { VirtioConsole } from "../src/hw/virtio/virtio-console.js";
import { REG, TestDriver } from "./virtio-helpers.js";

test("virtio-rng fills every writable buffer from the random source, in 64 KiB calls at most", () => {
  const calls: number[] = [];
  const rng = new VirtioRng((buf) => {
    calls.push(buf.length);
    buf.fill(0xa5);
  });
  const d = new TestDriver(rng);
  assert.equal(d.r(REG.deviceId), 4);
  d.init();
  const p = d.post(0, [{ writeLen: 16 }, { writeLen: 70000 }]);
  d.kick(0);
  assert.deepEqual(d.takeUsed(0), [{ id: p.head, len: 70016 }]);
  assert.deepEqual(d.bytes(p.addrs[0], 16), new Uint8Array(16).fill(0xa5));
  assert.deepEqual(calls, [16, 65536, 70000 - 65536]);
  assert.equal(d.irq, true);
});

test("virtio-console: hvc0 output goes to the sink in order", () => {
  const out: string[] = [];
  const con = new VirtioConsole((data) => out.push(new TextDecoder().decode(data)));
  const d = new TestDriver(con);
  assert.equal(d.r(REG.deviceId), 3);
  assert.equal(d.deviceFeatures() & 2n, 0n, "no MULTIPORT");
  d.init();
  const enc = new TextEncoder();
  d.post(1, [{ data: enc.encode("hello ") }, { data: enc.encode("hvc0\n") }]);
  d.post(1, [{ data: enc.encode("again") }]);
  d.kick(1);
  assert.equal(out.join(""), "hello hvc0\nagain");
  assert.equal(d.takeUsed(1).length, 2);
});

test("virtio-console: input waits for receive buffers and is split across them", () => {
  const con = new VirtioConsole(() => {});
  const d = new TestDriver(con);
  d.init();
  con.receive(new TextEncoder().encode("abcdef"));
  assert.equal(d.takeUsed(0).length, 0, "no buffers yet");
  const a = d.post(0, [{ writeLen: 4 }]);
  const b = d.post(0, [{ writeLen: 4 }]);
  d.kick(0);
  assert.deepEqual(d.takeUsed(0), [{ id: a.head, len: 4 }, { id: b.head, len: 2 }]);
  assert.equal(new TextDecoder().decode(d.bytes(a.addrs[0], 4)), "abcd");
  assert.equal(new TextDecoder().decode(d.bytes(b.addrs[0], 2)), "ef");
  const c = d.post(0, [{ writeLen: 8 }]);
  d.kick(0);
  assert.equal(d.takeUsed(0).length, 0, "buffer stays posted until input comes");
  con.receive(new TextEncoder().encode("x"));
  assert.deepEqual(d.takeUsed(0), [{ id: c.head, len: 1 }]);
  // Beyond 64 KiB of unread input, bytes are dropped rather than buffered without end.
  con.receive(new Uint8Array(200_000));
  let total = 0;
  for (let i = 0; i < 20; i++) {
    d.post(0, [{ writeLen: 8192 }]);
    d.kick(0);
    total += d.takeUsed(0).reduce((n, u) => n + u.len, 0);
  }
  assert.equal(total, 64 * 1024);
});

// -netdev socket/stream: two backends joined over 127.0.0.1 carry frames both ways with
// QEMU's framing (4-byte big-endian length); create.ts picks backends from NetdevConfig.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as net from "node:net";
import { once } from "node:events";
import { createNetBackend } from "../src/net/create.js";
import { SocketNet, parseHostPort } from "../src/net/socket-net.js";
import { UserNet } from "../src/net/user/user-net.js";
import { waitFor } from "./net-fake-guest.js";

async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, "127.0.0.1");
  await once(s, "listening");
  const port = (s.address() as net.AddressInfo).port;
  s.close();
  await once(s, "close");
  return port;
}

test("socket netdev: frames both ways between a listener and a connector", async () => {
  const port = await freePort();
  const a = createNetBackend({ id: "a", type: "socket", hostForwards: [], options: { listen: `127.0.0.1:${port}` } }) as SocketNet;
  await a.ready;
  const b = createNetBackend({ id: "b", type: "stream", hostForwards: [], options: { server: "off", "addr.host": "127.0.0.1", "addr.port": String(port) } });
  const atA: Uint8Array[] = [];
  const atB: Uint8Array[] = [];
  a.onReceive((f) => atA.push(f));
  b.onReceive((f) => atB.push(f));
  // Until the peers are joined frames are dropped: keep sending until one arrives.
  const big = new Uint8Array(1514).map((_, i) => i * 7);
  await waitFor(() => { b.send(new Uint8Array([1, 2, 3])); return atA.length > 0; }, 5000, "the link");
  atA.length = 0;
  b.send(big);
  a.send(new Uint8Array([9, 8, 7, 6]));
  a.send(big);
  // Probe frames may still be in flight: look at the big one only.
  await waitFor(() => atA.some((f) => f.length === big.length) && atB.length === 2, 5000, "the frames");
  assert.deepEqual(atA.find((f) => f.length === big.length), big);
  assert.deepEqual(atB, [new Uint8Array([9, 8, 7, 6]), big]);
  a.close();
  b.close();
});

test("socket netdev: a peer sending an absurd length is disconnected, not buffered", async () => {
  const port = await freePort();
  const a = new SocketNet({ listen: { host: "127.0.0.1", port } });
  await a.ready;
  const got: Uint8Array[] = [];
  a.onReceive((f) => got.push(f));
  const c = net.connect({ host: "127.0.0.1", port });
  await once(c, "connect");
  c.write(Buffer.from([0x7f, 0xff, 0xff, 0xff, 1, 2, 3]));
  await once(c, "close");
  assert.equal(got.length, 0);
  a.close();
});

test("create: user, tap fd= refused clearly, socket options checked", () => {
  const u = createNetBackend({ id: "n", type: "user", hostForwards: [], options: {} });
  assert.ok(u instanceof UserNet);
  u.close();
  assert.throws(() => createNetBackend({ id: "t", type: "tap", hostForwards: [], options: { fd: "3" } }), /fd= is not supported/);
  assert.throws(() => createNetBackend({ id: "s", type: "socket", hostForwards: [], options: {} }), /listen=|connect=/);
  assert.throws(() => createNetBackend({ id: "s", type: "socket", hostForwards: [], options: { connect: ":99" } }), /host:port/);
  assert.deepEqual(parseHostPort(":1234"), { host: "", port: 1234 });
  assert.equal(parseHostPort("h:x"), null);
});

// TCP through the user-mode network: a fake guest endpoint (net-fake-guest.ts) against
// real servers and clients on 127.0.0.1. Data integrity both ways, the guest's window
// respected, retransmission after a drop, FIN half-close, RST both ways, hostfwd.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import * as net from "node:net";
import { once } from "node:events";
import fc from "fast-check";
import { ACK, SYN, TcpConnection } from "../src/net/user/tcp.js";
import { GATEWAY_IP, UserNet } from "../src/net/user/user-net.js";
import { FakeGuest, FakeTcp, waitFor } from "./net-fake-guest.js";

const sha = (b: Uint8Array): string => createHash("sha256").update(b).digest("hex");
const DNS = { address: "127.0.0.1", port: 9 };

async function listen(handler: (s: net.Socket) => void): Promise<net.Server> {
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    s.on("error", () => {}); // resets at the end of a test are expected
    handler(s);
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return server;
}
const portOf = (s: net.Server): number => (s.address() as net.AddressInfo).port;

test("TCP download: 2 MiB from a host server into a guest with a small window, then FIN", async () => {
  const payload = randomBytes(2 * 1024 * 1024);
  const server = await listen((s) => s.end(payload));
  const unet = new UserNet({ dns: DNS });
  const g = new FakeGuest(unet);
  const c = new FakeTcp(g, 40001);
  c.capacity = 8192;
  // The guest's application reads slowly: a few KiB at a time, on a timer.
  c.onData = () => setImmediate(() => c.read(4096));
  c.connect(GATEWAY_IP, portOf(server), 1000);
  await waitFor(() => c.finReceived, 30_000, "the FIN after the data");
  assert.equal(c.receivedBytes, payload.length);
  assert.equal(sha(c.data()), sha(payload));
  assert.equal(c.windowViolation, 0, "never beyond the guest's advertised window");
  c.end();
  await waitFor(() => unet.tcpConnectionCount === 0, 5000, "the connection to go");
  assert.equal(unet.internalErrors, 0);
  unet.close();
  server.close();
});

test("TCP upload: 1 MiB from the guest to a host server that reads slowly; half-close both ways", async () => {
  const payload = randomBytes(1024 * 1024);
  const chunks: Buffer[] = [];
  let ended = false;
  const server = await listen((s) => {
    s.pause();
    const t = setInterval(() => s.resume(), 20);
    s.on("data", (d: Buffer) => { chunks.push(d); s.pause(); });
    s.on("end", () => { clearInterval(t); ended = true; s.end("bye"); });
  });
  const unet = new UserNet({ dns: DNS });
  const g = new FakeGuest(unet);
  const c = new FakeTcp(g, 40002);
  c.onEstablished = () => { c.write(payload); c.end(); };
  c.connect(GATEWAY_IP, portOf(server));
  await waitFor(() => ended, 30_000, "the server to see the guest's FIN");
  assert.equal(sha(Buffer.concat(chunks)), sha(payload));
  await waitFor(() => c.finReceived, 5000, "the server's reply and FIN");
  assert.equal(Buffer.from(c.data()).toString(), "bye");
  unet.close();
  server.close();
});

test("TCP: a dropped segment is retransmitted after the timeout", async () => {
  const payload = randomBytes(64 * 1024);
  const server = await listen((s) => s.end(payload));
  const unet = new UserNet({ dns: DNS });
  const g = new FakeGuest(unet);
  const c = new FakeTcp(g, 40003);
  c.dropNext = 1;
  c.onData = () => c.read(c.unread);
  c.connect(GATEWAY_IP, portOf(server));
  await waitFor(() => c.finReceived, 15_000, "all data despite the drop");
  assert.equal(sha(c.data()), sha(payload));
  unet.close();
  server.close();
});

test("TCP: connection refused on the host is a RST to the guest", async () => {
  const server = await listen(() => {});
  const port = portOf(server);
  server.close();
  await once(server, "close");
  const unet = new UserNet({ dns: DNS });
  const g = new FakeGuest(unet);
  const c = new FakeTcp(g, 40004);
  c.connect(GATEWAY_IP, port);
  await waitFor(() => c.state === "reset", 5000, "the RST");
  await waitFor(() => unet.tcpConnectionCount === 0, 5000, "the connection to go");
  unet.close();
});

test("TCP: a guest RST closes the host socket; a host reset becomes a guest RST", async () => {
  let hostSocket: net.Socket | undefined;
  let closed = false;
  const server = await listen((s) => { hostSocket = s; s.on("error", () => {}); s.on("close", () => (closed = true)); });
  const unet = new UserNet({ dns: DNS });
  const g = new FakeGuest(unet);
  const c = new FakeTcp(g, 40005);
  c.connect(GATEWAY_IP, portOf(server));
  await waitFor(() => c.state === "established" && hostSocket !== undefined, 5000, "the connection");
  c.reset();
  await waitFor(() => closed, 5000, "the host socket to close");

  hostSocket = undefined;
  const c2 = new FakeTcp(g, 40006);
  c2.connect(GATEWAY_IP, portOf(server));
  await waitFor(() => c2.state === "established" && hostSocket !== undefined, 5000, "the second connection");
  hostSocket!.resetAndDestroy();
  await waitFor(() => c2.state === "reset", 5000, "the guest's RST");
  unet.close();
  server.close();
});

test("TCP: many connections at once", async () => {
  const server = await listen((s) => s.on("data", (d: Buffer) => s.write(d)).on("end", () => s.end()));
  const unet = new UserNet({ dns: DNS });
  const g = new FakeGuest(unet);
  const conns: FakeTcp[] = [];
  for (let i = 0; i < 50; i++) {
    const c = new FakeTcp(g, 41000 + i);
    c.onEstablished = () => { c.write(new TextEncoder().encode(`conn ${i}`)); c.end(); };
    c.connect(GATEWAY_IP, portOf(server));
    conns.push(c);
  }
  await waitFor(() => conns.every((c) => c.finReceived), 15_000, "all echoes");
  conns.forEach((c, i) => assert.equal(Buffer.from(c.data()).toString(), `conn ${i}`));
  unet.close();
  server.close();
});

test("hostfwd: a host client reaches a guest server; data both ways and close", async () => {
  const probe = await listen(() => {});
  const hostPort = portOf(probe);
  probe.close();
  await once(probe, "close");
  const unet = new UserNet({ dns: DNS, hostForwards: [{ protocol: "tcp", hostAddress: "127.0.0.1", hostPort, guestAddress: "", guestPort: 22 }] });
  await unet.ready;
  const g = new FakeGuest(unet);
  const guestServer = new FakeTcp(g, 22);
  guestServer.listen();
  guestServer.onData = () => {
    if (guestServer.finReceived) {
      guestServer.write(new TextEncoder().encode(Buffer.from(guestServer.data()).toString().toUpperCase()));
      guestServer.end();
    }
  };
  const client = net.connect({ host: "127.0.0.1", port: hostPort, allowHalfOpen: true });
  const got: Buffer[] = [];
  client.on("data", (d) => got.push(d));
  await once(client, "connect");
  client.end("hello guest");
  await once(client, "end");
  assert.equal(Buffer.concat(got).toString(), "HELLO GUEST");
  assert.equal(guestServer.remoteIp, GATEWAY_IP);
  client.destroy();
  unet.close();
});

test("TCP fuzz: random guest segments against one connection never throw or loop", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          seqOff: fc.integer({ min: -70000, max: 70000 }),
          ackOff: fc.integer({ min: -70000, max: 70000 }),
          flags: fc.nat(0x3f),
          window: fc.nat(0xffff),
          mss: fc.option(fc.nat(0xffff), { nil: undefined }),
          len: fc.nat(3000),
          hostBytes: fc.nat(5000),
          hostEnd: fc.boolean(),
        }),
        { maxLength: 30 },
      ),
      (steps) => {
        let outputs = 0;
        let lastSeq = 0;
        const conn = new TcpConnection({
          guestPort: 1234, remotePort: 80,
          output: (s) => { outputs++; lastSeq = s.seq; },
          onClosed: () => {},
        }, { srcPort: 1234, dstPort: 80, seq: 5000, ack: 0, flags: SYN, window: 100, mss: 0, payload: new Uint8Array(0) });
        conn.hostConnected({ write: () => true, bufferedAmount: () => 0, end: () => {}, destroy: () => {}, pause: () => {}, resume: () => {} });
        const iss = lastSeq;
        conn.guestSegment({ srcPort: 1234, dstPort: 80, seq: 5001, ack: (iss + 1) >>> 0, flags: ACK, window: 100, payload: new Uint8Array(0) });
        for (const st of steps) {
          outputs = 0;
          if (st.hostBytes) conn.hostData(new Uint8Array(st.hostBytes));
          if (st.hostEnd) conn.hostEnd();
          conn.guestSegment({
            srcPort: 1234, dstPort: 80, seq: (5001 + st.seqOff) >>> 0, ack: (iss + 1 + st.ackOff) >>> 0,
            flags: st.flags, window: st.window, mss: st.mss, payload: new Uint8Array(st.len),
          });
          // At most a window (64 KiB) of 64-byte segments, plus a few control segments.
          assert.ok(outputs < 1100, `a bounded number of segments per input (${outputs})`);
        }
        conn.destroy();
      },
    ),
    { numRuns: 300 },
  );
});

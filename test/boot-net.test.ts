// The default guest on a network, as a person would use it: `udhcpc -i eth0` on the
// user network, ping the gateway, fetch a file from an HTTP server on the host's
// 127.0.0.1 with wget (md5 compared), a host client reaching a guest `nc -l` through
// hostfwd, and two guests joined by -netdev socket. Everything stays on 127.0.0.1.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import * as http from "node:http";
import * as net from "node:net";
import { once } from "node:events";
import { SHELL_PROMPT } from "../guest/paths.js";
import { GuestSession } from "./lib/guest-session.js";
import { COMMAND_TIMEOUT_MS, TEST_TIMEOUT_MS, bootDefaultGuest, guestSkipReason } from "./lib/default-guest.js";


const skip = guestSkipReason();

async function freePort(): Promise<number> {
  const s = net.createServer().listen(0, "127.0.0.1");
  await once(s, "listening");
  const port = (s.address() as net.AddressInfo).port;
  s.close();
  await once(s, "close");
  return port;
}

async function powerOff(s: GuestSession): Promise<void> {
  await s.send("poweroff\r");
  assert.equal((await s.exit()).code, 0);
}

test("user network: DHCP, ping, wget from a host server, hostfwd into the guest", { skip, timeout: TEST_TIMEOUT_MS }, async (t: TestContext) => {
  const file = randomBytes(300_000);
  const md5 = createHash("md5").update(file).digest("hex");
  const server = http.createServer((_req, res) => res.end(file)).listen(0, "127.0.0.1");
  await once(server, "listening");
  const httpPort = (server.address() as net.AddressInfo).port;
  const fwdPort = await freePort();
  const s = await bootDefaultGuest(["-netdev", `user,id=n0,hostfwd=tcp:127.0.0.1:${fwdPort}-:22`, "-device", "virtio-net-device,netdev=n0"]);
  const run = (cmd: string): Promise<string> => s.command(cmd, SHELL_PROMPT, COMMAND_TIMEOUT_MS);
  try {
    await t.test("udhcpc -i eth0 gets 10.0.2.15, gateway 10.0.2.2, DNS 10.0.2.3", async () => {
      assert.match(await run("udhcpc -i eth0"), /lease of 10\.0\.2\.15 obtained from 10\.0\.2\.2/);
      assert.match(await run("ifconfig eth0"), /inet addr:10\.0\.2\.15\s+Bcast:10\.0\.2\.255\s+Mask:255\.255\.255\.0/);
      assert.match(await run("route -n"), /^0\.0\.0\.0\s+10\.0\.2\.2\s/m);
      assert.match(await run("cat /etc/resolv.conf"), /nameserver 10\.0\.2\.3/);
    });
    await t.test("ping the gateway", async () => {
      assert.match(await run("ping -c 2 10.0.2.2"), /2 packets transmitted, 2 packets received/);
    });
    await t.test("wget from the host's 127.0.0.1 through 10.0.2.2: md5 matches", async () => {
      assert.match(await run(`wget -q -O - http://10.0.2.2:${httpPort}/file | md5sum`), new RegExp(`^${md5}  -`, "m"));
    });
    await t.test("hostfwd: a host client talks to `nc -l -p 22` in the guest", async () => {
      await run("echo guest-says-hi > /tmp/out; nc -l -p 22 < /tmp/out > /tmp/in &");
      await new Promise((r) => setTimeout(r, 1000)); // nc is listening by then, even slowly
      const c = net.connect({ host: "127.0.0.1", port: fwdPort, allowHalfOpen: true });
      const got: Buffer[] = [];
      c.on("data", (d: Buffer) => got.push(d));
      await once(c, "connect");
      c.end("host-says-hello\n");
      await Promise.race([once(c, "end"), new Promise((r) => setTimeout(r, 30_000))]);
      c.destroy();
      assert.equal(Buffer.concat(got).toString(), "guest-says-hi\n");
      assert.match(await run("sleep 1; cat /tmp/in"), /^host-says-hello$/m);
    });
    await powerOff(s);
  } finally {
    s.close();
    server.close();
  }
});

test("socket netdev: two guests exchange data over a TCP link on 127.0.0.1", { skip, timeout: TEST_TIMEOUT_MS }, async () => {
  const port = await freePort();
  const a = await bootDefaultGuest(["-netdev", `socket,id=n0,listen=127.0.0.1:${port}`, "-device", "virtio-net-device,netdev=n0,mac=52:54:00:12:34:01"]);
  let b: GuestSession | undefined;
  try {
    b = await bootDefaultGuest(["-netdev", `socket,id=n0,connect=127.0.0.1:${port}`, "-device", "virtio-net-device,netdev=n0,mac=52:54:00:12:34:02"]);
    await a.command("ifconfig eth0 192.168.7.1 netmask 255.255.255.0 up", SHELL_PROMPT, COMMAND_TIMEOUT_MS);
    await b.command("ifconfig eth0 192.168.7.2 netmask 255.255.255.0 up", SHELL_PROMPT, COMMAND_TIMEOUT_MS);
    // stdin not the tty (a background reader of the tty is stopped); the pipe stays open
    // long enough that nc waits for the peer's data and EOF.
    await a.command("sleep 20 | nc -l -p 5000 > /tmp/in &", SHELL_PROMPT, COMMAND_TIMEOUT_MS);
    await new Promise((r) => setTimeout(r, 1000));
    assert.match(await b.command("ping -c 1 192.168.7.1", SHELL_PROMPT, COMMAND_TIMEOUT_MS), /1 packets received/);
    assert.match(await b.command("echo hello-over-socket | nc 192.168.7.1 5000; echo rc=$?", SHELL_PROMPT, COMMAND_TIMEOUT_MS), /rc=0/);
    assert.match(await a.command("sleep 1; cat /tmp/in", SHELL_PROMPT, COMMAND_TIMEOUT_MS), /^hello-over-socket$/m);
    await powerOff(b);
    await powerOff(a);
  } finally {
    b?.close();
    a.close();
  }
});

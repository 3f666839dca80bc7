// -netdev tap and netdev start-up errors. The tap tests need Linux, root, /dev/net/tun
// and koffi; the traffic test also needs `ip netns`: it moves the tap into a network
// namespace of its own (its fd stays with us), so nothing leaves this machine, and answers
// the namespace's ARP and UDP itself. Missing pieces skip with the reason. The CLI tests
// bind a port first and check that hostfwd=/listen= on it is fatal, as in QEMU.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import * as net from "node:net";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { NodeHost } from "../src/host/node-host.js";
import { UserError } from "../src/machine/machine.js";
import { createNetBackend, netBackendReady, tidySystemError } from "../src/net/create.js";
import { TapNet, tapErrorText } from "../src/net/tap.js";
import { ARP_REPLY, ARP_REQUEST, buildArp, parseArp } from "../src/net/user/arp.js";
import { buildEthernet, ETHERTYPE_ARP, ETHERTYPE_IPV4, parseEthernet } from "../src/net/user/ethernet.js";
import { buildIpv4, parseIp, parseIpv4, PROTO_UDP } from "../src/net/user/ipv4.js";
import { buildUdp, parseUdp } from "../src/net/user/udp.js";
import { SHELL_PROMPT } from "../guest/paths.js";
import { COMMAND_TIMEOUT_MS, TEST_TIMEOUT_MS, bootDefaultGuest, guestSkipReason } from "./lib/default-guest.js";

const MAIN = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));

function tapUnavailable(): string | false {
  if (process.platform !== "linux") return "tap is Linux only";
  if (process.getuid?.() !== 0) return "not root";
  if (!existsSync("/dev/net/tun")) return "no /dev/net/tun";
  try {
    createRequire(import.meta.url)("koffi");
  } catch {
    return "koffi is not installed";
  }
  return false;
}

function run(cmd: string, args: string[]): { ok: boolean; out: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 10_000 });
  return { ok: r.status === 0, out: `${r.stdout ?? ""}${r.stderr ?? ""}${r.error?.message ?? ""}` };
}

/** A name unique to this run, at most 15 bytes (IFNAMSIZ - 1). */
const IFNAME = `tsvt${process.pid % 100000}`;
const NETNS = `tsvtest${process.pid}`;

test("tap error lines say what is wrong and what to do", () => {
  assert.equal(tapErrorText("EACCES", "open", "/dev/net/tun", "tap0"), "permission denied opening /dev/net/tun (needs root or CAP_NET_ADMIN)");
  assert.equal(tapErrorText("EPERM", "open", "/dev/net/tun", "tap0"), "permission denied opening /dev/net/tun (needs root or CAP_NET_ADMIN)");
  assert.match(tapErrorText("EPERM", "attach", "/dev/net/tun", "tap0"), /^permission denied creating tap0 \(needs root or CAP_NET_ADMIN/);
  assert.match(tapErrorText("ENOENT", "open", "/dev/net/tun", "tap0"), /\/dev\/net\/tun does not exist \(load the tun module/);
  assert.match(tapErrorText("EBUSY", "attach", "/dev/net/tun", "tap0"), /^tap0 is busy/);
  assert.match(tapErrorText("EINVAL", "attach", "/dev/net/tun", "eth0"), /eth0: it exists and is not a tap interface/);
  assert.equal(tapErrorText("EIO", "open", "/dev/x", ""), "cannot open /dev/x: EIO");
});

test("tap: a missing clone device is one line naming the netdev", { skip: process.platform !== "linux" && "tap is Linux only" }, () => {
  assert.throws(
    () => new TapNet({ ifname: "tap0", what: "-netdev tap,id=n0,ifname=tap0", device: "/nonexistent/net/tun" }),
    { message: "-netdev tap,id=n0,ifname=tap0: /nonexistent/net/tun does not exist (load the tun module: modprobe tun)" },
  );
  assert.throws(() => createNetBackend({ id: "n0", type: "tap", hostForwards: [], options: { ifname: "a-name-far-too-long" } }), /ifname=a-name-far-too-long: interface name longer than 15 bytes/);
  assert.throws(() => createNetBackend({ id: "n0", type: "tap", hostForwards: [], options: { fd: "3" } }), /fd= is not supported/);
});

test("tap: an unprivileged user gets the permission line", { skip: tapUnavailable() || (!existsSync("/usr/bin/setpriv") && "no setpriv") }, (t) => {
  const tapJs = fileURLToPath(new URL("../src/net/tap.js", import.meta.url));
  const script = `import(${JSON.stringify(tapJs)}).then((m) => { try { new m.TapNet({ ifname: "${IFNAME}", what: "-netdev tap,ifname=${IFNAME}" }); console.log("opened"); } catch (e) { console.log(e.message); } })`;
  // Not root: /dev/net/tun (mode 0600) cannot be opened.
  const asNobody = run("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, "-e", script]);
  if (!asNobody.ok) return void t.skip(`setpriv failed: ${asNobody.out}`);
  assert.equal(asNobody.out.trim(), `-netdev tap,ifname=${IFNAME}: permission denied opening /dev/net/tun (needs root or CAP_NET_ADMIN)`);
  // Root without CAP_NET_ADMIN: the open works, TUNSETIFF does not.
  const noCap = run("setpriv", ["--inh-caps=-net_admin", "--bounding-set=-net_admin", process.execPath, "-e", script]);
  if (!noCap.ok) return;
  assert.match(noCap.out.trim(), new RegExp(`^-netdev tap,ifname=${IFNAME}: permission denied creating ${IFNAME} \\(needs root or CAP_NET_ADMIN`));
});

test("tap: a second open of the same interface is busy", { skip: tapUnavailable() }, () => {
  const a = createNetBackend({ id: "a", type: "tap", hostForwards: [], options: { ifname: IFNAME } }) as TapNet;
  try {
    assert.equal(a.ifname, IFNAME);
    assert.ok(run("ip", ["link", "show", IFNAME]).ok, "the interface exists while open");
    assert.throws(() => createNetBackend({ id: "b", type: "tap", hostForwards: [], options: { ifname: IFNAME } }), {
      message: `-netdev tap,id=b,ifname=${IFNAME}: ${IFNAME} is busy (another program, or another -netdev, has it open)`,
    });
  } finally {
    a.close();
  }
  assert.ok(!run("ip", ["link", "show", IFNAME]).ok, "close() removes the interface");
});

const OUR_MAC = new Uint8Array([0x02, 0x54, 0x53, 0x56, 0x00, 0x02]);
// TEST-NET-1 (RFC 5737), inside a namespace of our own: never routed anywhere.
const NS_IP = "192.0.2.1";
const OUR_IP = "192.0.2.2";
const PORT = 7777;

/** Answers ARP for OUR_IP and echoes "ping" UDP datagrams as "pong", as a guest would. */
function answer(tap: TapNet, frame: Uint8Array, seen: string[]): void {
  const eth = parseEthernet(frame);
  if (!eth) return;
  const ours = parseIp(OUR_IP)!;
  if (eth.etherType === ETHERTYPE_ARP) {
    const arp = parseArp(eth.payload);
    if (!arp || arp.op !== ARP_REQUEST || arp.targetIp !== ours) return;
    seen.push("arp");
    const reply = buildArp({ op: ARP_REPLY, senderMac: OUR_MAC, senderIp: ours, targetMac: arp.senderMac, targetIp: arp.senderIp });
    tap.send(buildEthernet(arp.senderMac, OUR_MAC, ETHERTYPE_ARP, reply));
  } else if (eth.etherType === ETHERTYPE_IPV4) {
    const ip = parseIpv4(eth.payload);
    if (!ip || ip.protocol !== PROTO_UDP || ip.dst !== ours) return;
    const udp = parseUdp(ip.payload, ip.src, ip.dst);
    if (!udp || udp.dstPort !== PORT || new TextDecoder().decode(udp.payload) !== "ping") return;
    seen.push("udp");
    const pong = buildUdp(ours, ip.src, PORT, udp.srcPort, new TextEncoder().encode("pong"));
    tap.send(buildEthernet(eth.src, OUR_MAC, ETHERTYPE_IPV4, buildIpv4(ours, ip.src, PROTO_UDP, pong)));
  }
}

test("tap: frames both ways with a network namespace behind the interface", { skip: tapUnavailable() }, async (t) => {
  if (!run("ip", ["netns", "add", NETNS]).ok) return void t.skip("cannot create a network namespace");
  const tap = createNetBackend({ id: "t0", type: "tap", hostForwards: [], options: { ifname: IFNAME } }) as TapNet;
  try {
    await netBackendReady(tap);
    const seen: string[] = [];
    tap.onReceive((f) => answer(tap, f, seen));
    for (const args of [
      ["link", "set", IFNAME, "netns", NETNS],
      ["netns", "exec", NETNS, "ip", "addr", "add", `${NS_IP}/24`, "dev", IFNAME],
      ["netns", "exec", NETNS, "ip", "link", "set", IFNAME, "up"],
    ]) {
      const r = run("ip", args);
      assert.ok(r.ok, `ip ${args.join(" ")}: ${r.out}`);
    }
    // In the namespace: send "ping" to OUR_IP until "pong" comes back (the first may be
    // lost while ARP resolves).
    const client = `const s = require("dgram").createSocket("udp4");
      s.on("message", (m) => { console.log(String(m)); process.exit(0); });
      s.bind(0, "${NS_IP}", () => { const go = () => s.send("ping", ${PORT}, "${OUR_IP}"); go(); setInterval(go, 200); });
      setTimeout(() => { console.log("timeout"); process.exit(1); }, 8000);`;
    const child = spawn("ip", ["netns", "exec", NETNS, process.execPath, "-e", client], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    const [code] = await once(child, "exit");
    assert.equal(out.trim(), "pong", out);
    assert.equal(code, 0);
    assert.ok(seen.includes("arp") && seen.includes("udp"), `answered ${seen.join(",")}`);
  } finally {
    tap.close();
    run("ip", ["netns", "del", NETNS]);
  }
});

test("tap: the default guest pings the namespace behind its tap", { skip: tapUnavailable() || guestSkipReason(), timeout: TEST_TIMEOUT_MS }, async (t) => {
  const ns = `${NETNS}g`;
  const ifname = `${IFNAME}g`;
  if (!run("ip", ["netns", "add", ns]).ok) return void t.skip("cannot create a network namespace");
  try {
    const s = await bootDefaultGuest(["-netdev", `tap,id=n0,ifname=${ifname}`, "-device", "virtio-net-device,netdev=n0"]);
    const cmd = (c: string): Promise<string> => s.command(c, SHELL_PROMPT, COMMAND_TIMEOUT_MS);
    try {
      // tsvisor made the interface before the guest ran; put it in the namespace.
      for (const args of [
        ["link", "set", ifname, "netns", ns],
        ["netns", "exec", ns, "ip", "addr", "add", `${NS_IP}/24`, "dev", ifname],
        ["netns", "exec", ns, "ip", "link", "set", ifname, "up"],
      ]) {
        const r = run("ip", args);
        assert.ok(r.ok, `ip ${args.join(" ")}: ${r.out}`);
      }
      await cmd("ifconfig eth0 192.0.2.15 netmask 255.255.255.0 up");
      assert.match(await cmd(`ping -c 2 ${NS_IP}`), /2 packets transmitted, 2 packets received/);
      await s.send("poweroff\r");
      assert.equal((await s.exit()).code, 0);
    } finally {
      s.close();
    }
    assert.ok(!run("ip", ["netns", "exec", ns, "ip", "link", "show", ifname]).ok, "the interface went with tsvisor");
  } finally {
    run("ip", ["netns", "del", ns]);
  }
});

async function bound(host: string): Promise<{ port: number; close: () => void }> {
  const s = net.createServer().listen(0, host);
  await once(s, "listening");
  return { port: (s.address() as net.AddressInfo).port, close: () => s.close() };
}

/** Runs the CLI with a board that has nothing to boot: it must fail before running. */
function tsvisor(args: string[]): { status: number | null; stderr: string } {
  const r = spawnSync(process.execPath, [MAIN, "-M", "virt", "-bios", "none", "-nographic", ...args], { encoding: "utf8", timeout: 30_000 });
  return { status: r.status, stderr: r.stderr };
}

test("cli: a hostfwd port in use is fatal, one line, exit 1", async () => {
  const busy = await bound("0.0.0.0");
  try {
    const r = tsvisor(["-netdev", `user,id=n0,hostfwd=tcp::${busy.port}-:22`, "-device", "virtio-net-device,netdev=n0"]);
    assert.equal(r.stderr, `tsvisor: -netdev user,id=n0: could not set up host forwarding rule 'tcp::${busy.port}-:22': Address already in use\n`);
    assert.equal(r.status, 1);
  } finally {
    busy.close();
  }
});

test("cli: a socket listen= port in use is fatal, one line, exit 1", async () => {
  const busy = await bound("127.0.0.1");
  try {
    const r = tsvisor(["-netdev", `socket,id=s0,listen=127.0.0.1:${busy.port}`, "-device", "virtio-net-device,netdev=s0"]);
    assert.equal(r.stderr, `tsvisor: -netdev socket,id=s0: could not listen on 127.0.0.1:${busy.port}: Address already in use\n`);
    assert.equal(r.status, 1);
  } finally {
    busy.close();
  }
});

test("cli: a tap that cannot be made is one line, exit 1", { skip: tapUnavailable() || (!existsSync("/usr/bin/setpriv") && "no setpriv") }, () => {
  const r = spawnSync("setpriv", ["--reuid=65534", "--regid=65534", "--clear-groups", process.execPath, MAIN, "-M", "virt", "-bios", "none", "-nographic",
    "-netdev", `tap,id=n0,ifname=${IFNAME}`, "-device", "virtio-net-device,netdev=n0"], { encoding: "utf8", timeout: 30_000 });
  if (r.error) return;
  assert.equal(r.stderr, `tsvisor: -netdev tap,id=n0,ifname=${IFNAME}: permission denied opening /dev/net/tun (needs root or CAP_NET_ADMIN)\n`);
  assert.equal(r.status, 1);
});

test("backend readiness: failures name the netdev; node messages read like strerror", async () => {
  assert.equal(tidySystemError("listen EADDRINUSE: address already in use 127.0.0.1:5555"), "could not listen on 127.0.0.1:5555: Address already in use");
  assert.equal(tidySystemError("could not set up host forwarding rule 'x': listen EACCES: permission denied 0.0.0.0:80"), "could not set up host forwarding rule 'x': Permission denied");
  assert.equal(tidySystemError("something else"), "something else");
  const busy = await bound("127.0.0.1");
  const warnings: string[] = [];
  const u = createNetBackend(
    { id: "n1", type: "user", hostForwards: [{ protocol: "tcp", hostAddress: "127.0.0.1", hostPort: busy.port, guestAddress: "", guestPort: 22 }], options: {} },
    { warn: (m) => warnings.push(m) },
  );
  try {
    await assert.rejects(netBackendReady(u), { message: `-netdev user,id=n1: could not set up host forwarding rule 'tcp:127.0.0.1:${busy.port}-:22': Address already in use` });
    assert.deepEqual(warnings, [], "the failure is reported once, by the rejection");
  } finally {
    u.close();
    busy.close();
  }
  const ok = createNetBackend({ id: "n2", type: "user", hostForwards: [], options: {} });
  await netBackendReady(ok);
  ok.close();
});

test("NodeHost: ready() waits for hostfwd listeners, flush() closes them", async () => {
  const free = await bound("127.0.0.1");
  free.close();
  const fwd = { protocol: "tcp" as const, hostAddress: "127.0.0.1", hostPort: free.port, guestAddress: "", guestPort: 22 };
  const host = new NodeHost();
  const n0 = { id: "n0", type: "user" as const, hostForwards: [fwd], options: {} };
  await host.prepare({ drives: [], netdevs: [n0] });
  host.createNetBackend(n0);
  await host.ready();
  const again = new NodeHost();
  const n1 = { ...n0, id: "n1" };
  await again.prepare({ drives: [], netdevs: [n1] });
  again.createNetBackend(n1);
  await assert.rejects(again.ready(), (err: Error) => err instanceof UserError && /^-netdev user,id=n1: could not set up host forwarding rule/.test(err.message));
  again.flush();
  host.flush();
  // The port is free again: an embedding program does not leak the listener.
  const s = net.createServer().listen(free.port, "127.0.0.1");
  await once(s, "listening");
  s.close();
});

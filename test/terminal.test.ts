// The console's escape handling (QEMU's mux) without a TTY.
import { test } from "node:test";
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { ConsoleMux, ESCAPE_HELP, Terminal } from "../src/host/terminal.js";

const bytes = (s: string) => Uint8Array.from(Buffer.from(s, "latin1"));
const text = (b: Uint8Array) => Buffer.from(b).toString("latin1");
const monStdio = () => new ConsoleMux({ escapes: true, signals: false });

test("ordinary bytes, Ctrl-C included, go to the guest under mon:stdio", () => {
  const r = monStdio().input(bytes("ls -l\r\x03"));
  assert.equal(text(r.guest), "ls -l\r\x03");
  assert.deepEqual(r.actions, []);
});

test("Ctrl-A X quits; Ctrl-A H and Ctrl-A ? print help", () => {
  assert.deepEqual(monStdio().input(bytes("\x01x")).actions, ["quit"]);
  assert.deepEqual(monStdio().input(bytes("\x01X")).actions, ["quit"]);
  const r = monStdio().input(bytes("a\x01hb\x01?"));
  assert.deepEqual(r.actions, ["help", "help"]);
  assert.equal(text(r.guest), "ab");
});

test("Ctrl-A Ctrl-A sends one Ctrl-A", () => {
  const r = monStdio().input(bytes("\x01\x01\x01\x01z"));
  assert.equal(text(r.guest), "\x01\x01z");
  assert.deepEqual(r.actions, []);
});

test("an escape split across chunks still works", () => {
  const mux = monStdio();
  const a = mux.input(bytes("echo\x01"));
  assert.equal(text(a.guest), "echo");
  assert.deepEqual(a.actions, []);
  const b = mux.input(bytes("x"));
  assert.equal(b.guest.length, 0);
  assert.deepEqual(b.actions, ["quit"]);
  const c = monStdio();
  c.input(bytes("\x01"));
  assert.equal(text(c.input(bytes("\x01")).guest), "\x01");
});

test("unknown escapes are swallowed, as in QEMU", () => {
  const r = monStdio().input(bytes("\x01qa\x01 b"));
  assert.equal(text(r.guest), "ab");
  assert.deepEqual(r.actions, []);
});

test("-serial stdio: no escapes; signal keys act on tsvisor only from a TTY", () => {
  const tty = new ConsoleMux({ escapes: false, signals: true });
  const r = tty.input(bytes("\x01x\x03\x1c\x1ay"));
  assert.equal(text(r.guest), "\x01xy");
  assert.deepEqual(r.actions, ["interrupt", "sigquit", "suspend"]);
  const pipe = new ConsoleMux({ escapes: false, signals: false });
  const data = bytes("\x01x\x03");
  assert.equal(pipe.input(data).guest, data);
});

test("Ctrl-A T stamps each new line of output with the time since it was pressed", () => {
  const mux = monStdio();
  assert.equal(text(mux.output(bytes("plain\n"), 0)), "plain\n");
  assert.deepEqual(mux.input(bytes("\x01t")).actions, ["timestamps"]);
  // As QEMU: the first stamp waits for the next line start.
  assert.equal(text(mux.output(bytes("rest\nnext"), 5000)), "rest\n[00:00:00.000] next");
  assert.equal(text(mux.output(bytes("\nlater\n"), 5000 + 3_723_045)), "\n[01:02:03.045] later\n");
  mux.input(bytes("\x01T"));
  assert.equal(text(mux.output(bytes("off\n"), 9e6)), "off\n");
});

test("Terminal on a pipe: forwards bytes, answers Ctrl-A H and Ctrl-A X, batches output", async () => {
  const stdin = new PassThrough() as unknown as NodeJS.ReadStream;
  const out = new PassThrough();
  const stdout = out as unknown as NodeJS.WriteStream;
  const written: string[] = [];
  out.on("data", (chunk: Buffer) => written.push(chunk.toString("latin1")));
  const term = new Terminal({ serial: "mon:stdio", stdin, stdout });
  const typed: string[] = [];
  let quits = 0;
  term.start({ input: (d) => typed.push(text(d)), quit: () => quits++, signal: () => assert.fail("no signals") });
  term.write(bytes("Welcome\r\n"));
  term.write(bytes("# "));
  (stdin as unknown as PassThrough).write("ls\r\x01h");
  await new Promise((resolve) => setImmediate(resolve));
  (stdin as unknown as PassThrough).write("\x01x");
  await new Promise((resolve) => setImmediate(resolve));
  term.restore();
  assert.deepEqual(typed, ["ls\r"]);
  assert.equal(quits, 1);
  assert.equal(written.join(""), "Welcome\r\n# " + ESCAPE_HELP.replace(/\n/g, "\r\n") + "tsvisor: terminated\r\n");
});

test("Terminal with -serial none neither reads nor writes", async () => {
  const stdin = new PassThrough();
  const out = new PassThrough();
  let wrote = false;
  out.on("data", () => (wrote = true));
  const term = new Terminal({
    serial: "none",
    stdin: stdin as unknown as NodeJS.ReadStream,
    stdout: out as unknown as NodeJS.WriteStream,
  });
  term.start({ input: () => assert.fail("nothing is read"), quit: () => {}, signal: () => {} });
  stdin.write("x");
  term.write(bytes("hello"));
  term.flush();
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(wrote, false);
});

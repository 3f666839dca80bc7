// The command line as a user meets it: bad input gives exactly one line on stderr,
// "tsvisor: ..." naming the flag or file, exit status 1, and never a stack trace.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const MAIN = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));
const BOARD_BUILT = existsSync(fileURLToPath(new URL("../src/machine/create.js", import.meta.url)));

function tsvisor(args: string[], input = "") {
  const r = spawnSync(process.execPath, [MAIN, ...args], { input, encoding: "utf8", timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** One "tsvisor: " line that contains every `names`, status 1, no stack frames. */
function userError(args: string[], ...names: string[]): string {
  const r = tsvisor(args);
  const lines = r.stderr.split("\n").filter((line) => line !== "");
  assert.equal(lines.length, 1, `one line on stderr, got:\n${r.stderr}`);
  const [line] = lines;
  assert.ok(line.startsWith("tsvisor: "), line);
  for (const name of names) assert.ok(line.includes(name), `"${line}" names ${name}`);
  assert.doesNotMatch(r.stderr, /^\s+at /m);
  assert.equal(r.status, 1);
  assert.equal(r.stdout, "");
  return line;
}

test("an unknown flag", () => {
  assert.equal(userError(["-foo"]), "tsvisor: -foo: invalid option");
});

test("a flag without its argument", () => {
  assert.equal(userError(["-M", "virt", "-m"]), "tsvisor: -m: requires an argument");
});

test("a bad memory size", () => {
  assert.match(userError(["-m", "12Q"], "-m", "12Q"), /^tsvisor: -m 12Q: invalid RAM size/);
});

test("a missing -kernel file", () => {
  assert.equal(userError(["-kernel", "/nonexistent/Image"]),
    "tsvisor: -kernel: cannot read /nonexistent/Image: No such file or directory");
});

test("a directory as -initrd, a missing -bios and -dtb", () => {
  assert.equal(userError(["-initrd", "/tmp"]), "tsvisor: -initrd: cannot read /tmp: Is a directory");
  userError(["-bios", "/nonexistent/fw.bin"], "-bios", "/nonexistent/fw.bin");
  userError(["-dtb", "/nonexistent/b.dtb"], "-dtb", "/nonexistent/b.dtb");
});

test("an unwritable -D trace file", () => {
  userError(["-d", "int", "-D", "/nonexistent/dir/trace.log"], "-D", "/nonexistent/dir/trace.log");
});

test("more than one CPU and KVM say why", () => {
  userError(["-smp", "2"], "-smp", "only 1 CPU");
  // -accel kvm alone picks microvm on an x86-64 host (test/cli-kvm.test.ts); with virt it is refused.
  userError(["-M", "virt", "-accel", "kvm"], "-accel kvm", "KVM needs an x86-64 guest; use -accel tcg");
});

test("an ELF for another architecture as -kernel", { skip: !BOARD_BUILT && "needs src/machine/create.ts" }, () => {
  userError(["-M", "virt", "-kernel", "/bin/ls"], "/bin/ls");
});

test("--help reads like a manual page and exits 0", () => {
  const r = tsvisor(["--help"]);
  assert.equal(r.status, 0);
  assert.equal(r.stderr, "");
  for (const heading of ["NAME", "SYNOPSIS", "DESCRIPTION", "EXAMPLES", "EXIT STATUS"]) {
    assert.match(r.stdout, new RegExp(`^${heading}$`, "m"));
  }
  for (const flag of ["-machine", "-m ", "-smp", "-bios", "-kernel", "-initrd", "-append", "-dtb", "-nographic",
    "-serial", "-accel", "-no-reboot", "-d ", "-D ", "--default-guest", "C-a x"]) {
    assert.ok(r.stdout.includes(flag), `--help mentions ${flag}`);
  }
});

test("--version prints the package version and exits 0", () => {
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL("../../package.json", import.meta.url)), "utf8"));
  for (const flag of ["--version", "-version"]) {
    const r = tsvisor([flag]);
    assert.equal(r.status, 0);
    assert.equal(r.stdout, `tsvisor version ${pkg.version} (QEMU-compatible command line)\n`);
  }
});

test("-d help lists the trace items", () => {
  const r = tsvisor(["-d", "help"]);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /^in_asm /m);
});

test("Ctrl-A X ends a running machine with status 0", { skip: !BOARD_BUILT && "needs src/machine/create.ts" }, () => {
  // The escape arrives at once, whatever the firmware is doing; it must end the run.
  const r = tsvisor(["-M", "virt", "-nographic", "-bios", "default"], "\x01x");
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /tsvisor: terminated\r\n$/);
});

// The x86-64 guests (guest/x86-targets.ts) booted under QEMU's -M microvm in software
// (TCG), so they are proven before any KVM machine runs tsvisor's own microvm board with
// them: our kernel + busybox initramfs, and Debian's kernel + the initramfs that loads
// its virtio modules. QEMU's microvm describes virtio-mmio through ACPI (LNRO0005), as
// tsvisor's board does. Skips when qemu-system-x86_64 or the guests are missing.
import { strict as assert } from "node:assert";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";
import { debianX86GuestPaths, GuestNotBuiltError, SHELL_PROMPT, x86GuestPaths, type X86GuestPaths } from "../guest/paths.js";
import { BOOT_TIMEOUT_MS, COMMAND_TIMEOUT_MS, commandRunner, TEST_TIMEOUT_MS } from "./lib/default-guest.js";
import { GuestSession, onPath } from "./lib/guest-session.js";
import { moduleDepends, moduleLoadOrder } from "../guest/x86-targets.js";

const QEMU = "qemu-system-x86_64";
/** Shows that our -append reached the guest (an unknown dotted parameter is ignored). */
const CMDLINE_MARK = "tsvisor.guest_test=1";

/** A reason to skip (node:test's `skip`), or false when QEMU and the guest are there. */
function skipReason(paths: () => X86GuestPaths): string | false {
  if (!onPath(QEMU)) return `${QEMU} is not installed (Debian package qemu-system-x86)`;
  try {
    paths();
    return false;
  } catch (err) {
    if (err instanceof GuestNotBuiltError) return `${err.message} (npm test builds it first)`;
    throw err;
  }
}

/** The host's TSC rate in kHz, roughly. Under TCG the guest's TSC runs at the host's,
 *  and microvm has no PIT gate or HPET to measure it against: without tsc_early_khz the
 *  kernel marks the TSC unstable and waits forever for timer ticks. */
function hostTscKhz(): number {
  const mhz = /^cpu MHz\s*:\s*([\d.]+)/m.exec(fs.readFileSync("/proc/cpuinfo", "utf8"))?.[1];
  return mhz ? Math.round(Number(mhz) * 1000) : 2_000_000;
}

/** An empty raw disk image in a fresh temp folder. */
function makeDisk(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsvisor-x86-guest-"));
  const file = path.join(dir, "disk.img");
  fs.writeFileSync(file, Buffer.alloc(0));
  fs.truncateSync(file, 4 << 20);
  return file;
}

/** Boots a guest under QEMU's microvm (TCG) with one virtio-blk disk, to the prompt;
 *  `extra` adds QEMU flags, `machine` the -M value with its options. */
async function bootMicrovm(guest: X86GuestPaths, disk: string, extra: string[] = [], machine = "microvm"): Promise<GuestSession> {
  const append = `console=ttyS0 reboot=k panic=-1 tsc_early_khz=${hostTscKhz()} ${CMDLINE_MARK}`;
  const s = new GuestSession({
    program: QEMU,
    name: "qemu",
    args: [
      ...["-M", machine, "-accel", "tcg", "-cpu", "max", "-m", "256M", "-nographic", "-no-reboot"],
      ...["-kernel", guest.kernel, "-initrd", guest.initrd, "-append", append],
      ...["-drive", `id=d0,file=${disk},format=raw,if=none`, "-device", "virtio-blk-device,drive=d0"],
      ...extra,
    ],
  });
  try {
    await s.expect(SHELL_PROMPT, BOOT_TIMEOUT_MS);
  } catch (err) {
    s.close();
    throw err;
  }
  return s;
}

/** `poweroff -f` must end QEMU (ACPI S5 through the hardware-reduced sleep register). */
async function powerOff(s: GuestSession): Promise<void> {
  await s.send("poweroff -f\n");
  const status = await s.exit(COMMAND_TIMEOUT_MS);
  assert.deepEqual(status, { code: 0, signal: null }, `qemu ended with ${JSON.stringify(status)}`);
}

describe("x86-64 guests under QEMU -M microvm (tcg)", { timeout: TEST_TIMEOUT_MS }, () => {
  let disk = "";
  before(() => (disk = makeDisk()));
  after(() => fs.rmSync(path.dirname(disk), { recursive: true, force: true }));

  test("our kernel boots to the shell on 4 CPUs with a virtio disk", { skip: skipReason(x86GuestPaths), timeout: TEST_TIMEOUT_MS }, async () => {
    const s = await bootMicrovm(x86GuestPaths(), disk, ["-smp", "4"]);
    try {
      assert.match(s.output, /tsvisor guest: Linux 6\.1\.\S+ on x86_64, 4 CPUs, busybox userland/);
      const run = commandRunner(s);
      assert.equal(await run("uname -m"), "x86_64");
      assert.match(await run("cat /proc/cmdline"), new RegExp(`console=ttyS0 .*${CMDLINE_MARK.replace(/\./g, "\\.")}`));
      assert.equal(await run("grep -c ^processor /proc/cpuinfo"), "4");
      assert.equal(await run("ls /sys/block"), "vda");
      await powerOff(s);
    } finally {
      s.close();
    }
  });

  test("our kernel boots without ACPI (MP table, virtio_mmio.device= on the command line)", { skip: skipReason(x86GuestPaths), timeout: TEST_TIMEOUT_MS }, async () => {
    // microvm,acpi=off: qboot's MP table lists the CPUs and QEMU appends the
    // virtio_mmio.device= entries, as tsvisor's board does with acpi=off.
    const s = await bootMicrovm(x86GuestPaths(), disk, ["-smp", "2"], "microvm,acpi=off");
    try {
      const run = commandRunner(s);
      assert.equal(await run("grep -c ^processor /proc/cpuinfo"), "2");
      assert.match(await run("cat /proc/cmdline"), /virtio_mmio\.device=\S+/);
      assert.equal(await run("ls /sys/block"), "vda");
      // Without ACPI there is no power-off register: the kernel halts. Quit QEMU instead.
      s.quit();
      assert.deepEqual(await s.exit(COMMAND_TIMEOUT_MS), { code: 0, signal: null });
    } finally {
      s.close();
    }
  });

  test("Debian's kernel loads its virtio modules and finds the disk", { skip: skipReason(debianX86GuestPaths), timeout: TEST_TIMEOUT_MS }, async () => {
    const s = await bootMicrovm(debianX86GuestPaths(), disk);
    try {
      assert.doesNotMatch(s.output, /insmod \S+ failed/);
      const run = commandRunner(s);
      assert.match(await run("uname -r"), /^6\.1\.\d+-\d+-amd64$/);
      assert.equal(await run("ls /dev/vda"), "/dev/vda");
      assert.equal(await run("cat /sys/block/vda/size"), String((4 << 20) / 512));
      assert.match(await run("cat /proc/modules"), /^virtio_blk /m);
      await powerOff(s);
    } finally {
      s.close();
    }
  });
});

describe("Debian guest module helpers", () => {
  test("moduleDepends reads the .modinfo depends= entry", () => {
    const ko = Buffer.from("\x7fELF junk\0license=GPL\0depends=virtio,virtio_ring\0retpoline=Y\0", "latin1");
    assert.deepEqual(moduleDepends(ko), ["virtio", "virtio_ring"]);
    assert.deepEqual(moduleDepends(Buffer.from("\0depends=\0name=virtio_ring\0", "latin1")), []);
    assert.deepEqual(moduleDepends(Buffer.from("no modinfo here", "latin1")), []);
  });

  test("moduleLoadOrder puts every module after its dependencies, once", () => {
    const deps: Record<string, string[]> = {
      virtio_ring: [],
      virtio: ["virtio_ring"],
      virtio_mmio: ["virtio", "virtio_ring"],
      virtio_blk: ["virtio", "virtio_ring"],
      virtio_net: ["virtio_ring", "virtio", "net_failover"],
      net_failover: ["failover"],
      failover: [],
    };
    const order = moduleLoadOrder(["virtio_mmio", "virtio_blk", "virtio_net"], (m) => deps[m]);
    assert.deepEqual(order, ["virtio_ring", "virtio", "virtio_mmio", "virtio_blk", "failover", "net_failover", "virtio_net"]);
    assert.throws(() => moduleLoadOrder(["a"], (m) => (m === "a" ? ["b"] : ["a"])), /circle/);
  });
});

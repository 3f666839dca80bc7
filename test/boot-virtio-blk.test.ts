// The default guest with virtio devices: a raw disk read and written through /dev/vda
// (checked byte for byte on the host after power-off), a read-only disk that refuses
// writes, virtio-rng behind /dev/hwrng and virtio-console's hvc0 on the console.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SHELL_PROMPT } from "../guest/paths.js";
import { GuestSession } from "./lib/guest-session.js";
import { BOOT_TIMEOUT_MS, COMMAND_TIMEOUT_MS, TEST_TIMEOUT_MS, commandRunner, guestSkipReason } from "./lib/default-guest.js";

const MiB = 1024 * 1024;

const skip = guestSkipReason();

const md5 = (b: Uint8Array) => createHash("md5").update(b).digest("hex");

test("virtio-blk, -rng and -console in the Linux guest", { skip, timeout: TEST_TIMEOUT_MS }, async (t: TestContext) => {
  const dir = mkdtempSync(join(tmpdir(), "tsvisor-vblk-"));
  const rwImage = join(dir, "rw.img");
  const roImage = join(dir, "ro.img");
  const rw = randomBytes(4 * MiB);
  const ro = randomBytes(1 * MiB);
  writeFileSync(rwImage, rw);
  writeFileSync(roImage, ro);
  const s = GuestSession.tsvisor(["--default-guest",
    "-drive", `file=${rwImage},format=raw,if=virtio`,
    "-drive", `file=${roImage},format=raw,if=virtio,readonly=on`,
    "-device", "virtio-rng-device", "-device", "virtio-console-device"]);
  const run = commandRunner(s);
  try {
    await s.expect(SHELL_PROMPT, BOOT_TIMEOUT_MS);
    await t.test("the disks' sizes and read-only flags", async () => {
      assert.match(await run("cat /sys/block/vda/size /sys/block/vdb/size"), /^8192\n2048$/m);
      assert.match(await run("cat /sys/block/vda/ro /sys/block/vdb/ro"), /^0\n1$/m);
    });
    await t.test("a block read in the guest matches the host's bytes", async () => {
      for (const sector of [0, 1234, 8191]) {
        const sum = await run(`dd if=/dev/vda bs=512 skip=${sector} count=1 2>/dev/null | md5sum`);
        assert.match(sum, new RegExp(`^${md5(rw.subarray(sector * 512, sector * 512 + 512))}`));
      }
      const whole = await run("md5sum /dev/vdb");
      assert.match(whole, new RegExp(`^${md5(ro)}`));
    });
    await t.test("a write with fsync, and the read-only disk refuses one", async () => {
      await run("echo tsvisor-was-here > /tmp/w");
      assert.match(await run("dd if=/tmp/w of=/dev/vda bs=512 seek=100 conv=notrunc,fsync 2>/dev/null; echo rc=$?"), /rc=0/);
      assert.match(await run("dd if=/tmp/w of=/dev/vdb bs=512 conv=notrunc,fsync 2>/dev/null; echo rc=$?"), /rc=[1-9]/);
    });
    await t.test("virtio-rng is the hardware random source", async () => {
      assert.match(await run("cat /sys/class/misc/hw_random/rng_current"), /virtio_rng/);
      assert.match(await run("dd if=/dev/hwrng bs=32 count=1 2>/dev/null | md5sum"), /^[0-9a-f]{32}/);
    });
    await t.test("hvc0 output reaches the console", async () => {
      // hvc0 shares the terminal with ttyS0, so its line may come before or after the
      // prompt: look at the whole output rather than after the command.
      await run("echo from-hvc0-$((6*7)) > /dev/hvc0");
      const deadline = Date.now() + COMMAND_TIMEOUT_MS;
      while (!s.output.includes("from-hvc0-42") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      assert.ok(s.output.includes("from-hvc0-42"), "hvc0's line on the console");
    });
    await s.send("poweroff\n");
    assert.deepEqual(await s.exit(COMMAND_TIMEOUT_MS), { code: 0, signal: null });
    const after = new Uint8Array(readFileSync(rwImage));
    const expected = Uint8Array.from(rw);
    expected.set(new TextEncoder().encode("tsvisor-was-here\n"), 100 * 512);
    assert.equal(md5(after), md5(expected), "the image holds exactly the guest's write");
    assert.equal(md5(new Uint8Array(readFileSync(roImage))), md5(ro), "the read-only image is untouched");
  } finally {
    s.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

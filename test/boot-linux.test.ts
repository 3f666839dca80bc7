// The default guest (guest/build.ts: Linux 6.1 + busybox initramfs) booted through
// OpenSBI to a shell, then used like a person at the console would: a few commands,
// the floating-point self-check, the clock, and a clean power-off (status 0). A second
// boot checks that a guest `reboot` under -no-reboot ends tsvisor with status 0.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { FPTEST_OUTPUT } from "../guest/paths.js";
import { COMMAND_TIMEOUT_MS, TEST_TIMEOUT_MS, bootDefaultGuest, commandRunner, guestSkipReason } from "./lib/default-guest.js";

/** Boot to the shell: generous, the interpreter shares the machine with builds. */

const skip = guestSkipReason();

/** UTC dates one day either side of now: the guest may read its clock around midnight. */
function utcDatesAroundNow(): string[] {
  const day = 86_400_000;
  return [-day, 0, day].map((d) => new Date(Date.now() + d).toISOString().slice(0, 10));
}

test("Linux boots to a busybox shell, runs commands and powers off", { skip, timeout: TEST_TIMEOUT_MS }, async (t: TestContext) => {
  const s = await bootDefaultGuest();
  // After one command hangs, the rest fail at once instead of each waiting its timeout.
  const run = commandRunner(s);
  try {
    await t.test("uname -m", async () => {
      assert.match(await run("uname -m"), /^riscv64$/m);
    });
    await t.test("the shell does arithmetic", async () => {
      assert.match(await run("echo $((6*7))"), /^42$/m);
    });
    await t.test("/proc/cpuinfo shows the ISA", async () => {
      assert.match(await run("cat /proc/cpuinfo"), /^isa\s*:\s*rv64imafdc/m);
    });
    await t.test("/bin/fptest", async () => {
      const out = await run("/bin/fptest");
      for (const line of FPTEST_OUTPUT.trimEnd().split("\n")) {
        assert.ok(out.split("\n").includes(line), `expected the line\n  ${line}\nin\n${out}`);
      }
    });
    await t.test("the clock reads today's UTC date (goldfish RTC)", async () => {
      const out = await run("date +%Y-%m-%d");
      const date = /^\d{4}-\d{2}-\d{2}$/m.exec(out)?.[0];
      assert.ok(date, `a date in:\n${out}`);
      assert.ok(utcDatesAroundNow().includes(date), `${date} is not within a day of the host's UTC date`);
    });
    await t.test("poweroff ends tsvisor with status 0", async () => {
      run.checkAlive();
      await s.send("poweroff\n");
      assert.deepEqual(await s.exit(COMMAND_TIMEOUT_MS), { code: 0, signal: null });
    });
  } finally {
    s.close();
  }
});

test("a guest reboot under -no-reboot ends tsvisor with status 0", { skip, timeout: TEST_TIMEOUT_MS }, async () => {
  const s = await bootDefaultGuest(["-no-reboot"]);
  try {
    await s.send("reboot\n");
    assert.deepEqual(await s.exit(COMMAND_TIMEOUT_MS), { code: 0, signal: null });
  } finally {
    s.close();
  }
});

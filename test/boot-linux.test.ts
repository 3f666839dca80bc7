// The default guest (guest/build.ts: Linux 6.1 + busybox initramfs) booted through
// OpenSBI to a shell, then used like a person at the console would: a few commands,
// the floating-point self-check, the clock, and a clean power-off (status 0). A second
// boot checks that a guest `reboot` under -no-reboot ends tsvisor with status 0.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { FPTEST_OUTPUT, GuestNotBuiltError, SHELL_PROMPT, guestPaths } from "../guest/paths.js";
import { GuestSession } from "./lib/guest-session.js";

/** Boot to the shell: generous, the interpreter shares the machine with builds. */
const BOOT_TIMEOUT_MS = 600_000;
const COMMAND_TIMEOUT_MS = 120_000;
const TEST_TIMEOUT_MS = 900_000;

function notBuilt(): string | false {
  try {
    guestPaths();
    return false;
  } catch (err) {
    if (err instanceof GuestNotBuiltError) return `${err.message} (npm test builds it first)`;
    throw err;
  }
}
const skip = notBuilt();

async function bootToShell(extra: string[] = []): Promise<GuestSession> {
  const s = GuestSession.tsvisor(["--default-guest", ...extra]);
  try {
    await s.expect("tsvisor guest: Linux", BOOT_TIMEOUT_MS);
    await s.expect(SHELL_PROMPT, BOOT_TIMEOUT_MS);
  } catch (err) {
    s.close();
    throw err;
  }
  return s;
}

/** UTC dates one day either side of now: the guest may read its clock around midnight. */
function utcDatesAroundNow(): string[] {
  const day = 86_400_000;
  return [-day, 0, day].map((d) => new Date(Date.now() + d).toISOString().slice(0, 10));
}

test("Linux boots to a busybox shell, runs commands and powers off", { skip, timeout: TEST_TIMEOUT_MS }, async (t: TestContext) => {
  const s = await bootToShell();
  // After one command hangs, the rest fail at once instead of each waiting its timeout.
  let hung: string | undefined;
  const run = async (command: string) => {
    if (hung) throw new Error(`not run: the guest stopped answering at \`${hung}\``);
    try {
      return await s.command(command, SHELL_PROMPT, COMMAND_TIMEOUT_MS);
    } catch (err) {
      hung = command;
      throw err;
    }
  };
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
      if (hung) throw new Error(`not run: the guest stopped answering at \`${hung}\``);
      await s.send("poweroff\n");
      assert.deepEqual(await s.exit(COMMAND_TIMEOUT_MS), { code: 0, signal: null });
    });
  } finally {
    s.close();
  }
});

test("a guest reboot under -no-reboot ends tsvisor with status 0", { skip, timeout: TEST_TIMEOUT_MS }, async () => {
  const s = await bootToShell(["-no-reboot"]);
  try {
    await s.send("reboot\n");
    assert.deepEqual(await s.exit(COMMAND_TIMEOUT_MS), { code: 0, signal: null });
  } finally {
    s.close();
  }
});

// virtio-console as the only console: with -serial none the keyboard and the screen are
// the guest's hvc1 (hvc0 is the kernel's SBI console), typed at like any console.
import { test } from "node:test";
import assert from "node:assert/strict";
import { KERNEL_CMDLINE } from "../guest/paths.js";
import { COMMAND_TIMEOUT_MS, TEST_TIMEOUT_MS, bootDefaultGuest, commandRunner, guestSkipReason } from "./lib/default-guest.js";

const skip = guestSkipReason();

test("-serial none with virtio-console: a shell on hvc1", { skip, timeout: TEST_TIMEOUT_MS }, async () => {
  const cmdline = KERNEL_CMDLINE.replace("console=ttyS0", "console=hvc1");
  const s = await bootDefaultGuest(["-serial", "none", "-device", "virtio-console-device", "-append", cmdline]);
  try {
    const run = commandRunner(s);
    assert.match(await run("cat /proc/consoles"), /^hvc1 /m);
    assert.match(await run("uname -m"), /^riscv64$/m);
    await s.send("poweroff -f\n");
    assert.deepEqual(await s.exit(COMMAND_TIMEOUT_MS), { code: 0, signal: null });
  } finally {
    s.close();
  }
});

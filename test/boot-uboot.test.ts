// Debian's U-Boot for S-mode (package u-boot-qemu) under OpenSBI: stop its autoboot with
// a key, as a person would, and ask for its version at the "=> " prompt.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { FIRMWARE } from "../guest/paths.js";
import { GuestSession } from "./lib/guest-session.js";

const UBOOT = FIRMWARE.ubootSmode;
const skip = existsSync(UBOOT) ? false : `${UBOOT} is missing: apt-get install u-boot-qemu`;

test("U-Boot stops autoboot and answers `version`", { skip, timeout: 300_000 }, async () => {
  const s = GuestSession.tsvisor(["-M", "virt", "-nographic", "-bios", "default", "-kernel", UBOOT]);
  try {
    await s.expect("Hit any key to stop autoboot");
    await s.send(" ");
    await s.expect("=> ");
    await s.send("version\r");
    const text = await s.expect("=> ");
    assert.match(text, /U-Boot 2023\.01/);
    s.quit();
    assert.deepEqual(await s.exit(), { code: 0, signal: null });
  } finally {
    s.close();
  }
});

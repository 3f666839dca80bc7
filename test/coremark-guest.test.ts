// EEMBC CoreMark in the default guest, as a check of the CPU rather than a benchmark:
// CoreMark validates its own list/matrix/state CRCs for the standard seeds, and its final
// CRC (which covers every iteration) must equal what the same binary computes under
// qemu-riscv64. bench-cpu's int/mem/fp parts must match qemu-riscv64's checksums too.
// A short run (COREMARK_TEST_ITERATIONS; the interpreter does some 100
// iterations/s) still reports CoreMark's "must run 10 s" rule: that one error is allowed.
// TSVISOR_TEST_ACCEL (e.g. "tcg,jit=off") picks the accelerator options for the boot.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as path from "node:path";
import { COREMARK, guestPaths } from "../guest/paths.js";
import { coremarkProblem, parseCoremark, referenceCoremark, runCoremark } from "../bench/coremark.js";
import { PARTS, referencePartChecksum, runPart } from "../bench/cpu-parts.js";
import { onPath } from "./lib/guest-session.js";
import { COMMAND_TIMEOUT_MS, TEST_TIMEOUT_MS, bootDefaultGuest, guestSkipReason } from "./lib/default-guest.js";

const ITERATIONS = 20;
/** CoreMark's known CRCs for the 2K performance run (seeds 0, 0, 0x66), and the final
 *  CRC of 20 iterations as qemu-riscv64 computes it (used where it is not installed). */
const KNOWN = { crclist: "0xe714", crcmatrix: "0x1fd7", crcstate: "0x8e3a", crcfinal: "0x4983" };

const skip = guestSkipReason();

test("the CoreMark report parser reads the CRCs and allows only the 10 s rule", () => {
  const report = [
    "2K performance run parameters for coremark.",
    "CoreMark Size    : 666",
    "Total time (secs): 0.008000",
    "Iterations/Sec   : 2500.000000",
    `${COREMARK.tooShort} for a valid result!`,
    "[0]crclist       : 0xe714",
    "[0]crcmatrix     : 0x1fd7",
    "[0]crcstate      : 0x8e3a",
    "[0]crcfinal      : 0x4983",
    "Errors detected",
  ].join("\n");
  const r = parseCoremark(report, ITERATIONS);
  assert.deepEqual(r.crcs, KNOWN);
  assert.equal(r.iterationsPerSec, 2500);
  assert.equal(r.seconds, 0.008);
  assert.equal(coremarkProblem(r), undefined);
  const wrong = parseCoremark(report.replace("0x1fd7", "0x1fd6") + "\n[0]ERROR! matrix crc 0x1fd6 - should be 0x1fd7", ITERATIONS);
  assert.match(coremarkProblem(wrong) ?? "", /wrong matrix CRC/);
  const other = parseCoremark(report.replace("0x4983", "0x4984"), ITERATIONS);
  assert.match(coremarkProblem(other, r) ?? "", /crcfinal 0x4984, but qemu-riscv64 computes 0x4983/);
});

test(`CoreMark (${ITERATIONS} iterations) and bench-cpu's parts compute right in the guest`, { skip, timeout: TEST_TIMEOUT_MS }, async (t) => {
  const paths = guestPaths();
  const binary = path.join(path.dirname(paths.initramfs), "coremark");
  const qemuUser = onPath("qemu-riscv64");
  const reference = qemuUser ? referenceCoremark(binary, ITERATIONS) : undefined;
  if (reference) assert.deepEqual(reference.crcs, KNOWN, "qemu-riscv64's CRCs for the test's run");
  const accel = process.env.TSVISOR_TEST_ACCEL;
  const s = await bootDefaultGuest(accel ? ["-accel", accel] : []);
  try {
    await t.test("CoreMark's CRCs", async () => {
      const r = await runCoremark(s, ITERATIONS, COMMAND_TIMEOUT_MS);
      assert.equal(coremarkProblem(r, reference), undefined);
      assert.deepEqual(r.crcs, KNOWN);
      assert.ok((r.iterationsPerSec ?? 0) > 0, `Iterations/Sec in:\n${r.output}`);
    });
    // Two rounds of each part (integer, memory, double-precision FP): the checksums must
    // be qemu-riscv64's, and rdinstret must count (tsvisor lets user mode read it).
    for (const part of PARTS) {
      await t.test(`bench-cpu ${part} 2`, { skip: qemuUser ? false : "qemu-riscv64 is not installed" }, async () => {
        const run = await runPart(s, part, 2, COMMAND_TIMEOUT_MS);
        assert.equal(run.checksum, referencePartChecksum(paths.benchCpu, part, 2));
        assert.ok((run.instret ?? 0) > 100_000, `instret ${run.instret}`);
      });
    }
  } finally {
    s.close();
  }
});

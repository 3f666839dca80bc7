// Differential test: random user-level RV64GC programs (test/difftest/generator.ts) run
// under QEMU's Linux user mode (the reference) and on tsvisor's spike board; the final
// registers, fcsr and scratch memory must match byte for byte. The same programs also
// run on QEMU's spike board, which checks the two harnesses against each other.
//   TSVISOR_DIFFTEST_N=3000        number of programs (default 300)
//   TSVISOR_DIFFTEST_SEED=1234     master seed (default 1; "random" picks one)
//   TSVISOR_DIFFTEST_ONLY=17       run just this program of the seed
//   TSVISOR_DIFFTEST_LEN=200       instructions per program
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { ENGINES, QEMU_SYSTEM, QEMU_USER, TSVISOR_CLI, haveCommand, noCrossGcc } from "./isa-build.js";
import { buildBatch, compareRuns, runBatch } from "./difftest/runner.js";

const BATCH = 50;
const TIMEOUT_MS = 300_000;

function envInt(name: string, fallback: number): number {
  const v = process.env[name];
  if (v === undefined || v === "") return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name}=${v}: expected a non-negative integer`);
  return n;
}

const seed =
  process.env.TSVISOR_DIFFTEST_SEED === "random"
    ? Math.floor(Math.random() * 0x7fffffff)
    : envInt("TSVISOR_DIFFTEST_SEED", 1);
const count = envInt("TSVISOR_DIFFTEST_N", 300);
const length = envInt("TSVISOR_DIFFTEST_LEN", 200);
const only = process.env.TSVISOR_DIFFTEST_ONLY;
const indices = only !== undefined ? [envInt("TSVISOR_DIFFTEST_ONLY", 0)] : Array.from({ length: count }, (_, i) => i);

const skip =
  noCrossGcc() ||
  (haveCommand(QEMU_USER) ? false : `${QEMU_USER} not installed (Debian: qemu-user), no reference to compare with`);
const noQemuSystem = haveCommand(QEMU_SYSTEM) ? false : `${QEMU_SYSTEM} not installed`;
const noTsvisor = existsSync(TSVISOR_CLI) ? false : `${TSVISOR_CLI} not built (npx tsc -p .)`;

for (let start = 0; start < indices.length; start += BATCH) {
  const batch = indices.slice(start, start + BATCH);
  const title = `difftest: seed ${seed}, programs ${batch[0]}..${batch.at(-1)} (${length} instructions each)`;

  test(title, { skip }, async (t) => {
    const built = buildBatch({ seed, indices: batch, length });
    const reference = await runBatch(built, "qemu-user", TIMEOUT_MS);
    if (typeof reference === "string") assert.fail(`reference run failed (a generator bug): ${reference}`);

    await t.test("harness check: QEMU spike matches QEMU user mode", { skip: noQemuSystem }, async () => {
      const dumps = await runBatch(built, "qemu-spike", TIMEOUT_MS);
      if (typeof dumps === "string") assert.fail(`harness bug: ${dumps}`);
      const diff = compareRuns(built, reference, dumps, { expected: "qemu-riscv64", actual: "qemu -M spike" });
      assert.equal(diff, undefined, `harness bug (not tsvisor's):\n${diff}`);
    });

    for (const engine of ENGINES) {
      await t.test(`tsvisor spike matches QEMU (${engine.name})`, { skip: noTsvisor }, async () => {
        const dumps = await runBatch(built, "tsvisor", TIMEOUT_MS, engine.accel);
        if (typeof dumps === "string") assert.fail(`seed ${seed} (${engine.name}): ${dumps}`);
        const diff = compareRuns(built, reference, dumps, { expected: "qemu-riscv64", actual: `tsvisor's ${engine.name}` });
        assert.equal(diff, undefined, diff);
      });
    }
  });
}

// Bare-metal instruction tests (test/isa/*.S, riscv-tests conventions): each program runs
// on tsvisor's spike board and must power off with status 0; a non-zero status is the
// number of the sub-test that failed. Where QEMU is installed the same ELF must pass on
// QEMU's spike board too, so a wrong expectation in a test is caught as such.
//   TSVISOR_ISA=rv64i,fp     run only these programs
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import {
  BAREMETAL_FLAGS, ENGINES, ISA_DIR, QEMU_SYSTEM, TSVISOR_CLI, buildElf, describeRun, haveCommand,
  noCrossGcc, runQemuSpike, runTsvisorSpike, type RunResult,
} from "./isa-build.js";

/** Generous: the slowest program (interrupts, MMU) runs well under a second on QEMU. */
const TIMEOUT_MS = 120_000;
const QEMU_TIMEOUT_MS = 30_000;

const headers = readdirSync(ISA_DIR)
  .filter((f) => !f.endsWith(".S"))
  .map((f) => join(ISA_DIR, f));
const only = process.env.TSVISOR_ISA?.split(",").map((s) => s.trim());
const programs = readdirSync(ISA_DIR)
  .filter((f) => f.endsWith(".S"))
  .map((f) => f.slice(0, -2))
  .filter((name) => !only || only.includes(name))
  .sort();

const noGcc = noCrossGcc();
const noTsvisor = existsSync(TSVISOR_CLI) ? false : `${TSVISOR_CLI} not built (npx tsc -p .)`;
const noQemu = haveCommand(QEMU_SYSTEM) ? false : `${QEMU_SYSTEM} not installed (Debian: qemu-system-misc)`;

/** Builds test/isa/NAME.S; `extra` adds flags (e.g. -DBREAK_TEST=n). */
function build(name: string, extra: string[] = []): string {
  return buildElf({
    source: { path: join(ISA_DIR, `${name}.S`) },
    deps: headers,
    flags: [...BAREMETAL_FLAGS, "-T", join(ISA_DIR, "link.ld"), "-I", ISA_DIR, ...extra],
  });
}

/** What a riscv-tests exit status means. */
function verdict(r: RunResult): string {
  if (r.timedOut || r.status === null) return describeRun(r);
  if (r.status === 255) return "failed before its first sub-test (status 255)";
  return r.status === 0 ? "passed" : `sub-test ${r.status} failed`;
}

function output(r: RunResult): string {
  const text = (r.stdout.toString("utf8") + r.stderr).trim();
  return text ? `\n--- output ---\n${text.slice(-2000)}` : "";
}

for (const name of programs) {
  test(`isa: ${name}`, { skip: noGcc }, async (t) => {
    const elf = build(name);

    await t.test("QEMU spike agrees (checks the test itself)", { skip: noQemu }, async () => {
      const r = await runQemuSpike(elf, QEMU_TIMEOUT_MS);
      assert.equal(r.status, 0, `${name} on QEMU: ${verdict(r)} — the test is wrong${output(r)}`);
    });

    for (const engine of ENGINES) {
      await t.test(`tsvisor spike, ${engine.name}`, { skip: noTsvisor }, async () => {
        const r = await runTsvisorSpike(elf, TIMEOUT_MS, engine.accel);
        assert.equal(r.status, 0, `${name} on tsvisor's ${engine.name}: ${verdict(r)} (see test/isa/${name}.S)${output(r)}`);
      });
    }
  });
}

// The failure path itself: with one expectation corrupted the program must report that
// sub-test, so a board that always exits 0 cannot pass the suite.
test("isa: a broken expectation is reported with its sub-test number", { skip: noGcc }, async (t) => {
  const elf = build("rv64i", ["-DBREAK_TEST=2"]);
  await t.test("QEMU spike", { skip: noQemu }, async () => {
    const r = await runQemuSpike(elf, QEMU_TIMEOUT_MS);
    assert.equal(r.status, 2, `QEMU: ${verdict(r)}`);
  });
  for (const engine of ENGINES) {
    await t.test(`tsvisor spike, ${engine.name}`, { skip: noTsvisor }, async () => {
      const r = await runTsvisorSpike(elf, TIMEOUT_MS, engine.accel);
      assert.equal(r.status, 2, `tsvisor's ${engine.name}: ${verdict(r)}${output(r)}`);
    });
  }
});

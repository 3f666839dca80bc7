// Crash safety: a child process writes a qcow2 image (over a backing file, partial
// clusters, refcount table growth) with periodic flushes and is killed with SIGKILL
// mid-stream. The image must pass `qemu-img check` (leaked clusters allowed: exit 3,
// as after a QEMU crash) and every write reported flushed must read back.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { spawn } from "node:child_process";
import { openBlockBackend } from "../src/block/open-image.js";
import { createQcow2 } from "../src/block/qcow2-create.js";
import { NO_QEMU_IMG, prng, qemuImg, randomBytes, tempDir } from "./block-helpers.js";

const SLOT = 3000; // writes never overlap: one slot each, most cross a cluster boundary
const FLUSH_EVERY = 25;
const SIZE = 12 << 20;

function slotLength(slot: number): number {
  return SLOT - (slot % 13) * 37;
}

function pattern(slot: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  for (let j = 0; j < length; j++) out[j] = (slot * 131 + j * 7 + 1) & 255;
  return out;
}

/** The order the child writes slots in (a seeded shuffle), shared with the checker. */
function slotOrder(): number[] {
  const n = Math.floor(SIZE / SLOT);
  const order = Array.from({ length: n }, (_, i) => i);
  const rand = prng(77);
  for (let i = n - 1; i > 0; i--) {
    const j = rand(i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  return order;
}

const CHILD = `
const [, image, openImage, helpers] = process.argv;
const { openBlockBackend } = await import(openImage);
const { slotOrder, slotLength, pattern, SLOT, FLUSH_EVERY } = await import(helpers);
const disk = openBlockBackend({ file: image, format: "qcow2" });
const order = slotOrder();
for (let i = 0; i < order.length; i++) {
  const slot = order[i];
  disk.write(slot * SLOT, pattern(slot, slotLength(slot)));
  if ((i + 1) % FLUSH_EVERY === 0) {
    disk.flush();
    process.stdout.write("flushed " + (i + 1) + "\\n");
  }
}
`;

/** Runs the writer until it reports `killAfter` flushes, then SIGKILLs it; returns the writes known durable. */
function runAndKill(image: string, killAfter: number): Promise<number> {
  const openImage = new URL("../src/block/open-image.js", import.meta.url).href;
  const helpers = new URL("./qcow2-crash.test.js", import.meta.url).href;
  const child = spawn(process.execPath, ["--input-type=module", "-e", CHILD, image, openImage, helpers], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, TSVISOR_CRASH_CHILD: "1" },
  });
  let durable = 0;
  let flushes = 0;
  let text = "";
  child.stdout.on("data", (chunk: Buffer) => {
    text += chunk.toString();
    for (let nl = text.indexOf("\n"); nl >= 0; nl = text.indexOf("\n")) {
      const m = /^flushed (\d+)$/.exec(text.slice(0, nl));
      text = text.slice(nl + 1);
      if (!m) continue;
      durable = Number(m[1]);
      if (++flushes === killAfter) child.kill("SIGKILL");
    }
  });
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", (code, signal) => {
      if (signal !== "SIGKILL" && code !== 0) reject(new Error(`writer exited with ${code}`));
      else resolve(durable);
    });
  });
}

export { slotOrder, slotLength, pattern, SLOT, FLUSH_EVERY };

if (process.env.TSVISOR_CRASH_CHILD !== "1") {
  for (const killAfter of [3, 140]) {
    test(`qcow2 crash: SIGKILL after ${killAfter} flushes leaves a consistent image with every flushed write`, { skip: NO_QEMU_IMG }, async () => {
      const dir = tempDir("qcow2-crash");
      const base = randomBytes(prng(killAfter), SIZE);
      fs.writeFileSync(path.join(dir, "base.raw"), base);
      const image = path.join(dir, "crash.qcow2");
      createQcow2(image, { size: SIZE, clusterBits: 9, backingFile: "base.raw", backingFormat: "raw" });
      const durable = await runAndKill(image, killAfter);
      assert.ok(durable >= killAfter * FLUSH_EVERY, `durable ${durable}`);
      const check = qemuImg("check", image);
      assert.ok(check.status === 0 || check.status === 3, `qemu-img check exit ${check.status}:\n${check.stdout}${check.stderr}`);
      assert.doesNotMatch(check.stdout + check.stderr, /ERROR/);
      const disk = openBlockBackend({ file: image, format: "qcow2" }); // the writer's stale lock is taken over
      const order = slotOrder();
      for (let i = 0; i < durable; i++) {
        const slot = order[i];
        const got = new Uint8Array(SLOT);
        disk.read(slot * SLOT, got);
        const len = slotLength(slot);
        assert.deepEqual(got.subarray(0, len), pattern(slot, len), `flushed write ${i} (slot ${slot})`);
        assert.deepEqual(got.subarray(len), base.subarray(slot * SLOT + len, slot * SLOT + SLOT), `backing data after slot ${slot}`);
      }
      disk.close();
    });
  }
}

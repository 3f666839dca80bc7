// Fuzz: random corruption of a small valid qcow2 image (header, tables, data) gives a
// UserError at open or BlockIoErrors from requests, never another exception, a hang or
// a runaway allocation.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import fc from "fast-check";
import { openBlockBackend } from "../src/block/open-image.js";
import { createQcow2 } from "../src/block/qcow2-create.js";
import { BlockIoError, type BlockBackend } from "../src/block/block-backend.js";
import { UserError } from "../src/machine/machine.js";
import { prng, randomBytes, tempDir } from "./block-helpers.js";

function sampleImage(dir: string, clusterBits: number): Uint8Array {
  const image = path.join(dir, `sample-${clusterBits}.qcow2`);
  fs.writeFileSync(path.join(dir, "base.raw"), randomBytes(prng(1), 64 << 10));
  createQcow2(image, { size: 256 << 10, clusterBits, backingFile: "base.raw", backingFormat: "raw" });
  const disk = openBlockBackend({ file: image, format: "qcow2" });
  const rand = prng(2);
  for (let i = 0; i < 40; i++) disk.write(rand(250 << 10), randomBytes(rand, 1 + rand(3000)));
  disk.writeZeroes(64 << 10, 8 << 10, true);
  disk.close();
  return fs.readFileSync(image);
}

/** Every request may fail, but only with BlockIoError. */
function exercise(disk: BlockBackend): void {
  const guarded = (op: () => void) => {
    try {
      op();
    } catch (err) {
      if (!(err instanceof BlockIoError)) throw err;
    }
  };
  const size = Math.min(disk.size, 256 << 10);
  const buf = new Uint8Array(8192);
  for (let at = 0; at < size; at += buf.length) guarded(() => disk.read(at, buf.subarray(0, Math.min(buf.length, size - at))));
  guarded(() => disk.write(1000, new Uint8Array(5000).fill(3)));
  guarded(() => disk.write(70000, new Uint8Array(100).fill(4)));
  guarded(() => disk.writeZeroes(0, 4096, true));
  guarded(() => disk.discard(0, 65536));
  guarded(() => disk.flush());
  guarded(() => disk.read(0, buf));
}

test("qcow2 fuzz: corrupted images give UserError or BlockIoError only", () => {
  const dir = tempDir("qcow2-fuzz");
  const samples = [sampleImage(dir, 9), sampleImage(dir, 12)];
  const file = path.join(dir, "fuzzed.qcow2");
  const edit = fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }), headerBias: fc.boolean() });
  fc.assert(
    fc.property(fc.nat(1), fc.array(edit, { minLength: 1, maxLength: 8 }), (which, edits) => {
      const bytes = Uint8Array.from(samples[which]);
      for (const { at, value, headerBias } of edits) bytes[headerBias ? at % 128 : at % bytes.length] = value;
      fs.writeFileSync(file, bytes);
      let disk: BlockBackend;
      try {
        disk = openBlockBackend({ file, format: "qcow2" });
      } catch (err) {
        assert.ok(err instanceof UserError, `open threw ${String(err)}`);
        return;
      }
      try {
        exercise(disk);
      } finally {
        disk.close();
      }
    }),
    { numRuns: 300, seed: 20261126 },
  );
});

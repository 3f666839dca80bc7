// qcow2 through the backend API, checked against Debian's qemu-img: what we write passes
// `qemu-img check` and `qemu-img compare`, what qemu-img writes (backing files,
// compressed clusters, internal snapshots) reads back right through us.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { openBlockBackend } from "../src/block/open-image.js";
import { createQcow2 } from "../src/block/qcow2-create.js";
import { Qcow2Backend } from "../src/block/qcow2.js";
import { BlockIoError, type BlockBackend } from "../src/block/block-backend.js";
import { UserError } from "../src/machine/machine.js";
import { NO_QEMU_IMG, prng, qemuImg, randomBytes, sameBytes, tempDir } from "./block-helpers.js";

/** Random writes (many cross or split clusters), zeroes and discards, mirrored into `expected`. */
function scribble(disk: BlockBackend, expected: Uint8Array, seed: number, count: number, maxLen: number): void {
  const rand = prng(seed);
  for (let i = 0; i < count; i++) {
    const offset = rand(disk.size);
    const length = Math.min(1 + rand(maxLen), disk.size - offset);
    const op = rand(10);
    if (op === 0) {
      disk.writeZeroes(offset, length, rand(2) === 1);
      expected.fill(0, offset, offset + length);
    } else {
      const data = randomBytes(rand, length);
      disk.write(offset, data);
      expected.set(data, offset);
    }
    if (i % 50 === 0) disk.flush();
  }
}

function readAll(disk: BlockBackend): Uint8Array {
  const out = new Uint8Array(disk.size);
  disk.read(0, out);
  return out;
}

function checkWithQemu(image: string, expected: Uint8Array, dir: string): void {
  const check = qemuImg("check", image);
  assert.equal(check.status, 0, `qemu-img check:\n${check.stdout}${check.stderr}`);
  const raw = path.join(dir, `expected-${path.basename(image)}.raw`);
  fs.writeFileSync(raw, expected);
  const compare = qemuImg("compare", "-f", "qcow2", "-F", "raw", image, raw);
  assert.equal(compare.status, 0, `qemu-img compare:\n${compare.stdout}${compare.stderr}`);
}

for (const { version, clusterBits } of [
  { version: 3, clusterBits: 16 },
  { version: 2, clusterBits: 12 },
  { version: 3, clusterBits: 9 },
] as const) {
  test(`qcow2 v${version}, ${2 ** clusterBits}-byte clusters: random writes read back and pass qemu-img check`, { skip: NO_QEMU_IMG }, () => {
    const dir = tempDir("qcow2");
    const size = 4 << 20;
    const base = path.join(dir, "base.raw");
    const baseData = randomBytes(prng(7), 3 << 20); // shorter than the overlay: the tail reads as zeros
    fs.writeFileSync(base, baseData);
    const image = path.join(dir, "top.qcow2");
    createQcow2(image, { size, version, clusterBits, backingFile: "base.raw", backingFormat: "raw" });
    const expected = new Uint8Array(size);
    expected.set(baseData);
    const disk = openBlockBackend({ file: image, format: "qcow2" });
    scribble(disk, expected, 42 + clusterBits, 300, 3 * 2 ** clusterBits);
    assert.ok(sameBytes(readAll(disk), expected), "our reads match");
    disk.flush();
    disk.close();
    checkWithQemu(image, expected, dir);
    const info = JSON.parse(qemuImg("info", "--output=json", image).stdout);
    assert.equal(info["virtual-size"], size);
    assert.equal(info["backing-filename"], "base.raw");
    assert.equal(info["backing-filename-format"], "raw");
    // Reopened, it still reads the same.
    const again = openBlockBackend({ file: image, readOnly: true });
    assert.ok(sameBytes(readAll(again), expected));
    again.close();
  });
}

test("qcow2: the refcount table grows (512-byte clusters, 10 MiB written)", { skip: NO_QEMU_IMG }, () => {
  const dir = tempDir("qcow2-grow");
  const image = path.join(dir, "big.qcow2");
  const size = 10 << 20; // the first refcount table covers 8 MiB of 512-byte clusters
  createQcow2(image, { size, clusterBits: 9 });
  const disk = openBlockBackend({ file: image, format: "qcow2" });
  const expected = new Uint8Array(size);
  const rand = prng(3);
  for (let at = 0; at < size; at += 1 << 20) {
    const data = randomBytes(rand, 1 << 20);
    disk.write(at, data);
    expected.set(data, at);
  }
  disk.close();
  checkWithQemu(image, expected, dir);
});

test("qcow2: resize grows the L1 table and keeps the data", { skip: NO_QEMU_IMG }, () => {
  const dir = tempDir("qcow2-resize");
  const image = path.join(dir, "r.qcow2");
  createQcow2(image, { size: 1 << 20, clusterBits: 9 });
  let disk = openBlockBackend({ file: image, format: "qcow2" }) as Qcow2Backend;
  const data = randomBytes(prng(5), 1 << 20);
  disk.write(0, data);
  disk.resize(8 << 20); // one L1 cluster maps 2 MiB
  disk.write((8 << 20) - 1000, data.subarray(0, 1000));
  disk.close();
  const expected = new Uint8Array(8 << 20);
  expected.set(data);
  expected.set(data.subarray(0, 1000), (8 << 20) - 1000);
  checkWithQemu(image, expected, dir);
  disk = openBlockBackend({ file: image, format: "qcow2", readOnly: true }) as Qcow2Backend;
  assert.equal(disk.size, 8 << 20);
  disk.close();
});

test("qcow2: images qemu-img wrote read right (backing chain, compressed clusters)", { skip: NO_QEMU_IMG }, () => {
  const dir = tempDir("qcow2-qemu");
  const raw = path.join(dir, "base.raw");
  const content = new Uint8Array(4 << 20);
  content.set(randomBytes(prng(11), 1 << 20), 1 << 20);
  content.fill(0x5a, 3 << 20, (3 << 20) + 12345);
  fs.writeFileSync(raw, content);
  assert.equal(qemuImg("convert", "-f", "raw", "-O", "qcow2", raw, path.join(dir, "base.qcow2")).status, 0);
  assert.equal(qemuImg("convert", "-c", "-f", "raw", "-O", "qcow2", raw, path.join(dir, "comp.qcow2")).status, 0);
  assert.equal(qemuImg("create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", path.join(dir, "top.qcow2"), "5M").status, 0);
  const expected = new Uint8Array(5 << 20);
  expected.set(content);
  for (const [name, want] of [["base.qcow2", content], ["comp.qcow2", content], ["top.qcow2", expected]] as const) {
    const disk = openBlockBackend({ file: path.join(dir, name), readOnly: true });
    assert.ok(disk instanceof Qcow2Backend, name);
    assert.ok(sameBytes(readAll(disk), want), name);
    disk.close();
  }
  // Writing over compressed clusters and into the overlay keeps both images consistent.
  for (const name of ["comp.qcow2", "top.qcow2"]) {
    const file = path.join(dir, name);
    const disk = openBlockBackend({ file });
    const want = new Uint8Array(disk.size);
    want.set(content);
    scribble(disk, want, 9, 100, 100000);
    disk.close();
    checkWithQemu(file, want, dir);
  }
});

test("qcow2: clusters shared with an internal snapshot are copied, the snapshot survives", { skip: NO_QEMU_IMG }, () => {
  const dir = tempDir("qcow2-snap");
  const image = path.join(dir, "s.qcow2");
  createQcow2(image, { size: 2 << 20 });
  let disk = openBlockBackend({ file: image, format: "qcow2" });
  const before = randomBytes(prng(1), 2 << 20);
  disk.write(0, before);
  disk.close();
  assert.equal(qemuImg("snapshot", "-c", "snap1", image).status, 0);
  disk = openBlockBackend({ file: image, format: "qcow2" });
  const after = before.slice();
  scribble(disk, after, 2, 100, 50000);
  disk.close();
  checkWithQemu(image, after, dir);
  const snap = path.join(dir, "snap.raw");
  assert.equal(qemuImg("convert", "-l", "snap1", "-O", "raw", image, snap).status, 0);
  assert.ok(sameBytes(fs.readFileSync(snap), before));
});

test("qcow2: -snapshot never changes the image", () => {
  const dir = tempDir("qcow2-overlay");
  const image = path.join(dir, "o.qcow2");
  createQcow2(image, { size: 1 << 20 });
  const bytes = fs.readFileSync(image);
  const disk = openBlockBackend({ file: image, snapshot: true });
  disk.write(100, new Uint8Array([1, 2, 3]));
  const buf = new Uint8Array(3);
  disk.read(100, buf);
  assert.deepEqual([...buf], [1, 2, 3]);
  disk.close();
  assert.ok(sameBytes(fs.readFileSync(image), bytes));
});

/** Rewrites header bytes of a fresh image and expects `pattern` from a writable open. */
function headerError(edit: (view: DataView) => void, pattern: RegExp, readOnlyOk = false): void {
  const dir = tempDir("qcow2-hdr");
  const image = path.join(dir, "h.qcow2");
  createQcow2(image, { size: 1 << 20 });
  const bytes = fs.readFileSync(image);
  edit(new DataView(bytes.buffer, bytes.byteOffset, bytes.length));
  fs.writeFileSync(image, bytes);
  assert.throws(() => openBlockBackend({ file: image, format: "qcow2" }), (err: Error) => {
    assert.ok(err instanceof UserError, String(err));
    assert.match(err.message, pattern);
    assert.doesNotMatch(err.message, /\n/);
    return true;
  });
  if (readOnlyOk) openBlockBackend({ file: image, format: "qcow2", readOnly: true }).close();
}

test("qcow2: header problems are one-line UserErrors at open", () => {
  headerError((v) => v.setUint32(0, 0x12345678), /bad magic/);
  headerError((v) => v.setUint32(4, 4), /version 4/);
  headerError((v) => v.setUint32(32, 1), /encrypted/);
  headerError((v) => v.setUint32(20, 40), /cluster_bits/);
  headerError((v) => v.setUint8(104, 1), /zstd/);
  headerError((v) => v.setBigUint64(72, 1n << 1n), /marked corrupt/, true);
  headerError((v) => v.setBigUint64(72, 1n << 0n), /dirty/, true);
  headerError((v) => v.setBigUint64(72, 1n << 9n), /incompatible bits 0x200/);
  headerError((v) => v.setBigUint64(40, 1n << 40n), /L1 table/);
  headerError((v) => v.setBigUint64(48, 12345n), /refcount table/);
});

/** Points the L2 entry of the image's first data cluster outside the file. */
function corruptFirstL2Entry(image: string): void {
  const disk = openBlockBackend({ file: image, format: "qcow2", readOnly: true }) as Qcow2Backend;
  const l1Offset = disk.header.l1Offset;
  disk.close();
  const bytes = fs.readFileSync(image);
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const l2 = Number(view.getBigUint64(l1Offset) & ((1n << 56n) - 512n));
  view.setBigUint64(l2, (1n << 63n) | (1n << 40n));
  fs.writeFileSync(image, bytes);
}

test("qcow2: an L2 entry pointing outside the file is a UserError at open (small image)", () => {
  const dir = tempDir("qcow2-l2");
  const image = path.join(dir, "l2.qcow2");
  createQcow2(image, { size: 1 << 20, clusterBits: 9 });
  const disk = openBlockBackend({ file: image, format: "qcow2" });
  disk.write(0, new Uint8Array(512).fill(1));
  disk.close();
  corruptFirstL2Entry(image);
  assert.throws(() => openBlockBackend({ file: image, format: "qcow2" }), (err: Error) => err instanceof UserError && /outside/.test(err.message));
});

test("qcow2: past the open-time scan, a bad L2 entry fails the request and changes nothing", () => {
  const dir = tempDir("qcow2-l2-late");
  const image = path.join(dir, "l2.qcow2");
  const stride = 512 << 20; // one L2 table of 64 KiB clusters maps 512 MiB
  const size = 65 * stride; // 65 tables: over the 4 MiB of tables open() scans
  createQcow2(image, { size });
  let disk = openBlockBackend({ file: image, format: "qcow2" });
  for (let at = 0; at < size; at += stride) disk.write(at, new Uint8Array(512).fill(1));
  disk.close();
  corruptFirstL2Entry(image);
  const bytes = fs.readFileSync(image);
  disk = openBlockBackend({ file: image, format: "qcow2" });
  assert.throws(() => disk.read(0, new Uint8Array(512)), BlockIoError);
  assert.throws(() => disk.write(100, new Uint8Array(10)), BlockIoError);
  const ok = new Uint8Array(512);
  disk.read(stride, ok);
  assert.equal(ok[0], 1);
  disk.close();
  assert.ok(sameBytes(fs.readFileSync(image), bytes));
});

test("qcow2: dirty L2 tables are committed under cache pressure (2 MiB clusters, 8 tables)", { skip: NO_QEMU_IMG }, () => {
  const dir = tempDir("qcow2-pressure");
  const image = path.join(dir, "p.qcow2");
  const perTable = 2 ** 21 * 2 ** 18; // one L2 table of 2 MiB clusters maps 512 GiB
  createQcow2(image, { size: 8 * perTable, clusterBits: 21 });
  let disk = openBlockBackend({ file: image, format: "qcow2" });
  for (let t = 0; t < 8; t++) disk.write(t * perTable + 4096, new Uint8Array([t + 1, 0xee]));
  disk.close();
  assert.equal(qemuImg("check", image).status, 0);
  disk = openBlockBackend({ file: image, format: "qcow2", readOnly: true });
  for (let t = 0; t < 8; t++) {
    const got = new Uint8Array(3);
    disk.read(t * perTable + 4095, got);
    assert.deepEqual([...got], [0, t + 1, 0xee]);
  }
  disk.close();
});

test("qcow2: cache=writethrough commits every request", { skip: NO_QEMU_IMG }, () => {
  const dir = tempDir("qcow2-wt");
  const image = path.join(dir, "wt.qcow2");
  createQcow2(image, { size: 1 << 20, clusterBits: 12 });
  const disk = openBlockBackend({ file: image, format: "qcow2", cache: "writethrough" });
  const expected = new Uint8Array(1 << 20);
  scribble(disk, expected, 8, 30, 10000);
  // Without flush or close, the file already holds everything.
  const copy = path.join(dir, "copy.qcow2");
  fs.copyFileSync(image, copy);
  disk.close();
  checkWithQemu(copy, expected, dir);
});

test("qcow2: clusters freed by zeroing are reused, the file does not grow", { skip: NO_QEMU_IMG }, () => {
  const dir = tempDir("qcow2-reuse");
  const image = path.join(dir, "reuse.qcow2");
  createQcow2(image, { size: 4 << 20, clusterBits: 12 });
  const disk = openBlockBackend({ file: image, format: "qcow2" });
  const expected = new Uint8Array(4 << 20);
  const rand = prng(12);
  let grownTo = 0;
  for (let round = 0; round < 6; round++) {
    const data = randomBytes(rand, 2 << 20);
    disk.write(1 << 20, data);
    expected.set(data, 1 << 20);
    disk.flush();
    if (round === 1) grownTo = fs.statSync(image).size;
    disk.writeZeroes(1 << 20, 2 << 20, true); // frees the clusters (zero flag)
    expected.fill(0, 1 << 20, 3 << 20);
    disk.flush();
  }
  disk.write(0, new Uint8Array([1]));
  expected[0] = 1;
  disk.close();
  assert.ok(fs.statSync(image).size <= grownTo, `grew to ${fs.statSync(image).size} after ${grownTo}`);
  checkWithQemu(image, expected, dir);
});

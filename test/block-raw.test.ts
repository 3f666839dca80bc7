import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { spawn, spawnSync } from "node:child_process";
import { openBlockBackend } from "../src/block/open-image.js";
import { BlockIoError } from "../src/block/block-backend.js";
import { UserError } from "../src/machine/machine.js";

function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), "tsvisor-raw-test-"));
}

test("raw: reads and writes at offsets, flushes, size from the file", () => {
  const dir = tempDir();
  const file = path.join(dir, "disk.img");
  fs.writeFileSync(file, Buffer.alloc(4096, 0xaa));
  const disk = openBlockBackend({ file, format: "raw" });
  assert.equal(disk.size, 4096);
  assert.equal(disk.readOnly, false);
  disk.write(1000, new Uint8Array([1, 2, 3]));
  disk.flush();
  const buf = new Uint8Array(5);
  disk.read(999, buf);
  assert.deepEqual([...buf], [0xaa, 1, 2, 3, 0xaa]);
  disk.writeZeroes(2048, 2048, true);
  disk.discard(0, 512);
  disk.close();
  const data = fs.readFileSync(file);
  assert.equal(data[1001], 2);
  assert.equal(data[3000], 0);
  assert.equal(data.length, 4096);
});

test("raw: a size that is not a multiple of 512 rounds up; the tail reads as zeros", () => {
  const dir = tempDir();
  const file = path.join(dir, "odd.img");
  fs.writeFileSync(file, Buffer.alloc(1000, 7));
  const disk = openBlockBackend({ file, format: "raw", readOnly: true });
  assert.equal(disk.size, 1024);
  const buf = new Uint8Array(24);
  disk.read(1000, buf);
  assert.deepEqual([...buf], new Array(24).fill(0));
  disk.close();
});

test("raw: out-of-range and read-only accesses are BlockIoErrors", () => {
  const dir = tempDir();
  const file = path.join(dir, "disk.img");
  fs.writeFileSync(file, Buffer.alloc(1024));
  const ro = openBlockBackend({ file, format: "raw", readOnly: true });
  assert.throws(() => ro.write(0, new Uint8Array(1)), BlockIoError);
  assert.throws(() => ro.read(1020, new Uint8Array(8)), BlockIoError);
  assert.throws(() => ro.read(-1, new Uint8Array(1)), BlockIoError);
  ro.close();
  const rw = openBlockBackend({ file, format: "raw", cache: "writethrough" });
  assert.throws(() => rw.writeZeroes(0, 2 ** 52, false), BlockIoError);
  rw.close();
});

test("open: missing files, directories and unknown formats are one-line UserErrors", () => {
  const dir = tempDir();
  assert.throws(() => openBlockBackend({ file: path.join(dir, "nope.img") }), (err: Error) => {
    assert.ok(err instanceof UserError);
    assert.match(err.message, /nope\.img.*No such file or directory/);
    return true;
  });
  assert.throws(() => openBlockBackend({ file: dir }), UserError);
  const file = path.join(dir, "disk.img");
  fs.writeFileSync(file, Buffer.alloc(512));
  assert.throws(() => openBlockBackend({ file, format: "vmdk" }), /Unknown driver 'vmdk'/);
});

test("open: probing guesses raw with QEMU's warning", () => {
  const dir = tempDir();
  const file = path.join(dir, "disk.img");
  fs.writeFileSync(file, Buffer.alloc(512));
  const warnings: string[] = [];
  const disk = openBlockBackend({ file, readOnly: true, warn: (w) => warnings.push(w) });
  disk.close();
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /probing guessed raw/);
});

test("-snapshot: writes are visible but never reach the image", () => {
  const dir = tempDir();
  const file = path.join(dir, "disk.img");
  fs.writeFileSync(file, Buffer.alloc(256 * 1024, 0x55));
  const disk = openBlockBackend({ file, format: "raw", snapshot: true });
  assert.equal(disk.readOnly, false);
  disk.write(70000, new Uint8Array([9, 9]));
  disk.writeZeroes(200000, 10, false);
  const buf = new Uint8Array(4);
  disk.read(69999, buf);
  assert.deepEqual([...buf], [0x55, 9, 9, 0x55]);
  disk.read(199998, buf);
  assert.deepEqual([...buf], [0x55, 0x55, 0, 0]);
  disk.flush();
  disk.close();
  assert.ok(fs.readFileSync(file).every((b) => b === 0x55));
});

test("lock: a second writer is refused, readers and a later writer are not", () => {
  const dir = tempDir();
  const file = path.join(dir, "disk.img");
  fs.writeFileSync(file, Buffer.alloc(512));
  const first = openBlockBackend({ file, format: "raw" });
  assert.throws(() => openBlockBackend({ file, format: "raw" }), (err: Error) => {
    assert.ok(err instanceof UserError);
    assert.equal(err.message, `${file} is in use by another process (locked)`);
    return true;
  });
  // Another path to the same file finds the same lock.
  fs.symlinkSync(file, path.join(dir, "link.img"));
  assert.throws(() => openBlockBackend({ file: path.join(dir, "link.img"), format: "raw" }), /locked/);
  openBlockBackend({ file, format: "raw", readOnly: true }).close();
  openBlockBackend({ file, format: "raw", snapshot: true }).close();
  first.close();
  openBlockBackend({ file, format: "raw" }).close();
});

test("lock: the lock of a process killed while holding it is stale", () => {
  const dir = tempDir();
  const file = path.join(dir, "disk.img");
  fs.writeFileSync(file, Buffer.alloc(512));
  const module = new URL("../src/block/open-image.js", import.meta.url).href;
  const script = `import(${JSON.stringify(module)}).then((m) => { m.openBlockBackend({ file: ${JSON.stringify(file)}, format: "raw" }); process.stdout.write("open\\n"); setTimeout(() => {}, 100000); });`;
  // A child that dies holding the lock (SIGKILL: no cleanup) leaves a stale lock.
  const dead = spawnSync(process.execPath, ["-e", script.replace("setTimeout(() => {}, 100000)", "process.kill(process.pid, 'SIGKILL')")]);
  assert.equal(dead.signal, "SIGKILL");
  openBlockBackend({ file, format: "raw" }).close();
});

test("lock: an image another live process writes is refused", async () => {
  const dir = tempDir();
  const file = path.join(dir, "disk.img");
  fs.writeFileSync(file, Buffer.alloc(512));
  const module = new URL("../src/block/open-image.js", import.meta.url).href;
  const script = `import(${JSON.stringify(module)}).then((m) => { m.openBlockBackend({ file: ${JSON.stringify(file)}, format: "raw" }); process.stdout.write("open\\n"); setInterval(() => {}, 1000); });`;
  const child = spawn(process.execPath, ["-e", script], { stdio: ["ignore", "pipe", "inherit"] });
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", () => resolve());
      child.on("exit", () => reject(new Error("the child exited early")));
    });
    assert.throws(() => openBlockBackend({ file, format: "raw" }), new RegExp(`${file} is in use by another process \\(locked\\)`));
  } finally {
    child.kill("SIGKILL");
  }
});

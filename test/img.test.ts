// `tsvisor img`: qemu-img's spelling, qemu-img's results (checked with qemu-img itself),
// one-line errors with exit status 1.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { runImg } from "../src/cli/img.js";
import { humanSize } from "../src/cli/img.js";
import { openBlockBackend } from "../src/block/open-image.js";
import { Qcow2Backend } from "../src/block/qcow2.js";
import { NO_QEMU_IMG, prng, qemuImg, randomBytes, tempDir } from "./block-helpers.js";

const MAIN = fileURLToPath(new URL("../src/cli/main.js", import.meta.url));

function img(...args: string[]): { status: number; stdout: string; stderr: string } {
  let stdout = "";
  let stderr = "";
  const status = runImg(args, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
  return { status, stdout, stderr };
}

test("img create + info: qcow2 with a backing file, raw", { skip: NO_QEMU_IMG }, () => {
  const dir = tempDir("img");
  const base = path.join(dir, "base.qcow2");
  const top = path.join(dir, "top.qcow2");
  assert.equal(img("create", "-f", "qcow2", base, "10G").status, 0);
  const made = img("create", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", top);
  assert.match(made.stdout, /^Formatting '.*top\.qcow2', fmt=qcow2 size=10737418240 backing_file=base\.qcow2 backing_fmt=qcow2\n$/);
  const ours = JSON.parse(img("info", "--output=json", top).stdout);
  const theirs = JSON.parse(qemuImg("info", "--output=json", top).stdout);
  for (const key of ["virtual-size", "format", "cluster-size", "backing-filename", "backing-filename-format", "dirty-flag"]) {
    assert.deepEqual(ours[key], theirs[key], key);
  }
  assert.deepEqual(ours["format-specific"], theirs["format-specific"]);
  assert.equal(qemuImg("check", top).status, 0);
  assert.match(img("info", top).stdout, /virtual size: 10 GiB \(10737418240 bytes\)\n.*\ncluster_size: 65536\nbacking file: base\.qcow2\n/);

  const raw = path.join(dir, "x.img");
  assert.equal(img("create", "-q", "-f", "raw", raw, "1G").status, 0);
  assert.equal(fs.statSync(raw).size, 1 << 30);
  assert.equal(JSON.parse(img("info", "--output=json", raw).stdout).format, "raw");
  // v2 and small clusters through -o.
  const v2 = path.join(dir, "v2.qcow2");
  img("create", "-q", "-f", "qcow2", "-o", "cluster_size=4096,compat=0.10", v2, "100M");
  const info = JSON.parse(qemuImg("info", "--output=json", v2).stdout);
  assert.equal(info["cluster-size"], 4096);
  assert.equal(info["format-specific"].data.compat, "0.10");
});

test("img check: exit 0 clean, 3 for leaks, 2 for corruption, like qemu-img", { skip: NO_QEMU_IMG }, () => {
  const dir = tempDir("img-check");
  const image = path.join(dir, "c.qcow2");
  img("create", "-q", "-f", "qcow2", image, "1M");
  const disk = openBlockBackend({ file: image, format: "qcow2" }) as Qcow2Backend;
  disk.write(0, new Uint8Array(70000).fill(9));
  const refcountBlock = 2 * disk.clusterSize; // cluster 2, as laid out by create
  disk.close();
  assert.equal(img("check", image).status, 0);
  assert.match(img("check", image).stdout, /No errors were found on the image/);
  const bytes = fs.readFileSync(image);
  // A refcount on a cluster nothing uses (appended to the file): a leak.
  const leaked = new Uint8Array(bytes.length + 65536);
  leaked.set(bytes);
  new DataView(leaked.buffer).setUint16(refcountBlock + 2 * (bytes.length / 65536), 1);
  fs.writeFileSync(path.join(dir, "leak.qcow2"), leaked);
  // Cluster 0 (the header) with refcount 0: a corruption.
  const corrupt = Uint8Array.from(bytes);
  new DataView(corrupt.buffer).setUint16(refcountBlock, 0);
  fs.writeFileSync(path.join(dir, "corrupt.qcow2"), corrupt);
  for (const [name, status] of [["leak.qcow2", 3], ["corrupt.qcow2", 2]] as const) {
    const file = path.join(dir, name);
    assert.equal(qemuImg("check", file).status, status, `qemu-img on ${name}`);
    const ours = img("check", file);
    assert.equal(ours.status, status, `ours on ${name}: ${ours.stdout}${ours.stderr}`);
  }
  fs.writeFileSync(path.join(dir, "r.img"), new Uint8Array(512));
  assert.equal(img("check", path.join(dir, "r.img")).status, 63);
});

test("img convert and resize: qemu-img agrees on the result", { skip: NO_QEMU_IMG }, () => {
  const dir = tempDir("img-convert");
  const raw = path.join(dir, "in.raw");
  const content = new Uint8Array(3 << 20);
  content.set(randomBytes(prng(4), 300000), 1 << 20);
  fs.writeFileSync(raw, content);
  const q = path.join(dir, "out.qcow2");
  assert.equal(img("convert", "-f", "raw", "-O", "qcow2", raw, q).status, 0);
  assert.equal(qemuImg("compare", "-f", "raw", "-F", "qcow2", raw, q).status, 0);
  assert.equal(qemuImg("check", q).status, 0);
  const back = path.join(dir, "back.raw");
  assert.equal(img("convert", "-O", "raw", q, back).status, 0);
  assert.deepEqual(fs.readFileSync(back), Buffer.from(content));
  assert.equal(img("resize", q, "+1G").status, 0);
  assert.equal(JSON.parse(qemuImg("info", "--output=json", q).stdout)["virtual-size"], (3 << 20) + (1 << 30));
  assert.equal(qemuImg("check", q).status, 0);
  assert.equal(img("resize", "-f", "raw", back, "4M").status, 0);
  assert.equal(fs.statSync(back).size, 4 << 20);
  assert.throws(() => img("resize", back, "1M"), /--shrink/);
  assert.equal(img("resize", "--shrink", "-f", "raw", back, "1M").status, 0);
  assert.throws(() => img("resize", q, "--shrink", "1M"), /shrinking qcow2/);
});

test("img: errors are one line, exit status 1", () => {
  const dir = tempDir("img-errors");
  for (const args of [
    ["img", "info", path.join(dir, "missing.qcow2")],
    ["img", "create", "-f", "vmdk", path.join(dir, "x"), "1M"],
    ["img", "create", "-f", "qcow2", path.join(dir, "x")],
    ["img", "create", "-f", "raw", path.join(dir, "x"), "lots"],
    ["img", "frobnicate"],
    ["img", "info", "--bogus", "x"],
  ]) {
    const r = spawnSync(process.execPath, [MAIN, ...args], { encoding: "utf8" });
    assert.equal(r.status, 1, args.join(" "));
    const lines = r.stderr.split("\n").filter((l) => l !== "");
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0], /^tsvisor: /);
  }
});

test("img: sizes print as qemu-img does", () => {
  assert.equal(humanSize(10737418240), "10 GiB");
  assert.equal(humanSize(200704), "196 KiB");
  assert.equal(humanSize(1080033280), "1.01 GiB");
  assert.equal(humanSize(0), "0 B");
});

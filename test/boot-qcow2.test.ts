// qcow2 images in the Linux guest, checked against QEMU's own tools:
//  - images qemu-img/qemu-io made (a backing chain, a compressed image) read correctly;
//  - an overlay `tsvisor img` created and the guest wrote passes `qemu-img check` and
//    `qemu-img compare` against the same writes done on the host;
//  - SIGKILL while the guest writes leaves a consistent image holding every flushed write;
//  - -snapshot leaves the image files byte for byte unchanged.
// The guest writes `yes WORD | head -c LEN` (see yesPattern) with dd conv=fsync, so the
// host can build the expected bytes. Typed lines stay short: busybox sh wraps at 80 columns.
import { test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SHELL_PROMPT } from "../guest/paths.js";
import { GuestSession } from "./lib/guest-session.js";
import { BOOT_TIMEOUT_MS, COMMAND_TIMEOUT_MS, TEST_TIMEOUT_MS, commandRunner } from "./lib/default-guest.js";
import {
  KiB, MiB, guestDiskSkip, md5, mustRun, prngBytes, runTool, tsvisorImg, yesPattern,
} from "./lib/disk-helpers.js";


const skip = guestDiskSkip(["qemu-img", "qemu-io"]);

/** Guest shell functions: w WORD LEN SECTOR DEV writes `yes WORD | head -c LEN` at SECTOR
 *  and fsyncs; m DEV N prints the md5 of each MiB from 0 to N (run with 2>/dev/null). */
const DEFINE_W = "w(){ yes $1|head -c $2|dd of=$4 bs=512 seek=$3 conv=fsync 2>/dev/null;}";
const DEFINE_M = "m(){ for i in $(seq 0 $2);do dd if=$1 bs=1M skip=$i count=1|md5sum;done;}";

/** md5 of each MiB of `bytes`, as `m` prints them. */
function mibSums(bytes: Uint8Array): string[] {
  const sums: string[] = [];
  for (let at = 0; at < bytes.length; at += MiB) sums.push(md5(bytes.subarray(at, at + MiB)));
  return sums;
}

/** The hex sums in the guest's md5sum output, in order. */
const sumsIn = (text: string) => [...text.matchAll(/^([0-9a-f]{32}) /gm)].map((m) => m[1]);

/** A base whose 64 KiB clusters are random (1 in 3) or compressible text, so a
 *  compressed copy has both compressed and uncompressed clusters. */
function mixedBase(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let c = 0; c * 64 * KiB < size; c++) {
    const cluster = c % 3 === 0 ? prngBytes(64 * KiB, c + 1) : yesPattern(`base-cluster-${c}`, 64 * KiB);
    out.set(cluster, c * 64 * KiB);
  }
  return out;
}

async function bootAndPoweroff(s: GuestSession, body: (run: (c: string) => Promise<string>) => Promise<void>) {
  const run = commandRunner(s);
  await s.expect(SHELL_PROMPT, BOOT_TIMEOUT_MS);
  await body(run);
  await s.send("poweroff\n");
  assert.deepEqual(await s.exit(COMMAND_TIMEOUT_MS), { code: 0, signal: null });
}

test("qcow2 images from qemu-img, and one we create and the guest writes", { skip, timeout: TEST_TIMEOUT_MS }, async (t: TestContext) => {
  const dir = mkdtempSync(join(tmpdir(), "tsvisor-qcow2-boot-"));
  try {
    // vda: qemu-img overlay over a raw base, written by qemu-io.
    const baseRaw = join(dir, "base.raw");
    const qemuTop = join(dir, "qemu-top.qcow2");
    const chain = mixedBase(8 * MiB);
    writeFileSync(baseRaw, chain);
    mustRun("qemu-img", ["create", "-q", "-f", "qcow2", "-b", baseRaw, "-F", "raw", qemuTop]);
    mustRun("qemu-io", ["-c", "write -P 0xab 1M 64k", "-c", "write -P 0xcd 3000k 5k", "-c", "write -z 5M 128k", qemuTop]);
    chain.fill(0xab, 1 * MiB, 1 * MiB + 64 * KiB);
    chain.fill(0xcd, 3000 * KiB, 3005 * KiB);
    chain.fill(0, 5 * MiB, 5 * MiB + 128 * KiB);
    // vdb: the same content, compressed by qemu-img.
    const compressed = join(dir, "compressed.qcow2");
    mustRun("qemu-img", ["convert", "-c", "-O", "qcow2", qemuTop, compressed]);
    const compressedClusters = JSON.parse(mustRun("qemu-img", ["check", "--output=json", compressed]))["compressed-clusters"];
    assert.ok(compressedClusters > 0, `qemu-img made compressed clusters (${compressedClusters})`);
    // vdc: our overlay (4 KiB clusters: one L2 table covers 2 MiB) over a qemu-img qcow2.
    const base2Raw = join(dir, "base2.raw");
    const base2 = join(dir, "base2.qcow2");
    const ourTop = join(dir, "our-top.qcow2");
    const expected = prngBytes(16 * MiB, 77);
    writeFileSync(base2Raw, expected);
    mustRun("qemu-img", ["convert", "-O", "qcow2", base2Raw, base2]);
    const created = tsvisorImg(["create", "-f", "qcow2", "-b", base2, "-F", "qcow2", "-o", "cluster_size=4096", ourTop]);
    assert.equal(created.status, 0, `tsvisor img create: ${created.stdout}${created.stderr}`);
    const base2Sum = md5(readFileSync(base2));
    const qemuTopSum = md5(readFileSync(qemuTop));

    const s = GuestSession.tsvisor(["--default-guest",
      "-drive", `file=${qemuTop},format=qcow2,if=virtio`,
      "-drive", `file=${compressed},format=qcow2,if=virtio`,
      "-drive", `file=${ourTop},format=qcow2,if=virtio`]);
    // [word, length, sector]: partial clusters, a cluster boundary crossed, several L2
    // tables, the last sector, and an overwrite of clusters written just before.
    const writes: Array<[string, number, number]> = [
      ["a1", 512, 3], ["a2", 1536, 4097], ["a3", 12288, 9003], ["a4", 4096, 20000],
      ["a5", 512, 32767], ["a6", 66048, 25001], ["a7", 1024, 9004], ["a8", 8192, 4090],
    ];
    try {
      await bootAndPoweroff(s, async (run) => {
        await run(DEFINE_W);
        await run(DEFINE_M);
        await t.test("a qemu-img overlay over a raw base reads as base + qemu-io's writes", async () => {
          assert.match(await run("cat /sys/block/vda/size /sys/block/vdb/size /sys/block/vdc/size"), /^16384\n16384\n32768$/m);
          assert.deepEqual(sumsIn(await run("m /dev/vda 7 2>/dev/null")), mibSums(chain));
        });
        await t.test("a qemu-img compressed image reads the same", async () => {
          assert.deepEqual(sumsIn(await run("m /dev/vdb 7 2>/dev/null")), mibSums(chain));
        });
        await t.test("the guest writes our overlay with fsync", async () => {
          for (const [word, length, sector] of writes) {
            assert.match(await run(`w ${word} ${length} ${sector} /dev/vdc; echo rc=$?`), /rc=0/);
            expected.set(yesPattern(word, length), sector * 512);
          }
          assert.deepEqual(sumsIn(await run("m /dev/vdc 15 2>/dev/null")), mibSums(expected));
        });
      });
    } finally {
      s.close();
    }
    await t.test("qemu-img check and compare accept the overlay the guest wrote", () => {
      const check = runTool("qemu-img", ["check", ourTop]);
      assert.equal(check.status, 0, `qemu-img check: ${check.stdout}${check.stderr}`);
      const ours = tsvisorImg(["check", ourTop]);
      assert.equal(ours.status, 0, `tsvisor img check: ${ours.stdout}${ours.stderr}`);
      const expectedRaw = join(dir, "expected.raw");
      writeFileSync(expectedRaw, expected);
      const cmp = runTool("qemu-img", ["compare", "-f", "qcow2", "-F", "raw", ourTop, expectedRaw]);
      assert.equal(cmp.status, 0, `qemu-img compare: ${cmp.stdout}${cmp.stderr}`);
      const info = JSON.parse(mustRun("qemu-img", ["info", "--output=json", ourTop]));
      assert.equal(info["cluster-size"], 4096);
      assert.equal(md5(readFileSync(base2)), base2Sum, "the backing file is untouched");
    });
    await t.test("the qemu-made images are untouched and still pass qemu-img check", () => {
      assert.equal(md5(readFileSync(qemuTop)), qemuTopSum);
      for (const image of [qemuTop, compressed]) {
        const check = runTool("qemu-img", ["check", image]);
        assert.equal(check.status, 0, `qemu-img check ${image}: ${check.stdout}${check.stderr}`);
      }
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Block i of the crash test: 4 KiB of `yes b<i>` at 4 KiB block i * CRASH_STRIDE. With
 *  512-byte clusters one L2 table covers 32 KiB of disk and one refcount block 128 KiB of
 *  file, so each write allocates an L2 table and every ~25 writes a refcount block. */
const CRASH_CLUSTER = 512;
const CRASH_STRIDE = 200;
const CRASH_BLOCKS = 80;
const CRASH_KILL_AFTER = 40;
/** The loop, one short `echo LINE >> /tmp/w.sh` per line; D is the disk. */
const CRASH_SCRIPT = [
  "i=1",
  `while [ $i -le ${CRASH_BLOCKS} ]; do`,
  "yes b$i|head -c 4096 >/tmp/b",
  `dd if=/tmp/b of=$D bs=4k seek=$((i*${CRASH_STRIDE})) conv=fsync||break`,
  "echo done $i",
  "i=$((i+1))",
  "done",
];

test("SIGKILL while the guest writes: the image passes qemu-img check, flushed writes are there", { skip, timeout: TEST_TIMEOUT_MS }, async (t: TestContext) => {
  const dir = mkdtempSync(join(tmpdir(), "tsvisor-qcow2-crash-"));
  const image = join(dir, "crash.qcow2");
  const created = tsvisorImg(["create", "-f", "qcow2", "-o", `cluster_size=${CRASH_CLUSTER}`, image, "64M"]);
  assert.equal(created.status, 0, `tsvisor img create: ${created.stdout}${created.stderr}`);
  const s = GuestSession.tsvisor(["--default-guest", "-drive", `file=${image},format=qcow2,if=virtio`]);
  try {
    const run = commandRunner(s);
    await s.expect(SHELL_PROMPT, BOOT_TIMEOUT_MS);
    for (const line of CRASH_SCRIPT) await run(`echo '${line}' >>/tmp/w.sh`);
    await s.send("D=/dev/vda sh /tmp/w.sh 2>/dev/null\n");
    await s.expect(new RegExp(`done ${CRASH_KILL_AFTER}\\r?\\n`), COMMAND_TIMEOUT_MS);
    s.kill("SIGKILL");
    assert.equal((await s.exit(COMMAND_TIMEOUT_MS)).signal, "SIGKILL");
    const reached = Math.max(...[...s.output.matchAll(/done (\d+)\r?\n/g)].map((m) => Number(m[1])));
    assert.ok(reached < CRASH_BLOCKS, `killed while still writing (last done ${reached})`);
    t.diagnostic(`killed after the guest printed done ${reached}; image file ${statSync(image).size} bytes`);
  } finally {
    s.close();
  }
  try {
    // 3: leaked clusters only, which QEMU itself allows after a crash.
    const check = runTool("qemu-img", ["check", image]);
    assert.ok(check.status === 0 || check.status === 3, `qemu-img check exited ${check.status}: ${check.stdout}${check.stderr}`);
    t.diagnostic(`qemu-img check exited ${check.status}`);
    const ours = tsvisorImg(["check", image]);
    assert.equal(ours.status, check.status, `tsvisor img check agrees with qemu-img: ${ours.stdout}${ours.stderr}`);
    const raw = join(dir, "crash.raw");
    mustRun("qemu-img", ["convert", "-O", "raw", image, raw]);
    const bytes = new Uint8Array(readFileSync(raw));
    for (let i = 1; i <= CRASH_KILL_AFTER; i++) {
      const at = i * CRASH_STRIDE * 4 * KiB;
      assert.equal(md5(bytes.subarray(at, at + 4 * KiB)), md5(yesPattern(`b${i}`, 4 * KiB)), `block ${i} (flushed before the kill)`);
    }
    assert.equal(md5(bytes.subarray(0, 4 * KiB)), md5(new Uint8Array(4 * KiB)), "block 0 was never written");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("-snapshot: guest writes are seen by the guest and leave the image files unchanged", { skip, timeout: TEST_TIMEOUT_MS }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "tsvisor-qcow2-snap-"));
  const raw = join(dir, "snap.raw");
  const qcow2 = join(dir, "snap.qcow2");
  writeFileSync(raw, prngBytes(2 * MiB, 5));
  mustRun("qemu-img", ["convert", "-O", "qcow2", raw, qcow2]);
  const before = [md5(readFileSync(raw)), md5(readFileSync(qcow2))];
  const s = GuestSession.tsvisor(["--default-guest", "-snapshot",
    "-drive", `file=${raw},format=raw,if=virtio`, "-drive", `file=${qcow2},format=qcow2,if=virtio`]);
  try {
    await bootAndPoweroff(s, async (run) => {
      await run(DEFINE_W);
      for (const dev of ["/dev/vda", "/dev/vdb"]) {
        assert.match(await run(`w snap 4096 8 ${dev}; echo rc=$?`), /rc=0/);
      }
      // Read back past the page cache: the write went to the overlay, not nowhere.
      await run("echo 3 > /proc/sys/vm/drop_caches");
      for (const dev of ["/dev/vda", "/dev/vdb"]) {
        const sum = await run(`dd if=${dev} bs=512 skip=8 count=8 2>/dev/null|md5sum`);
        assert.match(sum, new RegExp(`^${md5(yesPattern("snap", 4096))}`), dev);
      }
    });
  } finally {
    s.close();
  }
  try {
    assert.deepEqual([md5(readFileSync(raw)), md5(readFileSync(qcow2))], before);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// `npm run bench -- kvm`: tsvisor's x86-64 microvm under KVM, next to Firecracker's
// published marks and, when installed, `qemu-system-x86_64 -M microvm -accel kvm` on the
// same guest. Prints a table; never fails on a timing (only when a tsvisor run breaks).
//
// Measured per run (BENCH_RUNS, default 3; the table shows medians), one boot each with
// 256 MiB of RAM and a 64 MiB raw disk on virtio-blk:
// - boot to init: tsvisor's own figure, from `-d boot-timer` ("boot-timer: N ms", the
//   time from process start to the guest init's write of port 0x440, as Firecracker's
//   boot timer device); and spawn to shell prompt, timed here for both VMMs.
// - resident memory beyond guest RAM, at the shell prompt: VmRSS (/proc/PID/status) minus
//   the resident part of the guest RAM mapping (the anonymous mapping of the RAM's size in
//   /proc/PID/smaps): what the VMM itself holds (Node and V8, tsvisor, device buffers,
//   kvm_run pages), without the pages the guest touched.
// - port-I/O exits per second: `dd if=/dev/port bs=1024 skip=1 count=63` reads ports
//   0x400-0xffff, one `inb` (a KVM_EXIT_IO served in user space) per byte, PIO_ROUNDS
//   times; exits / dd's own elapsed seconds.
// - virtio-blk: dd to and from /dev/vda (bs=1M, conv=fsync for the write, page cache
//   dropped before the read), busybox dd's bytes / its own elapsed time.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SHELL_PROMPT, x86GuestPaths, type X86GuestPaths } from "../guest/paths.js";
import { GuestSession, onPath } from "../test/lib/guest-session.js";

const MiB = 1024 * 1024;
const RAM_MIB = 256;
const DISK_MIB = 64;
const PIO_ROUNDS = 3;
/** Exits per PIO round: ports 0x400..0xffff. */
const PIO_EXITS = 63 * 1024;
const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 3) || 3);
const BOOT_TIMEOUT_MS = 60_000;
const COMMAND_TIMEOUT_MS = 120_000;
const QEMU = "qemu-system-x86_64";
const FIRECRACKER = { bootMs: 125, overheadMiB: 5 };
const BOOT_TIMER = /boot-timer: (\d+(?:\.\d+)?) ms/;
const DD_LINE = /(\d+) bytes \([^)]*\) copied, ([\d.]+) seconds/g;
const CMDLINE = "console=ttyS0 reboot=k panic=-1";

interface KvmRun {
  bootTimerMs?: number;
  promptMs?: number;
  overheadMiB?: number;
  ramResidentMiB?: number;
  pioPerS?: number;
  diskWrite?: number;
  diskRead?: number;
  error?: string;
}

export async function benchKvm(): Promise<number> {
  if (!existsSync("/dev/kvm")) {
    process.stdout.write("KVM table skipped: /dev/kvm is absent on this host (the KVM benchmark needs a host with KVM).\n");
    return 0;
  }
  let paths: X86GuestPaths;
  try {
    paths = x86GuestPaths();
    for (const f of [paths.kernel, paths.initrd]) if (!existsSync(f)) throw new Error(`${f} is missing (npm run guest -- --all)`);
  } catch (err) {
    process.stderr.write(`bench kvm: the x86-64 guest is not built: ${(err as Error).message}\n`);
    return 1;
  }
  const ts: KvmRun[] = [];
  const qm: KvmRun[] = [];
  const haveQemu = onPath(QEMU);
  for (let i = 1; i <= RUNS; i++) {
    process.stderr.write(`bench kvm: run ${i}/${RUNS}: tsvisor...\n`);
    ts.push(await measure("tsvisor", paths));
    if (haveQemu) {
      process.stderr.write(`bench kvm: run ${i}/${RUNS}: qemu...\n`);
      qm.push(await measure("qemu", paths));
    }
  }
  printTable(median(ts), haveQemu ? median(qm) : undefined);
  process.stdout.write(`\nspawn to prompt, each run (ms): tsvisor ${ts.map((r) => fmt(r.promptMs, 0)).join(" ")}` +
    (haveQemu ? `; qemu ${qm.map((r) => fmt(r.promptMs, 0)).join(" ")}` : "") + "\n");
  for (const [name, runs] of [["tsvisor", ts], ["qemu", qm]] as const) {
    runs.forEach((r, i) => r.error && process.stdout.write(`\n${name} run ${i + 1} FAILED:\n${r.error}\n`));
  }
  return ts.some((r) => r.error) ? 1 : 0;
}

function start(name: string, paths: X86GuestPaths, image: string): GuestSession {
  const drive = ["-drive", `file=${image},format=raw,if=none,id=d0`, "-device", "virtio-blk-device,drive=d0"];
  const common = ["-m", `${RAM_MIB}M`, "-kernel", paths.kernel, "-initrd", paths.initrd, "-nographic", ...drive];
  if (name === "tsvisor") return GuestSession.tsvisor(["-accel", "kvm", "-M", "microvm", ...common, "-d", "boot-timer"]);
  return new GuestSession({ program: QEMU, name: "qemu", args: ["-M", "microvm", "-accel", "kvm", ...common, "-append", CMDLINE] });
}

/** One boot: times, memory at the prompt, PIO, disk, then poweroff. */
async function measure(name: string, paths: X86GuestPaths): Promise<KvmRun> {
  const r: KvmRun = {};
  const dir = mkdtempSync(join(tmpdir(), "tsvisor-bench-kvm-"));
  const image = join(dir, "disk.img");
  writeFileSync(image, Buffer.alloc(DISK_MIB * MiB, 0xa5));
  const s = start(name, paths, image);
  const run = (cmd: string) => s.command(cmd, SHELL_PROMPT, COMMAND_TIMEOUT_MS);
  try {
    await s.expect(SHELL_PROMPT, BOOT_TIMEOUT_MS);
    r.promptMs = performance.now() - s.startedAt;
    if (name === "tsvisor") {
      const m = BOOT_TIMER.exec(s.stderr);
      if (m) r.bootTimerMs = Number(m[1]);
    }
    Object.assign(r, memory(s.pid!));
    const pio = ddTotals(await run(`for i in ${Array.from({ length: PIO_ROUNDS }, (_, i) => i + 1).join(" ")}; do ` +
      "dd if=/dev/port of=/dev/null bs=1024 skip=1 count=63; done"));
    if (pio.bytes === PIO_ROUNDS * PIO_EXITS) r.pioPerS = pio.bytes / pio.seconds;
    else process.stderr.write(`bench kvm: ${name}: /dev/port dd read ${pio.bytes} bytes, expected ${PIO_ROUNDS * PIO_EXITS}\n`);
    const w = ddTotals(await run(`dd if=/dev/zero of=/dev/vda bs=1M count=${DISK_MIB} conv=fsync`));
    if (w.bytes === DISK_MIB * MiB) r.diskWrite = w.bytes / MiB / w.seconds;
    const rd = ddTotals(await run("echo 3 > /proc/sys/vm/drop_caches; dd if=/dev/vda of=/dev/null bs=1M"));
    if (rd.bytes === DISK_MIB * MiB) r.diskRead = rd.bytes / MiB / rd.seconds;
    await s.send("poweroff\n");
    if (name === "tsvisor") {
      const status = await s.exit(30_000);
      if (status.code !== 0) throw new Error(`exited with ${JSON.stringify(status)} after poweroff`);
    } else {
      await s.exit(10_000).catch(() => {}); // QEMU's end is not what is measured; close() kills it
    }
  } catch (err) {
    r.error = `${(err as Error).message}\n${s.stderr.slice(-2000)}`;
    process.stderr.write(`bench kvm: ${name} failed: ${(err as Error).message.split("\n")[0]}\n`);
  } finally {
    s.close();
    rmSync(dir, { recursive: true, force: true });
  }
  return r;
}

/** Sum of busybox dd summary lines in a command's output (seconds at least 1 µs). */
function ddTotals(out: string): { bytes: number; seconds: number } {
  let bytes = 0;
  let seconds = 0;
  for (const m of out.matchAll(DD_LINE)) {
    bytes += Number(m[1]);
    seconds += Number(m[2]);
  }
  return { bytes, seconds: Math.max(seconds, 1e-6) };
}

/** VmRSS minus the resident part of the guest RAM mapping (see the header). */
function memory(pid: number): { overheadMiB?: number; ramResidentMiB?: number } {
  try {
    const rssKiB = Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]);
    const ram = guestRamRssKiB(readFileSync(`/proc/${pid}/smaps`, "utf8"));
    if (ram === undefined) return {};
    return { overheadMiB: (rssKiB - ram) / 1024, ramResidentMiB: ram / 1024 };
  } catch {
    return {};
  }
}

/** Rss of the anonymous mapping sized like guest RAM (up to 4 MiB of alignment slack). */
export function guestRamRssKiB(smaps: string): number | undefined {
  const ramKiB = RAM_MIB * 1024;
  let best: number | undefined;
  for (const block of smaps.split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/)) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+[ \t]*(.*)$/m.exec(block);
    const size = /^Size:\s+(\d+) kB/m.exec(block);
    const rss = /^Rss:\s+(\d+) kB/m.exec(block);
    if (!head || !size || !rss) continue;
    const anonymous = head[3]!.trim() === "";
    const kib = Number(size[1]);
    if (anonymous && kib >= ramKiB && kib <= ramKiB + 4096) best = Math.max(best ?? 0, Number(rss[1]));
  }
  return best;
}

function mid(values: (number | undefined)[]): number | undefined {
  const v = values.filter((x): x is number => x !== undefined).sort((a, b) => a - b);
  if (v.length === 0) return undefined;
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
}

function median(runs: KvmRun[]): KvmRun {
  const key = (k: Exclude<keyof KvmRun, "error">) => mid(runs.map((r) => r[k]));
  return {
    bootTimerMs: key("bootTimerMs"), promptMs: key("promptMs"), overheadMiB: key("overheadMiB"),
    ramResidentMiB: key("ramResidentMiB"), pioPerS: key("pioPerS"), diskWrite: key("diskWrite"), diskRead: key("diskRead"),
  };
}

function printTable(ts: KvmRun, qm: KvmRun | undefined): void {
  const rows = [
    ["metric (x86-64 microvm, KVM)", "tsvisor", "qemu", "firecracker (published)"],
    ["boot to init, boot-timer (ms)", fmt(ts.bootTimerMs, 0), "-", `${FIRECRACKER.bootMs}`],
    ["spawn to shell prompt (ms)", fmt(ts.promptMs, 0), fmt(qm?.promptMs, 0), "-"],
    ["resident memory beyond guest RAM (MiB)", fmt(ts.overheadMiB, 1), fmt(qm?.overheadMiB, 1), `< ${FIRECRACKER.overheadMiB}`],
    ["guest RAM resident at the prompt (MiB)", fmt(ts.ramResidentMiB, 1), fmt(qm?.ramResidentMiB, 1), "-"],
    ["port-I/O exits per second", fmt(ts.pioPerS, 0), fmt(qm?.pioPerS, 0), "-"],
    [`virtio-blk seq. write, ${DISK_MIB} MiB (MiB/s)`, fmt(ts.diskWrite, 1), fmt(qm?.diskWrite, 1), "-"],
    [`virtio-blk seq. read, ${DISK_MIB} MiB (MiB/s)`, fmt(ts.diskRead, 1), fmt(qm?.diskRead, 1), "-"],
  ];
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
  const line = (row: string[]) => row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join(" | ");
  process.stdout.write([line(rows[0]!), widths.map((w) => "-".repeat(w)).join("-|-"), ...rows.slice(1).map(line)].join("\n") + "\n");
  process.stdout.write(
    `\nMedians of ${RUNS} runs, ${RAM_MIB} MiB RAM, wall-clock on this host. Memory: VmRSS minus the resident\n` +
      "part of the guest RAM mapping (smaps), at the shell prompt. Port I/O: inb of ports 0x400-0xffff\n" +
      `from /dev/port, ${PIO_ROUNDS} x ${PIO_EXITS} exits, over dd's own time. Firecracker's figures are its\n` +
      "published specification (boot to init 125 ms, VMM overhead < 5 MiB), not measured here.\n" +
      (qm ? "" : `(${QEMU} is not installed: no QEMU column)\n`),
  );
}

function fmt(n: number | undefined, digits: number): string {
  return n === undefined || !Number.isFinite(n) ? "-" : n.toFixed(digits);
}

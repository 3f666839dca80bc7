// `npm run bench -- memory [MINUTES]`: tsvisor's memory beyond guest RAM over a long
// boot/run/reboot loop (default 60 minutes), the issue-5 check that the translator's code
// cache stays bounded. One tsvisor process boots the default guest, then each cycle runs
// CoreMark (a short run), bench-cpu and fptest at the shell and types `reboot`: the guest
// resets inside the same process (the translator survives the reset, see
// src/accel/tcg/jit.ts), so whatever a boot or a run leaves behind accumulates.
//
// Memory beyond guest RAM: the process's resident set minus the resident part of guest
// RAM, both from /proc/PID/smaps after each cycle. Guest RAM is the one mapping of the
// WebAssembly.Memory's size (RAM plus the hart state and TLBs in front of it, src/machine/
// guest-memory.ts); what the guest touched of it is the guest's, not tsvisor's. Printed:
// the mean and maximum per window (10 minutes, or a sixth of a shorter run) with the mean
// of V8's JavaScript heap in use (TSVISOR_STATS, SIGUSR2), the process's peak (VmHWM), and
// the change from the first window to the last.
import { readFileSync } from "node:fs";
import { COREMARK, SHELL_PROMPT } from "../guest/paths.js";
import { GuestSession } from "../test/lib/guest-session.js";

const MiB = 1024 * 1024;
/** The default guest's RAM (--default-guest: -m 256M). */
const GUEST_RAM_MIB = 256;
/** Hart state, TLBs and jump caches sit in the same Memory, in front of RAM. */
const MEMORY_SLACK_MIB = 64;
const BOOT_TIMEOUT_MS = 300_000;
const COMMAND_TIMEOUT_MS = 120_000;
/** CoreMark iterations per cycle: about a second of the translator's hot code. */
const COREMARK_ITERATIONS = 2000;
const CYCLE_COMMANDS = [
  `${COREMARK.path} ${COREMARK.performanceSeeds} ${COREMARK_ITERATIONS} > /dev/null`,
  "/bin/bench-cpu 1",
  "/bin/fptest > /dev/null",
];

interface Sample {
  /** Seconds since the loop started. */
  at: number;
  beyondMiB: number;
  /** V8's JavaScript heap in use (tsvisor's TSVISOR_STATS memory line): what of a growth is JavaScript objects. */
  heapMiB: number;
}

/** tsvisor's TSVISOR_STATS memory line (src/cli/main.ts). */
const MEMORY_LINE = /memory: resident [\d.]+ MiB, JavaScript heap ([\d.]+) MiB used/;

/** Runs the loop for `minutes`; prints the table; 1 when the guest or tsvisor failed. */
export async function memoryLoop(minutes: number): Promise<number> {
  const durationMs = minutes * 60_000;
  const windowS = Math.min(600, (minutes * 60) / 6);
  process.stdout.write(`tsvisor memory beyond guest RAM, ${minutes}-minute boot/run/reboot loop, ${new Date().toISOString()}\n`);
  const s = GuestSession.tsvisor(["--default-guest"], { TSVISOR_STATS: "1" });
  const samples: Sample[] = [];
  let cycles = 0;
  try {
    await s.expect(SHELL_PROMPT, BOOT_TIMEOUT_MS);
    const start = performance.now();
    while (performance.now() - start < durationMs) {
      for (const command of CYCLE_COMMANDS) await s.command(command, SHELL_PROMPT, COMMAND_TIMEOUT_MS);
      await s.send("reboot\n");
      await s.expect("OpenSBI", BOOT_TIMEOUT_MS);
      await s.expect(SHELL_PROMPT, BOOT_TIMEOUT_MS);
      cycles++;
      const at = (performance.now() - start) / 1000;
      samples.push({ at, beyondMiB: beyondGuestRam(s.pid!), heapMiB: await heapInUse(s) });
      if (cycles % 50 === 0) process.stderr.write(`memory: ${cycles} cycles, ${(at / 60).toFixed(1)} min\n`);
    }
    const peak = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${s.pid}/status`, "utf8"))?.[1];
    printTable(samples, windowS, Math.round((minutes * 60) / windowS), cycles, peak === undefined ? undefined : Number(peak) / 1024);
    s.quit();
    await s.exit(COMMAND_TIMEOUT_MS);
    return 0;
  } catch (err) {
    process.stderr.write(`memory loop failed after ${cycles} cycles: ${(err as Error).message}\n`);
    s.close();
    return 1;
  }
}

/** V8's JavaScript heap in use in tsvisor, MiB (asked for with SIGUSR2). */
async function heapInUse(s: GuestSession): Promise<number> {
  const from = s.stderr.length;
  s.kill("SIGUSR2");
  return Number((await s.expectStderr(MEMORY_LINE, from))[1]);
}

/** Resident MiB of process `pid` outside guest RAM's mapping. */
function beyondGuestRam(pid: number): number {
  let total = 0;
  let guest = 0;
  for (const block of readFileSync(`/proc/${pid}/smaps`, "utf8").split(/\n(?=[0-9a-f]+-[0-9a-f]+ )/)) {
    const [from, to] = block.slice(0, block.indexOf(" ")).split("-").map((h) => parseInt(h, 16));
    const rss = Number(/\nRss:\s+(\d+) kB/.exec(block)?.[1] ?? 0) / 1024;
    total += rss;
    const sizeMiB = (to! - from!) / MiB;
    if (sizeMiB >= GUEST_RAM_MIB && sizeMiB <= GUEST_RAM_MIB + MEMORY_SLACK_MIB) guest += rss;
  }
  return total - guest;
}

function printTable(samples: Sample[], windowS: number, windows: number, cycles: number, peakMiB: number | undefined): void {
  const rows: string[] = [];
  const means: number[] = [];
  // The cycle running when time is up finishes after it: it counts in the last window.
  const windowOf = (x: Sample) => Math.min(windows - 1, Math.floor(x.at / windowS));
  for (let i = 0; i < windows; i++) {
    const inWindow = samples.filter((x) => windowOf(x) === i);
    if (inWindow.length === 0) continue;
    const w = inWindow.map((x) => x.beyondMiB);
    const mean = w.reduce((a, b) => a + b, 0) / w.length;
    const heap = inWindow.reduce((a, x) => a + x.heapMiB, 0) / w.length;
    means.push(mean);
    rows.push(`${fmtMin(i * windowS).padStart(5)}-${fmtMin((i + 1) * windowS).padEnd(5)} | ${String(w.length).padStart(6)} | ` +
      `${mean.toFixed(0).padStart(9)} | ${Math.max(...w).toFixed(0).padStart(8)} | ${heap.toFixed(0).padStart(12)}`);
  }
  process.stdout.write("\nminutes     | cycles | mean MiB  | max MiB  | JS heap MiB\n");
  process.stdout.write(rows.join("\n") + "\n");
  const change = means.length > 1 ? means[means.length - 1]! - means[0]! : 0;
  process.stdout.write(`\n${cycles} cycles; peak resident set (VmHWM, guest RAM included) ` +
    `${peakMiB === undefined ? "-" : peakMiB.toFixed(0)} MiB; last window's mean minus the first's: ` +
    `${change >= 0 ? "+" : ""}${change.toFixed(0)} MiB\n`);
}

function fmtMin(seconds: number): string {
  return (seconds / 60).toFixed(seconds % 60 === 0 ? 0 : 1);
}

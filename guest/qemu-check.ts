// Boots the built guest under the reference emulator, QEMU's qemu-system-riscv64, and
// checks what tests will expect of tsvisor: the shell prompt, uname, the ISA in
// /proc/cpuinfo, fptest's exact output, bench-cpu's checksum, a working date, and that
// poweroff ends the machine.   Run: node dist/guest/qemu-check.js [--verbose]
// It also exports a small expect-style driver, QemuSerial, for differential tests.

import { spawn, type ChildProcess } from "node:child_process";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { BENCH_CPU, FIRMWARE, FPTEST_OUTPUT, guestPaths, SHELL_PROMPT, type GuestPaths } from "./paths.js";

export const QEMU_RISCV64 = "qemu-system-riscv64";

/** QEMU arguments that boot the guest like `-M virt -bios default -kernel -initrd`. */
export function qemuArgs(p: GuestPaths, memory = "256M"): string[] {
  return [
    "-M", "virt", "-m", memory, "-smp", "1",
    "-bios", FIRMWARE.qemuBiosDefault,
    "-kernel", p.kernel, "-initrd", p.initramfs, "-append", p.cmdline,
    "-display", "none", "-serial", "stdio", "-monitor", "none", "-nodefaults", "-no-reboot",
  ];
}

/** Drives a guest's serial console: wait for text, send lines, collect output. */
export class QemuSerial {
  private output = "";
  private readonly child: ChildProcess;
  private readonly exited: Promise<number | null>;
  private waiter: (() => void) | undefined;

  constructor(args: string[], echo = false) {
    this.child = spawn(QEMU_RISCV64, args, { stdio: ["pipe", "pipe", "pipe"] });
    const take = (b: Buffer) => {
      const text = b.toString("latin1");
      this.output += text;
      if (echo) process.stdout.write(text);
      this.waiter?.();
    };
    this.child.stdout?.on("data", take);
    this.child.stderr?.on("data", take);
    this.exited = new Promise((resolve) => this.child.on("close", (code) => (this.waiter?.(), resolve(code))));
  }

  /** All output so far, "\r\n" turned into "\n". */
  get text(): string {
    return this.output.replace(/\r\n/g, "\n");
  }

  /** Waits until the output after `from` contains `what`; returns the index after it. */
  async waitFor(what: string, from: number, timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const at = this.text.indexOf(what, from);
      if (at >= 0) return at + what.length;
      if (Date.now() > deadline || this.child.exitCode !== null) {
        throw new Error(`timed out waiting for ${JSON.stringify(what)}; output so far:\n${this.text.slice(-2000)}`);
      }
      await new Promise<void>((resolve) => {
        this.waiter = resolve;
        setTimeout(resolve, 200);
      });
    }
  }

  /** Types a command and returns its output (between the echo and the next prompt). */
  async command(line: string, timeoutMs = 30_000): Promise<string> {
    const start = this.text.length;
    this.child.stdin?.write(line + "\n");
    const afterEcho = await this.waitFor(line + "\n", start, timeoutMs);
    const end = await this.waitFor(SHELL_PROMPT, afterEcho, timeoutMs);
    return this.text.slice(afterEcho, end - SHELL_PROMPT.length);
  }

  send(line: string): void {
    this.child.stdin?.write(line + "\n");
  }

  async exit(timeoutMs: number): Promise<number | null> {
    const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    return code;
  }
}

interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

async function check(verbose: boolean): Promise<Check[]> {
  const results: Check[] = [];
  const expect = (name: string, ok: boolean, detail: string) => results.push({ name, ok, detail });
  const q = new QemuSerial(qemuArgs(guestPaths()), verbose);
  const t0 = Date.now();
  try {
    await q.waitFor(SHELL_PROMPT, 0, 60_000);
    expect("prompt", true, `shell prompt after ${Date.now() - t0} ms`);
    const uname = (await q.command("uname -m")).trim();
    expect("uname -m", uname === "riscv64", uname);
    const isa = /^isa\s*:\s*(\S+)/m.exec(await q.command("cat /proc/cpuinfo"))?.[1] ?? "";
    expect("cpuinfo isa", isa.startsWith("rv64imafdc"), isa);
    const fp = await q.command("/bin/fptest");
    expect("fptest", fp === FPTEST_OUTPUT, fp.trim());
    const bench = await q.command(`${BENCH_CPU.path} ${BENCH_CPU.defaultRounds}`);
    const m = BENCH_CPU.pattern.exec(bench);
    expect("bench-cpu", m?.[2] === BENCH_CPU.checksums[BENCH_CPU.defaultRounds], bench.trim());
    const date = (await q.command("date -u +%Y")).trim();
    expect("date", Math.abs(Number(date) - new Date().getUTCFullYear()) <= 1, `year ${date}`);
    const jobs = await q.command("sleep 5 & jobs; kill %1");
    expect("job control", /\[1\]\+?\s+Running/.test(jobs), jobs.trim());
    q.send("poweroff");
    const code = await q.exit(30_000);
    expect("poweroff", code === 0, `qemu exit ${code}`);
  } catch (e) {
    expect("session", false, (e as Error).message);
    await q.exit(1);
  }
  return results;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  check(process.argv.includes("--verbose")).then(
    (results) => {
      for (const r of results) console.log(`${r.ok ? "ok  " : "FAIL"} ${r.name}: ${r.detail}`);
      process.exit(results.every((r) => r.ok) ? 0 : 1);
    },
    (e) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    },
  );
}

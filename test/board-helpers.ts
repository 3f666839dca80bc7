// A MachineHost and BoardContext for board tests: files from a map (or the real disk),
// console output collected, a clock the test can read. (Not a test file itself.)
import { readFileSync } from "node:fs";
import type { BoardContext } from "../src/machine/board-machine.js";
import { DEFAULT_CONFIG, type MachineConfig } from "../src/machine/config.js";
import { GuestMemory } from "../src/machine/guest-memory.js";
import { UserError, type MachineHost } from "../src/machine/machine.js";

export interface FakeHost extends MachineHost {
  files: Map<string, Uint8Array>;
  written: Map<string, Uint8Array>;
  output(): string;
  /** Types into the console (what the terminal would deliver). */
  type(text: string): void;
}

/** `files` are served first; other paths come from the disk when `disk` is true. */
export function fakeHost(files: Record<string, Uint8Array> = {}, disk = false): FakeHost {
  const out: number[] = [];
  let input: ((d: Uint8Array) => void) | undefined;
  const start = performance.now();
  const host: FakeHost = {
    files: new Map(Object.entries(files)),
    written: new Map(),
    readFile(path) {
      const f = host.files.get(path);
      if (f) return f;
      if (disk) {
        try {
          return new Uint8Array(readFileSync(path));
        } catch {
          // fall through
        }
      }
      throw new UserError(`${path}: No such file or directory`);
    },
    writeFile(path, data) {
      host.written.set(path, data.slice());
    },
    consoleWrite(data) {
      out.push(...data);
    },
    onConsoleInput(handler) {
      input = handler;
    },
    wallClockNs: () => BigInt(Date.now()) * 1_000_000n,
    monotonicNs: () => (performance.now() - start) * 1e6,
    output: () => new TextDecoder().decode(Uint8Array.from(out)),
    type(text) {
      input?.(new TextEncoder().encode(text));
    },
  };
  return host;
}

export function config(overrides: Partial<MachineConfig>): MachineConfig {
  return { ...DEFAULT_CONFIG, ...overrides };
}

/** A BoardContext whose control records what the guest asked for. */
export function boardContext(cfg: MachineConfig, host: MachineHost, files: BoardContext["files"]) {
  const events: string[] = [];
  const ctx: BoardContext = {
    config: cfg,
    files,
    host,
    control: { powerOff: (code) => events.push(`poweroff ${code}`), reset: () => events.push("reset") },
    clock: { nowNs: () => host.monotonicNs() },
    memory: (ramBase) => new GuestMemory(ramBase, cfg.memBytes),
    wake: () => events.push("wake"),
  };
  return { ctx, events };
}

/** Little-endian instruction words as bytes (a raw -kernel / -bios image). */
export function words(...insns: number[]): Uint8Array {
  const b = new Uint8Array(insns.length * 4);
  const v = new DataView(b.buffer);
  insns.forEach((w, i) => v.setUint32(i * 4, w >>> 0, true));
  return b;
}

/** Hand-assembled snippets (checked with riscv64-linux-gnu-objdump). */
export const INSN = {
  loop: 0x0000006f, // j .
  wfi: 0x10500073,
  luiT0Test: 0x001002b7, // lui t0, 0x100        (t0 = 0x100000, sifive_test)
  luiT1_5: 0x00005337, // lui t1, 0x5
  addiT1_555: 0x55530313, // addi t1, t1, 0x555
  luiT1_7: 0x00007337, // lui t1, 0x7
  addiT1_777: 0x77730313, // addi t1, t1, 0x777
  swT1T0: 0x0062a023, // sw t1, 0(t0)
} as const;

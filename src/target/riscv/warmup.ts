// Type feedback for the interpreter before a guest runs. V8 optimizes RiscvCpu.execute (one
// large switch) once it is hot, for the value types and paths it has seen so far. Each
// instruction form seen for the first time afterwards (a narrow load, a W-op, an FP op), or
// a value of another kind (a pc above 2^30 is a heap number, not a small integer), throws
// the optimized code away: the interpreter runs unoptimized until V8 has recompiled it,
// ~20-50 ms later. A Linux boot did that 14 times before the kernel's first line. So each
// process first runs warmup.S, which executes every common instruction form in M-mode at
// 0x80000000 and again in S-mode through Sv39 at 0xffffffff80000000, with traps, CSR,
// MMIO, atomic and FP accesses, on a scratch hart with 64 KiB of RAM (a few milliseconds).
import { Bus } from "../../hw/bus.js";
import type { MmioDevice } from "../../hw/device.js";
import { GuestMemory } from "../../machine/guest-memory.js";
import { RiscvCpu } from "./cpu.js";
import { WARMUP_CODE_HEX } from "./warmup-code.js";

const BASE = 0x80000000;
/** The Sv39 root table warmup.S points satp at. */
const ROOT = BASE + 0x2000;
/** Leaf PTE flags: valid, readable, writable, executable, accessed, dirty. */
const PTE_VRWXAD = 0xcf;
/** Where warmup.S finds an MMIO device. */
const DEVICE = 0x10000000;
/** Most instructions the program may take (it ends in a WFI loop well before). */
const MAX_INSTRUCTIONS = 200_000;

/**
 * The harts that ran the warm-up, by engine (with the translator's loop, or without). They
 * are kept for the life of the process: when the garbage collector took the hart, V8 lost
 * type feedback the warm-up had given execute() (sites on `this` that every guest runs),
 * and in 6 of 18 boots the optimized interpreter was thrown away 5-6 times during the
 * boot (--trace-deopt); kept, in none of 28 (one boot had a single one).
 */
const warmHarts = new Map<boolean, RiscvCpu>();

/** Runs the warm-up program once per process and engine. */
export function warmUpInterpreter(jit: boolean): void {
  if (!warmHarts.has(jit)) warmHarts.set(jit, runWarmUp(jit));
}

/** Runs warmup.S on a scratch hart to its final WFI; returns the hart (for tests). */
export function runWarmUp(jit: boolean, trace?: (line: string) => void): RiscvCpu {
  const mem = new GuestMemory(BASE, 0x10000);
  mem.writeBytes(BASE, hexBytes(WARMUP_CODE_HEX));
  // Gigapages: VA 0 -> PA 0 (the device), VA 0xffffffff80000000 (VPN2 510) -> PA BASE.
  mem.writeBytes(ROOT, pte(0));
  mem.writeBytes(ROOT + 510 * 8, pte(BASE));
  const bus = new Bus();
  bus.map(DEVICE, scratchDevice(), "warm-up device");
  // A threshold no block reaches: the translator's loop runs, nothing is translated.
  const cpu = new RiscvCpu({
    mem, bus, hartId: 0, mtime: () => 0, jit, jitThreshold: 0xffff, trace, traceItems: trace ? ["int"] : [],
  });
  cpu.reset(BASE);
  for (let n = 0; n < MAX_INSTRUCTIONS && !cpu.waiting;) n += cpu.run(1000) || 1;
  if (!cpu.waiting) throw new Error("the interpreter's warm-up program did not finish");
  return cpu;
}

function pte(pa: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, (BigInt(pa) >> 12n << 10n) | BigInt(PTE_VRWXAD), true);
  return b;
}

function scratchDevice(): MmioDevice {
  let last = 0;
  return { size: 0x1000, read: () => last, write: (_off, value) => { last = value >>> 0; } };
}

function hexBytes(hex: string): Uint8Array {
  const b = new Uint8Array(hex.length / 2);
  for (let i = 0; i < b.length; i++) b[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return b;
}

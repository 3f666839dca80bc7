// The harts of a RISC-V board and the CLINT that gives them time and software
// interrupts: the part every RISC-V board builds the same way.
import type { Bus } from "../hw/bus.js";
import { Clint } from "../hw/intc/clint.js";
import { IRQ_M_SOFT, IRQ_M_TIMER, RiscvCpu } from "../target/riscv/cpu.js";
import { warmUpInterpreter } from "../target/riscv/warmup.js";
import type { BoardContext } from "./board-machine.js";
import type { GuestMemory } from "./guest-memory.js";

export interface Harts {
  cpus: RiscvCpu[];
  clint: Clint;
}

/** config.smp harts on `bus`, with a CLINT (not yet mapped) driving their M-mode lines. */
export function createHarts(ctx: BoardContext, mem: GuestMemory, bus: Bus): Harts {
  const { config, host, clock } = ctx;
  warmUpInterpreter(config.jit);
  const cpus: RiscvCpu[] = [];
  const clint = new Clint({
    harts: config.smp,
    clock,
    setMsip: (h, level) => cpus[h]!.setInterrupt(IRQ_M_SOFT, level),
    setMtip: (h, level) => cpus[h]!.setInterrupt(IRQ_M_TIMER, level),
  });
  for (let h = 0; h < config.smp; h++) {
    cpus.push(new RiscvCpu({
      mem, bus, hartId: h, mtime: () => clint.mtime(), trace: host.trace, traceItems: config.debug,
      jit: config.jit,
      jitThreshold: config.jitThreshold,
      jitTierUp: config.jitTierUp,
    }));
  }
  return { cpus, clint };
}

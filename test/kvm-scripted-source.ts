// A scripted exit source for the vCPU thread tests: it runs in a real vCPU worker
// (vcpu-thread.ts) in place of KVM and produces the exits its script lists, so the test
// sees the whole thread protocol (channel, Atomics, kicks) without /dev/kvm.
import { libc } from "../src/accel/kvm/libc.js";
import type { ExitSource, ExitSourceInit, VcpuExit } from "../src/accel/kvm/exit-source.js";
import type { PioSize, VcpuStop } from "../src/accel/kvm/vcpu-exits.js";

export type Step =
  | { op: "out"; port: number; size: PioSize; values: number[] } // one exit, count = values.length (rep outs)
  | { op: "in"; port: number; size: PioSize; count: number }
  | { op: "echo"; port: number } // OUT of the bytes the last IN got, same size and count
  | { op: "mmio-read"; addr: number; size: number }
  | { op: "mmio-write"; addr: number; size: number; value: bigint }
  | { op: "echo-mmio"; addr: number } // writes what the last mmio read got
  | { op: "stop"; why: VcpuStop }
  | { op: "block" }; // pause() until a signal, as KVM_RUN blocks in the kernel; repeats

export interface ScriptOptions {
  /** Per vCPU (by cpu index); a missing one blocks. */
  scripts: Step[][];
}

export function createExitSource(init: ExitSourceInit): ExitSource {
  const script = (init.options as ScriptOptions).scripts[init.cpu] ?? [];
  let pc = 0;
  let lastIn: { size: PioSize; count: number; data: Uint8Array } | undefined;
  let lastMmio: Uint8Array | undefined;
  const c = libc();
  return {
    run(): VcpuExit {
      const step = script[pc] ?? { op: "block" };
      if (step.op !== "block") pc++;
      switch (step.op) {
        case "out": {
          const data = new Uint8Array(step.size * step.values.length);
          const dv = new DataView(data.buffer);
          step.values.forEach((v, i) => put(dv, i * step.size, step.size, v));
          return { kind: "pio", write: true, port: step.port, size: step.size, count: step.values.length, data };
        }
        case "in":
          lastIn = { size: step.size, count: step.count, data: new Uint8Array(step.size * step.count) };
          return { kind: "pio", write: false, port: step.port, size: step.size, count: step.count, data: lastIn.data };
        case "echo":
          return { kind: "pio", write: true, port: step.port, size: lastIn!.size, count: lastIn!.count, data: lastIn!.data.slice() };
        case "mmio-read":
          lastMmio = new Uint8Array(step.size);
          return { kind: "mmio", write: false, addr: step.addr, size: step.size, data: lastMmio };
        case "mmio-write": {
          const data = new Uint8Array(step.size);
          for (let i = 0; i < step.size; i++) data[i] = Number((step.value >> BigInt(8 * i)) & 0xffn);
          return { kind: "mmio", write: true, addr: step.addr, size: step.size, data };
        }
        case "echo-mmio":
          return { kind: "mmio", write: true, addr: step.addr, size: lastMmio!.length, data: lastMmio!.slice() };
        case "stop":
          return { kind: "stop", why: step.why };
        case "block":
          c.pause(); // returns after a signal handler ran: the kick
          return { kind: "intr" };
      }
    },
    close() {},
  };
}

function put(dv: DataView, at: number, size: number, v: number): void {
  if (size === 1) dv.setUint8(at, v);
  else if (size === 2) dv.setUint16(at, v, true);
  else dv.setUint32(at, v >>> 0, true);
}

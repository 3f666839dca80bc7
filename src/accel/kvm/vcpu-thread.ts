// A vCPU thread (worker_threads entry): creates its exit source (a KVM vCPU unless a test
// names another module), tells the main thread its thread id for kicks, then runs: each
// PIO/MMIO exit goes through the channel to the main thread, which serves it with the
// board's handlers; the thread blocks in Atomics.wait meanwhile, so exits of one vCPU are
// served in order and KVM_RUN resumes with the answer in place.
import { parentPort, workerData } from "node:worker_threads";
import { constants } from "node:os";
import { libc } from "./libc.js";
import {
  ADDR_HI, ADDR_LO, ANSWERED, CANCELLED, COUNT, DATA_SIZE, EXITS, IDLE, KIND, KIND_MMIO_READ,
  KIND_MMIO_WRITE, KIND_PIO_IN, KIND_PIO_OUT, MMIO_EXITS, PIO_EXITS, REQUEST, SIZE, STATE,
  openChannel, type Channel,
} from "./vcpu-channel.js";
import type { CreateExitSource, ExitSource, VcpuExit } from "./exit-source.js";
import type { VcpuStop } from "./vcpu-exits.js";
import type { VcpuSetup } from "./vcpu-state.js";

export interface VcpuWorkerData {
  cpu: number;
  vmFd: number;
  kvmFd: number;
  setup: VcpuSetup;
  sab: SharedArrayBuffer;
  /** URL of the module whose createExitSource makes this thread's exits. */
  sourceModule: string;
  sourceOptions?: unknown;
}

/** Worker -> main messages. */
export type VcpuMessage =
  | { type: "ready"; tid: number; kick?: { vcpuFd: number; runSize: number } }
  | { type: "stopped"; why: VcpuStop };

/** Loads of the state word before Atomics.wait (some tens of microseconds). */
const SPINS = 2000;

const post = (m: VcpuMessage) => parentPort!.postMessage(m);

async function main(d: VcpuWorkerData): Promise<void> {
  const ch = openChannel(d.sab);
  const c = libc();
  // The main thread kicks us out of KVM_RUN with this signal: it must not be blocked here.
  c.unblockSignal(constants.signals.SIGUSR2);
  let source: ExitSource;
  try {
    const mod = (await import(d.sourceModule)) as { createExitSource: CreateExitSource };
    source = await mod.createExitSource({ cpu: d.cpu, vmFd: d.vmFd, kvmFd: d.kvmFd, setup: d.setup, options: d.sourceOptions });
  } catch (err) {
    post({ type: "stopped", why: { kind: "error", message: `vCPU ${d.cpu} setup: ${(err as Error).message}` } });
    return;
  }
  post({ type: "ready", tid: c.gettid(), kick: source.kick });
  try {
    const why = runLoop(ch, source);
    if (why) post({ type: "stopped", why });
  } finally {
    source.close();
  }
}

/** Runs until cancelled (returns undefined) or the vCPU stops (returns why). */
function runLoop(ch: Channel, source: ExitSource): VcpuStop | undefined {
  const i32 = ch.i32;
  for (;;) {
    if (Atomics.load(i32, STATE) === CANCELLED) return undefined;
    const exit = source.run();
    i32[EXITS]!++;
    switch (exit.kind) {
      case "intr":
        continue;
      case "stop":
        return exit.why;
      case "pio":
        i32[PIO_EXITS]!++;
        if (!serve(ch, exit)) return undefined;
        break;
      case "mmio":
        i32[MMIO_EXITS]!++;
        if (!serve(ch, exit)) return undefined;
        break;
    }
  }
}

/** Hands one PIO/MMIO exit to the main thread and waits; false when cancelled meanwhile. */
function serve(ch: Channel, exit: Extract<VcpuExit, { kind: "pio" | "mmio" }>): boolean {
  const { i32, data } = ch;
  const bytes = exit.data.byteLength;
  if (bytes > DATA_SIZE) throw new Error(`exit data of ${bytes} bytes`); // vcpu.ts bounds it to a page
  const addr = exit.kind === "pio" ? exit.port : exit.addr;
  i32[KIND] = exit.kind === "pio" ? (exit.write ? KIND_PIO_OUT : KIND_PIO_IN) : (exit.write ? KIND_MMIO_WRITE : KIND_MMIO_READ);
  i32[ADDR_LO] = addr % 2 ** 32;
  i32[ADDR_HI] = Math.floor(addr / 2 ** 32);
  i32[SIZE] = exit.size;
  i32[COUNT] = exit.kind === "pio" ? exit.count : 1;
  if (exit.write) data.set(exit.data);
  if (Atomics.compareExchange(i32, STATE, IDLE, REQUEST) !== IDLE) return false;
  Atomics.notify(i32, STATE);
  // Most answers take microseconds: look a while before sleeping in the kernel.
  for (let i = 0; i < SPINS && Atomics.load(i32, STATE) === REQUEST; i++);
  while (Atomics.load(i32, STATE) === REQUEST) Atomics.wait(i32, STATE, REQUEST);
  if (Atomics.compareExchange(i32, STATE, ANSWERED, IDLE) !== ANSWERED) return false;
  if (!exit.write) exit.data.set(data.subarray(0, bytes));
  return true;
}

main(workerData as VcpuWorkerData).catch((err: unknown) => {
  post({ type: "stopped", why: { kind: "error", message: `vCPU thread: ${(err as Error).stack ?? err}` } });
});

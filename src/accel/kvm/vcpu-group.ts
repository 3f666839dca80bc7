// The main-thread side of the vCPU threads: one worker per vCPU (vcpu-thread.ts), each
// with a channel (vcpu-channel.ts) whose requests the main thread serves with the board's
// ExitHandlers as they arrive (Atomics.waitAsync, so the event loop, timers and the
// devices' host I/O keep running), and stop(), which kicks every vCPU out of KVM_RUN.
//
// A kick: set kvm_run.immediate_exit through the main thread's own mapping of the vCPU's
// kvm_run (so a KVM_RUN entered after the kick returns at once), then SIGUSR2 to the vCPU
// thread (tgkill), which makes a KVM_RUN in progress return EINTR. A Node listener for
// SIGUSR2 makes libuv install a process-wide C handler, so the signal interrupts instead of
// killing the process. Kicks repeat until the thread is gone: a signal that lands just
// before a thread blocks is lost, the next one is not.
import { Worker } from "node:worker_threads";
import { constants } from "node:os";
import { KVM_RUN } from "./kvm-abi.js";
import { MAP_SHARED, PROT_READ, PROT_WRITE, libc, type KoffiPointer, type Libc } from "./libc.js";
import {
  ADDR_HI, ADDR_LO, ANSWERED, CANCELLED, COUNT, EXITS, IDLE, KIND, KIND_MMIO_READ, KIND_MMIO_WRITE,
  KIND_PIO_IN, KIND_PIO_OUT, MMIO_EXITS, PIO_EXITS, REQUEST, SIZE, STATE, createChannel, type Channel,
} from "./vcpu-channel.js";
import type { ExitHandlers, MmioSize, PioSize, VcpuStop } from "./vcpu-exits.js";
import type { VcpuSetup } from "./vcpu-state.js";
import type { VcpuMessage, VcpuWorkerData } from "./vcpu-thread.js";

/** Milliseconds between kicks while stop() waits for the threads. */
const KICK_INTERVAL_MS = 20;
/** How long the main thread looks for a vCPU's next request before yielding (ms). */
const SPIN_MS = 0.05;

export interface StartVcpusOptions {
  vmFd: number;
  kvmFd: number;
  setups: VcpuSetup[];
  handlers: ExitHandlers;
  /** Tests: a module URL exporting createExitSource, used instead of KVM (vcpu.js). */
  sourceModule?: string;
  sourceOptions?: unknown;
}

export interface VcpuGroup {
  readonly count: number;
  /** Kicks every vCPU out of KVM_RUN and ends the threads. */
  stop(): Promise<void>;
  stats(): { exits: number; pioExits: number; mmioExits: number };
}

interface VcpuThread {
  cpu: number;
  worker: Worker;
  ch: Channel;
  exited: Promise<void>;
  done: boolean;
  tid?: number;
  vcpuFd?: number;
  run?: { ptr: KoffiPointer; size: number; bytes: Uint8Array };
  /** handlers.stopped was called (at most once). */
  reported: boolean;
}

export function startVcpus(opts: StartVcpusOptions): VcpuGroup {
  const c = libc();
  holdSignalHandler();
  let stopping = false;
  const sourceModule = opts.sourceModule ?? new URL("./vcpu.js", import.meta.url).href;
  const threads = opts.setups.map((setup, cpu) => spawn(cpu, setup));

  function spawn(cpu: number, setup: VcpuSetup): VcpuThread {
    const ch = createChannel();
    const data: VcpuWorkerData = {
      cpu, vmFd: opts.vmFd, kvmFd: opts.kvmFd, setup, sab: ch.sab, sourceModule, sourceOptions: opts.sourceOptions,
    };
    const worker = new Worker(new URL("./vcpu-thread.js", import.meta.url), { workerData: data });
    const t: VcpuThread = { cpu, worker, ch, done: false, reported: false, exited: Promise.resolve() };
    worker.on("message", (m: VcpuMessage) => onMessage(t, m));
    worker.on("error", (err) => report(t, { kind: "error", message: `vCPU ${cpu} thread: ${err.message}` }));
    t.exited = new Promise((resolve) => worker.once("exit", () => {
      t.done = true;
      cancel(t); // ends the serve loop
      resolve();
    }));
    void serveLoop(t);
    return t;
  }

  function onMessage(t: VcpuThread, m: VcpuMessage): void {
    if (m.type === "stopped") {
      report(t, m.why);
      return;
    }
    t.tid = m.tid;
    if (m.kick) {
      t.vcpuFd = m.kick.vcpuFd;
      const ptr = c.mmap(m.kick.runSize, PROT_READ | PROT_WRITE, MAP_SHARED, m.kick.vcpuFd, 0);
      if (ptr) t.run = { ptr, size: m.kick.runSize, bytes: new Uint8Array(c.koffi.view(ptr, m.kick.runSize)) };
    }
    if (Atomics.load(t.ch.i32, STATE) === CANCELLED) kick(c, t); // stop() came before the thread was ready
  }

  /** The vCPU stopped by itself (or its handler failed): it ends; tell the board once. */
  function report(t: VcpuThread, why: VcpuStop): void {
    cancel(t); // wakes a thread waiting for an answer that will not come
    if (stopping || t.reported) return;
    t.reported = true;
    opts.handlers.stopped(t.cpu, why);
  }

  /** Serves the thread's requests until it is cancelled or gone. */
  async function serveLoop(t: VcpuThread): Promise<void> {
    const i32 = t.ch.i32;
    for (;;) {
      const s = Atomics.load(i32, STATE);
      if (s === CANCELLED) return;
      if (s === REQUEST) {
        serveOne(t);
        awaitNextRequest(i32);
        continue;
      }
      const w = waitAsync(i32, STATE, s);
      if (w.async) await w.value;
    }
  }

  function serveOne(t: VcpuThread): void {
    const i32 = t.ch.i32;
    try {
      handle(opts.handlers, t.cpu, t.ch);
    } catch (err) {
      report(t, { kind: "error", message: `vCPU ${t.cpu}: device handler failed: ${(err as Error).message}` });
      return;
    }
    // A handler that called stop() has cancelled the thread: that wins.
    Atomics.compareExchange(i32, STATE, REQUEST, ANSWERED);
    Atomics.notify(i32, STATE);
  }

  let stopped: Promise<void> | undefined;
  return {
    count: threads.length,
    stop() {
      stopped ??= (async () => {
        stopping = true;
        for (const t of threads) cancel(t);
        const timer = setInterval(() => threads.forEach((t) => kick(c, t)), KICK_INTERVAL_MS);
        threads.forEach((t) => kick(c, t));
        try {
          await Promise.all(threads.map((t) => t.exited));
        } finally {
          clearInterval(timer);
          for (const t of threads) release(c, t);
          releaseSignalHandler();
        }
      })();
      return stopped;
    },
    stats() {
      const sum = (i: number) => threads.reduce((n, t) => n + (t.ch.i32[i]! >>> 0), 0);
      return { exits: sum(EXITS), pioExits: sum(PIO_EXITS), mmioExits: sum(MMIO_EXITS) };
    },
  };
}

/**
 * Exits come in bursts (a console line is one OUT per byte): after an answer, look for
 * the vCPU's next request for a few microseconds before going back to the event loop,
 * which costs tens of microseconds per wake-up.
 */
function awaitNextRequest(i32: Int32Array): void {
  const until = performance.now() + SPIN_MS;
  for (let s = Atomics.load(i32, STATE); s === ANSWERED || s === IDLE; s = Atomics.load(i32, STATE)) {
    if (performance.now() > until) return;
  }
}

// Node 20 has Atomics.waitAsync; the project's lib setting (ES2022) does not declare it.
type WaitAsync = (a: Int32Array, index: number, value: number) => { async: boolean; value: Promise<unknown> | string };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

function cancel(t: VcpuThread): void {
  Atomics.store(t.ch.i32, STATE, CANCELLED);
  Atomics.notify(t.ch.i32, STATE);
}

function kick(c: Libc, t: VcpuThread): void {
  if (t.done) return;
  if (t.run) t.run.bytes[KVM_RUN.off.immediate_exit] = 1;
  if (t.tid !== undefined) c.tgkill(process.pid, t.tid, constants.signals.SIGUSR2);
}

/** After the thread ended: the main thread's kvm_run mapping and the vCPU fd. */
function release(c: Libc, t: VcpuThread): void {
  if (t.run) c.munmap(t.run.ptr, t.run.size);
  t.run = undefined;
  if (t.vcpuFd !== undefined) c.close(t.vcpuFd);
  t.vcpuFd = undefined;
}

/** Serves the request in the channel with the handlers, writing the answer for reads. */
function handle(h: ExitHandlers, cpu: number, ch: Channel): void {
  const { i32, data } = ch;
  const addr = (i32[ADDR_HI]! >>> 0) * 2 ** 32 + (i32[ADDR_LO]! >>> 0);
  const size = i32[SIZE]!;
  const dv = new DataView(data.buffer, data.byteOffset, data.byteLength);
  switch (i32[KIND]) {
    case KIND_PIO_OUT:
      for (let i = 0, n = i32[COUNT]!; i < n; i++) h.pioOut(addr, size as PioSize, readLe(dv, i * size, size), cpu);
      break;
    case KIND_PIO_IN:
      for (let i = 0, n = i32[COUNT]!; i < n; i++) writeLe(dv, i * size, size, h.pioIn(addr, size as PioSize, cpu));
      break;
    case KIND_MMIO_READ:
      mmioRead(h, cpu, addr, size, dv);
      break;
    case KIND_MMIO_WRITE:
      mmioWrite(h, cpu, addr, size, dv);
      break;
  }
}

const isMmioSize = (n: number): n is MmioSize => n === 1 || n === 2 || n === 4 || n === 8;

/** An access of 3, 5, 6 or 7 bytes (a split across a page) is served a byte at a time. */
function mmioRead(h: ExitHandlers, cpu: number, addr: number, size: number, dv: DataView): void {
  if (isMmioSize(size)) {
    const v = BigInt.asUintN(64, h.mmioRead(addr, size, cpu));
    for (let i = 0; i < size; i++) dv.setUint8(i, Number((v >> BigInt(8 * i)) & 0xffn));
    return;
  }
  for (let i = 0; i < size; i++) dv.setUint8(i, Number(h.mmioRead(addr + i, 1, cpu) & 0xffn));
}

function mmioWrite(h: ExitHandlers, cpu: number, addr: number, size: number, dv: DataView): void {
  if (isMmioSize(size)) {
    let v = 0n;
    for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(dv.getUint8(i));
    h.mmioWrite(addr, size, v, cpu);
    return;
  }
  for (let i = 0; i < size; i++) h.mmioWrite(addr + i, 1, BigInt(dv.getUint8(i)), cpu);
}

function readLe(dv: DataView, at: number, size: number): number {
  return size === 1 ? dv.getUint8(at) : size === 2 ? dv.getUint16(at, true) : dv.getUint32(at, true);
}

function writeLe(dv: DataView, at: number, size: number, value: number): void {
  if (size === 1) dv.setUint8(at, value & 0xff);
  else if (size === 2) dv.setUint16(at, value & 0xffff, true);
  else dv.setUint32(at, value >>> 0, true);
}

// SIGUSR2's no-op listener, held while any group runs (without one, the signal kills us).
let signalHolders = 0;
const ignoreKick = () => {};

function holdSignalHandler(): void {
  if (signalHolders++ === 0) process.on("SIGUSR2", ignoreKick);
}

function releaseSignalHandler(): void {
  if (--signalHolders === 0) process.off("SIGUSR2", ignoreKick);
}

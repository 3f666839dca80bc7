// The vCPU thread protocol (vcpu-thread.ts, vcpu-group.ts, vcpu-channel.ts) in real
// worker threads, with a scripted exit source in place of KVM: values in both directions,
// ordering, rep counts, MMIO of every size, 4 vCPUs at once, stops, and stop() while
// vCPUs are blocked (kicked with SIGUSR2 as KVM_RUN would be).
import { test } from "node:test";
import assert from "node:assert/strict";
import { startVcpus, type VcpuGroup } from "../src/accel/kvm/vcpu-group.js";
import type { ExitHandlers, VcpuStop } from "../src/accel/kvm/vcpu-exits.js";
import type { VcpuSetup } from "../src/accel/kvm/vcpu-state.js";
import type { Step } from "./kvm-scripted-source.js";

const SOURCE = new URL("./kvm-scripted-source.js", import.meta.url).href;
const setup = (id: number): VcpuSetup => ({ id, cpuid: [], msrs: [], fpu: id === 0 });

type Event = string;

/** Handlers that log every call as a string; IN answers port + cpu + element index. */
function recorder() {
  const log: Event[][] = [];
  const ins = new Map<number, number>();
  let stops: { cpu: number; why: VcpuStop }[] = [];
  const waiters: (() => void)[] = [];
  const push = (cpu: number, e: Event) => {
    (log[cpu] ??= []).push(e);
    waiters.splice(0).forEach((w) => w());
  };
  const handlers: ExitHandlers = {
    pioIn(port, size, cpu) {
      const n = ins.get(cpu) ?? 0;
      ins.set(cpu, n + 1);
      const v = (port << 8) + cpu * 16 + n + (size === 4 ? 0xa0000000 : 0);
      push(cpu, `in ${port.toString(16)}/${size}`);
      return v;
    },
    pioOut(port, size, value, cpu) {
      push(cpu, `out ${port.toString(16)}/${size} ${value.toString(16)}`);
    },
    mmioRead(addr, size, cpu) {
      push(cpu, `read ${addr.toString(16)}/${size}`);
      return 0x1122334455667788n;
    },
    mmioWrite(addr, size, value, cpu) {
      push(cpu, `write ${addr.toString(16)}/${size} ${value.toString(16)}`);
    },
    stopped(cpu, why) {
      stops.push({ cpu, why });
      waiters.splice(0).forEach((w) => w());
    },
  };
  /** Resolves when pred() holds (checked after each event), or rejects after ms. */
  const until = (pred: () => boolean, ms = 10_000) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out; log ${JSON.stringify(log)}`)), ms);
      const check = () => {
        if (pred()) {
          clearTimeout(timer);
          resolve();
        } else waiters.push(check);
      };
      check();
    });
  return { log, handlers, until, get stops() { return stops; }, clearStops() { stops = []; } };
}

function start(scripts: Step[][], handlers: ExitHandlers): VcpuGroup {
  return startVcpus({
    vmFd: -1, kvmFd: -1, setups: scripts.map((_, i) => setup(i)), handlers,
    sourceModule: SOURCE, sourceOptions: { scripts },
  });
}

test("PIO both ways, in order, with rep counts; values reach the vCPU", async () => {
  const r = recorder();
  const g = start([[
    { op: "out", port: 0x3f8, size: 1, values: [0x41] },
    { op: "in", port: 0x60, size: 1, count: 1 },
    { op: "echo", port: 0x80 },
    { op: "out", port: 0x1f0, size: 2, values: [0x1234, 0xbeef, 7] }, // rep outsw
    { op: "in", port: 0x440, size: 4, count: 3 }, // rep insl
    { op: "echo", port: 0x81 },
  ]], r.handlers);
  try {
    await r.until(() => (r.log[0]?.length ?? 0) >= 12);
    assert.deepEqual(r.log[0], [
      "out 3f8/1 41",
      "in 60/1",
      "out 80/1 0", // the IN got 0x6000 (port << 8): its low byte
      "out 1f0/2 1234", "out 1f0/2 beef", "out 1f0/2 7",
      "in 440/4", "in 440/4", "in 440/4",
      "out 81/4 a0044001", "out 81/4 a0044002", "out 81/4 a0044003",
    ]);
    const st = g.stats();
    assert.ok(st.pioExits >= 5 && st.mmioExits === 0, JSON.stringify(st));
  } finally {
    await g.stop();
  }
});

test("MMIO reads and writes of 1, 2, 4, 8 bytes and a split 3-byte access", async () => {
  const r = recorder();
  const g = start([[
    { op: "mmio-write", addr: 0xd0000070, size: 4, value: 0xdeadbeefn },
    { op: "mmio-write", addr: 0xd0000000, size: 8, value: 0xfedcba9876543210n },
    { op: "mmio-read", addr: 0xd0000008, size: 8 },
    { op: "echo-mmio", addr: 0x100000000 },
    { op: "mmio-read", addr: 0xd0000010, size: 2 },
    { op: "echo-mmio", addr: 0xd0000020 },
    { op: "mmio-read", addr: 0xfee00000, size: 1 },
    { op: "echo-mmio", addr: 0xd0000030 },
    { op: "mmio-write", addr: 0xd0000ffd, size: 3, value: 0xabcdefn },
  ]], r.handlers);
  try {
    await r.until(() => (r.log[0]?.length ?? 0) >= 11);
    assert.deepEqual(r.log[0], [
      "write d0000070/4 deadbeef",
      "write d0000000/8 fedcba9876543210",
      "read d0000008/8",
      "write 100000000/8 1122334455667788", // above 4 GiB: both address halves cross
      "read d0000010/2",
      "write d0000020/2 7788",
      "read fee00000/1",
      "write d0000030/1 88",
      "write d0000ffd/1 ef", "write d0000ffe/1 cd", "write d0000fff/1 ab",
    ]);
    assert.equal(g.stats().mmioExits, 9);
  } finally {
    await g.stop();
  }
});

test("4 vCPUs at once: each served in its own order, answers go to the right vCPU", async () => {
  const r = recorder();
  const per = (cpu: number): Step[] => {
    const steps: Step[] = [];
    for (let i = 0; i < 50; i++) {
      steps.push({ op: "out", port: 0x3f8, size: 1, values: [(cpu * 50 + i) & 0xff] });
      steps.push({ op: "in", port: 0x70 + cpu, size: 2, count: 1 });
      steps.push({ op: "echo", port: 0x90 + cpu });
    }
    return steps;
  };
  const g = start([per(0), per(1), per(2), per(3)], r.handlers);
  try {
    await r.until(() => [0, 1, 2, 3].every((c) => (r.log[c]?.length ?? 0) >= 150));
    for (let cpu = 0; cpu < 4; cpu++) {
      const expected: string[] = [];
      for (let i = 0; i < 50; i++) {
        expected.push(`out 3f8/1 ${((cpu * 50 + i) & 0xff).toString(16)}`);
        expected.push(`in ${(0x70 + cpu).toString(16)}/2`);
        const v = (((0x70 + cpu) << 8) + cpu * 16 + i) & 0xffff;
        expected.push(`out ${(0x90 + cpu).toString(16)}/2 ${v.toString(16)}`);
      }
      assert.deepEqual(r.log[cpu], expected, `vCPU ${cpu}`);
    }
    assert.equal(g.count, 4);
    assert.equal(g.stats().pioExits, 600);
  } finally {
    await g.stop();
  }
});

test("stop() while every vCPU is blocked (in pause(), as in KVM_RUN): kicks end them", async () => {
  const r = recorder();
  const g = start([[{ op: "out", port: 0x80, size: 1, values: [1] }, { op: "block" }], [], [], []], r.handlers);
  await r.until(() => (r.log[0]?.length ?? 0) >= 1);
  await new Promise((res) => setTimeout(res, 50)); // let them all reach pause()
  const t0 = performance.now();
  await g.stop();
  assert.ok(performance.now() - t0 < 5000);
  assert.deepEqual(r.stops, [], "a requested stop is not reported as the vCPU stopping");
  assert.ok(g.stats().exits >= 2, "the kick made the blocked vCPU exit (EINTR)");
  await g.stop(); // idempotent
});

test("stop() from inside a handler ends the vCPU before it resumes", async () => {
  const r = recorder();
  let g: VcpuGroup | undefined;
  let stopping: Promise<void> | undefined;
  const handlers: ExitHandlers = {
    ...r.handlers,
    pioOut(port, size, value, cpu) {
      if (port === 0x600) stopping = g!.stop(); // ACPI S5, as the board does
      r.handlers.pioOut(port, size, value, cpu);
    },
  };
  g = start([[
    { op: "out", port: 0x600, size: 1, values: [0x34] },
    { op: "out", port: 0x3f8, size: 1, values: [0x21] },
  ]], handlers);
  await r.until(() => stopping !== undefined);
  await stopping;
  assert.deepEqual(r.log[0], ["out 600/1 34"]);
});

test("a vCPU that stops (shutdown, system event, error) is reported once; the others run on", async () => {
  const r = recorder();
  const g = start([
    [{ op: "stop", why: { kind: "shutdown" } }],
    [{ op: "out", port: 0x3f8, size: 1, values: [0x31] }, { op: "stop", why: { kind: "system-event", type: 1 } }],
    [{ op: "stop", why: { kind: "error", message: "KVM_EXIT_FAIL_ENTRY: hardware entry failure reason 0x7" } }],
    [{ op: "out", port: 0x3f8, size: 1, values: [0x33] }, { op: "block" }],
  ], r.handlers);
  try {
    await r.until(() => r.stops.length >= 3 && (r.log[3]?.length ?? 0) >= 1);
    const byCpu = [...r.stops].sort((a, b) => a.cpu - b.cpu);
    assert.deepEqual(byCpu, [
      { cpu: 0, why: { kind: "shutdown" } },
      { cpu: 1, why: { kind: "system-event", type: 1 } },
      { cpu: 2, why: { kind: "error", message: "KVM_EXIT_FAIL_ENTRY: hardware entry failure reason 0x7" } },
    ]);
  } finally {
    await g.stop();
  }
  assert.equal(r.stops.length, 3);
});

test("a device handler that throws stops that vCPU with an error, not the process", async () => {
  const r = recorder();
  const handlers: ExitHandlers = { ...r.handlers, pioIn() { throw new Error("boom"); } };
  const g = start([[{ op: "in", port: 0x60, size: 1, count: 1 }, { op: "out", port: 0x80, size: 1, values: [1] }]], handlers);
  try {
    await r.until(() => r.stops.length === 1);
    assert.equal(r.stops[0]!.why.kind, "error");
    assert.match((r.stops[0]!.why as { message: string }).message, /device handler failed: boom/);
    assert.equal(r.log[0], undefined);
  } finally {
    await g.stop();
  }
});

test("a source that fails to set up reports an error naming the vCPU", async () => {
  const r = recorder();
  const g = startVcpus({
    vmFd: -1, kvmFd: -1, setups: [setup(0)], handlers: r.handlers,
    sourceModule: new URL("./no-such-source.js", import.meta.url).href,
  });
  try {
    await r.until(() => r.stops.length === 1);
    assert.match((r.stops[0]!.why as { message: string }).message, /^vCPU 0 setup: /);
  } finally {
    await g.stop();
  }
});

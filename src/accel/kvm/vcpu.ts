// One KVM vCPU: created on the VM fd by the thread that runs it, its kvm_run page mapped,
// its state set, and KVM_RUN with the exit decoded. Also the default exit source of a
// vCPU thread (createExitSource).
import {
  IOCTL, KVM_EXIT_FAIL_ENTRY, KVM_EXIT_HLT, KVM_EXIT_INTERNAL_ERROR, KVM_EXIT_INTR, KVM_EXIT_IO,
  KVM_EXIT_IO_OUT, KVM_EXIT_MMIO, KVM_EXIT_SHUTDOWN, KVM_EXIT_SYSTEM_EVENT, KVM_RUN,
  KVM_SREGS, KVM_REGS, EXIT_NAMES,
} from "./kvm-abi.js";
import { ioctlInt, ioctlPtr, KvmError } from "./kvm.js";
import {
  decodeRegs, decodeSregs, encodeCpuid2, encodeMsrs, encodeRegs, encodeResetFpu, encodeSregsInto,
} from "./kvm-structs.js";
import { EAGAIN, EINTR, MAP_SHARED, PROT_READ, PROT_WRITE, libc, type KoffiPointer, type Libc } from "./libc.js";
import type { ExitSource, ExitSourceInit, VcpuExit } from "./exit-source.js";
import type { PioSize } from "./vcpu-exits.js";
import type { CpuidEntry, MsrEntry, Regs, Sregs } from "./vcpu-state.js";

const INTR: VcpuExit = { kind: "intr" };

export class Vcpu {
  private readonly run32: DataView;
  private readonly runBytes: Uint8Array;

  private constructor(
    readonly fd: number,
    readonly id: number,
    private readonly c: Libc,
    private readonly runPtr: KoffiPointer,
    readonly runSize: number,
  ) {
    const ab = c.koffi.view(runPtr, runSize);
    this.run32 = new DataView(ab);
    this.runBytes = new Uint8Array(ab);
  }

  /** KVM_CREATE_VCPU on the VM and maps its kvm_run. */
  static create(vmFd: number, kvmFd: number, id: number): Vcpu {
    const c = libc();
    const runSize = ioctlInt(c, kvmFd, "KVM_GET_VCPU_MMAP_SIZE");
    const fd = ioctlInt(c, vmFd, "KVM_CREATE_VCPU", id);
    const ptr = c.mmap(runSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (ptr === null) {
      const err = new KvmError("mmap(kvm_run)", c.errno());
      c.close(fd);
      throw err;
    }
    return new Vcpu(fd, id, c, ptr, runSize);
  }

  setCpuid(entries: readonly CpuidEntry[]): void {
    ioctlPtr(this.c, this.fd, "KVM_SET_CPUID2", encodeCpuid2(entries));
  }

  /** KVM_SET_MSRS returns how many it set: stopping short names the MSR KVM refused. */
  setMsrs(entries: readonly MsrEntry[]): void {
    if (entries.length === 0) return;
    const n = ioctlPtr(this.c, this.fd, "KVM_SET_MSRS", encodeMsrs(entries));
    if (n < entries.length) {
      const msr = entries[n]!.index.toString(16);
      throw new Error(`KVM_SET_MSRS: KVM refused MSR 0x${msr} (set ${n} of ${entries.length})`);
    }
  }

  getRegs(): Regs {
    const b = new Uint8Array(KVM_REGS.size);
    ioctlPtr(this.c, this.fd, "KVM_GET_REGS", b);
    return decodeRegs(b);
  }

  setRegs(regs: Regs): void {
    ioctlPtr(this.c, this.fd, "KVM_SET_REGS", encodeRegs(regs));
  }

  getSregs(): Sregs {
    const b = new Uint8Array(KVM_SREGS.size);
    ioctlPtr(this.c, this.fd, "KVM_GET_SREGS", b);
    return decodeSregs(b);
  }

  /** Read-modify-write: KVM's kvm_sregs with our fields over it. */
  setSregs(sregs: Sregs): void {
    const b = new Uint8Array(KVM_SREGS.size);
    ioctlPtr(this.c, this.fd, "KVM_GET_SREGS", b);
    encodeSregsInto(b, sregs);
    ioctlPtr(this.c, this.fd, "KVM_SET_SREGS", b);
  }

  /** x87/SSE state as after FNINIT and firmware's LDMXCSR. */
  setResetFpu(): void {
    ioctlPtr(this.c, this.fd, "KVM_SET_FPU", encodeResetFpu());
  }

  /** KVM_RUN to the next exit user space serves. */
  run(): VcpuExit {
    const r = this.c.ioctlInt(this.fd, IOCTL.KVM_RUN, 0);
    if (r < 0) {
      const errno = this.c.errno();
      if (errno === EINTR || errno === EAGAIN) return INTR;
      return { kind: "stop", why: { kind: "error", message: new KvmError("KVM_RUN", errno).message } };
    }
    return this.decodeExit();
  }

  private decodeExit(): VcpuExit {
    const v = this.run32;
    const o = KVM_RUN.off;
    const reason = v.getUint32(o.exit_reason, true);
    switch (reason) {
      case KVM_EXIT_IO: {
        const size = v.getUint8(o["io.size"]);
        const count = v.getUint32(o["io.count"], true);
        const at = Number(v.getBigUint64(o["io.data_offset"], true));
        const end = at + size * count;
        if ((size !== 1 && size !== 2 && size !== 4) || count === 0 || end > this.runSize) {
          return stopError(`KVM_EXIT_IO with size ${size} count ${count} at ${at}: outside kvm_run`);
        }
        return {
          kind: "pio", write: v.getUint8(o["io.direction"]) === KVM_EXIT_IO_OUT, port: v.getUint16(o["io.port"], true),
          size: size as PioSize, count, data: this.runBytes.subarray(at, end),
        };
      }
      case KVM_EXIT_MMIO: {
        const len = v.getUint32(o["mmio.len"], true);
        if (len < 1 || len > 8) return stopError(`KVM_EXIT_MMIO of ${len} bytes`);
        return {
          kind: "mmio", write: v.getUint8(o["mmio.is_write"]) !== 0, addr: Number(v.getBigUint64(o["mmio.phys_addr"], true)),
          size: len, data: this.runBytes.subarray(o["mmio.data"], o["mmio.data"] + len),
        };
      }
      case KVM_EXIT_INTR:
        return INTR;
      case KVM_EXIT_SHUTDOWN:
        return { kind: "stop", why: { kind: "shutdown" } };
      case KVM_EXIT_SYSTEM_EVENT:
        return { kind: "stop", why: { kind: "system-event", type: v.getUint32(o["system_event.type"], true) } };
      case KVM_EXIT_FAIL_ENTRY: {
        const hw = v.getBigUint64(o["fail_entry.hardware_entry_failure_reason"], true);
        return stopError(`KVM_EXIT_FAIL_ENTRY: hardware entry failure reason 0x${hw.toString(16)}`);
      }
      case KVM_EXIT_INTERNAL_ERROR:
        return stopError(`KVM_EXIT_INTERNAL_ERROR: suberror ${v.getUint32(o["internal.suberror"], true)}`);
      case KVM_EXIT_HLT:
        // Only without the in-kernel irqchip: nothing could wake the vCPU.
        return stopError("KVM_EXIT_HLT: the vCPU halted with no in-kernel irqchip to wake it");
      default:
        return stopError(`unexpected exit ${EXIT_NAMES[reason] ?? reason}`);
    }
  }

  /** Unmaps kvm_run; closes the fd too unless its ownership went elsewhere. */
  close(closeFd = true): void {
    this.c.munmap(this.runPtr, this.runSize);
    if (closeFd) this.c.close(this.fd);
  }
}

function stopError(message: string): VcpuExit {
  return { kind: "stop", why: { kind: "error", message } };
}

/** The vCPU thread's default exit source: a KVM vCPU set up from its VcpuSetup. */
export function createExitSource(init: ExitSourceInit): ExitSource {
  const { setup } = init;
  const vcpu = Vcpu.create(init.vmFd, init.kvmFd, setup.id);
  try {
    vcpu.setCpuid(setup.cpuid);
    vcpu.setMsrs(setup.msrs);
    if (setup.sregs) vcpu.setSregs(setup.sregs);
    if (setup.regs) vcpu.setRegs(setup.regs);
    if (setup.fpu) vcpu.setResetFpu();
  } catch (err) {
    vcpu.close();
    throw err;
  }
  return {
    kick: { vcpuFd: vcpu.fd, runSize: vcpu.runSize },
    run: () => vcpu.run(),
    close: () => vcpu.close(false),
  };
}

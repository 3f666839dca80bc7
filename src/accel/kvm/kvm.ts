// /dev/kvm and a VM, as typed handles in the spirit of rust-vmm's kvm-ioctls: Kvm (the
// system fd), Vm (a VM fd). vCPUs live in vcpu.ts (each on its own worker thread). Every
// ioctl failure becomes a KvmError naming the ioctl and errno; openKvm's failures, which
// are about the host rather than a bug, are UserErrors with one line.
import { closeSync, openSync, constants as fsConstants } from "node:fs";
import { UserError } from "../../machine/machine.js";
import { IOCTL, KVM_API_VERSION, KVM_PIT_SPEAKER_DUMMY, type IoctlName } from "./kvm-abi.js";
import {
  cpuid2Buffer, decodeCpuid2, encodeIrqLevel, encodeMemoryRegion, encodePitConfig,
} from "./kvm-structs.js";
import { errnoText, libc, type Libc } from "./libc.js";
import type { CpuidEntry } from "./vcpu-state.js";

const E2BIG = 7;
/** KVM_GET_SUPPORTED_CPUID: start with this many entries, double on E2BIG up to the max. */
const CPUID_START = 128;
const CPUID_MAX = 4096;

export class KvmError extends Error {
  override readonly name = "KvmError";
  constructor(readonly ioctl: string, readonly errno: number) {
    super(`${ioctl}: ${errnoText(errno)}`);
  }
}

/** Throws KvmError when an ioctl returned < 0; else returns its result. */
export function checkIoctl(c: Libc, ret: number, ioctl: IoctlName | string): number {
  if (ret < 0) throw new KvmError(ioctl, c.errno());
  return ret;
}

/** An ioctl with an integer argument, KvmError on failure. */
export function ioctlInt(c: Libc, fd: number, name: IoctlName, arg: number | bigint = 0): number {
  return checkIoctl(c, c.ioctlInt(fd, IOCTL[name], arg), name);
}

/** An ioctl on a struct (C reads and/or writes `arg` in place), KvmError on failure. */
export function ioctlPtr(c: Libc, fd: number, name: IoctlName, arg: Uint8Array): number {
  return checkIoctl(c, c.ioctlPtr(fd, IOCTL[name], arg), name);
}

/** Opens /dev/kvm and checks the API version; UserError with one line when it cannot. */
export function openKvm(path = "/dev/kvm"): Kvm {
  if (process.platform !== "linux" || process.arch !== "x64") {
    throw new UserError(`-accel kvm needs an x86-64 Linux host (this is ${process.platform}/${process.arch}; try -accel tcg)`);
  }
  let fd: number;
  try {
    fd = openSync(path, fsConstants.O_RDWR); // Node opens every fd close-on-exec
  } catch (err) {
    throw openError(path, err as NodeJS.ErrnoException);
  }
  try {
    const kvm = new Kvm(fd, libc());
    const version = kvm.apiVersion();
    if (version !== KVM_API_VERSION) {
      throw new UserError(`${path}: KVM API version ${version}, tsvisor needs ${KVM_API_VERSION}`);
    }
    return kvm;
  } catch (err) {
    closeSync(fd);
    if (err instanceof KvmError) throw new UserError(`${path} is not a KVM device (${err.message})`);
    throw err;
  }
}

/** The UserError for a failed open of the KVM device (exported for tests). */
export function openError(path: string, err: NodeJS.ErrnoException): UserError {
  switch (err.code) {
    case "ENOENT":
    case "ENODEV":
    case "ENXIO":
      return new UserError(`${path} not found: this host has no KVM (try -accel tcg, or load kvm_intel/kvm_amd)`);
    case "EACCES":
    case "EPERM":
      return new UserError(`${path}: permission denied (add yourself to the kvm group)`);
    default:
      return new UserError(`${path}: ${err.message}`);
  }
}

/** The KVM system fd. */
export class Kvm {
  constructor(readonly fd: number, private readonly c: Libc) {}

  apiVersion(): number {
    return ioctlInt(this.c, this.fd, "KVM_GET_API_VERSION");
  }

  /** 0 when the capability is absent, else its value (often 1, or a count). */
  checkExtension(cap: number): number {
    return ioctlInt(this.c, this.fd, "KVM_CHECK_EXTENSION", cap);
  }

  /** KVM_GET_SUPPORTED_CPUID, growing the buffer until it fits. */
  supportedCpuid(): CpuidEntry[] {
    for (let capacity = CPUID_START; ; capacity *= 2) {
      const b = cpuid2Buffer(capacity);
      const r = this.c.ioctlPtr(this.fd, IOCTL.KVM_GET_SUPPORTED_CPUID, b);
      if (r >= 0) return decodeCpuid2(b);
      const errno = this.c.errno();
      if (errno !== E2BIG || capacity >= CPUID_MAX) throw new KvmError("KVM_GET_SUPPORTED_CPUID", errno);
    }
  }

  /** Size of each vCPU's kvm_run mapping. */
  vcpuMmapSize(): number {
    return ioctlInt(this.c, this.fd, "KVM_GET_VCPU_MMAP_SIZE");
  }

  createVm(): Vm {
    return new Vm(ioctlInt(this.c, this.fd, "KVM_CREATE_VM", 0), this.c);
  }

  close(): void {
    closeFd(this.c, this.fd);
  }
}

/** A VM fd: memory slots, the in-kernel irqchip and PIT, interrupt lines. */
export class Vm {
  constructor(readonly fd: number, private readonly c: Libc) {}

  /** Maps [guestAddr, guestAddr + size) to host memory at hostAddr (size 0 deletes the slot). */
  setUserMemoryRegion(slot: number, guestAddr: number, size: number, hostAddr: bigint): void {
    ioctlPtr(this.c, this.fd, "KVM_SET_USER_MEMORY_REGION", encodeMemoryRegion(slot, 0, guestAddr, size, hostAddr));
  }

  /** Three pages Intel VT-x needs for real-mode emulation, outside RAM and MMIO. */
  setTssAddr(addr: number): void {
    ioctlInt(this.c, this.fd, "KVM_SET_TSS_ADDR", addr);
  }

  /** One page for the identity map VT-x uses in unpaged modes. */
  setIdentityMapAddr(addr: number): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, BigInt(addr), true);
    ioctlPtr(this.c, this.fd, "KVM_SET_IDENTITY_MAP_ADDR", b);
  }

  /** The in-kernel PIC, IOAPIC and per-vCPU local APICs (before any vCPU is created). */
  createIrqchip(): void {
    ioctlInt(this.c, this.fd, "KVM_CREATE_IRQCHIP");
  }

  /** The in-kernel i8254 PIT, with a dummy speaker port (0x61) as Firecracker asks. */
  createPit2(): void {
    ioctlPtr(this.c, this.fd, "KVM_CREATE_PIT2", encodePitConfig(KVM_PIT_SPEAKER_DUMMY));
  }

  /** Sets an interrupt line's level at the in-kernel PIC/IOAPIC. */
  irqLine(gsi: number, level: boolean): void {
    ioctlPtr(this.c, this.fd, "KVM_IRQ_LINE", encodeIrqLevel(gsi, level));
  }

  close(): void {
    closeFd(this.c, this.fd);
  }
}

function closeFd(c: Libc, fd: number): void {
  // Already closed or never valid: nothing to release, and no caller can act on it.
  c.close(fd);
}

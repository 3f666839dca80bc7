// The few libc calls the KVM accelerator needs, through koffi (an optional dependency,
// loaded on first use so that everything else in tsvisor runs without it). x86-64 Linux
// only: the syscall numbers below are that ABI's. Every thread (main and each vCPU worker)
// loads its own copy; koffi bindings are per thread.
import { createRequire } from "node:module";
import { UserError } from "../../machine/machine.js";

/** The parts of koffi's API we use (typed here so tsc needs no koffi to build). */
export interface KoffiPointer {
  readonly __koffiPointer?: never;
}
interface KoffiFn {
  (...args: unknown[]): any;
}
interface KoffiLib {
  func(signature: string): KoffiFn;
}
interface KoffiModule {
  load(path: string): KoffiLib;
  view(ptr: KoffiPointer, len: number): ArrayBuffer;
  address(ptr: KoffiPointer): bigint;
  errno(): number;
  os: { errno: Record<string, number> };
}

export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const MAP_SHARED = 0x01;
export const MAP_PRIVATE = 0x02;
export const MAP_ANONYMOUS = 0x20;
export const MAP_NORESERVE = 0x4000;
export const O_RDWR = 0x2;
export const O_CLOEXEC = 0x80000;
export const EINTR = 4;
export const EAGAIN = 11;
const SIG_UNBLOCK = 1;
const SYS_gettid = 186;
const SYS_tgkill = 234;
const MAP_FAILED = 0xffff_ffff_ffff_ffffn;

export interface Libc {
  koffi: KoffiModule;
  open(path: string, flags: number): number;
  close(fd: number): number;
  /** ioctl with a pointer argument (a buffer C reads and/or writes in place). */
  ioctlPtr(fd: number, request: number, arg: Uint8Array | null): number;
  /** ioctl with an integer argument. */
  ioctlInt(fd: number, request: number, arg: number | bigint): number;
  mmap(length: number, prot: number, flags: number, fd: number, offset: number): KoffiPointer | null;
  munmap(addr: KoffiPointer, length: number): number;
  eventfd(initval: number, flags: number): number;
  getpid(): number;
  gettid(): number;
  tgkill(tgid: number, tid: number, signal: number): number;
  /** Unblocks one signal in the calling thread (so a kick can reach a vCPU thread). */
  unblockSignal(signal: number): void;
  /** Sleeps until a signal handler runs (tests: a stand-in for a blocked KVM_RUN). */
  pause(): number;
  /** errno of this thread's last koffi call. */
  errno(): number;
}

let cached: Libc | undefined;
let loadError: string | undefined;

/** Loads koffi and libc once per thread; UserError when koffi is not installed. */
export function libc(): Libc {
  if (cached) return cached;
  if (loadError !== undefined) throw new UserError(loadError);
  let koffi: KoffiModule;
  try {
    koffi = createRequire(import.meta.url)("koffi") as KoffiModule;
  } catch (err) {
    loadError = `-accel kvm needs the koffi package (npm install koffi): ${(err as Error).message.split("\n")[0]}`;
    throw new UserError(loadError);
  }
  cached = bind(koffi);
  return cached;
}

function bind(koffi: KoffiModule): Libc {
  const lib = koffi.load("libc.so.6");
  const open = lib.func("int open(const char *path, int flags)");
  const close = lib.func("int close(int fd)");
  const ioctlPtr = lib.func("int ioctl(int fd, unsigned long request, void *arg)");
  const ioctlInt = lib.func("int ioctl(int fd, unsigned long request, unsigned long arg)");
  const mmap = lib.func("void *mmap(void *addr, size_t length, int prot, int flags, int fd, long offset)");
  const munmap = lib.func("int munmap(void *addr, size_t length)");
  const eventfd = lib.func("int eventfd(unsigned int initval, int flags)");
  const getpid = lib.func("int getpid()");
  const pause = lib.func("int pause()");
  const syscall3 = lib.func("long syscall(long nr, long a, long b, long c)");
  const sigemptyset = lib.func("int sigemptyset(void *set)");
  const sigaddset = lib.func("int sigaddset(void *set, int signum)");
  const pthreadSigmask = lib.func("int pthread_sigmask(int how, void *set, void *oldset)");
  return {
    koffi,
    open: (path, flags) => open(path, flags),
    close: (fd) => close(fd),
    ioctlPtr: (fd, request, arg) => ioctlPtr(fd, request, arg),
    ioctlInt: (fd, request, arg) => ioctlInt(fd, request, arg),
    mmap(length, prot, flags, fd, offset) {
      const p = mmap(null, length, prot, flags, fd, offset) as KoffiPointer | null;
      return p === null || koffi.address(p) === MAP_FAILED ? null : p;
    },
    munmap: (addr, length) => munmap(addr, length),
    eventfd: (initval, flags) => eventfd(initval, flags),
    getpid: () => getpid(),
    gettid: () => Number(syscall3(SYS_gettid, 0, 0, 0)),
    tgkill: (tgid, tid, signal) => Number(syscall3(SYS_tgkill, tgid, tid, signal)),
    unblockSignal(signal) {
      const set = new Uint8Array(128); // sizeof(sigset_t) in glibc
      sigemptyset(set);
      sigaddset(set, signal);
      pthreadSigmask(SIG_UNBLOCK, set, null);
    },
    pause: () => pause(),
    errno: () => koffi.errno(),
  };
}

/** "EPERM (Operation not permitted)" for an errno value. */
export function errnoText(errno: number): string {
  const name = errnoName(errno);
  const text = ERRNO_TEXT[errno];
  return text ? `${name} (${text})` : name;
}

function errnoName(errno: number): string {
  for (const [name, value] of Object.entries(ERRNO_NAMES)) if (value === errno) return name;
  return `errno ${errno}`;
}

// Linux's numbers (asm-generic/errno-base.h, errno.h) for the errors KVM calls give, with
// glibc's strerror texts: fixed here so messages do not depend on koffi being loaded.
const ERRNO_NAMES: Readonly<Record<string, number>> = {
  EPERM: 1, ENOENT: 2, ESRCH: 3, EINTR: 4, EIO: 5, ENXIO: 6, E2BIG: 7, ENOEXEC: 8, EBADF: 9,
  ECHILD: 10, EAGAIN: 11, ENOMEM: 12, EACCES: 13, EFAULT: 14, EBUSY: 16, EEXIST: 17, ENODEV: 19,
  ENOTDIR: 20, EISDIR: 21, EINVAL: 22, ENFILE: 23, EMFILE: 24, ENOTTY: 25, ENOSPC: 28, ESPIPE: 29,
  EROFS: 30, ERANGE: 34, ENOSYS: 38, EOPNOTSUPP: 95,
};
const ERRNO_TEXT: Readonly<Record<number, string>> = {
  1: "Operation not permitted", 2: "No such file or directory", 3: "No such process",
  4: "Interrupted system call", 5: "Input/output error", 6: "No such device or address",
  7: "Argument list too long", 8: "Exec format error", 9: "Bad file descriptor", 10: "No child processes",
  11: "Resource temporarily unavailable", 12: "Cannot allocate memory", 13: "Permission denied",
  14: "Bad address", 16: "Device or resource busy", 17: "File exists", 19: "No such device",
  20: "Not a directory", 21: "Is a directory", 22: "Invalid argument", 23: "Too many open files in system",
  24: "Too many open files", 25: "Inappropriate ioctl for device", 28: "No space left on device",
  29: "Illegal seek", 30: "Read-only file system", 34: "Numerical result out of range",
  38: "Function not implemented", 95: "Operation not supported",
};

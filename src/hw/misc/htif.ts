// Berkeley Host-Target Interface (HTIF), as spike's front-end server and QEMU's
// hw/char/riscv_htif.c speak it: two 64-bit mailboxes. The guest writes a request to
// `tohost`; the host clears `tohost`, acts, and answers in `fromhost`.
//   tohost = device << 56 | command << 48 | payload (48 bits)
//   device 0, command 0: payload bit 0 set   -> exit, code = payload >> 1 (0 = pass)
//                        payload bit 0 clear -> payload points at a syscall block of
//                        eight u64s {number, arg0, arg1, arg2, ...}; the result goes to
//                        block[0] and fromhost = 1 (riscv-tests' printf uses write)
//   device 1, command 0: read a console byte  -> fromhost = 1 << 56 | 0x100 | byte
//   device 1, command 1: write the low byte   -> fromhost = 1 << 56 | 1 << 48 | 0x100 | byte
// The mailboxes live either in guest RAM (the ELF's `tohost`/`fromhost` symbols; the CPU
// stores there directly, so the board calls poll() between slices) or in the MMIO window
// `HtifMmio` (QEMU spike's 0x1000000 when the ELF has no symbols: fromhost at +0, tohost at +8).
import type { AccessSize, MachineControl, MmioDevice } from "../device.js";
import type { GuestMemory } from "../../machine/guest-memory.js";
import { RAM_OFFSET } from "../../machine/guest-memory.js";

const DEV_SYSTEM = 0n;
const DEV_CONSOLE = 1n;
const CMD_SYSCALL = 0n;
const CMD_GETC = 0n;
const CMD_PUTC = 1n;
const PAYLOAD_MASK = (1n << 48n) - 1n;

// Proxied system calls (riscv-pk numbering, the Linux generic ABI).
const SYS_WRITE = 64n;
const SYS_EXIT = 93n;
const ENOSYS = 38n;
const EBADF = 9n;
const SYSCALL_BLOCK_SIZE = 8 * 8;
/** Longest write() we copy out in one request; guards against a wild length. */
const MAX_WRITE = 1 << 20;

/** Where the two mailboxes are stored. */
export interface HtifMailboxes {
  readTohost(): bigint;
  writeTohost(v: bigint): void;
  readFromhost(): bigint;
  writeFromhost(v: bigint): void;
}

export interface HtifOptions {
  mailboxes: HtifMailboxes;
  /** Guest RAM, for syscall blocks and write() buffers. */
  mem: GuestMemory;
  /** Console output (putchar, write to fd 1 or 2). */
  consoleWrite: (data: Uint8Array) => void;
  machine: MachineControl;
}

export class Htif {
  private readonly box: HtifMailboxes;
  private readonly mem: GuestMemory;
  private readonly consoleWrite: (data: Uint8Array) => void;
  private readonly machine: MachineControl;
  /** Answers waiting for the guest to empty fromhost. */
  private readonly replies: bigint[] = [];
  /** Console reads waiting for input (their request words). */
  private readonly pendingReads: bigint[] = [];
  private readonly input: number[] = [];

  constructor(opts: HtifOptions) {
    this.box = opts.mailboxes;
    this.mem = opts.mem;
    this.consoleWrite = opts.consoleWrite;
    this.machine = opts.machine;
  }

  /** Serves a request in tohost, if any, and delivers the next answer once fromhost is free. */
  poll(): void {
    const request = this.box.readTohost();
    if (request !== 0n) {
      this.box.writeTohost(0n);
      this.handle(request);
    }
    while (this.pendingReads.length > 0 && this.input.length > 0) {
      const req = this.pendingReads.shift()!;
      this.reply(req, 0x100n | BigInt(this.input.shift()!));
    }
    if (this.replies.length > 0 && this.box.readFromhost() === 0n) {
      this.box.writeFromhost(this.replies.shift()!);
    }
  }

  /** Host console input for the guest's getchar requests. */
  receive(data: Uint8Array): void {
    for (const b of data) this.input.push(b);
  }

  private handle(request: bigint): void {
    const device = request >> 56n;
    const command = (request >> 48n) & 0xffn;
    const payload = request & PAYLOAD_MASK;
    if (device === DEV_SYSTEM && command === CMD_SYSCALL) {
      if (payload & 1n) return this.machine.powerOff(Number(payload >> 1n));
      return this.syscall(request, payload);
    }
    if (device === DEV_CONSOLE && command === CMD_PUTC) {
      this.consoleWrite(Uint8Array.of(Number(payload & 0xffn)));
      return this.reply(request, 0x100n | (payload & 0xffn));
    }
    if (device === DEV_CONSOLE && command === CMD_GETC) {
      this.pendingReads.push(request);
    }
    // Unknown devices and commands are dropped, as QEMU does.
  }

  private syscall(request: bigint, block: bigint): void {
    const addr = Number(block);
    if (!this.mem.inRam(addr, SYSCALL_BLOCK_SIZE)) return;
    const at = RAM_OFFSET + addr - this.mem.ramBase;
    const arg = (i: number) => this.mem.view.getBigUint64(at + i * 8, true);
    const num = arg(0);
    let result = -ENOSYS;
    if (num === SYS_WRITE) result = this.write(arg(1), arg(2), arg(3));
    else if (num === SYS_EXIT) return this.machine.powerOff(Number(BigInt.asIntN(32, arg(1))));
    this.mem.beforeHostWrite?.(addr, 8);
    this.mem.view.setBigUint64(at, BigInt.asUintN(64, result), true);
    this.reply(request, 1n);
  }

  private write(fd: bigint, buf: bigint, len: bigint): bigint {
    if (fd !== 1n && fd !== 2n) return -EBADF;
    const n = Number(len > BigInt(MAX_WRITE) ? BigInt(MAX_WRITE) : len);
    if (!this.mem.inRam(Number(buf), n)) return -14n; // EFAULT
    this.consoleWrite(this.mem.bytes(Number(buf), n).slice());
    return BigInt(n);
  }

  /** fromhost keeps the request's device and command above the 48-bit answer. */
  private reply(request: bigint, answer: bigint): void {
    this.replies.push(((request >> 48n) << 48n) | (answer & PAYLOAD_MASK));
  }
}

/** Mailboxes at the ELF's `tohost`/`fromhost` symbols in guest RAM. */
export function ramMailboxes(mem: GuestMemory, tohost: number, fromhost: number): HtifMailboxes {
  const off = (pa: number) => RAM_OFFSET + pa - mem.ramBase;
  const put = (pa: number, v: bigint) => {
    mem.beforeHostWrite?.(pa, 8); // what the host writes may be translated code
    mem.view.setBigUint64(off(pa), v, true);
  };
  return {
    readTohost: () => mem.view.getBigUint64(off(tohost), true),
    writeTohost: (v) => put(tohost, v),
    readFromhost: () => mem.view.getBigUint64(off(fromhost), true),
    writeFromhost: (v) => put(fromhost, v),
  };
}

const FROMHOST = 0x0;
const TOHOST = 0x8;

/**
 * QEMU spike's HTIF window for ELFs without the symbols: fromhost at +0, tohost at +8.
 * Registers are written as 32-bit halves, low first; a request is whole (and announced
 * through `onRequest`) once the high half of tohost arrives, as in QEMU.
 */
export class HtifMmio implements MmioDevice, HtifMailboxes {
  readonly size = 0x1000;
  /** Set by the board: serve the request now rather than at the next poll. */
  onRequest: () => void = () => {};
  private tohost = 0n;
  private tohostLow = 0;
  private fromhost = 0n;

  readTohost(): bigint {
    return this.tohost;
  }
  writeTohost(v: bigint): void {
    this.tohost = v;
  }
  readFromhost(): bigint {
    return this.fromhost;
  }
  writeFromhost(v: bigint): void {
    this.fromhost = v;
  }

  read(offset: number, size: AccessSize): number {
    const reg = offset < TOHOST ? this.fromhost : offset < TOHOST + 8 ? this.tohost : 0n;
    const shift = BigInt((offset & 7) * 8);
    return Number((reg >> shift) & ((1n << BigInt(size * 8)) - 1n));
  }

  write(offset: number, value: number, size: AccessSize): void {
    if (size !== 4) return;
    const v = BigInt(value >>> 0);
    switch (offset) {
      case FROMHOST:
        this.fromhost = (this.fromhost & ~0xffffffffn) | v;
        return;
      case FROMHOST + 4:
        this.fromhost = (this.fromhost & 0xffffffffn) | (v << 32n);
        return;
      case TOHOST:
        this.tohostLow = value >>> 0;
        return;
      case TOHOST + 4:
        this.tohost = (v << 32n) | BigInt(this.tohostLow);
        this.onRequest();
        return;
    }
  }
}

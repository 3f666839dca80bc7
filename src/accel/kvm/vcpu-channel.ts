// The per-vCPU mailbox between a vCPU thread and the main thread: one SharedArrayBuffer,
// a state word both sides move with Atomics, the request's fields, and a data area for
// the bytes (a `rep outs` sends up to a page). One request at a time per vCPU.
//
//   worker: IDLE -> REQUEST (compareExchange; fails only when CANCELLED), notify, wait
//   main:   REQUEST -> ANSWERED (compareExchange; a stop() in a handler wins), notify
//   worker: ANSWERED -> IDLE (compareExchange), copies the answer into kvm_run
//   main:   anything -> CANCELLED (stop): the worker ends at its next look
export const STATE = 0;
export const KIND = 1;
export const ADDR_LO = 2;
export const ADDR_HI = 3;
export const SIZE = 4;
export const COUNT = 5;
/** Counters the worker keeps (only it writes them). */
export const EXITS = 6;
export const PIO_EXITS = 7;
export const MMIO_EXITS = 8;

export const IDLE = 0;
export const REQUEST = 1;
export const ANSWERED = 2;
export const CANCELLED = 3;

export const KIND_PIO_IN = 1;
export const KIND_PIO_OUT = 2;
export const KIND_MMIO_READ = 3;
export const KIND_MMIO_WRITE = 4;

/** Byte offset of the data area, and its size: KVM's PIO data is one page at most. */
export const DATA = 64;
export const DATA_SIZE = 4096;

export interface Channel {
  readonly sab: SharedArrayBuffer;
  readonly i32: Int32Array;
  readonly data: Uint8Array;
}

export function createChannel(): Channel {
  return openChannel(new SharedArrayBuffer(DATA + DATA_SIZE));
}

export function openChannel(sab: SharedArrayBuffer): Channel {
  return { sab, i32: new Int32Array(sab, 0, DATA / 4), data: new Uint8Array(sab, DATA, DATA_SIZE) };
}

// What a disk device (virtio-blk, later others) sees of an image: a byte-addressed,
// fixed-size store. Formats (raw, qcow2, overlays) implement it; devices never know which.
// Calls are synchronous: the emulator is single-threaded and a request completes before
// the device reports it used, which keeps device models simple and ordering obvious.

export interface BlockBackend {
  /** Size of the virtual disk in bytes (a multiple of 512). */
  readonly size: number;
  readonly readOnly: boolean;
  /** Fills `buf` from `offset`; throws BlockIoError on failure. */
  read(offset: number, buf: Uint8Array): void;
  /** Writes `data` at `offset`; throws BlockIoError (read-only, out of range, host error). */
  write(offset: number, data: Uint8Array): void;
  /** Everything written so far is on stable storage when this returns (fsync). */
  flush(): void;
  /** The range may be deallocated; reads of it may return anything until rewritten... */
  discard(offset: number, length: number): void;
  /** The range reads as zeros afterwards; `unmap` allows deallocating it. */
  writeZeroes(offset: number, length: number, unmap: boolean): void;
  close(): void;
}

/** A guest-visible I/O failure (the device reports an error status, the VM goes on). */
export class BlockIoError extends Error {
  override readonly name = "BlockIoError";
}

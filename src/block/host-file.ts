// An open host file as the image formats use it: positioned reads and writes with
// short reads past end-of-file filled with zeros, and every host error turned into a
// BlockIoError for the guest. Block backends use node:fs directly (the preamble's
// pragmatic exception): an interface split here would only rename fs.readSync.
import * as fs from "node:fs";
import { BlockIoError } from "./block-backend.js";

export class HostFile {
  private closed = false;

  private constructor(
    readonly path: string,
    readonly fd: number,
    readonly readOnly: boolean,
  ) {}

  /** Opens an existing file; throws Node's error (the caller words it for the user). */
  static open(path: string, readOnly: boolean): HostFile {
    const fd = fs.openSync(path, readOnly ? "r" : "r+");
    return new HostFile(path, fd, readOnly);
  }

  /** Creates (or truncates) a file for writing. */
  static create(path: string): HostFile {
    return new HostFile(path, fs.openSync(path, "w+"), false);
  }

  /** Fills `buf` from `offset`; bytes past end-of-file read as zeros. */
  read(offset: number, buf: Uint8Array): void {
    let done = 0;
    while (done < buf.length) {
      const n = this.io(() => fs.readSync(this.fd, buf, done, buf.length - done, offset + done));
      if (n === 0) break;
      done += n;
    }
    if (done < buf.length) buf.fill(0, done);
  }

  write(offset: number, data: Uint8Array): void {
    if (this.readOnly) throw new BlockIoError(`${this.path}: image is read-only`);
    let done = 0;
    while (done < data.length) {
      done += this.io(() => fs.writeSync(this.fd, data, done, data.length - done, offset + done));
    }
  }

  length(): number {
    return this.io(() => fs.fstatSync(this.fd).size);
  }

  /** Bytes the file occupies on the host (qemu-img's "disk size"). */
  allocatedBytes(): number {
    const st = this.io(() => fs.fstatSync(this.fd));
    return st.blocks * 512;
  }

  truncate(length: number): void {
    this.io(() => fs.ftruncateSync(this.fd, length));
  }

  sync(): void {
    this.io(() => fs.fsyncSync(this.fd));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    fs.closeSync(this.fd);
  }

  private io<T>(op: () => T): T {
    if (this.closed) throw new BlockIoError(`${this.path}: image is closed`);
    try {
      return op();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? "EIO";
      throw new BlockIoError(`${this.path}: ${code}: ${(err as Error).message}`);
    }
  }
}

/** QEMU's cache= modes; they decide when writes reach the disk. */
export type CacheMode = "writeback" | "none" | "writethrough" | "directsync" | "unsafe";

export const CACHE_MODES: readonly CacheMode[] = ["writeback", "none", "writethrough", "directsync", "unsafe"];

/** writethrough/directsync: every write is on stable storage before it completes. */
export function syncsEachWrite(cache: CacheMode): boolean {
  return cache === "writethrough" || cache === "directsync";
}

/** A bounded zero buffer: zero-writes loop over it, never allocating the guest's length. */
export const ZERO_CHUNK = new Uint8Array(1 << 20);

/** Throws BlockIoError unless [offset, offset+length) lies within a disk of `size` bytes. */
export function checkRange(size: number, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
    throw new BlockIoError(`access at ${offset}+${length} is outside the ${size}-byte disk`);
  }
}

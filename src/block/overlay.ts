// -snapshot: a throw-away overlay over a read-only base. Written data goes to an
// unlinked sparse temp file at the same offsets, and a bitmap with one bit per 64 KiB
// chunk says which chunks the overlay holds; RAM is bounded by the disk size (2 KiB of
// bitmap per GiB), never by how much the guest writes. Partial-chunk writes first copy
// the chunk from the base. Closing (or the process dying) drops everything.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { BlockIoError, type BlockBackend } from "./block-backend.js";
import { HostFile, ZERO_CHUNK, checkRange } from "./host-file.js";

const CHUNK = 64 * 1024;

export class SnapshotOverlay implements BlockBackend {
  readonly size: number;
  readonly readOnly = false;
  private readonly present: Uint8Array;
  private readonly temp: HostFile;

  constructor(private readonly base: BlockBackend) {
    this.size = base.size;
    this.present = new Uint8Array(Math.ceil(Math.ceil(base.size / CHUNK) / 8));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "tsvisor-snapshot-"));
    const file = path.join(dir, "overlay");
    try {
      this.temp = HostFile.create(file);
    } finally {
      // Unlinked at once: the data lives only as long as the open descriptor.
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  read(offset: number, buf: Uint8Array): void {
    checkRange(this.size, offset, buf.length);
    this.eachChunk(offset, buf.length, (chunk, at, pos, len) => {
      const part = buf.subarray(pos, pos + len);
      if (this.has(chunk)) this.temp.read(at, part);
      else this.base.read(at, part);
    });
  }

  write(offset: number, data: Uint8Array): void {
    checkRange(this.size, offset, data.length);
    this.eachChunk(offset, data.length, (chunk, at, pos, len) => {
      this.fill(chunk, at, len);
      this.temp.write(at, data.subarray(pos, pos + len));
    });
  }

  /** Nothing here needs to survive: flush has nothing to do. */
  flush(): void {}

  discard(offset: number, length: number): void {
    checkRange(this.size, offset, length);
  }

  writeZeroes(offset: number, length: number, _unmap: boolean): void {
    checkRange(this.size, offset, length);
    this.eachChunk(offset, length, (chunk, at, _pos, len) => {
      this.fill(chunk, at, len);
      this.temp.write(at, ZERO_CHUNK.subarray(0, len));
    });
  }

  close(): void {
    this.temp.close();
    this.base.close();
  }

  /** Before a partial write, the chunk's other bytes come from the base. */
  private fill(chunk: number, at: number, len: number): void {
    if (this.has(chunk)) return;
    const start = chunk * CHUNK;
    const end = Math.min(start + CHUNK, this.size);
    if (at !== start || at + len !== end) {
      const copy = new Uint8Array(end - start);
      this.base.read(start, copy);
      this.temp.write(start, copy);
    }
    this.present[chunk >> 3] |= 1 << (chunk & 7);
  }

  private has(chunk: number): boolean {
    return (this.present[chunk >> 3] & (1 << (chunk & 7))) !== 0;
  }

  private eachChunk(offset: number, length: number, fn: (chunk: number, at: number, pos: number, len: number) => void): void {
    for (let pos = 0; pos < length; ) {
      const at = offset + pos;
      const chunk = Math.floor(at / CHUNK);
      const len = Math.min(length - pos, (chunk + 1) * CHUNK - at);
      fn(chunk, at, pos, len);
      pos += len;
    }
  }
}

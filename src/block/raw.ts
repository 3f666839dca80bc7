// A raw image: the file is the disk, byte for byte.
//
// Size: as QEMU (bdrv_refresh_total_sectors rounds up with DIV_ROUND_UP), a file whose
// length is not a multiple of 512 shows its last partial sector whole; the missing tail
// reads as zeros and writing it extends the file.
// Discard is a no-op (Node has no fallocate(PUNCH_HOLE)); the virtio-blk contract lets
// discarded ranges read as anything, so keeping the old data is correct, just not sparse.
// cache=: writeback/none flush with fsync; writethrough/directsync also fsync after every
// write; unsafe makes flush a no-op. O_DIRECT is never used (Node cannot align buffers).
import { BlockIoError, type BlockBackend } from "./block-backend.js";
import { HostFile, ZERO_CHUNK, checkRange, syncsEachWrite, type CacheMode } from "./host-file.js";

export const SECTOR = 512;

export class RawBackend implements BlockBackend {
  readonly size: number;
  readonly readOnly: boolean;

  constructor(
    private readonly file: HostFile,
    private readonly cache: CacheMode = "writeback",
  ) {
    this.readOnly = file.readOnly;
    this.size = Math.ceil(file.length() / SECTOR) * SECTOR;
  }

  read(offset: number, buf: Uint8Array): void {
    checkRange(this.size, offset, buf.length);
    this.file.read(offset, buf);
  }

  write(offset: number, data: Uint8Array): void {
    this.checkWritable();
    checkRange(this.size, offset, data.length);
    this.file.write(offset, data);
    if (syncsEachWrite(this.cache)) this.file.sync();
  }

  flush(): void {
    if (this.cache !== "unsafe" && !this.readOnly) this.file.sync();
  }

  discard(offset: number, length: number): void {
    this.checkWritable();
    checkRange(this.size, offset, length);
  }

  writeZeroes(offset: number, length: number, _unmap: boolean): void {
    this.checkWritable();
    checkRange(this.size, offset, length);
    for (let done = 0; done < length; ) {
      const n = Math.min(ZERO_CHUNK.length, length - done);
      this.file.write(offset + done, ZERO_CHUNK.subarray(0, n));
      done += n;
    }
    if (syncsEachWrite(this.cache)) this.file.sync();
  }

  close(): void {
    this.file.close();
  }

  private checkWritable(): void {
    if (this.readOnly) throw new BlockIoError(`${this.file.path}: image is read-only`);
  }
}

// Opening a disk image the way -drive does: probe or check the format, open backing
// files (either format, relative to the image's directory), take the write lock, and put
// the -snapshot overlay on top. Every failure here is one UserError line naming the file.
import * as fs from "node:fs";
import * as path from "node:path";
import { UserError } from "../machine/machine.js";
import { BlockIoError, type BlockBackend } from "./block-backend.js";
import { HostFile, type CacheMode } from "./host-file.js";
import { lockImage } from "./image-lock.js";
import { SnapshotOverlay } from "./overlay.js";
import { RawBackend } from "./raw.js";
import { Qcow2Backend, QCOW2_MAGIC } from "./qcow2.js";

export type ImageFormat = "raw" | "qcow2";
export const IMAGE_FORMATS: readonly ImageFormat[] = ["raw", "qcow2"];

export interface BlockOpenOptions {
  file: string;
  /** Probed from the file's first bytes when absent (as QEMU, with a warning for raw). */
  format?: string;
  readOnly?: boolean;
  /** -snapshot: writes go to a throw-away overlay; the image is opened read-only. */
  snapshot?: boolean;
  cache?: CacheMode;
  /** Takes QEMU-style warnings ("WARNING: Image format was not specified ..."). */
  warn?: (line: string) => void;
}

/** Backing chains longer than this are taken for loops (QEMU allows more, images rarely do). */
const MAX_CHAIN = 32;

export function openBlockBackend(opts: BlockOpenOptions): BlockBackend {
  if (opts.snapshot) {
    return new SnapshotOverlay(openChain({ ...opts, readOnly: true, snapshot: false }, 0));
  }
  return openChain(opts, 0);
}

/** Reads an image's first bytes and names its format. */
export function probeFormat(file: HostFile): ImageFormat {
  const head = new Uint8Array(4);
  file.read(0, head);
  const magic = ((head[0] << 24) | (head[1] << 16) | (head[2] << 8) | head[3]) >>> 0;
  return magic === QCOW2_MAGIC ? "qcow2" : "raw";
}

export function checkFormat(name: string): ImageFormat {
  if ((IMAGE_FORMATS as readonly string[]).includes(name)) return name as ImageFormat;
  throw new UserError(`Unknown driver '${name}' (supported formats: ${IMAGE_FORMATS.join(", ")})`);
}

function openChain(opts: BlockOpenOptions, depth: number): BlockBackend {
  if (depth > MAX_CHAIN) throw new UserError(`${opts.file}: backing file chain is too long (a loop?)`);
  const readOnly = opts.readOnly ?? false;
  const format = opts.format === undefined ? undefined : checkFormat(opts.format);
  const file = openHostFile(opts.file, readOnly);
  let lock: { release(): void } | undefined;
  try {
    const probed = format ?? probeFormat(file);
    if (format === undefined && probed === "raw" && depth === 0) {
      opts.warn?.(
        `WARNING: Image format was not specified for '${opts.file}' and probing guessed raw. ` +
          `Specify the 'raw' format explicitly to remove this warning.`,
      );
    }
    if (!readOnly) lock = lockImage(opts.file, file.fd);
    const backend = openFormat(probed, file, opts, depth);
    return withRelease(backend, lock);
  } catch (err) {
    lock?.release();
    file.close();
    if (err instanceof BlockIoError) throw new UserError(`${opts.file}: ${err.message.replace(`${opts.file}: `, "")}`);
    throw err;
  }
}

function openFormat(format: ImageFormat, file: HostFile, opts: BlockOpenOptions, depth: number): BlockBackend {
  const cache = opts.cache ?? "writeback";
  if (format === "raw") return new RawBackend(file, cache);
  return Qcow2Backend.open(file, {
    cache,
    openBacking: (name, backingFormat) =>
      openChain({ file: resolveBacking(opts.file, name), format: backingFormat, readOnly: true, cache }, depth + 1),
  });
}

/** A relative backing file name is relative to the directory of the image naming it. */
export function resolveBacking(image: string, backing: string): string {
  return path.isAbsolute(backing) ? backing : path.join(path.dirname(image), backing);
}

function openHostFile(file: string, readOnly: boolean): HostFile {
  try {
    if (fs.statSync(file).isDirectory()) throw new UserError(`Could not open '${file}': Is a directory`);
    return HostFile.open(file, readOnly);
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`Could not open '${file}': ${errnoText(err)}`);
  }
}

/** strerror()'s words for the errors an open meets (src/host imports this module: no cycle). */
function errnoText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  const known: Record<string, string> = {
    ENOENT: "No such file or directory",
    EACCES: "Permission denied",
    EPERM: "Operation not permitted",
    EISDIR: "Is a directory",
    ELOOP: "Too many levels of symbolic links",
    ENOTDIR: "Not a directory",
    EROFS: "Read-only file system",
  };
  return (code && known[code]) ?? (err instanceof Error ? err.message : String(err));
}

/** Closing the backend also drops the image lock. */
function withRelease(backend: BlockBackend, lock: { release(): void } | undefined): BlockBackend {
  if (!lock) return backend;
  const close = backend.close.bind(backend);
  backend.close = () => {
    try {
      close();
    } finally {
      lock.release();
    }
  };
  return backend;
}

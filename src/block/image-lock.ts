// One writer per image. Node has no flock(), so the lock is a file created with O_EXCL
// in the temp directory, named after the image's device and inode (so two paths to one
// image, or a symlink, find the same lock) and holding the owner's PID; a lock whose PID
// is gone is stale and taken over. Read-only opens take no lock.
//
// QEMU locks images with OFD fcntl locks on bytes 100-200 of the file itself; Node cannot
// take those, so a tsvisor and a QEMU writing the same image do not see each other's
// locks. Do not run both on one image at once.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { UserError } from "../machine/machine.js";

export interface ImageLock {
  release(): void;
}

const LOCK_DIR = path.join(os.tmpdir(), "tsvisor-locks");

/** Takes the write lock on an open image, or throws "IMG is in use by another process (locked)". */
export function lockImage(image: string, fd: number): ImageLock {
  const st = fs.fstatSync(fd);
  if (fs.mkdirSync(LOCK_DIR, { recursive: true }) !== undefined) {
    fs.chmodSync(LOCK_DIR, 0o1777); // shared by all users, like /tmp (mkdir's mode is umasked)
  }
  const lockPath = path.join(LOCK_DIR, `${st.dev}-${st.ino}.lock`);
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      fs.writeFileSync(lockPath, `${process.pid}\n`, { flag: "wx" });
      return { release: () => releaseLock(lockPath) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const owner = readOwner(lockPath);
    if (owner !== undefined && isAlive(owner)) break;
    fs.rmSync(lockPath, { force: true }); // stale: its owner died without unlocking
  }
  throw new UserError(`${image} is in use by another process (locked)`);
}

function releaseLock(lockPath: string): void {
  if (readOwner(lockPath) === process.pid) fs.rmSync(lockPath, { force: true });
}

function readOwner(lockPath: string): number | undefined {
  try {
    const pid = Number.parseInt(fs.readFileSync(lockPath, "utf8"), 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

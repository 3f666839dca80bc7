// Where built guests live and how a build earns its place there.
//
// Layout under the cache (TSVISOR_CACHE, default ~/.cache/tsvisor):
//   riscv64/<target>-<key>/   finished outputs of one recipe; present means complete
//   logs/<target>-<key>.log   the full log of the latest build attempt of that recipe
//   tmp/<target>-<key>-<pid>/ a build in progress (removed when its process is gone)
//   locks/<target>-<key>      held by the process building that recipe
//   downloads/                Debian source packages fetched with `apt-get source`
//   package-versions.json     installed Debian package versions, while dpkg's database is unchanged
// The key hashes everything the outputs depend on (see recipeKey), so a changed config
// builds afresh and an unchanged one is reused. Outputs are written to a temp folder
// and renamed into place, so an interrupted build is never mistaken for a finished one.

import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

export const ARCH_DIR = "riscv64";

/** The cache root: $TSVISOR_CACHE, else $XDG_CACHE_HOME/tsvisor, else ~/.cache/tsvisor. */
export function cacheDir(): string {
  if (process.env.TSVISOR_CACHE) return path.resolve(process.env.TSVISOR_CACHE);
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache");
  return path.join(base, "tsvisor");
}

/** The folder holding the recipe files (guest/riscv64/*), found from this module's place
 *  whether it runs from dist/guest/ or from guest/ itself. */
export function recipeDir(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const candidate = path.join(dir, "guest", ARCH_DIR);
    if (fs.existsSync(path.join(candidate, "linux.config"))) return candidate;
    if (path.basename(dir) === "guest" && fs.existsSync(path.join(dir, ARCH_DIR, "linux.config"))) {
      return path.join(dir, ARCH_DIR);
    }
    dir = path.dirname(dir);
  }
  throw new Error("tsvisor: cannot find guest/riscv64/linux.config next to the build scripts");
}

/** What a target's outputs depend on; recipeKey hashes it. */
export interface RecipeInputs {
  name: string;
  /** Bump to force a rebuild when a change isn't visible in the other inputs. */
  version: number;
  /** Recipe files, relative to recipeDir(). */
  files: readonly string[];
  /** Debian packages whose installed versions matter. */
  packages: readonly string[];
  /** Keys of the targets this one consumes. */
  deps: Readonly<Record<string, string>>;
  /** Source text of the build steps (Function.toString), so editing them rebuilds. */
  code: string;
}

/** Installed versions of Debian packages; "missing" for those not installed. */
export function packageVersions(names: readonly string[]): Record<string, string> {
  const result: Record<string, string> = {};
  if (names.length === 0) return result;
  // Every --default-guest run computes the recipe keys: a dpkg-query per recipe took
  // ~80 of the ~120 ms it spent before the first guest instruction. Versions are kept
  // in the cache, valid while dpkg's database is unchanged.
  const stamp = dpkgStamp();
  const memo = stamp === undefined ? undefined : readVersionMemo(stamp);
  const unknown = names.filter((n) => memo?.[n] === undefined);
  const queried = unknown.length > 0 ? queryPackageVersions(unknown) : {};
  if (stamp !== undefined && unknown.length > 0) writeVersionMemo(stamp, { ...memo, ...queried });
  for (const n of names) result[n] = memo?.[n] ?? queried[n]!;
  return result;
}

function queryPackageVersions(names: readonly string[]): Record<string, string> {
  const result: Record<string, string> = {};
  for (const n of names) result[n] = "missing";
  let out = "";
  try {
    out = execFileSync("dpkg-query", ["-W", "-f=${Package} ${Version} ${db:Status-Abbrev}\n", ...names], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    });
  } catch (e) {
    // dpkg-query exits 1 when some package is unknown but still prints the others.
    out = String((e as { stdout?: string }).stdout ?? "");
  }
  for (const line of out.split("\n")) {
    const [pkg, version, status] = line.trim().split(/\s+/);
    if (pkg && version && status?.startsWith("ii")) result[pkg.split(":")[0]!] = version;
  }
  return result;
}

const DPKG_STATUS = "/var/lib/dpkg/status";

/** Changes whenever a package is installed or removed; undefined without dpkg. */
function dpkgStamp(): string | undefined {
  try {
    const st = fs.statSync(DPKG_STATUS);
    return `${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch {
    return undefined;
  }
}

function versionMemoPath(): string {
  return path.join(cacheDir(), "package-versions.json");
}

function readVersionMemo(stamp: string): Record<string, string> | undefined {
  try {
    const memo = JSON.parse(fs.readFileSync(versionMemoPath(), "utf8")) as { stamp?: string; versions?: Record<string, string> };
    return memo.stamp === stamp ? memo.versions : undefined;
  } catch {
    return undefined;
  }
}

/** Best effort (a read-only cache only costs the queries): written whole, then renamed. */
function writeVersionMemo(stamp: string, versions: Record<string, string>): void {
  const file = versionMemoPath();
  const tmp = `${file}.${process.pid}`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(tmp, JSON.stringify({ stamp, versions }));
    fs.renameSync(tmp, file);
  } catch {
    fs.rmSync(tmp, { force: true });
  }
}

/** A short hash of everything the outputs depend on. */
export function recipeKey(inputs: RecipeInputs): string {
  const hash = createHash("sha256");
  const dir = recipeDir();
  hash.update(JSON.stringify({ name: inputs.name, version: inputs.version, deps: inputs.deps }));
  for (const file of [...inputs.files].sort()) {
    hash.update(`\0file ${file}\0`);
    hash.update(fs.readFileSync(path.join(dir, file)));
  }
  hash.update(JSON.stringify(packageVersions([...inputs.packages].sort())));
  hash.update(inputs.code);
  return hash.digest("hex").slice(0, 16);
}

export function outputDir(name: string, key: string): string {
  return path.join(cacheDir(), ARCH_DIR, `${name}-${key}`);
}

export function logPath(name: string, key: string): string {
  return path.join(cacheDir(), "logs", `${name}-${key}.log`);
}

export function isBuilt(name: string, key: string): boolean {
  return fs.existsSync(outputDir(name, key));
}

function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    // A killed build may linger as a zombie until its parent reaps it: that is dead too.
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

/** Removes temp folders left by builds whose process has gone (crash, Ctrl-C, reboot). */
export function sweepStaleTemps(): void {
  const tmp = path.join(cacheDir(), "tmp");
  if (!fs.existsSync(tmp)) return;
  for (const entry of fs.readdirSync(tmp)) {
    const pid = Number(entry.slice(entry.lastIndexOf("-") + 1));
    if (!pidAlive(pid)) fs.rmSync(path.join(tmp, entry), { recursive: true, force: true });
  }
}

/** Temp folders and locks of this process, removed if it exits mid-build. */
const owned = new Set<string>();
process.on("exit", () => {
  for (const p of owned) fs.rmSync(p, { recursive: true, force: true });
});

/** A fresh private folder for one build attempt: work/ for sources, out/ for results. */
export function makeTempDir(name: string, key: string): { root: string; work: string; out: string } {
  const root = path.join(cacheDir(), "tmp", `${name}-${key}-${process.pid}`);
  fs.rmSync(root, { recursive: true, force: true });
  owned.add(root);
  const work = path.join(root, "work");
  const out = path.join(root, "out");
  fs.mkdirSync(work, { recursive: true });
  fs.mkdirSync(out, { recursive: true });
  return { root, work, out };
}

/** Moves a finished out/ folder into place in one rename and drops the temp folder. */
export function install(temp: { root: string; out: string }, name: string, key: string): string {
  const dest = outputDir(name, key);
  fs.mkdirSync(path.dirname(dest), { recursive: true });
  fs.renameSync(temp.out, dest);
  fs.rmSync(temp.root, { recursive: true, force: true });
  owned.delete(temp.root);
  return dest;
}

const LOCK_POLL_MS = 2000;

/** Holds a lock on one recipe while fn runs, so two processes never build it at once.
 *  A lock whose owner has died is taken over. onWait is told when we must wait. */
export async function withLock<T>(lockName: string, onWait: (pid: number) => void, fn: () => Promise<T>): Promise<T> {
  const dir = path.join(cacheDir(), "locks");
  fs.mkdirSync(dir, { recursive: true });
  const lock = path.join(dir, lockName);
  let told = false;
  for (;;) {
    try {
      fs.writeFileSync(lock, String(process.pid), { flag: "wx" });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const owner = Number(fs.readFileSync(lock, "utf8").trim() || "0");
    if (!pidAlive(owner) || owner === process.pid) {
      fs.rmSync(lock, { force: true });
      continue;
    }
    if (!told) onWait(owner);
    told = true;
    await new Promise((r) => setTimeout(r, LOCK_POLL_MS));
  }
  owned.add(lock);
  try {
    return await fn();
  } finally {
    fs.rmSync(lock, { force: true });
    owned.delete(lock);
  }
}

// The x86-64 guest targets (tsvisor's KVM microvm board, and QEMU's -M microvm in the
// tests): our own small kernel, a busybox initramfs for it, and Debian's stock kernel
// with an initramfs that loads its virtio modules. Nothing is cross-built: the kernel
// uses the host gcc, busybox and the Debian kernel come as binary packages
// (`apt-get download`; their candidate versions are in the key, see Target.downloads).
// Recipe files live in guest/x86_64; Target.files are relative to guest/riscv64, hence
// the "../x86_64/" prefix. This module imports only types from targets.ts, which
// includes X86_TARGETS (a value import back would be an import cycle).

import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import type { BuildContext, Target } from "./targets.js";

const LINUX_TARBALL = "/usr/src/linux-source-6.1.tar.xz";
const JOBS = "-j2"; // the build machines are small and shared
/** About how many compile lines (CC/AS/AR/LD...) the kernel build prints; drives the bar. */
const KERNEL_BUILD_LINES = 1760;
/** guest/x86_64, relative to the recipe folder BuildContext.recipe (guest/riscv64). */
const RECIPE = "../x86_64";
/** Debian's kernel metapackage; it depends on the versioned linux-image-<abi>-amd64. */
const DEBIAN_KERNEL_META = "linux-image-amd64";
/** Drivers the Debian guest loads (with whatever they depend on) for virtio-mmio
 *  devices: Debian builds them as modules. */
const DEBIAN_MODULES = ["virtio_mmio", "virtio_blk", "virtio_net", "virtio_console", "virtio-rng"];

function recipe(ctx: BuildContext, file: string): string {
  return path.resolve(ctx.recipe, RECIPE, file);
}

/** Candidate versions (what `apt-get download` would fetch) of Debian packages, for the
 *  recipe key; "unknown" where apt knows none (no package lists yet). */
export function aptCandidateVersions(names: readonly string[]): Record<string, string> {
  const result: Record<string, string> = {};
  for (const n of names) result[n] = "unknown";
  if (names.length === 0) return result;
  let out = "";
  try {
    out = execFileSync("apt-cache", ["policy", ...names], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
  } catch {
    return result; // no apt: the build will say so
  }
  let pkg = "";
  for (const line of out.split("\n")) {
    const head = /^(\S+):$/.exec(line);
    const cand = /^\s+Candidate:\s+(\S+)/.exec(line);
    if (head) pkg = head[1];
    else if (cand && pkg in result && cand[1] !== "(none)") result[pkg] = cand[1];
  }
  return result;
}

/** Counts the build's "  CC  path" style lines to move the progress bar. */
function makeProgress(ctx: BuildContext, total: number): (line: string) => void {
  let done = 0;
  return (line) => {
    const m = /^\s+(CC|AS|AR|LD|HOSTCC|HOSTLD|OBJCOPY|GEN|SYSMAP)\s+(\S+)/.exec(line);
    if (!m) return;
    done++;
    ctx.progress.update({ done: Math.min(done, total - 1), total, detail: `${m[1]} ${m[2]}` });
  };
}

/** Kconfig lines as symbol -> value ("n" for "# X is not set"). */
function kconfigValues(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    const off = /^# (CONFIG_\w+) is not set$/.exec(line);
    const on = /^(CONFIG_\w+)=(.*)$/.exec(line);
    if (off) values.set(off[1], "n");
    else if (on) values.set(on[1], on[2]);
  }
  return values;
}

/** Fails the build when an option of the fragment did not survive olddefconfig: a
 *  dependency is missing, and the guest would silently lack the feature. */
function checkConfig(ctx: BuildContext, fragmentFile: string, configFile: string): void {
  const actual = kconfigValues(fs.readFileSync(configFile, "utf8"));
  const problems: string[] = [];
  for (const [sym, want] of kconfigValues(fs.readFileSync(fragmentFile, "utf8"))) {
    const got = actual.get(sym) ?? "n";
    if (got !== want) problems.push(`${sym}: wanted ${want}, got ${got}`);
  }
  if (problems.length > 0) throw ctx.log.failure(`x86-64 kernel options lost in .config: ${problems.join("; ")}`);
}

async function buildKernel(ctx: BuildContext): Promise<void> {
  const fragment = recipe(ctx, "linux.config");
  const src = path.join(ctx.work, "linux-source-6.1");
  const obj = path.join(ctx.work, "obj");
  const make = (args: string[], onLine?: (line: string) => void) =>
    ctx.run("make", ["-C", src, `O=${obj}`, "ARCH=x86_64", ...args], {
      onLine,
      env: { ...process.env, KBUILD_BUILD_USER: "tsvisor", KBUILD_BUILD_HOST: "tsvisor" },
    });

  ctx.progress.step("unpack linux-source-6.1");
  await ctx.run("tar", ["-xJf", LINUX_TARBALL, "-C", ctx.work]);

  ctx.progress.step("configure kernel (tinyconfig + x86_64/linux.config)");
  fs.mkdirSync(obj);
  await make(["tinyconfig"]);
  await ctx.run(path.join(src, "scripts/kconfig/merge_config.sh"), ["-m", "-O", obj, path.join(obj, ".config"), fragment], {
    cwd: src,
  });
  await make(["olddefconfig"]);
  checkConfig(ctx, fragment, path.join(obj, ".config"));

  ctx.progress.step(`compile kernel (make ${JOBS} bzImage)`, { done: 0, total: KERNEL_BUILD_LINES });
  await make([JOBS, "bzImage"], makeProgress(ctx, KERNEL_BUILD_LINES));

  for (const [from, to] of [
    ["arch/x86/boot/bzImage", "bzImage"],
    ["vmlinux", "vmlinux"],
    ["System.map", "System.map"],
    [".config", "config"],
  ]) {
    fs.copyFileSync(path.join(obj, from), path.join(ctx.out, to));
  }
}

/** Fetches a Debian binary package once into downloads/debs/ (one folder per package
 *  and version) and returns the .deb's path. */
async function fetchDeb(ctx: BuildContext, pkg: string): Promise<string> {
  const version = aptCandidateVersions([pkg])[pkg];
  const dir = path.join(ctx.downloads, "debs", `${pkg}_${version.replace(/[^\w.+~-]/g, "_")}`);
  const findDeb = () => (fs.existsSync(dir) ? fs.readdirSync(dir).find((f) => f.endsWith(".deb")) : undefined);
  if (version === "unknown" || !findDeb()) {
    const tmp = `${dir}.tmp-${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(tmp, { recursive: true });
    fs.chmodSync(tmp, 0o777); // apt fetches as the unprivileged _apt user when it can
    await ctx.run("apt-get", ["download", pkg], { cwd: tmp });
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(tmp, dir);
  }
  const deb = findDeb();
  if (!deb) throw ctx.log.failure(`apt-get download ${pkg} fetched no .deb`);
  return path.join(dir, deb);
}

/** Unpacks a .deb's files (dpkg-deb -x) into work/<name>/ and returns that folder. */
async function unpackDeb(ctx: BuildContext, deb: string, name: string): Promise<string> {
  const dir = path.join(ctx.work, name);
  await ctx.run("dpkg-deb", ["-x", deb, dir]);
  return dir;
}

/** gen_init_cpio from the kernel source, built with the host gcc. */
async function buildGenInitCpio(ctx: BuildContext): Promise<string> {
  const genSrc = path.join(ctx.work, "gen_init_cpio.c");
  const gen = path.join(ctx.work, "gen_init_cpio");
  await ctx.run("tar", ["-xJf", LINUX_TARBALL, "-O", "linux-source-6.1/usr/gen_init_cpio.c"], { stdoutFile: genSrc });
  await ctx.run("gcc", ["-O2", "-o", gen, genSrc]);
  return gen;
}

/** Debian's static busybox and the paths of its applets ("/sbin/init", ...). */
async function fetchBusybox(ctx: BuildContext): Promise<{ binary: string; links: string[] }> {
  ctx.progress.step("fetch busybox-static (apt-get download)");
  const root = await unpackDeb(ctx, await fetchDeb(ctx, "busybox-static"), "busybox-static");
  const binary = path.join(root, "bin", "busybox");
  const list = path.join(ctx.work, "busybox.list");
  // The x86-64 binary runs on the (x86-64) build host and names its own applets.
  await ctx.run(binary, ["--list-full"], { stdoutFile: list });
  const links = fs
    .readFileSync(list, "utf8")
    .split("\n")
    .map((l) => `/${l.trim()}`)
    .filter((l) => l !== "/" && l !== "/bin/busybox");
  return { binary, links };
}

/** The initramfs contents as a gen_init_cpio list (no root needed: ownership is 0:0
 *  and /dev/console is a node in the list, not on the host's disk). `extra` lines add
 *  files (modules, their order). */
function cpioList(ctx: BuildContext, busybox: { binary: string; links: string[] }, extra: string[]): string {
  const dirs = new Set(["/bin", "/sbin", "/usr", "/usr/bin", "/usr/sbin", "/dev", "/etc", "/proc", "/sys", "/tmp", "/run", "/root", "/mnt"]);
  for (const l of busybox.links) dirs.add(path.posix.dirname(l));
  for (const e of extra) {
    const dest = e.split(" ")[1];
    if (e.startsWith("file ")) dirs.add(path.posix.dirname(dest));
  }
  // Every parent too (the kernel makes no missing parents), and the root exists already.
  for (const d of [...dirs]) for (let p = d; p !== "/"; p = path.posix.dirname(p)) dirs.add(p);
  dirs.delete("/");
  const lines = [...dirs].sort().map((d) => `dir ${d} ${d === "/tmp" ? "1777" : "0755"} 0 0`);
  lines.push(
    "nod /dev/console 0600 0 0 c 5 1",
    "nod /dev/null 0666 0 0 c 1 3",
    `file /init ${recipe(ctx, "init")} 0755 0 0`,
    `file /etc/inittab ${recipe(ctx, "inittab")} 0644 0 0`,
    `file /etc/passwd ${path.join(ctx.work, "passwd")} 0644 0 0`,
    `file /etc/group ${path.join(ctx.work, "group")} 0644 0 0`,
    `file /bin/busybox ${busybox.binary} 0755 0 0`,
    ...extra,
  );
  for (const l of busybox.links) lines.push(`slink ${l} /bin/busybox 0777 0 0`);
  return lines.join("\n") + "\n";
}

/** Writes out/initramfs.list and out/initramfs.cpio.gz. */
async function packInitramfs(ctx: BuildContext, list: string): Promise<void> {
  ctx.progress.step("pack initramfs (gen_init_cpio | gzip)");
  const gen = await buildGenInitCpio(ctx);
  fs.writeFileSync(path.join(ctx.work, "passwd"), "root:x:0:0:root:/:/bin/sh\n");
  fs.writeFileSync(path.join(ctx.work, "group"), "root:x:0:\n");
  const listFile = path.join(ctx.out, "initramfs.list");
  fs.writeFileSync(listFile, list);
  const cpio = path.join(ctx.out, "initramfs.cpio");
  await ctx.run(gen, ["-t", "0", listFile], { stdoutFile: cpio });
  await ctx.run("gzip", ["-9", "-n", cpio]); // leaves initramfs.cpio.gz
}

async function buildInitramfs(ctx: BuildContext): Promise<void> {
  const busybox = await fetchBusybox(ctx);
  await packInitramfs(ctx, cpioList(ctx, busybox, []));
}

/** The "depends=" entry of a kernel module's .modinfo section: the modules it needs. */
export function moduleDepends(ko: Uint8Array): string[] {
  const text = Buffer.from(ko.buffer, ko.byteOffset, ko.byteLength).toString("latin1");
  const at = text.indexOf("\0depends=");
  if (at < 0) return [];
  const value = text.slice(at + "\0depends=".length, text.indexOf("\0", at + 1));
  return value.split(",").filter((m) => m !== "");
}

/** Module names in load order: every module after the ones it depends on. `deps(name)`
 *  reads a module's dependencies. */
export function moduleLoadOrder(wanted: readonly string[], deps: (name: string) => string[]): string[] {
  const order: string[] = [];
  const visiting = new Set<string>();
  const visit = (name: string) => {
    if (order.includes(name)) return;
    if (visiting.has(name)) throw new Error(`kernel modules depend on each other in a circle at ${name}`);
    visiting.add(name);
    deps(name).forEach(visit);
    visiting.delete(name);
    order.push(name);
  };
  wanted.forEach(visit);
  return order;
}

/** Every module file under a modules tree by module name ("virtio_blk" for
 *  virtio_blk.ko or .ko.xz); the kernel treats "-" and "_" in names alike. */
function indexModules(dir: string, found = new Map<string, string>()): Map<string, string> {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    const m = /^(.+)\.ko(\.xz)?$/.exec(entry.name);
    if (entry.isDirectory()) indexModules(file, found);
    else if (entry.isFile() && m) found.set(m[1].replace(/-/g, "_"), file);
  }
  return found;
}

async function buildDebianGuest(ctx: BuildContext): Promise<void> {
  ctx.progress.step(`fetch Debian's kernel (${DEBIAN_KERNEL_META})`);
  const depends = path.join(ctx.work, "depends");
  await ctx.run("apt-cache", ["depends", DEBIAN_KERNEL_META], { stdoutFile: depends });
  const pkg = /Depends:\s+(linux-image-[\w.+-]+-amd64)\b/.exec(fs.readFileSync(depends, "utf8"))?.[1];
  if (!pkg) throw ctx.log.failure(`cannot tell which kernel package ${DEBIAN_KERNEL_META} depends on`);
  const root = await unpackDeb(ctx, await fetchDeb(ctx, pkg), "kernel");
  const vmlinuz = fs.readdirSync(path.join(root, "boot")).find((f) => f.startsWith("vmlinuz-"));
  if (!vmlinuz) throw ctx.log.failure(`${pkg} has no /boot/vmlinuz-*`);
  const release = vmlinuz.slice("vmlinuz-".length);
  fs.copyFileSync(path.join(root, "boot", vmlinuz), path.join(ctx.out, "vmlinuz"));
  fs.copyFileSync(path.join(root, "boot", `config-${release}`), path.join(ctx.out, "config"));

  ctx.progress.step("pick virtio modules");
  const modules = indexModules(path.join(root, "lib", "modules", release));
  const modDir = path.join(ctx.work, "modules");
  fs.mkdirSync(modDir);
  // busybox insmod loads plain .ko files: unpack compressed ones here, once each.
  const files = new Map<string, string>();
  const plain = (name: string): string => {
    const known = files.get(name);
    if (known) return known;
    const file = modules.get(name);
    if (!file) throw ctx.log.failure(`${pkg} has no module ${name}`);
    const dest = path.join(modDir, `${name}.ko`);
    if (file.endsWith(".xz")) fs.writeFileSync(dest, execFileSync("xz", ["-dc", file], { maxBuffer: 1 << 28 }));
    else fs.copyFileSync(file, dest);
    files.set(name, dest);
    return dest;
  };
  const wanted = DEBIAN_MODULES.map((m) => m.replace(/-/g, "_"));
  const finalOrder = moduleLoadOrder(wanted, (name) => moduleDepends(fs.readFileSync(plain(name))));
  fs.writeFileSync(path.join(ctx.work, "modules.order"), finalOrder.join("\n") + "\n");
  fs.writeFileSync(path.join(ctx.out, "modules"), finalOrder.join("\n") + "\n");
  fs.writeFileSync(path.join(ctx.out, "release"), `${release} ${pkg} ${aptCandidateVersions([pkg])[pkg]}\n`);
  ctx.log.note(`Debian kernel ${release} (${pkg}); modules in load order: ${finalOrder.join(" ")}`);

  const busybox = await fetchBusybox(ctx);
  const extra = [
    `file /etc/modules ${path.join(ctx.work, "modules.order")} 0644 0 0`,
    ...finalOrder.map((m) => `file /lib/modules/${m}.ko ${files.get(m)} 0644 0 0`),
  ];
  await packInitramfs(ctx, cpioList(ctx, busybox, extra));
}

const KERNEL_PACKAGES = ["linux-source-6.1", "bc", "flex", "bison", "make", "gcc", "libc6-dev", "libelf-dev", "xz-utils"];
const INITRAMFS_PACKAGES = ["linux-source-6.1", "gcc", "gzip", "xz-utils", "dpkg"];

export const X86_TARGETS: readonly Target[] = [
  {
    name: "x86-kernel",
    description: "x86-64 Linux bzImage from linux-source-6.1 (tinyconfig + guest/x86_64/linux.config)",
    version: 1,
    files: [`${RECIPE}/linux.config`],
    packages: KERNEL_PACKAGES,
    deps: [],
    outputs: ["bzImage", "vmlinux", "System.map", "config"],
    build: buildKernel,
  },
  {
    name: "x86-initramfs",
    description: "gzip'd cpio for x86-64: Debian's busybox-static and guest/x86_64/init",
    version: 1,
    files: [`${RECIPE}/init`, `${RECIPE}/inittab`],
    packages: INITRAMFS_PACKAGES,
    downloads: ["busybox-static"],
    deps: [],
    outputs: ["initramfs.cpio.gz", "initramfs.list"],
    build: buildInitramfs,
  },
  {
    name: "x86-debian",
    description: `Debian's x86-64 kernel (${DEBIAN_KERNEL_META}) and an initramfs loading its virtio modules`,
    version: 1,
    files: [`${RECIPE}/init`, `${RECIPE}/inittab`],
    packages: INITRAMFS_PACKAGES,
    downloads: [DEBIAN_KERNEL_META, "busybox-static"],
    deps: [],
    outputs: ["vmlinuz", "initramfs.cpio.gz", "initramfs.list", "modules", "release", "config"],
    build: buildDebianGuest,
  },
];

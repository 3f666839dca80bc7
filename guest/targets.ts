// The guest targets: what each one needs and the steps that build it. To add a target
// (a disk image, another kernel), append an entry to TARGETS and, if the tests need it,
// its name to TARGET_SETS.all. Each build writes its results into ctx.out only; the
// builder (guest/build.ts) handles keys, locking, logs and the atomic rename.

import * as fs from "node:fs";
import * as path from "node:path";
import type { BuildLog, RunOptions } from "./build-log.js";
import type { Progress } from "../src/host/progress.js";
import { X86_TARGETS } from "./x86-targets.js";

const LINUX_TARBALL = "/usr/src/linux-source-6.1.tar.xz";
const CROSS = "riscv64-linux-gnu-";
const JOBS = "-j2"; // the build machines are small and shared
/** About how many compile lines (CC/AS/AR/LD...) the kernel build prints; drives the bar. */
const KERNEL_BUILD_LINES = 1260;
const BUSYBOX_BUILD_LINES = 620;

export interface BuildContext {
  /** Scratch space for sources and objects (deleted after the build). */
  work: string;
  /** Where the results go; renamed into the cache when the build succeeds. */
  out: string;
  /** The recipe files (guest/riscv64). */
  recipe: string;
  /** Output folders of the targets listed in deps. */
  deps: Record<string, string>;
  /** Folder for downloads shared by all builds. */
  downloads: string;
  log: BuildLog;
  progress: Progress;
  run(cmd: string, args: readonly string[], options?: RunOptions): Promise<void>;
  /** Makes sure apt can fetch this source package (deb-src), adding it if needed. */
  ensureDebSrc(pkg: string): Promise<void>;
}

export interface Target {
  name: string;
  description: string;
  /** Bump when the steps change in a way the hashed inputs don't show. */
  version: number;
  /** Recipe files (relative to guest/riscv64) that shape the output. */
  files: readonly string[];
  /** Debian packages the steps use; their versions are part of the key. */
  packages: readonly string[];
  /** Debian packages the steps fetch with `apt-get download` (not installed); their
   *  candidate versions are part of the key. */
  downloads?: readonly string[];
  deps: readonly string[];
  /** Files the build leaves in out/; their presence is checked before install. */
  outputs: readonly string[];
  build(ctx: BuildContext): Promise<void>;
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

/** Reads a Kconfig fragment: symbol -> "y"/"n"/value ("n" for "# X is not set"). */
export function parseConfigFragment(text: string): Map<string, string> {
  const wanted = new Map<string, string>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    const off = /^# (CONFIG_\w+) is not set$/.exec(line);
    const on = /^(CONFIG_\w+)=(.*)$/.exec(line);
    if (off) wanted.set(off[1], "n");
    else if (on) wanted.set(on[1], on[2]);
  }
  return wanted;
}

/** Options of the fragment that did not survive into the final .config. */
export function configMismatches(fragment: string, finalConfig: string): string[] {
  const actual = parseConfigFragment(finalConfig);
  const problems: string[] = [];
  for (const [sym, want] of parseConfigFragment(fragment)) {
    const got = actual.get(sym) ?? "n";
    if (got !== want) problems.push(`${sym}: wanted ${want}, got ${got}`);
  }
  return problems;
}

/** Sets fragment values into a .config text (for busybox, whose kconfig has no merge). */
function applyFragment(config: string, fragment: string): string {
  let text = config;
  for (const [sym, value] of parseConfigFragment(fragment)) {
    const line = value === "n" ? `# ${sym} is not set` : `${sym}=${value}`;
    const re = new RegExp(`^(# ${sym} is not set|${sym}=.*)$`, "m");
    text = re.test(text) ? text.replace(re, line) : `${text.trimEnd()}\n${line}\n`;
  }
  return text;
}

function warnMismatches(ctx: BuildContext, what: string, fragmentFile: string, configFile: string): void {
  const problems = configMismatches(fs.readFileSync(fragmentFile, "utf8"), fs.readFileSync(configFile, "utf8"));
  for (const p of problems) {
    ctx.log.note(`warning: ${what} option lost: ${p}`);
    ctx.progress.log(`warning: ${what} option did not survive into .config: ${p}`);
  }
}

async function buildKernel(ctx: BuildContext): Promise<void> {
  const fragment = path.join(ctx.recipe, "linux.config");
  const src = path.join(ctx.work, "linux-source-6.1");
  const obj = path.join(ctx.work, "obj");
  const make = (args: string[], onLine?: (line: string) => void) =>
    ctx.run("make", ["-C", src, `O=${obj}`, "ARCH=riscv", `CROSS_COMPILE=${CROSS}`, ...args], {
      onLine,
      env: { ...process.env, KBUILD_BUILD_USER: "tsvisor", KBUILD_BUILD_HOST: "tsvisor" },
    });

  ctx.progress.step("unpack linux-source-6.1");
  await ctx.run("tar", ["-xJf", LINUX_TARBALL, "-C", ctx.work]);

  ctx.progress.step("configure kernel (tinyconfig + linux.config)");
  fs.mkdirSync(obj);
  await make(["tinyconfig"]);
  await ctx.run(path.join(src, "scripts/kconfig/merge_config.sh"), ["-m", "-O", obj, path.join(obj, ".config"), fragment], {
    cwd: src,
  });
  await make(["olddefconfig"]);
  warnMismatches(ctx, "kernel", fragment, path.join(obj, ".config"));

  ctx.progress.step(`compile kernel (make ${JOBS} Image)`, { done: 0, total: KERNEL_BUILD_LINES });
  await make([JOBS, "Image"], makeProgress(ctx, KERNEL_BUILD_LINES));

  for (const [from, to] of [
    ["arch/riscv/boot/Image", "Image"],
    ["vmlinux", "vmlinux"],
    ["System.map", "System.map"],
    [".config", "config"],
  ]) {
    fs.copyFileSync(path.join(obj, from), path.join(ctx.out, to));
  }
}

/** Fetches the busybox Debian source package once into the shared downloads folder. */
async function fetchBusyboxSource(ctx: BuildContext): Promise<string> {
  const dir = path.join(ctx.downloads, "busybox");
  const findDsc = () => (fs.existsSync(dir) ? fs.readdirSync(dir).find((f) => f.endsWith(".dsc")) : undefined);
  let dsc = findDsc();
  if (!dsc) {
    await ctx.ensureDebSrc("busybox");
    const tmp = `${dir}.tmp-${process.pid}`;
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.mkdirSync(tmp, { recursive: true });
    fs.chmodSync(tmp, 0o777); // apt fetches as the unprivileged _apt user when it can
    await ctx.run("apt-get", ["source", "--download-only", "busybox"], { cwd: tmp });
    fs.rmSync(dir, { recursive: true, force: true });
    fs.renameSync(tmp, dir);
    dsc = findDsc();
    if (!dsc) throw ctx.log.failure("apt-get source busybox fetched no .dsc");
  }
  return path.join(dir, dsc);
}

async function buildBusybox(ctx: BuildContext): Promise<void> {
  const fragment = path.join(ctx.recipe, "busybox.config");
  const src = path.join(ctx.work, "busybox");
  const make = (args: string[], onLine?: (line: string) => void) =>
    ctx.run("make", ["-C", src, `CROSS_COMPILE=${CROSS}`, ...args], { onLine });

  ctx.progress.step("fetch busybox source (apt-get source)");
  const dsc = await fetchBusyboxSource(ctx);

  ctx.progress.step(`unpack ${path.basename(dsc, ".dsc")}`);
  await ctx.run("dpkg-source", ["--no-check", "-x", dsc, src]);

  ctx.progress.step("configure busybox (defconfig + busybox.config)");
  await make(["defconfig"]);
  const configFile = path.join(src, ".config");
  fs.writeFileSync(configFile, applyFragment(fs.readFileSync(configFile, "utf8"), fs.readFileSync(fragment, "utf8")));
  await ctx.run("sh", ["-c", `yes "" | make -C "${src}" CROSS_COMPILE=${CROSS} oldconfig`]);
  warnMismatches(ctx, "busybox", fragment, configFile);

  ctx.progress.step(`compile busybox (make ${JOBS})`, { done: 0, total: BUSYBOX_BUILD_LINES });
  await make([JOBS, "busybox", "busybox.links"], makeProgress(ctx, BUSYBOX_BUILD_LINES));

  fs.copyFileSync(path.join(src, "busybox"), path.join(ctx.out, "busybox"));
  fs.copyFileSync(path.join(src, "busybox.links"), path.join(ctx.out, "busybox.links"));
  fs.copyFileSync(configFile, path.join(ctx.out, "config"));
  fs.writeFileSync(path.join(ctx.out, "source"), `${path.basename(dsc)}\n`);
}

/** The initramfs contents as a gen_init_cpio list (no root needed: ownership is 0:0
 *  and /dev/console is a node in the list, not on the host's disk). */
function cpioList(ctx: BuildContext, bins: Record<string, string>): string {
  const busybox = ctx.deps.busybox;
  const dirs = new Set(["/bin", "/sbin", "/usr", "/usr/bin", "/usr/sbin", "/usr/share", "/usr/share/udhcpc", "/dev", "/etc", "/proc", "/sys", "/tmp", "/run", "/root", "/mnt"]);
  const links = fs
    .readFileSync(path.join(busybox, "busybox.links"), "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.startsWith("/") && l !== "/bin/busybox");
  for (const l of links) dirs.add(path.posix.dirname(l));
  const lines = [...dirs].sort().map((d) => `dir ${d} ${d === "/tmp" ? "1777" : "0755"} 0 0`);
  lines.push(
    "nod /dev/console 0600 0 0 c 5 1",
    "nod /dev/null 0666 0 0 c 1 3",
    `file /init ${path.join(ctx.recipe, "init")} 0755 0 0`,
    `file /etc/inittab ${path.join(ctx.recipe, "inittab")} 0644 0 0`,
    // `udhcpc -i eth0` configures the interface with this (busybox's default path).
    `file /usr/share/udhcpc/default.script ${path.join(ctx.recipe, "udhcpc.script")} 0755 0 0`,
    `file /etc/passwd ${path.join(ctx.work, "passwd")} 0644 0 0`,
    `file /etc/group ${path.join(ctx.work, "group")} 0644 0 0`,
    `file /bin/busybox ${path.join(busybox, "busybox")} 0755 0 0`,
  );
  for (const [name, file] of Object.entries(bins)) lines.push(`file /bin/${name} ${file} 0755 0 0`);
  for (const l of links) lines.push(`slink ${l} /bin/busybox 0777 0 0`);
  return lines.join("\n") + "\n";
}

async function buildInitramfs(ctx: BuildContext): Promise<void> {
  ctx.progress.step("build gen_init_cpio (host gcc)");
  const genSrc = path.join(ctx.work, "gen_init_cpio.c");
  const gen = path.join(ctx.work, "gen_init_cpio");
  await ctx.run("tar", ["-xJf", LINUX_TARBALL, "-O", "linux-source-6.1/usr/gen_init_cpio.c"], { stdoutFile: genSrc });
  await ctx.run("gcc", ["-O2", "-o", gen, genSrc]);

  ctx.progress.step("compile fptest and bench-cpu (riscv64, static)");
  const bins: Record<string, string> = {};
  for (const name of ["fptest", "bench-cpu"]) {
    bins[name] = path.join(ctx.work, name);
    await ctx.run(`${CROSS}gcc`, ["-O2", "-static", "-Wall", "-o", bins[name], path.join(ctx.recipe, `${name}.c`), "-lm"]);
  }
  // EEMBC CoreMark, unmodified, with its posix port (flags as posix/core_portme.mak);
  // the seeds and iteration count come from the command line (SEED_ARG).
  ctx.progress.step("compile coremark (riscv64, static)");
  const cm = path.join(ctx.recipe, "coremark");
  const cmFlags = "-O2 -static";
  bins.coremark = path.join(ctx.work, "coremark");
  await ctx.run(`${CROSS}gcc`, [...cmFlags.split(" "), `-I${path.join(cm, "posix")}`, `-I${cm}`, "-DPERFORMANCE_RUN=1",
    "-DITERATIONS=0", `-DFLAGS_STR="${cmFlags}"`, '-DMEM_LOCATION="heap"', "-o", bins.coremark,
    ...["core_list_join.c", "core_main.c", "core_matrix.c", "core_state.c", "core_util.c", "posix/core_portme.c"]
      .map((f) => path.join(cm, f))]);

  ctx.progress.step("pack initramfs (gen_init_cpio | gzip)");
  fs.writeFileSync(path.join(ctx.work, "passwd"), "root:x:0:0:root:/:/bin/sh\n");
  fs.writeFileSync(path.join(ctx.work, "group"), "root:x:0:\n");
  const list = path.join(ctx.out, "initramfs.list");
  fs.writeFileSync(list, cpioList(ctx, bins));
  const cpio = path.join(ctx.out, "initramfs.cpio");
  await ctx.run(gen, ["-t", "0", list], { stdoutFile: cpio });
  await ctx.run("gzip", ["-9", "-n", cpio]); // leaves initramfs.cpio.gz
  for (const name of Object.keys(bins)) fs.copyFileSync(bins[name], path.join(ctx.out, name));
}

/** EEMBC CoreMark's sources (guest/riscv64/coremark/README.md says where they came from). */
const COREMARK_FILES = ["core_list_join.c", "core_main.c", "core_matrix.c", "core_state.c", "core_util.c", "coremark.h",
  "posix/core_portme.c", "posix/core_portme.h", "posix/core_portme_posix_overrides.h"].map((f) => `coremark/${f}`);

const CROSS_PACKAGES = ["gcc-riscv64-linux-gnu", "binutils-riscv64-linux-gnu", "libc6-dev-riscv64-cross"];

export const TARGETS: readonly Target[] = [
  {
    name: "kernel",
    description: "riscv64 Linux Image from linux-source-6.1 (tinyconfig + guest/riscv64/linux.config)",
    version: 1,
    files: ["linux.config"],
    packages: [...CROSS_PACKAGES, "linux-source-6.1", "bc", "flex", "bison", "make", "gcc", "xz-utils"],
    deps: [],
    outputs: ["Image", "vmlinux", "System.map", "config"],
    build: buildKernel,
  },
  {
    name: "busybox",
    description: "static riscv64 busybox from Debian's busybox source package",
    version: 1,
    files: ["busybox.config"],
    packages: [...CROSS_PACKAGES, "dpkg-dev", "make", "gcc", "bzip2", "xz-utils"],
    deps: [],
    outputs: ["busybox", "busybox.links", "config"],
    build: buildBusybox,
  },
  {
    name: "initramfs",
    description: "gzip'd cpio: busybox, /init, fptest, bench-cpu, coremark, udhcpc script",
    version: 1,
    files: ["init", "inittab", "udhcpc.script", "fptest.c", "bench-cpu.c", ...COREMARK_FILES],
    packages: [...CROSS_PACKAGES, "linux-source-6.1", "gcc", "gzip", "xz-utils"],
    deps: ["busybox"],
    outputs: ["initramfs.cpio.gz", "initramfs.list", "fptest", "bench-cpu", "coremark"],
    build: buildInitramfs,
  },
  ...X86_TARGETS,
];

/** Named sets of targets: `build.js` builds "default", `build.js --all` builds "all". */
export const TARGET_SETS: Readonly<Record<"default" | "all", readonly string[]>> = {
  default: ["kernel", "initramfs"],
  all: ["kernel", "initramfs", ...X86_TARGETS.map((t) => t.name)],
};

export function findTarget(name: string): Target {
  const t = TARGETS.find((x) => x.name === name);
  if (!t) throw new Error(`tsvisor: unknown guest target "${name}" (known: ${TARGETS.map((x) => x.name).join(", ")})`);
  return t;
}

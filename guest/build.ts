// Builds the tsvisor guests from Debian packages into the cache (see guest/cache.ts).
//   node dist/guest/build.js            the default guest: kernel + initramfs
//   node dist/guest/build.js --all      everything the tests need
//   node dist/guest/build.js kernel     named targets (--list shows them)
//   node dist/guest/build.js --paths    print the built paths as JSON afterwards
// A finished recipe is reused; a changed one builds afresh. Logs: <cache>/logs/.

import * as fs from "node:fs";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import { formatElapsed, Progress } from "../src/host/progress.js";
import { BuildError, BuildLog, killRunningCommands } from "./build-log.js";
import { cacheDir, install, isBuilt, logPath, makeTempDir, outputDir, recipeDir, sweepStaleTemps, withLock } from "./cache.js";
import { forgetKeys, guestPaths, targetKey } from "./paths.js";
import { ensureDebSrc, ensurePackages, PROJECT_PACKAGES, SetupError } from "./setup.js";
import { findTarget, TARGET_SETS, TARGETS, type BuildContext, type Target } from "./targets.js";

/** Targets in build order: each after the targets it depends on. */
function buildOrder(names: readonly string[]): Target[] {
  const order: Target[] = [];
  const visit = (name: string) => {
    const t = findTarget(name);
    if (order.includes(t)) return;
    t.deps.forEach(visit);
    order.push(t);
  };
  names.forEach(visit);
  return order;
}

/** Installs missing project packages; logs to <cache>/logs/setup.log. */
async function setUp(): Promise<void> {
  const progress = new Progress("setup");
  const log = new BuildLog(path.join(cacheDir(), "logs", "setup.log"));
  try {
    const run = (cmd: string, args: string[], env?: NodeJS.ProcessEnv) => {
      progress.step(`${cmd} ${args.join(" ")}`.slice(0, 60));
      return log.run(cmd, args, { env });
    };
    const installed = await ensurePackages(PROJECT_PACKAGES, run);
    if (installed.length > 0) {
      progress.done();
      progress.log(`setup: installed ${installed.join(" ")}`);
      forgetKeys(); // package versions are part of the keys
    }
  } catch (e) {
    progress.fail();
    throw e;
  } finally {
    log.close();
  }
}

function sizeOf(file: string): string {
  return `${(fs.statSync(file).size / 1048576).toFixed(1)} MiB`;
}

async function buildOne(target: Target): Promise<void> {
  const key = targetKey(target.name);
  const progress = new Progress(target.name);
  if (isBuilt(target.name, key)) {
    progress.log(`${target.name}: up to date (${outputDir(target.name, key)})`);
    return;
  }
  await withLock(
    `${target.name}-${key}`,
    (pid) => progress.log(`${target.name}: waiting for another build of it (pid ${pid})`),
    async () => {
      if (isBuilt(target.name, key)) return; // the other process finished it
      const started = Date.now();
      const temp = makeTempDir(target.name, key);
      const log = new BuildLog(logPath(target.name, key));
      log.note(`tsvisor guest target ${target.name} (${target.description}), key ${key}`);
      const deps: Record<string, string> = {};
      for (const d of target.deps) deps[d] = outputDir(d, targetKey(d));
      const ctx: BuildContext = {
        work: temp.work,
        out: temp.out,
        recipe: recipeDir(),
        deps,
        downloads: path.join(cacheDir(), "downloads"),
        log,
        progress,
        run: (cmd, args, options) => log.run(cmd, args, options),
        ensureDebSrc: (pkg) => ensureDebSrc(pkg, (cmd, args, env) => log.run(cmd, args, { env })),
      };
      try {
        await target.build(ctx);
        for (const o of target.outputs) {
          if (!fs.existsSync(path.join(temp.out, o))) throw log.failure(`${target.name}: the build made no ${o}`);
        }
        progress.done();
        log.note(`finished in ${formatElapsed(Date.now() - started)}`);
      } catch (e) {
        progress.fail();
        fs.rmSync(temp.root, { recursive: true, force: true });
        throw e;
      } finally {
        log.close();
      }
      const dir = install(temp, target.name, key);
      const main = target.outputs[0];
      progress.log(
        `${target.name}: built in ${formatElapsed(Date.now() - started)}: ${path.join(dir, main)} (${sizeOf(path.join(dir, main))})`,
      );
    },
  );
}

/** Builds the named targets (and their dependencies) that are not built yet. */
export async function buildTargets(names: readonly string[]): Promise<void> {
  fs.mkdirSync(cacheDir(), { recursive: true });
  sweepStaleTemps();
  await setUp();
  for (const target of buildOrder(names)) await buildOne(target);
}

function usage(): string {
  const lines = [
    "usage: node dist/guest/build.js [--all | TARGET...] [--paths] [--list]",
    `  builds into ${cacheDir()} (set TSVISOR_CACHE to move it)`,
    `  default: ${TARGET_SETS.default.join(" ")}; --all: ${TARGET_SETS.all.join(" ")}`,
  ];
  return lines.join("\n");
}

async function main(argv: string[]): Promise<number> {
  const names: string[] = [];
  let printPaths = false;
  for (const arg of argv) {
    if (arg === "--all") names.push(...TARGET_SETS.all);
    else if (arg === "--paths") printPaths = true;
    else if (arg === "--help" || arg === "-h") return console.log(usage()), 0;
    else if (arg === "--list") {
      for (const t of TARGETS) console.log(`${t.name.padEnd(10)} ${t.description}`);
      return 0;
    } else if (arg.startsWith("-")) {
      console.error(`tsvisor: unknown option ${arg}\n${usage()}`);
      return 1;
    } else names.push(arg);
  }
  await buildTargets(names.length ? names : TARGET_SETS.default);
  if (printPaths) console.log(JSON.stringify(guestPaths(), null, 2));
  return 0;
}

function report(e: unknown): void {
  if (e instanceof BuildError) {
    console.error(`\n${e.message}\nlast lines of the log:\n  ${e.tail.join("\n  ")}\nfull log: ${e.logFile}`);
  } else if (e instanceof SetupError) {
    console.error(e.message);
  } else {
    console.error(e instanceof Error ? e.message : String(e));
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  // Build commands run in their own process groups: pass Ctrl-C and kill on to them.
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(signal, () => {
      killRunningCommands(signal);
      console.error(`\ntsvisor: guest build interrupted (${signal}); nothing half-built is kept`);
      process.exit(130);
    });
  }
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      report(e);
      process.exit(1);
    },
  );
}

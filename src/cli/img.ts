// `tsvisor img`: the common cases of qemu-img, spelled the same way.
//   create -f FMT [-b BACKING -F BACKING_FMT] [-o cluster_size=N,compat=0.10|1.1] FILE [SIZE]
//   info [-f FMT] [--output=human|json] FILE
//   check [-f FMT] FILE            exit 0 clean, 2 corruptions, 3 leaks only, 63 no checks
//   convert [-f FMT] [-O FMT] IN OUT
//   resize [-f FMT] [--shrink] FILE [+-]SIZE
// Sizes are bytes by default with K/M/G/T suffixes (as qemu-img). Errors are UserErrors:
// one line, exit status 1, printed by main.ts.
import * as fs from "node:fs";
import * as path from "node:path";
import { UserError } from "../machine/machine.js";
import { BlockIoError, type BlockBackend } from "../block/block-backend.js";
import { HostFile } from "../block/host-file.js";
import { checkFormat, openBlockBackend, probeFormat, resolveBacking, type ImageFormat } from "../block/open-image.js";
import { Qcow2Backend } from "../block/qcow2.js";
import { checkQcow2 } from "../block/qcow2-check.js";
import { createQcow2, createRaw } from "../block/qcow2-create.js";
import { INCOMPAT_CORRUPT, INCOMPAT_DIRTY } from "../block/qcow2-header.js";
import { parseSize } from "./size.js";

export interface ImgOutput {
  stdout(text: string): void;
  stderr(text: string): void;
}

const USAGE = "usage: tsvisor img create|info|check|convert|resize ... (see qemu-img)";
const VALUE_OPTIONS = new Set(["-f", "-F", "-b", "-O", "-o", "--output"]);
const FLAG_OPTIONS = new Set(["-q", "-p", "--shrink", "-U"]);

interface Parsed {
  opts: Map<string, string>;
  flags: Set<string>;
  args: string[];
}

/** Runs `tsvisor img ARGS`; returns the exit status. */
export function runImg(argv: string[], out: ImgOutput): number {
  try {
    return dispatch(argv, out);
  } catch (err) {
    // A host I/O error while working on an image is the user's problem to see, in one line.
    if (err instanceof BlockIoError) throw new UserError(err.message);
    throw err;
  }
}

function dispatch(argv: string[], out: ImgOutput): number {
  const [command, ...rest] = argv;
  const p = parseImgArgs(rest);
  switch (command) {
    case "create":
      return create(p, out);
    case "info":
      return info(p, out);
    case "check":
      return check(p, out);
    case "convert":
      return convert(p, out);
    case "resize":
      return resize(p, out);
    case undefined:
    case "--help":
    case "-h":
      out.stdout(`${USAGE}\n`);
      return command === undefined ? 1 : 0;
    default:
      throw new UserError(`img: unknown command '${command}' (${USAGE.replace("usage: ", "")})`);
  }
}

function parseImgArgs(argv: string[]): Parsed {
  const p: Parsed = { opts: new Map(), flags: new Set(), args: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    if (VALUE_OPTIONS.has(name)) {
      const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
      if (value === undefined) throw new UserError(`img: option ${name} needs an argument`);
      p.opts.set(name, value);
    } else if (FLAG_OPTIONS.has(arg)) {
      p.flags.add(arg);
    } else if (arg.startsWith("-") && arg !== "-" && !/^[+-]\d/.test(arg)) {
      throw new UserError(`img: unknown option '${arg}'`);
    } else {
      p.args.push(arg);
    }
  }
  return p;
}

function imgSize(text: string): number {
  const bytes = parseSize(text, 1);
  if (bytes === undefined || bytes < 0) {
    throw new UserError(`Invalid image size specified: '${text}' (a number of bytes with an optional suffix K, M, G or T)`);
  }
  return bytes;
}

function positional(p: Parsed, min: number, max: number, usage: string): string[] {
  if (p.args.length < min || p.args.length > max) throw new UserError(`img: usage: ${usage}`);
  return p.args;
}

// --- create ---

function create(p: Parsed, out: ImgOutput): number {
  const [file, sizeText] = positional(p, 1, 2, "img create -f FMT [-b BACKING -F FMT] FILE [SIZE]");
  const format = checkFormat(p.opts.get("-f") ?? "raw");
  const backingFile = p.opts.get("-b");
  const options = parseCreateOptions(p.opts.get("-o"));
  let backingFormat = p.opts.get("-F");
  let size = sizeText === undefined ? undefined : imgSize(sizeText);
  if (backingFile !== undefined) {
    if (format !== "qcow2") throw new UserError(`img create: -b needs -f qcow2 (raw images have no backing file)`);
    const backing = openBlockBackend({ file: resolveBacking(file, backingFile), format: backingFormat, readOnly: true });
    try {
      size ??= backing.size;
      backingFormat ??= backing instanceof Qcow2Backend ? "qcow2" : "raw";
    } finally {
      backing.close();
    }
  }
  if (size === undefined) throw new UserError("img create: Image creation needs a size parameter");
  const described = [`fmt=${format}`, `size=${size}`];
  if (backingFile !== undefined) described.push(`backing_file=${backingFile}`, `backing_fmt=${backingFormat}`);
  if (!p.flags.has("-q")) out.stdout(`Formatting '${file}', ${described.join(" ")}\n`);
  if (format === "raw") createRaw(file, size);
  else createQcow2(file, { size, backingFile, backingFormat, ...options });
  return 0;
}

function parseCreateOptions(text: string | undefined): { clusterBits?: number; version?: 2 | 3 } {
  const result: { clusterBits?: number; version?: 2 | 3 } = {};
  for (const item of text ? text.split(",") : []) {
    const [key, value = ""] = item.split("=");
    if (key === "cluster_size") {
      const bytes = imgSize(value);
      const bits = Math.log2(bytes);
      if (!Number.isInteger(bits)) throw new UserError("Cluster size must be a power of two between 512 and 2048k");
      result.clusterBits = bits;
    } else if (key === "compat") {
      if (value === "0.10" || value === "v2") result.version = 2;
      else if (value === "1.1" || value === "v3") result.version = 3;
      else throw new UserError(`Invalid parameter '${value}' for compat (0.10 or 1.1)`);
    } else {
      throw new UserError(`img create: unsupported option '${key}' (cluster_size, compat)`);
    }
  }
  return result;
}

// --- info ---

function info(p: Parsed, out: ImgOutput): number {
  const [file] = positional(p, 1, 1, "img info [-f FMT] [--output=json] FILE");
  const outputFormat = p.opts.get("--output") ?? "human";
  if (outputFormat !== "human" && outputFormat !== "json") throw new UserError(`--output must be human or json`);
  const image = openBlockBackend({ file, format: p.opts.get("-f"), readOnly: true });
  try {
    const fields = infoFields(file, image);
    out.stdout(outputFormat === "json" ? `${JSON.stringify(fields, null, 4)}\n` : humanInfo(fields));
  } finally {
    image.close();
  }
  return 0;
}

function infoFields(file: string, image: BlockBackend): Record<string, unknown> {
  const actual = fs.statSync(file).blocks * 512;
  const fields: Record<string, unknown> = { "virtual-size": image.size, filename: file };
  if (!(image instanceof Qcow2Backend)) return { ...fields, format: "raw", "actual-size": actual, "dirty-flag": false };
  const h = image.header;
  Object.assign(fields, {
    "cluster-size": image.clusterSize,
    format: "qcow2",
    "actual-size": actual,
    "format-specific": {
      type: "qcow2",
      data: {
        compat: h.version === 3 ? "1.1" : "0.10",
        ...(h.version === 3
          ? {
              "compression-type": "zlib",
              "lazy-refcounts": (h.compatible & 1n) !== 0n,
              "refcount-bits": 2 ** h.refcountOrder,
              corrupt: (h.incompatible & INCOMPAT_CORRUPT) !== 0n,
              "extended-l2": false,
            }
          : { "refcount-bits": 16 }),
      },
    },
  });
  if (h.backingFile !== undefined) {
    fields["full-backing-filename"] = resolveBacking(file, h.backingFile);
    fields["backing-filename"] = h.backingFile;
    if (h.backingFormat !== undefined) fields["backing-filename-format"] = h.backingFormat;
  }
  fields["dirty-flag"] = (h.incompatible & INCOMPAT_DIRTY) !== 0n;
  return fields;
}

function humanInfo(f: Record<string, unknown>): string {
  const lines = [
    `image: ${f.filename}`,
    `file format: ${f.format}`,
    `virtual size: ${humanSize(f["virtual-size"] as number)} (${f["virtual-size"]} bytes)`,
    `disk size: ${humanSize(f["actual-size"] as number)}`,
  ];
  if (f["cluster-size"] !== undefined) lines.push(`cluster_size: ${f["cluster-size"]}`);
  if (f["backing-filename"] !== undefined) lines.push(`backing file: ${f["backing-filename"]}`);
  if (f["backing-filename-format"] !== undefined) lines.push(`backing file format: ${f["backing-filename-format"]}`);
  const specific = f["format-specific"] as { data: Record<string, unknown> } | undefined;
  if (specific) {
    lines.push("Format specific information:");
    for (const [k, v] of Object.entries(specific.data)) lines.push(`    ${k.replace(/-/g, " ")}: ${v}`);
  }
  return `${lines.join("\n")}\n`;
}

/** qemu's size_to_str: three significant digits in the largest binary unit. */
export function humanSize(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
  let i = 0;
  while (bytes >= 1024 ** (i + 1) && i < units.length - 1) i++;
  return `${Number((bytes / 1024 ** i).toPrecision(3))} ${units[i]}`;
}

// --- check ---

function check(p: Parsed, out: ImgOutput): number {
  const [file] = positional(p, 1, 1, "img check [-f FMT] FILE");
  const format = detectFormat(file, p.opts.get("-f"));
  if (format !== "qcow2") {
    out.stderr("tsvisor: This image format does not support checks\n");
    return 63;
  }
  const host = openForMetadata(file, true);
  let result;
  try {
    result = checkQcow2(host);
  } finally {
    host.close();
  }
  for (const line of result.messages.slice(0, 1000)) out.stderr(`${line}\n`);
  if (result.corruptions === 0 && result.leaks === 0) out.stdout("No errors were found on the image.\n");
  if (result.corruptions > 0) {
    out.stdout(`\n${result.corruptions} errors were found on the image.\nData may be corrupted, or further writes to the image may corrupt it.\n`);
  }
  if (result.leaks > 0) {
    out.stdout(`\n${result.leaks} leaked clusters were found on the image.\nThis means waste of disk space, but no harm to data.\n`);
  }
  const pct = (n: number, of: number) => (of === 0 ? 0 : (100 * n) / of).toFixed(2);
  out.stdout(
    `${result.allocatedClusters}/${result.totalClusters} = ${pct(result.allocatedClusters, result.totalClusters)}% allocated, ` +
      `${pct(result.compressedClusters, result.allocatedClusters)}% compressed clusters\nImage end offset: ${result.imageEnd}\n`,
  );
  return result.corruptions > 0 ? 2 : result.leaks > 0 ? 3 : 0;
}

// --- convert ---

function convert(p: Parsed, out: ImgOutput): number {
  const [input, output] = positional(p, 2, 2, "img convert [-f FMT] -O FMT IN OUT");
  const outFormat = checkFormat(p.opts.get("-O") ?? "raw");
  const source = openBlockBackend({ file: input, format: p.opts.get("-f"), readOnly: true });
  try {
    if (path.resolve(input) === path.resolve(output)) throw new UserError("img convert: the output would overwrite the input");
    if (outFormat === "raw") createRaw(output, source.size);
    else createQcow2(output, { size: source.size, ...parseCreateOptions(p.opts.get("-o")) });
    const target = openBlockBackend({ file: output, format: outFormat });
    try {
      copyNonZero(source, target, target instanceof Qcow2Backend ? target.clusterSize : 1 << 20);
      target.flush();
    } finally {
      target.close();
    }
  } finally {
    source.close();
  }
  void out;
  return 0;
}

/** Copies `from` into a fresh (all-zero) `to`, skipping zero chunks so the result stays sparse. */
function copyNonZero(from: BlockBackend, to: BlockBackend, chunk: number): void {
  const buf = new Uint8Array(chunk);
  for (let at = 0; at < from.size; at += chunk) {
    const part = buf.subarray(0, Math.min(chunk, from.size - at));
    from.read(at, part);
    if (part.some((b) => b !== 0)) to.write(at, part);
  }
}

// --- resize ---

function resize(p: Parsed, out: ImgOutput): number {
  const [file, sizeText] = positional(p, 2, 2, "img resize [-f FMT] FILE [+-]SIZE");
  const format = detectFormat(file, p.opts.get("-f"));
  const image = openBlockBackend({ file, format });
  try {
    const sign = sizeText[0] === "+" ? 1 : sizeText[0] === "-" ? -1 : 0;
    const amount = imgSize(sign === 0 ? sizeText : sizeText.slice(1));
    const newSize = sign === 0 ? amount : image.size + sign * amount;
    if (newSize < 0) throw new UserError("img resize: the new size would be negative");
    if (newSize < image.size && !p.flags.has("--shrink")) {
      throw new UserError("img resize: use the --shrink option to perform a shrink operation");
    }
    if (image instanceof Qcow2Backend) image.resize(newSize);
    else fs.truncateSync(file, newSize);
  } finally {
    image.close();
  }
  if (!p.flags.has("-q")) out.stdout("Image resized.\n");
  return 0;
}

// --- helpers ---

function detectFormat(file: string, format: string | undefined): ImageFormat {
  if (format !== undefined) return checkFormat(format);
  const host = openForMetadata(file, true);
  try {
    return probeFormat(host);
  } finally {
    host.close();
  }
}

function openForMetadata(file: string, readOnly: boolean): HostFile {
  try {
    return HostFile.open(file, readOnly);
  } catch (err) {
    throw new UserError(`Could not open '${file}': ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "No such file or directory" : (err as Error).message}`);
  }
}

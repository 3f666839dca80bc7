// Memory sizes as QEMU's -m reads them (qemu_strtosz_MiB): a number with an optional
// binary suffix B, K, M, G, T (case-insensitive); a bare number means MiB; fractions
// are allowed with a suffix larger than bytes ("1.5G"). Errors are UserErrors whose
// message is the rest of the line after "tsvisor: ".
import { UserError } from "../machine/machine.js";
import { RAM_OFFSET } from "../machine/guest-memory.js";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

const SUFFIX: Record<string, number> = { b: 1, k: KiB, m: MiB, g: GiB, t: 1024 * GiB };

/** Guest RAM is allocated in WebAssembly pages. */
export const RAM_GRANULE = 64 * KiB;
/** RAM and register files share one wasm32 Memory, which tops out at 4 GiB. */
export const MAX_RAM_BYTES = Math.floor((4 * GiB - RAM_OFFSET) / MiB) * MiB;

const SIZE_RE = /^(\d+(?:\.\d*)?|\.\d+|0x[0-9a-f]+)([bkmgt]?)$/i;

/**
 * Parses a size with `defaultUnit` for a bare number (QEMU's -m uses MiB).
 * Returns bytes, or undefined when `text` is not a size at all.
 */
export function parseSize(text: string, defaultUnit = MiB): number | undefined {
  const m = SIZE_RE.exec(text.trim());
  if (!m) return undefined;
  const [, num, suffix] = m;
  const unit = suffix ? SUFFIX[suffix.toLowerCase()] : defaultUnit;
  const isHex = /^0x/i.test(num);
  const isFraction = num.includes(".");
  // QEMU rejects fractional byte counts and fractional hex alike.
  if (isFraction && unit === 1) return undefined;
  const value = isHex ? parseInt(num, 16) : Number(num);
  const bytes = Math.round(value * unit);
  return Number.isFinite(bytes) ? bytes : undefined;
}

/** Parses -m's size into bytes of guest RAM, rounded up to the allocation granule. */
export function parseRamSize(text: string, flag = "-m"): number {
  const bytes = parseSize(text);
  if (bytes === undefined) {
    throw new UserError(
      `${flag} ${text}: invalid RAM size (a number with an optional suffix K, M, G or T, e.g. 256M)`,
    );
  }
  if (bytes <= 0) throw new UserError(`${flag} ${text}: RAM size must be greater than zero`);
  if (bytes > MAX_RAM_BYTES) {
    throw new UserError(`${flag} ${text}: RAM size too large (at most ${formatSize(MAX_RAM_BYTES)})`);
  }
  return Math.ceil(bytes / RAM_GRANULE) * RAM_GRANULE;
}

/** 268435456 -> "256M", 1536 MiB -> "1536M", 4 GiB -> "4G": the largest exact unit. */
export function formatSize(bytes: number): string {
  for (const [suffix, unit] of [["T", 1024 * GiB], ["G", GiB], ["M", MiB], ["K", KiB]] as const) {
    if (bytes >= unit && bytes % unit === 0) return `${bytes / unit}${suffix}`;
  }
  return `${bytes}B`;
}

// Which RAM pages hold translated code, for every hart of one guest memory, and the harts'
// translators themselves.
//
// Code is translated per hart, but RAM is shared: a store by any hart, or by the host (a
// loader, device DMA), into a page that some hart translated must drop that hart's
// translations, and translating a page must take it out of every hart's write TLB, so that
// the next store to it comes through a page walk (RiscvCpu.translate) to written().
//
// The translators outlive guest resets: a reset keeps the memory (and its RAM, as QEMU
// does), and the board's new harts adopt their predecessors' translators (adopt()). The
// loaders then write the firmware and kernel again, mostly the very bytes that were there:
// a host write that leaves a translated page's bytes as they were drops nothing, so a
// reboot runs the kernel's code translated in the boot before, instead of compiling it
// again (~180 WebAssembly modules, each leaving memory behind inside V8).
import { RAM_OFFSET, type GuestMemory } from "../../machine/guest-memory.js";

/** What CodePages asks of a hart's translator. */
export interface CodeHolder {
  /** Drops this hart's translations of the page at host offset `pageOff`. */
  dropPage(pageOff: number): void;
  /** Removes the hart's write-TLB entries of pages that hold translated code (CodePages.harts). */
  scrubWriteTlb(): void;
}

const PAGE = 4096;
const byMemory = new WeakMap<GuestMemory, CodePages>();

export class CodePages {
  /** By RAM page number: bit h is set while hart h has translations of the page's code. */
  readonly harts: Uint8Array;
  private readonly holders: (CodeHolder | undefined)[] = [];

  private constructor(private readonly mem: GuestMemory) {
    this.harts = new Uint8Array(Math.ceil(mem.ramSize / PAGE));
    mem.beforeHostWrite = (pa, len, data) => this.hostWrite(pa, len, data);
  }

  /** The code pages of this memory (made on first use, kept as long as the memory). */
  static of(mem: GuestMemory): CodePages {
    let pages = byMemory.get(mem);
    if (pages === undefined) {
      pages = new CodePages(mem);
      byMemory.set(mem, pages);
    }
    return pages;
  }

  /** Hart `hart`'s translator, if the memory has one (from before a guest reset). */
  holder(hart: number): CodeHolder | undefined {
    return this.holders[hart];
  }

  /** Makes `holder` hart `hart`'s translator; a previous one's pages are forgotten. */
  register(hart: number, holder: CodeHolder): void {
    if (this.holders[hart] === holder) return;
    this.forgetHart(hart);
    this.holders[hart] = holder;
  }

  /** Whether hart `hart` has translations from the page at host offset `pageOff`. */
  has(hart: number, pageOff: number): boolean {
    return (this.harts[(pageOff - RAM_OFFSET) / PAGE]! & (1 << hart)) !== 0;
  }

  /** Hart `hart` installed translations of these pages: no hart may store to them unseen. */
  add(hart: number, pageOffs: Iterable<number>): void {
    let fresh = false;
    for (const pageOff of pageOffs) {
      const p = (pageOff - RAM_OFFSET) / PAGE;
      if (this.harts[p] === 0) fresh = true;
      this.harts[p]! |= 1 << hart;
    }
    // A page some hart had translated already is in no write TLB (written() emptied it).
    if (fresh) for (const h of this.holders) h?.scrubWriteTlb();
  }

  /** Hart `hart` dropped its translations of the page at `pageOff`. */
  remove(hart: number, pageOff: number): void {
    this.harts[(pageOff - RAM_OFFSET) / PAGE]! &= ~(1 << hart);
  }

  /** Hart `hart` dropped all of its translations. */
  forgetHart(hart: number): void {
    const keep = ~(1 << hart);
    const h = this.harts;
    for (let p = 0; p < h.length; p++) if (h[p] !== 0) h[p]! &= keep;
  }

  /** A store reaches the page at host offset `pageOff`: every hart drops its code from it. */
  written(pageOff: number): void {
    const p = (pageOff - RAM_OFFSET) / PAGE;
    const bits = this.harts[p]!;
    for (let hart = 0; bits >> hart !== 0; hart++) {
      if ((bits >> hart) & 1) this.holders[hart]?.dropPage(pageOff);
    }
    this.harts[p] = 0;
  }

  /**
   * The host is about to write guest RAM [pa, pa+len): `data` when it knows the bytes (a
   * loader), none when the writer fills the range afterwards (DMA). Translated pages whose
   * bytes would change, or may, are dropped.
   */
  private hostWrite(pa: number, len: number, data?: Uint8Array): void {
    if (len <= 0) return;
    const first = Math.floor((pa - this.mem.ramBase) / PAGE);
    const last = Math.floor((pa + len - 1 - this.mem.ramBase) / PAGE);
    for (let p = first; p <= last; p++) {
      if (this.harts[p] === 0) continue;
      if (data !== undefined && this.unchanged(p, pa, data)) continue;
      this.written(RAM_OFFSET + p * PAGE);
    }
  }

  /** Whether `data` (to be written at `pa`) holds what RAM page `p` has where they overlap. */
  private unchanged(p: number, pa: number, data: Uint8Array): boolean {
    const ram = this.mem.ram;
    const at = pa - this.mem.ramBase; // where data[0] goes in ram
    const end = Math.min((p + 1) * PAGE, at + data.length);
    for (let i = Math.max(p * PAGE, at); i < end; i++) if (ram[i] !== data[i - at]) return false;
    return true;
  }
}

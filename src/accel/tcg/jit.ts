// The translation cache of one hart: counts how often the interpreter starts a block at
// each pc, translates hot pages in batches (one WebAssembly module for many pages), finds
// the translation for a pc, and drops translations whose guest code changed.
//
// A translation is keyed by the pc and by the host offset of the physical page its code
// came from; the CPU and the dispatcher check the latter against the instruction TLB before
// each use, so a changed mapping (satp, sfence.vma) never runs stale code. Page functions
// live in a WebAssembly.Table; the jump cache in the Memory maps a pc to its table slot
// and block for the dispatcher (src/accel/tcg/dispatcher.ts). Guest stores cannot reach a
// translated page through the TLB: translating a page removes its write-TLB entries, and
// the next store's page walk (CPU.translate) calls invalidatePage(). Device DMA does the
// same through GuestMemory.onHostWrite. The cache is bounded: past MAX_PAGES translated
// pages it is flushed whole, as QEMU flushes its code buffer when full.
//
// Pages are translated at tier 1 first (quick to compile) and again at tier 2 (registers in
// locals, for V8's optimizing compiler) once a tier-1 page has run `tierUp` blocks; see
// src/accel/tcg/riscv-translate.ts.
import { JC_ENTRIES, RAM_OFFSET, type GuestMemory } from "../../machine/guest-memory.js";
import { createDispatcher, JC_IDX_BITS, type Dispatch } from "./dispatcher.js";
import { assemble, type CodeWriter, ValType } from "./wasm-emitter.js";
import { pageFuncLocals, translatePage, type PageSource, type Tier } from "./riscv-translate.js";

/** Translated pages kept before the whole cache is flushed. */
const MAX_PAGES = 2048;
/** Pages translated per module at most. */
const BATCH = 64;
/** Pending pages that start a compile at once; fewer wait up to MAX_WAIT slices. */
const EAGER_BATCH = 16;
const MAX_WAIT = 4;
/** Execution counters, indexed by a hash of the pc (a collision only makes code hot sooner). */
const COUNTERS = 1 << 16;
/** An interpreted block of n instructions counts as 1 + n / LONG_BLOCK starts toward the threshold. */
const LONG_BLOCK = 16;
/** Blocks a tier-1 page runs before it is translated at tier 2 (-accel tcg,jit-tier-up=N). */
export const DEFAULT_TIER_UP = 100_000;

export interface Translation {
  readonly pc: number;
  readonly slot: number;
  readonly idx: number;
  readonly pageOff: number;
}

/** What translated code calls back into (the CPU's slow paths). */
export interface JitHelpers {
  ld(f3: number, rd: number, lo: number, hi: number): number;
  st(f3: number, rs2: number, lo: number, hi: number): number;
  ex(): number;
}

export interface JitThresholds {
  /** Interpreted block starts before a pc counts as hot. */
  hot: number;
  /** Blocks a tier-1 page runs before it is translated at tier 2. */
  tierUp: number;
}

interface PageRecord {
  pageVa: number;
  pageOff: number;
  /** Every entry pc translated for this page (a retranslation keeps them). */
  pcs: number[];
  /** The page function's slot in the table. */
  slot: number;
  tier: Tier;
}

interface PendingPage {
  pageOff: number;
  /** New hot entries (a retranslation adds the page's earlier ones). */
  pcs: Set<number>;
  tier: Tier;
}

export interface JitStats {
  modules: number;
  pagesTranslated: number;
  instructionsTranslated: number;
  invalidations: number;
  flushes: number;
  /** Pages translated again at tier 2. */
  tierUps: number;
  /** Milliseconds spent translating and compiling on the CPU's thread. */
  compileMs: number;
}

export class Jit {
  private readonly counts = new Uint16Array(COUNTERS);
  /** Translations by the low word of their pc (see lookup). */
  private readonly entries = new Map<number, Translation>();
  /** Translated pages by host page offset (one physical page may have several virtual aliases). */
  private readonly byPhys = new Map<number, PageRecord[]>();
  /** Pages with new hot entries, waiting for the next batch. */
  private readonly pending = new Map<number, PendingPage>();
  /** 1 where a RAM page (by physical page number) holds translated code. */
  readonly codePage: Uint8Array;
  private livePages = 0;
  /** Slices the oldest pending page has waited. */
  private waited = 0;
  readonly stats: JitStats = { modules: 0, pagesTranslated: 0, instructionsTranslated: 0, invalidations: 0, flushes: 0, tierUps: 0, compileMs: 0 };
  private readonly u16: Uint16Array;
  private readonly memoryPages: number;
  private readonly table = new WebAssembly.Table({ element: "anyfunc", initial: MAX_PAGES + BATCH });
  private readonly freeSlots: number[] = [];
  /** The jump cache as int32 words: pc lo, pc hi, page offset, slot << JC_IDX_BITS | block. */
  private readonly jc: Int32Array;
  /** Runs translated code from the pc in the hart's state (see dispatcher.ts). */
  readonly dispatch: Dispatch;

  constructor(
    private readonly mem: GuestMemory,
    private readonly stateBase: number,
    jumpCache: number,
    private readonly thresholds: JitThresholds,
    private readonly helpers: JitHelpers,
    /** Removes write-TLB entries that map these host page offsets. */
    private readonly scrubWriteTlb: (pageOffs: Set<number>) => void,
    /** Tells the CPU that running translated code may be stale now. */
    private readonly onInvalidate: () => void,
  ) {
    this.codePage = new Uint8Array(Math.ceil(mem.ramSize / 4096));
    this.u16 = new Uint16Array(mem.buffer);
    this.memoryPages = mem.buffer.byteLength / 65536;
    this.jc = new Int32Array(mem.buffer, jumpCache, JC_ENTRIES * 4).fill(0);
    for (let i = MAX_PAGES + BATCH - 1; i >= 0; i--) this.freeSlots.push(i);
    this.dispatch = createDispatcher(mem.memory!, this.table, stateBase);
  }

  /** The translation of `pc` from the page at host offset `pageOff`; counts misses. */
  find(pc: number, pageOff: number): Translation | undefined {
    const e = this.lookup(pc, pageOff);
    if (e !== undefined) return e;
    // A threshold of 1 translates every block before it runs (for testing the
    // translator); others wait for the end of the slice and compile in batches.
    if (this.count(pc, pageOff, 1) && this.thresholds.hot === 1) {
      this.compilePending();
      return this.lookup(pc, pageOff);
    }
    return undefined;
  }

  /**
   * The interpreter ran a block of `n` instructions from `pc`: a long one counts as more
   * starts (a long unrolled loop body, run a few thousand times, is worth translating).
   */
  interpreted(pc: number, pageOff: number, n: number): void {
    if (n >= LONG_BLOCK) this.count(pc, pageOff, Math.floor(n / LONG_BLOCK));
  }

  /** Adds `weight` starts to pc's counter; true when that made it hot. */
  private count(pc: number, pageOff: number, weight: number): boolean {
    const h = counterOf(pc);
    const c = this.counts[h]! + weight;
    if (c < this.thresholds.hot) {
      this.counts[h] = c;
      return false;
    }
    this.counts[h] = 0;
    this.markHot(pc, pageOff);
    return true;
  }

  private lookup(pc: number, pageOff: number): Translation | undefined {
    if (this.codePage[(pageOff - RAM_OFFSET) / 4096] !== 1) return undefined;
    // Keyed by the pc's low word: an int32 key hashes far faster than a heap number.
    const e = this.entries.get(pc | 0);
    if (e === undefined || e.pc !== pc || e.pageOff !== pageOff) return undefined;
    this.cache(pc, e);
    return e;
  }

  private markHot(pc: number, pageOff: number): void {
    const pageVa = Math.floor(pc / 4096) * 4096;
    this.pendingPage(pageVa, pageOff, this.record(pageVa, pageOff)?.tier ?? 1).pcs.add(pc);
  }

  /** A tier-1 page ran its count of blocks: translate it again at tier 2. */
  private tierUp(pageVa: number, pageOff: number): void {
    if (this.record(pageVa, pageOff)?.tier === 1) this.pendingPage(pageVa, pageOff, 2);
  }

  /** The page's entry in the pending list, at `tier` or above. */
  private pendingPage(pageVa: number, pageOff: number, tier: Tier): PendingPage {
    let p = this.pending.get(pageVa);
    if (p === undefined || p.pageOff !== pageOff) {
      p = { pageOff, pcs: new Set(), tier };
      this.pending.set(pageVa, p);
    }
    if (tier > p.tier) p.tier = tier;
    return p;
  }

  /** Puts a translation in the jump cache. */
  private cache(pc: number, t: Translation): void {
    const at = (((pc | 0) >>> 1) & (JC_ENTRIES - 1)) * 4;
    const jc = this.jc;
    jc[at] = pc | 0;
    jc[at + 1] = Math.floor(pc / 4294967296) | 0;
    jc[at + 2] = t.pageOff;
    jc[at + 3] = (t.slot << JC_IDX_BITS) | t.idx;
  }

  /** Removes pc's jump-cache entry if it holds code from `pageOff`. */
  private uncache(pc: number, pageOff: number): void {
    const at = (((pc | 0) >>> 1) & (JC_ENTRIES - 1)) * 4;
    if (this.jc[at] === (pc | 0) && this.jc[at + 2] === pageOff) this.jc[at + 2] = 0;
  }

  /** At the end of a slice: compiles the pending pages once there are enough or they waited long. */
  endSlice(): void {
    if (this.pending.size === 0) return;
    if (this.pending.size >= EAGER_BATCH || ++this.waited >= MAX_WAIT) {
      this.waited = 0;
      this.compilePending();
    }
  }

  /** Translates the pending pages, one module per BATCH pages. */
  compilePending(): void {
    const t0 = performance.now();
    while (this.pending.size > 0) {
      const batch: BatchPage[] = [];
      for (const [pageVa, p] of this.pending) {
        this.pending.delete(pageVa);
        const old = this.record(pageVa, p.pageOff);
        const pcs = new Set(old ? old.pcs : []);
        for (const pc of p.pcs) pcs.add(pc);
        batch.push({ pageVa, pageOff: p.pageOff, pcs: [...pcs].sort((a, b) => a - b), tier: p.tier });
        if (batch.length === BATCH) break;
      }
      if (this.livePages + batch.length > MAX_PAGES) this.flush();
      this.compileBatch(batch);
    }
    this.stats.compileMs += performance.now() - t0;
  }

  private record(pageVa: number, pageOff: number): PageRecord | undefined {
    return this.byPhys.get(pageOff)?.find((r) => r.pageVa === pageVa);
  }

  private compileBatch(batch: BatchPage[]): void {
    const funcs: { type: number; locals: ReturnType<typeof pageFuncLocals>; body: CodeWriter }[] = [];
    const done: { page: BatchPage; entries: Map<number, number> }[] = [];
    for (const page of batch) {
      const src: PageSource = {
        pageVa: page.pageVa,
        parcel: (off) => this.u16[(page.pageOff + off) >>> 1]!,
        stateBase: this.stateBase,
      };
      // Function i counts its blocks in global i (tier 1).
      const t = translatePage(src, page.pcs, page.tier, funcs.length);
      if (t.entries.size === 0) continue;
      funcs.push({ type: 2, locals: pageFuncLocals(page.tier), body: t.body });
      done.push({ page, entries: t.entries });
      this.stats.instructionsTranslated += t.instructions;
    }
    if (funcs.length === 0) return;
    const bytes = assemble({
      types: [
        { params: [ValType.i32, ValType.i32, ValType.i32, ValType.i32], results: [ValType.i32] },
        { params: [], results: [ValType.i32] },
        { params: [ValType.i32], results: [ValType.i32] },
        { params: [ValType.i32], results: [] },
      ],
      imports: [{ name: "ld", type: 0 }, { name: "st", type: 0 }, { name: "ex", type: 1 }, { name: "up", type: 3 }],
      memoryPages: this.memoryPages,
      funcs,
      globals: funcs.map(() => this.thresholds.tierUp),
      exports: funcs.map((_, i) => ({ name: `p${i}`, func: i })),
    });
    const h = this.helpers;
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
      m: { mem: this.mem.memory! },
      h: { ld: h.ld, st: h.st, ex: h.ex, up: (i: number) => this.tierUp(done[i]!.page.pageVa, done[i]!.page.pageOff) },
    });
    this.stats.modules++;
    const scrub = new Set<number>();
    done.forEach(({ page, entries }, i) => {
      this.install(page, instance.exports[`p${i}`] as Function, entries);
      scrub.add(page.pageOff);
    });
    this.scrubWriteTlb(scrub);
  }

  private install(page: BatchPage, fn: Function, entries: Map<number, number>): void {
    const { pageVa, pageOff } = page;
    let list = this.byPhys.get(pageOff);
    if (list === undefined) {
      list = [];
      this.byPhys.set(pageOff, list);
    }
    let rec = list.find((r) => r.pageVa === pageVa);
    if (rec === undefined) {
      rec = { pageVa, pageOff, pcs: [], slot: -1, tier: page.tier };
      list.push(rec);
      this.livePages++;
    } else {
      this.release(rec);
      if (page.tier > rec.tier) this.stats.tierUps++;
      rec.tier = page.tier;
    }
    rec.slot = this.freeSlots.pop()!;
    this.table.set(rec.slot, fn);
    rec.pcs = [...entries.keys()];
    for (const [pc, idx] of entries) {
      const t = { pc, slot: rec.slot, idx, pageOff };
      this.entries.set(pc | 0, t);
      this.cache(pc, t);
    }
    this.codePage[(pageOff - RAM_OFFSET) / 4096] = 1;
    this.stats.pagesTranslated++;
  }

  /** Takes a page's translation out of the jump cache and frees its table slot. */
  private release(rec: PageRecord): void {
    for (const pc of rec.pcs) {
      this.uncache(pc, rec.pageOff);
      const e = this.entries.get(pc | 0);
      if (e?.pc === pc && e.pageOff === rec.pageOff) this.entries.delete(pc | 0);
    }
    this.table.set(rec.slot, null);
    this.freeSlots.push(rec.slot);
  }

  /** Drops the translations of the RAM page at host offset `pageOff` (its code changed). */
  invalidatePage(pageOff: number): void {
    const list = this.byPhys.get(pageOff);
    this.codePage[(pageOff - RAM_OFFSET) / 4096] = 0;
    if (list === undefined) return;
    this.byPhys.delete(pageOff);
    for (const rec of list) {
      this.release(rec);
      for (const pc of rec.pcs) this.counts[counterOf(pc)] = 0; // it must become hot again first
      this.pending.delete(rec.pageVa);
      this.livePages--;
    }
    this.stats.invalidations++;
    this.onInvalidate();
  }

  /** The host wrote guest RAM [pa, pa+len) (DMA, loaders). */
  hostWrote(pa: number, len: number): void {
    if (len <= 0) return;
    const first = Math.floor((pa - this.mem.ramBase) / 4096);
    const last = Math.floor((pa + len - 1 - this.mem.ramBase) / 4096);
    for (let p = first; p <= last; p++) {
      if (this.codePage[p] === 1) this.invalidatePage(RAM_OFFSET + p * 4096);
    }
  }

  /** Drops every translation (the cache is full). */
  flush(): void {
    for (const list of this.byPhys.values()) for (const rec of list) this.release(rec);
    this.jc.fill(0);
    this.entries.clear();
    this.byPhys.clear();
    this.pending.clear();
    this.counts.fill(0);
    this.codePage.fill(0);
    this.livePages = 0;
    this.stats.flushes++;
    this.onInvalidate();
  }
}

interface BatchPage {
  pageVa: number;
  pageOff: number;
  pcs: number[];
  tier: Tier;
}

function counterOf(pc: number): number {
  return ((pc | 0) >>> 1) & (COUNTERS - 1);
}

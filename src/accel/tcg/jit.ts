// The translation cache of one hart: counts how often the interpreter starts a block at
// each pc, translates hot pages in batches (one WebAssembly module for many pages), finds
// the translation for a pc, and drops translations whose guest code changed.
//
// A translation is keyed by the pc and by the host offset of the physical page its code
// came from; the CPU checks the latter against its instruction TLB before each use, so a
// changed mapping (satp, sfence.vma) never runs stale code. Guest stores cannot reach a
// translated page through the TLB: translating a page removes its write-TLB entries, and
// the next store's page walk (CPU.translate) calls invalidatePage(). Device DMA does the
// same through GuestMemory.onHostWrite. The cache is bounded: past MAX_PAGES translated
// pages it is flushed whole, as QEMU flushes its code buffer when full.
import { RAM_OFFSET, type GuestMemory } from "../../machine/guest-memory.js";
import { assemble, type CodeWriter, ValType } from "./wasm-emitter.js";
import { PAGE_FUNC_LOCALS, translatePage, type PageSource } from "./riscv-translate.js";

/** Interpreted block starts before a pc counts as hot. */
const HOT = 50;
/** Translated pages kept before the whole cache is flushed. */
const MAX_PAGES = 2048;
/** Pages translated per module at most. */
const BATCH = 64;
/** Pc counters kept at most (cold code must not grow the map without bound). */
const MAX_COUNTERS = 1 << 17;

export interface Translation {
  readonly fn: (idx: number) => void;
  readonly idx: number;
  readonly pageOff: number;
}

/** What translated code calls back into (the CPU's slow paths). */
export interface JitHelpers {
  ld(f3: number, rd: number, lo: number, hi: number): number;
  st(f3: number, rs2: number, lo: number, hi: number): number;
  ex(): number;
}

interface PageRecord {
  pageVa: number;
  pageOff: number;
  /** Every entry pc translated for this page (a retranslation keeps them). */
  pcs: number[];
}

export interface JitStats {
  modules: number;
  pagesTranslated: number;
  instructionsTranslated: number;
  invalidations: number;
  flushes: number;
}

export class Jit {
  private readonly counts = new Map<number, number>();
  private readonly entries = new Map<number, Translation>();
  /** Translated pages by host page offset (one physical page may have several virtual aliases). */
  private readonly byPhys = new Map<number, PageRecord[]>();
  /** Pages with new hot entries, waiting for the next batch. */
  private readonly pending = new Map<number, { pageOff: number; pcs: Set<number> }>();
  /** 1 where a RAM page (by physical page number) holds translated code. */
  readonly codePage: Uint8Array;
  private livePages = 0;
  readonly stats: JitStats = { modules: 0, pagesTranslated: 0, instructionsTranslated: 0, invalidations: 0, flushes: 0 };
  private readonly u16: Uint16Array;
  private readonly memoryPages: number;

  constructor(
    private readonly mem: GuestMemory,
    private readonly stateBase: number,
    private readonly helpers: JitHelpers,
    /** Removes write-TLB entries that map these host page offsets. */
    private readonly scrubWriteTlb: (pageOffs: Set<number>) => void,
    /** Tells the CPU that running translated code may be stale now. */
    private readonly onInvalidate: () => void,
  ) {
    this.codePage = new Uint8Array(Math.ceil(mem.ramSize / 4096));
    this.u16 = new Uint16Array(mem.buffer);
    this.memoryPages = mem.buffer.byteLength / 65536;
  }

  /** The translation of `pc` from the page at host offset `pageOff`; counts misses. */
  find(pc: number, pageOff: number): Translation | undefined {
    const e = this.entries.get(pc);
    if (e !== undefined && e.pageOff === pageOff) return e;
    const c = (this.counts.get(pc) ?? 0) + 1;
    if (c === HOT) this.markHot(pc, pageOff);
    if (this.counts.size >= MAX_COUNTERS) this.counts.clear();
    this.counts.set(pc, c);
    return undefined;
  }

  private markHot(pc: number, pageOff: number): void {
    const pageVa = Math.floor(pc / 4096) * 4096;
    let p = this.pending.get(pageVa);
    if (p === undefined || p.pageOff !== pageOff) {
      p = { pageOff, pcs: new Set() };
      this.pending.set(pageVa, p);
    }
    p.pcs.add(pc);
  }

  get hasPending(): boolean {
    return this.pending.size > 0;
  }

  /** Translates the pending pages, one module per BATCH pages. */
  compilePending(): void {
    while (this.pending.size > 0) {
      const batch: { pageVa: number; pageOff: number; pcs: number[] }[] = [];
      for (const [pageVa, p] of this.pending) {
        this.pending.delete(pageVa);
        const old = this.record(pageVa, p.pageOff);
        const pcs = new Set(old ? old.pcs : []);
        for (const pc of p.pcs) pcs.add(pc);
        batch.push({ pageVa, pageOff: p.pageOff, pcs: [...pcs].sort((a, b) => a - b) });
        if (batch.length === BATCH) break;
      }
      if (this.livePages + batch.length > MAX_PAGES) this.flush();
      this.compileBatch(batch);
    }
  }

  private record(pageVa: number, pageOff: number): PageRecord | undefined {
    return this.byPhys.get(pageOff)?.find((r) => r.pageVa === pageVa);
  }

  private compileBatch(batch: { pageVa: number; pageOff: number; pcs: number[] }[]): void {
    const funcs: { type: number; locals: typeof PAGE_FUNC_LOCALS; body: CodeWriter }[] = [];
    const done: { page: (typeof batch)[number]; entries: Map<number, number> }[] = [];
    for (const page of batch) {
      const src: PageSource = {
        pageVa: page.pageVa,
        parcel: (off) => this.u16[(page.pageOff + off) >>> 1]!,
        stateBase: this.stateBase,
      };
      const t = translatePage(src, page.pcs);
      if (t.entries.size === 0) continue;
      funcs.push({ type: 2, locals: PAGE_FUNC_LOCALS, body: t.body });
      done.push({ page, entries: t.entries });
      this.stats.instructionsTranslated += t.instructions;
    }
    if (funcs.length === 0) return;
    const bytes = assemble({
      types: [
        { params: [ValType.i32, ValType.i32, ValType.i32, ValType.i32], results: [ValType.i32] },
        { params: [], results: [ValType.i32] },
        { params: [ValType.i32], results: [] },
      ],
      imports: [{ name: "ld", type: 0 }, { name: "st", type: 0 }, { name: "ex", type: 1 }],
      memoryPages: this.memoryPages,
      funcs,
      exports: funcs.map((_, i) => ({ name: `p${i}`, func: i })),
    });
    const h = this.helpers;
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
      m: { mem: this.mem.memory! },
      h: { ld: h.ld, st: h.st, ex: h.ex },
    });
    this.stats.modules++;
    const scrub = new Set<number>();
    done.forEach(({ page, entries }, i) => {
      const fn = instance.exports[`p${i}`] as (idx: number) => void;
      this.install(page.pageVa, page.pageOff, fn, entries);
      scrub.add(page.pageOff);
    });
    this.scrubWriteTlb(scrub);
  }

  private install(pageVa: number, pageOff: number, fn: (idx: number) => void, entries: Map<number, number>): void {
    let list = this.byPhys.get(pageOff);
    if (list === undefined) {
      list = [];
      this.byPhys.set(pageOff, list);
    }
    let rec = list.find((r) => r.pageVa === pageVa);
    if (rec === undefined) {
      rec = { pageVa, pageOff, pcs: [] };
      list.push(rec);
      this.livePages++;
    }
    rec.pcs = [...entries.keys()];
    for (const [pc, idx] of entries) this.entries.set(pc, { fn, idx, pageOff });
    this.codePage[(pageOff - RAM_OFFSET) / 4096] = 1;
    this.stats.pagesTranslated++;
  }

  /** Drops the translations of the RAM page at host offset `pageOff` (its code changed). */
  invalidatePage(pageOff: number): void {
    const list = this.byPhys.get(pageOff);
    this.codePage[(pageOff - RAM_OFFSET) / 4096] = 0;
    if (list === undefined) return;
    this.byPhys.delete(pageOff);
    for (const rec of list) {
      for (const pc of rec.pcs) {
        if (this.entries.get(pc)?.pageOff === pageOff) this.entries.delete(pc);
        this.counts.delete(pc); // it must become hot again before it is retranslated
      }
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
    this.entries.clear();
    this.byPhys.clear();
    this.pending.clear();
    this.counts.clear();
    this.codePage.fill(0);
    this.livePages = 0;
    this.stats.flushes++;
    this.onInvalidate();
  }
}

// The translation cache of one hart: counts how often the interpreter starts a block at
// each pc, translates hot code in batches (one WebAssembly module for many pages), finds
// the translation for a pc, and drops translations whose guest code changed.
//
// The unit of translation is a chunk: the blocks of one page that became hot together,
// with the blocks they lead to on that page that have run before (never-run code is not
// translated). Code of a page that becomes hot later goes into a new chunk instead of a
// retranslation of the whole page, so every instruction is compiled about once per tier
// and the hotness threshold can be low. Chunks of a page reach each other through the
// dispatcher.
//
// A translation is keyed by the pc and by the host offset of the physical page its code
// came from; the CPU and the dispatcher check the latter against the instruction TLB before
// each use, so a changed mapping (satp, sfence.vma) never runs stale code. Page functions
// live in a WebAssembly.Table; the jump cache in the Memory maps a pc to its table slot
// and block for the dispatcher (src/accel/tcg/dispatcher.ts). Guest stores cannot reach a
// translated page through the TLB: translating a page removes its write-TLB entries, and
// the next store's page walk (CPU.translate) drops them, on every hart (code-pages.ts).
// Device DMA and loaders do the same through GuestMemory.beforeHostWrite. A Jit outlives
// guest resets (its hart's successor adopts it), with every translation whose page still
// holds the same bytes. The cache is bounded: past MAX_CHUNKS translated
// chunks, or MAX_MODULES modules, it is flushed whole, as QEMU flushes its code buffer
// when full.
//
// Chunks are translated at tier 1 first (quick to compile) and again at tier 2 (registers
// in locals, for V8's optimizing compiler) once a tier-1 chunk has run `tierUp` blocks; see
// src/accel/tcg/riscv-translate.ts.
import { JC_ENTRIES, RAM_OFFSET, STATE_RTLB, STATE_WTLB, type GuestMemory } from "../../machine/guest-memory.js";
import { CodePages, type CodeHolder } from "./code-pages.js";
import { createDispatcher, JC_IDX_BITS, jumpCacheIndex, type Dispatch } from "./dispatcher.js";
import { LOAD_OPS, loadFunction, MEMORY_FUNCTION_LOCALS, STORE_OPS, storeFunction } from "./memory-helpers.js";
import { assemble, CodeWriter, Op, type ModuleSpec } from "./wasm-emitter.js";
import {
  CHUNK_MODULE_TYPES, H_LD, H_LOAD, H_ST, H_STORE, HELPER_TYPES, JS_HELPERS, T_CHUNK, pageFuncLocals, translatePage,
  type PageSource, type Tier,
} from "./riscv-translate.js";

/** Translated chunks kept before the whole cache is flushed. */
const MAX_CHUNKS = 4096;
/**
 * Modules compiled before the cache is flushed anyway. A chunk module imports the helper
 * table, and V8 keeps every instance that imports a table alive as long as the table (it
 * updates their copies on table.set): translations dropped since the helper table was
 * made (replaced by tier 2, invalidated) are freed only with it, and flush() makes a new
 * one. So this bounds what dropped translations hold; a boot compiles ~70 modules.
 */
export const MAX_MODULES = 512;
/** Chunks translated per module at most. */
const BATCH = 64;
/**
 * When pending chunks are compiled: at once when there are a module's worth, else after
 * MAX_WAIT slices, or as soon as hot code waiting for them has been interpreted
 * PENDING_RUNS more times (or one hot pc LOOP_RUNS times). Each module costs V8 a fixed
 * ~0.5 ms on the CPU's thread (decoding, a NativeModule with its code space and jump
 * table, an instance) however few chunks it holds. A boot with (64 chunks, 32 slices,
 * 16000 runs) compiled ~55 modules instead of ~180 with (16, 4, 1000), translating as
 * many instructions in less time on the CPU's thread (alternating boots on 2 cores:
 * 87-163 against 213-231 ms); LOOP_RUNS makes it ~70.
 */
const EAGER_BATCH = BATCH;
const MAX_WAIT = 32;
const PENDING_RUNS = 16_000;
/**
 * A hot pc interpreted this many more times while its translation waits is a loop (a BSS
 * clear, a copy: OpenSBI's, the kernel's) that would otherwise run interpreted until the
 * batch is due; its batch is compiled at once. Interpreted runs of waiting code per boot:
 * ~380,000 -> ~230,000 (0.8 M fewer instructions interpreted), for 70 modules instead
 * of 58; at 200, 137,000 runs but 108 modules.
 */
const LOOP_RUNS = 500;
/**
 * Execution counters, indexed by the physical address of the pc (modulo 4 MiB of RAM: the
 * kernel's text has a counter per halfword). A collision only makes code hot sooner, and
 * makes code look as if it ran.
 */
const COUNTERS = 1 << 21;
/** An interpreted block of n instructions counts as 1 + n / LONG_BLOCK starts toward the threshold. */
export const LONG_BLOCK = 16;
/**
 * Interpreted starts of a block before it is translated (-accel tcg,jit-threshold=N). A
 * boot's interpreted instructions are a long tail of kernel code that runs a few hundred
 * to a few thousand times. With modules of 64 chunks, 100 translates 53,000 instructions
 * per boot instead of 24,000 (compile 240 ms instead of 125 on the CPU's thread) and
 * interprets 6 M instead of 17.5 M. Alternating boots on a noisy 2-core host, three sets
 * of 10-12 each: median CPU-thread time 2.27-2.66 s against 2.81-3.16 s with 1000, wall
 * time 1-22% less (64 and 150 about as fast as 100, 25 slower).
 */
export const DEFAULT_THRESHOLD = 100;
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
  /** Runs the instruction at the stored pc: `inst` (an atomic or CSR one, run directly), or 0 (fetched). */
  ex(inst: number): number;
  /** Runs an FP instruction that cannot trap (STATE_FPOK is 1); x registers in memory. */
  fp(inst: number): void;
}

/** The hart's CPU, as its Jit sees it; the CPU that replaces it at a guest reset brings its own (adopt). */
export interface JitCpu {
  helpers: JitHelpers;
  /** Removes the CPU's write-TLB entries of pages that hold translated code (CodePages.harts). */
  scrubWriteTlb(): void;
  /** Tells the CPU that running translated code may be stale now. */
  onInvalidate(): void;
}

export interface JitThresholds {
  /** Interpreted block starts before a pc counts as hot. */
  hot: number;
  /** Blocks a tier-1 page runs before it is translated at tier 2. */
  tierUp: number;
}

/** A translated chunk: some blocks of one page. */
interface Chunk {
  pageVa: number;
  pageOff: number;
  /** The pc of every block in the chunk (each is an entry). */
  pcs: number[];
  /** The chunk function's slot in the table; -1 once released. */
  slot: number;
  tier: Tier;
  /** What the current translation passes to the `up` helper. */
  upId: number;
}

/** A chunk to translate: new hot pcs of a page, or a tier-1 chunk to translate at tier 2. */
interface Job {
  pageVa: number;
  pageOff: number;
  pcs: Set<number>;
  tier: Tier;
  /** The chunk this one replaces (tier 2), and the page's other chunks it takes in. */
  replaces?: Chunk;
  absorbs?: Chunk[];
  /** The id its translation passes to `up` (a key of Jit.upTargets). */
  upId: number;
}

export interface JitStats {
  modules: number;
  /** Chunks translated (a page may have several). */
  chunksTranslated: number;
  instructionsTranslated: number;
  invalidations: number;
  flushes: number;
  /** Chunks translated again at tier 2. */
  tierUps: number;
  /** Milliseconds spent translating and compiling on the CPU's thread. */
  compileMs: number;
}

export class Jit implements CodeHolder {
  private readonly counts = new Uint16Array(COUNTERS);
  /** Translations by the low word of their pc (see entryKey). */
  private readonly entries = new Map<number, Translation>();
  /** Translated chunks by host page offset (a physical page may have several, and aliases). */
  private readonly byPhys = new Map<number, Chunk[]>();
  /** Chunks waiting for the next batch, by virtual page (new code) or by the chunk they replace. */
  private readonly pending = new Map<number | Chunk, Job>();
  /** Which harts have code from which RAM page (shared by all harts of the memory). */
  private readonly pages: CodePages;
  private liveChunks = 0;
  /** Modules compiled since the last flush (see MAX_MODULES). */
  private modules = 0;
  /** Interpreted starts of hot blocks whose translation waits in `pending`. */
  private pendingRuns = 0;
  /** Slices the oldest pending chunk has waited. */
  private waited = 0;
  readonly stats: JitStats = noStats();
  private readonly u16: Uint16Array;
  private readonly memoryPages: number;
  private readonly table = new WebAssembly.Table({ element: "anyfunc", initial: MAX_CHUNKS + BATCH });
  private readonly freeSlots: number[] = [];
  /** The jump cache as int32 words: pc lo, pc hi, page offset, slot << JC_IDX_BITS | block. */
  private readonly jc: Int32Array;
  /** Runs translated code from the pc in the hart's state (see dispatcher.ts). */
  readonly dispatch: Dispatch;
  /** The helpers as wasm functions, in the slots riscv-translate.ts calls them by; new at each flush. */
  private helperTable: WebAssembly.Table;
  /** The module of the helper thunks (see fillHelpers), compiled once. */
  private helperModule: WebAssembly.Module | undefined;
  /** Tier-1 chunks by the id their code passes to `up`. */
  private readonly upTargets = new Map<number, Chunk>();
  private nextUpId = 0;

  constructor(
    private readonly mem: GuestMemory,
    private readonly hart: number,
    private readonly stateBase: number,
    jumpCache: number,
    private readonly thresholds: JitThresholds,
    private cpu: JitCpu,
  ) {
    this.pages = CodePages.of(mem);
    this.pages.register(hart, this); // a Jit it replaces leaves no marks
    this.u16 = new Uint16Array(mem.buffer);
    this.memoryPages = mem.buffer.byteLength / 65536;
    this.jc = new Int32Array(mem.buffer, jumpCache, JC_ENTRIES * 4).fill(0);
    for (let i = MAX_CHUNKS + BATCH - 1; i >= 0; i--) this.freeSlots.push(i);
    this.dispatch = createDispatcher(mem.memory!, this.table, stateBase);
    this.helperTable = this.createHelperTable();
  }

  /**
   * The helper table: wasm thunks for the CPU's JavaScript helpers (a module importing
   * them once), then the tier-1 loads and stores (memory-helpers.ts) in the same module.
   */
  private createHelperTable(): WebAssembly.Table {
    const table = new WebAssembly.Table({ element: "anyfunc", initial: JS_HELPERS.length + LOAD_OPS.length + STORE_OPS.length });
    this.fillHelpers(table);
    return table;
  }

  /** Puts the helpers, calling the current CPU, into `table` (V8 updates every instance that imports it). */
  private fillHelpers(table: WebAssembly.Table): void {
    this.helperModule ??= new WebAssembly.Module(this.helperModuleBytes());
    const h = this.cpu.helpers;
    const up = (id: number) => {
      const chunk = this.upTargets.get(id);
      if (chunk !== undefined) this.tierUp(chunk);
    };
    const exports = new WebAssembly.Instance(this.helperModule, {
      m: { mem: this.mem.memory! },
      h: { ld: h.ld, st: h.st, ex: h.ex, up, fp: h.fp },
    }).exports;
    for (let i = 0; i < table.length; i++) table.set(i, exports[`h${i}`] as Function);
  }

  private helperModuleBytes(): Uint8Array<ArrayBuffer> {
    const funcs: ModuleSpec["funcs"] = JS_HELPERS.map((_, i) => {
      const type = HELPER_TYPES[i]!;
      const w = new CodeWriter();
      for (let p = 0; p < CHUNK_MODULE_TYPES[type]!.params.length; p++) w.get(p);
      w.op(Op.call).u32(i); // the import
      return { type, locals: [], body: w };
    });
    const sb = this.stateBase;
    for (let f3 = 0; f3 < LOAD_OPS.length; f3++) {
      funcs.push({ type: HELPER_TYPES[H_LOAD + f3]!, locals: MEMORY_FUNCTION_LOCALS, body: loadFunction(f3, sb, STATE_RTLB, H_LD) });
    }
    for (let f3 = 0; f3 < STORE_OPS.length; f3++) {
      funcs.push({ type: HELPER_TYPES[H_STORE + f3]!, locals: MEMORY_FUNCTION_LOCALS, body: storeFunction(f3, sb, STATE_WTLB, H_ST) });
    }
    return assemble({
      types: CHUNK_MODULE_TYPES,
      imports: JS_HELPERS.map((name, i) => ({ name, type: HELPER_TYPES[i]! })),
      memoryPages: this.memoryPages,
      funcs,
      exports: funcs.map((_, i) => ({ name: `h${i}`, func: i })),
    });
  }

  /**
   * Hands this Jit to the CPU that replaces its hart's at a guest reset (same memory, same
   * hart), with its translations; false when `thresholds` differ from the Jit's. Statistics
   * start again.
   */
  adopt(cpu: JitCpu, thresholds: JitThresholds): boolean {
    if (thresholds.hot !== this.thresholds.hot || thresholds.tierUp !== this.thresholds.tierUp) return false;
    this.cpu = cpu;
    this.fillHelpers(this.helperTable);
    this.jc.fill(0);
    Object.assign(this.stats, noStats());
    return true;
  }

  /**
   * Whether `pc` from the page at host offset `pageOff` has a translation (it is then in
   * the jump cache, for the dispatcher); counts misses. A translated entry's counter is at
   * least the threshold, so most interpreted block starts need no lookup at all.
   */
  find(pc: number, pageOff: number): boolean {
    if (this.counts[counterOf(pc, pageOff)]! >= this.thresholds.hot && this.lookup(pc, pageOff)) return true;
    return this.count(pc, pageOff, 1) && this.lookup(pc, pageOff);
  }

  /**
   * What find() does for a block start whose counter stays below the threshold, without
   * the trip back to the CPU's dispatch loop: counts the start and returns true when the
   * interpreter may go on (no translation is used or made hot from here); false leaves
   * the decision to find().
   */
  coldStart(pc: number, pageOff: number): boolean {
    const h = counterOf(pc, pageOff);
    const c = this.counts[h]! + 1;
    if (c >= this.thresholds.hot) return false;
    this.counts[h] = c;
    return true;
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
    const h = counterOf(pc, pageOff);
    const hot = this.thresholds.hot;
    const old = this.counts[h]!;
    if (old + weight < hot) {
      this.counts[h] = old + weight;
      return false;
    }
    // A threshold of 1 translates every block before it runs (for testing the translator).
    let now = hot === 1;
    if (old < hot) {
      this.counts[h] = hot; // stays > 0 after translation: it ran
      this.markHot(pc, pageOff);
    } else if (old - hot < LOOP_RUNS && old < 0xffff) {
      this.counts[h] = old + 1; // its runs while its translation waits
    } else {
      this.counts[h] = hot;
      now = true;
    }
    // Translations wait to be compiled in batches (a module costs about a millisecond
    // however small), but not while hot code waiting for them keeps being interpreted.
    if (now || ++this.pendingRuns >= PENDING_RUNS) this.compilePending();
    return true;
  }

  private lookup(pc: number, pageOff: number): boolean {
    if (!this.pages.has(this.hart, pageOff)) return false;
    if (this.cached(pc, pageOff)) return true;
    const e = this.lookupEntry(pc, pageOff);
    if (e === undefined) return false;
    this.cache(pc, e);
    return true;
  }

  private lookupEntry(pc: number, pageOff: number): Translation | undefined {
    const e = this.entries.get(entryKey(pc));
    return e === undefined || e.pc !== pc || e.pageOff !== pageOff ? undefined : e;
  }

  private markHot(pc: number, pageOff: number): void {
    const pageVa = Math.floor(pc / 4096) * 4096;
    let job = this.pending.get(pageVa);
    if (job === undefined || job.pageOff !== pageOff) {
      if (job !== undefined) this.forget(job); // the page was mapped elsewhere meanwhile
      job = { pageVa, pageOff, pcs: new Set(), tier: 1, upId: this.nextUpId++ };
      this.pending.set(pageVa, job);
    }
    job.pcs.add(pc);
  }

  /** Drops a pending job's hot marks: its pcs must become hot again to be translated. */
  private forget(job: Job): void {
    for (const pc of job.pcs) this.counts[counterOf(pc, job.pageOff)] = 0;
  }

  /** A tier-1 chunk ran its count of blocks: translate it again at tier 2. */
  private tierUp(chunk: Chunk): void {
    if (chunk.tier !== 1 || chunk.slot < 0 || this.pending.has(chunk)) return;
    // One tier-2 function for all of the page's chunks: a loop whose blocks became hot at
    // different times (so sit in different chunks) would otherwise go through the
    // dispatcher on every iteration.
    const absorbs = (this.byPhys.get(chunk.pageOff) ?? [])
      .filter((c) => c !== chunk && c.pageVa === chunk.pageVa && c.slot >= 0);
    const pcs = new Set(chunk.pcs);
    for (const c of absorbs) {
      for (const pc of c.pcs) pcs.add(pc);
      c.tier = 2; // its own `up` is moot now
      this.pending.delete(c);
    }
    this.pending.set(chunk, {
      pageVa: chunk.pageVa, pageOff: chunk.pageOff, pcs, tier: 2, replaces: chunk, absorbs, upId: -1,
    });
  }

  /** Puts a translation in the jump cache. */
  private cache(pc: number, t: Translation): void {
    const at = jumpCacheIndex(pc | 0) * 4;
    const jc = this.jc;
    jc[at] = pc | 0;
    jc[at + 1] = Math.floor(pc / 4294967296) | 0;
    jc[at + 2] = t.pageOff;
    jc[at + 3] = (t.slot << JC_IDX_BITS) | t.idx;
  }

  /** Whether pc's jump-cache entry holds its translation from `pageOff`. */
  private cached(pc: number, pageOff: number): boolean {
    const at = jumpCacheIndex(pc | 0) * 4;
    const jc = this.jc;
    return jc[at] === (pc | 0) && jc[at + 2] === pageOff && jc[at + 1] === (Math.floor(pc / 4294967296) | 0);
  }

  /** Removes pc's jump-cache entry if it holds code from `pageOff`. */
  private uncache(pc: number, pageOff: number): void {
    const at = jumpCacheIndex(pc | 0) * 4;
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

  /** Translates the pending chunks, one module per BATCH chunks. */
  compilePending(): void {
    const t0 = performance.now();
    this.pendingRuns = 0;
    while (this.pending.size > 0) {
      const batch: Job[] = [];
      for (const [key, job] of this.pending) {
        this.pending.delete(key);
        batch.push(job);
        if (batch.length === BATCH) break;
      }
      if (this.liveChunks + batch.length > MAX_CHUNKS || this.modules >= MAX_MODULES) this.flush();
      else this.compileBatch(batch);
    }
    this.stats.compileMs += performance.now() - t0;
  }

  private compileBatch(batch: Job[]): void {
    const funcs: { type: number; locals: ReturnType<typeof pageFuncLocals>; body: CodeWriter }[] = [];
    const done: { job: Job; entries: Map<number, number>; slot: number }[] = [];
    for (const job of batch) {
      const pageOff = job.pageOff;
      const slot = this.freeSlots.pop()!;
      const src: PageSource = {
        pageVa: job.pageVa,
        parcel: (off) => this.u16[(pageOff + off) >>> 1]!,
        stateBase: this.stateBase,
        // Into code that ran and that no other chunk holds.
        follow: (pc, straight) => (straight || this.counts[counterOf(pc, pageOff)]! > 0) &&
          this.lookupEntry(pc, pageOff) === undefined,
        chunk: { slot, pageOff },
      };
      // Function i counts its blocks in global i (tier 1).
      const t = translatePage(src, [...job.pcs].sort((a, b) => a - b), job.tier, funcs.length, job.upId);
      // A hot pc left out (its block starts with a system instruction, or the function was
      // full) must become hot again before it is tried again.
      for (const pc of job.pcs) if (!t.entries.has(pc)) this.counts[counterOf(pc, pageOff)] = 0;
      if (t.entries.size === 0) {
        this.freeSlots.push(slot);
        continue;
      }
      funcs.push({ type: T_CHUNK, locals: pageFuncLocals(job.tier), body: t.body });
      done.push({ job, entries: t.entries, slot });
      this.stats.instructionsTranslated += t.instructions;
    }
    if (funcs.length === 0) return;
    const bytes = assemble({
      types: CHUNK_MODULE_TYPES,
      imports: [],
      memoryPages: this.memoryPages,
      table: true,
      funcs,
      globals: funcs.map(() => this.thresholds.tierUp),
      exports: funcs.map((_, i) => ({ name: `p${i}`, func: i })),
    });
    const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
      m: { mem: this.mem.memory!, tab: this.helperTable },
    });
    this.stats.modules++;
    this.modules++;
    done.forEach((d, i) => this.install(d.job, d.slot, instance.exports[`p${i}`] as Function, d.entries));
    // Stores to these pages, by any hart, must now reach translate().
    this.pages.add(this.hart, done.map((d) => d.job.pageOff));
  }

  /** Installs a translation in `slot` (taken before translating: its code compares it). */
  private install(job: Job, slot: number, fn: Function, entries: Map<number, number>): void {
    const { pageVa, pageOff } = job;
    let list = this.byPhys.get(pageOff);
    if (list === undefined) {
      list = [];
      this.byPhys.set(pageOff, list);
    }
    let chunk = job.replaces;
    if (chunk !== undefined && chunk.slot >= 0) {
      this.release(chunk);
      this.stats.tierUps++;
      chunk.tier = job.tier;
      for (const other of job.absorbs ?? []) {
        if (other.slot < 0) continue;
        this.release(other);
        list.splice(list.indexOf(other), 1);
        this.liveChunks--;
      }
    } else {
      chunk = { pageVa, pageOff, pcs: [], slot: -1, tier: job.tier, upId: -1 };
      list.push(chunk);
      this.liveChunks++;
    }
    chunk.slot = slot;
    this.table.set(chunk.slot, fn);
    chunk.upId = job.upId;
    if (job.tier === 1) this.upTargets.set(job.upId, chunk);
    chunk.pcs = [...entries.keys()];
    const hot = this.thresholds.hot;
    for (const [pc, idx] of entries) {
      const h = counterOf(pc, pageOff);
      if (this.counts[h]! < hot) this.counts[h] = hot; // see find()
      const t = { pc, slot: chunk.slot, idx, pageOff };
      this.entries.set(entryKey(pc), t);
      this.cache(pc, t);
    }
    this.stats.chunksTranslated++;
  }

  /** Takes a chunk out of the jump cache and frees its table slot. */
  private release(chunk: Chunk): void {
    for (const pc of chunk.pcs) {
      this.uncache(pc, chunk.pageOff);
      const e = this.entries.get(entryKey(pc));
      if (e?.slot === chunk.slot && e.pc === pc && e.pageOff === chunk.pageOff) this.entries.delete(entryKey(pc));
    }
    this.table.set(chunk.slot, null);
    this.freeSlots.push(chunk.slot);
    chunk.slot = -1;
    this.upTargets.delete(chunk.upId);
  }

  /** Drops the translations of the RAM page at host offset `pageOff` (its code changed). */
  dropPage(pageOff: number): void {
    const list = this.byPhys.get(pageOff);
    this.pages.remove(this.hart, pageOff);
    if (list === undefined) return;
    this.byPhys.delete(pageOff);
    for (const chunk of list) {
      for (const pc of chunk.pcs) this.counts[counterOf(pc, pageOff)] = 0; // it must become hot again first
      this.pending.delete(chunk);
      this.release(chunk);
      this.liveChunks--;
    }
    for (const [key, job] of this.pending) {
      if (job.pageOff !== pageOff) continue;
      this.pending.delete(key);
      this.forget(job);
    }
    this.stats.invalidations++;
    this.cpu.onInvalidate();
  }

  /** Removes the CPU's write-TLB entries of pages with translated code (CodePages asks). */
  scrubWriteTlb(): void {
    this.cpu.scrubWriteTlb();
  }

  /** Drops every translation (the cache is full), and with them every module compiled so far. */
  flush(): void {
    for (const list of this.byPhys.values()) for (const chunk of list) this.release(chunk);
    this.helperTable = this.createHelperTable(); // the old one holds all the old instances
    this.modules = 0;
    this.jc.fill(0);
    this.entries.clear();
    this.byPhys.clear();
    this.pending.clear();
    this.counts.fill(0);
    this.pages.forgetHart(this.hart);
    this.liveChunks = 0;
    this.stats.flushes++;
    this.cpu.onInvalidate();
  }
}

function noStats(): JitStats {
  return { modules: 0, chunksTranslated: 0, instructionsTranslated: 0, invalidations: 0, flushes: 0, tierUps: 0, compileMs: 0 };
}

/**
 * The key of pc's translation in `entries`: its low word halved (pcs are even), which is
 * a small integer (31-bit signed) for V8. The low word itself (pc | 0) is a heap number
 * for the kernel's addresses, and a Map lookup by it cost ~30 ns.
 */
function entryKey(pc: number): number {
  return (pc | 0) >> 1;
}

/** The counter of the pc at host offset pageOff + (pc & 0xfff): a page's pcs have consecutive counters. */
function counterOf(pc: number, pageOff: number): number {
  return ((pageOff - RAM_OFFSET + (pc & 0xfff)) >>> 1) & (COUNTERS - 1);
}

/**
 * Registry: the load-time half of the preload's probes, what an instrumented file talks to.
 *
 * Each rewritten file's header registers the file here once, as it loads (`file(key, n, table,
 * slots)`), and gets its `ProbeFile`: the slot array its probes check (`s`, 0 dormant, 1 live),
 * and the three entry points its live probes call (`e` at entry, `r` at return, `x` at a throw).
 * The table of its functions (names, kinds, lines, exports) stays a string until a trace asks.
 *
 * This module is all that a preloaded start loads of the probes: selecting them for a trace and
 * making them live is probe.ts's, loaded with the trace machinery. The registry of a thread is
 * kept in the process-wide state (state.ts), where the headers find it.
 */
import { fileURLToPath } from 'node:url'
import type { Matcher } from './match.js'
import { STATE_KEY, isBusy, state } from './state.js'

/**
 * How a rewritten file's header reaches this thread's registry, the start of the expression whose
 * `.file(key, n, table, slots)` registers it (then an inert stand-in where no preload runs here):
 * instrument.ts writes it, installers/binding-plan.ts finds the header by it in a running text.
 */
export const REGISTRY_LOOKUP = `(globalThis[Symbol.for(${JSON.stringify(STATE_KEY)})]?.registry||`

/** What kind of function a probe sits in. */
export type FunctionKind = 'function' | 'arrow' | 'method' | 'get' | 'set' | 'constructor'

/** One function of a file, probed or not. */
export interface FunctionInfo {
  /** The name a spec matches: `fact`, `outer.inner`, `Queue#push`, `outer.@12`. */
  readonly name: string
  readonly kind: FunctionKind
  readonly async: boolean
  readonly generator: boolean
  /** 1-based line and 0-based column of the function's start: in the original source when the file came with a map (TypeScript...), else in the file. */
  readonly line: number
  readonly column: number
  /** The names this function is exported under (ES modules: `export`), first segment replaced. */
  readonly exports: readonly string[]
  /** Whether the probe passes the function's own `arguments` (then the arity is exact). */
  readonly exactArgs: boolean
  /** Whether the probe sees calls only (`RECON_TRACE_PROBES=calls`): no return, no exception. */
  readonly callsOnly?: boolean
  /**
   * The original file the function was written in, through the file's source map, when that is
   * another file (`/app/src/db.ts` for a function of `dist/db.js` or of a bundle): specs name it.
   */
  readonly source?: string
  /** Defined outside any function (at the top of its file, or a method of a class or object there). */
  readonly top?: boolean
  /**
   * Code the compiler added (esbuild's `__name`, a bundle's module helpers): no position of the
   * file's source map is at or before its start. A glob leaves it out; its name still selects it.
   */
  readonly generated?: boolean
  /**
   * Left without a probe by the preload's lean form (`RECON_TRACE_PROBES=lean`): a top-level
   * binding, or a property of an object one holds, reaches it (holder.ts), and the binding
   * installer serves its calls at trace time. Its id has a slot, never read.
   */
  readonly bound?: boolean
}

/** A probed function: its id is its index in the file's slot array. */
export interface ProbeInfo extends FunctionInfo {
  readonly id: number
}

/** A function the rewrite left alone, and why. */
export interface SkippedInfo {
  readonly name: string
  readonly line: number
  readonly reason: 'eval' | 'with' | 'redeclares' | 'not selected'
}

/** The meta table a file registers: compact, parsed only when a trace asks for it. */
export function encodeTable(probes: readonly ProbeInfo[], skipped: readonly SkippedInfo[]): string {
  const index = new Map<string, number>()
  const o: string[] = []
  const sourceIndex = (s: string | undefined) => {
    if (s === undefined) return -1
    let i = index.get(s)
    if (i === undefined) index.set(s, (i = o.push(s) - 1))
    return i
  }
  return JSON.stringify({
    p: probes.map((p) => [
      p.name,
      p.kind,
      (p.async ? 1 : 0) |
        (p.generator ? 2 : 0) |
        (p.exactArgs ? 4 : 0) |
        (p.callsOnly ? 8 : 0) |
        (p.top ? 16 : 0) |
        (p.generated ? 32 : 0) |
        (p.bound ? 64 : 0),
      p.line,
      p.column,
      p.exports,
      sourceIndex(p.source),
    ]),
    s: skipped.filter((s) => s.reason !== 'not selected').map((s) => [s.name, s.line, s.reason]),
    o,
  })
}

/** The inverse of `encodeTable`. */
export function decodeTable(text: string): { probes: ProbeInfo[]; skipped: SkippedInfo[] } {
  const t = JSON.parse(text) as {
    p: [string, FunctionKind, number, number, number, string[], number?][]
    s: [string, number, SkippedInfo['reason']][]
    o?: string[]
  }
  const o = t.o ?? []
  return {
    probes: t.p.map(([name, kind, f, line, column, exports, source], id) => ({
      id,
      name,
      kind,
      async: (f & 1) !== 0,
      generator: (f & 2) !== 0,
      exactArgs: (f & 4) !== 0,
      callsOnly: (f & 8) !== 0,
      top: (f & 16) !== 0,
      generated: (f & 32) !== 0,
      line,
      column,
      exports,
      source: source === undefined || source < 0 ? undefined : o[source],
      // Only where set: a table the lean form did not write reads as it did before it existed.
      ...((f & 64) !== 0 ? { bound: true } : undefined),
    })),
    skipped: t.s.map(([name, line, reason]) => ({ name, line, reason })),
  }
}

/** What a live probe calls: the active trace's slow path. Never throws. */
export interface ProbeHandler {
  /**
   * A call of a live probe (the entry of the file's live table that the probe read, set with
   * the handler) that its matcher accepted with `flags`, outside recon-trace's own work;
   * returns 0 (nothing more to report) or a token for `ret`/`threw`.
   */
  enter(file: ProbeFile, target: LiveProbe, args: ArrayLike<unknown>, n: number, flags: number): unknown
  ret(file: ProbeFile, token: unknown, value: unknown): void
  threw(file: ProbeFile, token: unknown, err: unknown): void
}

/** What the entry check of a live probe reads: the argument counts its specs accept. */
export interface LiveProbe {
  /** Its specs' matcher, run once the count passed. */
  readonly match: Matcher
  readonly min: number
  readonly max: number
  /** The probe passes the function's own `arguments` (the arity is exact). */
  readonly exact: boolean
}

export class ProbeFile {
  /**
   * One slot per probe: 0 dormant, 1 live: the array literal the file's header wrote, held by a
   * const. V8 keeps an untouched literal's elements copy-on-write and folds the dormant check
   * away in optimized code (measured +0.0 ns per call until a trace first selects a function of
   * the file, then +0.4-1.3 ns; bench/probe-dormant.mjs, `PROBE_FORMAT=module` for ES modules).
   */
  readonly s: number[]
  /** The active trace's slow path while any probe of this file is live. */
  handler: ProbeHandler | undefined = undefined
  /** The live probes of the active trace, by id (set with the slots). */
  live: (LiveProbe | undefined)[] | undefined = undefined
  /**
   * The argument counts each live probe accepts, and whether its arity is exact, in typed arrays
   * by id: the entry check reads no object (set with `live`).
   */
  minArgs: Int32Array | undefined = undefined
  maxArgs: Int32Array | undefined = undefined
  exactArgs: Uint8Array | undefined = undefined
  /**
   * Per live probe, an argument whose value every call its specs select has (a literal pattern,
   * a guard's `x === 42`): its index (-1: none) and the value, compared here with `!==` before
   * the matcher is called (set with `live`), and before the count. A guard that matches nothing:
   * +5.7-5.8 ns per call through the matcher, +5.0-5.3 ns compared after the count, +3.3-4.4 ns
   * before it (bench/probe-dormant.mjs guard, Node 20-26).
   */
  pinAt: Int32Array | undefined = undefined
  pinValues: unknown[] | undefined = undefined
  private table: { probes: ProbeInfo[]; skipped: SkippedInfo[] } | undefined
  constructor(
    /** Absolute path of the file. */
    readonly filename: string,
    readonly n: number,
    /** The encoded table. */
    private readonly raw: string,
    /** The slot array: the header's literal. */
    slots: number[] | undefined,
    /** The table already decoded (a table of some functions only, whose ids the encoding would renumber). */
    table?: { probes: ProbeInfo[]; skipped: SkippedInfo[] },
  ) {
    this.table = table
    if (Array.isArray(slots) && slots.length === n) this.s = slots
    else {
      const s: number[] = []
      for (let i = 0; i < n; i++) s[i] = 0
      this.s = s
    }
  }

  /** The probed functions and the ones left alone, parsed on first use. */
  get probes(): readonly ProbeInfo[] {
    return (this.table ??= this.parse()).probes
  }
  /** Whether any function of this file was written in `original` (through the file's source map). */
  mapsFrom(original: string): boolean {
    return this.probes.some((p) => p.source === original)
  }
  get skipped(): readonly SkippedInfo[] {
    return (this.table ??= this.parse()).skipped
  }
  private parse(): { probes: ProbeInfo[]; skipped: SkippedInfo[] } {
    if (this.raw === '') return { probes: [], skipped: [] }
    try {
      return decodeTable(this.raw)
    } catch {
      return { probes: [], skipped: [] }
    }
  }

  // The three entry points of live probes. One-letter names: they are written into every probe.

  /**
   * A call of a live probe. The minimum argument count is checked here, in a method small enough
   * for V8 to inline into any probed function, however large (then the argument list the probe
   * builds is never allocated when the count filters the call out), and the rest in `check`: a
   * live probe whose calls are all filtered out measured +8 ns per call through the trace's
   * handler, +2-3 ns with the count first (bench/probe-dormant.mjs, live but filtered by arity);
   * on acorn, every probe live and filtered by arity, +5.6 ns with every check here, +3.8 ns
   * with this one alone (bench/probe-workload.mjs filtered, Node 20).
   */
  e(id: number, args: ArrayLike<unknown>): unknown {
    const lo = this.minArgs
    return lo === undefined || args.length < lo[id] ? 0 : this.check(id, args)
  }
  /** The rest of a live probe's entry check: a pinned value; the count, trailing undefined left out; the matcher. */
  private check(id: number, args: ArrayLike<unknown>): unknown {
    // A pinned value first: one read, where the count below reads the trailing arguments.
    const pins = this.pinAt
    if (pins !== undefined) {
      const at = pins[id]
      if (at >= 0 && args[at] !== this.pinValues![id]) return 0
    }
    let n = args.length
    // Trailing parameters that received nothing do not count; trimming only lowers the count, so
    // a call with too few parameters is out before any of them is read (the argument lists of
    // different functions hold different element kinds: a read is the costly part).
    const min = this.minArgs![id]
    if (this.exactArgs![id] === 0) while (n > 0 && args[n - 1] === undefined) n--
    if (n < min || n > this.maxArgs![id]) return 0
    const h = this.handler
    return h === undefined ? 0 : this.matchCall(h, id, args, n)
  }
  /**
   * The matcher of a call that passed the count: called from here rather than from the trace's
   * handler, so that a call a guard filters out goes through one call less (a guard that matches
   * nothing: +22.9 ns per call through the handler, +20.4 ns this way, Node 20;
   * bench/liveedit-cost.mjs guard).
   */
  private matchCall(h: ProbeHandler, id: number, args: ArrayLike<unknown>, n: number): unknown {
    const t = this.live![id]
    if (t === undefined || isBusy()) return 0
    let flags: number
    try {
      flags = t.match(args, n)
    } catch {
      return 0
    }
    return flags === 0 ? 0 : h.enter(this, t, args, n, flags)
  }
  r(token: unknown, value: unknown): unknown {
    const h = this.handler
    if (h !== undefined) h.ret(this, token, value)
    return value
  }
  /** Reports the exception of a live call and returns it, for the probe to throw again. */
  x(token: unknown, err: unknown): unknown {
    const h = this.handler
    if (h !== undefined && token !== 0) h.threw(this, token, err)
    return err
  }
}

export class Registry {
  readonly version = 1
  readonly files = new Map<string, ProbeFile>()
  /**
   * The preload rewrites in the lean form here (`RECON_TRACE_PROBES=lean`): functions a binding
   * holds have no probe, and a trace serves them by binding swaps (session.ts plans both).
   */
  lean = false
  /** Told of every file that registers (the active trace's pending specs). */
  onFile: ((f: ProbeFile) => void) | undefined = undefined
  constructor(
    /** Decides whether a file is instrumented (the preload's include/exclude). */
    readonly covers: (filename: string) => boolean,
  ) {}

  /** Called by an instrumented file's header. Never throws. */
  file(key: string, n: number, table: string, slots?: number[]): ProbeFile {
    let filename = key
    try {
      if (key.startsWith('file:')) filename = fileURLToPath(key)
    } catch {
      /* keep the key */
    }
    // A file evaluated twice (a cleared require.cache) gets a new slot array: the old one may
    // still be read by functions of the first evaluation, which a trace then leaves dormant.
    const f = new ProbeFile(filename, n, typeof table === 'string' ? table : '', slots)
    this.files.set(filename, f)
    this.notify(f)
    return f
  }

  private notify(f: ProbeFile): void {
    const on = this.onFile
    if (on !== undefined) {
      try {
        on(f)
      } catch {
        /* never into the program */
      }
    }
  }
}

/** The registry of this thread, if the preload installed one (in the process-wide state). */
export function registry(): Registry | undefined {
  const r = state.registry
  return r !== undefined && r.version === 1 ? r : undefined
}

/** Install the registry of this thread (once; a second call returns the first). */
export function installRegistry(covers: (filename: string) => boolean): Registry {
  return (state.registry ??= new Registry(covers))
}

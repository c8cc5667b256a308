/**
 * Probe: the run-time side of load-time probes.
 *
 * Every instrumented file registers itself when it is evaluated (its header calls
 * `registry.file(key, n, table)`), and gets a `ProbeFile`: `s`, the slot array its probes read
 * (0: dormant), and `e`/`r`/`x`, which its live probes call on entry, return and throw. The table
 * of the file's functions (names, kinds, lines) travels as a JSON string and is parsed only when
 * a trace first looks at the file, so a program that never traces in local scope pays for none
 * of it.
 *
 * The registry lives in a global slot, so that the preload (ESM or CommonJS build of
 * recon-trace), the instrumented files and a trace started from either build all see one
 * registry. A trace selects functions by setting their slots to 1 and handing the files a
 * `ProbeHandler`; ending it sets them back to 0, so dormant probes are again one load and one
 * branch.
 */
import { isBuiltin } from 'node:module'
import { isAbsolute, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { uniteMatchers, type Matcher } from './match.js'
import { globToRegExp } from './hook.js'
import { labelOfFile, packageNameOf, resolveFromCwd } from './modules.js'
import { isBusy, state } from './state.js'
import { closest, preloadLine } from './error.js'
import type { TraceSpec } from './spec.js'

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
  return JSON.stringify({
    p: probes.map((p) => [p.name, p.kind, (p.async ? 1 : 0) | (p.generator ? 2 : 0) | (p.exactArgs ? 4 : 0) | (p.callsOnly ? 8 : 0), p.line, p.column, p.exports]),
    s: skipped.filter((s) => s.reason !== 'not selected').map((s) => [s.name, s.line, s.reason]),
  })
}

/** The inverse of `encodeTable`. */
export function decodeTable(text: string): { probes: ProbeInfo[]; skipped: SkippedInfo[] } {
  const t = JSON.parse(text) as { p: [string, FunctionKind, number, number, number, string[]][]; s: [string, number, SkippedInfo['reason']][] }
  return {
    probes: t.p.map(([name, kind, f, line, column, exports], id) => ({
      id,
      name,
      kind,
      async: (f & 1) !== 0,
      generator: (f & 2) !== 0,
      exactArgs: (f & 4) !== 0,
      callsOnly: (f & 8) !== 0,
      line,
      column,
      exports,
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
   * One slot per probe: 0 dormant, 1 live. The array literal the file's header wrote: V8 keeps
   * an untouched literal's elements copy-on-write and folds the dormant check away in optimized
   * code (measured +0.0 ns per call until a trace first selects a function of the file, then
   * +0.4-1.3 ns; bench/probe-dormant.mjs).
   */
  readonly s: number[]
  /** The active trace's slow path while any probe of this file is live. */
  handler: ProbeHandler | undefined = undefined
  /** The live probes of the active trace, by id (set with the slots). */
  t: (LiveProbe | undefined)[] | undefined = undefined
  /**
   * The argument counts each live probe accepts, and whether its arity is exact, in typed arrays
   * by id: the entry check reads no object (set with `t`).
   */
  lo: Int32Array | undefined = undefined
  hi: Int32Array | undefined = undefined
  ex: Uint8Array | undefined = undefined
  private table: { probes: ProbeInfo[]; skipped: SkippedInfo[] } | undefined
  constructor(
    /** Absolute path of the file. */
    readonly filename: string,
    readonly n: number,
    private readonly raw: string,
    slots: number[] | undefined,
  ) {
    if (Array.isArray(slots) && slots.length === n) this.s = slots
    else {
      const s: number[] = []
      for (let i = 0; i < n; i++) s.push(0)
      this.s = s
    }
  }

  /** The probed functions and the ones left alone, parsed on first use. */
  get probes(): readonly ProbeInfo[] {
    return (this.table ??= this.parse()).probes
  }
  get skipped(): readonly SkippedInfo[] {
    return (this.table ??= this.parse()).skipped
  }
  private parse(): { probes: ProbeInfo[]; skipped: SkippedInfo[] } {
    try {
      return decodeTable(this.raw)
    } catch {
      return { probes: [], skipped: [] }
    }
  }

  // The three entry points of live probes. Short names: they are written into every probe.

  /**
   * A call of a live probe. The argument count is checked here, small enough for V8 to inline
   * into the probed function (then the argument list it builds is never allocated when the
   * count filters the call out): a live probe whose calls are all filtered out measured +8 ns
   * per call through the trace's handler, +2-3 ns with this check first.
   */
  e(id: number, args: ArrayLike<unknown>): unknown {
    const lo = this.lo
    if (lo === undefined) return 0
    let n = args.length
    // Trailing parameters that received nothing do not count; trimming only lowers the count, so
    // a call with too few parameters is out before any of them is read (the argument lists of
    // different functions hold different element kinds: a read is the costly part).
    const min = lo[id]
    if (n < min) return 0
    if (this.ex![id] === 0) while (n > 0 && args[n - 1] === undefined) n--
    if (n < min || n > this.hi![id]) return 0
    const h = this.handler
    return h === undefined ? 0 : this.m(h, id, args, n)
  }
  /**
   * The matcher of a call that passed the count: called from here rather than from the trace's
   * handler, so that a call a guard filters out goes through one call less (a guard that matches
   * nothing: +22.9 ns per call through the handler, +20.4 ns this way, Node 20;
   * bench/liveedit-cost.mjs guard).
   */
  private m(h: ProbeHandler, id: number, args: ArrayLike<unknown>, n: number): unknown {
    const t = this.t![id]
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

/** Which files the preload instruments. */
export interface InstrumentScope {
  /** Package names and globs to instrument beyond the application's own files. */
  include: readonly string[]
  /** Package names and globs to leave out. */
  exclude: readonly string[]
}

export class Registry {
  readonly version = 1
  readonly files = new Map<string, ProbeFile>()
  /** Told of every file that registers (the active trace's pending specs). */
  onFile: ((f: ProbeFile) => void) | undefined = undefined
  /** Files that failed to parse and loaded unchanged: filename -> cause. */
  readonly failed = new Map<string, string>()
  constructor(
    readonly scope: InstrumentScope,
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
    const f = new ProbeFile(filename, n, table, slots)
    this.files.set(filename, f)
    const on = this.onFile
    if (on !== undefined) {
      try {
        on(f)
      } catch {
        /* never into the program */
      }
    }
    return f
  }
}

/** The registry of this thread, if the preload installed one (in the process-wide state). */
export function registry(): Registry | undefined {
  const r = state.registry
  return r !== undefined && r.version === 1 ? r : undefined
}

/** Install the registry of this thread (once; a second call returns the first). */
export function installRegistry(scope: InstrumentScope, covers: (filename: string) => boolean): Registry {
  return (state.registry ??= new Registry(scope, covers))
}

// ---------------------------------------------------------------------------------------------
// Selecting probes for a trace.

/** A live probe: one function of one file, selected by one or more specs. */
export class ProbeTarget implements LiveProbe {
  /** The argument counts any of its specs accepts (checked before the matcher). */
  min = 0
  max = 0x3fffffff
  readonly exact: boolean
  readonly specs = new Set<number>()
  constructor(
    readonly file: ProbeFile,
    readonly info: ProbeInfo,
    /** Display name of the module: the package name or the file's base name. */
    readonly module: string,
    /** Display name of the function: `fact`, `Queue#size (get)`. */
    readonly name: string,
    public match: Matcher,
  ) {
    this.exact = info.exactArgs
  }
  /** The frame above which a stack is captured (then one more frame, the probed function, is skipped). */
  get wrapper(): Function {
    return ProbeFile.prototype.e
  }
  readonly skipFrames = 1
}

/** How a spec's module names files of the registry. */
type FileSelector = { kind: 'file'; filename: string; label: string } | { kind: 'package'; name: string } | { kind: 'any' }

/** Whether a selector names a file. */
export function selects(sel: FileSelector, file: string): boolean {
  if (sel.kind === 'any') return true
  if (sel.kind === 'file') return sel.filename === file
  return packageNameOf(file) === sel.name
}

/** The probes of `file` a function pattern selects, by local name or (global scope) export name. */
export function selectProbes(file: ProbeFile, pattern: string, scope: 'local' | 'global'): { probes: ProbeInfo[]; skipped: SkippedInfo[] } {
  const glob = /[*?]/.test(pattern) || /(^|[.#])_$/.test(pattern)
  const re = glob ? globToRegExp(pattern.replace(/(^|[.#])_$/, '$1*')) : undefined
  const hit = (name: string) => (re ? re.test(name) : name === pattern)
  const probes: ProbeInfo[] = []
  for (const p of file.probes) {
    // Getters and setters are selected only when named, never by a glob.
    if (glob && (p.kind === 'get' || p.kind === 'set')) continue
    if (scope === 'local' ? hit(p.name) : p.exports.some(hit)) probes.push(p)
  }
  const skipped = glob ? [] : file.skipped.filter((s) => s.name === pattern)
  return { probes, skipped }
}

/** A spec that names no function of its file(s), with the closest names the file offers. */
function noFunction(ps: ProbeSpec, where: string, names: readonly string[]): string {
  const list = closest(ps.spec.function, [...names]).slice(0, 12)
  return (
    `${ps.spec.text}: no function ${ps.scope === 'local' ? '' : 'exported as '}'${ps.spec.function}' in ${where}` +
    (list.length > 0 ? `; its ${ps.scope === 'local' ? 'functions' : 'exports'} are: ${list.join(', ')}` : '')
  )
}

/** Every name a file offers, for "did you mean" lists. */
function namesOf(file: ProbeFile, scope: 'local' | 'global'): string[] {
  return scope === 'local' ? file.probes.map((p) => p.name) : file.probes.flatMap((p) => p.exports)
}


const SKIP_REASON = {
  eval: 'it calls eval directly',
  with: 'it uses or sits inside a with statement',
  redeclares: 'its body declares a function and a var of the same name (or a function twice), which the probe cannot wrap',
  'not selected': 'it was not selected',
}

/** What the session needs from the probes of one spec. */
export interface ProbeSpec {
  readonly spec: TraceSpec
  readonly index: number
  readonly matcher: Matcher
  readonly selector: FileSelector
  readonly scope: 'local' | 'global'
  /** Served by live edit (liveedit.ts): its files are `extra`, already loaded, not the registry's. */
  readonly live?: boolean
  /** A live spec whose file is not loaded yet: selected when it loads (`addLive`). */
  readonly waits?: boolean
}

/**
 * The probes of one trace: which are live, and the registry hook that selects probes in files
 * that register after the start. `restore()` puts every slot back to 0, synchronously.
 */
export class Probes {
  /** Live probes per file, by probe id. */
  readonly live = new Map<ProbeFile, (ProbeTarget | undefined)[]>()
  private listening = false
  private readonly onFileHook = (f: ProbeFile) => this.onFile(f)

  constructor(
    private readonly reg: Registry | undefined,
    private readonly specs: readonly ProbeSpec[],
    private readonly handler: ProbeHandler,
    /** Told about problems found in files that register after the start. */
    private readonly onLate: (notices: string[]) => void,
    /** The files of live-edit specs (loaded scripts read by the installer). */
    private readonly extra: ProbeFile[] = [],
  ) {}

  /**
   * A file live edit read after the start (it loaded later): select in it for the live specs.
   * Returns how many functions went live; problems found go to `notices`.
   */
  addLive(f: ProbeFile, notices: string[]): number {
    if (!this.listening || this.extra.includes(f)) return 0
    this.extra.push(f)
    let n = 0
    for (const ps of this.specs) {
      if (!ps.live || !selects(ps.selector, f.filename)) continue
      const r = this.select(f, ps, notices)
      n += r.added
      if (r.found === 0 && ps.selector.kind === 'file') notices.push(noFunction(ps, f.filename, namesOf(f, ps.scope)))
    }
    return n
  }

  /** Select in the files already registered; returns how many functions went live. */
  apply(problems: string[]): number {
    let n = 0
    for (const ps of this.specs) {
      let found = 0
      let files = 0
      const names: string[] = []
      for (const f of ps.live ? this.extra : this.reg?.files.values() ?? []) {
        if (!selects(ps.selector, f.filename)) continue
        files++
        const r = this.select(f, ps, problems)
        found += r.found
        n += r.added
        if (r.found === 0) names.push(...namesOf(f, ps.scope))
      }
      // A file not loaded yet (or no file of the package yet) may still come: then wait for it.
      const waits = files === 0 && (!ps.live || ps.waits === true)
      if (found === 0 && !waits && !problems.some((p) => p.startsWith(`${ps.spec.text}:`))) problems.push(noFunction(ps, ps.selector.kind === 'file' ? ps.selector.filename : 'the module', names))
    }
    this.listening = true
    if (this.reg !== undefined && this.specs.some((s) => !s.live)) this.reg.onFile = this.onFileHook
    return n
  }

  private select(f: ProbeFile, ps: ProbeSpec, problems: string[]): { found: number; added: number } {
    const { probes, skipped } = selectProbes(f, ps.spec.function, ps.scope)
    if (ps.spec.return && ps.live && probes.some((p) => p.callsOnly)) {
      const names = probes.filter((p) => p.callsOnly).map((p) => p.name)
      problems.push(
        `${ps.spec.text}: ${labelOfFile(f.filename)}:${names.slice(0, 5).join(', ')} ${names.length === 1 ? 'is an arrow function' : 'are arrow functions'} with an expression body: live edit can probe ${names.length === 1 ? 'its' : 'their'} calls but not ${names.length === 1 ? 'its' : 'their'} return ` +
          `(V8 matches an edited function by its text, and capturing the value would add text after the body); drop '-> return', trace it in global scope if it is exported, or start the program with the preload: ${preloadLine()}`,
      )
      return { found: probes.length, added: 0 }
    }
    if (ps.spec.return && probes.some((p) => p.callsOnly)) {
      problems.push(
        `${ps.spec.text}: ${labelOfFile(f.filename)} was instrumented with RECON_TRACE_PROBES=calls: its probes see calls, not returns or exceptions; ` +
          `drop '-> return', or restart the program without that setting`,
      )
      return { found: probes.length, added: 0 }
    }
    for (const s of skipped) problems.push(`${ps.spec.text}: ${labelOfFile(f.filename)}:${s.name} (line ${s.line}) has no probe: ${SKIP_REASON[s.reason]}; it cannot be traced`)
    let added = 0
    let live = this.live.get(f)
    for (const p of probes) {
      if (!live) {
        live = new Array<ProbeTarget | undefined>(f.n).fill(undefined)
        this.live.set(f, live)
      }
      let t = live[p.id]
      const [min, max] = ps.spec.arity === undefined ? [0, 0x3fffffff] : [ps.spec.arity, ps.spec.rest ? 0x3fffffff : ps.spec.arity]
      if (!t) {
        const display = p.kind === 'get' || p.kind === 'set' ? `${ps.scope === 'global' && p.exports.length > 0 ? p.exports[0] : p.name} (${p.kind})` : ps.scope === 'global' && p.exports.length > 0 ? p.exports[0] : p.name
        t = new ProbeTarget(f, p, labelOfFile(f.filename), display, ps.matcher)
        t.min = min
        t.max = max
        t.specs.add(ps.index)
        live[p.id] = t
        added++
      } else if (!t.specs.has(ps.index)) {
        t.specs.add(ps.index)
        t.match = uniteMatchers(this.specs.filter((s) => t!.specs.has(s.index)).map((s) => s.matcher))
        t.min = Math.min(t.min, min)
        t.max = Math.max(t.max, max)
      }
    }
    if (live) {
      const lo = new Int32Array(f.n).fill(0x7fffffff)
      const hi = new Int32Array(f.n).fill(-1)
      const ex = new Uint8Array(f.n)
      for (let i = 0; i < live.length; i++) {
        const t = live[i]
        if (t === undefined) continue
        lo[i] = t.min
        hi[i] = t.max
        ex[i] = t.exact ? 1 : 0
      }
      f.lo = lo
      f.hi = hi
      f.ex = ex
      f.handler = this.handler
      f.t = live
      for (let i = 0; i < live.length; i++) if (live[i] !== undefined && f.s[i] !== 1) f.s[i] = 1
    }
    return { found: probes.length, added }
  }

  private onFile(f: ProbeFile): void {
    if (!this.listening) return
    const notices: string[] = []
    for (const ps of this.specs) if (!ps.live && selects(ps.selector, f.filename)) this.select(f, ps, notices)
    if (notices.length > 0) this.onLate(notices)
  }

  /** Every slot back to 0, the handler and registry hook removed; synchronous. */
  restore(): void {
    this.listening = false
    if (this.reg !== undefined && this.reg.onFile === this.onFileHook) this.reg.onFile = undefined
    for (const [f, live] of this.live) {
      for (let i = 0; i < live.length; i++) if (live[i] !== undefined) f.s[i] = 0
      if (f.handler === this.handler) f.handler = undefined
      if (f.t === live) {
        f.t = undefined
        f.lo = f.hi = f.ex = undefined
      }
    }
  }

  get count(): number {
    let n = 0
    for (const live of this.live.values()) for (const t of live) if (t) n++
    return n
  }
}

/**
 * Resolve the module of a spec for probes: a path (relative to `cwd`) or a package name, never
 * requiring anything. Pushes a problem when the module is one the preload does not instrument.
 * Without `reg`: for live edit, which probes any loaded file.
 */
export function probeSelector(module: TraceSpec['module'], where: string, reg: Registry | undefined, problems: string[], cwd = process.cwd()): FileSelector | undefined {
  if (module === '_') {
    if (reg !== undefined) return { kind: 'any' }
    problems.push(`${where}: live edit probes the functions of a module you name (a path or a package), not of every module; name one, or start the program with the preload to probe any: ${preloadLine()}`)
    return undefined
  }
  if (typeof module !== 'string') {
    problems.push(`${where}: an object given directly has no probes; trace it in scope 'global'`)
    return undefined
  }
  if (isBuiltin(module)) {
    problems.push(`${where}: ${module} is a builtin: builtins have no probes; trace it in scope 'global'`)
    return undefined
  }
  const isPath = module.startsWith('.') || isAbsolute(module)
  if (!isPath) {
    // A package: every file of it; it must be in the preload's scope.
    const probe = join(cwd, 'node_modules', module, 'index.js')
    if (reg !== undefined && !reg.covers(probe)) {
      problems.push(`${where}: the package ${module} is not instrumented: start the program with RECON_TRACE_INCLUDE=${module} (comma-separated, with the preload) to give its functions probes`)
      return undefined
    }
    return { kind: 'package', name: module }
  }
  let filename = resolve(cwd, module)
  try {
    filename = resolveFromCwd(filename, cwd)
  } catch {
    /* not found by require's rules: an ES module path with its extension, or not loaded yet */
  }
  if (reg !== undefined && !reg.covers(filename)) {
    problems.push(`${where}: ${filename} is not instrumented by the preload (it is outside its scope: node_modules, RECON_TRACE_EXCLUDE, or not a .js/.mjs/.cjs file); set RECON_TRACE_INCLUDE to cover it`)
    return undefined
  }
  return { kind: 'file', filename, label: labelOfFile(filename) }
}

/** Whether the preload's probes serve this module (else live edit does). */
export function preloadCovers(module: TraceSpec['module'], reg: Registry | undefined, cwd = process.cwd()): boolean {
  if (reg === undefined) return false
  if (module === '_' || typeof module !== 'string' || isBuiltin(module)) return true // probeSelector explains the last two
  if (!(module.startsWith('.') || isAbsolute(module))) return reg.covers(join(cwd, 'node_modules', module, 'index.js'))
  let filename = resolve(cwd, module)
  try {
    filename = resolveFromCwd(filename, cwd)
  } catch {
    /* as probeSelector */
  }
  return reg.covers(filename)
}

export type { FileSelector }

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
import { join, resolve } from 'node:path'
import { uniteMatchers, type Matcher } from '../match.js'
import { ProbeFile, type LiveProbe, type ProbeHandler, type ProbeInfo, type Registry, type SkippedInfo } from '../registry.js'
import type { Installer, InstallerKind } from './installer.js'
import { ANY_ARITY, arityRange, globOfPattern, isNameGlob, nameGlobToRegExp } from '../names.js'
import { isOwnFile, isPath, isTypeScriptFile, labelOfFile, packageNameOf, resolveFromCwd } from '../modules.js'
import { runningFilesOf, sourcesOf } from '../origin.js'
import { closest, preloadLine } from '../error.js'
import type { TraceSpec } from '../spec.js'

// ---------------------------------------------------------------------------------------------
// Selecting probes for a trace.

/** A live probe: one function of one file, selected by one or more specs. */
export class ProbeTarget implements LiveProbe {
  /** The argument counts any of its specs accepts (checked before the matcher). */
  min = 0
  max = ANY_ARITY
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

/**
 * An argument value every spec of a live probe requires (`[index, value]`), which the probe then
 * checks before it calls the matcher; undefined when the specs share none.
 */
export function pinOf(m: Matcher): readonly [number, unknown] | undefined {
  const shapes = m.shapes
  if (shapes === undefined || shapes.length === 0) return undefined
  for (const [i, v] of shapes[0].pins) if (shapes.every((s) => s.pins.some(([j, w]) => j === i && w === v))) return [i, v]
  return undefined
}

/** How a spec's module names files of the registry. */
type FileSelector = { kind: 'file'; filename: string; label: string } | { kind: 'package'; name: string } | { kind: 'any' }

/** Whether a selector names a file. */
export function selects(sel: FileSelector, file: string): boolean {
  if (sel.kind === 'any') return true
  if (sel.kind === 'file') return sel.filename === file
  return packageNameOf(file) === sel.name
}

/**
 * Whether a selector names a running file, itself or (a file selector) as the original source of
 * some of its code: `./src/db.ts` names `dist/db.js` (tsc) and `dist/server.js` (a bundle) when
 * their source maps say so. `mapsFrom` answers the second question for a file (origin.ts).
 */
export function selectsRunning(sel: FileSelector, file: string, mapsFrom: (original: string) => boolean = (o) => sourcesOf(file).includes(o)): boolean {
  return selects(sel, file) || (sel.kind === 'file' && mapsFrom(sel.filename))
}

/**
 * The loaded files a selector names: the file itself, or else the files compiled or bundled from
 * it (their source maps name it: `./src/db.ts` in `dist/db.js`).
 */
export function filesOf(sel: FileSelector, loaded: readonly string[]): string[] {
  const direct = loaded.filter((f) => selects(sel, f))
  return direct.length > 0 || sel.kind !== 'file' ? direct : runningFilesOf(sel.filename, loaded)
}

/**
 * How a notice names a spec's file that is not loaded yet. A TypeScript file may never load
 * itself (the program runs compiled output): the notice says where else it is looked for.
 */
export function waitLabel(sel: FileSelector, spec: TraceSpec): string {
  if (sel.kind === 'package') return sel.name
  if (sel.kind !== 'file') return spec.text
  const label = labelOfFile(sel.filename)
  return isTypeScriptFile(sel.filename) ? `${label} (or code compiled from it, found through a source map)` : label
}

/** The original file a selector names in a running file, when the file is not that file itself. */
export function originalIn(sel: FileSelector, file: string): string | undefined {
  return sel.kind === 'file' && sel.filename !== file ? sel.filename : undefined
}

/**
 * The probes of `file` a function pattern selects, by local name or (global scope) export name.
 * With `original`, only the functions written in that file (through the file's source map); in
 * global scope those defined at its top, with the names of its exports where the file has them:
 * a bundle does not keep the module's exports.
 */
export function selectProbes(file: ProbeFile, pattern: string, scope: 'local' | 'global', original?: string): { probes: ProbeInfo[]; skipped: SkippedInfo[] } {
  const glob = isNameGlob(pattern)
  const re = glob ? nameGlobToRegExp(globOfPattern(pattern)) : undefined
  const hit = (name: string) => (re ? re.test(name) : name === pattern)
  const probes: ProbeInfo[] = []
  for (const p of file.probes) {
    if (original !== undefined && p.source !== original) continue
    // Getters and setters, and code a compiler added, are selected only when named, never by a glob.
    if (glob && (p.kind === 'get' || p.kind === 'set' || p.generated === true)) continue
    if (scope === 'local' ? hit(p.name) : p.exports.some(hit) || (original !== undefined && p.top === true && hit(p.name))) probes.push(p)
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

/** Every name a file offers (or its part written in `original`), for "did you mean" lists. */
function namesOf(file: ProbeFile, scope: 'local' | 'global', original?: string): string[] {
  const probes = file.probes.filter((p) => p.generated !== true && (original === undefined || p.source === original))
  return scope === 'local' || original !== undefined ? probes.map((p) => p.name) : probes.flatMap((p) => p.exports)
}

/** The display name of a function's module: its original file's, when it was written in another. */
function moduleLabel(file: ProbeFile, p: ProbeInfo): string {
  return labelOfFile(p.source ?? file.filename)
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
  /**
   * The binding side of a spec the preload's probes serve too (files rewritten in the lean form):
   * it selects only the functions left without a probe, and a spec that finds none here is not
   * a problem (the probes' side says whether the spec names any function).
   */
  readonly partial?: boolean
}

/**
 * The probes of one trace: which are live, and the registry hook that selects probes in files
 * that register after the start. `restore()` puts every slot back to 0, synchronously.
 */
export class Probes implements Installer {
  readonly kind: InstallerKind
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
  ) {
    this.kind = specs.some((s) => s.live) ? 'live edit' : 'preload'
  }

  /**
   * A file live edit read after the start (it loaded later): select in it for the live specs.
   * Returns how many functions went live; problems found go to `notices`.
   */
  addLive(f: ProbeFile, notices: string[]): number {
    if (!this.listening || this.extra.includes(f)) return 0
    this.extra.push(f)
    let n = 0
    for (const ps of this.specs) {
      if (!ps.live || !selectsRunning(ps.selector, f.filename, (o) => f.mapsFrom(o))) continue
      const r = this.select(f, ps, notices)
      n += r.added
      if (r.found === 0 && ps.selector.kind === 'file' && ps.partial !== true)
        notices.push(noFunction(ps, ps.selector.filename, namesOf(f, ps.scope, originalIn(ps.selector, f.filename))))
    }
    return n
  }

  /** Select in the files already registered; returns how many functions went live. */
  install(problems: string[]): number {
    let n = 0
    for (const ps of this.specs) {
      let found = 0
      let files = 0
      const names: string[] = []
      const candidates = [...(ps.live ? this.extra : (this.reg?.files.values() ?? []))]
      // A file named as it runs, or else the running files its code was compiled or bundled into.
      const direct = candidates.some((f) => selects(ps.selector, f.filename))
      for (const f of candidates) {
        if (!(direct ? selects(ps.selector, f.filename) : selectsRunning(ps.selector, f.filename, (o) => f.mapsFrom(o)))) continue
        files++
        const r = this.select(f, ps, problems)
        found += r.found
        n += r.added
        if (r.found === 0) names.push(...namesOf(f, ps.scope, originalIn(ps.selector, f.filename)))
      }
      // A file not loaded yet (or no file of the package yet) may still come: then wait for it.
      const waits = files === 0 && (!ps.live || ps.waits === true)
      if (found === 0 && !waits && ps.partial !== true && !problems.some((p) => p.startsWith(`${ps.spec.text}:`)))
        problems.push(noFunction(ps, ps.selector.kind === 'file' ? ps.selector.filename : 'the module', names))
    }
    this.listening = true
    if (this.reg !== undefined && this.specs.some((s) => !s.live)) this.reg.onFile = this.onFileHook
    return n
  }

  private select(f: ProbeFile, ps: ProbeSpec, problems: string[]): { found: number; added: number } {
    const selected = selectProbes(f, ps.spec.function, ps.scope, originalIn(ps.selector, f.filename))
    const skipped = selected.skipped
    // Functions the lean form left without a probe are found here and served by binding swaps.
    const probes = selected.probes.some((p) => p.bound === true) ? selected.probes.filter((p) => p.bound !== true) : selected.probes
    const bound = selected.probes.length - probes.length
    if (ps.spec.return && ps.live && probes.some((p) => p.callsOnly)) {
      const names = probes.filter((p) => p.callsOnly).map((p) => p.name)
      problems.push(
        `${ps.spec.text}: ${labelOfFile(f.filename)}:${names.slice(0, 5).join(', ')} ` +
          `${names.length === 1 ? 'is an arrow function' : 'are arrow functions'} with an expression body: ` +
          `live edit can probe ${names.length === 1 ? 'its' : 'their'} calls but not ${names.length === 1 ? 'its' : 'their'} return ` +
          `(V8 matches an edited function by its text, and capturing the value would add text after the body); ` +
          `drop '-> return', trace it in global scope if it is exported, or start the program with the preload: ${preloadLine()}`,
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
    for (const s of skipped)
      problems.push(`${ps.spec.text}: ${labelOfFile(f.filename)}:${s.name} (line ${s.line}) has no probe: ${SKIP_REASON[s.reason]}; it cannot be traced`)
    let added = 0
    let live = this.live.get(f)
    for (const p of probes) {
      if (!live) {
        live = new Array<ProbeTarget | undefined>(f.n).fill(undefined)
        this.live.set(f, live)
      }
      let t = live[p.id]
      const [min, max] = arityRange(ps.spec)
      if (!t) {
        const display =
          p.kind === 'get' || p.kind === 'set'
            ? `${ps.scope === 'global' && p.exports.length > 0 ? p.exports[0] : p.name} (${p.kind})`
            : ps.scope === 'global' && p.exports.length > 0
              ? p.exports[0]
              : p.name
        t = new ProbeTarget(f, p, moduleLabel(f, p), display, ps.matcher)
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
      const pinAt = new Int32Array(f.n).fill(-1)
      const pinValues = new Array<unknown>(f.n).fill(undefined)
      for (let i = 0; i < live.length; i++) {
        const t = live[i]
        if (t === undefined) continue
        lo[i] = t.min
        hi[i] = t.max
        ex[i] = t.exact ? 1 : 0
        const pin = pinOf(t.match)
        if (pin !== undefined) [pinAt[i], pinValues[i]] = pin
      }
      f.minArgs = lo
      f.maxArgs = hi
      f.exactArgs = ex
      f.pinAt = pinAt
      f.pinValues = pinValues
      f.handler = this.handler
      f.live = live
      for (let i = 0; i < live.length; i++) if (live[i] !== undefined && f.s[i] !== 1) f.s[i] = 1
    }
    return { found: probes.length + bound, added }
  }

  private onFile(f: ProbeFile): void {
    if (!this.listening) return
    const notices: string[] = []
    for (const ps of this.specs) if (!ps.live && selectsRunning(ps.selector, f.filename, (o) => f.mapsFrom(o))) this.select(f, ps, notices)
    if (notices.length > 0) this.onLate(notices)
  }

  /** Every slot back to 0, the handler and registry hook removed; synchronous. */
  restore(): void {
    this.listening = false
    if (this.reg !== undefined && this.reg.onFile === this.onFileHook) this.reg.onFile = undefined
    for (const [f, live] of this.live) {
      for (let i = 0; i < live.length; i++) if (live[i] !== undefined) f.s[i] = 0
      if (f.handler === this.handler) f.handler = undefined
      if (f.live === live) {
        f.live = undefined
        f.minArgs = f.maxArgs = f.exactArgs = f.pinAt = undefined
        f.pinValues = undefined
      }
    }
  }

  served(): string[] {
    const out: string[] = []
    for (const live of this.live.values()) for (const t of live) if (t) out.push(`${t.module}:${t.name}`)
    return out
  }
}

/**
 * Resolve the module of a spec for probes: a path (relative to `cwd`) or a package name, never
 * requiring anything. Pushes a problem when the module is one the preload does not instrument.
 * Without `reg`: for the binding installer and live edit, which reach any loaded file.
 */
export function probeSelector(
  module: TraceSpec['module'],
  where: string,
  reg: Registry | undefined,
  problems: string[],
  cwd = process.cwd(),
): FileSelector | undefined {
  if (module === '_') {
    if (reg !== undefined) return { kind: 'any' }
    problems.push(
      `${where}: without the preload, local scope reaches the functions of a module you name (a path or a package), ` +
        `not of every module; name one, or start the program with the preload to probe any: ${preloadLine()}`,
    )
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
  if (!isPath(module)) {
    // A package: every file of it; it must be in the preload's scope.
    const probe = join(cwd, 'node_modules', module, 'index.js')
    if (reg !== undefined && !reg.covers(probe)) {
      problems.push(
        `${where}: the package ${module} is not instrumented: ` +
          `start the program with RECON_TRACE_INCLUDE=${module} (comma-separated, with the preload) to give its functions probes`,
      )
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
  if (isOwnFile(filename)) {
    problems.push(`${where}: tracing recon-trace itself is refused`)
    return undefined
  }
  if (reg !== undefined && !reg.covers(filename)) {
    problems.push(
      `${where}: ${filename} is not instrumented by the preload (it is outside its scope: node_modules, ` +
        `RECON_TRACE_EXCLUDE, or not a JavaScript or TypeScript file); set RECON_TRACE_INCLUDE to cover it`,
    )
    return undefined
  }
  return { kind: 'file', filename, label: labelOfFile(filename) }
}

/** Whether the preload's probes serve this module (else binding swaps, or live edit, do). */
export function preloadCovers(module: TraceSpec['module'], reg: Registry | undefined, cwd = process.cwd()): boolean {
  if (reg === undefined) return false
  if (module === '_' || typeof module !== 'string' || isBuiltin(module)) return true // probeSelector explains the last two
  if (!isPath(module)) return reg.covers(join(cwd, 'node_modules', module, 'index.js'))
  let filename = resolve(cwd, module)
  try {
    filename = resolveFromCwd(filename, cwd)
  } catch {
    /* as probeSelector */
  }
  return reg.covers(filename)
}

/**
 * The files of the registry in which a spec selects functions that the lean form left without a
 * probe (`bound`), for binding swaps to serve. A file named as it runs, or else the running files
 * its code was compiled or bundled into, as `install` finds them.
 */
export function boundFiles(reg: Registry, sel: FileSelector, pattern: string, scope: 'local' | 'global'): ProbeFile[] {
  const files = [...reg.files.values()]
  const direct = files.some((f) => selects(sel, f.filename))
  return files.filter(
    (f) =>
      (direct ? selects(sel, f.filename) : selectsRunning(sel, f.filename, (o) => f.mapsFrom(o))) &&
      f.probes.some((p) => p.bound === true) &&
      selectProbes(f, pattern, scope, originalIn(sel, f.filename)).probes.some((p) => p.bound === true),
  )
}

export type { FileSelector }

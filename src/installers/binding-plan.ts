/**
 * Binding plan: what a trace in local scope without the preload reaches, found before anything
 * changes. The files the specs name, among the scripts this thread has loaded (read through its
 * Debugger session, installers/debugger.ts), each with its table of functions (the preload's
 * names, from instrument.ts) and their reach (reach.ts); the specs whose file is not loaded
 * yet, waited for; every problem in the trace's one list. A file is read once per thread: a
 * script's text never changes under its id.
 */
import { existsSync } from 'node:fs'
import { labelOfFile, resolvesFromCwd } from '../modules.js'
import { fileURLToPath } from 'node:url'
import { Parser } from 'acorn'
import { REGISTRY_LOOKUP, decodeTable, ProbeFile, type ProbeInfo, type Registry } from '../registry.js'
import type { N } from '../naming.js'
import { inputMapOf, rewriterModule } from '../register.js'
import type { TraceSpec } from '../spec.js'
import { debugSession, type DebugScript } from './debugger.js'
import { boundFiles, filesOf, selects, selectsRunning, waitLabel, type ProbeSpec } from './probes.js'
import { reachOf, type Reach } from './reach.js'

/** A spec the debugger installers serve, before its functions are selected. */
export interface DebugSpecPlan {
  readonly spec: TraceSpec
  readonly selector: ProbeSpec['selector']
  readonly scope: 'local' | 'global'
  /** Its file is not loaded yet: its functions are hooked when it loads. */
  waits?: boolean
  /** The binding side of a spec the preload's probes serve too (the lean form, probes.ts `ProbeSpec.partial`). */
  readonly partial?: boolean
}

/**
 * The header the preload wrote at the top of a file it rewrote (instrument.ts): where it is in
 * the running text, and the table of functions it registers, which says which of them the lean
 * form left without a probe (`bound`). Undefined for a file the preload did not rewrite.
 */
export interface PreloadHeader {
  readonly start: number
  readonly end: number
  readonly probes: readonly ProbeInfo[]
}

/** The preload's header in a running text, if it has one that registers this very file. */
export function preloadHeader(source: string, filename: string): PreloadHeader | undefined {
  const re = /const (\$rt\d*)P=/g
  for (let m = re.exec(source); m !== null; m = re.exec(source)) {
    // `const $rtP=` (the prefix, `$rt` or `$rt1`..., never occurs in the original text), then the
    // call that registers the file.
    const at = m.index + m[0].length
    if (!source.startsWith(REGISTRY_LOOKUP, at)) continue
    try {
      // The expression goes on to `,$rtS=$rtP.s`: a sequence, whose first part is the call.
      const parsed = Parser.parseExpressionAt(source, at, { ecmaVersion: 'latest' }) as N
      const call = parsed.type === 'SequenceExpression' ? (parsed.expressions[0] as N) : parsed
      const args = call.type === 'CallExpression' ? (call.arguments as N[]) : []
      if (args.length < 3 || args[0].type !== 'Literal' || args[2].type !== 'Literal' || typeof args[2].value !== 'string') return undefined
      const key = String(args[0].value)
      if (key !== filename && !(key.startsWith('file:') && fileURLToPath(key) === filename)) return undefined
      return { start: m.index, end: call.end as number, probes: decodeTable(args[2].value).probes }
    } catch {
      return undefined
    }
  }
  return undefined
}

/** A loaded file the specs name: its script, text, table of functions and their reach. */
export class DebugFile {
  readonly file: ProbeFile
  readonly reach: readonly Reach[]
  constructor(
    readonly script: DebugScript,
    source: string,
  ) {
    const { instrument } = rewriterModule()
    // With the file's own map: functions compiled from TypeScript or bundled say which file they were written in.
    const input = inputMapOf(source, script.filename)
    this.reach = reachOf(source, script.module)
    const header = preloadHeader(source, script.filename)
    // The header's own functions (its inert stand-in of the registry) come first in the running
    // text: function `k` after them is the table's `k - skip`.
    const skip = header === undefined ? 0 : this.reach.filter((r) => r.start >= header.start && r.start < header.end).length
    // Rewritten in the lean form: the table lists only the functions left without a probe
    // (`bound`), which the binding installer serves; the preload's probes serve the rest.
    const bound = header?.probes.some((p) => p.bound === true) === true ? header : undefined
    const r = instrument(source, {
      filename: script.filename,
      inputMap: input?.map,
      inputMapURL: input?.url,
      format: script.module ? 'module' : 'commonjs',
      map: false,
      stableIds: true,
      tableOnly: true,
      select: bound === undefined ? undefined : (fn) => bound.probes[(fn as ProbeInfo).id - skip]?.bound === true,
    })
    // The table as it is: with `select`, its ids are not the positions in its list.
    this.file = new ProbeFile(script.filename, this.reach.length, '', undefined, {
      probes: r.probes,
      skipped: r.skipped.filter((x) => x.reason !== 'not selected'),
    })
    // The same walk numbers both; names differ only where the map gave a function its original
    // name (a bundler's renamed binding), and the reach keeps the running one, which it swaps.
    const full = r.probes.length + r.skipped.filter((x) => x.reason === 'not selected').length
    if (
      this.reach.length !== full ||
      r.probes.some((p) => p.id >= this.reach.length || (this.reach[p.id].name !== p.name && p.source === undefined)) ||
      (bound !== undefined && r.probes.some((p) => bound.probes[p.id - skip].name !== p.name && bound.probes[p.id - skip].name !== this.reach[p.id].name))
    )
      throw new Error('its functions could not be numbered the way the preload numbers them')
  }
  get filename(): string {
    return this.script.filename
  }
  get label(): string {
    return labelOfFile(this.script.filename)
  }
}

/** A script's file, read once per thread (a script's text never changes under its id). */
export function debugFile(script: DebugScript): DebugFile {
  const session = debugSession()
  const key = `${script.id} ${script.filename}`
  let f = session.files.get(key)
  if (f === undefined) {
    f = new DebugFile(script, session.source(script))
    session.files.set(key, f)
  }
  return f
}

/** What planning found: the loaded files, the specs with nothing loaded here. */
export interface DebugPlan {
  readonly files: DebugFile[]
  readonly notHere: Set<DebugSpecPlan>
  /** The names of the files waited for. */
  readonly waitingFor: string[]
}

/**
 * The binding side of a spec the preload's probes serve, where the preload rewrote in its lean
 * form (`RECON_TRACE_PROBES=lean`): the functions it left without a probe are served by binding
 * swaps. A spec on a file: that file (or the files compiled from it), when some function it
 * selects there has no probe, or when no such file has loaded yet (its functions are hooked when
 * it loads). A spec on a package or on any module: each loaded file where it selects such a
 * function (a file of it that loads later gets its probes only). Empty when the probes serve
 * every function the spec selects: then no Debugger session is opened.
 */
export function boundSide(reg: Registry, spec: TraceSpec, selector: ProbeSpec['selector'], scope: 'local' | 'global'): DebugSpecPlan[] {
  const files = boundFiles(reg, selector, spec.function, scope)
  if (selector.kind === 'file') {
    const loaded = [...reg.files.values()].some((f) => selectsRunning(selector, f.filename, (o) => f.mapsFrom(o)))
    return files.length > 0 || !loaded ? [{ spec, selector, scope, partial: true }] : []
  }
  if (files.length === 0 && selector.kind === 'package' && ![...reg.files.values()].some((f) => selects(selector, f.filename)))
    return [{ spec, selector, scope, partial: true }]
  return files.map((f) => ({ spec, selector: { kind: 'file', filename: f.filename, label: labelOfFile(f.filename) }, scope, partial: true }))
}

/** Whether a spec's file could still load: the file exists, or the package resolves. */
function loadable(sel: ProbeSpec['selector']): boolean {
  if (sel.kind === 'file') return existsSync(sel.filename)
  if (sel.kind === 'package') return resolvesFromCwd(sel.name)
  return false
}

/**
 * Plan the debugger installers for `specs`: the loaded files they name, read through this
 * thread's Debugger session (held until the trace ends, or released here on a problem).
 */
export function planDebugger(specs: readonly DebugSpecPlan[], inWorker: boolean, problems: string[]): DebugPlan {
  const plan: DebugPlan = { files: [], notHere: new Set(), waitingFor: [] }
  const session = debugSession()
  const before = problems.length
  if (!session.acquire()) {
    for (const p of specs) problems.push(`${p.spec.text}: local scope without the preload needs the inspector, which failed here (${session.unavailable})`)
    return plan
  }
  const seen = new Map<string, DebugFile>()
  for (const p of specs) {
    const files = filesOf(
      p.selector,
      session.filesWhere(() => true),
    )
    if (files.length === 0) {
      if (inWorker) {
        plan.notHere.add(p)
        continue
      }
      if (loadable(p.selector)) {
        // Not loaded yet, but it can be: its functions are hooked when it loads.
        p.waits = true
        plan.waitingFor.push(waitLabel(p.selector, p.spec))
        continue
      }
      const what =
        p.selector.kind === 'file'
          ? `${p.selector.filename} does not exist`
          : p.selector.kind === 'package'
            ? `the package ${p.selector.name} cannot be found from ${process.cwd()}`
            : 'no file is loaded'
      problems.push(`${p.spec.text}: ${what}`)
      continue
    }
    for (const filename of files) {
      if (seen.has(filename)) continue
      const script = session.scriptOf(filename)!
      try {
        const f = debugFile(script)
        seen.set(filename, f)
        plan.files.push(f)
      } catch (err) {
        problems.push(`${p.spec.text}: ${labelOfFile(filename)} cannot be read: ${err instanceof Error ? err.message : String(err)}`)
      }
    }
  }
  if (problems.length > before) session.release()
  return plan
}

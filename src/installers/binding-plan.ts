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
import { encodeTable, ProbeFile } from '../registry.js'
import { inputMapOf, rewriterModule } from '../register.js'
import type { TraceSpec } from '../spec.js'
import { debugSession, type DebugScript } from './debugger.js'
import { filesOf, waitLabel, type ProbeSpec } from './probes.js'
import { reachOf, type Reach } from './reach.js'

/** A spec the debugger installers serve, before its functions are selected. */
export interface DebugSpecPlan {
  readonly spec: TraceSpec
  readonly selector: ProbeSpec['selector']
  readonly scope: 'local' | 'global'
  /** Its file is not loaded yet: its functions are hooked when it loads. */
  waits?: boolean
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
    const r = instrument(source, {
      filename: script.filename,
      inputMap: input?.map,
      inputMapURL: input?.url,
      format: script.module ? 'module' : 'commonjs',
      map: false,
      stableIds: true,
      tableOnly: true,
    })
    this.file = new ProbeFile(script.filename, r.probes.length, encodeTable(r.probes, r.skipped), undefined)
    this.reach = reachOf(source, script.module)
    // The same walk numbers both; names differ only where the map gave a function its original
    // name (a bundler's renamed binding), and the reach keeps the running one, which it swaps.
    if (this.reach.length !== r.probes.length || this.reach.some((x, i) => x.name !== r.probes[i].name && r.probes[i].source === undefined))
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

/**
 * The live-edit installer: a trace's use of live edit (liveedit.ts holds the editor, V8's side).
 *
 * Planning (`planLiveEdit`, before anything changes): open this thread's editor, find the loaded
 * scripts of the files the live specs name, and read each one's table of functions. A file not
 * loaded yet is waited for when it can still load (a path that exists, a package that resolves);
 * a worker thread that has not loaded it has nothing to probe (the main thread reports a file
 * loaded nowhere).
 *
 * Installing: the probes are selected in those files (probes.ts, the same as the preload's, but
 * in the editor's files), then the selected functions' text is edited, all files or none. A
 * function V8 would not map is refused. A function that is running is retried at later turns
 * for LIVE_RETRY_MS, with a notice; if it stays busy, runtime wrappers take over when every live
 * spec names an export (a notice says calls from inside the module are not seen), else the
 * trace ends naming the function, why, and the options. A file that loads later is selected
 * and edited at the turn after V8 compiles it.
 *
 * Restoring: the slots go dormant at once; the original text goes back at the next turn (the
 * editor checks it byte for byte), and the editor's session closes when nothing is left.
 */
import { existsSync } from 'node:fs'
import { preloadLine } from '../error.js'
import { labelOfFile, resolvesFromCwd } from '../modules.js'
import type { TraceSpec } from '../spec.js'
import type { Installer, TraceHost } from './installer.js'
import { LIVE_RETRY_MS, blockedReason, liveEditor, type LiveFile, type Script } from './liveedit.js'
import { filesOf, waitLabel, type Probes, type ProbeSpec } from './probes.js'

/** A spec live edit serves, before its probes are compiled. */
export interface LiveSpecPlan {
  readonly spec: TraceSpec
  readonly selector: ProbeSpec['selector']
  readonly scope: 'local' | 'global'
  /** Its file is not loaded yet: selected when it loads. */
  waits?: boolean
}

/** What planning found: the loaded files to edit, the names of those awaited, the specs with nothing here. */
export interface LivePlan {
  readonly files: LiveFile[]
  readonly waitingFor: string[]
  readonly notHere: Set<LiveSpecPlan>
}

/** Whether a live spec's file could still load: the file exists, or the package resolves. */
function loadable(sel: ProbeSpec['selector']): boolean {
  if (sel.kind === 'file') return existsSync(sel.filename)
  if (sel.kind === 'package') return resolvesFromCwd(sel.name)
  return false
}

/**
 * Plan live edit for `specs` (the Debugger domain opens here): the loaded files to edit, the
 * ones to wait for. Every problem goes to `problems`; then the editor is closed again.
 */
export function planLiveEdit(specs: readonly LiveSpecPlan[], inWorker: boolean, problems: string[]): LivePlan {
  const plan: LivePlan = { files: [], waitingFor: [], notHere: new Set() }
  const editor = liveEditor()
  if (!editor.open()) {
    for (const p of specs)
      problems.push(
        `${p.spec.text}: live edit needs the inspector, which failed here (${editor.unavailable}); ` +
          `start the program with the preload instead: ${preloadLine()}`,
      )
    return plan
  }
  const seen = new Set<LiveFile>()
  for (const p of specs) {
    const named = new Set(filesOf(p.selector, editor.filenames()))
    const scripts = editor.scriptsWhere((f) => named.has(f))
    if (scripts.length === 0 && inWorker) {
      plan.notHere.add(p)
      continue
    }
    if (scripts.length === 0) {
      // Not loaded yet: if it can be, the trace waits for it (as the preload's probes wait for
      // files that register later); if it cannot, the spec names nothing.
      if (loadable(p.selector)) {
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
      problems.push(`${p.spec.text}: ${what}; live edit probes the code of a file that is loaded, or that loads later`)
      continue
    }
    for (const sc of scripts) {
      try {
        const f = editor.fileOf(sc)
        if (!seen.has(f)) {
          seen.add(f)
          plan.files.push(f)
        }
      } catch (err) {
        problems.push(`${p.spec.text}: ${labelOfFile(sc.filename)} cannot be read for live edit: ${err instanceof Error ? err.message : String(err)}`)
      }
    }
  }
  if (problems.length > 0) editor.closeIfIdle()
  return plan
}

/** The functions `ids` of a live file, as a trace names them: `db:findUser, db:save`. */
function functionNames(f: LiveFile, ids: Iterable<number>): string {
  return [...ids].map((id) => `${labelOfFile(f.filename)}:${f.file.probes[id]?.name ?? id}`).join(', ')
}

export class LiveEdit implements Installer {
  readonly kind = 'live edit'
  /** Runtime wrappers put in for live specs whose functions stayed busy. */
  private fallback: Installer | undefined
  /** The live-edited files, with the probe ids put into each. */
  private edits: Map<LiveFile, Set<number>> | undefined
  private installed = false
  private waiting: (() => boolean) | undefined
  /** Files that loaded after the start, with the probes put into them. */
  private readonly late = new Map<LiveFile, Set<number>>()
  private onLoad: ((script: Script) => void) | undefined

  constructor(
    private readonly host: TraceHost,
    /** The live specs' probes, selected in `plan.files` (and in files that load later). */
    private readonly probes: Probes,
    private readonly plan: LivePlan,
    /** The live specs, for the fallback. */
    private readonly specs: readonly TraceSpec[],
    /** Runtime wrappers for `specs`, installed; undefined (and problems) when they cannot serve them all. */
    private readonly wrappersFor: (specs: readonly TraceSpec[], problems: string[]) => Installer | undefined,
  ) {}

  install(problems: string[]): number {
    const n = this.probes.install(problems)
    if (problems.length === 0) this.edit(problems)
    if (problems.length === 0 && this.plan.waitingFor.length > 0) this.waitForFiles(this.plan.waitingFor)
    return n
  }

  served(): string[] {
    return this.fallback !== undefined ? this.fallback.served() : this.probes.served()
  }

  restore(): void {
    this.probes.restore()
    this.fallback?.restore()
    this.release()
  }

  /** The probes this trace selected in a live file, by id. */
  private idsIn(file: LiveFile): Set<number> {
    const ids = new Set<number>()
    const live = this.probes.live.get(file.file)
    if (live !== undefined) for (let i = 0; i < live.length; i++) if (live[i] !== undefined) ids.add(i)
    return ids
  }

  /**
   * Put the probes' text in, all files or none. Problems end the trace now (functions V8 would
   * not map); a function that is running is retried at later turns of the event loop for
   * LIVE_RETRY_MS, and if it stays busy the fallback or the end follows.
   */
  private edit(problems: string[]): void {
    const edits = new Map<LiveFile, Set<number>>()
    for (const file of this.plan.files) {
      const ids = this.idsIn(file)
      if (ids.size > 0) edits.set(file, ids)
    }
    this.edits = edits
    if (edits.size === 0) return
    const editor = liveEditor()
    const unmapped = (r: Map<LiveFile, number[]>) =>
      [...r].map(
        ([f, ids]) =>
          `${functionNames(f, ids)}: live edit cannot probe ${ids.length === 1 ? 'this function' : 'these functions'}: ` +
          'V8 matches an edited function with the running one by a diff of the texts, and this diff would leave it its old code; ' +
          `trace it in global scope if it is exported, or start the program with the preload: ${preloadLine()}`,
      )
    const first = editor.install(edits)
    if (first === undefined) {
      this.installed = true
      return
    }
    if ('unmapped' in first) {
      problems.push(...unmapped(first.unmapped))
      return
    }
    // A function of an edited file is running: retry at later turns of the event loop.
    const fns = functionNames(first.blocked, edits.get(first.blocked) ?? [])
    this.host.notice(`waiting to probe ${fns}: ${blockedReason(first.status)}; retrying for ${LIVE_RETRY_MS / 1000} s`)
    const until = Date.now() + LIVE_RETRY_MS
    this.waiting = () => {
      if (!this.host.active) return true
      const r = editor.install(edits)
      if (r === undefined) {
        this.installed = true
        this.host.notice(`probes in ${fns}`)
        return true
      }
      if ('unmapped' in r) {
        this.host.end(unmapped(r.unmapped).join('; '))
        return true
      }
      if (Date.now() < until) return false
      const busy =
        `${functionNames(r.blocked, edits.get(r.blocked) ?? [])}: ` +
        `${blockedReason(r.status)} for ${LIVE_RETRY_MS / 1000} s (live edit cannot change a function while it runs)`
      // The next installer that can serve the specs: the preload's probes would have been
      // chosen first had they been there, so runtime wrappers, if every live spec names a
      // function its module exports (then the trace sees the calls through the export only,
      // and says so); otherwise the trace ends, naming the function and the options.
      const fallback = this.wrappersFor(this.specs, [])
      if (fallback !== undefined) {
        this.fallback = fallback
        this.probes.restore()
        this.release()
        this.host.notice(
          `${busy}; traced through ${this.specs.length === 1 ? 'its export' : 'their exports'} instead (runtime wrappers): ` +
            `calls from inside the module are not seen`,
        )
        return true
      }
      this.host.end(
        `could not probe ${busy}. ` +
          `Try again when it is idle, trace it in global scope if it is exported (its calls through the export), ` +
          `or start the program with the preload: ${preloadLine()}`,
      )
      return true
    }
    editor.waiting.add(this.waiting)
    editor.schedule(0)
  }

  /**
   * Live specs whose file is not loaded yet: say so, and select and edit each such file when it
   * loads (at the next turn after V8 compiles it, once its module has run).
   */
  private waitForFiles(names: readonly string[]): void {
    const editor = liveEditor()
    this.host.notice(
      `${[...new Set(names)].join(', ')} ${names.length === 1 ? 'is' : 'are'} not loaded yet: ` +
        `live edit probes ${names.length === 1 ? 'it' : 'them'} when ${names.length === 1 ? 'it loads' : 'they load'}`,
    )
    this.onLoad = (script) => {
      if (!this.host.active) return
      try {
        const file = editor.fileOf(script)
        const notices: string[] = []
        if (this.probes.addLive(file.file, notices) === 0) {
          for (const n of notices) this.host.notice(n)
          return
        }
        const ids = this.idsIn(file)
        const fns = functionNames(file, ids)
        const until = Date.now() + LIVE_RETRY_MS
        const attempt = (): boolean => {
          if (!this.host.active) return true
          const r = editor.install(new Map([[file, ids]]))
          if (r === undefined) {
            this.late.set(file, ids)
            this.host.notice(`probes in ${fns} (loaded after the start)`)
            return true
          }
          if ('unmapped' in r) {
            this.host.notice(`live edit cannot probe ${fns}: V8 would leave the running function its old code`)
            return true
          }
          if (Date.now() < until) return false
          this.host.notice(`could not probe ${fns}: ${blockedReason(r.status)} for ${LIVE_RETRY_MS / 1000} s`)
          return true
        }
        if (!attempt()) {
          editor.waiting.add(attempt)
          editor.schedule(1)
        }
      } catch (err) {
        this.host.notice(`${labelOfFile(script.filename)} cannot be read for live edit: ${err instanceof Error ? err.message : String(err)}`)
      }
    }
    editor.loading.add(this.onLoad)
  }

  /** Give the edited files back to the editor (their text is restored at the next turn). */
  private release(): void {
    const editor = liveEditor()
    if (this.onLoad !== undefined) editor.loading.delete(this.onLoad)
    this.onLoad = undefined
    for (const f of this.late.keys()) editor.release(f)
    this.late.clear()
    if (this.waiting !== undefined) editor.waiting.delete(this.waiting)
    this.waiting = undefined
    if (this.installed && this.edits !== undefined) for (const f of this.edits.keys()) editor.release(f)
    this.edits = undefined
    // Closes the session unless a restore is pending (then it closes after it).
    if (editor.isOpen) editor.closeIfIdle()
  }
}

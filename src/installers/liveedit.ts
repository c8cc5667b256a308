/**
 * Liveedit: probes put into a running program on demand, through V8's live edit.
 *
 * A process started without the preload has no probes. When a trace selects functions in local
 * scope (or in an ES module, whose exports cannot be replaced), this installer opens an
 * in-process `inspector.Session` (no port, no signal), enables the Debugger domain, reads the
 * script of each module from `Debugger.scriptParsed` and `Debugger.getScriptSource`, rewrites
 * only the selected functions with the rewrite of the preload (instrument.ts, `runtime:
 * 'global'`, lines kept), and gives V8 the new text with `Debugger.setScriptSource`. The rest
 * of the program is untouched: a function that no trace selects never changes, and costs
 * nothing (measured ratio 1.00 before and after; bench/liveedit-cost.mjs).
 *
 * Safety:
 * - All or nothing: the files of a trace are edited one after the other in one turn; if V8
 *   refuses one, those already edited are put back in the same turn. Before an edit, livediff.ts
 *   checks that V8's text diff maps each edited function
 *   to its new code (V8 says `Ok` even when it does not); a function it would not map is
 *   rewritten in another form, or refused with the reason.
 * - V8 refuses to change a function that is running (on the stack, or an async function or
 *   generator suspended at an `await`/`yield`). The trace then retries at turns of the event
 *   loop for a bounded time (`LIVE_RETRY_MS`), and ends with an error naming the function if it
 *   stays busy.
 * - Ending a trace (a trip, `clear()`) puts every slot back to 0 at once, on the very call
 *   that tripped: the edited functions are dormant from that instant. The original text goes
 *   back at the next turn of the event loop (a function cannot be changed while it runs, and
 *   the tripping call is running), retried until V8 accepts it; then the Debugger domain is
 *   disabled and the session closed. `Debugger.getScriptSource` then returns the original text.
 * - Each edit stops the thread while V8 walks the whole heap for the closures of the changed
 *   functions (about 4 ms per MB of live heap, bench/liveedit-install.mjs). Live edit is refused when that pause
 *   would exceed RECON_TRACE_LIVE_EDIT_MAX_PAUSE (1000 ms by default), saying so.
 * - The Debugger domain is told to skip all pauses, so a `debugger` statement in the program
 *   never stops this thread on our session.
 * - The probes read one global binding per edited file (`$rt$<n>`, not enumerable), which is
 *   deleted once the original text is back.
 */
import { createRequire } from 'node:module'
import type { Session } from 'node:inspector'
import { getHeapStatistics } from 'node:v8'
import { ProbeFile, encodeTable } from '../registry.js'
import { unpatched, unrestored } from './livediff.js'
import { inputMapOf, rewriterModule } from '../register.js'
import { state } from '../state.js'
import { openSession, postSync, scriptFile, type ScriptParsed } from '../inspector.js'

/**
 * Whether live edit is on for this runtime, and if not, why; per V8 line:
 * - V8 14 and later (Node 26): live edit no longer exists. V8 removed it (commit 48e14b18,
 *   "[inspector] Deprecate Debugger.setScriptSource and remove liveedit tests"): the method
 *   answers "setScriptSource functionality no longer available" to every call. Nothing turns it on.
 * - V8 13 (Node 24): off by default. Measured on Node 24.21 (V8 13.6): a live edit of one function
 *   of lodash (any edit, even one blank added), then the first call of another function of the
 *   same script that had never run, crashed the process with a segmentation fault (`conforms`,
 *   `iteratee`, `matches`, `matchesProperty`, each calling `baseClone` for the first time;
 *   test/liveedit.test.ts reproduces it). A tracer must not crash the program;
 *   `RECON_TRACE_LIVE_EDIT=force` turns it on anyway.
 * - V8 11 and 12 (Node 20, 22): on, within the pause limit. The same edits never crashed there.
 */
export function liveEditRefusal(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const major = Number(process.versions.v8.split('.')[0])
  if (major >= 14)
    return (
      `live edit does not exist on this runtime: V8 ${process.versions.v8} (Node ${process.versions.node}) ` +
      `removed it (Debugger.setScriptSource is gone since V8 14)`
    )
  const mode = env.RECON_TRACE_LIVE_EDIT
  if (mode === '0' || mode === 'off') return 'RECON_TRACE_LIVE_EDIT turns it off'
  if (mode === 'force') return undefined
  if (major === 13)
    return (
      `live edit is off on this runtime: V8 ${process.versions.v8} (Node ${process.versions.node}) crashed the process in our tests ` +
      'when a function of an edited script first ran after the edit; ' +
      `RECON_TRACE_LIVE_EDIT=force turns it on anyway (docs/live-edit.md)`
    )
  const pause = livePause()
  const max = Number(env.RECON_TRACE_LIVE_EDIT_MAX_PAUSE ?? DEFAULT_MAX_PAUSE_MS)
  if (Number.isFinite(max) && pause.ms > max)
    return (
      `live edit would stop this thread for about ${pause.ms} ms at the edit and again at the restore: ` +
      `V8 walks the whole heap for each edit (here ${pause.mb} MB live; measured about ${MS_PER_MB} ms per MB), ` +
      `over the limit of ${max} ms (RECON_TRACE_LIVE_EDIT_MAX_PAUSE=<ms> raises it, RECON_TRACE_LIVE_EDIT=force lifts it)`
    )
  return undefined
}

/**
 * Whether live edit is asked for: `RECON_TRACE_LIVE_EDIT=on` (or `1`, or `force`, which also
 * lifts the V8 13 gate and the pause limit). Off by default since the binding and breakpoint
 * installers reach the same functions on every runtime (choose.ts).
 */
export function liveEditAsked(env: NodeJS.ProcessEnv = process.env): boolean {
  const mode = env.RECON_TRACE_LIVE_EDIT
  return mode === 'on' || mode === '1' || mode === 'force'
}

/** The pause live edit is refused over, by default (ms): a health check of 1-2 s should survive it. */
export const DEFAULT_MAX_PAUSE_MS = 1000
/**
 * What one `Debugger.setScriptSource` costs per MB of live heap (ms): measured 3.4-3.8 on Node
 * 20 and 24 with heaps of 100 and 400 MB (bench/liveedit-install.mjs, docs/benchmarks.md §8),
 * plus about 40 ms at a small heap.
 */
export const MS_PER_MB = 4

/** The pause each edit is expected to cause here, from the live heap. */
export function livePause(): { ms: number; mb: number } {
  const mb = Math.round(getHeapStatistics().used_heap_size / 2 ** 20)
  return { ms: 40 + mb * MS_PER_MB, mb }
}

/** How long a busy function's edit is retried before the trace gives up on it (ms). */
export const LIVE_RETRY_MS = 2000

/** One loaded script, as the Debugger reported it. */
export interface Script {
  readonly id: string
  readonly filename: string
  readonly module: boolean
}

/** A file the installer has read: its original text, its table, and what it looks like now. */
export class LiveFile {
  /** The text the program loaded, put back at the end. */
  readonly original: string
  /** The probes' runtime object while edited: what the global binding holds. */
  readonly file: ProbeFile
  /** The text V8 runs now, when it is not the original. */
  edited: string | undefined = undefined
  /** The global binding the edited text reads. */
  binding: string | undefined = undefined
  /**
   * Set once a restore left some closure with the probes' code (livediff said V8 would not map
   * it back): the binding then stays for good, dormant, since such a closure still reads it.
   */
  pinned = false
  private spans: { insertions: number[]; spans: import('./livediff.js').Span[] } | undefined
  constructor(
    readonly script: Script,
    source: string,
    readonly key: string,
  ) {
    this.original = source
    const { instrument } = rewriterModule()
    const input = inputMapOf(source, script.filename)
    const r = instrument(source, {
      filename: script.filename,
      format: script.module ? 'module' : 'commonjs',
      inputMap: input?.map,
      inputMapURL: input?.url,
      runtime: 'global',
      key,
      map: false,
      stableIds: true,
      tableOnly: true,
    })
    this.file = new ProbeFile(script.filename, r.probes.length, encodeTable(r.probes, r.skipped), undefined)
  }

  get filename(): string {
    return this.script.filename
  }

  /**
   * The text with probes in the functions `ids`, in a form V8 maps to each of them; or the ids
   * it would not map in any form.
   */
  rewrite(ids: ReadonlySet<number>): { code: string; binding: string } | { unmapped: number[] } {
    const { instrument } = rewriterModule()
    let unmapped: number[] = []
    for (const closeAt of ['statement', 'brace'] as const) {
      const r = instrument(this.original, {
        filename: this.filename,
        format: this.script.module ? 'module' : 'commonjs',
        runtime: 'global',
        key: this.key,
        map: false,
        stableIds: true,
        closeAt,
        select: (f) => ids.has((f as { id?: number }).id ?? -1),
      })
      const bad = unpatched(this.original, r.code, r.insertions!, r.spans!)
      if (bad.length === 0) {
        this.spans = { insertions: r.insertions!, spans: r.spans! }
        return { code: r.code, binding: r.binding! }
      }
      unmapped = bad
    }
    return { unmapped }
  }

  /** Whether V8 will map the edited functions back to the original text (then the binding can go). */
  restoresCleanly(): boolean {
    if (this.edited === undefined || this.spans === undefined) return true
    return unrestored(this.edited, this.original, this.spans.insertions, this.spans.spans).length === 0
  }
}

/** Why V8 refused an edit, in words. */
export function blockedReason(status: string): string {
  switch (status) {
    case 'BlockedByActiveFunction':
      return 'it is running (on the stack)'
    case 'BlockedByActiveGenerator':
      return 'a call of it is suspended (an async function waiting at an await, or a generator at a yield)'
    case 'BlockedByTopLevelEsModuleChange':
      return 'the edit would change the top level of an ES module'
    case 'CompileError':
      return 'the rewritten text did not compile'
    default:
      return status
  }
}

type Post = (method: string, params?: object) => Record<string, unknown>

/**
 * The installer of this thread: one inspector session, opened while any file is edited or a
 * trace plans an edit, closed when every file is back to its original text.
 */
export class LiveEditor {
  private session: Session | undefined
  /** Every script the Debugger reported, by file: more than one after an edit (see `live`). */
  private scripts = new Map<string, Script[]>()
  readonly files = new Map<string, LiveFile>()
  private nextKey = 1
  /** Files whose original text is still to be put back. */
  private readonly returning = new Set<LiveFile>()
  private retry: { unref(): unknown } | undefined
  private retryDelay = 1
  /** Edits waiting for busy functions: retried with the restores. */
  readonly waiting = new Set<() => boolean>()
  /** Traces waiting for files to load: told of each script compiled after they started. */
  readonly loading = new Set<(script: Script) => void>()
  private loaded: Script[] = []
  /** Set when the inspector cannot be used here (no inspector in this build of Node). */
  unavailable: string | undefined

  private readonly post: Post = (method, params) => postSync(this.session!, method, params)

  /** Open the session and enable the Debugger domain (about 20 ms); false when it cannot be. */
  open(): boolean {
    if (this.session !== undefined) return true
    if (this.unavailable !== undefined) return false
    try {
      const s = openSession()
      this.session = s
      this.scripts.clear()
      s.on('Debugger.scriptParsed', (m: { params: ScriptParsed }) => {
        // Scripts of other contexts (vm) do not see the probes' binding on this realm's
        // globalThis: an edit there would throw a ReferenceError into the program.
        const filename = scriptFile(m.params)
        if (filename === undefined) return
        const list = this.scripts.get(filename)
        const sc = { id: m.params.scriptId, filename, module: m.params.isModule === true }
        if (list === undefined) this.scripts.set(filename, [sc])
        else list.push(sc)
        // A script compiled after the start, that a trace waits for: told at the next turn (this
        // may run inside V8's compile of the script, and the module has not run yet).
        if (this.loading.size > 0 && list === undefined) {
          this.loaded.push(sc)
          if (this.loaded.length === 1)
            setImmediate(() => {
              const batch = this.loaded.splice(0)
              for (const l of [...this.loading]) for (const b of batch) l(this.live(b.filename, this.scripts.get(b.filename) ?? [b]))
            }).unref()
        }
      })
      this.post('Debugger.enable')
      // A `debugger` statement or a breakpoint must never stop this thread on our session:
      // nothing would ever resume it.
      this.post('Debugger.setSkipAllPauses', { skip: true })
      return true
    } catch (err) {
      this.unavailable = err instanceof Error ? err.message : String(err)
      this.close()
      return false
    }
  }

  /** Close the session when nothing is edited, returning or waiting. */
  closeIfIdle(): void {
    if (this.returning.size > 0 || this.waiting.size > 0 || this.loading.size > 0) return
    for (const f of this.files.values()) if (f.edited !== undefined) return
    this.close()
  }

  private close(): void {
    const s = this.session
    if (s === undefined) return
    try {
      this.post('Debugger.disable')
    } catch {
      /* closing anyway */
    }
    this.session = undefined
    this.scripts.clear()
    try {
      s.disconnect()
    } catch {
      /* already gone */
    }
  }

  /** The loaded scripts whose file `test` accepts: the live one of each file. */
  /** The files of the scripts loaded so far. */
  filenames(): string[] {
    return [...this.scripts.keys()]
  }

  scriptsWhere(test: (filename: string) => boolean): Script[] {
    const out: Script[] = []
    for (const [filename, list] of this.scripts) if (test(filename)) out.push(this.live(filename, list))
    return out
  }

  /**
   * The script that runs a file's code. After a live edit (ours, or a dry run) V8 keeps the
   * replaced copy of the script, and the Debugger lists it under the same URL until it is
   * collected; an edit of that copy would say Ok and change nothing. V8 gives the running
   * script back its id after an edit, so the copies have higher ids (measured on Node 20 and
   * 24). A module loaded twice (its require cache cleared) also has two scripts; then the
   * function its require cache exports tells which one runs.
   */
  private live(filename: string, list: Script[]): Script {
    if (list.length === 1) return list[0]
    const byId = [...list].sort((a, b) => Number(a.id) - Number(b.id))
    const running = this.scriptOfExports(filename)
    return byId.find((s) => s.id === running) ?? byId[0]
  }

  /** The script id of a function that the require cache of `filename` exports, if any. */
  private scriptOfExports(filename: string): string | undefined {
    const cache = (createRequire(filename) as NodeJS.Require).cache
    const exp = cache[filename]?.exports as unknown
    let fn: unknown = typeof exp === 'function' ? exp : undefined
    if (fn === undefined && typeof exp === 'object' && exp !== null) {
      for (const k of Object.keys(exp)) {
        const d = Object.getOwnPropertyDescriptor(exp, k)
        if (d && typeof d.value === 'function') {
          fn = d.value
          break
        }
      }
    }
    if (fn === undefined) return undefined
    const slot = Symbol.for('recon-trace.liveedit.probe')
    const g = globalThis as unknown as Record<symbol, unknown>
    try {
      g[slot] = fn
      const r = this.post('Runtime.evaluate', { expression: `globalThis[Symbol.for('recon-trace.liveedit.probe')]`, silent: true }) as {
        result?: { objectId?: string }
      }
      const objectId = r.result?.objectId
      if (objectId === undefined) return undefined
      const props = this.post('Runtime.getProperties', { objectId, ownProperties: true }) as {
        internalProperties?: { name: string; value?: { value?: { scriptId?: string } } }[]
      }
      this.post('Runtime.releaseObject', { objectId })
      return props.internalProperties?.find((p) => p.name === '[[FunctionLocation]]')?.value?.value?.scriptId
    } catch {
      return undefined
    } finally {
      delete g[slot]
    }
  }

  /** The file of a script, read and tabled once (its table is reused by every later trace). */
  fileOf(script: Script): LiveFile {
    let f = this.files.get(script.filename)
    if (f !== undefined && f.script.id === script.id) return f
    const source = this.post('Debugger.getScriptSource', { scriptId: script.id }).scriptSource as string
    f = new LiveFile(script, source, String(this.nextKey++))
    this.files.set(script.filename, f)
    return f
  }

  /**
   * Put probes into `edits` (file and probe ids), all or none. Returns undefined when done, or
   * what stopped it: functions V8 would not map, or the first function V8 refused to change.
   */
  install(edits: ReadonlyMap<LiveFile, ReadonlySet<number>>): undefined | { unmapped: Map<LiveFile, number[]> } | { blocked: LiveFile; status: string } {
    const plans: { f: LiveFile; code: string; binding: string }[] = []
    const unmapped = new Map<LiveFile, number[]>()
    for (const [f, ids] of edits) {
      const r = f.rewrite(ids)
      if ('unmapped' in r) unmapped.set(f, r.unmapped)
      else plans.push({ f, ...r })
    }
    if (unmapped.size > 0) return { unmapped }
    // A file still edited by the trace before (its text not yet back) is compared from its
    // current text: restore it first, then edit. Both are refused if a function is running.
    for (const { f } of plans) {
      const status = this.putBack(f)
      if (status !== 'Ok') return { blocked: f, status }
    }
    // One file at a time, undone in the same turn if V8 refuses one. No dry run first: each
    // setScriptSource walks the whole heap to find the functions it changes (its time grows
    // with the heap: docs/benchmarks.md §8), and in one synchronous turn nothing can start
    // running in between, so the undo is accepted whenever the edit was.
    const done: typeof plans = []
    for (const p of plans) {
      // The binding first: the new code may run as soon as the edit is made.
      defineBinding(p.binding, p.f.file)
      const status = this.setSource(p.f, p.code)
      if (status !== 'Ok') {
        for (const d of done) if (this.putBack(d.f) !== 'Ok') this.release(d.f)
        if (!p.f.pinned) deleteBinding(p.binding)
        return { blocked: p.f, status }
      }
      p.f.edited = p.code
      p.f.binding = p.binding
      this.returning.delete(p.f)
      done.push(p)
    }
    return undefined
  }

  /** Ask for the original text of `f` back: now if it can be, else at later turns of the loop. */
  release(f: LiveFile): void {
    if (f.edited === undefined) return
    this.returning.add(f)
    this.schedule(0)
  }

  /** Put the original text of `f` back now; V8's status ('Ok' when done or nothing to do). */
  private putBack(f: LiveFile): string {
    if (f.edited === undefined) return 'Ok'
    const clean = f.restoresCleanly()
    const status = this.setSource(f, f.original)
    if (status !== 'Ok') return status
    if (!clean) f.pinned = true
    if (!f.pinned && f.binding !== undefined) deleteBinding(f.binding)
    f.edited = undefined
    this.returning.delete(f)
    return 'Ok'
  }

  /** Retry restores and waiting edits at a later turn: setImmediate first, then 1, 2, 4... up to 250 ms apart. */
  schedule(delay: number): void {
    if (this.retry !== undefined) return
    const run = () => {
      this.retry = undefined
      for (const f of [...this.returning]) {
        try {
          this.putBack(f)
        } catch {
          this.returning.delete(f) // the session is gone: nothing more can be done
        }
      }
      for (const w of [...this.waiting]) {
        let done = true
        try {
          done = w()
        } catch {
          done = true
        }
        if (done) this.waiting.delete(w)
      }
      if (this.returning.size > 0 || this.waiting.size > 0) {
        this.retryDelay = Math.min(this.retryDelay * 2, 250)
        this.schedule(this.retryDelay)
      } else {
        this.retryDelay = 1
        this.closeIfIdle()
      }
    }
    const t = delay === 0 ? setImmediate(run) : setTimeout(run, delay)
    t.unref()
    this.retry = t
  }

  private setSource(f: LiveFile, text: string): string {
    const r = this.post('Debugger.setScriptSource', { scriptId: f.script.id, scriptSource: text })
    const exc = r.exceptionDetails as { text?: string } | undefined
    if (exc) return 'CompileError'
    return (r.status as string | undefined) ?? 'Ok'
  }

  get isOpen(): boolean {
    return this.session !== undefined
  }
}

function defineBinding(name: string, value: ProbeFile): void {
  Object.defineProperty(globalThis, name, { value, configurable: true, enumerable: false, writable: false })
}

function deleteBinding(name: string): void {
  delete (globalThis as Record<string, unknown>)[name]
}

/** This thread's installer (shared by the ESM and CommonJS builds of recon-trace). */
export function liveEditor(): LiveEditor {
  return ((state.liveEditor as LiveEditor | undefined) ??= new LiveEditor())
}

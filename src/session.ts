/**
 * Session: the one active trace of this thread, and the slow path of a traced call.
 *
 * `calls()` checks everything first (specs, limit, options, modules, functions) and throws one
 * `TraceError` before touching anything; then it ends the trace before it, hooks, and returns
 * how many functions it hooked. When a limit trips, every hook is removed synchronously, on the
 * very call that tripped it, before the program runs another line; the queued messages are
 * written, then one line says why. `clear()` ends the trace without that line.
 *
 * The active trace lives in the process-wide state (state.ts), so that the ESM and CommonJS builds,
 * if both are loaded, still share one trace (a new `calls` from either ends the other's).
 */
import { performance } from 'node:perf_hooks'
import { existsSync } from 'node:fs'
import { threadId } from 'node:worker_threads'
import { types } from 'node:util'
import { TraceError, preloadLine, throwIfProblems } from './error.js'
import { parseSpecs, type Specs, type TraceSpec } from './spec.js'
import { checkLimit, Limiter, type Limit } from './limit.js'
import { checkOptions, type Resolved, type TraceOptions } from './options.js'
import { compileWhere, type ThreadView } from './where.js'
import { CALL, RETURN, STACK, compileMatcher } from './match.js'
import { Hooks, plan, type Target } from './hook.js'
import { isEsmModule, labelOfFile, resolvesFromCwd } from './modules.js'
import { enterBusy, leaveBusy, state, type ActiveTrace } from './state.js'
import { Probes, preloadCovers, probeSelector, selects, type ProbeSpec, type ProbeTarget } from './probe.js'
import { registry, type LiveProbe, type ProbeFile, type ProbeHandler } from './registry.js'
import { LIVE_RETRY_MS, blockedReason, liveEditRefusal, liveEditor, type LiveFile, type Script } from './liveedit.js'
import { makeRedactor, snapshot, snapshotArgs } from './snapshot.js'
import { renderValue, type TraceEvent } from './format.js'
import { Output } from './output.js'
import { Settler } from './settle.js'
import { captureStack } from './stack.js'
import { timeLimitReason } from './lines.js'
// The agent loads the trace machinery through this module, and checks requests with this list.
export { WIRE_OPTIONS } from './options.js'
import type { LineKind } from './protocol.js'

const apply = Reflect.apply
const construct = Reflect.construct
const isPromise = types.isPromise

/** What a user function threw, rendered the way values are: no getter, trap or toString of it runs. */
function describeError(err: unknown): string {
  const text = renderValue(snapshot(err, { depth: 1, string: 200, collection: 4, nodes: 16 }, () => false))
  return text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text
}

/**
 * What recon-trace writes through, by identity: the console's functions, the output stream
 * itself (no method of it may be shadowed) and every `write` it inherits (so
 * `node:stream:Writable#write` is refused while the output is a stream), the `io` function,
 * the formatter, and `calls`/`clear`. Tracing any of them is refused.
 */
function forbiddenTargets(o: Resolved): Set<object> {
  const set = new Set<object>([calls, clear])
  const c = console as unknown as Record<string, unknown>
  for (const k of Object.keys(c)) if (typeof c[k] === 'function') set.add(c[k] as Function)
  if ('fn' in o.io) set.add(o.io.fn)
  else if ('sink' in o.io) set.add(o.io.sink)
  else {
    set.add(o.io.stream)
    for (let p: object | null = o.io.stream, i = 0; p !== null && i < 16; p = Object.getPrototypeOf(p), i++) {
      for (const k of ['write', '_write', '_writev']) {
        const d = Object.getOwnPropertyDescriptor(p, k)
        if (d && typeof d.value === 'function') set.add(d.value)
      }
    }
  }
  if (o.formatter) set.add(o.formatter)
  return set
}

/** What a message is about: a wrapped function or a probed one. */
type Subject = Target | ProbeTarget

/** A live probe's call whose outcome is to be reported. */
interface Pending {
  readonly trace: Trace
  readonly t: ProbeTarget
  readonly n: number
}

class Trace implements ProbeHandler {
  active = true
  readonly hooks: Hooks
  /** Runtime wrappers put in for live specs whose functions stayed busy (see installLive). */
  private fallback: Hooks | undefined
  private readonly wrapperFallback: (live: readonly TraceSpec[], problems: string[]) => Hooks | undefined
  private readonly liveSpecs: readonly TraceSpec[]
  readonly probes: Probes | undefined
  readonly limiter: Limiter
  readonly output: Output
  readonly settler = new Settler()
  private timer: NodeJS.Timeout | undefined
  private readonly redact: (key: string) => boolean
  private readonly pid = process.pid
  private readonly stamp: boolean
  private readonly withArgs: boolean
  private settleFailed = false

  constructor(
    /** The specs the runtime wrappers serve, and those that probes serve. */
    specs: readonly TraceSpec[],
    probeSpecs: readonly { spec: TraceSpec; selector: ProbeSpec['selector']; scope: 'local' | 'global'; live: boolean; waits?: boolean }[],
    limit: Limit,
    readonly o: Resolved,
    forbidden: ReadonlySet<object>,
    /** Told once the trace has ended and its last line is written: why it ended (undefined: cleared). */
    private readonly onEnd?: (reason: string | undefined) => void,
    /** This thread as the pid option sees it (default: the thread that calls, existing). */
    thread?: ThreadView,
    /** The loaded files live edit may probe (read by the installer for the live specs). */
    readonly liveFiles: readonly LiveFile[] = [],
  ) {
    this.limiter = new Limiter(limit)
    this.liveSpecs = probeSpecs.filter((p) => p.live).map((p) => p.spec)
    this.redact = makeRedactor(o.redact)
    this.stamp = o.timestamp === 'trace'
    this.withArgs = o.args === 'args'
    const onUserError = (what: string, err: unknown) => this.userError(what, err)
    this.output = new Output({ io: o.io, formatter: o.formatter, json: o.json, color: o.color, line: o.line, capacity: o.queue, onUserError })
    const where = compileWhere(o.pid, onUserError, thread)
    this.here = where.here
    const matchers = specs.map((s) => compileMatcher(s, where.test, onUserError))
    const onLate = (notices: string[]) => {
      for (const n of notices) this.output.notice(`${n}`)
    }
    this.hooks = new Hooks(specs, matchers, this.onMatch, forbidden, onLate)
    this.wrapperFallback = (live: readonly TraceSpec[], problems: string[]) => {
      const p = plan(live, forbidden, problems)
      if (problems.length > 0) return undefined
      const h = new Hooks(
        live,
        live.map((s) => compileMatcher(s, where.test, onUserError)),
        this.onMatch,
        forbidden,
        onLate,
      )
      h.apply(p, problems)
      if (problems.length > 0) {
        h.restore()
        return undefined
      }
      return h
    }
    const reg = registry()
    this.probes =
      probeSpecs.length === 0
        ? undefined
        : new Probes(
            reg,
            probeSpecs.map((p, index) => ({ ...p, index, matcher: compileMatcher(p.spec, where.test, onUserError) })),
            this,
            onLate,
            liveFiles.map((f) => f.file),
          )
    if (o.time !== undefined) {
      const ms = o.time
      this.timer = setTimeout(() => this.end(timeLimitReason(ms, this.limiter.taken)), ms)
      this.timer.unref()
    }
    state.active = this.slot
  }

  /** Whether this thread is selected at all by the pid option (if not, nothing is hooked here). */
  readonly here: boolean

  userError(what: string, err: unknown): void {
    this.output.notice(`${what} threw ${describeError(err)}; counted as no match, reported once`)
  }

  /** After a message was queued (or refused): close the trace if the limit has tripped. */
  private checkTrip(): void {
    if (!this.limiter.tripped) return
    this.end(this.limiter.why())
  }

  /**
   * One message: counted by the limiter, captured and queued unless the queue is full (then
   * only counted as dropped: no snapshot is taken for a message that would be thrown away),
   * then the trip check. A call carries its arguments (and stack), the others their value.
   */
  private record(type: TraceEvent['type'], t: Subject, n: number, args: ArrayLike<unknown> | undefined, stack: boolean, value: unknown): void {
    if (this.limiter.take()) {
      if (this.output.full) this.output.drop()
      else {
        const ev: TraceEvent = {
          type,
          time: this.stamp ? performance.timeOrigin + performance.now() : 0,
          pid: this.pid,
          threadId,
          module: t.module,
          function: t.name,
          arity: n,
        }
        if (args === undefined) ev.result = snapshot(value, this.o.snapshot, this.redact)
        else if (this.withArgs) ev.args = snapshotArgs(args, this.o.snapshot, this.redact)
        if (stack) ev.stack = captureStack(this.o.frames, t.wrapper, 'skipFrames' in t ? t.skipFrames : 0)
        this.output.push(ev)
      }
    }
    this.checkTrip()
  }

  /** The slow path of a wrapper whose matcher said yes. */
  readonly onMatch = (t: Target, flags: number, self: unknown, args: IArguments, newTarget: Function | undefined): unknown => {
    const n = args.length
    let follow = false
    enterBusy()
    try {
      if (this.active && (flags & CALL) !== 0) {
        this.record('call', t, n, args, (flags & STACK) !== 0, undefined)
        follow = (flags & RETURN) !== 0 && this.active
      }
    } catch {
      follow = false // a fault of ours never reaches the program
    } finally {
      leaveBusy()
    }
    if (!follow) return newTarget === undefined ? apply(t.original, self, args) : construct(t.original, args, newTarget)
    let result: unknown
    try {
      result = newTarget === undefined ? apply(t.original, self, args) : construct(t.original, args, newTarget)
    } catch (err) {
      this.outcome('exception', t, n, err)
      throw err
    }
    if (isPromise(result)) this.follow(t, n, result as Promise<unknown>)
    else this.outcome('return', t, n, result)
    return result
  }

  // The three entry points of live probes (ProbeHandler). Never throw into the program.

  enter(_file: ProbeFile, target: LiveProbe, args: ArrayLike<unknown>, n: number, flags: number): unknown {
    // The probe checked the argument count (n, the call's arity), that recon-trace is not at
    // work, and ran the matcher of its entry in the file's live table: one of this trace's
    // targets, since the table and the handler are set and cleared together.
    if (!this.active) return 0
    const t = target as ProbeTarget
    let follow = false
    enterBusy()
    try {
      if (this.active) {
        this.record('call', t, n, n === args.length ? args : Array.prototype.slice.call(args, 0, n), (flags & STACK) !== 0, undefined)
        follow = (flags & RETURN) !== 0 && this.active
      }
    } catch {
      follow = false
    } finally {
      leaveBusy()
    }
    if (!follow) return 0
    const pending: Pending = { trace: this, t, n }
    return pending
  }

  ret(_file: ProbeFile, token: unknown, value: unknown): void {
    const p = token as Pending
    if (typeof p !== 'object' || p === null || p.trace !== this || !this.active) return
    if (p.t.info.async && !p.t.info.generator) {
      // An async function's `return v`: its promise adopts v. A native promise is followed;
      // anything else is what the function's promise fulfills with.
      if (isPromise(value)) this.follow(p.t, p.n, value as Promise<unknown>)
      else this.outcome('fulfilled', p.t, p.n, value)
    } else this.outcome('return', p.t, p.n, value)
  }

  threw(_file: ProbeFile, token: unknown, err: unknown): void {
    const p = token as Pending
    if (typeof p !== 'object' || p === null || p.trace !== this || !this.active) return
    this.outcome(p.t.info.async && !p.t.info.generator ? 'rejected' : 'exception', p.t, p.n, err)
  }

  private outcome(type: 'return' | 'exception' | 'fulfilled' | 'rejected', t: Subject, n: number, value: unknown): void {
    enterBusy()
    try {
      if (this.active) this.record(type, t, n, undefined, false, value)
    } catch {
      /* never into the program */
    } finally {
      leaveBusy()
    }
  }

  private follow(t: Subject, n: number, p: Promise<unknown>): void {
    enterBusy()
    let ok = false
    try {
      ok =
        this.active &&
        this.settler.watch(p, (state, value) => {
          if (state !== 'unobservable') this.outcome(state, t, n, value)
          else this.unfollowable(t, n, p)
        })
    } catch {
      ok = false
    } finally {
      leaveBusy()
    }
    if (!ok) this.unfollowable(t, n, p)
  }

  /** A returned promise whose outcome cannot be observed: said once, and printed as a value. */
  private unfollowable(t: Subject, n: number, p: Promise<unknown>): void {
    if (!this.settleFailed) {
      this.settleFailed = true
      this.output.notice('a returned promise cannot be followed (no inspector in this runtime, or too many pending); its return prints as a value')
    }
    this.outcome('return', t, n, p)
  }

  /** End the trace: hooks off now, then the queued lines, then `reason` if given. */
  end(reason: string | undefined): void {
    if (!this.active) return
    this.active = false
    this.hooks.restore()
    this.fallback?.restore()
    this.probes?.restore()
    this.releaseLive()
    this.settler.close()
    if (this.timer) clearTimeout(this.timer)
    if (state.active === this.slot) state.active = undefined
    const onEnd = this.onEnd
    this.output.end(reason, onEnd && (() => onEnd(reason)))
  }

  readonly slot: ActiveTrace = { end: (reason) => this.end(reason) }

  /** The live-edited files of this trace, by file, with the probe ids it put in them. */
  private edits: Map<LiveFile, Set<number>> | undefined
  private installed = false
  private waiting: (() => boolean) | undefined

  /** The probes this trace selected in a live file, by id. */
  private liveIds(lf: LiveFile): Set<number> {
    const ids = new Set<number>()
    const live = this.probes?.live.get(lf.file)
    if (live !== undefined) for (let i = 0; i < live.length; i++) if (live[i] !== undefined) ids.add(i)
    return ids
  }

  /** What live edit must put in: the live files whose functions this trace selected. */
  liveEdits(): Map<LiveFile, Set<number>> {
    const out = new Map<LiveFile, Set<number>>()
    for (const lf of this.liveFiles) {
      const ids = this.liveIds(lf)
      if (ids.size > 0) out.set(lf, ids)
    }
    return out
  }

  /**
   * Put the live probes in, all or none. Returns problems that end the trace now (functions V8
   * would not map); a function that is running is retried at later turns of the event loop for
   * LIVE_RETRY_MS, and if it stays busy the trace ends saying which and why.
   */
  installLive(problems: string[]): void {
    const edits = this.liveEdits()
    this.edits = edits
    if (edits.size === 0) return
    const editor = liveEditor()
    const unmapped = (r: Map<LiveFile, number[]>) =>
      [...r].map(
        ([f, ids]) =>
          `${functionNames(f, ids)}: live edit cannot probe ${ids.length === 1 ? 'this function' : 'these functions'}: V8 matches an edited function with the running one by a diff of the texts, and this diff would leave it its old code; ` +
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
    const why = blockedReason(first.status)
    this.output.notice(`waiting to probe ${fns}: ${why}; retrying for ${LIVE_RETRY_MS / 1000} s`)
    const until = Date.now() + LIVE_RETRY_MS
    this.waiting = () => {
      if (!this.active) return true
      const r = editor.install(edits)
      if (r === undefined) {
        this.installed = true
        this.output.notice(`probes in ${fns}`)
        return true
      }
      if ('unmapped' in r) {
        this.end(unmapped(r.unmapped).join('; '))
        return true
      }
      if (Date.now() < until) return false
      const busy = `${functionNames(r.blocked, edits.get(r.blocked) ?? [])}: ${blockedReason(r.status)} for ${LIVE_RETRY_MS / 1000} s (live edit cannot change a function while it runs)`
      // The next installer that can serve the specs: the preload's probes would have been
      // chosen first had they been there, so runtime wrappers, if every live spec names a
      // function its module exports (then the trace sees the calls through the export only,
      // and says so); otherwise the trace ends, naming the function and the options.
      const unreachable: string[] = []
      const fallback = this.wrapperFallback(this.liveSpecs, unreachable)
      if (fallback !== undefined) {
        this.fallback = fallback
        this.releaseLive()
        this.output.notice(`${busy}; traced through ${this.liveSpecs.length === 1 ? 'its export' : 'their exports'} instead (runtime wrappers): calls from inside the module are not seen`)
        return true
      }
      this.end(
        `could not probe ${busy}. ` +
          `Try again when it is idle, trace it in global scope if it is exported (its calls through the export), or start the program with the preload: ${preloadLine()}`,
      )
      return true
    }
    editor.waiting.add(this.waiting)
    editor.schedule(0)
  }

  /** Files of live specs that loaded after the start, with the probes put into them. */
  private late = new Map<LiveFile, Set<number>>()
  private onLoad: ((script: Script) => void) | undefined

  /**
   * Live specs whose file is not loaded yet: say so, and select and edit each such file when it
   * loads (at the next turn after V8 compiles it, once its module has run).
   */
  waitForFiles(names: readonly string[]): void {
    const editor = liveEditor()
    this.output.notice(`${[...new Set(names)].join(', ')} ${names.length === 1 ? 'is' : 'are'} not loaded yet: live edit probes ${names.length === 1 ? 'it' : 'them'} when ${names.length === 1 ? 'it loads' : 'they load'}`)
    this.onLoad = (script) => {
      if (!this.active || this.probes === undefined) return
      try {
        const lf = editor.fileOf(script)
        const notices: string[] = []
        if (this.probes.addLive(lf.file, notices) === 0) {
          for (const n of notices) this.output.notice(`${n}`)
          return
        }
        const ids = this.liveIds(lf)
        const fns = functionNames(lf, ids)
        const until = Date.now() + LIVE_RETRY_MS
        const attempt = (): boolean => {
          if (!this.active) return true
          const r = editor.install(new Map([[lf, ids]]))
          if (r === undefined) {
            this.late.set(lf, ids)
            this.output.notice(`probes in ${fns} (loaded after the start)`)
            return true
          }
          if ('unmapped' in r) {
            this.output.notice(`live edit cannot probe ${fns}: V8 would leave the running function its old code`)
            return true
          }
          if (Date.now() < until) return false
          this.output.notice(`could not probe ${fns}: ${blockedReason(r.status)} for ${LIVE_RETRY_MS / 1000} s`)
          return true
        }
        if (!attempt()) {
          editor.waiting.add(attempt)
          editor.schedule(1)
        }
      } catch (err) {
        this.output.notice(`${labelOfFile(script.filename)} cannot be read for live edit: ${err instanceof Error ? err.message : String(err)}`)
      }
    }
    editor.loading.add(this.onLoad)
  }

  private releaseLive(): void {
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

/** The functions `ids` of a live file, as a trace names them: `db:findUser, db:save`. */
function functionNames(f: LiveFile, ids: Iterable<number>): string {
  return [...ids].map((id) => `${labelOfFile(f.filename)}:${f.file.probes[id]?.name ?? id}`).join(', ')
}

/** Whether a live spec's file could still load: the file exists, or the package resolves. */
function loadable(sel: ProbeSpec['selector']): boolean {
  if (sel.kind === 'file') return existsSync(sel.filename)
  if (sel.kind === 'package') return resolvesFromCwd(sel.name)
  return false
}

/**
 * Start tracing: every call matching `specs` prints a message, until `limit` messages (or a
 * rate `[count, ms]` is exceeded, or `options.time` runs out). Ends the trace before it.
 * Returns how many functions were hooked. Throws a `TraceError` listing every problem, before
 * anything is hooked, for a malformed or over-broad spec, a bad limit or an unknown option.
 */
export function calls(specs: Specs, limit: Limit, options?: TraceOptions): number {
  return startTrace(specs, limit, options, undefined)
}

/**
 * `calls`, with `onEnd` told once the trace has ended (a limit, the time, `clear()`, another
 * trace) and its last line is written. For the agent, which tells its client. Not exported by
 * the package.
 */
export function startTrace(
  specs: Specs,
  limit: Limit,
  options: TraceOptions | undefined,
  onEnd: ((reason: string | undefined) => void) | undefined,
  thread?: ThreadView,
  /** The agent's: told each line with its kind (protocol.ts), instead of the io option. */
  sink?: (line: string, kind: LineKind) => void,
): number {
  const problems: string[] = []
  const parsed = parseSpecs(specs, problems)
  const lim = checkLimit(limit, problems)
  const checked = checkOptions(options, problems)
  throwIfProblems(problems)
  const o = sink === undefined ? checked : { ...checked!, io: { sink } }
  // Which specs the runtime wrappers serve and which the probes of the preload: local scope
  // is probes only; in global scope, ES modules (whose exports cannot be replaced) are probes.
  // Which installer serves each spec (docs/live-edit.md): in global scope, the runtime
  // wrappers, except for ES modules; probes otherwise: the preload's where it instrumented the
  // file (they are already there: nothing to install, nothing to undo), else live edit.
  const reg = registry()
  const hookSpecs: TraceSpec[] = []
  const probeSpecs: { spec: TraceSpec; selector: ProbeSpec['selector']; scope: 'local' | 'global'; live: boolean; waits?: boolean }[] = []
  for (const spec of parsed) {
    const scope = o!.scope
    if (scope === 'global' && !isEsmModule(spec.module)) {
      hookSpecs.push(spec)
      continue
    }
    const live = !preloadCovers(spec.module, reg)
    const selector = probeSelector(spec.module, spec.text, live ? undefined : reg, problems)
    if (selector) probeSpecs.push({ spec, selector, scope, live })
  }
  throwIfProblems(problems)
  // Live edit: read the loaded scripts the live specs name (the Debugger domain opens here).
  const liveFiles: LiveFile[] = []
  const waitingFor: string[] = []
  const notLoadedHere = new Set<(typeof probeSpecs)[number]>()
  const refusal = probeSpecs.some((p) => p.live) ? liveEditRefusal() : undefined
  if (refusal !== undefined) {
    for (const p of probeSpecs)
      if (p.live)
        problems.push(
          `${p.spec.text}: ${p.scope === 'local' ? "scope 'local'" : 'an ES module'} needs probes: the preload's, put in as modules load, or live edit's, put into a running program; ${refusal}. ` +
            `Start the program with the preload: ${preloadLine()}`,
        )
  } else if (probeSpecs.some((p) => p.live)) {
    const editor = liveEditor()
    if (!editor.open()) {
      for (const p of probeSpecs)
        if (p.live) problems.push(`${p.spec.text}: live edit needs the inspector, which failed here (${editor.unavailable}); start the program with the preload instead: ${preloadLine()}`)
    } else {
      const seen = new Set<LiveFile>()
      for (const p of probeSpecs) {
        if (!p.live) continue
        const scripts = editor.scriptsWhere((f) => selects(p.selector, f))
        if (scripts.length === 0 && thread !== undefined) {
          // A worker thread of a traced process that has not loaded the file: nothing to
          // probe here (the main thread reports a file loaded nowhere).
          notLoadedHere.add(p)
          continue
        }
        if (scripts.length === 0) {
          // Not loaded yet: if it can be, the trace waits for it (as the preload's probes wait
          // for files that register later); if it cannot, the spec names nothing.
          if (loadable(p.selector)) {
            p.waits = true
            waitingFor.push(p.selector.kind === 'file' ? labelOfFile(p.selector.filename) : p.selector.kind === 'package' ? p.selector.name : p.spec.text)
            continue
          }
          const what = p.selector.kind === 'file' ? `${p.selector.filename} does not exist` : p.selector.kind === 'package' ? `the package ${p.selector.name} cannot be found from ${process.cwd()}` : 'no file is loaded'
          problems.push(`${p.spec.text}: ${what}; live edit probes the code of a file that is loaded, or that loads later`)
          continue
        }
        for (const sc of scripts) {
          try {
            const f = editor.fileOf(sc)
            if (!seen.has(f)) {
              seen.add(f)
              liveFiles.push(f)
            }
          } catch (err) {
            problems.push(`${p.spec.text}: ${labelOfFile(sc.filename)} cannot be read for live edit: ${err instanceof Error ? err.message : String(err)}`)
          }
        }
      }
      if (problems.length > 0) editor.closeIfIdle()
    }
  }
  throwIfProblems(problems)
  for (const p of notLoadedHere) probeSpecs.splice(probeSpecs.indexOf(p), 1)
  clear()
  const forbidden = forbiddenTargets(o!)
  // Resolve modules and find functions before anything is created or hooked.
  const p = plan(hookSpecs, forbidden, problems)
  throwIfProblems(problems)
  const trace = new Trace(hookSpecs, probeSpecs, lim!, o!, forbidden, onEnd, thread, liveFiles)
  if (!trace.here) {
    if (liveFiles.length > 0) liveEditor().closeIfIdle()
    return 0
  }
  let n = trace.hooks.apply(p, problems)
  if (trace.probes) n += trace.probes.apply(problems)
  if (problems.length === 0) trace.installLive(problems)
  if (problems.length === 0 && waitingFor.length > 0) trace.waitForFiles(waitingFor)
  if (problems.length > 0) {
    trace.end(undefined)
    throw new TraceError(problems)
  }
  return n
}

/** Stop the active trace, if any: every hook removed, originals restored, queued lines written. */
export function clear(): void {
  state.active?.end(undefined)
  state.active = undefined
}

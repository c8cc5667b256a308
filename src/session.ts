/**
 * Session: the one active trace of this thread, its life, and the slow path of a traced call.
 *
 * A trace's life: check (specs, limit, options), plan (which installer serves each spec:
 * installers/choose.ts; then each installer's own planning, which changes nothing), install,
 * run, end. The session knows the installers only through their contract
 * (installers/installer.ts); it owns the pipeline they feed: where (pid), matcher (patterns,
 * guard, predicate), limiter, snapshot, output.
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
import { resolve } from 'node:path'
import { threadId } from 'node:worker_threads'
import { types } from 'node:util'
import { TraceError, preloadLine, throwIfProblems } from './error.js'
import { parseSpecs, type Specs, type TraceSpec } from './spec.js'
import { checkLimit, Limiter, type Limit } from './limit.js'
import { checkOptions, type Resolved, type TraceOptions } from './options.js'
import { compileWhere, type ThreadView } from './where.js'
import { CALL, RETURN, STACK, compileMatcher } from './match.js'
import { Wrappers, mappedModule, plan, type StatsPath, type Target } from './installers/wrapper.js'
import { isEsmModule, isPath, labelOfFile } from './modules.js'
import { enterBusy, leaveBusy, state, type ActiveTrace } from './state.js'
import { Probes, preloadCovers, probeSelector, type ProbeSpec, type ProbeTarget } from './installers/probes.js'
import { registry, type LiveProbe, type ProbeFile, type ProbeHandler } from './registry.js'
import { liveEditAsked, liveEditRefusal, liveEditor } from './installers/liveedit.js'
import { DebugHooks } from './installers/binding.js'
import { boundSide, planDebugger, type DebugPlan, type DebugSpecPlan } from './installers/binding-plan.js'
import { bindingRefusal, debugSession } from './installers/debugger.js'
import { LiveEdit, planLiveEdit, type LivePlan, type LiveSpecPlan } from './installers/liveedit-installer.js'
import { chooseInstaller } from './installers/choose.js'
import { INSTALLER_NAMES, type Installer, type InstallerKind, type InstallerReport, type TraceHost } from './installers/installer.js'
import { makeRedactor, snapshot, snapshotArgs, snapshotArgsInto, type Snap } from './snapshot.js'
import { renderValue, type TraceEvent } from './format.js'
import { Output } from './output.js'
import { Settler } from './settle.js'
import { captureStack } from './stack.js'
import { explainLine, timeLimitReason } from './lines.js'
import { monotonic, wallTime } from './clock.js'
import { rowKey, Stats, type FunctionStats, type Row } from './stats.js'
import { mergeReports, reportJSON } from './report.js'
import { reportLines } from './table.js'
// The agent loads the trace machinery through this module, and checks requests with this list.
export { WIRE_OPTIONS } from './options.js'
import type { LineKind } from './protocol.js'

const apply = Reflect.apply
const construct = Reflect.construct
const isNativePromise = types.isPromise
/** A native promise (a call into C++ only for objects: a returned primitive costs one typeof, bench/stats.mjs). */
const isPromise = (v: unknown): boolean => typeof v === 'object' && v !== null && isNativePromise(v)

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
function forbiddenTargets(options: Resolved): Set<object> {
  const set = new Set<object>([calls, clear])
  const c = console as unknown as Record<string, unknown>
  for (const k of Object.keys(c)) if (typeof c[k] === 'function') set.add(c[k] as Function)
  if ('fn' in options.io) set.add(options.io.fn)
  else if ('sink' in options.io) set.add(options.io.sink)
  else {
    set.add(options.io.stream)
    for (let p: object | null = options.io.stream, i = 0; p !== null && i < 16; p = Object.getPrototypeOf(p), i++) {
      for (const k of ['write', '_write', '_writev']) {
        const d = Object.getOwnPropertyDescriptor(p, k)
        if (d && typeof d.value === 'function') set.add(d.value)
      }
    }
  }
  if (options.formatter) set.add(options.formatter)
  return set
}

/** What a message is about: a wrapped function or a probed one. */
type Subject = Target | ProbeTarget

/** A live probe's call whose outcome is to be reported (or, in stats mode, counted). */
interface Pending {
  readonly trace: Trace
  readonly t: ProbeTarget
  readonly n: number
  /** When the call began (`monotonic()`). */
  readonly start: number
  /** Stats mode: the row of the call's function, or of its argument value (whose parent is the function's). */
  readonly row?: Row
}

/** How a call ended, for the stats mode. */
const RETURNED = 0
const THREW = 1
const REJECTED = 2
type Ending = typeof RETURNED | typeof THREW | typeof REJECTED

/** The specs each installer serves, as planned. */
interface Planned {
  readonly wrapper: TraceSpec[]
  readonly preload: { spec: TraceSpec; selector: ProbeSpec['selector']; scope: 'local' | 'global' }[]
  readonly live: LiveSpecPlan[]
  liveFiles: LivePlan | undefined
  readonly debug: DebugSpecPlan[]
  debugFiles: DebugPlan | undefined
  /** Why each installer serves its specs (choose.ts), by installer. */
  readonly why: Map<InstallerKind, Set<string>>
}

class Trace implements ProbeHandler, TraceHost {
  active = true
  /** The installers serving this trace, in the order they install (and restore in reverse). */
  readonly installers: Installer[] = []
  readonly limiter: Limiter
  readonly output: Output
  readonly settler = new Settler()
  private timer: NodeJS.Timeout | undefined
  private readonly redact: (key: string) => boolean
  private readonly pid = process.pid
  private readonly stamp: boolean
  private readonly withArgs: boolean
  private settleFailed = false
  /** Stats mode: the counters (stats.ts), else undefined. */
  readonly stats: Stats | undefined
  /** Stats mode with `by`: the argument position every spec binds the name to; -1 without. */
  private readonly byAt: number
  /** Counters by subject, so that a call looks its function's up once. */
  private readonly statsOf = new Map<Subject, FunctionStats>()
  private refresher: NodeJS.Timeout | undefined

  constructor(
    private readonly planned: Planned,
    /** What plan() found for the wrapper specs. */
    found: ReturnType<typeof plan>,
    limit: Limit,
    readonly options: Resolved,
    forbidden: ReadonlySet<object>,
    /** Told once the trace has ended and its last line is written: why it ended (undefined: cleared). */
    private readonly onEnd?: (reason: string | undefined) => void,
    /** This thread as the pid option sees it (default: the thread that calls, existing). */
    thread?: ThreadView,
    /** Stats mode with `by`: the argument position of the name. */
    byAt = -1,
  ) {
    this.limiter = new Limiter(limit, options.stats ? 'calls' : 'messages')
    this.redact = makeRedactor(options.redact)
    this.stats = options.stats ? new Stats(options.by) : undefined
    this.byAt = byAt
    const statsPath = this.stats === undefined ? undefined : this.makeStatsPath()
    this.stamp = options.timestamp === 'trace'
    this.withArgs = options.args === 'args'
    const onUserError = (what: string, err: unknown) => this.userError(what, err)
    this.output = new Output({
      io: options.io,
      formatter: options.formatter,
      json: options.json,
      color: options.color,
      line: options.line,
      capacity: options.queue,
      onUserError,
      report: this.stats === undefined ? undefined : (final) => this.statsReport(final),
    })
    const where = compileWhere(options.pid, onUserError, thread)
    this.here = where.here
    const matcher = (s: TraceSpec) => compileMatcher(s, where.test, onUserError)
    const onLate = (notices: string[]) => {
      for (const n of notices) this.output.notice(n)
    }
    if (planned.wrapper.length > 0)
      this.installers.push(new Wrappers(planned.wrapper, planned.wrapper.map(matcher), this.onMatch, forbidden, onLate, found, statsPath))
    if (planned.preload.length > 0)
      this.installers.push(
        new Probes(
          registry(),
          planned.preload.map((p, index) => ({ ...p, index, matcher: matcher(p.spec) })),
          this,
          onLate,
        ),
      )
    if (planned.live.length > 0) {
      const liveSpecs = planned.live.map((p) => p.spec)
      const probes = new Probes(
        undefined,
        planned.live.map((p, index) => ({ ...p, live: true, index, matcher: matcher(p.spec) })),
        this,
        onLate,
        planned.liveFiles!.files.map((f) => f.file),
      )
      // Runtime wrappers for live specs whose functions stayed busy, installed now; undefined when they cannot serve every one.
      const wrappersFor = (specs: readonly TraceSpec[], problems: string[]): Installer | undefined => {
        const p = plan(specs, forbidden, problems)
        if (problems.length > 0) return undefined
        const w = new Wrappers(specs, specs.map(matcher), this.onMatch, forbidden, onLate, p)
        w.install(problems)
        if (problems.length === 0) return w
        w.restore()
        return undefined
      }
      this.installers.push(new LiveEdit(this, probes, planned.liveFiles!, liveSpecs, wrappersFor))
    }
    if (planned.debug.length > 0) {
      const specs = planned.debug.map((p, index) => ({ ...p, live: true, index, matcher: matcher(p.spec) }))
      const probes = new Probes(
        undefined,
        specs,
        this,
        onLate,
        planned.debugFiles!.files.map((f) => f.file),
      )
      const hooks = new DebugHooks(this, probes, planned.debugFiles!, this.onMatch, options.budget, planned.debug)
      this.installers.push(hooks.breakpoints, hooks.bindings)
    }
    if (options.time !== undefined) {
      const ms = options.time
      this.timer = setTimeout(() => this.end(timeLimitReason(ms, this.limiter.taken, this.limiter.unit)), ms)
      this.timer.unref()
    }
    // Stats mode: a report once a second where someone watches it, a terminal or the agent's client.
    const io = options.io
    if (this.stats !== undefined && ('sink' in io || ('stream' in io && (io.stream as { isTTY?: boolean }).isTTY === true && !options.json))) {
      const stats = this.stats
      this.refresher = setInterval(() => {
        if (stats.changed) this.output.stats(false)
      }, 1000)
      this.refresher.unref()
    }
    state.active = this.slot
  }

  /** Stats mode: the report as the output writes it (the counters themselves for the agent's client). */
  private statsReport(final: boolean): string {
    const data = this.stats!.data(final, this.pid, threadId)
    if ('sink' in this.options.io) return JSON.stringify(data)
    const report = mergeReports([data])
    if (this.options.json) return reportJSON(report)
    return reportLines(report).join('\n')
  }

  /** Whether this thread is selected at all by the pid option (if not, nothing is hooked here). */
  readonly here: boolean

  notice(message: string): void {
    this.output.notice(message)
  }

  /** Install every installer; how many functions they hooked. Problems refuse the trace (the caller ends it). */
  install(problems: string[]): number {
    let n = 0
    for (const i of this.installers) {
      n += i.install(problems)
      if (problems.length > 0) break
    }
    return n
  }

  /** Which installer serves which functions, and why. */
  report(): InstallerReport[] {
    return this.installers
      .map((i) => ({ installer: i.kind, name: INSTALLER_NAMES[i.kind], why: [...(this.planned.why.get(i.kind) ?? [])], functions: i.served() }))
      .filter((r) => r.functions.length > 0)
  }

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
  private record(
    type: TraceEvent['type'],
    t: Subject,
    n: number,
    args: ArrayLike<unknown> | undefined,
    stack: boolean,
    value: unknown,
    duration?: number,
  ): void {
    if (this.limiter.take()) {
      if (this.output.full) this.output.drop()
      else {
        const time = this.stamp ? wallTime() : 0
        const output = this.output
        const list = args !== undefined && this.withArgs ? this.argumentsOf(args) : undefined
        // An event the output wrote before (never one the user's formatter was handed), its
        // fields set again; else a new one.
        let ev = output.reusable()
        if (ev !== undefined) {
          ev.type = type
          ev.time = time
          ev.pid = this.pid
          ev.threadId = threadId
          ev.module = t.module
          ev.function = t.name
          ev.arity = n
          ev.args = list
        } else if (output.recycles)
          // Every field in the literal: one object per event, no property added when it is
          // filled again (bench/message-bytes.mjs).
          ev = {
            type,
            time,
            pid: this.pid,
            threadId,
            module: t.module,
            function: t.name,
            arity: n,
            args: list,
            result: undefined,
            stack: undefined,
            duration: undefined,
          }
        else {
          // The user's formatter is handed the event: only the fields it has.
          ev = { type, time, pid: this.pid, threadId, module: t.module, function: t.name, arity: n }
          if (list !== undefined) ev.args = list
        }
        if (args === undefined) {
          ev.result = snapshot(value, this.options.snapshot, this.redact)
          if (duration !== undefined) ev.duration = duration
        }
        if (stack) ev.stack = captureStack(this.options.frames, t.wrapper, 'skipFrames' in t ? t.skipFrames : 0)
        output.push(ev)
      }
    }
    this.checkTrip()
  }

  /** A call's arguments captured, into a list the output wrote before where it has one. */
  private argumentsOf(args: ArrayLike<unknown>): Snap[] {
    const spare = this.output.reusableArgs()
    return spare === undefined ? snapshotArgs(args, this.options.snapshot, this.redact) : snapshotArgsInto(spare, args, this.options.snapshot, this.redact)
  }

  /** The slow path of a wrapper whose matcher said yes. */
  readonly onMatch = (t: Target, flags: number, self: unknown, args: IArguments, newTarget: Function | undefined): unknown => {
    if (this.stats !== undefined) return this.measure(t, self, args, newTarget)
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
    if (!follow) return newTarget === undefined ? apply(t.call, self, args) : construct(t.call, args, newTarget)
    let result: unknown
    const start = monotonic()
    try {
      result = newTarget === undefined ? apply(t.call, self, args) : construct(t.call, args, newTarget)
    } catch (err) {
      this.outcome('exception', t, n, err, monotonic() - start)
      throw err
    }
    if (isPromise(result)) this.follow(t, n, result as Promise<unknown>, start)
    else this.outcome('return', t, n, result, monotonic() - start)
    return result
  }

  // Stats mode: the call is counted and timed, nothing is captured or printed.

  /** The counters of a call, counted: undefined when the limit refuses it (then it runs untimed). */
  private count(t: Subject): FunctionStats | undefined {
    if (!this.active || !this.limiter.take()) return undefined
    let fn = this.statsOf.get(t)
    if (fn === undefined) {
      fn = this.stats!.of(`${t.module}:${t.name}`)
      this.statsOf.set(t, fn)
    }
    fn.all.calls++
    this.stats!.changed = true
    return fn
  }

  /** The row of the call's argument value (with `by`), counted; the function's own row without. */
  private rowOf(fn: FunctionStats, value: unknown): Row {
    if (this.byAt < 0) return fn.all
    const row = fn.row(rowKey(value, this.redact))
    row.calls++
    return row
  }

  /** With `by`: the call's argument at its position (undefined when it has none there). */
  private keyArg(args: ArrayLike<unknown>, n: number): unknown {
    return this.byAt >= 0 && this.byAt < n ? args[this.byAt] : undefined
  }

  /** A counted call, its row: undefined when the limit refuses it. The trip check follows it. */
  private counted(t: Subject, value: unknown): Row | undefined {
    enterBusy()
    try {
      const fn = this.count(t)
      const row = fn === undefined ? undefined : this.rowOf(fn, value)
      this.checkTrip()
      return row
    } catch {
      return undefined // a fault of ours never reaches the program
    } finally {
      leaveBusy()
    }
  }

  /** A measured call's end: its duration in its row's histogram (and its function's), its kind counted. */
  private ended(row: Row, how: Ending, ms: number): void {
    for (let r: Row | undefined = row; r !== undefined; r = r.parent) {
      r.hist.add(ms)
      if (how === THREW) r.throws++
      else if (how === REJECTED) r.rejections++
    }
    this.stats!.changed = true
  }

  /** Stats mode's door for generated wrappers (installers/wrapper.ts), which time the call themselves. */
  private makeStatsPath(): StatsPath {
    return {
      enter: (t, value) => (this.active ? this.counted(t as Target, value) : undefined),
      by: this.byAt,
      done: (row, value, start) => {
        if (isPromise(value)) this.settleStats(row as Row, value as Promise<unknown>, start)
        else this.ended(row as Row, RETURNED, monotonic() - start)
      },
      threw: (row, start) => this.ended(row as Row, THREW, monotonic() - start),
      now: monotonic,
    }
  }

  /** A wrapper's call in stats mode. The limit's last call still runs timed: the trace has ended, its report is written after. */
  private measure(t: Target, self: unknown, args: IArguments, newTarget: Function | undefined): unknown {
    const row = this.active ? this.counted(t, this.keyArg(args, args.length)) : undefined
    if (row === undefined) return newTarget === undefined ? apply(t.call, self, args) : construct(t.call, args, newTarget)
    let result: unknown
    const start = monotonic()
    try {
      result = newTarget === undefined ? apply(t.call, self, args) : construct(t.call, args, newTarget)
    } catch (err) {
      this.ended(row, THREW, monotonic() - start)
      throw err
    }
    if (isPromise(result)) this.settleStats(row, result as Promise<unknown>, start)
    else this.ended(row, RETURNED, monotonic() - start)
    return result
  }

  /** A returned promise, in stats mode: its duration is until it settles; it is counted as returned if it cannot be followed. */
  private settleStats(row: Row, p: Promise<unknown>, start: number): void {
    enterBusy()
    let ok = false
    try {
      ok = this.active && this.settler.watch(p, (state, _value, at) => this.ended(row, state === 'rejected' ? REJECTED : RETURNED, at - start), false)
    } catch {
      ok = false
    } finally {
      leaveBusy()
    }
    if (!ok) {
      if (this.active && !this.settleFailed) {
        this.settleFailed = true
        this.output.notice('a returned promise cannot be followed (no inspector in this runtime, or too many pending); its call is timed until it returned')
      }
      this.ended(row, RETURNED, monotonic() - start)
    }
  }

  // The three entry points of live probes (ProbeHandler). Never throw into the program.

  enter(_file: ProbeFile, target: LiveProbe, args: ArrayLike<unknown>, n: number, flags: number): unknown {
    // The probe checked the argument count (n, the call's arity), that recon-trace is not at
    // work, and ran the matcher of its entry in the file's live table: one of this trace's
    // targets, since the table and the handler are set and cleared together.
    if (!this.active) return 0
    const t = target as ProbeTarget
    if (this.stats !== undefined) return this.enterStats(t, args, n)
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
    const pending: Pending = { trace: this, t, n, start: monotonic() }
    return pending
  }

  /** A probe's call in stats mode: counted, and its end awaited (the token). */
  private enterStats(t: ProbeTarget, args: ArrayLike<unknown>, n: number): unknown {
    const row = this.counted(t, this.keyArg(args, n))
    if (row === undefined) return 0
    const pending: Pending = { trace: this, t, n, start: monotonic(), row }
    return pending
  }

  ret(_file: ProbeFile, token: unknown, value: unknown): void {
    const p = token as Pending
    if (typeof p !== 'object' || p === null || p.trace !== this) return
    const async = p.t.info.async && !p.t.info.generator
    if (p.row !== undefined) {
      // Stats mode: an async function's promise adopts a returned promise; follow it.
      if (async && isPromise(value)) this.settleStats(p.row, value as Promise<unknown>, p.start)
      else this.ended(p.row, RETURNED, monotonic() - p.start)
      return
    }
    if (!this.active) return
    if (async) {
      // An async function's `return v`: its promise adopts v. A native promise is followed;
      // anything else is what the function's promise fulfills with.
      if (isPromise(value)) this.follow(p.t, p.n, value as Promise<unknown>, p.start)
      else this.outcome('fulfilled', p.t, p.n, value, monotonic() - p.start)
    } else this.outcome('return', p.t, p.n, value, monotonic() - p.start)
  }

  threw(_file: ProbeFile, token: unknown, err: unknown): void {
    const p = token as Pending
    if (typeof p !== 'object' || p === null || p.trace !== this) return
    const async = p.t.info.async && !p.t.info.generator
    if (p.row !== undefined) {
      this.ended(p.row, async ? REJECTED : THREW, monotonic() - p.start)
      return
    }
    if (!this.active) return
    this.outcome(async ? 'rejected' : 'exception', p.t, p.n, err, monotonic() - p.start)
  }

  private outcome(type: 'return' | 'exception' | 'fulfilled' | 'rejected', t: Subject, n: number, value: unknown, duration: number): void {
    enterBusy()
    try {
      if (this.active) this.record(type, t, n, undefined, false, value, duration)
    } catch {
      /* never into the program */
    } finally {
      leaveBusy()
    }
  }

  private follow(t: Subject, n: number, p: Promise<unknown>, start: number): void {
    enterBusy()
    let ok = false
    try {
      ok =
        this.active &&
        this.settler.watch(p, (state, value, at) => {
          if (state !== 'unobservable') this.outcome(state, t, n, value, at - start)
          else this.unfollowable(t, n, p, at - start)
        })
    } catch {
      ok = false
    } finally {
      leaveBusy()
    }
    if (!ok) this.unfollowable(t, n, p, monotonic() - start)
  }

  /** A returned promise whose outcome cannot be observed: said once, and printed as a value. */
  private unfollowable(t: Subject, n: number, p: Promise<unknown>, duration: number): void {
    if (!this.settleFailed) {
      this.settleFailed = true
      this.output.notice('a returned promise cannot be followed (no inspector in this runtime, or too many pending); its return prints as a value')
    }
    this.outcome('return', t, n, p, duration)
  }

  /** End the trace: hooks off now, then the queued lines, then `reason` if given. */
  end(reason: string | undefined): void {
    if (!this.active) return
    this.active = false
    for (let i = this.installers.length - 1; i >= 0; i--) this.installers[i].restore()
    this.settler.close()
    if (this.timer) clearTimeout(this.timer)
    if (this.refresher) clearInterval(this.refresher)
    // Stats mode: the report, before the line that says why the trace ended.
    if (this.stats !== undefined) this.output.stats(true)
    if (state.active === this.slot) state.active = undefined
    const onEnd = this.onEnd
    this.output.end(reason, onEnd && (() => onEnd(reason)))
  }

  readonly slot: ActiveTrace = { end: (reason) => this.end(reason) }
}

/**
 * The argument position that every spec's pattern binds `name` to, for stats by that name; every
 * spec that does not, or binds it elsewhere, is a problem, and so is a name redacted.
 */
function positionOf(name: string, specs: readonly TraceSpec[], redact: readonly string[], problems: string[]): number {
  if (makeRedactor(redact)(name)) {
    problems.push(`option by: ${JSON.stringify(name)} is a redacted name: its values are never shown, so they cannot name rows`)
    return -1
  }
  const at = new Map<number, string[]>()
  for (const spec of specs) {
    const i = spec.bindings.indexOf(name)
    if (i < 0) {
      const why = spec.restName === name ? `binds ${name} to the rest of the arguments: bind one argument by position` : `does not bind ${name}`
      problems.push(`${spec.text}: ${why}; stats by ${name} need a pattern such as 'module:function(${name}, _)'`)
      continue
    }
    at.set(i, [...(at.get(i) ?? []), spec.text])
  }
  if (at.size > 1) {
    const where = [...at].map(([i, texts]) => `argument ${i + 1} in ${texts.join(', ')}`).join('; ')
    problems.push(`option by: the specs bind ${name} at different positions (${where}): give one position`)
  }
  return at.size === 1 ? [...at.keys()][0] : -1
}

/**
 * Start tracing: every call matching `specs` prints a message, until `limit` messages (or a
 * rate `[count, ms]` is exceeded, or `options.time` runs out). Ends the trace before it.
 * Returns how many functions were hooked. Throws a `TraceError` listing every problem, before
 * anything is hooked, for a malformed or over-broad spec, a bad limit or an unknown option.
 */
export function calls(specs: Specs, limit: Limit, options?: TraceOptions): number {
  return startTrace(specs, limit, options, undefined).hooked
}

/** What a started trace hooked, and which installer serves what. */
export interface Started {
  readonly hooked: number
  readonly installers: InstallerReport[]
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
): Started {
  // Check.
  const problems: string[] = []
  const parsed = parseSpecs(specs, problems)
  const lim = checkLimit(limit, problems)
  const checked = checkOptions(options, problems)
  throwIfProblems(problems)
  const opts = sink === undefined ? checked! : { ...checked!, io: { sink } }
  const byAt = opts.by === undefined ? -1 : positionOf(opts.by, parsed, opts.redact, problems)
  throwIfProblems(problems)
  // Plan: which installer serves each spec (installers/choose.ts), then each one's own planning.
  const reg = registry()
  const planned: Planned = { wrapper: [], preload: [], live: [], liveFiles: undefined, debug: [], debugFiles: undefined, why: new Map() }
  let refusal: { value: string | undefined } | undefined
  const liveEditFacts = () => (refusal ??= { value: liveEditRefusal() }).value
  const asked = liveEditAsked()
  let binding: { value: string | undefined } | undefined
  const bindingFacts = () => (binding ??= { value: bindingRefusal() }).value
  /** Why an installer serves its specs, said once per reason. */
  const why = (kind: InstallerKind, text: string) => {
    const set = planned.why.get(kind)
    if (set === undefined) planned.why.set(kind, new Set([text]))
    else set.add(text)
  }
  for (const spec of parsed) {
    const label = isPath(spec.module) ? labelOfFile(spec.module) : typeof spec.module === 'string' ? spec.module : 'an object'
    // A file compiled into a bundle or into ES modules: no module's exports are its own to wrap.
    const mapped = opts.scope === 'global' && isPath(spec.module) ? mappedModule(resolve(spec.module), reg?.files.keys()) : undefined
    const esm = opts.scope === 'global' && (isEsmModule(spec.module) || (mapped !== undefined && mapped.module === undefined))
    const choice = chooseInstaller({
      scope: opts.scope,
      esm,
      compiledInto: mapped !== undefined && mapped.module === undefined ? mapped.running.map(labelOfFile).join(', ') : undefined,
      preloadCovers: opts.scope === 'local' || esm ? preloadCovers(spec.module, reg) : false,
      liveEditAsked: asked,
      liveEditRefusal: liveEditFacts,
      bindingRefusal: bindingFacts,
      label,
    })
    if ('refused' in choice) {
      problems.push(`${spec.text}: ${choice.refused}. Start the program with the preload: ${preloadLine()}`)
      continue
    }
    why(choice.installer, choice.why)
    if (choice.installer === 'binding')
      why('breakpoint', `no binding holds them (nested or anonymous functions, private methods, or bindings no closure refers to): their calls only`)
    if (choice.installer === 'wrapper') {
      planned.wrapper.push(spec)
      continue
    }
    const live = choice.installer !== 'preload'
    const selector = probeSelector(spec.module, spec.text, live ? undefined : reg, problems)
    if (selector === undefined) continue
    if (choice.installer === 'live edit') planned.live.push({ spec, selector, scope: opts.scope })
    else if (choice.installer === 'binding') planned.debug.push({ spec, selector, scope: opts.scope })
    else {
      planned.preload.push({ spec, selector, scope: opts.scope })
      // The lean form left the functions a binding holds without a probe: binding swaps serve them.
      const bound = reg?.lean === true ? boundSide(reg, spec, selector, opts.scope) : []
      if (bound.length === 0) continue
      const refused = bindingFacts()
      if (refused !== undefined) {
        problems.push(
          `${spec.text}: the preload left the functions a binding holds without probes (RECON_TRACE_PROBES=lean), and binding swaps are off here (${refused})`,
        )
        continue
      }
      planned.debug.push(...bound)
      why('binding', `${label}: the preload's lean form left the functions a binding holds without probes; their bindings are swapped at the first call`)
      why('breakpoint', `${label}: entry breakpoints see calls to them through other references (calls only)`)
    }
  }
  throwIfProblems(problems)
  const liveFiles = planned.live.length > 0 ? planLiveEdit(planned.live, thread !== undefined, problems) : undefined
  const debugFiles = problems.length === 0 && planned.debug.length > 0 ? planDebugger(planned.debug, thread !== undefined, problems) : undefined
  throwIfProblems(problems)
  if (liveFiles !== undefined) {
    for (const p of liveFiles.notHere) planned.live.splice(planned.live.indexOf(p), 1)
    planned.liveFiles = liveFiles
  }
  if (debugFiles !== undefined) {
    for (const p of debugFiles.notHere) planned.debug.splice(planned.debug.indexOf(p), 1)
    planned.debugFiles = debugFiles
  }
  clear()
  const forbidden = forbiddenTargets(opts)
  // Resolve modules and find functions before anything is created or hooked.
  const found = plan(planned.wrapper, forbidden, problems)
  throwIfProblems(problems)
  // Install.
  const trace = new Trace(planned, found, lim!, opts, forbidden, onEnd, thread, byAt)
  if (!trace.here) {
    if (liveFiles !== undefined && liveFiles.files.length > 0) liveEditor().closeIfIdle()
    if (debugFiles !== undefined) debugSession().release()
    return { hooked: 0, installers: [] }
  }
  const hooked = trace.install(problems)
  if (problems.length > 0) {
    trace.end(undefined)
    throw new TraceError(problems)
  }
  const installers = trace.report()
  if (opts.explain) for (const r of installers) trace.notice(explainLine(r))
  return { hooked, installers }
}

/** Stop the active trace, if any: every hook removed, originals restored, queued lines written. */
export function clear(): void {
  state.active?.end(undefined)
  state.active = undefined
}

/**
 * Debugger: this thread's inspector session for the binding and breakpoint installers
 * (binding.ts): its scripts, its breakpoints, its pauses, and the hand-over of objects between
 * the inspector's ids and the program's values.
 *
 * The session is in-process and in this thread (`inspector.Session.connect()`): no port, no
 * signal, no helper thread. A pause on one of its breakpoints is delivered to its
 * `Debugger.paused` listener synchronously, inside the pause, where `post` answers synchronously
 * too; the listener does its work (a binding swap: `Debugger.setVariableValue`) and resumes.
 * The pause lasts about 1 ms (measured on Node 20 to 26; bench/binding-arm.mjs).
 *
 * A pause that is not ours (a `debugger` statement, another debugger's breakpoint) is left
 * alone: never resumed by us. With no other debugger attached, Node does not hold a thread on a
 * pause that no session waits on (an in-process session does not keep it paused), so the program
 * goes on as it would without us; with one attached, that debugger owns the pause.
 *
 * The session opens when a trace needs it (the Debugger domain enabled: Node reports every
 * loaded script) and closes when no trace uses it and nothing is left to restore: the Debugger
 * domain is enabled only while a trace is armed or has breakpoints.
 */
import type { Session } from 'node:inspector'
import { inspectorRefusal, openSession, postSync, scriptFile, type ScriptParsed } from '../inspector.js'
import { STATE_KEY, state } from '../state.js'
import { BREAKPOINTS_CRASH } from '../scope.js'
import type { DebugFile } from './binding-plan.js'

/** One loaded script, as the Debugger reported it. */
export interface DebugScript {
  readonly id: string
  readonly filename: string
  readonly module: boolean
}

/**
 * Why binding swaps and entry breakpoints cannot run here, or undefined when they can:
 * - no inspector in this build of Node;
 * - V8 11 (Node 20): setting a breakpoint while TurboFan optimized, on its own thread, a caller
 *   that inlines the function crashed the process (`Check failed: inlineability ==
 *   SharedFunctionInfo::kHasOptimizationDisabled` in `JSInliner::ReduceJSCall`): 3 of 14 runs
 *   of 1000 trace cycles on Node 20.20, none of 8 on each of Node 22, 24 and 26
 *   (test/binding.test.ts). V8 assumed nothing but a disabled optimization could make a
 *   function not inlineable while a job ran. `RECON_TRACE_BINDING=force` turns them on anyway.
 */
export function bindingRefusal(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const inspector = inspectorRefusal()
  if (inspector !== undefined) return `the inspector cannot be used here (${inspector})`
  if (env.RECON_TRACE_BINDING === 'force') return undefined
  if (BREAKPOINTS_CRASH)
    return (
      `V8 ${process.versions.v8} (Node ${process.versions.node}) crashed the process in our tests when a breakpoint was set ` +
      `while it optimized a caller of the function; RECON_TRACE_BINDING=force turns them on anyway (docs/binding.md)`
    )
  return undefined
}

/** A call frame of a pause, as the Debugger reports it (the fields used here). */
export interface PausedFrame {
  readonly callFrameId: string
  readonly functionName: string
  readonly scopeChain: readonly { readonly type: string; readonly object: { readonly objectId?: string } }[]
}

/** What a breakpoint's condition reaches: `globalThis[Symbol.for(STATE_KEY)].debug`. */
export const CONDITION_BASE = `globalThis[Symbol.for(${JSON.stringify(STATE_KEY)})].debug`

type Post = (method: string, params?: object) => Record<string, any>

/** The slowest hit of an entry breakpoint measured here (ms): the estimate's ceiling. */
const MAX_HIT_MS = 0.4

/** A function of ours the calibration puts a breakpoint on. */
function calibration(x: number, y: number): number {
  return x + y
}

export class DebugSession {
  private session: Session | undefined
  private readonly scripts = new Map<string, DebugScript[]>()
  /** The traces (or restores) that use the session: it closes when none is left. */
  private users = 0
  /** Our breakpoints, by id, with what to do when one pauses the thread. */
  private readonly onPause = new Map<string, (frame: PausedFrame) => void>()
  /** Depth of our own code inside the Debugger's callbacks (a condition, a pause). */
  inCallback = 0
  /** Traces waiting for files to load: told of each script compiled after they started, at the next turn (its module has run by then). */
  readonly loading = new Set<(script: DebugScript) => void>()
  private loaded: DebugScript[] = []
  /** Set when the inspector cannot be used here. */
  unavailable: string | undefined

  readonly post: Post = (method, params) => postSync(this.session!, method, params)

  get isOpen(): boolean {
    return this.session !== undefined
  }

  /** Take the session (open it, with the Debugger domain, if it is not); false when it cannot be. */
  acquire(): boolean {
    if (this.closing !== undefined) {
      clearImmediate(this.closing)
      this.closing = undefined
    }
    if (!this.open()) return false
    this.users++
    return true
  }

  /**
   * Give it back: the session closes when nobody holds it, at the end of this turn of the event
   * loop (a trace that replaces another at once keeps it: enabling the Debugger domain costs
   * about 9 ms, Node reporting every loaded script).
   */
  release(): void {
    if (this.users > 0) this.users--
    if (this.users > 0 || this.closing !== undefined) return
    this.closing = setImmediate(() => {
      this.closing = undefined
      if (this.users === 0) this.close()
    })
    this.closing.unref()
  }
  private closing: NodeJS.Immediate | undefined

  /** What the installers read of a script, kept for the life of the thread's isolate (a script id is never reused). */
  readonly files = new Map<string, DebugFile>()

  private open(): boolean {
    if (this.session !== undefined) return true
    try {
      const s = openSession()
      this.session = s
      this.scripts.clear()
      s.on('Debugger.scriptParsed', (m: { params: ScriptParsed }) => {
        const filename = scriptFile(m.params)
        if (filename === undefined) return
        const list = this.scripts.get(filename)
        const sc = { id: m.params.scriptId, filename, module: m.params.isModule === true }
        if (list === undefined) this.scripts.set(filename, [sc])
        else list.push(sc)
        if (this.loading.size > 0 && list === undefined) {
          this.loaded.push(sc)
          if (this.loaded.length === 1)
            setImmediate(() => {
              const batch = this.loaded.splice(0)
              for (const l of [...this.loading]) for (const b of batch) l(b)
            }).unref()
        }
      })
      s.on('Debugger.paused', (m: { params: { hitBreakpoints?: string[]; callFrames: PausedFrame[] } }) => this.paused(m.params))
      this.post('Debugger.enable')
      this.unavailable = undefined
      return true
    } catch (err) {
      this.unavailable = err instanceof Error ? err.message : String(err)
      this.close()
      return false
    }
  }

  private close(): void {
    const s = this.session
    if (s === undefined) return
    this.onPause.clear()
    this.loading.clear()
    this.loaded = []
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

  /**
   * A pause. Ours (one of our breakpoints hit): do what it was set for, then resume. Not ours:
   * leave it to whoever caused it.
   */
  private paused(p: { hitBreakpoints?: string[]; callFrames: PausedFrame[] }): void {
    let handler: ((frame: PausedFrame) => void) | undefined
    for (const id of p.hitBreakpoints ?? []) handler ??= this.onPause.get(id)
    if (handler === undefined) return
    this.inCallback++
    try {
      handler(p.callFrames[0])
    } catch {
      /* the handler reports its own failures; the pause must end */
    } finally {
      this.inCallback--
      try {
        this.post('Debugger.resume')
      } catch {
        /* resumed already */
      }
    }
  }

  /** The script that runs `filename` now: the newest one the Debugger reported for it. */
  scriptOf(filename: string): DebugScript | undefined {
    const list = this.scripts.get(filename)
    return list === undefined ? undefined : list[list.length - 1]
  }

  /** The loaded files `test` accepts. */
  filesWhere(test: (filename: string) => boolean): string[] {
    return [...this.scripts.keys()].filter(test)
  }

  source(script: DebugScript): string {
    return this.post('Debugger.getScriptSource', { scriptId: script.id }).scriptSource as string
  }

  /**
   * A breakpoint at a position of a script, with a condition, and what to do if it pauses.
   * Returns its id and where V8 put it, or undefined when V8 refused it.
   */
  setBreakpoint(
    script: DebugScript,
    line: number,
    column: number,
    condition: string,
    onPause: ((frame: PausedFrame) => void) | undefined,
  ): { id: string; line: number; column: number } | undefined {
    try {
      const r = this.post('Debugger.setBreakpoint', { location: { scriptId: script.id, lineNumber: line, columnNumber: column }, condition })
      const at = r.actualLocation as { lineNumber: number; columnNumber: number }
      const id = r.breakpointId as string
      if (onPause !== undefined) this.onPause.set(id, onPause)
      return { id, line: at.lineNumber, column: at.columnNumber ?? 0 }
    } catch {
      return undefined
    }
  }

  /** A breakpoint on the next calls of a function value, and what to do when it pauses. */
  setFunctionBreakpoint(fn: Function, onPause: (frame: PausedFrame) => void): string {
    const r = this.post('Debugger.setBreakpointOnFunctionCall', { objectId: this.idOf(fn) })
    const id = r.breakpointId as string
    this.onPause.set(id, onPause)
    return id
  }

  removeBreakpoint(id: string): void {
    this.onPause.delete(id)
    try {
      this.post('Debugger.removeBreakpoint', { breakpointId: id })
    } catch {
      /* gone with its script */
    }
  }

  /** The program's value an inspector object id stands for. */
  valueOf(objectId: string): unknown {
    const st = state
    st.handoff = undefined
    this.post('Runtime.callFunctionOn', {
      objectId,
      functionDeclaration: `function () { 'use strict'; globalThis[Symbol.for(${JSON.stringify(STATE_KEY)})].handoff = this }`,
      silent: true,
      objectGroup: 'recon-trace',
    })
    const v = st.handoff
    st.handoff = undefined
    return v
  }

  /** An inspector object id for a value of the program (valid while the session is open). */
  idOf(value: object): string {
    const st = state
    st.handoff = value
    try {
      const r = this.post('Runtime.evaluate', {
        expression: `globalThis[Symbol.for(${JSON.stringify(STATE_KEY)})].handoff`,
        silent: true,
        objectGroup: 'recon-trace',
      })
      const id = (r.result as { objectId?: string }).objectId
      if (id === undefined) throw new Error('the inspector gave no object id')
      return id
    } finally {
      st.handoff = undefined
    }
  }

  /** Where V8 says a function's code starts (its `[[FunctionLocation]]`), 0-based. */
  locationOf(fn: Function): { scriptId: string; line: number; column: number } | undefined {
    if (this.locations.has(fn)) return this.locations.get(fn)
    const loc = this.readLocation(fn)
    this.locations.set(fn, loc)
    return loc
  }
  /** Where functions start, as read once: a function's code never moves. */
  private readonly locations = new WeakMap<Function, { scriptId: string; line: number; column: number } | undefined>()

  private readLocation(fn: Function): { scriptId: string; line: number; column: number } | undefined {
    const r = this.post('Runtime.getProperties', { objectId: this.idOf(fn), ownProperties: true, objectGroup: 'recon-trace' })
    const internal = r.internalProperties as { name: string; value?: { value?: { scriptId: string; lineNumber: number; columnNumber: number } } }[] | undefined
    const loc = internal?.find((p) => p.name === '[[FunctionLocation]]')?.value?.value
    return loc === undefined ? undefined : { scriptId: loc.scriptId, line: loc.lineNumber, column: loc.columnNumber }
  }

  /** Let go of every object id handed out so far (the inspector keeps their objects alive until then). */
  releaseObjects(): void {
    try {
      this.post('Runtime.releaseObjectGroup', { objectGroup: 'recon-trace' })
    } catch {
      /* closed */
    }
  }

  /** Evaluate an expression in a paused frame; its object id. */
  evaluateOn(frame: PausedFrame, expression: string): string {
    const r = this.post('Debugger.evaluateOnCallFrame', { callFrameId: frame.callFrameId, expression, silent: true, objectGroup: 'recon-trace' })
    if (r.exceptionDetails !== undefined) throw new Error(`${expression} threw in the paused frame`)
    const id = (r.result as { objectId?: string }).objectId
    if (id === undefined) throw new Error(`${expression} is not an object in the paused frame`)
    return id
  }

  /** The names a scope of a paused frame binds, with their values' object ids (functions and objects only). */
  scopeNames(frame: PausedFrame, index: number): Map<string, string | undefined> {
    const out = new Map<string, string | undefined>()
    const objectId = frame.scopeChain[index]?.object.objectId
    if (objectId === undefined) return out
    const r = this.post('Runtime.getProperties', { objectId, ownProperties: true, objectGroup: 'recon-trace' })
    for (const p of r.result as { name: string; value?: { objectId?: string } }[]) out.set(p.name, p.value?.objectId)
    return out
  }

  /** Set a binding of a paused frame's scope to a value of the program. */
  setVariable(frame: PausedFrame, index: number, name: string, value: object): void {
    this.post('Debugger.setVariableValue', { scopeNumber: index, variableName: name, newValue: { objectId: this.idOf(value) }, callFrameId: frame.callFrameId })
  }

  /**
   * What one hit of an entry breakpoint costs this thread now, in ms: `hits` calls of a function
   * of ours through a breakpoint whose condition has the shape of the installers' (a call of a
   * hook with numbers and the function's `arguments`, which says no), timed. The overhead budget
   * multiplies hits by this figure; the installers measure it again every second while their
   * breakpoints are hit, since it grows with what the Debugger holds (measured 67 to 190 µs
   * within one process; bench/binding-breakpoint.mjs). Never inside a Debugger callback.
   */
  measureHit(hits: number): number {
    const debug = debugHooks()
    let seen = 0
    debug.calibrate = (_a: number, _b: number, _c: number, args: ArrayLike<unknown>) => {
      if (args.length > 0) seen++
      return false
    }
    const times: number[] = []
    let sink = 0
    try {
      const r = this.post('Debugger.setBreakpointOnFunctionCall', {
        objectId: this.idOf(calibration),
        condition: `${CONDITION_BASE}.calibrate(0, 0, 0, arguments) && false`,
      })
      for (let i = 0; i < hits; i++) {
        const t0 = performance.now()
        sink += calibration(i, 1)
        times.push(performance.now() - t0)
      }
      this.post('Debugger.removeBreakpoint', { breakpointId: r.breakpointId })
      this.releaseObjects()
    } catch {
      times.length = 0
    } finally {
      debug.calibrate = undefined
    }
    // The median of the burst, doubled: hits spread over the program's own work cost 1.7 to 2.3
    // times a burst's median (cold caches; bench/binding-breakpoint.mjs budget), and one slow hit
    // of the burst (a GC) must not end a trace. Without hits the breakpoint did not work: assume
    // the slowest figure measured (0.2 ms).
    times.sort((a, b) => a - b)
    const cost = seen === 0 || sink < 0 || times.length === 0 ? MAX_HIT_MS : Math.min(MAX_HIT_MS, 2 * times[times.length >> 1])
    this.lastCost = { cost, at: performance.now() }
    return cost
  }

  private lastCost: { cost: number; at: number } | undefined

  /** The cost per hit measured in the last second, if any (a trace that follows another reuses it). */
  recentHitCost(): number | undefined {
    const last = this.lastCost
    return last !== undefined && performance.now() - last.at < 1000 ? last.cost : undefined
  }
}

/** What breakpoint conditions call, by name: the installers set these. */
export interface DebugHooks {
  /** A hit of a traced function's entry breakpoint: `hit(trace, file, id, args)`; true when its file is arming. */
  hit: ((trace: number, file: number, id: number, args: ArrayLike<unknown>) => boolean) | undefined
  /** Arm a file with closures that read and write its bindings: `arm(trace, file, [[name, get, set]...])`; true pauses. */
  arm: ((trace: number, file: number, access: readonly (readonly [string, () => unknown, (v: unknown) => void])[]) => boolean) | undefined
  /** The same, through a function that evaluates code in the scope of function `id`: `armEval(trace, file, id, (c) => eval(c))`. */
  armEval: ((trace: number, file: number, id: number, evaluate: (code: string) => unknown) => boolean) | undefined
  calibrate: ((a: number, b: number, c: number, args: ArrayLike<unknown>) => boolean) | undefined
}

/** This thread's hooks object (the conditions' `CONDITION_BASE`). */
export function debugHooks(): DebugHooks {
  return (state.debug ??= { hit: undefined, arm: undefined, armEval: undefined, calibrate: undefined }) as DebugHooks
}

/** This thread's session (one per thread, shared by every build of recon-trace loaded in it). */
export function debugSession(): DebugSession {
  return (state.debugSession ??= new DebugSession()) as DebugSession
}

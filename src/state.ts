/**
 * Process-wide state: what every copy of recon-trace loaded in one thread must share.
 *
 * A program can hold recon-trace twice: the documented set-up for a CommonJS program is
 * `node --import recon-trace/register app.cjs` with `require('recon-trace')` in `app.cjs`, so the
 * ESM build runs the preload and its probes while the CommonJS build runs `calls()`. Module-level
 * variables exist once per build; state that both must see lives here, in one object kept on
 * `globalThis` under `Symbol.for('recon-trace.state')` (non-enumerable, non-writable: the
 * program's own view of `globalThis` does not change, and nothing is added or removed while
 * traces come and go). `globalThis` is per thread, so each worker thread has its own.
 *
 * What lives here:
 * - `guard`: the re-entry guard. While recon-trace's own code runs (a user predicate, formatter or
 *   `io` function, the output's writes, the module loader hook), every hook of every installer
 *   passes calls straight through: nothing the tracer does is itself traced, and a predicate that
 *   calls the traced function does not recurse. One `Int32Array` cell, read by the hot path as
 *   `guard[0] === 0` (a typed-array load, as cheap as the module variable it replaced).
 * - `active`: the trace running in this thread, so that `clear()` from either build ends it and
 *   a new `calls()` from either build replaces it.
 * - `registry`: the probe registry the preload installs; every rewritten file's header registers
 *   its functions there (`instrument.ts` writes `globalThis[Symbol.for(STATE_KEY)]?.registry`).
 * - `liveEditor`: the live-edit installer of this thread (its inspector session and edited
 *   scripts).
 * - `workersPreloaded`: the preload has made `worker_threads.Worker` start new workers with it.
 * - `debugSession`, `debug`, `via`, `handoff`: the binding and breakpoint installers' inspector
 *   session (installers/debugger.ts), the functions their breakpoint conditions call, the cell a
 *   binding wrapper sets when it calls its original (its entry breakpoint then knows the call
 *   came through the name), and the slot through which the inspector hands a value over.
 */
import type { Registry } from './registry.js'

/** The part of a trace that `clear()` needs. */
export interface ActiveTrace {
  end(reason: string | undefined): void
}

interface ProcessState {
  readonly version: 2
  readonly guard: Int32Array
  active: ActiveTrace | undefined
  registry: Registry | undefined
  liveEditor: unknown
  workersPreloaded: boolean
  debugSession: unknown
  debug: unknown
  readonly via: Int32Array
  handoff: unknown
}

/** The key of the state on globalThis: `Symbol.for(STATE_KEY)`. Rewritten code reads it too. */
export const STATE_KEY = 'recon-trace.state'
const KEY = Symbol.for(STATE_KEY)

function processState(): ProcessState {
  const holder = globalThis as unknown as Record<symbol, ProcessState | undefined>
  const existing = holder[KEY]
  if (existing !== undefined && existing.version === 2) return existing
  const state: ProcessState = {
    version: 2,
    guard: new Int32Array(1),
    active: undefined,
    registry: undefined,
    liveEditor: undefined,
    workersPreloaded: false,
    debugSession: undefined,
    debug: undefined,
    via: new Int32Array(1),
    handoff: undefined,
  }
  Object.defineProperty(globalThis, KEY, { value: state, configurable: true, enumerable: false, writable: false })
  return state
}

/** This thread's state, shared by every build of recon-trace loaded in it. */
export const state: ProcessState = processState()

/** The re-entry guard's cell: hooks pass calls through while `guard[0] !== 0`. */
export const guard: Int32Array = state.guard

/** Enter code of ours (or a user predicate) during which traced functions must not trace. */
export function enterBusy(): void {
  guard[0]++
}

/** Leave it again (always paired with `enterBusy`, in a `finally`). */
export function leaveBusy(): void {
  guard[0]--
}

/** Whether recon-trace's own code is on the stack of this thread. */
export function isBusy(): boolean {
  return guard[0] !== 0
}

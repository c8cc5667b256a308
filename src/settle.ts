/**
 * Settle: what a returned promise settled to, observed without changing the program.
 *
 * Attaching `.then` to a promise marks it handled: a rejection nobody else handles would then
 * never reach `unhandledRejection`, and a process that should crash would not. So recon-trace
 * never calls `then` on a traced promise. Instead:
 *
 * 1. `v8.promiseHooks.onSettled` tells when a watched promise settles. The hook is installed
 *    only while watched promises are pending (every promise of the process pays for it, so it
 *    is removed as soon as none is left) and is a single WeakMap lookup per settling promise.
 * 2. The outcome is read through an in-process `inspector.Session` (no port, no signal, no
 *    Debugger domain): `Runtime.getProperties` exposes `[[PromiseState]]` and
 *    `[[PromiseResult]]` without running any code of the program. A read is a round trip
 *    through the inspector, expensive next to a call, but it happens once per traced async
 *    return, and every such return is a message that the trace's limit already bounds.
 *
 * A promise already settled when the function returns is read at the next microtask. Non-native
 * thenables are not followed: their `then` is the program's code (a query builder's `then` runs
 * the query), so their return prints as a plain `-->` value.
 */
import { promiseHooks } from 'node:v8'
import { monotonic } from './clock.js'
import { openSession } from './inspector.js'
import type { Session } from 'node:inspector'

/**
 * How a followed promise ended: its state and result, or `unobservable` (the inspector failed:
 * `value` is the promise); `at`, when it settled (clock.ts `monotonic`, read in the settle hook).
 */
export type Settled = (state: 'fulfilled' | 'rejected' | 'unobservable', value: unknown, at: number) => void

/** Most promises watched at once; beyond this, a return is not followed (and the caller says so). */
export const MAX_WATCHED = 10_000

const PENDING = Symbol('pending')
const FAILED = Symbol('failed')
const SLOT = '__reconTraceSlot__'
const READ = `globalThis.${SLOT}`
const STORE = `function () { globalThis.${SLOT} = this }`

type RemoteObject = { type: string; subtype?: string; value?: unknown; unserializableValue?: string; objectId?: string }

/** A session of this thread's inspector, opened when a trace first follows a promise. */
function trySession(): Session | undefined {
  try {
    return openSession()
  } catch {
    return undefined
  }
}

function unserializable(text: string): unknown {
  if (text.endsWith('n')) return BigInt(text.slice(0, -1))
  if (text === '-0') return -0
  if (text === 'NaN') return NaN
  return text === '-Infinity' ? -Infinity : Infinity
}

export class Settler {
  private session: Session | undefined
  private unavailable = false
  private readonly waiting = new WeakMap<Promise<unknown>, Settled>()
  /** Followed for their state only (stats mode): their result is not read. */
  private readonly stateOnly = new WeakSet<Promise<unknown>>()
  private pending = 0
  private stopHook: (() => void) | undefined
  private closed = false

  /**
   * Follow `p`; false when it cannot be followed (no inspector, or too many pending). Without
   * `value`, only its state is read (`done` gets undefined for the value).
   */
  watch(p: Promise<unknown>, done: Settled, value = true): boolean {
    if (this.closed || this.unavailable || this.pending >= MAX_WATCHED) return false
    if (this.session === undefined) {
      this.session = trySession()
      if (this.session === undefined) {
        this.unavailable = true
        return false
      }
    }
    if (this.waiting.has(p)) return true
    this.waiting.set(p, done)
    if (!value) this.stateOnly.add(p)
    this.pending++
    this.stopHook ??= promiseHooks.onSettled((q: Promise<unknown>) => {
      // The hook runs inside resolve/reject, before the state is set: look at the next microtask.
      if (this.waiting.has(q)) {
        const at = monotonic()
        queueMicrotask(() => this.check(q, at))
      }
    }) as () => void
    // It may have settled already (an async function that returned without awaiting): then it
    // settled by the time it was returned.
    const returned = monotonic()
    queueMicrotask(() => this.check(p, returned))
    return true
  }

  private check(p: Promise<unknown>, at: number): void {
    const done = this.waiting.get(p)
    if (done === undefined || this.closed) return
    const r = this.read(p)
    if (r === PENDING) return // the settle hook will call again
    this.waiting.delete(p)
    this.pending--
    if (this.pending === 0) this.unhook()
    if (r === FAILED) {
      // Whatever failed will fail again: follow no more promises in this trace.
      this.unavailable = true
      done('unobservable', p, at)
    } else done(r.state, r.value, at)
  }

  private post<T>(method: string, params: object): T {
    let result: T | undefined
    let error: Error | null = null
    // An in-thread inspector session answers synchronously.
    this.session!.post(method, params, (err, res) => {
      error = err
      result = res as T
    })
    if (error) throw error
    return result as T
  }

  /** The state and result of a settled promise, PENDING, or FAILED if the inspector would not say. */
  private read(p: Promise<unknown>): { state: 'fulfilled' | 'rejected'; value: unknown } | typeof PENDING | typeof FAILED {
    const g = globalThis as Record<string, unknown>
    try {
      Object.defineProperty(g, SLOT, { value: p, configurable: true, writable: true, enumerable: false })
      const { result } = this.post<{ result: RemoteObject }>('Runtime.evaluate', { expression: READ, objectGroup: 'recon-trace', silent: true })
      const { internalProperties = [] } = this.post<{ internalProperties?: { name: string; value?: RemoteObject }[] }>('Runtime.getProperties', {
        objectId: result.objectId,
        ownProperties: true,
      })
      const state = internalProperties.find((x) => x.name === '[[PromiseState]]')?.value?.value
      if (state === 'pending') return PENDING
      if (state !== 'fulfilled' && state !== 'rejected') return FAILED
      const rv = internalProperties.find((x) => x.name === '[[PromiseResult]]')?.value
      let value: unknown
      if (this.stateOnly.has(p)) value = undefined
      else if (rv?.objectId !== undefined) {
        this.post('Runtime.callFunctionOn', { objectId: rv.objectId, functionDeclaration: STORE, silent: true })
        value = g[SLOT]
      } else if (rv?.unserializableValue !== undefined) value = unserializable(rv.unserializableValue)
      else value = rv?.value
      return { state, value }
    } catch {
      return FAILED
    } finally {
      delete g[SLOT]
      try {
        this.post('Runtime.releaseObjectGroup', { objectGroup: 'recon-trace' })
      } catch {
        /* the session is gone: nothing to release */
      }
    }
  }

  private unhook(): void {
    this.stopHook?.()
    this.stopHook = undefined
  }

  /** Stop following everything; pending promises are forgotten. */
  close(): void {
    this.closed = true
    this.unhook()
    this.session?.disconnect()
    this.session = undefined
  }
}

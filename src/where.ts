/**
 * Where: which threads and async contexts a trace applies to (recon_trace's pid spec).
 *
 * A thread of an OS process is labelled `<pid.threadId>`: `<4242.0>` is the main thread of
 * process 4242, `<4242.3>` its worker with `threadId` 3. The `pid` option selects:
 *
 * - `'all'` (the default): every thread.
 * - `'existing'`: threads that exist when the trace starts; `'new'`: threads started after.
 * - a label `'<4242.3>'`, a `threadId` number, or a worker's name.
 * - `{ context: als, match?: (store) => boolean }`: only calls made inside an async context of
 *   the user's own `AsyncLocalStorage` whose store matches (default: any store), e.g. one
 *   request. recon-trace never creates an AsyncLocalStorage of its own: on Node 20 one in use
 *   makes every `await` of the process about 4.5x slower.
 * - a list of these: their union.
 *
 * Thread selectors are decided once per thread when the trace starts (a thread that is not
 * selected gets no hooks at all, so it pays nothing); only context selectors cost something
 * per call (one `getStore()` of the user's store).
 */
import type { AsyncLocalStorage } from 'node:async_hooks'
import { threadId as currentThreadId } from 'node:worker_threads'
import { show } from './error.js'

/** Only calls made inside an async context of `context` whose store satisfies `match`. */
export interface ContextSelector<T = unknown> {
  context: AsyncLocalStorage<T>
  /** Default: any store that is not `undefined` (the call runs inside `context.run(...)`). */
  match?: (store: T) => boolean
}
export type PidSelector = 'all' | 'new' | 'existing' | number | string | ContextSelector<any>
export type PidSpec = PidSelector | readonly PidSelector[]

/** The decision for the current thread. */
export interface Where {
  /** Whether this thread can see any traced call at all (if not, nothing is hooked here). */
  readonly here: boolean
  /** Per-call test, or undefined when every call of this thread qualifies. */
  readonly test: (() => boolean) | undefined
}

/** A thread as seen from here: its process and thread id, and whether it existed at trace start. */
export interface ThreadView {
  pid: number
  threadId: number
  name?: string
  existing: boolean
}

const LABEL = /^<(\d+)\.(\d+)>$/

function isContextSelector(s: unknown): s is ContextSelector<unknown> {
  if (typeof s !== 'object' || s === null || !('context' in s)) return false
  const ctx = (s as { context: unknown }).context
  return typeof ctx === 'object' && ctx !== null && typeof (ctx as { getStore?: unknown }).getStore === 'function'
}

/** Check a `pid` option; push one problem per bad selector. */
export function checkPid(pid: unknown, problems: string[]): readonly PidSelector[] | undefined {
  const list = Array.isArray(pid) ? pid : [pid]
  if (list.length === 0) {
    problems.push(
      `the pid option is an empty list: give 'all', 'new', 'existing', a thread label like '<${process.pid}.0>', ` +
        `a threadId, a worker name, { context: asyncLocalStorage }, or a list of these`,
    )
    return undefined
  }
  const before = problems.length
  for (const s of list) {
    if (s === 'all' || s === 'new' || s === 'existing') continue
    if (typeof s === 'number' && Number.isInteger(s) && s >= 0) continue
    if (typeof s === 'string' && s.length > 0 && (LABEL.test(s) || !s.startsWith('<'))) continue
    if (isContextSelector(s)) {
      const match = (s as { match?: unknown }).match
      if (match === undefined || typeof match === 'function') continue
      problems.push(`pid { context, match }: match must be a function (store) => boolean, not ${show(match)}`)
      continue
    }
    problems.push(
      `the pid selector ${show(s)} is not valid: use 'all', 'new', 'existing', a thread label like '<${process.pid}.0>', ` +
        `a threadId (a non-negative integer), a worker name, or { context: asyncLocalStorage, match?: (store) => boolean }`,
    )
  }
  return problems.length === before ? (list as PidSelector[]) : undefined
}

function selectsThread(s: PidSelector, t: ThreadView): boolean {
  if (s === 'all') return true
  if (s === 'existing') return t.existing
  if (s === 'new') return !t.existing
  if (typeof s === 'number') return s === t.threadId
  if (typeof s === 'string') {
    const m = LABEL.exec(s)
    if (m) return Number(m[1]) === t.pid && Number(m[2]) === t.threadId
    return s === t.name
  }
  return false
}

/**
 * Decide for one thread. `onError` is told once when a user's `match` throws (that call then
 * counts as no match, and the error never reaches the traced program).
 */
export function compileWhere(
  selectors: readonly PidSelector[],
  onError: (what: string, err: unknown) => void,
  thread: ThreadView = { pid: process.pid, threadId: currentThreadId, existing: true },
): Where {
  const contexts: ContextSelector<unknown>[] = []
  for (const s of selectors) {
    if (isContextSelector(s)) contexts.push(s)
    else if (selectsThread(s, thread)) return { here: true, test: undefined }
  }
  if (contexts.length === 0) return { here: false, test: undefined }
  const tests = contexts.map(({ context, match }) => {
    if (match === undefined) return () => context.getStore() !== undefined
    let reported = false
    return () => {
      const store = context.getStore()
      if (store === undefined) return false
      try {
        return !!match(store)
      } catch (err) {
        if (!reported) {
          reported = true
          onError('the pid context match function', err)
        }
        return false
      }
    }
  })
  const test = tests.length === 1 ? tests[0] : () => tests.some((t) => t())
  return { here: true, test }
}

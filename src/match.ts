/**
 * Match: the per-call decision, compiled once per spec into the cheapest closure that does it.
 *
 * Order, cheapest first (bench/filtered.mjs: arity, guard, predicate): the static argument count (one
 * compare), the where-filter (an async-context lookup), argument patterns and the guard
 * (bench/guard.mjs), and the user's predicate last (a call of the user's function). A call
 * that fails a check returns 0 and allocates nothing; only a predicate gets a fresh array (so
 * it cannot keep or change the program's `arguments`).
 *
 * The result is a set of flags: CALL (print the call), RETURN (print its return too), STACK
 * (capture the caller's stack).
 */
import type { TraceSpec } from './spec.js'
import { enterBusy, leaveBusy } from './state.js'

export const CALL = 1
export const RETURN = 2
export const STACK = 4

/** `(args, n) => flags`; 0 means the call is not traced. Never throws. */
export type Matcher = (args: ArrayLike<unknown>, n: number) => number

/** Told once per spec when a user predicate throws (the call then counts as no match). */
export type OnUserError = (what: string, err: unknown) => void

/**
 * A copy of `args[from..to)`. A plain loop, which V8 inlines, where `Array.prototype.slice.call`
 * is a call into the runtime, on every call that reaches a predicate (bench/filtered.mjs predicate).
 */
function copyArgs(args: ArrayLike<unknown>, from: number, to: number): unknown[] {
  const n = to > from ? to - from : 0
  const out = new Array<unknown>(n)
  for (let i = 0; i < n; i++) out[i] = args[from + i]
  return out
}

function sameLiteral(a: unknown, b: unknown): boolean {
  // Object.is, except that 0 and -0 are the same literal; NaN matches NaN.
  return a === b || (a !== a && b !== b)
}

/**
 * The user's code (where-filter, predicate) runs inside the process-wide re-entry guard
 * (state.ts), so that traced functions it calls pass straight through, whichever build of
 * recon-trace hooked them.
 */
export function compileMatcher(spec: TraceSpec, where: (() => boolean) | undefined, onError: OnUserError): Matcher {
  const { arity, rest, patterns, guard, predicate } = spec
  const flags = CALL | (spec.return ? RETURN : 0) | (spec.stack ? STACK : 0)

  const literalChecks: [number, unknown][] = []
  patterns?.forEach((p, i) => {
    if (p.kind === 'literal') literalChecks.push([i, p.value])
  })
  // Guard values: bound names by argument index, then the rest (if named), then `args`. One
  // array per spec, reused: a guard runs no user code, so it cannot re-enter this matcher.
  const bindIdx: number[] = []
  spec.bindings.forEach((b, i) => {
    if (b !== undefined) bindIdx.push(i)
  })
  const hasRestName = spec.restName !== undefined
  const values: unknown[] = new Array(bindIdx.length + (hasRestName ? 1 : 0) + 1)
  const restAt = arity ?? 0

  let reported = false
  const checks = (args: ArrayLike<unknown>, n: number): number => {
    for (let i = 0; i < literalChecks.length; i++) {
      const [idx, v] = literalChecks[i]
      if (!sameLiteral(args[idx], v)) return 0
    }
    if (guard !== undefined) {
      let k = 0
      for (; k < bindIdx.length; k++) values[k] = args[bindIdx[k]]
      if (hasRestName) values[k++] = copyArgs(args, restAt, n)
      values[k] = args
      const ok = guard.test(values)
      // Keep no reference to the program's values. A loop, not `fill`: V8 does not inline
      // `Array.prototype.fill`, which was half of a guard check (bench/guard.mjs).
      for (let j = 0; j <= k; j++) values[j] = undefined
      if (!ok) return 0
    }
    if (predicate !== undefined) {
      let r: unknown
      enterBusy()
      try {
        r = predicate(copyArgs(args, 0, n))
      } catch (err) {
        if (!reported) {
          reported = true
          onError(`the predicate of ${spec.text}`, err)
        }
        return 0
      } finally {
        leaveBusy()
      }
      if (r === 'return') return flags | RETURN
      if (!r) return 0
    }
    return flags
  }
  const needsChecks = literalChecks.length > 0 || guard !== undefined || predicate !== undefined

  // Specialised closures: the common cases must stay tiny so V8 inlines them into the wrapper.
  if (where === undefined && !needsChecks) {
    if (arity === undefined) return () => flags
    if (rest) return (_a, n) => (n >= arity ? flags : 0)
    return (_a, n) => (n === arity ? flags : 0)
  }
  return (args, n) => {
    if (arity !== undefined && (rest ? n < arity : n !== arity)) return 0
    if (where !== undefined) {
      enterBusy()
      let ok: boolean
      try {
        ok = where()
      } finally {
        leaveBusy()
      }
      if (!ok) return 0
    }
    return needsChecks ? checks(args, n) : flags
  }
}

/** Unite the matchers of several specs that hook the same function: the flags of all that match. */
export function uniteMatchers(ms: readonly Matcher[]): Matcher {
  if (ms.length === 1) return ms[0]
  return (args, n) => {
    let f = 0
    for (let i = 0; i < ms.length; i++) f |= ms[i](args, n)
    return f
  }
}

/**
 * Match: the per-call decision, compiled once per spec into the cheapest function that does it.
 *
 * Order, cheapest first (bench/filtered.mjs: arity, guard, predicate): the static argument count (one
 * compare), the where-filter (an async-context lookup), argument patterns and the guard
 * (bench/guard.mjs), and the user's predicate last (a call of the user's function). A call
 * that fails a check returns 0 and allocates nothing; only a predicate gets a fresh array (so
 * it cannot keep or change the program's `arguments`).
 *
 * The matcher is generated code (codegen.ts) where code generation is allowed: the count, each
 * literal and the guard's expression written out over the arguments (`$a[1] === -1`), with no
 * array of bound values and no closure per operator. Elsewhere it is a closure that walks the
 * same checks; both decide alike (test/match.test.ts compares them). Each matcher also carries
 * its `shapes`: the checks that need no user code, which a wrapper inlines (wrapper.ts).
 *
 * The result is a set of flags: CALL (print the call), RETURN (print its return too), STACK
 * (capture the caller's stack).
 */
import type { TraceSpec } from './spec.js'
import { enterBusy, guard as busy, leaveBusy } from './state.js'
import { GUARD_SCOPE, guardFunctionSource, literalSource, type GuardCode } from './guard.js'
import { compile } from './codegen.js'

export const CALL = 1
export const RETURN = 2
export const STACK = 4

/**
 * The checks of one spec that run no user code: a call that fails them is not traced, whatever
 * its where-filter or predicate would say. A wrapper writes them into its own code.
 */
export interface MatchShape {
  readonly arity: number | undefined
  readonly rest: boolean
  /** Argument index and the literal it must be (`sameLiteral`). */
  readonly literals: readonly (readonly [number, unknown])[]
  /** The guard, when it reads only arguments bound by position: `positions[k]` is the argument of `$vk`. */
  readonly guard: { readonly code: GuardCode; readonly positions: readonly number[] } | undefined
  /**
   * Argument values every call the spec selects has (`args[i] === value`): its literal patterns
   * and its guard's top-level `name === literal`, NaN left out. A probe checks one (registry.ts).
   */
  readonly pins: readonly (readonly [number, unknown])[]
}

/** `(args, n) => flags`; 0 means the call is not traced. Never throws. */
export type Matcher = ((args: ArrayLike<unknown>, n: number) => number) & {
  /** The checks of each spec it unites that a call must pass first; undefined: none known. */
  readonly shapes?: readonly MatchShape[]
  /** Generated code (true) or closures. */
  readonly generated?: boolean
}

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

/** The argument index of each name a guard sees by position (`$v0`, `$v1`...: the bound arguments, in order). */
function positionsOf(spec: TraceSpec): number[] {
  const positions: number[] = []
  spec.bindings.forEach((b, i) => {
    if (b !== undefined) positions.push(i)
  })
  return positions
}

/** The checks of `spec` that run no user code. */
export function shapeOf(spec: TraceSpec): MatchShape {
  const literals: [number, unknown][] = []
  spec.patterns?.forEach((p, i) => {
    if (p.kind === 'literal') literals.push([i, p.value])
  })
  let guard: MatchShape['guard']
  const pins: [number, unknown][] = literals.filter(([, v]) => v === v)
  if (spec.guard !== undefined) {
    // The names a guard sees: the bound arguments by index, then the rest's name, then `args`.
    const positions = positionsOf(spec)
    const code = spec.guard.code
    if (code.uses.every((k) => k < positions.length)) guard = { code, positions }
    for (const [k, v] of code.equals) if (k < positions.length) pins.push([positions[k], v])
  }
  return Object.freeze({ arity: spec.arity, rest: spec.rest, literals, guard, pins })
}

/**
 * `sameLiteral(x, value)` as source, for `x` an expression that may be read twice; `constant`
 * reads the value where it has no literal.
 */
export function literalCheckSource(x: string, value: unknown, constant: string): string {
  if (typeof value === 'number' && value !== value) return `${x} !== ${x}`
  return `${x} === ${literalSource(value) ?? constant}`
}

/** How `compileMatcher` builds a matcher: as code where allowed (the default), or as closures (tests compare the two). */
export type MatcherBuild = 'generated' | 'closures'

/**
 * The user's code (where-filter, predicate) runs inside the process-wide re-entry guard
 * (state.ts), so that traced functions it calls pass straight through, whichever build of
 * recon-trace hooked them.
 */
export function compileMatcher(spec: TraceSpec, where: (() => boolean) | undefined, onError: OnUserError, build: MatcherBuild = 'generated'): Matcher {
  const shape = shapeOf(spec)
  const m = (build === 'generated' && generateMatcher(spec, shape, where, onError)) || closureMatcher(spec, where, onError)
  Object.defineProperty(m, 'shapes', { value: Object.freeze([shape]) })
  return m
}

/** The flags a spec sets on a call it selects. */
function flagsOf(spec: TraceSpec): number {
  return CALL | (spec.return ? RETURN : 0) | (spec.stack ? STACK : 0)
}

/**
 * The matcher as code: `function match($a, $n)`, the checks in closureMatcher's order, each
 * written out. The literals of the patterns and the guard's constants are read from arrays
 * (`$L`, `$GK`), except numbers, strings and the like, which are written as literals.
 */
function generateMatcher(spec: TraceSpec, shape: MatchShape, where: (() => boolean) | undefined, onError: OnUserError): Matcher | undefined {
  const { arity, rest, guard, predicate } = spec
  const flags = flagsOf(spec)
  const lits = shape.literals.map(([, v]) => v)
  const body: string[] = []
  if (arity !== undefined) body.push(rest ? `if ($n < ${arity}) return 0;` : `if ($n !== ${arity}) return 0;`)
  if (where !== undefined) body.push(`{$busy[0]++; let ok; try {ok = $where()} finally {$busy[0]--} if (!ok) return 0}`)
  shape.literals.forEach(([i], k) => body.push(`if (!(${literalCheckSource(`$a[${i}]`, lits[k], `$L[${k}]`)})) return 0;`))
  let decls = ''
  if (guard !== undefined) {
    const values = positionsOf(spec).map((i) => `$a[${i}]`)
    if (spec.restName !== undefined) values.push(`$copy($a, ${arity ?? 0}, $n)`)
    values.push('$a')
    decls += guardFunctionSource('$guard', guard.code, values.length, '$GK')
    body.push(`if (!$guard(${values.join(', ')})) return 0;`)
  }
  if (predicate !== undefined) {
    body.push(
      `let r; $busy[0]++;` +
        `try {r = $predicate($copy($a, 0, $n))} catch (e) {if (!reported) {reported = true; $onError($what, e)} return 0} finally {$busy[0]--}` +
        `if (r === "return") return ${flags | RETURN}; if (!r) return 0;`,
    )
  }
  body.push(`return ${flags};`)
  const scope = {
    ...GUARD_SCOPE,
    $busy: busy,
    $where: where,
    $predicate: predicate,
    $onError: onError,
    $what: `the predicate of ${spec.text}`,
    $copy: copyArgs,
    $L: lits,
    $GK: guard?.code.constants ?? [],
  }
  const names = Object.keys(scope)
  const factory = compile('matcher', names, `${decls}; let reported = false; return function match($a, $n) {${body.join('')}}`)
  if (factory === undefined) return undefined
  let m: Matcher
  try {
    m = factory(...names.map((k) => scope[k as keyof typeof scope])) as Matcher
  } catch {
    return undefined
  }
  Object.defineProperty(m, 'generated', { value: true })
  return m
}

/** The matcher as closures, where code generation is off. */
function closureMatcher(spec: TraceSpec, where: (() => boolean) | undefined, onError: OnUserError): Matcher {
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
  const m: Matcher = (args, n) => {
    let f = 0
    for (let i = 0; i < ms.length; i++) f |= ms[i](args, n)
    return f
  }
  const shapes = ms.every((x) => x.shapes !== undefined) ? ms.flatMap((x) => x.shapes!) : undefined
  if (shapes !== undefined) Object.defineProperty(m, 'shapes', { value: Object.freeze(shapes) })
  return m
}

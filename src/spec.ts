/**
 * Spec: what to trace, in the three forms a user may write, checked once and normalised.
 *
 * ```
 * './lib/queue.js:in/2'                                        string: module:function/arity
 * 'pg:Client#query(sql, _) when sql.startsWith("SELECT") -> return'
 * ['./lib/queue.js', 'in', 2]                                  tuple, as recon_trace's {M, F, A}
 * ['pg', 'Client#query', (args) => args.length === 2 && 'return']
 * { module: 'pg', function: 'Client#query', args: 'sql, _', when: 'sql.length > 100', return: true }
 * [specA, specB]                                               a list unites them
 * ```
 *
 * The string form is `<module>:<function>[/<arity> | (<arg patterns>)] [when <guard>] [-> <actions>]`.
 * The last `:` of the head splits module from function, so `node:fs:readFileSync/_` works.
 * Argument patterns: `_` (anything), a name (binds it for the guard), a literal (must be equal,
 * by `Object.is` except that 0 equals -0), `...` or `...name` last (the rest). The guard is the
 * restricted language of `guard.ts`; it also sees `args`, the whole argument list. Actions:
 * `return` (one more message with the value returned, the exception thrown, or what the
 * returned promise settled to) and `stack` (the caller's stack at the call).
 *
 * Parsing never touches the program: resolving modules and finding functions happens later,
 * in `hook.ts`, still before anything is hooked.
 */
import { compileGuard, parseLiteral, type Guard } from './guard.js'
import { show } from './error.js'

/** `(args) => boolean | 'return'`: true to trace the call, `'return'` to trace its return too. */
export type Predicate = (args: unknown[]) => boolean | 'return'

/** `[module, function, arity | '_' | 'return' | predicate]`, as recon_trace's `{M, F, A}`. */
export type SpecTuple = readonly [module: string | object, fn: string, arity?: number | '_' | 'return' | Predicate]

export interface SpecObject {
  /** A package name, `node:` builtin, a path (relative to the working directory, or absolute), `'_'`, or an object to trace directly. */
  module: string | object
  /** An exported name, `default`, `a.b.c`, `Class#method`, `Class.static`, `'_'` or a glob (`get*`). */
  function: string
  /** The number of arguments of the call, or `'_'` (default) for any. */
  arity?: number | '_'
  /** Argument patterns, as in the string form: `'sql, _'` or `['sql', '_']`. */
  args?: string | readonly string[]
  /** A guard in the restricted language (sees the names bound by `args`, and `args`), or a predicate. */
  when?: string | Predicate
  /** Trace returns, exceptions and settled promises too. Default false. */
  return?: boolean
  /** Capture the caller's stack with each call. Default false. */
  stack?: boolean
}

export type SpecInput = string | SpecTuple | SpecObject
export type Specs = SpecInput | readonly SpecInput[]

export type ArgPattern = { kind: 'any' } | { kind: 'bind'; name: string } | { kind: 'literal'; value: unknown }

/** A spec checked and normalised. */
export interface TraceSpec {
  /** The spec as the user wrote it, for messages. */
  readonly text: string
  /** `'_'` for any module, else the module as written, or the object given directly. */
  readonly module: string | object
  /** The function pattern as written. */
  readonly function: string
  /** Exact argument count, or undefined for any. With a rest pattern, the minimum count. */
  readonly arity: number | undefined
  /** True when `arity` is a minimum (the patterns end with `...`). */
  readonly rest: boolean
  readonly patterns: readonly ArgPattern[] | undefined
  /** Names bound by the patterns, by argument index (undefined where nothing binds). */
  readonly bindings: readonly (string | undefined)[]
  readonly restName: string | undefined
  readonly guard: Guard | undefined
  readonly predicate: Predicate | undefined
  readonly return: boolean
  readonly stack: boolean
}

const MAX_ARITY = 255
const SEGMENT = /^[A-Za-z_$*?][\w$*?]*$/
const IDENT = /^[A-Za-z_$][\w$]*$/
const ACTIONS = ['return', 'stack'] as const

const SPEC_FORMS =
  `a string 'module:function/arity' (e.g. './lib/queue.js:in/2', 'pg:Client#query(sql, _) when sql.length > 9 -> return'), ` +
  `a tuple [module, function, arity | '_' | 'return' | predicate], ` +
  `or an object { module, function, arity?, args?, when?, return?, stack? }`

/** Check a function pattern; returns a problem or undefined. */
export function checkFunctionPattern(fn: string, where: string): string | undefined {
  if (fn === '_') return undefined
  // A private method is `Class##name`; an anonymous function `outer.@12` (its line).
  const plain = fn.replace(/##/g, '#').replace(/(^|[.#])@(\d+|[*?]+)(?=$|[.#])/g, '$1_$2')
  const segments = plain.split(/[.#]/)
  const hashes = plain.split('#').length - 1
  const ok =
    fn.length > 0 && hashes <= 1 && !fn.startsWith('#') && segments.every((s) => SEGMENT.test(s)) && segments.slice(0, -1).every((s) => !/[*?]/.test(s))
  if (ok) return undefined
  return (
    `${where}: the function ${show(fn)} is not a function path: use an exported name ('query'), 'default', ` +
    `a dotted path ('a.b.c'), 'Class#method' for a prototype method, 'Class.method' for a static, '_' for all, ` +
    `or a glob in the last part ('get*', 'Client#get*'); in local scope also 'Class##private' and 'outer.@12' (an anonymous function on line 12)`
  )
}

function isGlob(fn: string): boolean {
  return /(^|[.#])_$/.test(fn) || /[*?]/.test(fn)
}

/** Is this array a single tuple spec rather than a list of specs? */
function isTuple(a: readonly unknown[]): boolean {
  if (a.length < 2 || a.length > 3) return false
  const [m, f, x] = a
  if (typeof f !== 'string' || f.includes(':')) return false
  if (typeof m !== 'string') {
    if ((typeof m !== 'object' && typeof m !== 'function') || m === null || Array.isArray(m) || isSpecObject(m)) return false
  }
  return a.length === 2 || typeof x === 'number' || x === '_' || x === 'return' || typeof x === 'function'
}

function isSpecObject(o: unknown): o is SpecObject {
  return typeof o === 'object' && o !== null && !Array.isArray(o) && 'module' in o && 'function' in o
}

/**
 * Visit each character of `text` that is outside a string literal, with the bracket depth
 * before it; stop when `visit` returns true. The one place that knows how quotes nest.
 */
function scan(text: string, visit: (i: number, c: string, depth: number) => boolean | void): void {
  let depth = 0
  let quote = ''
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quote) {
      if (c === '\\') i++
      else if (c === quote) quote = ''
      continue
    }
    if (c === '"' || c === "'" || c === '`') {
      quote = c
      continue
    }
    if (visit(i, c, depth)) return
    if (c === '(' || c === '[' || c === '{') depth++
    else if (c === ')' || c === ']' || c === '}') depth--
  }
}

/** Split at top-level occurrences of `sep`, respecting quotes and brackets. */
function splitTopLevel(text: string, sep: string): string[] {
  const parts: string[] = []
  let start = 0
  scan(text, (i, _c, depth) => {
    if (depth === 0 && i >= start && text.startsWith(sep, i)) {
      parts.push(text.slice(start, i))
      start = i + sep.length
    }
  })
  parts.push(text.slice(start))
  return parts
}

/** Index of the last occurrence of `needle` outside quotes, or -1. */
function lastTopLevel(text: string, needle: string): number {
  let found = -1
  scan(text, (i) => {
    if (text.startsWith(needle, i)) found = i
  })
  return found
}

/** Index of the `)` closing the `(` at `open`, or -1. */
function closingParen(text: string, open: number): number {
  let found = -1
  scan(text.slice(open), (i, c, depth) => {
    if (c === ')' && depth === 1) {
      found = open + i
      return true
    }
  })
  return found
}

interface Parts {
  module: string | object
  fn: string
  arity: number | undefined
  patterns: string[] | undefined
  guard: string | Predicate | undefined
  ret: boolean
  stack: boolean
}

function parsePatterns(list: readonly string[], where: string, problems: string[]) {
  const patterns: ArgPattern[] = []
  const bindings: (string | undefined)[] = []
  let rest = false
  let restName: string | undefined
  const seen = new Set<string>()
  list.forEach((raw, i) => {
    const p = raw.trim()
    if (p.startsWith('...')) {
      const name = p.slice(3).trim()
      if (i !== list.length - 1) problems.push(`${where}: the rest pattern ${show(p)} must come last`)
      else if (name !== '' && !IDENT.test(name)) problems.push(`${where}: ${show(p)} is not a rest pattern: write '...' or '...name'`)
      rest = true
      restName = name || undefined
      if (restName) seen.add(restName)
      return
    }
    if (p === '_') {
      patterns.push({ kind: 'any' })
      bindings.push(undefined)
      return
    }
    const lit = parseLiteral(p)
    if (lit.ok) {
      patterns.push({ kind: 'literal', value: lit.value })
      bindings.push(undefined)
      return
    }
    if (IDENT.test(p) && p !== 'args') {
      if (seen.has(p)) problems.push(`${where}: the name ${show(p)} is bound twice in the argument patterns`)
      seen.add(p)
      patterns.push({ kind: 'bind', name: p })
      bindings.push(p)
      return
    }
    problems.push(
      `${where}: the argument pattern ${show(p)} is not valid: use '_' (anything), a name that binds the argument for the guard ` +
        `(not 'args', which always names the whole list), a literal (42, 'text', true, null, undefined), or '...' last`,
    )
  })
  return { patterns, bindings, rest, restName }
}

function parseString(text: string, problems: string[]): Parts | undefined {
  const where = `spec ${show(text)}`
  let s = text.trim()
  let ret = false
  let stack = false
  const arrow = lastTopLevel(s, '->')
  if (arrow >= 0) {
    for (const a of s
      .slice(arrow + 2)
      .split(',')
      .map((x) => x.trim())) {
      if (a === 'return') ret = true
      else if (a === 'stack') stack = true
      else problems.push(`${where}: unknown action ${show(a)} after '->': the actions are ${ACTIONS.join(', ')} (comma-separated)`)
    }
    s = s.slice(0, arrow).trim()
  }
  const headEnd = s.search(/[\s(]/)
  const head = headEnd < 0 ? s : s.slice(0, headEnd)
  let tail = headEnd < 0 ? '' : s.slice(headEnd)
  const colon = head.lastIndexOf(':')
  if (colon <= 0 || colon === head.length - 1) {
    problems.push(
      `${where}: expected 'module:function' at the start (e.g. './lib/queue.js:in/2' or 'node:fs:readFileSync/_'), with the last ':' before the function`,
    )
    return undefined
  }
  const module = head.slice(0, colon)
  let fn = head.slice(colon + 1)
  let arity: number | undefined
  const slash = fn.indexOf('/')
  if (slash >= 0) {
    const a = fn.slice(slash + 1)
    fn = fn.slice(0, slash)
    if (a !== '_') {
      if (!/^\d+$/.test(a) || Number(a) > MAX_ARITY)
        problems.push(`${where}: the arity ${show(a)} is not valid: use a number of arguments from 0 to ${MAX_ARITY}, or '_' for any`)
      else arity = Number(a)
    }
  }
  let patterns: string[] | undefined
  if (tail.startsWith('(')) {
    if (slash >= 0) problems.push(`${where}: give either an arity ('/2') or argument patterns ('(a, _)'), not both`)
    const close = closingParen(tail, 0)
    if (close < 0) {
      problems.push(`${where}: the argument patterns are missing their closing ')'`)
      return undefined
    }
    const inner = tail.slice(1, close).trim()
    patterns = inner === '' ? [] : splitTopLevel(inner, ',')
    tail = tail.slice(close + 1)
  }
  tail = tail.trim()
  let guard: string | undefined
  if (tail !== '') {
    const m = /^when\s+([\s\S]+)$/.exec(tail)
    if (m) guard = m[1].trim()
    else {
      problems.push(`${where}: unexpected ${show(tail)}: after the function come '/arity' or '(patterns)', then 'when <guard>', then '-> return' or '-> stack'`)
      return undefined
    }
  }
  return { module, fn, arity, patterns, guard, ret, stack }
}

function fromTuple(t: SpecTuple, where: string, problems: string[]): Parts {
  const [module, fn, x = '_'] = t
  let arity: number | undefined
  let guard: Predicate | undefined
  let ret = false
  if (typeof x === 'number') {
    if (!Number.isInteger(x) || x < 0 || x > MAX_ARITY)
      problems.push(
        `${where}: the arity ${show(x)} is not valid: use a number of arguments from 0 to ${MAX_ARITY}, ` +
          `'_', 'return', or a predicate (args) => boolean | 'return'`,
      )
    else arity = x
  } else if (x === 'return') ret = true
  else if (typeof x === 'function') guard = x as Predicate
  return { module, fn, arity, patterns: undefined, guard, ret, stack: false }
}

const OBJECT_KEYS = new Set(['module', 'function', 'arity', 'args', 'when', 'return', 'stack'])

function fromObject(o: SpecObject, where: string, problems: string[]): Parts | undefined {
  const before = problems.length
  for (const k of Object.keys(o)) {
    if (!OBJECT_KEYS.has(k)) problems.push(`${where}: unknown key ${show(k)}: a spec object has ${[...OBJECT_KEYS].join(', ')}`)
  }
  if (typeof o.function !== 'string') problems.push(`${where}: function must be a string such as 'query', 'Client#query' or '_', not ${show(o.function)}`)
  let arity: number | undefined
  if (o.arity !== undefined && o.arity !== '_') {
    if (typeof o.arity !== 'number' || !Number.isInteger(o.arity) || o.arity < 0 || o.arity > MAX_ARITY)
      problems.push(`${where}: arity must be a number of arguments from 0 to ${MAX_ARITY} or '_', not ${show(o.arity)}`)
    else arity = o.arity
  }
  let patterns: string[] | undefined
  if (o.args !== undefined) {
    if (typeof o.args === 'string') patterns = o.args.trim() === '' ? [] : splitTopLevel(o.args.trim().replace(/^\(([\s\S]*)\)$/, '$1'), ',')
    else if (Array.isArray(o.args) && o.args.every((a) => typeof a === 'string')) patterns = [...o.args]
    else problems.push(`${where}: args must be patterns as a string ('sql, _') or an array of strings (['sql', '_']), not ${show(o.args)}`)
    if (arity !== undefined) problems.push(`${where}: give either arity or args, not both`)
  }
  if (o.when !== undefined && typeof o.when !== 'string' && typeof o.when !== 'function')
    problems.push(`${where}: when must be a guard string or a predicate function, not ${show(o.when)}`)
  for (const k of ['return', 'stack'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean') problems.push(`${where}: ${k} must be true or false, not ${show(o[k])}`)
  }
  if (problems.length > before) return undefined
  return { module: o.module, fn: o.function, arity, patterns, guard: o.when, ret: o.return === true, stack: o.stack === true }
}

function textOf(input: SpecInput): string {
  if (typeof input === 'string') return input
  const moduleText = (m: unknown) => (typeof m === 'string' ? m : `<${typeof m}>`)
  if (Array.isArray(input)) {
    const [m, f, x] = input as SpecTuple
    const third = x === undefined ? '_' : typeof x === 'function' ? 'fun' : String(x)
    return `{${moduleText(m)}, ${String(f)}, ${third}}`
  }
  const o = input as SpecObject
  return `${moduleText(o.module)}:${String(o.function)}`
}

function finish(parts: Parts, text: string, where: string, problems: string[]): TraceSpec | undefined {
  const before = problems.length
  const { module, fn } = parts
  if (typeof module === 'string') {
    if (module.trim() === '' || module !== module.trim()) problems.push(`${where}: the module ${show(module)} is empty or has surrounding spaces`)
  } else if ((typeof module !== 'object' && typeof module !== 'function') || module === null) {
    problems.push(`${where}: the module must be a package name, a 'node:' builtin, a path, '_', or an object to trace directly, not ${show(module)}`)
  }
  if (typeof fn === 'string') {
    const p = checkFunctionPattern(fn, where)
    if (p) problems.push(p)
  }
  if (module === '_' && typeof fn === 'string' && isGlob(fn)) {
    problems.push(`${where}: a wildcard module with a wildcard function would trace every function of the program: name the module, or the function`)
  }
  let pat: ReturnType<typeof parsePatterns> | undefined
  if (parts.patterns) pat = parsePatterns(parts.patterns, where, problems)
  let guard: Guard | undefined
  let predicate: Predicate | undefined
  if (typeof parts.guard === 'function') predicate = parts.guard
  else if (typeof parts.guard === 'string') {
    const names = [...(pat?.bindings.filter((b): b is string => b !== undefined) ?? []), ...(pat?.restName ? [pat.restName] : []), 'args']
    const gp: string[] = []
    guard = compileGuard(parts.guard, names, gp)
    for (const g of gp) problems.push(`${where}: ${g}`)
  }
  if (problems.length > before) return undefined
  return {
    text,
    module,
    function: fn,
    arity: pat ? pat.patterns.length : parts.arity,
    rest: pat?.rest ?? false,
    patterns: pat?.patterns,
    bindings: pat?.bindings ?? [],
    restName: pat?.restName,
    guard,
    predicate,
    return: parts.ret,
    stack: parts.stack,
  }
}

/** Parse one spec or a list; push every problem found. */
export function parseSpecs(input: unknown, problems: string[]): TraceSpec[] {
  const inputs: unknown[] = Array.isArray(input) && !isTuple(input) ? input : [input]
  if (inputs.length === 0) problems.push(`the list of specs is empty: give at least one spec, as ${SPEC_FORMS}`)
  const out: TraceSpec[] = []
  inputs.forEach((one, i) => {
    const where = inputs.length > 1 ? `spec #${i + 1}` : 'spec'
    let parts: Parts | undefined
    let text: string
    if (typeof one === 'string') {
      text = one
      parts = parseString(one, problems)
    } else if (Array.isArray(one) && isTuple(one)) {
      text = textOf(one as unknown as SpecTuple)
      parts = fromTuple(one as unknown as SpecTuple, `${where} ${text}`, problems)
    } else if (isSpecObject(one)) {
      text = textOf(one)
      parts = fromObject(one, `${where} ${text}`, problems)
    } else {
      problems.push(`${where} ${show(one)} is not a trace spec: write ${SPEC_FORMS}`)
      return
    }
    if (!parts) return
    const spec = finish(parts, text, typeof one === 'string' ? `spec ${show(one)}` : `${where} ${text}`, problems)
    if (spec) out.push(spec)
  })
  return out
}

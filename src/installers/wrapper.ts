/**
 * Hook: runtime wrappers for global scope.
 *
 * A spec names functions; this module finds them (module exports of CommonJS modules already
 * in `require.cache`, modules loaded later, prototype and static methods, nested objects,
 * `node:` builtins, objects given directly), wraps each one once however many paths reach it,
 * and puts the wrapper in place of the original at every path. Restoring puts back the exact
 * original property descriptor at every place, so after `clear()` or a trip the program holds
 * the very same function objects as before and pays nothing.
 *
 * A wrapper is faithful: same `name`, `length`, `prototype` (so `instanceof` holds), the same
 * [[Prototype]] (so static inheritance and `fn.constructor` hold), static properties forwarded
 * to the original (reads and writes reach it), `this`, `new.target` and `arguments` passed
 * through untouched (`Reflect.apply` / `Reflect.construct`), the same thrown object and the
 * same returned object. A function without its own `prototype` (arrow, method, async
 * function) gets a wrapper that is not a constructor either.
 *
 * Known differences that no wrapper can hide: `Function.prototype.toString` shows the
 * wrapper's source; `util.types.isAsyncFunction(wrapper)` is false; a static method that uses
 * a private static member through `this` (`this.#x`) throws while wrapped, since `this` is the
 * wrapper; one extra frame appears in stack traces. References taken while the trace ran keep
 * the wrapper, which turns inert (straight through to the original) when the trace ends.
 *
 * The wrapper's dormant path is one flag check, the compiled argument-count match and the
 * call through `Reflect.apply`; see bench/ for the figures. Where code generation is allowed
 * (codegen.ts), each wrapper is compiled from its own source: the checks of its specs that run
 * no user code (count, literal patterns, the guard) are written into it, so a call they filter
 * out never leaves it, and no two hooked functions share V8's feedback.
 */
import Module from 'node:module'
import { types } from 'node:util'
import { closest, show } from '../error.js'
import { literalCheckSource, uniteMatchers, type Matcher, type MatchShape } from '../match.js'
import { GUARD_SCOPE, guardFunctionSource } from '../guard.js'
import { compile } from '../codegen.js'
import type { TraceSpec } from '../spec.js'
import { enterBusy, guard, leaveBusy } from '../state.js'
import type { Installer } from './installer.js'
import { ANY_ARITY, arityRange, globOfPattern, nameGlobToRegExp } from '../names.js'
import { isOwnFile, labelOfFile, requireFromCwd, resolveModule } from '../modules.js'
import { runningFilesOf, sourcesOf } from '../origin.js'

const apply = Reflect.apply
const construct = Reflect.construct
const defineProperty = Reflect.defineProperty
const deleteProperty = Reflect.deleteProperty
const getOwnDescriptor = Reflect.getOwnPropertyDescriptor
const getPrototypeOf = Reflect.getPrototypeOf
const setPrototypeOf = Reflect.setPrototypeOf
const ownKeys = Reflect.ownKeys
const isExtensible = Reflect.isExtensible
const isProxy = types.isProxy
const hasOwn = Object.prototype.hasOwnProperty

/** The slow path, provided by the session: record the call, run it, record its outcome. */
export type OnMatch = (target: Target, flags: number, self: unknown, args: IArguments, newTarget: Function | undefined) => unknown

/**
 * Stats mode's door from a generated wrapper into the session (session.ts): the wrapper counts a
 * selected call there, then times it itself, with the arguments spelled out and no `arguments`
 * object handed on (bench/stats.mjs). Calls with `new` go through `OnMatch`.
 */
export interface StatsPath {
  /**
   * Count a selected call: its row, or undefined when the limit refuses it (it then runs untimed).
   * `value`: the argument at `by` (undefined when the call has none there).
   */
  enter(t: Target, value: unknown): object | undefined
  /** The position of the argument whose values get rows of their own, or -1. */
  readonly by: number
  /** The call returned `value` (a promise is followed until it settles); it began at `start`. */
  done(row: object, value: unknown, start: number): void
  /** The call threw; it began at `start`. */
  threw(row: object, start: number): void
  /** The monotonic clock (clock.ts). */
  now(): number
}

/** Where a wrapper sits: a property of an object (its value, or its getter or setter). */
export interface Site {
  readonly owner: object
  readonly key: string | symbol
  readonly slot: 'value' | 'get' | 'set'
  /** The own descriptor before we touched it; undefined when we shadowed an inherited one. */
  readonly before: PropertyDescriptor | undefined
}

/** One hooked function: its original, its wrapper, and every place the wrapper sits. */
export class Target {
  /** 1 while the trace runs; 0 once it ended (a wrapper someone kept goes straight through). */
  on = 1
  /**
   * The argument counts any spec of this function accepts, checked inline by the wrapper so a
   * call with another count never leaves it (the matcher checks the exact counts again).
   */
  min = 0
  max = ANY_ARITY
  /**
   * 1 while the checks written into a generated wrapper are all of its specs' (`match.shapes`);
   * 0 once another spec joined (then the wrapper sends every call in the count range on).
   */
  pre = 1
  wrapper: Function = noop
  /** What the wrapper calls: the original, or (binding installer) a function that marks the call first. */
  call: Function
  /** Where a closure wrapper's call whose count is in range continues: runs the matcher with its own `arguments`. */
  enter: Function = noop
  /** The same for `new`. */
  enterNew: Function = noop
  readonly sites: Site[] = []
  constructor(
    readonly original: Function,
    /** Display name of the module: 'queue', 'pg', 'node:fs', 'Server'. */
    readonly module: string,
    /** Display name of the function: 'in', 'Client#query'. */
    readonly name: string,
    public match: Matcher,
  ) {
    this.call = original
  }
}
function noop() {}

/** A function found by a spec, not yet wrapped. */
interface Found {
  fn: Function
  owner: object
  key: string | symbol
  slot: 'value' | 'get' | 'set'
  shadow: boolean
  name: string
}

type ModuleRecord = { exports: unknown; filename: string; loaded: boolean }
const ModuleCtor = Module as unknown as {
  _cache: Record<string, ModuleRecord | undefined>
  prototype: { load: (this: ModuleRecord, filename: string) => unknown }
  isBuiltin: (s: string) => boolean
  syncBuiltinESMExports: () => void
}

// ---------------------------------------------------------------------------------------------
// Finding functions by path.

/** A descriptor found on `o` or up its prototype chain, never touching a proxy. */
function findDescriptor(o: object, key: string | symbol): { desc: PropertyDescriptor; own: boolean } | undefined {
  let p: object | null = o
  for (let depth = 0; p !== null && depth < 64; depth++) {
    if (isProxy(p)) return undefined
    const d = getOwnDescriptor(p, key)
    if (d) return { desc: d, own: p === o }
    p = getPrototypeOf(p)
  }
  return undefined
}

function readData(o: object, key: string): unknown {
  const f = findDescriptor(o, key)
  return f && 'value' in f.desc ? f.desc.value : undefined
}

const isObjectLike = (v: unknown): v is object => (typeof v === 'object' && v !== null) || typeof v === 'function'

/** Function-valued data properties of `o` (own, or up to but excluding Object/Function.prototype). */
function functionsOf(o: object, inherited: boolean): [string, boolean][] {
  const out: [string, boolean][] = []
  const seen = new Set<string>()
  let p: object | null = o
  for (let depth = 0; p !== null && depth < 64; depth++) {
    if (isProxy(p) || p === Object.prototype || p === Function.prototype) break
    for (const k of ownKeys(p)) {
      if (typeof k !== 'string' || seen.has(k)) continue
      seen.add(k)
      if (k === 'constructor' || (typeof o === 'function' && (k === 'prototype' || k === 'caller' || k === 'arguments'))) continue
      const d = getOwnDescriptor(p, k)
      if (d && typeof d.value === 'function') out.push([k, p !== o])
    }
    if (!inherited) break
    p = getPrototypeOf(p)
  }
  return out
}

/** Has the class-like function its own methods on the prototype? */
function isClassLike(fn: Function): boolean {
  const proto = readData(fn, 'prototype')
  if (!isObjectLike(proto) || isProxy(proto)) return false
  return ownKeys(proto).some((k) => k !== 'constructor' && typeof getOwnDescriptor(proto, k)?.value === 'function')
}

/** Every traceable name of a root, for "did you mean" lists. */
function exportedNames(root: unknown): string[] {
  if (!isObjectLike(root) || isProxy(root)) return []
  const names: string[] = []
  if (typeof root === 'function') names.push('default')
  for (const [k] of functionsOf(root, typeof root !== 'function' && !isPlainExports(root))) {
    names.push(k)
    const v = readData(root, k)
    if (typeof v === 'function' && isClassLike(v)) {
      const proto = readData(v, 'prototype') as object
      for (const [m] of functionsOf(proto, false)) names.push(`${k}#${m}`)
    }
  }
  return names
}

function isPlainExports(o: object): boolean {
  const p = getPrototypeOf(o)
  return p === Object.prototype || p === null
}

type Step = { kind: 'key'; key: string } | { kind: 'proto' }

function stepsOf(path: string): Step[] {
  const steps: Step[] = []
  const re = /([.#]?)([^.#]+)/g
  for (let m = re.exec(path); m; m = re.exec(path)) {
    if (m[1] === '#') steps.push({ kind: 'proto' })
    steps.push({ kind: 'key', key: m[2] })
  }
  return steps
}

/**
 * Find the functions a function pattern names under `root`. `isExports` says the root is a
 * module's exports (then `default` may name the exports themselves, and `_` includes the
 * methods of exported classes).
 */
export function findFunctions(root: object, pattern: string, rootSite: { owner: object; key: string } | undefined): { found: Found[]; error?: string } {
  const found: Found[] = []
  const fromExports = rootSite !== undefined
  const addClassMethods = (cls: Function, prefix: string) => {
    const proto = readData(cls, 'prototype')
    if (isObjectLike(proto) && !isProxy(proto)) {
      for (const [m] of functionsOf(proto, false)) {
        found.push({ fn: getOwnDescriptor(proto, m)!.value, owner: proto, key: m, slot: 'value', shadow: false, name: `${prefix}#${m}` })
      }
    }
    for (const [s] of functionsOf(cls, false)) {
      found.push({ fn: getOwnDescriptor(cls, s)!.value, owner: cls, key: s, slot: 'value', shadow: false, name: `${prefix}.${s}` })
    }
  }

  if (pattern === 'default' && fromExports && typeof root === 'function' && !hasOwn.call(root, 'default')) {
    found.push({ fn: root, owner: rootSite.owner, key: rootSite.key, slot: 'value', shadow: false, name: 'default' })
    return { found }
  }

  // '_' in the last part is the wildcard, as a glob '*' is.
  const steps = stepsOf(globOfPattern(pattern))
  let cur: unknown = root
  let prefix = ''
  for (let i = 0; i < steps.length - 1; i++) {
    const s = steps[i]
    if (!isObjectLike(cur) || isProxy(cur)) return { found, error: `${show(prefix)} is not an object or function` }
    if (s.kind === 'proto') {
      cur = readData(cur, 'prototype')
      prefix += '#'
      continue
    }
    cur = readData(cur, s.key)
    prefix += (prefix === '' || prefix.endsWith('#') ? '' : '.') + s.key
    if (cur === undefined) return { found, error: `nothing is found at ${show(prefix)}` }
  }
  if (!isObjectLike(cur) || isProxy(cur)) return { found, error: `${show(prefix || pattern)} is not an object or function` }
  const last = steps[steps.length - 1] as { kind: 'key'; key: string }
  const sepChar = prefix === '' || prefix.endsWith('#') ? '' : '.'
  const container = cur

  if (/[*?]/.test(last.key)) {
    const re = nameGlobToRegExp(last.key)
    // On a module's exports the functions are own properties; on an object given directly
    // (a server, a client) most of its methods are inherited, so look up its chain.
    const inherited = !(fromExports && prefix === '') && !prefix.endsWith('#') && typeof container !== 'function'
    for (const [k, isInherited] of functionsOf(container, inherited)) {
      if (!re.test(k)) continue
      const d = findDescriptor(container, k)!
      const name = `${prefix}${sepChar}${k}`
      found.push({ fn: d.desc.value, owner: container, key: k, slot: 'value', shadow: isInherited, name })
      if (pattern === '_' && typeof d.desc.value === 'function' && isClassLike(d.desc.value)) addClassMethods(d.desc.value, name)
    }
    return { found }
  }

  const d = findDescriptor(container, last.key)
  const name = pattern
  if (!d) return { found, error: `no function ${show(pattern)}` }
  if ('value' in d.desc) {
    if (typeof d.desc.value !== 'function') return { found, error: `${show(pattern)} is not a function but ${show(d.desc.value)}` }
    found.push({ fn: d.desc.value, owner: container, key: last.key, slot: 'value', shadow: !d.own, name })
    return { found }
  }
  // An accessor the spec names explicitly: trace its getter and setter as functions.
  if (!d.own) return { found, error: `${show(pattern)} is an inherited accessor: name it on the object that defines it` }
  if (d.desc.get) found.push({ fn: d.desc.get, owner: container, key: last.key, slot: 'get', shadow: false, name: `${name} (get)` })
  if (d.desc.set) found.push({ fn: d.desc.set, owner: container, key: last.key, slot: 'set', shadow: false, name: `${name} (set)` })
  return { found }
}

// ---------------------------------------------------------------------------------------------
// Wrapping and restoring.

function copyFunctionProperties(original: Function, wrapper: Function): void {
  setPrototypeOf(wrapper, getPrototypeOf(original))
  for (const key of ownKeys(wrapper)) {
    if (key !== 'prototype') deleteProperty(wrapper, key)
  }
  for (const key of ownKeys(original)) {
    const d = getOwnDescriptor(original, key)!
    if (key === 'prototype') {
      if (getOwnDescriptor(wrapper, 'prototype')) {
        defineProperty(wrapper, 'prototype', { value: d.value })
        if (!d.writable) defineProperty(wrapper, 'prototype', { writable: false })
      }
      continue
    }
    if (key === 'name' || key === 'length' || !('value' in d) || !d.writable) {
      defineProperty(wrapper, key, d)
      continue
    }
    // A writable static (a counter, a registry): forward reads and writes to the original, so
    // the original's own code (which sees its own binding) and the program agree.
    defineProperty(wrapper, key, {
      get: () => (original as unknown as Record<string | symbol, unknown>)[key],
      set: (v: unknown) => {
        ;(original as unknown as Record<string | symbol, unknown>)[key] = v
      },
      enumerable: d.enumerable,
      configurable: d.configurable,
    })
  }
}

/**
 * Make the wrapper of a target: generated code of its own (generateWrapper) where code
 * generation is allowed, else a closure. Two shapes of each: constructible (the original has
 * its own `prototype`), or not.
 *
 * The closure never lets `arguments` escape: it reads `arguments.length`, checks the count
 * range, and calls the original with its arguments spelled out for up to three of them
 * (`Reflect.apply(original, this, [a, b])`, which V8 turns into a direct call it can inline),
 * forwarding `arguments` only beyond that. A call whose count is in range continues in
 * `enter`, which has its own `arguments` to give the matcher. Measured with
 * bench/filtered.mjs, a call filtered out by its count where V8 cannot inline the wrapper:
 * +6.1-6.5 ns when the wrapper passed `arguments` to the matcher, +5.8-6.3 ns with the range
 * check alone, +4.5 ns with the spelled-out call (Node 20 and 24); where V8 inlines the
 * wrapper, +1.0-1.3 ns.
 */
export function makeWrapper(t: Target, onMatch: OnMatch, stats?: StatsPath): Function {
  const original = t.call
  let wrapper: Function | undefined
  const constructible = getOwnDescriptor(t.original, 'prototype') !== undefined
  // Generated where code generation is allowed (it runs the matcher itself); else one of the two
  // closures below, which continue in `enter` / `enterNew`.
  const shapes = t.match.shapes
  if (shapes !== undefined && shapes.length > 0) wrapper = generateWrapper(t, original, shapes, constructible, onMatch, stats)
  if (wrapper === undefined) {
    t.enter = function (this: unknown) {
      const flags = t.match(arguments, arguments.length)
      if (flags === 0) return apply(original, this, arguments)
      return onMatch(t, flags, this, arguments, undefined)
    }
    if (constructible) {
      t.enterNew = function () {
        const flags = t.match(arguments, arguments.length)
        if (flags === 0) return construct(original, arguments, new.target!)
        return onMatch(t, flags, undefined, arguments, new.target)
      }
    }
  }
  if (wrapper === undefined && constructible) {
    wrapper = function (this: unknown, a?: unknown, b?: unknown, c?: unknown) {
      const n = arguments.length
      if (t.on === 1 && guard[0] === 0 && n >= t.min && n <= t.max) {
        return new.target === undefined ? apply(t.enter, this, arguments) : construct(t.enterNew, arguments, new.target)
      }
      if (new.target !== undefined) return construct(original, arguments, new.target)
      if (n === 2) return apply(original, this, [a, b])
      if (n === 1) return apply(original, this, [a])
      if (n === 3) return apply(original, this, [a, b, c])
      if (n === 0) return apply(original, this, [])
      return apply(original, this, arguments)
    }
  } else if (wrapper === undefined) {
    wrapper = {
      wrapper(this: unknown, a?: unknown, b?: unknown, c?: unknown) {
        const n = arguments.length
        if (t.on === 1 && guard[0] === 0 && n >= t.min && n <= t.max) return apply(t.enter, this, arguments)
        if (n === 2) return apply(original, this, [a, b])
        if (n === 1) return apply(original, this, [a])
        if (n === 3) return apply(original, this, [a, b, c])
        if (n === 0) return apply(original, this, [])
        return apply(original, this, arguments)
      },
    }.wrapper
  }
  copyFunctionProperties(t.original, wrapper)
  t.wrapper = wrapper
  return wrapper
}

/** Most parameters a generated wrapper declares; arguments past them are read from `arguments`. */
const MAX_PARAMS = 6

/** The original's declared parameter count (its own `length`), capped at MAX_PARAMS. */
function paramsOf(fn: Function): number {
  const d = getOwnDescriptor(fn, 'length')
  const n = d !== undefined && 'value' in d ? d.value : 0
  return typeof n === 'number' && n > 0 ? Math.min(Math.floor(n), MAX_PARAMS) : 0
}

/**
 * The wrapper of `t` as code of its own, or undefined where code generation is off. The same
 * paths as the closures' wrappers, with `shapes` (the count, the literals, a guard on
 * positional names) written out in the entry check: `n === 2 && a === -1`, or a call of the
 * guard's function. A guard that reads the rest or `args`, a where-filter and a predicate
 * are left to `enter`, which runs the whole matcher.
 *
 * It declares as many parameters as the original does: where V8 cannot inline the wrapper, a
 * call with fewer arguments than the callee declares costs about 4 ns more (a wrapper of
 * `add(a, b)` declared `(a, b, c)`: +5.1 ns per megamorphic call, `(a, b)`: +1.4 ns, Node 20
 * and 24; docs/benchmarks.md, issue 14's reading).
 */
function generateWrapper(
  t: Target,
  original: Function,
  shapes: readonly MatchShape[],
  constructible: boolean,
  onMatch: OnMatch,
  stats: StatsPath | undefined,
): Function | undefined {
  const count = paramsOf(t.original)
  const params = Array.from({ length: count }, (_, i) => `a${i}`)
  const argAt = (i: number): string => (i < count ? params[i] : `arguments[${i}]`)
  const scope: Record<string, unknown> = {
    ...GUARD_SCOPE,
    $t: t,
    $original: original,
    $busy: guard,
    $apply: apply,
    $construct: construct,
    $onMatch: onMatch,
    $stats: stats,
    $now: stats?.now,
  }
  let decls = ''
  const alternatives = shapes.map((shape, k) => {
    const parts: string[] = []
    if (shape.arity !== undefined) parts.push(shape.rest ? `n >= ${shape.arity}` : `n === ${shape.arity}`)
    shape.literals.forEach(([i, v], j) => {
      scope[`$L${k}_${j}`] = v
      parts.push(literalCheckSource(argAt(i), v, `$L${k}_${j}`))
    })
    if (shape.guard !== undefined) {
      scope[`$GK${k}`] = shape.guard.code.constants
      decls += guardFunctionSource(`$g${k}`, shape.guard.code, shape.guard.positions.length, `$GK${k}`)
      parts.push(`$g${k}(${shape.guard.positions.map(argAt).join(', ')})`)
    }
    return parts.length === 0 ? 'true' : parts.join(' && ')
  })
  const check = `$t.on === 1 && $busy[0] === 0 && ((${alternatives.join(') || (')}) || ($t.pre === 0 && n >= $t.min && n <= $t.max))`
  // The call with its arguments spelled out, which V8 turns into a direct call: the declared
  // count first, then fewer; `arguments` beyond.
  let call = '$apply($original, this, arguments)'
  for (const k of [count, ...Array.from({ length: count }, (_, i) => i)].reverse())
    call = `n === ${k} ? $apply($original, this, [${params.slice(0, k).join(', ')}]) : ${call}`
  const through = `return ${call}`
  const list = params.join(', ')
  // A call that passes the check goes to the whole matcher here (V8 inlines it, and a user's
  // predicate with it, and keeps `arguments` unallocated while it only reads it), and on to the
  // session only when it is selected.
  // Stats mode: a call (not a construction) is counted, then timed here around the call spelled out.
  const keyed = stats === undefined || stats.by < 0 ? 'undefined' : `n > ${stats.by} ? ${argAt(stats.by)} : undefined`
  const timed = (newTarget: string) =>
    stats === undefined
      ? ''
      : `if (${newTarget} === undefined) {const r = $stats.enter($t, ${keyed}); if (r !== undefined) {const s = $now(); let v;` +
        `try {v = ${call}} catch (e) {$stats.threw(r, s); throw e} $stats.done(r, v, s); return v}} else `
  const selected = (self: string, newTarget: string) =>
    `if (${check}) {const f = $t.match(arguments, n); if (f !== 0) ${timed(newTarget)}` + `return $onMatch($t, f, ${self}, arguments, ${newTarget})}`
  const body = constructible
    ? `return function (${list}) {const n = arguments.length;${selected('new.target === undefined ? this : undefined', 'new.target')}` +
      `if (new.target !== undefined) return $construct($original, arguments, new.target);${through}}`
    : `return {wrapper(${list}) {const n = arguments.length;${selected('this', 'undefined')}${through}}}.wrapper`
  const names = Object.keys(scope)
  const factory = compile('wrapper', names, `${decls};${body}`)
  if (factory === undefined) return undefined
  try {
    const w = factory(...names.map((k) => scope[k]))
    return typeof w === 'function' ? (w as Function) : undefined
  } catch {
    return undefined
  }
}

/** Put the wrapper at a site; false (and nothing changed) if the property cannot be replaced. */
export function install(site: Site, wrapper: Function): boolean {
  const { owner, key, slot, before } = site
  if (before === undefined) {
    const inherited = findDescriptor(owner, key)?.desc
    return defineProperty(owner, key, { value: wrapper, writable: inherited?.writable ?? true, enumerable: inherited?.enumerable ?? false, configurable: true })
  }
  if (slot === 'value') {
    if (before.configurable) return defineProperty(owner, key, { ...before, value: wrapper })
    return before.writable === true && defineProperty(owner, key, { value: wrapper })
  }
  return before.configurable === true && defineProperty(owner, key, { ...before, [slot]: wrapper })
}

/** Put the original back, exactly, unless the program has since replaced our wrapper itself. */
export function uninstall(site: Site, wrapper: Function): void {
  const { owner, key, slot, before } = site
  const now = getOwnDescriptor(owner, key)
  if (!now || (now as Record<string, unknown>)[slot] !== wrapper) return
  if (before === undefined) deleteProperty(owner, key)
  else if (before.configurable || slot !== 'value') defineProperty(owner, key, before)
  else defineProperty(owner, key, { value: before.value })
}

/** What a set of specs resolves to before anything is hooked. */
export interface Plan {
  /** Functions found now, with the specs (indexes) that name each. */
  found: { found: Found; module: string; spec: number }[]
  /** Files not loaded yet, and the specs waiting for them. */
  pending: Map<string, { label: string; specs: number[] }>
  /** Specs with a wildcard module, applied to every module loaded later too. */
  anyModule: number[]
  /** Builtin modules touched (their ESM named exports are resynced after hooking/restoring). */
  builtins: boolean
}

function loadedModules(): ModuleRecord[] {
  return Object.values(ModuleCtor._cache).filter((m): m is ModuleRecord => m !== undefined && m.loaded && !isOwnFile(m.filename))
}

/**
 * Where the code of a file that is not loaded itself runs, through source maps (origin.ts): a
 * spec names `./src/db.ts` and the program runs `dist/db.js`. `module`: the one CommonJS module
 * compiled from it alone (tsc), whose exports are the file's exports, loaded or still loading;
 * undefined when its code runs elsewhere (a bundle, ES modules), where no module's exports are
 * its own.
 */
export function mappedModule(filename: string, registered: Iterable<string> = []): { running: string[]; module: string | undefined } | undefined {
  if (ModuleCtor._cache[filename] !== undefined || isOwnFile(filename)) return undefined
  const required = Object.keys(ModuleCtor._cache).filter((f) => !isOwnFile(f))
  const running = runningFilesOf(filename, new Set([...required, ...registered]))
  if (running.length === 0) return undefined
  const one = running.length === 1 && ModuleCtor._cache[running[0]] !== undefined && sourcesOf(running[0]).length === 1
  return { running, module: one ? running[0] : undefined }
}

/**
 * Find what spec `i` names under `root` (a module's exports or an object) and add it to `out`.
 * Unless `quiet` (a wildcard module, where most modules lack the name), a path that names
 * nothing is reported with the names the root does have, closest first; a refused function is
 * always reported.
 */
function findIn(
  specs: readonly TraceSpec[],
  i: number,
  root: unknown,
  label: string,
  rootSite: { owner: object; key: string } | undefined,
  forbidden: ReadonlySet<object>,
  out: Plan['found'],
  problems: string[],
  quiet: boolean,
): void {
  const spec = specs[i]
  const where = `spec ${show(spec.text)}`
  if (!isObjectLike(root)) {
    if (!quiet) problems.push(`${where}: the module ${label} exports ${show(root)}, which has no functions`)
    return
  }
  const { found, error } = findFunctions(root, spec.function, rootSite)
  if (error && !quiet) {
    const names = closest(spec.function, exportedNames(root)).slice(0, 12)
    problems.push(`${where}: ${error} in ${label}; ${names.length ? `it has: ${names.join(', ')}` : 'it has no functions'}`)
  }
  for (const f of found) {
    if (forbidden.has(f.fn)) problems.push(`${where}: ${label}:${f.name} is refused: recon-trace writes its output through it`)
    else out.push({ found: f, module: label, spec: i })
  }
}

/** Resolve every spec and find what it names; push every problem. Loads nothing, runs no user code. */
export function plan(specs: readonly TraceSpec[], forbidden: ReadonlySet<object>, problems: string[], cwd?: string): Plan {
  const p: Plan = { found: [], pending: new Map(), anyModule: [], builtins: false }
  specs.forEach((spec, i) => {
    const r = resolveModule(spec.module, `spec ${show(spec.text)}`, problems, cwd)
    if (!r) return
    if (r.kind === 'object') {
      if (forbidden.has(r.target)) problems.push(`spec ${show(spec.text)}: ${r.label} is refused: recon-trace writes its output through it`)
      else findIn(specs, i, r.target, r.label, undefined, forbidden, p.found, problems, false)
    } else if (r.kind === 'builtin') {
      p.builtins = true
      const exports = requireFromCwd(`node:${r.id}`, cwd)
      findIn(specs, i, exports, r.label, undefined, forbidden, p.found, problems, false)
    } else if (r.kind === 'file') {
      // The module itself, or the one compiled from it (tsc's dist/db.js for ./src/db.ts).
      const filename = (ModuleCtor._cache[r.filename] === undefined ? mappedModule(r.filename)?.module : undefined) ?? r.filename
      const m = ModuleCtor._cache[filename]
      if (m && m.loaded) findIn(specs, i, m.exports, r.label, { owner: m, key: 'exports' }, forbidden, p.found, problems, false)
      else {
        const entry = p.pending.get(filename) ?? { label: r.label, specs: [] }
        entry.specs.push(i)
        p.pending.set(filename, entry)
      }
    } else {
      p.anyModule.push(i)
      for (const m of loadedModules()) findIn(specs, i, m.exports, labelOfFile(m.filename), { owner: m, key: 'exports' }, forbidden, p.found, problems, true)
    }
  })
  return p
}

/**
 * The runtime-wrapper installer of one trace: the wrappers in place, and the loader patch that
 * catches modules loaded later. `restore()` undoes all of it synchronously.
 */
export class Wrappers implements Installer {
  readonly kind = 'wrapper'
  readonly targets = new Map<Function, Target>()
  /** The specs that name each hooked function (a function named by several has their union). */
  private readonly specsOf = new Map<Function, Set<number>>()
  private loaderPatched = false
  private originalLoad: ((this: ModuleRecord, filename: string) => unknown) | undefined
  private patchedLoad: ((this: ModuleRecord, filename: string) => unknown) | undefined
  private builtins = false

  constructor(
    private readonly specs: readonly TraceSpec[],
    private readonly matchers: readonly Matcher[],
    private readonly onMatch: OnMatch,
    private readonly forbidden: ReadonlySet<object>,
    /** Told about problems found in modules loaded after the start. */
    private readonly onLate: (notices: string[]) => void,
    /** What `plan()` found for the specs, before anything was changed. */
    private readonly found: Plan,
    /** Stats mode: counted and timed in the generated wrapper. */
    private readonly stats?: StatsPath,
  ) {}

  /** Wrap everything found; returns how many functions were hooked. Problems: sites that cannot be replaced. */
  install(problems: string[]): number {
    const p = this.found
    this.builtins ||= p.builtins
    const n = this.wrapAll(p.found, problems)
    if (p.pending.size > 0 || p.anyModule.length > 0) this.patchLoader(p)
    if (this.builtins) ModuleCtor.syncBuiltinESMExports()
    return n
  }

  private wrapAll(list: Plan['found'], problems: string[]): number {
    let added = 0
    for (const { found: f, module, spec } of list) {
      let t = this.targets.get(f.fn)
      if (!t) {
        t = new Target(f.fn, module, f.name, this.matchers[spec])
        ;[t.min, t.max] = arityRange(this.specs[spec])
        makeWrapper(t, this.onMatch, this.stats)
        this.targets.set(f.fn, t)
        this.specsOf.set(f.fn, new Set([spec]))
        added++
      } else {
        const set = this.specsOf.get(f.fn)!
        if (!set.has(spec)) {
          set.add(spec)
          t.match = uniteMatchers([...set].map((i) => this.matchers[i]))
          t.pre = 0
          const [min, max] = arityRange(this.specs[spec])
          t.min = Math.min(t.min, min)
          t.max = Math.max(t.max, max)
        }
      }
      if (t.sites.some((s) => s.owner === f.owner && s.key === f.key && s.slot === f.slot)) continue
      const site: Site = { owner: f.owner, key: f.key, slot: f.slot, before: f.shadow ? undefined : getOwnDescriptor(f.owner, f.key) }
      if (f.shadow && !isExtensible(f.owner)) {
        problems.push(`cannot hook ${module}:${f.name}: the object is not extensible (frozen or sealed)`)
        continue
      }
      if (install(site, t.wrapper)) t.sites.push(site)
      else problems.push(`cannot hook ${module}:${f.name}: the property is read-only and not configurable`)
    }
    // A target that could not be installed anywhere is no target.
    for (const [fn, t] of this.targets) {
      if (t.sites.length === 0) {
        this.targets.delete(fn)
        added--
      }
    }
    return added
  }

  private patchLoader(p: Plan): void {
    if (this.loaderPatched) return
    this.loaderPatched = true
    const original = ModuleCtor.prototype.load
    this.originalLoad = original
    const hooks = this
    const pending = p.pending
    const anyModule = p.anyModule
    // Called once per module file, on its first load: cheap for the program, and exports are
    // complete when it returns.
    this.patchedLoad = ModuleCtor.prototype.load = function load(this: ModuleRecord, filename: string) {
      const result = apply(original, this, [filename])
      if (hooks.loaderPatched) {
        enterBusy()
        try {
          hooks.onLoaded(this, pending, anyModule)
        } catch {
          /* never into the program */
        } finally {
          leaveBusy()
        }
      }
      return result
    }
  }

  private onLoaded(m: ModuleRecord, pending: Plan['pending'], anyModule: number[]): void {
    const notices: string[] = []
    const list: Plan['found'] = []
    const site = { owner: m, key: 'exports' }
    const waiting = pending.get(m.filename)
    if (waiting) {
      pending.delete(m.filename)
      for (const i of waiting.specs) findIn(this.specs, i, m.exports, waiting.label, site, this.forbidden, list, notices, false)
    }
    if (anyModule.length > 0 && !isOwnFile(m.filename)) {
      for (const i of anyModule) findIn(this.specs, i, m.exports, labelOfFile(m.filename), site, this.forbidden, list, notices, true)
    }
    if (list.length === 0 && notices.length === 0) return
    this.wrapAll(list, notices)
    if (notices.length > 0) this.onLate(notices)
  }

  served(): string[] {
    return [...this.targets.values()].map((t) => `${t.module}:${t.name}`)
  }

  /** Remove every wrapper and the loader patch; synchronous. */
  restore(): void {
    if (this.loaderPatched) {
      this.loaderPatched = false
      // Only unpatch if nobody patched over us; otherwise our patch stays in their chain, inert.
      if (this.originalLoad && ModuleCtor.prototype.load === this.patchedLoad) ModuleCtor.prototype.load = this.originalLoad
    }
    for (const t of this.targets.values()) {
      t.on = 0
      for (let i = t.sites.length - 1; i >= 0; i--) uninstall(t.sites[i], t.wrapper)
    }
    if (this.builtins) ModuleCtor.syncBuiltinESMExports()
  }
}

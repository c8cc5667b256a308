/**
 * Bounded, immutable snapshots of traced values, taken on the traced call's hot path.
 *
 * A snapshot is what the formatter later renders: the values as they were at the moment of the
 * call (objects change afterwards), cut to documented bounds (depth, string length, collection
 * size, total number of values), with sensitive keys left out entirely.
 *
 * Capturing runs no user code (design §4): no getters (own or inherited), no Proxy traps, no
 * `toJSON`, `toString`, `valueOf`, `Symbol.toPrimitive`, custom inspect or user iterators.
 * Properties are read only through `Object.getOwnPropertyDescriptor` (data values only); proxies
 * are detected first with the native `util.types.isProxy` and never touched; Maps, Sets, Dates,
 * RegExps, typed arrays, array buffers and boxed primitives are read through intrinsics captured
 * when this module loads (so a program that later replaces `Map.prototype.entries`, say, does
 * not get it called). The few built-ins used on our own objects are captured too.
 *
 * Capturing never throws: anything unexpected yields the `[unreadable]` placeholder.
 *
 * Cost, measured on this machine (2 cores; `node bench/snapshot.mjs`, medians of 3 processes,
 * Node 20.20 / 24.21): `snapshotArgs` of a call with a short string and a plain object of 3
 * fields takes 0.30 / 0.25 µs (util.inspect of the same: 1.6 / 1.5 µs); `('a', new Queue())`
 * 0.35 / 0.28 µs; two numbers 0.05 µs; a Map of 3 entries 0.19 µs; an error with a cause
 * 0.4 / 0.5 µs; a 1 MB string about 0.15 µs (its kept prefix is copied). Array elements are the
 * dear part, about 40 ns each (V8 has no fast path for descriptors of elements, so an own
 * element is checked with the intrinsic `__lookupGetter__`/`__lookupSetter__` and then read):
 * an array of 32 numbers takes 1.4 µs.
 *
 * Enumerating the keys of an object is linear in its number of keys (`Object.keys`) and
 * JavaScript offers no bounded way to list
 * only the first few. So an object found to have more than {@link BULKY_KEYS} keys is
 * remembered (weakly): later snapshots of that same object list no keys and report only the
 * count seen the first time, which bounds the repeated cost to a WeakMap lookup. Arrays (by
 * `length`), Maps and Sets (by iterator), typed arrays and buffers are always read in time
 * bounded by the limits, whatever their size; a sparse array of length 1e9 probes at most
 * {@link HOLE_PROBES} holes (1.2 / 1.8 µs). An object of 1e5 keys seen before costs 0.14 µs
 * (util.inspect: 50-70 ms, every time).
 *
 * The kept prefix of a long string is a fresh copy, never a V8 slice of the original (which
 * would keep the whole original alive while the snapshot waits in the output queue).
 *
 * @module
 */
import { types } from 'node:util'
import { Buffer } from 'node:buffer'

/** Bounds of one snapshot. Values above the hard cap are clamped to it; negative ones and non-numbers give the default. */
export interface SnapshotLimits {
  /** Nesting levels rendered below the top value (0: only the top value's own entries). */
  depth: number
  /** Characters kept of a string (and of an object key, an error message, a RegExp source). */
  string: number
  /** Elements, entries or keys kept per array, object, Map, Set, typed array or buffer. */
  collection: number
  /** Total values captured across one snapshot call (all arguments of one call share it). */
  nodes: number
}

export const DEFAULT_SNAPSHOT_LIMITS: Readonly<SnapshotLimits> = Object.freeze({
  depth: 4,
  string: 256,
  collection: 32,
  nodes: 512,
})

export const SNAPSHOT_HARD_CAPS: Readonly<SnapshotLimits> = Object.freeze({
  depth: 16,
  string: 65536,
  collection: 10000,
  nodes: 100000,
})

/** An object with more keys than this is listed once; later snapshots of it give only its count. */
export const BULKY_KEYS = 1024
/** At most this many missing elements of an array are probed per snapshot of it. */
export const HOLE_PROBES = 64

// ---------------------------------------------------------------------------------------------
// The Snap shape
// ---------------------------------------------------------------------------------------------

/**
 * A captured value. Primitives are stored as themselves (a string only when it fits the string
 * limit); everything else is one of the {@link SnapNode} records, discriminated by `k`.
 * Snapshots are never mutated after they are built (the types are readonly; they are not frozen,
 * to keep capture cheap) and hold no reference to the traced objects.
 */
export type Snap = string | number | boolean | bigint | symbol | null | undefined | SnapNode

export type SnapNode =
  | SnapString
  | SnapObject
  | SnapArray
  | SnapHoles
  | SnapMap
  | SnapSet
  | SnapTyped
  | SnapBytes
  | SnapError
  | SnapFunction
  | SnapDate
  | SnapRegExp
  | SnapBoxed
  | SnapOpaque
  | SnapCircular
  | SnapDeep
  | SnapMark

/** A string cut to the string limit: `v` is the kept prefix, `more` the characters left out. */
export interface SnapString {
  readonly k: 'str'
  readonly v: string
  readonly more: number
}

/**
 * Properties of an object: own enumerable string keys, then own enumerable symbol keys.
 * `c` is the class name: `'Object'` for a plain object, `null` for a null-prototype object,
 * `'Module'` for a module namespace.
 * `more` counts the keys not kept; `ref` > 0 when a value inside refers back to this one.
 */
export interface SnapObject {
  readonly k: 'obj'
  readonly c: string | null
  readonly keys: readonly (string | symbol)[]
  readonly values: readonly Snap[]
  readonly more: number
  readonly ref: number
}

/** An array (or subclass, `c` its class name): `items` may contain {@link SnapHoles}; `more` counts the elements not kept. */
export interface SnapArray {
  readonly k: 'arr'
  readonly c: string
  readonly items: readonly Snap[]
  readonly length: number
  readonly more: number
  readonly ref: number
}

/** `n` consecutive missing elements of an array. */
export interface SnapHoles {
  readonly k: 'holes'
  readonly n: number
}

export interface SnapMap {
  readonly k: 'map'
  readonly c: string
  readonly keys: readonly Snap[]
  readonly values: readonly Snap[]
  readonly size: number
  readonly more: number
  readonly ref: number
}

export interface SnapSet {
  readonly k: 'set'
  readonly c: string
  readonly items: readonly Snap[]
  readonly size: number
  readonly more: number
  readonly ref: number
}

/** A typed array other than a Buffer: `c` is the intrinsic name (`'Float64Array'`). */
export interface SnapTyped {
  readonly k: 'typed'
  readonly c: string
  readonly items: readonly (number | bigint)[]
  readonly length: number
}

/** Raw bytes: a Buffer, an ArrayBuffer or a SharedArrayBuffer; `length` in bytes. */
export interface SnapBytes {
  readonly k: 'bytes'
  readonly c: 'Buffer' | 'ArrayBuffer' | 'SharedArrayBuffer'
  readonly bytes: readonly number[]
  readonly length: number
}

/**
 * An error: `name` from its (inherited) `name` data property, `c` its class name. `keys` /
 * `values` hold its own enumerable properties (not `name`, `message`, `stack`), then `cause`
 * and `errors` (AggregateError) when it has them as own data properties. The stack is never
 * read (reading it can run `Error.prepareStackTrace`).
 */
export interface SnapError {
  readonly k: 'err'
  readonly c: string | null
  readonly name: string
  readonly message: string | SnapString
  readonly keys: readonly (string | symbol)[]
  readonly values: readonly Snap[]
  readonly more: number
  readonly ref: number
}

export interface SnapFunction {
  readonly k: 'fn'
  readonly kind: 'Function' | 'AsyncFunction' | 'GeneratorFunction' | 'AsyncGeneratorFunction' | 'class'
  readonly name: string
  /** The class it extends (`class B extends A`), or ''. */
  readonly ext: string
}

/** A Date: `t` is its time value (NaN for an invalid date). */
export interface SnapDate {
  readonly k: 'date'
  readonly t: number
}

export interface SnapRegExp {
  readonly k: 're'
  readonly source: string
  readonly flags: string
}

/** A boxed primitive (`new Number(1)`): `c` the wrapper's name. */
export interface SnapBoxed {
  readonly k: 'box'
  readonly c: 'Number' | 'String' | 'Boolean' | 'BigInt' | 'Symbol'
  readonly v: Snap
}

/** An object whose contents cannot be read without user code or engine internals. */
export interface SnapOpaque {
  readonly k: 'opaque'
  readonly c: string
  readonly note: string
}

/** A reference to an enclosing value (the one whose `ref` equals this `ref`). */
export interface SnapCircular {
  readonly k: 'circ'
  readonly ref: number
}

/** An object below the depth limit: only its class name is kept (`c` null: null prototype). */
export interface SnapDeep {
  readonly k: 'deep'
  readonly c: string | null
}

/**
 * A placeholder: `redacted` (a sensitive key's value, not captured), `getter` / `setter` /
 * `getset` (an accessor property, not invoked), `proxy` (never inspected), `unreadable`
 * (capture failed), `budget` (the node budget ran out).
 */
export interface SnapMark {
  readonly k: 'mark'
  readonly m: 'redacted' | 'getter' | 'setter' | 'getset' | 'proxy' | 'unreadable' | 'budget'
}

// ---------------------------------------------------------------------------------------------
// Intrinsics, captured at load so later changes by the program are never called
// ---------------------------------------------------------------------------------------------

const {
  isProxy,
  isNativeError,
  isMap,
  isSet,
  isDate,
  isRegExp,
  isPromise,
  isWeakMap,
  isWeakSet,
  isTypedArray,
  isArrayBuffer,
  isSharedArrayBuffer,
  isDataView,
  isBoxedPrimitive,
  isNumberObject,
  isStringObject,
  isBooleanObject,
  isBigIntObject,
  isAsyncFunction,
  isGeneratorFunction,
  isModuleNamespaceObject,
} = types
const { getOwnPropertyDescriptor: gopd, getPrototypeOf, keys: objectKeys, getOwnPropertySymbols, hasOwn, freeze } = Object
const { isArray } = Array
const ObjectPrototype = Object.prototype
const ArrayPrototype = Array.prototype
const FunctionPrototype = Function.prototype
const ErrorPrototype = Error.prototype
const BufferPrototype = Buffer.prototype
const propertyIsEnumerable = ObjectPrototype.propertyIsEnumerable
type Lookup = (this: unknown, key: PropertyKey) => unknown
/** Annex B's __lookupGetter__ / __lookupSetter__ (not in TypeScript's lib): the cheap accessor test. */
const lookupGetter = gopd(ObjectPrototype, '__lookupGetter__')!.value as Lookup
const lookupSetter = gopd(ObjectPrototype, '__lookupSetter__')!.value as Lookup
const functionToString = FunctionPrototype.toString
const stringSlice = String.prototype.slice
const stringCharCodeAt = String.prototype.charCodeAt
const regexpExec = RegExp.prototype.exec
const dateGetTime = Date.prototype.getTime
const numberValueOf = Number.prototype.valueOf
const stringValueOf = String.prototype.valueOf
const booleanValueOf = Boolean.prototype.valueOf
const bigintValueOf = BigInt.prototype.valueOf
const symbolValueOf = Symbol.prototype.valueOf
const mapGet = Map.prototype.get
const mapSet = Map.prototype.set
const weakMapGet = WeakMap.prototype.get
const weakMapSet = WeakMap.prototype.set
const mapEntries = Map.prototype.entries
const setValues = Set.prototype.values
const mapIterNext = getPrototypeOf(new Map().entries()).next as (this: unknown) => IteratorResult<[unknown, unknown]>
const setIterNext = getPrototypeOf(new Set().values()).next as (this: unknown) => IteratorResult<unknown>
const U8 = Uint8Array
const EMPTY: readonly never[] = freeze([])
const mark = (m: SnapMark['m']): SnapMark => freeze({ k: 'mark' as const, m })
const REDACTED = mark('redacted')
const GETTER = mark('getter')
const SETTER = mark('setter')
const GETSET = mark('getset')
const PROXY = mark('proxy')
const UNREADABLE = mark('unreadable')
const BUDGET = mark('budget')

type Getter<T> = (this: unknown) => T
function getterOf<T>(proto: object, key: PropertyKey): Getter<T> {
  return gopd(proto, key)!.get as Getter<T>
}
const mapSize = getterOf<number>(Map.prototype, 'size')
const setSize = getterOf<number>(Set.prototype, 'size')
const TypedArrayPrototype = getPrototypeOf(Uint8Array.prototype) as object
const typedLength = getterOf<number>(TypedArrayPrototype, 'length')
const typedTag = getterOf<string>(TypedArrayPrototype, Symbol.toStringTag)
const arrayBufferByteLength = getterOf<number>(ArrayBuffer.prototype, 'byteLength')
const sharedByteLength = getterOf<number>(SharedArrayBuffer.prototype, 'byteLength')
const dataViewByteLength = getterOf<number>(DataView.prototype, 'byteLength')
const dataViewByteOffset = getterOf<number>(DataView.prototype, 'byteOffset')
const regexpSource = getterOf<string>(RegExp.prototype, 'source')
/** The flag getters read internal slots only (the `flags` getter would call user getters). */
const regexpFlags: readonly (readonly [string, Getter<boolean>])[] = (
  [
    ['d', 'hasIndices'],
    ['g', 'global'],
    ['i', 'ignoreCase'],
    ['m', 'multiline'],
    ['s', 'dotAll'],
    ['u', 'unicode'],
    ['v', 'unicodeSets'],
    ['y', 'sticky'],
  ] as const
)
  .filter(([, name]) => gopd(RegExp.prototype, name)?.get !== undefined)
  .map(([ch, name]) => [ch, getterOf<boolean>(RegExp.prototype, name)] as const)

// ---------------------------------------------------------------------------------------------
// Redaction
// ---------------------------------------------------------------------------------------------

/** Key names redacted by default, compared after removing `-`, `_` and white space, ignoring case. */
export const DEFAULT_SENSITIVE_KEYS: readonly string[] = Object.freeze(['password', 'passwd', 'secret', 'token', 'authorization', 'cookie', 'apikey'])

const REDACT_CACHE_SIZE = 2048
const REDACT_CACHE_KEY_LENGTH = 256

/**
 * A redaction test built once per trace from the default sensitive names plus the user's list.
 * A key is sensitive when, ignoring case, `-`, `_` and white space, it contains one of the names:
 * `accessToken`, `x-api-key`, `set-cookie`, `client_secret` all match. Results are cached per key
 * (bounded), so the usual cost on the hot path is one Map lookup.
 */
export function makeRedactor(extra?: readonly string[]): (key: string) => boolean {
  const names = new Set<string>()
  for (const name of [...DEFAULT_SENSITIVE_KEYS, ...(extra ?? [])]) {
    if (typeof name !== 'string') continue
    const norm = name.toLowerCase().replace(/[-_\s]/g, '')
    if (norm !== '') names.add(norm)
  }
  // Each name becomes a pattern allowing separators between its letters, which is the same as
  // removing them from the key first, without building a normalised copy of every key.
  const source = [...names].map((n) => Array.from(n, (ch) => ch.replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&')).join('[-_\\s]*')).join('|')
  const re = new RegExp(source, 'i')
  const cache = new Map<string, boolean>()
  let cached = 0
  return (key: string): boolean => {
    let hit = mapGet.call(cache, key) as boolean | undefined
    if (hit === undefined) {
      hit = regexpExec.call(re, key) !== null
      if (cached < REDACT_CACHE_SIZE && key.length <= REDACT_CACHE_KEY_LENGTH) {
        mapSet.call(cache, key, hit)
        cached++
      }
    }
    return hit
  }
}

// ---------------------------------------------------------------------------------------------
// Capture state: one snapshot call at a time (capture runs no user code, so it cannot re-enter)
// ---------------------------------------------------------------------------------------------

let budget = 0
let maxDepth = DEFAULT_SNAPSHOT_LIMITS.depth
let maxString = DEFAULT_SNAPSHOT_LIMITS.string
let maxItems = DEFAULT_SNAPSHOT_LIMITS.collection
const NEVER = (): boolean => false
let redactKey: (key: string) => boolean = NEVER
let refCount = 0
/** The objects being captured, outermost first, to detect cycles; cleared as capture returns. */
const pathObjects: (object | undefined)[] = []
/** The cycle reference number given to each of them (0: none yet). */
const pathRefs: number[] = []
let pathLength = 0

/** Objects found with more than BULKY_KEYS keys, and how many they had. */
const bulky = new WeakMap<object, number>()
let bulkySeen = false

function clampLimit(v: unknown, def: number, cap: number): number {
  if (typeof v !== 'number' || !(v >= 0)) return def
  return v >= cap ? cap : v - (v % 1)
}

function begin(limits: SnapshotLimits, redact: (key: string) => boolean): void {
  const d = DEFAULT_SNAPSHOT_LIMITS
  const c = SNAPSHOT_HARD_CAPS
  maxDepth = clampLimit(limits?.depth, d.depth, c.depth)
  maxString = clampLimit(limits?.string, d.string, c.string)
  maxItems = clampLimit(limits?.collection, d.collection, c.collection)
  budget = clampLimit(limits?.nodes, d.nodes, c.nodes)
  redactKey = typeof redact === 'function' ? redact : NEVER
  refCount = 0
  pathLength = 0
}

/** Drop every reference to the traced values and to the trace's redactor. */
function end(): void {
  for (let i = 0; i < pathObjects.length; i++) pathObjects[i] = undefined
  pathLength = 0
  redactKey = NEVER
}

/** Snapshot of every argument of one call; one node budget shared by all of them. */
export function snapshotArgs(args: ArrayLike<unknown>, limits: SnapshotLimits, redact: (key: string) => boolean): Snap[] {
  const n = args.length
  // Sized once: an empty literal grows to 17 slots at its first element, 120 bytes more per
  // queued call of two arguments (bench/traced.mjs small-10k). Not for a call of thousands of
  // arguments (`f.apply(null, big)`), of which the node budget keeps a few.
  return snapshotArgsInto(n <= 16 ? new Array<Snap>(n) : [], args, limits, redact)
}

/**
 * `snapshotArgs` into a list of the caller's (one the output had written: bench/message-bytes.mjs),
 * whose length becomes the number of arguments kept.
 */
export function snapshotArgsInto(out: Snap[], args: ArrayLike<unknown>, limits: SnapshotLimits, redact: (key: string) => boolean): Snap[] {
  const n = args.length
  let i = 0
  try {
    begin(limits, redact)
    // When the budget runs out the list is shorter than the call's arity; the formatter says so.
    for (; i < n && budget > 0; i++) out[i] = capture(args[i], 0)
  } catch {
    out[i++] = UNREADABLE
  } finally {
    end()
  }
  if (out.length !== i) out.length = i
  return out
}

/** Snapshot of one value (a result, or a single argument). */
export function snapshot(value: unknown, limits: SnapshotLimits, redact: (key: string) => boolean): Snap {
  try {
    begin(limits, redact)
    return budget > 0 ? capture(value, 0) : BUDGET
  } catch {
    return UNREADABLE
  } finally {
    end()
  }
}

// ---------------------------------------------------------------------------------------------
// Capture
// ---------------------------------------------------------------------------------------------

function capture(v: unknown, level: number): Snap {
  switch (typeof v) {
    case 'string':
      budget--
      return v.length > maxString ? cutString(v) : v
    case 'object':
      if (v === null) {
        budget--
        return null
      }
      return captureObject(v, level)
    case 'function':
      return captureObject(v, level)
    default:
      // number, boolean, undefined, bigint, symbol: immutable, stored as themselves
      budget--
      return v as Snap
  }
}

/**
 * A prefix of `s` that does not keep `s` alive. `slice` makes a V8 sliced string that points
 * into its parent, so a queued snapshot of a 1 MB argument would pin the whole megabyte (200
 * of them pinned 200 MB here). Prepending a character builds a cons string; slicing that
 * flattens it into a fresh copy of just the prefix, releasing the parent; paid only when a
 * string is cut (bench/snapshot.mjs, the 1 MB string).
 */
function detachedPrefix(s: string, n: number): string {
  return stringSlice.call(' ' + stringSlice.call(s, 0, n), 1)
}

/** Keep `maxString` characters (one fewer rather than split a surrogate pair). */
function cutString(s: string): SnapString {
  let n = maxString
  if (n > 0) {
    const last = stringCharCodeAt.call(s, n - 1)
    if (last >= 0xd800 && last <= 0xdbff) n--
  }
  return { k: 'str', v: detachedPrefix(s, n), more: s.length - n }
}

function cutKey(k: string): string {
  return k.length > maxString ? `${detachedPrefix(k, maxString)}...` : k
}

function captureObject(o: object, level: number): Snap {
  budget--
  if (isProxy(o)) return PROXY
  for (let i = 0; i < pathLength; i++) {
    if (pathObjects[i] === o) {
      let ref = pathRefs[i]
      if (ref === 0) ref = pathRefs[i] = ++refCount
      return { k: 'circ', ref }
    }
  }
  const savedPath = pathLength
  try {
    if (typeof o === 'function') return captureFunction(o as (...a: unknown[]) => unknown)
    const proto = getPrototypeOf(o) as object | null
    // A plain object or array: the usual argument, so checked first and cheaply. (An arguments
    // object also has Object.prototype: it prints as the object it is, `{ '0': 1 }`.)
    if (proto === ObjectPrototype) {
      return level > maxDepth ? deep('Object') : captureProps(o, 'Object', level)
    }
    if (proto === ArrayPrototype && isArray(o)) {
      return level > maxDepth ? deep('Array') : captureArray(o as unknown[], 'Array', level)
    }
    return captureOther(o, proto, level)
  } catch {
    for (let i = savedPath; i < pathLength; i++) pathObjects[i] = undefined
    pathLength = savedPath
    return UNREADABLE
  }
}

function deep(c: string | null): SnapDeep {
  return { k: 'deep', c }
}

function enter(o: object): number {
  const at = pathLength++
  pathObjects[at] = o
  pathRefs[at] = 0
  return at
}

function leave(at: number): number {
  pathObjects[at] = undefined
  pathLength = at
  return pathRefs[at]
}

/** One own property, read through its descriptor; accessors are reported, never invoked. */
function readOwn(o: object, key: string | symbol | number, level: number): Snap {
  const d = gopd(o, key)
  if (d === undefined) {
    budget--
    return UNREADABLE
  }
  const { get, set } = d
  if (get === undefined && set === undefined) return capture(d.value, level)
  budget--
  return get === undefined ? SETTER : set === undefined ? GETTER : GETSET
}

/** An own property under a string key: redacted (not read at all) when the key is sensitive. */
function readKey(o: object, key: string, level: number): Snap {
  if (!redactKey(key)) return readOwn(o, key, level)
  budget--
  return REDACTED
}

/** Own enumerable properties of an ordinary object (string keys, then symbol keys). */
function captureProps(o: object, c: string | null, level: number): SnapObject {
  if (bulkySeen) {
    const n = weakMapGet.call(bulky, o) as number | undefined
    if (n !== undefined) return { k: 'obj', c, keys: EMPTY, values: EMPTY, more: n, ref: 0 }
  }
  const names = objectKeys(o)
  const symbols = getOwnPropertySymbols(o)
  let total = names.length
  if (total > BULKY_KEYS) {
    weakMapSet.call(bulky, o, total)
    bulkySeen = true
  }
  const keys: (string | symbol)[] = []
  const values: Snap[] = []
  let shown = 0
  const at = enter(o)
  for (let i = 0; i < names.length && shown < maxItems && budget > 0; i++) {
    const key = names[i]
    keys[shown] = cutKey(key)
    values[shown++] = readKey(o, key, level + 1)
  }
  for (let i = 0; i < symbols.length; i++) {
    const sym = symbols[i]
    if (!propertyIsEnumerable.call(o, sym)) continue
    total++
    if (shown < maxItems && budget > 0) {
      keys[shown] = sym
      values[shown++] = readOwn(o, sym, level + 1)
    }
  }
  const ref = leave(at)
  return { k: 'obj', c, keys, values, more: total - shown, ref }
}

function captureArray(a: readonly unknown[], c: string, level: number): SnapArray {
  const length = a.length // an Array's own, non-configurable data property
  const items: Snap[] = []
  let shown = 0
  let i = 0
  let probes = HOLE_PROBES
  const at = enter(a)
  while (i < length && shown < maxItems && budget > 0) {
    if (!hasOwn(a, i)) {
      // A run of holes (reading one would consult the prototype chain), up to the probe allowance.
      let j = i + 1
      while (j < length && probes > 0 && !hasOwn(a, j)) {
        j++
        probes--
      }
      budget--
      items[shown++] = { k: 'holes', n: j - i }
      i = j
      if (probes <= 0) break
      continue
    }
    // An own element: a data property unless it has a getter or a setter. These two lookups stop
    // at the own property, cheaper together than a descriptor of an element, for which V8 has
    // no fast path (bench/snapshot.mjs, the array of 32 numbers).
    const get: unknown = lookupGetter.call(a, i)
    const set: unknown = lookupSetter.call(a, i)
    if (get === undefined && set === undefined) {
      items[shown++] = capture(a[i], level + 1)
    } else {
      budget--
      items[shown++] = get === undefined ? SETTER : set === undefined ? GETTER : GETSET
    }
    i++
  }
  const ref = leave(at)
  return { k: 'arr', c, items, length, more: length - i, ref }
}

// What an object is, decided once per prototype (see ProtoInfo).
enum Kind {
  Object,
  Array,
  Error,
  Typed,
  Map,
  Set,
  Date,
  RegExp,
  Promise,
  WeakMap,
  WeakSet,
  ArrayBuffer,
  SharedArrayBuffer,
  DataView,
  Boxed,
  Module,
}

/**
 * The class name and kind of the objects having one prototype. Telling them apart takes a
 * dozen native brand checks and the class name two descriptor reads, so both are remembered per prototype (weakly) and a later object with the same prototype
 * costs one WeakMap lookup. Objects sharing a prototype share their kind in practice; one that
 * does not (a Map given a plain class's prototype with `Object.setPrototypeOf`) is rendered as
 * that kind would be: the intrinsics used to read it then throw, which gives `[unreadable]`,
 * never a call of user code. Arrays are always checked with `Array.isArray`, since their
 * `length` is read directly.
 */
interface ProtoInfo {
  readonly c: string | null | undefined
  readonly kind: Kind
}
const protoInfo = new WeakMap<object, ProtoInfo>()

function classify(o: object, proto: object | null): Kind {
  if (isArray(o)) return Kind.Array
  if (isNativeError(o) || inheritsFrom(proto, ErrorPrototype)) return Kind.Error
  if (isTypedArray(o)) return Kind.Typed
  if (isMap(o)) return Kind.Map
  if (isSet(o)) return Kind.Set
  if (isDate(o)) return Kind.Date
  if (isRegExp(o)) return Kind.RegExp
  if (isPromise(o)) return Kind.Promise
  if (isWeakMap(o)) return Kind.WeakMap
  if (isWeakSet(o)) return Kind.WeakSet
  if (isArrayBuffer(o)) return Kind.ArrayBuffer
  if (isSharedArrayBuffer(o)) return Kind.SharedArrayBuffer
  if (isDataView(o)) return Kind.DataView
  if (isBoxedPrimitive(o)) return Kind.Boxed
  if (isModuleNamespaceObject(o)) return Kind.Module
  return Kind.Object
}

/** Everything that is neither a plain object nor a plain array (nor a proxy, nor a function). */
function captureOther(o: object, proto: object | null, level: number): Snap {
  let info = proto === null ? undefined : (weakMapGet.call(protoInfo, proto) as ProtoInfo | undefined)
  if (info === undefined) {
    info = { c: className(proto), kind: classify(o, proto) }
    if (proto !== null) weakMapSet.call(protoInfo, proto, info)
  }
  const c = info.c
  switch (isArray(o) ? Kind.Array : info.kind === Kind.Array ? Kind.Object : info.kind) {
    case Kind.Array:
      return level > maxDepth ? deep(c ?? 'Array') : captureArray(o as unknown[], c ?? 'Array', level)
    case Kind.Error:
      return captureError(o, c, level)
    case Kind.Typed:
      return level > maxDepth ? deep(typedTag.call(o)) : captureTyped(o, proto)
    case Kind.Map:
      return level > maxDepth ? deep(c ?? 'Map') : captureMap(o, c ?? 'Map', level)
    case Kind.Set:
      return level > maxDepth ? deep(c ?? 'Set') : captureSet(o, c ?? 'Set', level)
    case Kind.Date:
      return { k: 'date', t: dateGetTime.call(o) }
    case Kind.RegExp:
      return captureRegExp(o)
    case Kind.Promise:
      return { k: 'opaque', c: c ?? 'Promise', note: '' }
    case Kind.WeakMap:
      return { k: 'opaque', c: c ?? 'WeakMap', note: '<items unknown>' }
    case Kind.WeakSet:
      return { k: 'opaque', c: c ?? 'WeakSet', note: '<items unknown>' }
    case Kind.ArrayBuffer:
      return level > maxDepth ? deep('ArrayBuffer') : captureBuffer(o, 'ArrayBuffer', arrayBufferByteLength.call(o))
    case Kind.SharedArrayBuffer:
      return level > maxDepth ? deep('SharedArrayBuffer') : captureBuffer(o, 'SharedArrayBuffer', sharedByteLength.call(o))
    case Kind.DataView:
      budget -= 2
      return {
        k: 'obj',
        c: 'DataView',
        keys: ['byteLength', 'byteOffset'],
        values: [dataViewByteLength.call(o), dataViewByteOffset.call(o)],
        more: 0,
        ref: 0,
      }
    case Kind.Boxed:
      return captureBoxed(o)
    case Kind.Module:
      return level > maxDepth ? deep('Module') : captureProps(o, 'Module', level)
    default: {
      const cls = c === undefined ? 'Object' : c
      return level > maxDepth ? deep(cls) : captureProps(o, cls, level)
    }
  }
}

/**
 * The name of the nearest constructor on the prototype chain, read through descriptors (data
 * properties only; a non-empty string name); null when the chain ends without one (null
 * prototype); undefined when a proxy in the chain (never looked into) hides it.
 */
function className(proto: object | null): string | null | undefined {
  for (let i = 0; proto !== null && i < 64; i++) {
    if (isProxy(proto)) return undefined
    const d = gopd(proto, 'constructor')
    if (d !== undefined) {
      const ctor: unknown = d.value
      if (typeof ctor === 'function' && !isProxy(ctor)) {
        const nd = gopd(ctor, 'name')
        if (nd !== undefined && typeof nd.value === 'string' && nd.value !== '') return cutKey(nd.value)
      }
    }
    proto = getPrototypeOf(proto) as object | null
  }
  return proto === null ? null : undefined
}

function inheritsFrom(proto: object | null, target: object): boolean {
  for (let i = 0; proto !== null && i < 64; i++) {
    if (proto === target) return true
    if (isProxy(proto)) return false
    proto = getPrototypeOf(proto) as object | null
  }
  return false
}

/** A data property found on the object or its prototypes, if it is a string. */
function inheritedString(o: object, key: string): string | undefined {
  let p: object | null = o
  for (let i = 0; p !== null && i < 64; i++) {
    if (isProxy(p)) return undefined
    const d = gopd(p, key)
    if (d !== undefined) return typeof d.value === 'string' ? d.value : undefined
    p = getPrototypeOf(p) as object | null
  }
  return undefined
}

function captureError(o: object, cls: string | null | undefined, level: number): SnapError {
  const c = cls ?? null
  const name = inheritedString(o, 'name') ?? c ?? 'Error'
  const rawMessage = inheritedString(o, 'message') ?? ''
  const message = rawMessage.length > maxString ? cutString(rawMessage) : rawMessage
  if (level > maxDepth) return { k: 'err', c, name, message, keys: EMPTY, values: EMPTY, more: 0, ref: 0 }
  const keys: (string | symbol)[] = []
  const values: Snap[] = []
  let shown = 0
  let total = 0
  const at = enter(o)
  const names = objectKeys(o)
  let sawCause = false
  let sawErrors = false
  for (let i = 0; i < names.length; i++) {
    const key = names[i]
    if (key === 'name' || key === 'message' || key === 'stack') continue
    if (key === 'cause') sawCause = true
    else if (key === 'errors') sawErrors = true
    total++
    if (shown >= maxItems || budget <= 0) continue
    keys[shown] = cutKey(key)
    values[shown++] = readKey(o, key, level + 1)
  }
  // `cause` and AggregateError's `errors` are own but not enumerable.
  if (!sawCause && hasOwn(o, 'cause')) {
    total++
    if (shown < maxItems && budget > 0) {
      keys[shown] = 'cause'
      values[shown++] = readOwn(o, 'cause', level + 1)
    }
  }
  if (!sawErrors && hasOwn(o, 'errors')) {
    total++
    if (shown < maxItems && budget > 0) {
      keys[shown] = 'errors'
      values[shown++] = readOwn(o, 'errors', level + 1)
    }
  }
  const ref = leave(at)
  return { k: 'err', c, name, message, keys, values, more: total - shown, ref }
}

/** The source text of a class (util.inspect tells classes from functions the same way). */
const CLASS_SOURCE = /^class(?![\w$])/

function captureFunction(f: (...a: unknown[]) => unknown): SnapFunction {
  const nd = gopd(f, 'name')
  const name = nd !== undefined && typeof nd.value === 'string' ? cutKey(nd.value) : ''
  if (isAsyncFunction(f)) {
    return { k: 'fn', kind: isGeneratorFunction(f) ? 'AsyncGeneratorFunction' : 'AsyncFunction', name, ext: '' }
  }
  if (isGeneratorFunction(f)) return { k: 'fn', kind: 'GeneratorFunction', name, ext: '' }
  // The intrinsic toString returns the source text (a slice of the script, not a copy).
  const src = functionToString.call(f)
  if (regexpExec.call(CLASS_SOURCE, src) !== null) {
    let ext = ''
    const parent = getPrototypeOf(f) as unknown
    if (typeof parent === 'function' && parent !== FunctionPrototype && !isProxy(parent)) {
      const pd = gopd(parent, 'name')
      if (pd !== undefined && typeof pd.value === 'string') ext = cutKey(pd.value)
    }
    return { k: 'fn', kind: 'class', name, ext }
  }
  return { k: 'fn', kind: 'Function', name, ext: '' }
}

function captureTyped(o: object, proto: object | null): SnapTyped | SnapBytes {
  const length = typedLength.call(o)
  const n = length < maxItems ? length : maxItems
  const view = o as unknown as ArrayLike<number | bigint>
  // Integer-indexed reads of a typed array never consult the prototype chain.
  if (proto === BufferPrototype) {
    const bytes: number[] = []
    for (let i = 0; i < n; i++) bytes[i] = view[i] as number
    budget -= n
    return { k: 'bytes', c: 'Buffer', bytes, length }
  }
  const items: (number | bigint)[] = []
  for (let i = 0; i < n; i++) items[i] = view[i]
  budget -= n
  return { k: 'typed', c: typedTag.call(o), items, length }
}

function captureBuffer(o: object, c: 'ArrayBuffer' | 'SharedArrayBuffer', length: number): SnapBytes {
  const n = length < maxItems ? length : maxItems
  const bytes: number[] = []
  if (n > 0) {
    const view = new U8(o as ArrayBuffer, 0, n)
    for (let i = 0; i < n; i++) bytes[i] = view[i]
  }
  budget -= n
  return { k: 'bytes', c, bytes, length }
}

function captureMap(o: object, c: string, level: number): SnapMap {
  const size = mapSize.call(o)
  const keys: Snap[] = []
  const values: Snap[] = []
  let shown = 0
  const at = enter(o)
  const it = mapEntries.call(o as Map<unknown, unknown>)
  while (shown < maxItems && budget > 0) {
    const r = mapIterNext.call(it)
    if (r.done === true) break
    const pair = r.value
    const key = pair[0]
    keys[shown] = capture(key, level + 1)
    if (typeof key === 'string' && redactKey(key)) {
      budget--
      values[shown++] = REDACTED
    } else {
      values[shown++] = capture(pair[1], level + 1)
    }
  }
  const ref = leave(at)
  return { k: 'map', c, keys, values, size, more: size - shown, ref }
}

function captureSet(o: object, c: string, level: number): SnapSet {
  const size = setSize.call(o)
  const items: Snap[] = []
  let shown = 0
  const at = enter(o)
  const it = setValues.call(o as Set<unknown>)
  while (shown < maxItems && budget > 0) {
    const r = setIterNext.call(it)
    if (r.done === true) break
    items[shown++] = capture(r.value, level + 1)
  }
  const ref = leave(at)
  return { k: 'set', c, items, size, more: size - shown, ref }
}

function captureRegExp(o: object): SnapRegExp {
  const src = regexpSource.call(o)
  let flags = ''
  for (let i = 0; i < regexpFlags.length; i++) {
    const [ch, get] = regexpFlags[i]
    if (get.call(o)) flags += ch
  }
  return { k: 're', source: src.length > maxString ? cutKey(src) : src, flags }
}

function captureBoxed(o: object): SnapBoxed {
  if (isNumberObject(o)) return { k: 'box', c: 'Number', v: numberValueOf.call(o) }
  if (isStringObject(o)) {
    const s = stringValueOf.call(o)
    return { k: 'box', c: 'String', v: s.length > maxString ? cutString(s) : s }
  }
  if (isBooleanObject(o)) return { k: 'box', c: 'Boolean', v: booleanValueOf.call(o) }
  if (isBigIntObject(o)) return { k: 'box', c: 'BigInt', v: bigintValueOf.call(o) }
  return { k: 'box', c: 'Symbol', v: symbolValueOf.call(o) }
}

import { describe, it, expect, afterEach } from 'vitest'
import * as util from 'node:util'
import {
  BULKY_KEYS,
  DEFAULT_SNAPSHOT_LIMITS,
  SNAPSHOT_HARD_CAPS,
  makeRedactor,
  snapshot,
  snapshotArgs,
  snapshotArgsInto,
  type Snap,
  type SnapObject,
  type SnapshotLimits,
} from '../src/snapshot.js'
import { renderValue } from '../src/format.js'

const L = DEFAULT_SNAPSHOT_LIMITS
const redact = makeRedactor()
const snap = (v: unknown, limits: Partial<SnapshotLimits> = {}, r = redact): Snap => snapshot(v, { ...L, ...limits }, r)
const show = (v: unknown, limits: Partial<SnapshotLimits> = {}, r = redact): string => renderValue(snap(v, limits, r))

class Queue {
  front: unknown[] = []
  back: unknown[] = []
}

/** Restore whatever a test patched on a built-in prototype. */
const restores: (() => void)[] = []
function patch(target: object, key: PropertyKey, desc: PropertyDescriptor): void {
  const old = Object.getOwnPropertyDescriptor(target, key)
  Object.defineProperty(target, key, { configurable: true, ...desc })
  restores.push(() => {
    if (old) Object.defineProperty(target, key, old)
    else delete (target as Record<PropertyKey, unknown>)[key]
  })
}
function restoreAll(): void {
  while (restores.length > 0) restores.pop()!()
}
afterEach(restoreAll)

describe('primitives', () => {
  it('stores primitives as themselves', () => {
    const sym = Symbol('s')
    expect(snapshotArgs(['a', 1, true, null, undefined, 10n, sym], L, redact)).toEqual(['a', 1, true, null, undefined, 10n, sym])
  })

  it('keeps negative zero and NaN', () => {
    const [z, n] = snapshotArgs([-0, NaN], L, redact)
    expect(Object.is(z, -0)).toBe(true)
    expect(Number.isNaN(n)).toBe(true)
  })

  it('cuts a long string to the string limit and counts the rest', () => {
    expect(snap('x'.repeat(300))).toEqual({ k: 'str', v: 'x'.repeat(256), more: 44 })
    expect(show('abcdef', { string: 3 })).toBe("'abc'... 3 more characters")
  })

  it('does not split a surrogate pair when cutting', () => {
    expect(snap('ab😀cd', { string: 3 })).toEqual({ k: 'str', v: 'ab', more: 4 })
  })
})

describe('runs no user code', () => {
  it('reports own accessors without invoking them', () => {
    let calls = 0
    const o = {
      get a() {
        calls++
        return 1
      },
      set b(_v: unknown) {
        calls++
      },
      get c() {
        calls++
        return 1
      },
      set c(_v: unknown) {
        calls++
      },
    }
    expect(show(o)).toBe('{ a: [Getter], b: [Setter], c: [Getter/Setter] }')
    expect(calls).toBe(0)
  })

  it('reports accessor elements of an array without invoking them', () => {
    let calls = 0
    const a = [1, 2]
    Object.defineProperty(a, 1, { get: () => ++calls, enumerable: true })
    expect(show(a)).toBe('[1, [Getter]]')
    expect(calls).toBe(0)
  })

  it('never reads a hole through the prototype chain', () => {
    let traps = 0
    const a = [1, , 3]
    Object.setPrototypeOf(a, new Proxy(Array.prototype, new Proxy({}, { get: () => void traps++ })))
    expect(show(a)).toBe('[1, <1 empty item>, 3]')
    expect(traps).toBe(0)
  })

  it('does not call inherited getters, toJSON, toString, valueOf, toPrimitive or custom inspect', () => {
    let calls = 0
    class Sneaky {
      x = 1
      get y() {
        return ++calls
      }
      toJSON() {
        return ++calls
      }
      toString() {
        return String(++calls)
      }
      valueOf() {
        return ++calls
      }
      [Symbol.toPrimitive]() {
        return ++calls
      }
      [util.inspect.custom]() {
        return ++calls
      }
    }
    expect(show(new Sneaky())).toBe('Sneaky { x: 1 }')
    expect(calls).toBe(0)
  })

  it('renders a proxy as [Proxy] without triggering any trap', () => {
    let traps = 0
    // Every trap lookup on the handler counts, whether or not it would be defined.
    const handler = new Proxy({}, { get: () => void traps++ })
    const p = new Proxy({ a: 1 }, handler)
    expect(show(p)).toBe('[Proxy]')
    expect(show({ p, list: [p], m: new Map([[p, p]]) })).toBe('{ p: [Proxy], list: [[Proxy]], m: Map(1) { [Proxy] => [Proxy] } }')
    expect(traps).toBe(0)
  })

  it('renders a revoked proxy as [Proxy] without throwing', () => {
    const { proxy, revoke } = Proxy.revocable({}, {})
    revoke()
    expect(show(proxy)).toBe('[Proxy]')
    expect(show(Proxy.revocable(() => {}, {}).proxy)).toBe('[Proxy]')
  })

  it('does not trap a proxy in the prototype chain while looking for the class name', () => {
    let traps = 0
    const handler = new Proxy({}, { get: () => void traps++ })
    const o = Object.create(new Proxy({}, handler))
    Object.defineProperty(o, 'a', { value: 1, enumerable: true })
    expect(show(o)).toBe('{ a: 1 }')
    const e = Object.create(new Proxy(Error.prototype, handler))
    snap(e)
    expect(traps).toBe(0)
  })

  it('does not call a user override of Map.prototype.entries, Map iterators or the size getter', () => {
    let calls = 0
    const m = new Map<unknown, unknown>([['a', 1], ['b', { c: 2 }]])
    const iterProto = Object.getPrototypeOf(new Map().entries())
    patch(Map.prototype, 'entries', { value: () => { calls++; return [][Symbol.iterator]() } })
    patch(Map.prototype, Symbol.iterator, { value: () => { calls++; return [][Symbol.iterator]() } })
    patch(Map.prototype, 'forEach', { value: () => { calls++ } })
    patch(Map.prototype, 'size', { get: () => ++calls })
    patch(iterProto, 'next', { value: () => { calls++; return { done: true, value: undefined } } })
    expect(show(m)).toBe("Map(2) { 'a' => 1, 'b' => { c: 2 } }")
    expect(calls).toBe(0)
  })

  it('does not call a user override of Set.prototype.values or a subclass iterator', () => {
    let calls = 0
    class Bag extends Set<number> {}
    for (const key of [Symbol.iterator, 'values', 'entries', 'forEach']) {
      Object.defineProperty(Bag.prototype, key, { value: () => { calls++; return [][Symbol.iterator]() } })
    }
    patch(Set.prototype, 'values', { value: () => { calls++; return [][Symbol.iterator]() } })
    expect(show(new Bag([1, 2]))).toBe('Bag(2) { 1, 2 }')
    expect(calls).toBe(0)
  })

  it('reads Dates, RegExps and boxed primitives through intrinsics, not their (overridden) methods', () => {
    let calls = 0
    patch(Date.prototype, 'getTime', { value: () => ++calls })
    patch(Date.prototype, 'toISOString', { value: () => String(++calls) })
    patch(RegExp.prototype, 'flags', { get: () => String(++calls) })
    patch(RegExp.prototype, 'source', { get: () => String(++calls) })
    patch(Number.prototype, 'valueOf', { value: () => ++calls })
    patch(String.prototype, 'valueOf', { value: () => String(++calls) })
    const re = /a\/b/gi
    Object.defineProperty(re, 'global', { get: () => ++calls })
    const rendered = snapshotArgs([new Date(0), re, Object(3), Object('s')], L, redact).map((s) => renderValue(s))
    restoreAll() // before expect() gets to use the patched built-ins
    expect(rendered).toEqual(['1970-01-01T00:00:00.000Z', '/a\\/b/gi', '[Number: 3]', "[String: 's']"])
    expect(calls).toBe(0)
  })

  it('does not call a typed array subclass length getter', () => {
    let calls = 0
    class Bytes extends Uint8Array {}
    Object.defineProperty(Bytes.prototype, 'length', { get: () => ++calls })
    expect(show(new Bytes([1, 2, 3]))).toBe('Uint8Array(3) [1, 2, 3]')
    expect(calls).toBe(0)
  })

  it('does not call a constructor getter or a static name getter for the class name', () => {
    let calls = 0
    class Named {
      static get name(): string {
        calls++
        return 'Nope'
      }
    }
    const o = Object.create({
      get constructor() {
        calls++
        return Named
      },
    })
    o.a = 1
    expect(show(o)).toBe('{ a: 1 }')
    const n = new Named()
    expect(show(n)).toBe('{}')
    expect(calls).toBe(0)
  })

  it('never reads an error stack, so Error.prepareStackTrace is not called', () => {
    let calls = 0
    const saved = Error.prepareStackTrace
    Error.prepareStackTrace = () => {
      calls++
      return 'stack'
    }
    try {
      const e = new Error('boom')
      expect(show(e)).toBe('[Error: boom]')
      expect(calls).toBe(0)
    } finally {
      Error.prepareStackTrace = saved
    }
  })

  it('does not invoke getters for the error name and message', () => {
    let calls = 0
    class Weird extends Error {}
    Object.defineProperty(Weird.prototype, 'message', { get: () => String(++calls) })
    Object.defineProperty(Weird.prototype, 'name', { get: () => String(++calls) })
    const s = snap(new Weird())
    expect(calls).toBe(0)
    // The name is an accessor, so the class name stands in for it.
    expect(s).toMatchObject({ k: 'err', c: 'Weird', name: 'Weird', message: '' })
  })
})

describe('objects', () => {
  it('names class instances from their prototype', () => {
    expect(show(new Queue())).toBe('Queue { front: [], back: [] }')
  })

  it('renders null-prototype objects as such', () => {
    expect(show(Object.assign(Object.create(null), { x: 1 }))).toBe('[Object: null prototype] { x: 1 }')
    expect(snap(Object.create(Object.create(null)))).toMatchObject({ k: 'obj', c: null })
  })

  it('lists enumerable symbol keys after string keys and skips non-enumerable ones', () => {
    const o: Record<PropertyKey, unknown> = { [Symbol('k')]: 1, 'a b': 2 }
    Object.defineProperty(o, 'hidden', { value: 3, enumerable: false })
    Object.defineProperty(o, Symbol('hidden'), { value: 4, enumerable: false })
    expect(show(o)).toBe("{ 'a b': 2, [Symbol(k)]: 1 }")
  })

  it('marks circular references with the ref they point back to', () => {
    const a: Record<string, unknown> = { n: 1 }
    a.self = a
    a.inner = { up: a, list: [a] }
    expect(show(a)).toBe('<ref *1> { n: 1, self: [Circular *1], inner: { up: [Circular *1], list: [[Circular *1]] } }')
  })

  it('does not mistake a repeated (non-circular) reference for a cycle', () => {
    const shared = { x: 1 }
    expect(show({ a: shared, b: shared })).toBe('{ a: { x: 1 }, b: { x: 1 } }')
  })

  it('renders values below the depth limit by class name', () => {
    const v = { a: { b: { c: 1 } }, l: [[1]], q: { x: new Queue() } }
    expect(show(v, { depth: 1 })).toBe('{ a: { b: [Object] }, l: [[Array]], q: { x: [Queue] } }')
    expect(show(v, { depth: 0 })).toBe('{ a: [Object], l: [Array], q: [Object] }')
  })

  it('keeps at most `collection` keys and counts the rest', () => {
    const o = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`k${i}`, i]))
    const s = snap(o)
    expect(s).toMatchObject({ k: 'obj', more: 8 })
    expect((s as SnapObject).keys).toHaveLength(32)
    expect(show({ a: 1, b: 2, c: 3 }, { collection: 1 })).toBe('{ a: 1, ... 2 more items }')
  })

  it('lists an object with more than BULKY_KEYS keys once, then gives only its count', () => {
    const big: Record<string, number> = {}
    const n = 200_000
    for (let i = 0; i < n; i++) big[`k${i}`] = i
    expect(show(big, { collection: 2 })).toBe(`{ k0: 0, k1: 1, ... ${n - 2} more items }`)
    const t = performance.now()
    for (let i = 0; i < 100; i++) snap(big)
    const each = (performance.now() - t) / 100
    expect(show(big)).toBe(`{ ... ${n} more items }`)
    // Listing 200k keys takes ~20 ms; the remembered object costs a WeakMap lookup.
    expect(each).toBeLessThan(1)
    expect(BULKY_KEYS).toBeLessThan(n)
  })

  it('is a copy: later changes to the object do not show', () => {
    const o = { n: 1, list: [1] }
    const s = snap(o)
    o.n = 2
    o.list.push(2)
    expect(renderValue(s)).toBe('{ n: 1, list: [1] }')
  })
})

describe('arrays', () => {
  it('renders holes as runs of empty items', () => {
    expect(show([1, , , 2])).toBe('[1, <2 empty items>, 2]')
  })

  it('keeps at most `collection` elements and counts the rest', () => {
    expect(show(Array.from({ length: 100 }, (_, i) => i), { collection: 3 })).toBe('[0, 1, 2, ... 97 more items]')
  })

  it('stays bounded on a sparse array of length 1e9', () => {
    const a: unknown[] = new Array(1e9)
    a[5e8] = 'x'
    const t = performance.now()
    const s = snap(a)
    expect(performance.now() - t).toBeLessThan(50)
    expect(s).toMatchObject({ k: 'arr', length: 1e9 })
    expect(renderValue(s)).toMatch(/^\[<\d+ empty items>, \.\.\. \d+ more items\]$/)
  })

  it('names array subclasses and shows their length', () => {
    class Stack extends Array<number> {}
    expect(show(Stack.from([1, 2]))).toBe('Stack(2) [1, 2]')
  })
})

describe('collections and binary data', () => {
  it('captures Map entries and Set values up to the collection limit', () => {
    const m = new Map(Array.from({ length: 5 }, (_, i) => [i, String(i)] as const))
    expect(show(m, { collection: 2 })).toBe("Map(5) { 0 => '0', 1 => '1', ... 3 more items }")
    expect(show(new Set([1, 'a']))).toBe("Set(2) { 1, 'a' }")
    expect(show(new Map())).toBe('Map(0) {}')
  })

  it('renders a Buffer as hex bytes, cut at the collection limit', () => {
    expect(show(Buffer.from('hello'))).toBe('<Buffer 68 65 6c 6c 6f>')
    expect(show(Buffer.from('hello'), { collection: 2 })).toBe('<Buffer 68 65 ... 3 more bytes>')
  })

  it('renders typed arrays, ArrayBuffers and DataViews', () => {
    expect(show(new Float64Array([1.5, -0]))).toBe('Float64Array(2) [1.5, -0]')
    expect(show(new BigInt64Array([1n]))).toBe('BigInt64Array(1) [1n]')
    expect(show(new Uint16Array(40), { collection: 1 })).toBe('Uint16Array(40) [0, ... 39 more items]')
    expect(show(new Uint8Array([1, 255]).buffer)).toBe('ArrayBuffer { [Uint8Contents]: <01 ff>, byteLength: 2 }')
    expect(show(new DataView(new ArrayBuffer(4), 1))).toBe('DataView { byteLength: 3, byteOffset: 1 }')
  })

  it('renders Promises, WeakMaps and WeakSets without their contents', () => {
    expect(snapshotArgs([Promise.resolve(1), new WeakMap(), new WeakSet()], L, redact).map((s) => renderValue(s))).toEqual([
      'Promise {}',
      'WeakMap { <items unknown> }',
      'WeakSet { <items unknown> }',
    ])
  })
})

describe('other values', () => {
  it('renders Dates in ISO form and invalid ones as Invalid Date', () => {
    expect(show(new Date(Date.UTC(2024, 10, 22, 13, 14, 55, 365)))).toBe('2024-11-22T13:14:55.365Z')
    expect(show(new Date(NaN))).toBe('Invalid Date')
  })

  it('renders functions by kind and name', () => {
    class A {}
    class B extends A {}
    const vals = [function f() {}, () => {}, async function g() {}, function* h() {}, async function* i() {}, A, B, class {}, Map, { classy() {} }.classy]
    expect(snapshotArgs(vals, L, redact).map((s) => renderValue(s))).toEqual([
      '[Function: f]',
      '[Function (anonymous)]',
      '[AsyncFunction: g]',
      '[GeneratorFunction: h]',
      '[AsyncGeneratorFunction: i]',
      '[class A]',
      '[class B extends A]',
      '[class (anonymous)]',
      '[Function: Map]',
      '[Function: classy]',
    ])
  })

  it('renders boxed primitives', () => {
    expect(snapshotArgs([Object(1), Object('ab'), Object(true), Object(2n), Object(Symbol('s'))], L, redact).map((s) => renderValue(s))).toEqual([
      '[Number: 1]',
      "[String: 'ab']",
      '[Boolean: true]',
      '[BigInt: 2n]',
      '[Symbol: Symbol(s)]',
    ])
  })

  it('renders errors with name, message, own properties and a bounded cause chain', () => {
    class NotFoundError extends Error {
      code = 'E42'
      constructor(m: string) {
        super(m)
        this.name = 'NotFoundError'
      }
    }
    expect(show(new NotFoundError('no user 42'))).toBe("[NotFoundError: no user 42] { code: 'E42' }")
    let e: Error = new Error('e0')
    for (let i = 1; i < 50; i++) e = new Error(`e${i}`, { cause: e })
    expect(show(e, { depth: 2 })).toBe('[Error: e49] { cause: [Error: e48] { cause: [Error: e47] { cause: [Error: e46] } } }')
    expect(show(new AggregateError([new TypeError('t')], 'agg'))).toBe('[AggregateError: agg] { errors: [[TypeError: t]] }')
  })
})

describe('bounds', () => {
  it('shares one node budget across all arguments of a call', () => {
    const args = [{ a: 1, b: 2 }, [1, 2, 3], 'x', 'y']
    const snaps = snapshotArgs(args, { ...L, nodes: 6 }, redact)
    // 3 for the object, then the array (1) with 2 of its elements: the budget is gone.
    expect(snaps.map((s) => renderValue(s))).toEqual(['{ a: 1, b: 2 }', '[1, 2, ... 1 more item]'])
  })

  it('keeps as many arguments of a long call as the node budget allows, and no holes', () => {
    const many = Array.from({ length: 40 }, (_, i) => i)
    expect(snapshotArgs(many, L, redact)).toEqual(many)
    const cut = snapshotArgs(many, { ...L, nodes: 25 }, redact)
    expect(cut).toEqual(many.slice(0, 25))
    const few = snapshotArgs([1, 2, 3], { ...L, nodes: 2 }, redact)
    expect(few).toHaveLength(2)
    expect(Object.keys(few)).toEqual(['0', '1'])
  })

  it('captures into a list given to it, which takes the length of what it kept', () => {
    const longer: Snap[] = ['a', 'b', 'c', 'd']
    const out = snapshotArgsInto(longer, [1, 2], L, redact)
    expect(out).toBe(longer)
    expect(out).toEqual([1, 2])
    expect(snapshotArgsInto([], [1, 2, 3], { ...L, nodes: 2 }, redact)).toEqual([1, 2])
  })

  it('ends the list of arguments at one it cannot read, with a placeholder', () => {
    const args = {
      length: 3,
      0: 'a',
      get 1(): never {
        throw new Error('no')
      },
      2: 'c',
    }
    const snaps = snapshotArgs(args, L, redact)
    expect(snaps).toHaveLength(2)
    expect(snaps.map((s) => renderValue(s))).toEqual(["'a'", '[unreadable]'])
  })

  it('clamps limits to their hard caps and replaces invalid ones by defaults', () => {
    let v: unknown = 'bottom'
    for (let i = 0; i < 40; i++) v = [v]
    const rendered = show(v, { depth: 1000 })
    expect(rendered.match(/\[/g)!.length).toBe(SNAPSHOT_HARD_CAPS.depth + 2)
    expect(rendered).toContain('[Array]')
    expect(show('x'.repeat(300), { string: NaN })).toBe(`'${'x'.repeat(256)}'... 44 more characters`)
    expect(show([1, 2], { collection: -1 })).toBe('[1, 2]')
  })

  it('never throws: an unreadable value becomes a placeholder', () => {
    class Box extends Map {}
    snap(new Box()) // Box.prototype is now known as a Map prototype
    const fake = Object.create(Box.prototype)
    expect(() => snap(fake)).not.toThrow()
    expect(show(fake)).toBe('[unreadable]')
    expect(show({ ok: 1, fake })).toBe('{ ok: 1, fake: [unreadable] }')
  })
})

describe('redaction', () => {
  it('redacts the default sensitive names in their usual spellings', () => {
    const r = makeRedactor()
    for (const k of ['password', 'PASSWD', 'accessToken', 'x-api-key', 'api_key', 'API Key', 'set-cookie', 'client_secret', 'Authorization']) {
      expect(r(k), k).toBe(true)
    }
    for (const k of ['name', 'id', 'pass', 'key', 'auth', 'tok']) expect(r(k), k).toBe(false)
  })

  it("adds the user's own names with the same normalisation", () => {
    const r = makeRedactor(['SSN', 'card-number'])
    expect(r('userSsn')).toBe(true)
    expect(r('card_number')).toBe(true)
    expect(r('cardNumberLast4')).toBe(true)
    expect(r('card')).toBe(false)
    expect(makeRedactor(['a.b'])('axb')).toBe(false)
  })

  it('does not capture a redacted value at all', () => {
    let calls = 0
    const o = {
      user: 'ann',
      password: 'hunter2',
      get token() {
        calls++
        return 'abc'
      },
    }
    const s = snap(o)
    expect(renderValue(s)).toBe("{ user: 'ann', password: [REDACTED], token: [REDACTED] }")
    expect(JSON.stringify(s, (_k, v) => (typeof v === 'bigint' ? String(v) : v))).not.toContain('hunter2')
    expect(calls).toBe(0)
  })

  it('redacts string Map keys and error properties', () => {
    expect(show(new Map([['apiKey', 'k'], ['user', 'u']]))).toBe("Map(2) { 'apiKey' => [REDACTED], 'user' => 'u' }")
    const e = Object.assign(new Error('x'), { secret: 's' })
    expect(show(e)).toBe('[Error: x] { secret: [REDACTED] }')
  })
})

describe('memory', () => {
  it('a cut string does not keep the original alive', async () => {
    const v8 = await import('node:v8')
    const vm = await import('node:vm')
    v8.setFlagsFromString('--expose-gc')
    const gc = vm.runInNewContext('gc') as () => void
    const { snapshot, makeRedactor, DEFAULT_SNAPSHOT_LIMITS } = await import('../src/snapshot.js')
    const redact = makeRedactor()
    gc()
    const before = process.memoryUsage().heapUsed
    const kept: unknown[] = []
    for (let i = 0; i < 100; i++) kept.push(snapshot(String(i).padEnd(1_000_000, 'x'), DEFAULT_SNAPSHOT_LIMITS, redact))
    gc()
    const grown = process.memoryUsage().heapUsed - before
    expect(kept).toHaveLength(100)
    // 100 originals would be 100 MB; 100 cut copies are about 50 KB.
    expect(grown).toBeLessThan(10_000_000)
  })
})

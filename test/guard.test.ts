import { Buffer } from 'node:buffer'
import { describe, expect, it } from 'vitest'
import { GUARD_SCOPE, compileGuard, guardFunctionSource, parseLiteral, type Guard } from '../src/guard.js'

// ---------------------------------------------------------------------------------------------
// Helpers

/** The guard's code (`g.code`) compiled as match.ts and the wrappers compile it: `(values) => boolean`. */
function generatedTest(g: Guard, arity: number): (values: readonly unknown[]) => boolean {
  const scope: Record<string, unknown> = { ...GUARD_SCOPE, $GK: g.code.constants }
  const names = Object.keys(scope)
  const fn = new Function(...names, `'use strict'; return ${guardFunctionSource('$g', g.code, arity, '$GK')}`)(...names.map((k) => scope[k])) as (
    ...v: unknown[]
  ) => unknown
  return (values) => fn(...Array.from({ length: arity }, (_, i) => values[i])) as boolean
}

/**
 * Compile a guard that must be accepted. Every test of the guard it returns runs both forms,
 * the closures (`test`) and the generated code, and checks that they agree, so each test of
 * this file holds for both.
 */
function guard(source: string, names: readonly string[] = ['x', 'y']): Guard {
  const problems: string[] = []
  const g = compileGuard(source, names, problems)
  if (!g) throw new Error(`refused: ${problems.join('\n')}`)
  expect(problems).toEqual([])
  const generated = generatedTest(g, names.length)
  return Object.freeze({
    source: g.source,
    code: g.code,
    test(values: readonly unknown[]): boolean {
      const closures = g.test(values)
      const code = generated(values)
      expect(code, `the generated code of ${source} decides as the closures`).toBe(closures)
      return closures
    },
  })
}

/** Evaluate `source` with x (and y) bound. */
function holds(source: string, x?: unknown, y?: unknown): boolean {
  return guard(source).test([x, y])
}

/** Compile a guard that must be refused; returns the problems. */
function refused(source: string, names: readonly string[] = ['x', 'y']): string[] {
  const problems: string[] = []
  expect(compileGuard(source, names, problems)).toBeUndefined()
  expect(problems.length).toBeGreaterThan(0)
  return problems
}

/** A proxy whose every trap counts its calls (and then behaves as the target). */
function countingProxy<T extends object>(target: T): { proxy: T; calls: () => number } {
  let n = 0
  const handler: ProxyHandler<T> = {}
  const traps = [
    'get', 'set', 'has', 'deleteProperty', 'ownKeys', 'getOwnPropertyDescriptor', 'defineProperty',
    'getPrototypeOf', 'setPrototypeOf', 'isExtensible', 'preventExtensions', 'apply', 'construct',
  ] as const
  for (const trap of traps) {
    ;(handler as Record<string, unknown>)[trap] = (...args: unknown[]) => {
      n++
      return (Reflect[trap] as (...a: unknown[]) => unknown)(...args)
    }
  }
  return { proxy: new Proxy(target, handler), calls: () => n }
}

/** An object whose coercion hooks count their calls. */
function coercible(): { value: object; calls: () => number } {
  let n = 0
  const value = {
    valueOf() {
      n++
      return 1
    },
    toString() {
      n++
      return '1'
    },
    [Symbol.toPrimitive]() {
      n++
      return 1
    },
  }
  return { value, calls: () => n }
}

/** An object with a getter `a` that counts its calls. */
function withGetter(): { value: object; calls: () => number } {
  let n = 0
  const value = Object.defineProperty({}, 'a', {
    get() {
      n++
      return 1
    },
    enumerable: true,
  })
  return { value, calls: () => n }
}

// ---------------------------------------------------------------------------------------------

describe('compileGuard: the Guard it returns', () => {
  it('keeps the source and is frozen', () => {
    const g = guard('x === 1')
    expect(g.source).toBe('x === 1')
    expect(Object.isFrozen(g)).toBe(true)
  })

  it('reads bound values by the position of their name', () => {
    const g = guard('b === 2 && a === 1', ['a', 'b'])
    expect(g.test([1, 2])).toBe(true)
    expect(g.test([2, 1])).toBe(false)
  })

  it('uses the first position of a name bound twice', () => {
    expect(guard('a === 1', ['a', 'a']).test([1, 2])).toBe(true)
  })

  it('reads a name whose value is missing from the values as undefined', () => {
    expect(guard('y === undefined').test([1])).toBe(true)
  })

  it('turns the result into a boolean (ToBoolean; an object is true)', () => {
    expect(holds('x', 0)).toBe(false)
    expect(holds('x', '')).toBe(false)
    expect(holds('x', 0n)).toBe(false)
    expect(holds('x', NaN)).toBe(false)
    expect(holds('x', null)).toBe(false)
    expect(holds('x', 'a')).toBe(true)
    expect(holds('x', 1n)).toBe(true)
    expect(holds('x', Symbol('s'))).toBe(true)
  })

  it('treats an object result as true without coercing it', () => {
    const c = coercible()
    expect(holds('x', c.value)).toBe(true)
    expect(c.calls()).toBe(0)
  })

  it('accepts a constant guard', () => {
    expect(guard('true').test([])).toBe(true)
    expect(guard('1 > 2').test([])).toBe(false)
  })

  it('accepts a guard wrapped in parentheses, and parentheses around builtins', () => {
    expect(holds('(x === 1)', 1)).toBe(true)
    expect(holds('((x)) === 1', 1)).toBe(true)
    expect(holds('(Array).isArray(x)', [])).toBe(true)
    expect(holds('x instanceof (Error)', new Error())).toBe(true)
    expect(holds('(/a/).test(x)', 'a')).toBe(true)
  })

  it('accepts leading and trailing whitespace', () => {
    expect(holds('  x === 1\t ', 1)).toBe(true)
  })
})

describe('literals', () => {
  it('compares with numbers: decimal, float, hex, octal, binary, exponent, separators', () => {
    expect(holds('x === 42', 42)).toBe(true)
    expect(holds('x === 1.5', 1.5)).toBe(true)
    expect(holds('x === 0xff', 255)).toBe(true)
    expect(holds('x === 0o17', 15)).toBe(true)
    expect(holds('x === 0b101', 5)).toBe(true)
    expect(holds('x === 1e3', 1000)).toBe(true)
    expect(holds('x === 1_000', 1000)).toBe(true)
  })

  it('compares with negative numbers', () => {
    expect(holds('x === -1', -1)).toBe(true)
    expect(holds('x > -1', 0)).toBe(true)
  })

  it('compares with strings in single and double quotes, with escapes', () => {
    expect(holds('x === "a\\"b"', 'a"b')).toBe(true)
    expect(holds("x === 'it\\'s'", "it's")).toBe(true)
    expect(holds('x === "\\u00e9"', 'é')).toBe(true)
  })

  it('compares with booleans, null and undefined', () => {
    expect(holds('x === true', true)).toBe(true)
    expect(holds('x === false', false)).toBe(true)
    expect(holds('x === null', null)).toBe(true)
    expect(holds('x === undefined', undefined)).toBe(true)
    expect(holds('x === null', undefined)).toBe(false)
  })

  it('compares with bigints', () => {
    expect(holds('x === 10n', 10n)).toBe(true)
    expect(holds('x === 10n', 10)).toBe(false)
    expect(holds('x === -10n', -10n)).toBe(true)
  })

  it('compares with NaN and Infinity', () => {
    expect(holds('x === Infinity', Infinity)).toBe(true)
    expect(holds('x === -Infinity', -Infinity)).toBe(true)
    expect(holds('x !== x', NaN)).toBe(true)
    expect(holds('x === NaN', NaN)).toBe(false)
  })

  it('accepts a template literal without expressions', () => {
    expect(holds('x === `a b`', 'a b')).toBe(true)
  })

  it('lets a bound name shadow undefined, as a parameter would', () => {
    expect(guard('undefined === 1', ['undefined']).test([1])).toBe(true)
  })
})

describe('names', () => {
  it('refuses an unknown name and lists the bound names', () => {
    const [p] = refused('id === 42', ['user', 'opts'])
    expect(p).toContain('unknown name `id`')
    expect(p).toContain('user, opts')
  })

  it('says how to bind a name when the pattern binds none', () => {
    const [p] = refused('id === 42', [])
    expect(p).toContain('binds no names')
    expect(p).toContain('findUser(id)')
  })

  it('reports an unknown name once however often it is used', () => {
    expect(refused('z === 1 || z === 2')).toHaveLength(1)
  })

  it('refuses globals', () => {
    expect(refused('process.env.X === "1"')[0]).toContain('unknown name `process`')
    expect(refused('globalThis')[0]).toContain('unknown name `globalThis`')
    expect(refused('Math.max(x, 1)')[0]).toContain('the call `Math.max(x, 1)`')
  })

  it('refuses a builtin used as a value, saying where it may appear', () => {
    const [p] = refused('x === Array')
    expect(p).toContain('`Array`')
    expect(p).toContain('x instanceof Array')
    expect(p).toContain('Array.isArray(x)')
    expect(refused('Date')[0]).toContain('x instanceof Date')
  })
})

describe('member access', () => {
  it('reads own data properties with a.b, a["k"], a[0] and a[k]', () => {
    expect(holds('x.a === 1', { a: 1 })).toBe(true)
    expect(holds('x["a b"] === 1', { 'a b': 1 })).toBe(true)
    expect(holds('x[0] === "z"', ['z'])).toBe(true)
    expect(holds('x[y] === 2', { k: 2 }, 'k')).toBe(true)
    expect(holds('x[y] === 2', [1, 2], 1)).toBe(true)
    expect(holds('x.a.b.c === 3', { a: { b: { c: 3 } } })).toBe(true)
  })

  it('reads a missing property as undefined', () => {
    expect(holds('x.a === undefined', {})).toBe(true)
    expect(holds('x[5] === undefined', [1])).toBe(true)
  })

  it('reads symbol, bigint, boolean and null computed keys as JS does', () => {
    const s = Symbol('s')
    expect(holds('x[y] === 1', { [s]: 1 }, s)).toBe(true)
    expect(holds('x[y] === 1', { 3: 1 }, 3n)).toBe(true)
    expect(holds('x[y] === 1', { true: 1 }, true)).toBe(true)
    expect(holds('x[y] === 1', { null: 1 }, null)).toBe(true)
  })

  it('reads objects without a prototype', () => {
    const o = Object.create(null) as Record<string, unknown>
    o.a = 1
    expect(holds('x.a === 1', o)).toBe(true)
  })

  it('reads own properties of functions, such as name and length', () => {
    function f(_a: unknown, _b: unknown) {}
    expect(holds('x.name === "f" && x.length === 2', f)).toBe(true)
  })

  it('does not read inherited properties: they read as undefined', () => {
    class A {
      get a() {
        return 1
      }
      m() {}
    }
    expect(holds('x.a === undefined && x.m === undefined', new A())).toBe(true)
    expect(holds('x.toString === undefined', {})).toBe(true)
  })

  it('makes the guard false on an own getter, without calling it', () => {
    const g = withGetter()
    expect(holds('x.a === 1', g.value)).toBe(false)
    expect(holds('x.a !== 1', g.value)).toBe(false)
    expect(g.calls()).toBe(0)
  })

  it('makes the guard false on a setter-only property', () => {
    expect(holds('x.a === undefined', Object.defineProperty({}, 'a', { set() {} }))).toBe(false)
  })

  it('makes the guard false on a Proxy, without calling any trap', () => {
    const p = countingProxy({ a: 1 })
    expect(holds('x.a === 1', p.proxy)).toBe(false)
    expect(holds('x[y] === 1', p.proxy, 'a')).toBe(false)
    expect(holds('x.length === 0', p.proxy)).toBe(false)
    expect(holds('x?.a === 1', p.proxy)).toBe(false)
    expect(p.calls()).toBe(0)
  })

  it('makes the guard false on a Proxy of a function, without calling any trap', () => {
    const p = countingProxy(function f() {})
    expect(holds('x.name === "f"', p.proxy)).toBe(false)
    expect(p.calls()).toBe(0)
  })

  it('makes the guard false on a revoked Proxy', () => {
    const { proxy, revoke } = Proxy.revocable({ a: 1 }, {})
    revoke()
    expect(holds('x.a === 1', proxy)).toBe(false)
  })

  it('makes the guard false on a property of null or undefined', () => {
    expect(holds('x.a === undefined', null)).toBe(false)
    expect(holds('x.a === undefined', undefined)).toBe(false)
    expect(holds('x.a.b === undefined', {})).toBe(false)
  })

  it('makes the guard false on a property of a primitive other than a string length', () => {
    expect(holds('x.a === undefined', 1)).toBe(false)
    expect(holds('x.toFixed === undefined', 1)).toBe(false)
    expect(holds('x.length === undefined', 1)).toBe(false)
    expect(holds('x[0] === "a"', 'abc')).toBe(false)
    expect(holds('x.foo === undefined', 'abc')).toBe(false)
    expect(holds('x.description === "s"', Symbol('s'))).toBe(false)
  })

  it('does not consult String.prototype, even for a string', () => {
    const g = guard('x.spy === 1')
    const proto = String.prototype as unknown as Record<string, unknown>
    let n = 0
    Object.defineProperty(proto, 'spy', {
      get() {
        n++
        return 1
      },
      configurable: true,
    })
    let result: boolean
    try {
      result = g.test(['abc'])
    } finally {
      delete proto.spy
    }
    expect(result).toBe(false)
    expect(n).toBe(0)
  })

  it('reads the length of strings, arrays, typed arrays and Buffers', () => {
    expect(holds('x.length === 3', 'abc')).toBe(true)
    expect(holds('x.length === 2', [1, 2])).toBe(true)
    expect(holds('x.length === 4', new Uint16Array(4))).toBe(true)
    expect(holds('x.length === 5', Buffer.alloc(5))).toBe(true)
    expect(holds('x["length"] === 3', 'abc')).toBe(true)
    expect(holds('x[y] === 3', 'abc', 'length')).toBe(true)
    expect(holds('x.length === 7', { length: 7 })).toBe(true)
  })

  it('reads a typed array length through the intrinsic, not a getter the object defines', () => {
    let n = 0
    class Sneaky extends Uint8Array {
      override get length(): number {
        n++
        return 99
      }
    }
    expect(holds('x.length === 3', new Sneaky(3))).toBe(true)
    expect(n).toBe(0)
  })

  it('makes the guard false on an object key, without coercing it', () => {
    const c = coercible()
    expect(holds('x[y] === undefined', { 1: 1 }, c.value)).toBe(false)
    expect(c.calls()).toBe(0)
  })

  it.each(['__proto__', 'constructor', 'prototype'])('refuses the static key %s, with . and []', (key) => {
    expect(refused(`x.${key} === 1`)[0]).toContain(`reading \`${key}\``)
    expect(refused(`x["${key}"] === 1`)[0]).toContain(`reading \`${key}\``)
    expect(refused(`x[\`${key}\`] === 1`)[0]).toContain(`reading \`${key}\``)
  })

  it('refuses an internal key built from constants', () => {
    expect(refused('x["__pro" + "to__"]')[0]).toContain('reading `__proto__`')
  })

  it.each(['__proto__', 'constructor', 'prototype'])('makes the guard false on the computed key %s', (key) => {
    const o = Object.create(null) as Record<string, unknown>
    Object.defineProperty(o, key, { value: 1, enumerable: true })
    expect(holds('x[y] === 1', o, key)).toBe(false)
    expect(holds('x[y] === undefined', {}, key)).toBe(false)
  })

  it('refuses private names and super', () => {
    expect(refused('x.#a')[0]).toContain('does not parse')
    expect(refused('super.a')[0]).toContain('does not parse')
  })
})

describe('optional chaining', () => {
  it('short-circuits a?.b on null and undefined', () => {
    expect(holds('x?.a === undefined', null)).toBe(true)
    expect(holds('x?.a === undefined', undefined)).toBe(true)
    expect(holds('x?.a === 1', { a: 1 })).toBe(true)
  })

  it('short-circuits the whole chain, as JS does', () => {
    expect(holds('x?.a.b.c === undefined', null)).toBe(true)
    expect(holds('x.a?.b.c === undefined', { a: null })).toBe(true)
    expect(holds('x?.a.b === undefined', { a: null })).toBe(false) // x.a.b on null
  })

  it('short-circuits computed access a?.[k]', () => {
    expect(holds('x?.[y] === undefined', null, 'k')).toBe(true)
    expect(holds('x?.[y] === 2', { k: 2 }, 'k')).toBe(true)
  })

  it('short-circuits a method call on a nullish receiver', () => {
    expect(holds('x?.startsWith("a") === undefined', null)).toBe(true)
    expect(holds('x?.startsWith("a")', 'abc')).toBe(true)
    expect(holds('x?.s.startsWith("a") === undefined', null)).toBe(true)
  })

  it('ends the chain at parentheses', () => {
    expect(holds('(x?.a).b === undefined', null)).toBe(false)
  })

  it('still fails on a getter inside a chain', () => {
    const g = withGetter()
    expect(holds('x?.a === 1', g.value)).toBe(false)
    expect(holds('x?.a?.b === undefined', g.value)).toBe(false)
    expect(g.calls()).toBe(0)
  })

  it('refuses an optional call ?.()', () => {
    expect(refused('x.includes?.(y)')[0]).toContain('optional call')
  })
})

describe('operators on primitives follow JS', () => {
  const ops: Record<string, (a: any, b: any) => unknown> = {
    '===': (a, b) => a === b,
    '!==': (a, b) => a !== b,
    '==': (a, b) => a == b,
    '!=': (a, b) => a != b,
    '<': (a, b) => a < b,
    '<=': (a, b) => a <= b,
    '>': (a, b) => a > b,
    '>=': (a, b) => a >= b,
    '+': (a, b) => a + b,
    '-': (a, b) => a - b,
    '*': (a, b) => a * b,
    '/': (a, b) => a / b,
    '%': (a, b) => a % b,
    '**': (a, b) => a ** b,
    '&&': (a, b) => a && b,
    '||': (a, b) => a || b,
    '??': (a, b) => a ?? b,
  }
  const values: unknown[] = [0, -0, 1, -2.5, 3, NaN, Infinity, '', '0', '1', 'a', 'b', '10', true, false, null, undefined, 0n, 2n, 10n]

  /** What JS gives for a guard `x OP y`: the result, or "fails" where JS throws. */
  function expected(op: string, a: unknown, b: unknown): boolean {
    try {
      return !!ops[op]!(a, b)
    } catch {
      return false
    }
  }

  it.each(Object.keys(ops))('%s gives the JS result for every pair of primitives', (op) => {
    const g = guard(`x ${op} y`)
    for (const a of values) for (const b of values) expect([a, b, g.test([a, b])]).toEqual([a, b, expected(op, a, b)])
  })

  it.each(Object.keys(ops))('%s gives the JS result for a constant operand', (op) => {
    for (const b of values) {
      if (typeof b === 'number' && (b < 0 || Object.is(b, -0))) continue // no literal for these
      const lit = typeof b === 'string' ? JSON.stringify(b) : typeof b === 'bigint' ? `${b}n` : String(b)
      const g = guard(`x ${op} ${lit}`)
      for (const a of values) expect([a, b, g.test([a])]).toEqual([a, b, expected(op, a, b)])
    }
  })

  it('compares the value of an operation, not just its truth', () => {
    expect(holds('x + y === "ab"', 'a', 'b')).toBe(true)
    expect(holds('x + y === 3', 1, 2)).toBe(true)
    expect(holds('x + y === "1true"', '1', true)).toBe(true)
    expect(holds('x * 2 - 1 === 5', 3)).toBe(true)
    expect(holds('x ** 2 === 9', 3)).toBe(true)
    expect(holds('x % 3 === 1', 7)).toBe(true)
    expect(holds('x / 2 === 1.5', 3)).toBe(true)
    expect(holds('(x ?? 5) === 5', null)).toBe(true)
    expect(holds('(x || "d") === "d"', '')).toBe(true)
    expect(holds('(x && "t") === "t"', 1)).toBe(true)
  })

  it('applies unary !, - and +', () => {
    expect(holds('!x', 0)).toBe(true)
    expect(holds('!x', 1)).toBe(false)
    expect(holds('-x === -3', 3)).toBe(true)
    expect(holds('-x === -3n', 3n)).toBe(true)
    expect(holds('+x === 3', '3')).toBe(true)
    expect(holds('+x === 1', true)).toBe(true)
  })

  it('fails unary + on a bigint and arithmetic on a symbol (JS throws there)', () => {
    expect(holds('+x === 1', 1n)).toBe(false)
    expect(holds('-x !== 1', Symbol('s'))).toBe(false)
    expect(holds('x + 1 !== 1', Symbol('s'))).toBe(false)
    expect(holds('x + 1 !== 1', 1n)).toBe(false)
  })

  it('applies the conditional a ? b : c', () => {
    expect(holds('(x ? y : 0) === 2', 1, 2)).toBe(true)
    expect(holds('(x ? y : 0) === 0', 0, 2)).toBe(true)
  })

  it('respects precedence and parentheses', () => {
    expect(holds('1 + 2 * x === 7', 3)).toBe(true)
    expect(holds('(1 + 2) * x === 9', 3)).toBe(true)
    expect(holds('x === 1 || x === 2 && false', 1)).toBe(true)
    expect(holds('(x === 1 || x === 2) && false', 1)).toBe(false)
    expect(holds('2 ** 3 ** 2 === 512')).toBe(true)
  })

  it('applies typeof to every kind of value', () => {
    const g = guard('typeof x === y')
    for (const v of [1, 'a', true, undefined, null, 1n, Symbol('s'), {}, () => {}])
      expect(g.test([v, typeof v])).toBe(true)
    expect(holds('typeof x === "string"', 'a')).toBe(true)
    expect(holds('typeof x !== "string"', 1)).toBe(true)
    expect(holds('"number" === typeof x', 1)).toBe(true)
    expect(holds('typeof x.a === "number"', { a: 1 })).toBe(true)
  })

  it('applies typeof to a Proxy without calling a trap', () => {
    const p = countingProxy({})
    expect(holds('typeof x === "object"', p.proxy)).toBe(true)
    expect(p.calls()).toBe(0)
  })

  it('fails bigint ** with a huge exponent instead of computing it', () => {
    expect(holds('x ** y > 0n', 2n, 10n)).toBe(true)
    expect(holds('x ** y > 0n', 2n, 10n ** 9n)).toBe(false)
  })

  it('fails a string grown past the maximum length (JS throws there)', () => {
    let big = 'x'.repeat(2 ** 20)
    while (big.length < 2 ** 28) big += big // a rope: cheap to build
    expect(holds('(x + x + x).length > 0', big)).toBe(false)
  })
})

describe('operators never coerce an object', () => {
  const coercing = ['<', '<=', '>', '>=', '+', '-', '*', '/', '%', '**', '==', '!=']

  it.each(coercing)('%s with an object operand fails the guard without calling valueOf/toString/toPrimitive', (op) => {
    const c = coercible()
    const g = guard(`x ${op} y`)
    for (const other of [1, '1', true, 1n, Symbol('s')]) {
      expect(g.test([c.value, other])).toBe(false)
      expect(g.test([other, c.value])).toBe(false)
    }
    expect(c.calls()).toBe(0)
  })

  it.each(['-', '+'])('unary %s on an object fails the guard without coercing it', (op) => {
    const c = coercible()
    expect(holds(`${op}x === 1`, c.value)).toBe(false)
    expect(holds(`${op}x !== 1`, c.value)).toBe(false)
    expect(c.calls()).toBe(0)
  })

  it('fails arithmetic on a function without coercing it', () => {
    let n = 0
    const f = Object.assign(() => {}, {
      valueOf() {
        n++
        return 1
      },
    })
    expect(holds('x + 1 === 2', f)).toBe(false)
    expect(n).toBe(0)
  })

  it('compares objects with === and !== by identity', () => {
    const c = coercible()
    expect(holds('x === y', c.value, c.value)).toBe(true)
    expect(holds('x !== y', c.value, {})).toBe(true)
    expect(holds('x === 1', c.value)).toBe(false)
    expect(c.calls()).toBe(0)
  })

  it('compares two objects with == and != by identity', () => {
    const c = coercible()
    expect(holds('x == y', c.value, c.value)).toBe(true)
    expect(holds('x != y', c.value, {})).toBe(true)
    expect(c.calls()).toBe(0)
  })

  it('compares an object with null and undefined using == and != as JS does, without coercion', () => {
    const c = coercible()
    expect(holds('x == null', c.value)).toBe(false)
    expect(holds('x != null', c.value)).toBe(true)
    expect(holds('undefined == x', c.value)).toBe(false)
    expect(holds('x != undefined', c.value)).toBe(true)
    expect(c.calls()).toBe(0)
  })

  it('compares a Proxy by identity without calling a trap', () => {
    const p = countingProxy({})
    expect(guard('x === y').test([p.proxy, p.proxy])).toBe(true)
    expect(holds('x == 1', p.proxy)).toBe(false)
    expect(holds('x < 1', p.proxy)).toBe(false)
    expect(holds('!x', p.proxy)).toBe(false)
    expect(p.calls()).toBe(0)
  })
})

describe('a failure fails the whole guard', () => {
  it('is not negated by !', () => {
    const g = withGetter()
    expect(holds('!(x.a === 1)', g.value)).toBe(false)
    expect(holds('!x.a', g.value)).toBe(false)
  })

  it('is not hidden by &&, ||, ?? or ?:', () => {
    const g = withGetter()
    expect(holds('x.a && true', g.value)).toBe(false)
    expect(holds('x.a || true', g.value)).toBe(false)
    expect(holds('x.a ?? true', g.value)).toBe(false)
    expect(holds('x.a ? true : true', g.value)).toBe(false)
    expect(holds('x.a === 1 || true', g.value)).toBe(false)
  })

  it('is skipped when && or || short-circuits before it, as JS would', () => {
    const g = withGetter()
    expect(holds('y === 0 && x.a === 1', g.value, 1)).toBe(false)
    expect(holds('y === 1 || x.a === 1', g.value, 1)).toBe(true)
    expect(holds('y ? true : x.a', g.value, 1)).toBe(true)
    expect(g.calls()).toBe(0)
  })

  it('is not hidden by typeof, ==, != or a method', () => {
    const g = withGetter()
    expect(holds('typeof x.a !== "string"', g.value)).toBe(false)
    expect(holds('x.a != 2', g.value)).toBe(false)
    expect(holds('x.a == null || true', g.value)).toBe(false)
    expect(holds('Array.isArray(x.a) || true', g.value)).toBe(false)
    expect(holds('x.a instanceof Object || true', g.value)).toBe(false)
  })

  it('fails a computed key that fails', () => {
    const g = withGetter()
    expect(holds('y[x.a] === undefined', g.value, {})).toBe(false)
  })
})

describe('instanceof', () => {
  const cases: [string, unknown][] = [
    ['Object', {}],
    ['Array', []],
    ['Function', () => {}],
    ['Function', async () => {}],
    ['Error', new Error('e')],
    ['Error', new TypeError('e')],
    ['TypeError', new TypeError('e')],
    ['RangeError', new RangeError('e')],
    ['SyntaxError', new SyntaxError('e')],
    ['ReferenceError', new ReferenceError('e')],
    ['Map', new Map()],
    ['Set', new Set()],
    ['WeakMap', new WeakMap()],
    ['WeakSet', new WeakSet()],
    ['Date', new Date()],
    ['RegExp', /a/],
    ['Promise', Promise.resolve()],
    ['ArrayBuffer', new ArrayBuffer(1)],
    ['Uint8Array', new Uint8Array(1)],
    ['Int32Array', new Int32Array(1)],
    ['Float64Array', new Float64Array(1)],
    ['BigInt64Array', new BigInt64Array(1)],
    ['Buffer', Buffer.alloc(1)],
    ['Uint8Array', Buffer.alloc(1)],
  ]

  it.each(cases)('recognises an instance of %s', (name, value) => {
    expect(holds(`x instanceof ${name}`, value)).toBe(true)
  })

  it('recognises an instance of a subclass', () => {
    class MyError extends RangeError {}
    expect(holds('x instanceof RangeError && x instanceof Error', new MyError())).toBe(true)
  })

  it('says false for an instance of another builtin and for primitives', () => {
    expect(holds('x instanceof Map', new Set())).toBe(false)
    expect(holds('x instanceof TypeError', new Error())).toBe(false)
    expect(holds('x instanceof Buffer', new Uint8Array(1))).toBe(false)
    expect(holds('x instanceof Object', 'str')).toBe(false)
    expect(holds('x instanceof Object', null)).toBe(false)
    expect(holds('x instanceof Object', Object.create(null))).toBe(false)
  })

  it('says false for a Proxy, without calling a trap', () => {
    const p = countingProxy([])
    expect(holds('x instanceof Array', p.proxy)).toBe(false)
    expect(holds('x instanceof Object', p.proxy)).toBe(false)
    expect(p.calls()).toBe(0)
  })

  it('stops at a Proxy in the prototype chain, without calling a trap', () => {
    const p = countingProxy(Object.create(Error.prototype) as object)
    const o = Object.create(p.proxy) as object
    expect(holds('x instanceof Error', o)).toBe(false)
    expect(p.calls()).toBe(0)
  })

  it('never calls Symbol.hasInstance, even one defined on a builtin', () => {
    // The guard is compiled, and the results checked, outside the planted Symbol.hasInstance:
    // the test framework's own `instanceof Error` checks must not see it (they recurse).
    const g = guard('x instanceof Error')
    let n = 0
    Object.defineProperty(Error, Symbol.hasInstance, {
      value: () => {
        n++
        return true
      },
      configurable: true,
    })
    let plain: boolean
    let error: boolean
    try {
      plain = g.test([{}, undefined])
      error = g.test([new Error(), undefined])
    } finally {
      delete (Error as unknown as Record<symbol, unknown>)[Symbol.hasInstance]
    }
    expect(plain).toBe(false)
    expect(error).toBe(true)
    expect(n).toBe(0)
  })

  it('refuses a user class on the right, and so never calls its Symbol.hasInstance', () => {
    let n = 0
    class Mine {
      static [Symbol.hasInstance]() {
        n++
        return true
      }
    }
    const [p] = refused('x instanceof Mine', ['x', 'Mine'])
    expect(p).toContain('`instanceof` with `Mine`')
    expect(p).toContain('Error, TypeError')
    expect(compileGuard('x instanceof y', ['x', 'y'], [])).toBeUndefined()
    // and nothing ran at compile time either
    expect(n).toBe(0)
    void Mine
  })

  it('refuses an expression on the right', () => {
    expect(refused('x instanceof y.z')[0]).toContain('`instanceof` with `y.z`')
  })
})

describe('calls', () => {
  it('Array.isArray recognises arrays only', () => {
    expect(holds('Array.isArray(x)', [])).toBe(true)
    expect(holds('Array.isArray(x)', new Uint8Array(1))).toBe(false)
    expect(holds('Array.isArray(x)', { length: 0 })).toBe(false)
    expect(holds('Array.isArray(x)', 'a')).toBe(false)
  })

  it('Array.isArray says false for a Proxy of an array, without calling a trap', () => {
    const p = countingProxy([])
    expect(holds('Array.isArray(x)', p.proxy)).toBe(false)
    expect(p.calls()).toBe(0)
  })

  it('startsWith, endsWith and includes work on strings', () => {
    expect(holds('x.startsWith("SEL")', 'SELECT 1')).toBe(true)
    expect(holds('x.startsWith("SEL")', 'UPDATE')).toBe(false)
    expect(holds('x.endsWith(y)', 'file.js', '.js')).toBe(true)
    expect(holds('x.includes("users")', 'FROM users')).toBe(true)
    expect(holds('x.includes("users")', 'FROM orders')).toBe(false)
  })

  it('string methods fail on a receiver or argument that is not a primitive string', () => {
    const c = coercible()
    expect(holds('x.startsWith("a") || true', 1)).toBe(false)
    expect(holds('x.endsWith("a") || true', ['a'])).toBe(false)
    expect(holds('x.startsWith(y) || true', 'abc', c.value)).toBe(false)
    expect(holds('x.includes(y) || true', 'abc', c.value)).toBe(false)
    expect(holds('x.startsWith(y) || true', 'abc', 1)).toBe(false)
    expect(holds('x.startsWith("a") || true', new String('abc'))).toBe(false)
    expect(c.calls()).toBe(0)
  })

  it('string methods call the intrinsics, not a method patched later or an own property', () => {
    const g = guard('x.startsWith("z")')
    const proto = String.prototype as unknown as Record<string, unknown>
    const original = proto.startsWith
    let n = 0
    proto.startsWith = () => {
      n++
      return true
    }
    let result: boolean
    try {
      result = g.test(['abc'])
    } finally {
      proto.startsWith = original
    }
    expect(result).toBe(false)
    expect(n).toBe(0)
  })

  it('array includes uses SameValueZero over own elements', () => {
    expect(holds('x.includes(2)', [1, 2, 3])).toBe(true)
    expect(holds('x.includes(4)', [1, 2, 3])).toBe(false)
    expect(holds('x.includes(y)', [1, NaN], NaN)).toBe(true)
    expect(holds('x.includes(0)', [-0])).toBe(true)
    expect(holds('x.includes("1")', [1])).toBe(false)
    const o = {}
    expect(holds('x.includes(y)', [1, o], o)).toBe(true)
  })

  it('array includes reads holes as undefined without consulting Array.prototype', () => {
    const spy = guard('x.includes("spy")')
    const undef = guard('x.includes(undefined)')
    const sparse = [0]
    sparse.length = 1000 // holes at 1..999
    const proto = Array.prototype as unknown as Record<string, unknown>
    let n = 0
    Object.defineProperty(proto, '777', {
      get() {
        n++
        return 'spy'
      },
      configurable: true,
    })
    let found: boolean[]
    try {
      found = [spy.test([sparse]), undef.test([sparse])]
    } finally {
      delete proto['777']
    }
    expect(found).toEqual([false, true])
    expect(n).toBe(0)
  })

  it('array includes fails on an accessor element without calling it', () => {
    let n = 0
    const a = [1, 2]
    Object.defineProperty(a, 0, {
      get() {
        n++
        return 5
      },
    })
    expect(holds('x.includes(2) || true', a)).toBe(false)
    expect(n).toBe(0)
  })

  it('array includes fails on a Proxy of an array, without calling a trap', () => {
    const p = countingProxy([1, 2])
    expect(holds('x.includes(1) || true', p.proxy)).toBe(false)
    expect(p.calls()).toBe(0)
  })

  it('includes fails on what is neither a string nor an array', () => {
    expect(holds('x.includes(1) || true', new Set([1]))).toBe(false)
    expect(holds('x.includes(1) || true', new Uint8Array([1]))).toBe(false)
    expect(holds('x.includes(1) || true', { includes: () => true })).toBe(false)
  })

  it('regex test matches strings, with flags', () => {
    expect(holds('/^sel/i.test(x)', 'SELECT 1')).toBe(true)
    expect(holds('/^sel/.test(x)', 'SELECT 1')).toBe(false)
    expect(holds('/a.b/s.test(x)', 'a\nb')).toBe(true)
    expect(holds('/^b$/m.test(x)', 'a\nb')).toBe(true)
    expect(holds('/\\u{1F600}/u.test(x)', '😀')).toBe(true)
    expect(holds('/^(\\d+)-\\1$/.test(x)', '12-12')).toBe(true)
  })

  it('regex test gives the same answer on every call', () => {
    const g = guard('/a/.test(x)')
    expect([g.test(['a']), g.test(['a']), g.test(['ba']), g.test(['b'])]).toEqual([true, true, true, false])
  })

  it('regex test fails on what is not a primitive string, without coercing it', () => {
    const c = coercible()
    expect(holds('/1/.test(x) || true', c.value)).toBe(false)
    expect(holds('/1/.test(x) || true', 1)).toBe(false)
    expect(c.calls()).toBe(0)
  })

  it('regex test uses the intrinsic exec, not one patched later', () => {
    const g = guard('/a/.test(x)')
    const original = RegExp.prototype.exec
    let n = 0
    RegExp.prototype.exec = function () {
      n++
      return null
    }
    let result: boolean
    try {
      result = g.test(['a'])
    } finally {
      RegExp.prototype.exec = original
    }
    expect(result).toBe(true)
    expect(n).toBe(0)
  })

  it('refuses the g and y regex flags, showing the regex without them', () => {
    const [p] = refused('/a/gi.test(x)')
    expect(p).toContain('`g` and `y`')
    expect(p).toContain('/a/i')
    expect(refused('/a/y.test(x)')[0]).toContain('`g` and `y`')
  })

  it('refuses a regex literal anywhere but as the receiver of .test', () => {
    expect(refused('x === /a/')[0]).toContain('regex literal')
    expect(refused('/a/.exec(x)')[0]).toContain('the call')
    expect(refused('/a/.source === "a"')[0]).toContain('regex literal')
  })

  it.each([
    ['foo(x)', 'foo(x)'],
    ['x()', 'x()'],
    ['x.foo(1)', 'x.foo(1)'],
    ['x.toString()', 'x.toString()'],
    ['x["startsWith"]("a")', 'x["startsWith"]("a")'],
    ['Array.from(x)', 'Array.from(x)'],
    ['Object.keys(x)', 'Object.keys(x)'],
    ['JSON.stringify(x)', 'JSON.stringify(x)'],
    ['(0, x.startsWith)("a")', '(0, x.startsWith)("a")'],
  ])('refuses the call %s and lists the calls allowed', (source, fragment) => {
    const p = refused(source)
    expect(p.some((m) => m.includes(`the call \`${fragment}\``) && m.includes('Array.isArray(x), s.startsWith(t)'))).toBe(true)
  })

  it.each(['x.startsWith()', 'x.startsWith("a", 1)', 'x.includes(...y)', 'Array.isArray()', '/a/.test(x, y)'])(
    'refuses %s: the methods take exactly one argument',
    (source) => {
      expect(refused(source)[0]).toContain('other than one argument')
    },
  )

  it('lets a bound name shadow Array in Array.isArray, refusing the call', () => {
    expect(refused('Array.isArray(x)', ['x', 'Array'])[0]).toContain('the call')
  })
})

describe('refused constructs name the construct and what to write instead', () => {
  const cases: [string, string, string][] = [
    ['x = 42', 'assignment `x = 42`', 'to compare, write `x === 42`'],
    ['x += 1', 'assignment', 'only reads values'],
    ['x.a = 1', 'assignment', 'to compare, write `x.a === 1`'],
    ['x++', 'an update (`++`)', 'x + 1'],
    ['--x', 'an update (`--`)', 'x + 1'],
    ['delete x.a', '`delete`', 'only reads values'],
    ['new Date()', '`new`', 'a guard may use'],
    ['"a" in x', 'the `in` operator', 'x.key !== undefined'],
    ['x, y', 'a comma sequence', '`&&` or `||`'],
    ['() => x', 'a function', 'a guard may use'],
    ['function () { return 1 }', 'a function', 'a guard may use'],
    ['this.a === 1', '`this`', 'name them in the pattern'],
    ['x === [...y]', 'an array literal', 'x === 1 || x === 2'],
    ['await x', '`await`', 'synchronously'],
    ['void 0', '`void`', 'write `undefined`'],
    ['`a${x}`', 'a template literal with ${} expressions', 'plain string'],
    ['x`a`', 'a tagged template', 'the only calls allowed'],
    ['class {}', 'a class', 'a guard may use'],
    ['import("fs")', 'a dynamic import', 'a guard may use'],
    ['import.meta', 'a meta property', 'a guard may use'],
    ['[1, 2]', 'an array literal', 'x === 1 || x === 2'],
    ['({ a: 1 })', 'an object literal', 'x.a === 1'],
    ['x & 1', 'the bitwise operator `&`', 'the operators allowed are'],
    ['x | 1', 'the bitwise operator `|`', 'the operators allowed are'],
    ['x ^ 1', 'the bitwise operator `^`', 'the operators allowed are'],
    ['x << 1', 'the bitwise operator `<<`', 'the operators allowed are'],
    ['x >> 1', 'the bitwise operator `>>`', 'the operators allowed are'],
    ['x >>> 1', 'the bitwise operator `>>>`', 'the operators allowed are'],
    ['~x', 'the bitwise operator `~`', 'the operators allowed are'],
  ]

  it.each(cases)('refuses %s', (source, what, hint) => {
    const problems = refused(source)
    expect(problems).toHaveLength(1)
    const [p] = problems
    expect(p).toContain(`guard ${JSON.stringify(source)} is not allowed: `)
    expect(p).toContain(what)
    expect(p).toContain(hint)
  })

  it('shows the offending fragment of a longer guard', () => {
    const [p] = refused('x === 1 && y.save() && true')
    expect(p).toContain('the call `y.save()`')
  })

  it('reports every error, one problem each', () => {
    const problems = refused('(x = 1) || foo(y) || z')
    expect(problems).toHaveLength(3)
    expect(problems[0]).toContain('assignment')
    expect(problems[1]).toContain('the call `foo(y)`')
    expect(problems[2]).toContain('unknown name `z`')
  })

  it('adds nothing to problems and returns a guard when all is well', () => {
    const problems = ['earlier problem']
    expect(compileGuard('x === 1', ['x'], problems)).toBeDefined()
    expect(problems).toEqual(['earlier problem'])
  })

  it('refuses when earlier problems exist only for its own errors', () => {
    const problems = ['earlier problem']
    expect(compileGuard('x = 1', ['x'], problems)).toBeUndefined()
    expect(problems).toHaveLength(2)
  })
})

describe('syntax errors', () => {
  it('shows the source with a caret under the error', () => {
    const [p] = refused('x ==== 42')
    expect(p).toBe('guard "x ==== 42" does not parse: unexpected token\n    x ==== 42\n         ^')
  })

  it('points at what follows the end of the expression', () => {
    const [p] = refused('x === 1 y === 2')
    expect(p).toContain('unexpected `y === 2` after the end of the expression')
    expect(p).toContain('combine conditions with `&&` or `||`')
    expect(p.endsWith('\n    x === 1 y === 2\n            ^')).toBe(true)
  })

  it('refuses a statement after a semicolon', () => {
    expect(refused('x === 1; y')[0]).toContain('unexpected `; y`')
  })

  it('hints at === when an assignment has a literal on the left', () => {
    expect(refused('42 = x')[0]).toContain('to compare, write `===`')
  })

  it('refuses an unterminated string with a caret', () => {
    const [p] = refused('x === "abc')
    expect(p).toContain('unterminated string')
    expect(p).toContain('\n          ^')
  })

  it('shows the line of a multi-line guard that holds the error', () => {
    const [p] = refused('x === 1 &&\n  y ==== 2')
    expect(p.endsWith('\n      y ==== 2\n           ^')).toBe(true)
  })

  it('refuses yield, new.target and legacy octal as the parser does', () => {
    expect(refused('yield x')[0]).toContain('does not parse')
    expect(refused('new.target')[0]).toContain('does not parse')
    expect(refused('x === 010')[0]).toContain('does not parse')
  })

  it('refuses an empty guard', () => {
    expect(refused('')[0]).toContain('empty')
    expect(refused('   ')[0]).toContain('empty')
  })

  it('refuses a guard nested too deeply, without throwing', () => {
    expect(refused(`${'!'.repeat(150)}x`)[0]).toContain('nests too deeply (more than 100 levels)')
    expect(refused(`${'!'.repeat(100_000)}x`)[0]).toContain('nests too deeply')
    expect(refused(`${'('.repeat(100_000)}x${')'.repeat(100_000)}`)[0]).toContain('nests too deeply')
  })
})

describe('test never throws', () => {
  const hostile = (): unknown[] => {
    const { proxy: revoked, revoke } = Proxy.revocable({}, {})
    revoke()
    const throwing = Object.defineProperty({}, 'a', {
      get() {
        throw new Error('getter ran')
      },
    })
    const poison = {
      valueOf() {
        throw new Error('valueOf ran')
      },
      toString() {
        throw new Error('toString ran')
      },
      [Symbol.toPrimitive]() {
        throw new Error('toPrimitive ran')
      },
    }
    const trapping = new Proxy(
      {},
      {
        get() {
          throw new Error('trap ran')
        },
        getPrototypeOf() {
          throw new Error('trap ran')
        },
        getOwnPropertyDescriptor() {
          throw new Error('trap ran')
        },
      },
    )
    const arr = [1, 2]
    Object.defineProperty(arr, 1, {
      get() {
        throw new Error('element getter ran')
      },
    })
    return [
      revoked, throwing, poison, trapping, arr, Object.create(trapping), Object.create(null),
      Symbol('s'), 1n, -1n, 0, NaN, '', 'str', null, undefined, true, () => {}, new Error('e'),
      new Date(NaN), Buffer.alloc(2), new Map(), [poison], { a: poison }, { a: throwing },
    ]
  }

  const guards = [
    'x', '!x', 'x.a', 'x.a.b', 'x?.a', 'x?.a?.b', 'x[y]', 'x[0]', 'x.length', 'x === y', 'x !== y',
    'x == y', 'x != y', 'x < y', 'x <= y', 'x > y', 'x >= y', 'x + y', 'x - y', 'x * y', 'x / y',
    'x % y', 'x ** y', '-x', '+x', 'typeof x', 'x && y', 'x || y', 'x ?? y', 'x ? y : x',
    'x instanceof Error', 'x instanceof Object', 'Array.isArray(x)', 'x.startsWith(y)', 'x.endsWith(y)',
    'x.includes(y)', '/a/.test(x)', 'x.a.includes(y)', 'x + "" === y', 'x == null', 'x[y]?.a',
  ]

  it('for every allowed construct and every hostile value, and runs no user code', () => {
    const values = hostile()
    for (const source of guards) {
      const g = guard(source)
      for (const x of values)
        for (const y of values) {
          let result: unknown
          expect(() => (result = g.test([x, y])), `${source} with ${String(typeof x)}, ${String(typeof y)}`).not.toThrow()
          expect(typeof result).toBe('boolean')
        }
    }
  })

  it('even when values is not an array of the expected length', () => {
    const g = guard('x.a === y.b')
    expect(g.test([])).toBe(false)
    expect(() => g.test([{ a: 1 }])).not.toThrow()
  })
})

describe('the equalities a guard requires (GuardCode.equals)', () => {
  const equals = (source: string, names: readonly string[] = ['x', 'y']) => guard(source, names).code.equals

  it('are its top-level conjuncts name === literal, either way round and in parentheses', () => {
    expect(equals('x === 1 && y === "a"')).toEqual([
      [0, 1],
      [1, 'a'],
    ])
    expect(equals('(-1 === x) && (y > 2 && y === null)')).toEqual([
      [0, -1],
      [1, null],
    ])
    expect(equals('x === 2n && y === undefined && x === true')).toEqual([
      [0, 2n],
      [1, undefined],
      [0, true],
    ])
  })

  it('leave out what does not hold for every value that passes', () => {
    expect(equals('x === 1 || y === 2')).toEqual([])
    expect(equals('!(x === 1)')).toEqual([])
    expect(equals('x === y')).toEqual([])
    expect(equals('x == 1 && x !== 2 && x.a === 1')).toEqual([])
    expect(equals('x === NaN')).toEqual([])
    expect(equals('x ? y === 1 : true')).toEqual([])
  })

  it('leave out a bound name that shadows a constant', () => {
    expect(equals('x === undefined', ['x', 'undefined'])).toEqual([])
  })
})

describe('parseLiteral', () => {
  it.each([
    ['42', 42],
    ['-42', -42],
    ['1.5', 1.5],
    ['-1.5e3', -1500],
    ['0x1F', 31],
    ['-0x10', -16],
    ['0o17', 15],
    ['0b11', 3],
    ['10n', 10n],
    ['-10n', -10n],
    ['0x10n', 16n],
    ['"a b"', 'a b'],
    ["'it\\'s'", "it's"],
    ['"\\n"', '\n'],
    ['`plain`', 'plain'],
    ['true', true],
    ['false', false],
    ['null', null],
    ['undefined', undefined],
    ['NaN', NaN],
    ['-Infinity', -Infinity],
    [' 7 ', 7],
  ])('parses %s', (text, value) => {
    expect(parseLiteral(text)).toEqual({ ok: true, value })
  })

  it('keeps -0 distinct', () => {
    const r = parseLiteral('-0')
    expect(r.ok && Object.is(r.value, -0)).toBe(true)
  })

  it.each(['', ' ', 'x', 'id', '1 + 2', '--1', '-"a"', '-true', '/a/', '`a${b}`', '[1]', '{}', '"a" "b"', '1 2', '"abc', '010', 'f()', 'this'])(
    'refuses %j',
    (text) => {
      expect(parseLiteral(text)).toEqual({ ok: false })
    },
  )
})

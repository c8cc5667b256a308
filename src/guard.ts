/**
 * Guards: the `when` part of a trace spec in string form.
 *
 *     ./src/db.js:findUser(id, _) when id === 42 && typeof id === "number" -> return
 *
 * A guard is an expression in a small, restricted subset of JavaScript. It is parsed once with
 * acorn, checked, and compiled into a tree of closures, and from the same checked tree into
 * JavaScript source (`GuardCode`) that match.ts and the wrappers compile where code generation
 * is allowed (codegen.ts): no text of the guard ever becomes code. It then
 * runs on the traced call's hot path, with the values the argument pattern bound, and it must
 * never run user code nor throw into the traced program:
 *
 * - property reads go through `Object.getOwnPropertyDescriptor` on own data properties only;
 *   an accessor, a Proxy, or a read on a primitive (other than a string's `.length`) makes the
 *   guard false, and nothing on a prototype is ever consulted;
 * - no operator is allowed to coerce an object (no `valueOf`, `toString`,
 *   `Symbol.toPrimitive`): an object operand of arithmetic, a relational operator, unary `+`/`-`
 *   or `==` against a primitive other than null/undefined makes the guard false;
 * - `instanceof` walks the prototype chain itself against prototypes captured at load time
 *   (never `Symbol.hasInstance`), and the few methods allowed are intrinsics captured at load
 *   time, called on primitive strings, real arrays or our own regexes only.
 *
 * Any failure while evaluating returns a private sentinel that every operator passes up and
 * `Guard.test` turns into false; what JS itself throws on primitives (`-Symbol()`, `1n + 1`) is
 * caught there too.
 *
 * Cost per evaluation of the closures, measured with bench/guard.mjs (median of 5 processes x 2e7 calls, 2 cores,
 * Node 20.20 / 24.21, the loop's own ~3-5 ns included, plain JS predicate in brackets):
 * `id === 42` 4.8 / 6.1 ns [5.0 / 5.2]; `id > 10 && id < 100` 3.7 / 3.6 ns [3.1 / 3.3];
 * `typeof id === "number"` 8.7 / 11.1 ns [3.4 / 3.1]; `u.id === 42` 39 / 37 ns [5.6 / 5.8]
 * (a property read is isProxy + getOwnPropertyDescriptor, ~30 ns); `u?.name?.length > 2`
 * 52 / 46 ns; `sql.startsWith("SELECT")` 14 / 13 ns [16 / 12]; `/^sel/i.test(sql)` 32 / 31 ns
 * [19 / 18]; a guard that fails on a getter 41 / 37 ns.
 */
import { parseExpressionAt } from 'acorn'
import type { CallExpression, Expression, Identifier, Literal, MemberExpression, Node, Options, PrivateIdentifier, SpreadElement, Super } from 'acorn'
import { Buffer } from 'node:buffer'
import { types } from 'node:util'
import { show } from './error.js'

export interface Guard {
  readonly source: string
  /**
   * True when the guard holds for these bound values (in the order of `names` given to
   * compileGuard). Never throws: any failure (unreadable property, wrong type for an operator,
   * anything that would need user code) makes the guard false.
   */
  test(values: readonly unknown[]): boolean
  /** The same evaluation as source, for the matchers that generate code (match.ts). */
  readonly code: GuardCode
}

/**
 * A guard as source. `expr` is a JavaScript expression over the bound values `$v0`, `$v1`...
 * (in the order of the `names` given to compileGuard), the temporaries `$t0`... (`temps` of
 * them, declared by the function that holds it), the guard's `constants` as `$K`, and the names
 * of GUARD_SCOPE. Its value is what `test` turns into true or false: FAIL or falsy is false,
 * and a throw must be caught.
 *
 * It is written only from the checked tree, so it can only say what the guard language says:
 * names become `$v` indexes, string literals are written by JSON.stringify, numbers and bigints
 * by their decimal form, and every other value (a regex, a prototype, NaN) is read from `$K`.
 * No text of the guard becomes code.
 */
export interface GuardCode {
  readonly expr: string
  readonly temps: number
  readonly constants: readonly unknown[]
  /** The indexes of the bound values the expression reads. */
  readonly uses: readonly number[]
  /**
   * Equalities every value that passes the guard satisfies: `[k, c]` for a conjunct `name === c`
   * at the top of the guard (`c` a literal other than NaN), `$vk === c`. A probe checks one of
   * them before it calls the matcher (registry.ts).
   */
  readonly equals: readonly (readonly [number, unknown])[]
}

// ---------------------------------------------------------------------------------------------
// Intrinsics, captured once at load so that later monkey-patching cannot put user code on our
// path. Methods are "uncurried" (`fn(self, ...args)`) so that no `.call` is looked up later.

const uncurry = <T, A extends unknown[], R>(fn: (this: T, ...args: A) => R): ((self: T, ...args: A) => R) =>
  Function.prototype.call.bind(fn as (this: unknown, ...args: unknown[]) => unknown) as (self: T, ...args: A) => R

const isProxy = types.isProxy
const isTypedArray = types.isTypedArray
const isArray = Array.isArray
const getOwnDescriptor = Object.getOwnPropertyDescriptor
const getPrototypeOf = Object.getPrototypeOf
const hasOwn = Object.hasOwn
const freeze = Object.freeze
const stringStartsWith = uncurry(String.prototype.startsWith as (this: string, search: string) => boolean)
const stringEndsWith = uncurry(String.prototype.endsWith as (this: string, search: string) => boolean)
const stringIncludes = uncurry(String.prototype.includes as (this: string, search: string) => boolean)
const regexpExec = uncurry(RegExp.prototype.exec)
const typedArrayLength = uncurry(getOwnDescriptor(getPrototypeOf(Uint8Array.prototype) as object, 'length')!.get as (this: unknown) => number)

/** The builtins allowed on the right of `instanceof`, with their prototypes as at load time. */
const INSTANCEOF: ReadonlyMap<string, object> = (() => {
  const g = globalThis as unknown as Record<string, unknown>
  const names = [
    'Object',
    'Array',
    'Function',
    'Error',
    'TypeError',
    'RangeError',
    'SyntaxError',
    'ReferenceError',
    'EvalError',
    'URIError',
    'AggregateError',
    'Map',
    'Set',
    'WeakMap',
    'WeakSet',
    'Date',
    'RegExp',
    'Promise',
    'ArrayBuffer',
    'SharedArrayBuffer',
    'DataView',
    'Int8Array',
    'Uint8Array',
    'Uint8ClampedArray',
    'Int16Array',
    'Uint16Array',
    'Int32Array',
    'Uint32Array',
    'Float16Array',
    'Float32Array',
    'Float64Array',
    'BigInt64Array',
    'BigUint64Array',
  ]
  const map = new Map<string, object>()
  for (const name of names) {
    const ctor = g[name]
    if (typeof ctor === 'function') map.set(name, (ctor as { prototype: object }).prototype)
  }
  map.set('Buffer', Buffer.prototype)
  return map
})()

// ---------------------------------------------------------------------------------------------
// Run-time helpers. An evaluation that cannot go on (a getter, a proxy, an object an operator
// would coerce, ...) returns `FAIL`, which every operator passes up unchanged and `test` turns
// into false; returning it costs nothing where throwing would unwind on every failed call.
// `SHORT` is what a short-circuited optional chain (`a?.b` with `a` nullish) passes up to the
// enclosing chain, which turns it into `undefined`. Both are private objects: no bound value can
// ever be one of them, and since they are objects, the checks operators make against coercing an
// object catch them too.

const FAIL: object = freeze({ guardFailed: true })
const SHORT: object = freeze({ chainShortCircuited: true })

type Ev = (values: readonly unknown[]) => unknown

/** Objects and functions: the values an operator must not coerce and a read must inspect. */
function isObject(x: unknown): x is object {
  return typeof x === 'object' ? x !== null : typeof x === 'function'
}

/** An own data property of `x`, or `undefined` if it has none; FAIL on accessors, proxies, primitives. */
function readOwn(x: unknown, key: PropertyKey): unknown {
  if (!isObject(x)) return typeof x === 'string' && key === 'length' ? x.length : FAIL
  if (x === FAIL || isProxy(x)) return FAIL
  if (key === 'length') {
    if (isArray(x)) return x.length
    if (isTypedArray(x)) return typedArrayLength(x)
  }
  const d = getOwnDescriptor(x, key)
  if (d === undefined) return undefined
  // `d` is a fresh ordinary object: ask hasOwn, since an inherited `value` could be a getter.
  return hasOwn(d, 'value') ? d.value : FAIL
}

/** Keys that reach an object's internals rather than its data. */
function isForbiddenKey(k: string): boolean {
  return k === '__proto__' || k === 'constructor' || k === 'prototype'
}

/** `x[k]` for a key computed at run time: FAIL for an object key (it would be coerced) and internals. */
function readComputed(x: unknown, k: unknown): unknown {
  switch (typeof k) {
    case 'string':
      return isForbiddenKey(k) ? FAIL : readOwn(x, k)
    case 'number':
    case 'symbol':
      return readOwn(x, k)
    case 'bigint':
    case 'boolean':
    case 'undefined':
      return readOwn(x, `${k}`)
    default:
      return k === null ? readOwn(x, 'null') : FAIL
  }
}

function looseEquals(a: unknown, b: unknown, negate: boolean): unknown {
  const ao = isObject(a)
  const bo = isObject(b)
  if (!ao && !bo) return negate ? a != b : a == b
  if (a === FAIL || b === FAIL) return FAIL
  if (ao && bo) return negate ? a !== b : a === b
  // JS never coerces an object to compare it with null or undefined: it is not equal to them.
  const other = ao ? b : a
  if (other === null || other === undefined) return negate
  return FAIL
}

/** Exponents of bigint `**` above this fail instead of computing a huge number on the hot path. */
const MAX_BIGINT_EXPONENT = 4096n

function instanceOf(x: unknown, proto: object): unknown {
  if (!isObject(x)) return false
  if (x === FAIL) return FAIL
  let o: object | null = x
  for (;;) {
    if (isProxy(o)) return false
    o = getPrototypeOf(o) as object | null
    if (o === null) return false
    if (o === proto) return true
  }
}

function arrayIncludes(a: readonly unknown[], v: unknown): unknown {
  if (v === FAIL) return FAIL
  const n = a.length
  for (let i = 0; i < n; i++) {
    const d = getOwnDescriptor(a, i)
    let x: unknown
    if (d !== undefined) {
      if (!hasOwn(d, 'value')) return FAIL
      x = d.value
    }
    if (x === v || (x !== x && v !== v)) return true
  }
  return false
}

type Method = (receiver: unknown, arg: unknown) => unknown

const METHODS: Readonly<Record<'startsWith' | 'endsWith' | 'includes', Method>> = {
  startsWith: (s, t) => (typeof s === 'string' && typeof t === 'string' ? stringStartsWith(s, t) : FAIL),
  endsWith: (s, t) => (typeof s === 'string' && typeof t === 'string' ? stringEndsWith(s, t) : FAIL),
  includes(s, t) {
    if (typeof s === 'string') return typeof t === 'string' ? stringIncludes(s, t) : FAIL
    if (isObject(s) && s !== FAIL && !isProxy(s) && isArray(s)) return arrayIncludes(s, t)
    return FAIL
  },
}

// ---------------------------------------------------------------------------------------------
// Compilation.

/**
 * A compiled expression; constants are folded so that `x === -1` compares with a value. Each
 * has two equal forms: `ev`, a closure over the bound values, and `code`, the same evaluation
 * as JavaScript source (see GuardCode), written only from the checked tree.
 */
interface Compiled {
  readonly ev: Ev
  readonly constant: boolean
  readonly value: unknown
  /** Index into the bound values when the expression is a bare name, else -1. */
  readonly slot: number
  /** For `typeof x`: the compiled `x`. */
  readonly typeofOf?: Compiled
  /** The expression as source, parenthesized; empty for a constant (`Compiler.code` writes its value). */
  readonly code: string
}

const dynamic = (ev: Ev, code: string): Compiled => ({ ev, constant: false, value: undefined, slot: -1, code })
const constant = (value: unknown): Compiled => ({ ev: () => value, constant: true, value, slot: -1, code: '' })
const NO_VALUES: readonly unknown[] = freeze([])

const CONSTANTS: ReadonlyMap<string, unknown> = new Map<string, unknown>([
  ['undefined', undefined],
  ['NaN', NaN],
  ['Infinity', Infinity],
])
const MAX_DEPTH = 100

const OPERATORS = '=== !== == != < <= > >= + - * / % ** && || ?? ! ?: typeof instanceof'
const CALLS = 'Array.isArray(x), s.startsWith(t), s.endsWith(t), s.includes(t), a.includes(v), /re/.test(s)'
const ALLOWED =
  `a guard may use the names bound by the argument pattern, literals, own-property reads ` +
  `(a.b, a[0], a["k"], a?.b, .length), the operators ${OPERATORS}, and the calls ${CALLS}`
const BUILTINS = [...INSTANCEOF.keys()].join(', ')

// preserveParens: without it, `(x === 1)` would end (for acorn) before its closing parenthesis.
const ACORN_OPTIONS: Options = { ecmaVersion: 'latest', sourceType: 'module', preserveParens: true }

/**
 * A value as a JavaScript literal, parenthesized where a sign could join an operator: finite
 * numbers, strings (by JSON.stringify), booleans, null, undefined and bigints; undefined for
 * any other value (NaN, a regex, an object), which generated code must read from an array.
 */
export function literalSource(value: unknown): string | undefined {
  switch (typeof value) {
    case 'number':
      if (!Number.isFinite(value)) return undefined
      return Object.is(value, -0) ? '(-0)' : value < 0 ? `(${String(value)})` : String(value)
    case 'string':
      return JSON.stringify(value)
    case 'boolean':
      return value ? 'true' : 'false'
    case 'undefined':
      return '(void 0)'
    case 'bigint':
      return value < 0n ? `(${String(value)}n)` : `${String(value)}n`
    default:
      return value === null ? 'null' : undefined
  }
}

/** `node` without the parentheses around it. */
function unparen(node: AnyExpression): AnyExpression {
  while (node.type === 'ParenthesizedExpression') node = node.expression
  return node
}

type AnyExpression = Expression | Super | SpreadElement | PrivateIdentifier

class Compiler {
  private readonly source: string
  private readonly problems: string[]
  private readonly slots = new Map<string, number>()
  private readonly unknown = new Set<string>()
  private tooDeep = false
  /** The bound values the guard names. */
  readonly used = new Set<number>()

  /** The guard's top-level conjuncts `name === literal` (either way round), as GuardCode.equals. */
  equalities(node: AnyExpression, out: [number, unknown][] = []): [number, unknown][] {
    node = unparen(node)
    if (node.type === 'LogicalExpression' && node.operator === '&&') {
      this.equalities(node.left, out)
      this.equalities(node.right, out)
    } else if (node.type === 'BinaryExpression' && node.operator === '===') {
      const [l, r] = [unparen(node.left), unparen(node.right)]
      const name = l.type === 'Identifier' && this.slots.has(l.name) ? l : r.type === 'Identifier' && this.slots.has(r.name) ? r : undefined
      const other = name === l ? r : l
      // A literal, and not a bound name (`undefined` can be one): parsed as the pattern literals are.
      const lit = name && !(other.type === 'Identifier' && this.slots.has(other.name)) ? parseLiteral(this.source.slice(other.start, other.end)) : undefined
      if (name && lit?.ok && lit.value === lit.value) out.push([this.slots.get(name.name)!, lit.value])
    }
    return out
  }
  /** Values the generated code reads from `$K` (prototypes, regexes, anything without a literal). */
  readonly constants: unknown[] = []
  /** How many temporaries (`$t0`...) the generated code declares. */
  temps = 0

  constructor(source: string, names: readonly string[], problems: string[]) {
    this.source = source
    this.problems = problems
    names.forEach((name, i) => {
      if (!this.slots.has(name)) this.slots.set(name, i)
    })
  }

  /** A fresh temporary of the generated code. */
  private temp(): string {
    return `$t${this.temps++}`
  }

  /** The source of a compiled expression: its code, or its value when it is a constant. */
  code(c: Compiled): string {
    return c.constant ? this.valueCode(c.value) : c.code
  }

  /**
   * A value as source: a literal for finite numbers, strings (JSON, so no text of the guard is
   * ever code), booleans, null, undefined and bigints; a read of `$K` for anything else.
   */
  private valueCode(value: unknown): string {
    const literal = literalSource(value)
    if (literal !== undefined) return literal
    let i = this.constants.indexOf(value)
    if (i < 0) i = this.constants.push(value) - 1
    return `$K[${i}]`
  }

  private fragment(node: Node): string {
    const text = this.source.slice(node.start, node.end).replace(/\s+/g, ' ')
    return text.length > 60 ? `${text.slice(0, 57)}...` : text
  }

  /** The fragment in backquotes, or in double quotes when it holds a backquote itself. */
  private quoted(node: Node): string {
    const text = this.fragment(node)
    return text.includes('`') ? JSON.stringify(text) : `\`${text}\``
  }

  /** Push `guard "<source>" is not allowed: <what> `<fragment>`; <hint>` and return undefined. */
  private refuse(node: Node, what: string, hint: string): undefined {
    this.problems.push(`guard ${show(this.source)} is not allowed: ${what} ${this.quoted(node)}; ${hint}`)
    return undefined
  }

  compile(node: AnyExpression, depth: number, inChain = false): Compiled | undefined {
    if (depth > MAX_DEPTH) {
      if (!this.tooDeep) {
        this.tooDeep = true
        this.problems.push(`guard ${show(this.source)} nests too deeply (more than ${MAX_DEPTH} levels); write a simpler guard`)
      }
      return undefined
    }
    const d = depth + 1
    switch (node.type) {
      case 'Literal':
        return this.literal(node)
      case 'Identifier':
        return this.identifier(node)
      case 'TemplateLiteral':
        if (node.expressions.length > 0) return this.refuse(node, 'a template literal with ${} expressions', 'write a plain string, or join strings with `+`')
        return constant(node.quasis[0]?.value.cooked ?? '')
      case 'UnaryExpression':
        return this.unary(node, d)
      case 'BinaryExpression':
        return this.binary(node, d)
      case 'LogicalExpression': {
        const l = this.compile(node.left, d)
        const r = this.compile(node.right, d)
        if (!l || !r) return undefined
        const a = l.ev
        const b = r.ev
        const [ca, cb] = [this.code(l), this.code(r)]
        switch (node.operator) {
          case '&&': {
            const t = this.temp()
            return this.fold(
              dynamic((v) => {
                const x = a(v)
                return x === FAIL || !x ? x : b(v)
              }, `(${t} = ${ca}, ${t} === $F || !${t} ? ${t} : ${cb})`),
              l,
              r,
            )
          }
          // FAIL is truthy and not nullish: `||` and `??` pass it up by themselves.
          case '||':
            return this.fold(
              dynamic((v) => a(v) || b(v), `(${ca} || ${cb})`),
              l,
              r,
            )
          case '??':
            return this.fold(
              dynamic((v) => a(v) ?? b(v), `(${ca} ?? ${cb})`),
              l,
              r,
            )
        }
        return undefined
      }
      case 'ConditionalExpression': {
        const t = this.compile(node.test, d)
        const c = this.compile(node.consequent, d)
        const e = this.compile(node.alternate, d)
        if (!t || !c || !e) return undefined
        const [a, b, f] = [t.ev, c.ev, e.ev]
        const x = this.temp()
        return this.fold(
          dynamic(
            (v) => {
              const x = a(v)
              return x === FAIL ? FAIL : x ? b(v) : f(v)
            },
            `(${x} = ${this.code(t)}, ${x} === $F ? $F : ${x} ? ${this.code(c)} : ${this.code(e)})`,
          ),
          t,
          c,
          e,
        )
      }
      case 'MemberExpression':
        return this.member(node, d, inChain)
      case 'ChainExpression': {
        const inner = this.compile(node.expression, d, true)
        if (!inner) return undefined
        const a = inner.ev
        const t = this.temp()
        return this.fold(
          dynamic(
            (v) => {
              const x = a(v)
              return x === SHORT ? undefined : x
            },
            `(${t} = ${this.code(inner)}, ${t} === $S ? void 0 : ${t})`,
          ),
          inner,
        )
      }
      case 'CallExpression':
        return this.call(node, d, inChain)
      case 'AssignmentExpression':
        return this.refuse(
          node,
          'assignment',
          node.operator === '='
            ? `a guard only reads values: to compare, write \`${this.fragment(node.left)} === ${this.fragment(node.right)}\``
            : `a guard only reads values; ${ALLOWED}`,
        )
      case 'UpdateExpression':
        return this.refuse(node, `an update (\`${node.operator}\`)`, 'a guard only reads values: write `x + 1` to compute a value')
      case 'SequenceExpression':
        return this.refuse(node, 'a comma sequence', 'combine conditions with `&&` or `||`')
      case 'ArrowFunctionExpression':
      case 'FunctionExpression':
        return this.refuse(node, 'a function', `a guard is one expression; ${ALLOWED}`)
      case 'ClassExpression':
        return this.refuse(node, 'a class', `a guard is one expression; ${ALLOWED}`)
      case 'ThisExpression':
        return this.refuse(node, '`this`', 'a guard sees only the arguments the pattern binds: name them in the pattern')
      case 'NewExpression':
        return this.refuse(node, '`new`', `a guard cannot construct objects; ${ALLOWED}`)
      case 'AwaitExpression':
        return this.refuse(node, '`await`', 'a guard runs synchronously on the call; test the value itself')
      case 'YieldExpression':
        return this.refuse(node, '`yield`', `a guard is one expression; ${ALLOWED}`)
      case 'TaggedTemplateExpression':
        return this.refuse(node, 'a tagged template (a call)', `the only calls allowed are ${CALLS}`)
      case 'ImportExpression':
      case 'MetaProperty':
        return this.refuse(node, node.type === 'MetaProperty' ? 'a meta property' : 'a dynamic import', ALLOWED)
      case 'ArrayExpression':
        return this.refuse(node, 'an array literal', 'to test for one of several values, write `x === 1 || x === 2`')
      case 'ObjectExpression':
        return this.refuse(node, 'an object literal', 'compare properties one by one: `x.a === 1 && x.b === 2`')
      case 'SpreadElement':
        return this.refuse(node, 'a spread `...`', ALLOWED)
      case 'Super':
        return this.refuse(node, '`super`', ALLOWED)
      case 'PrivateIdentifier':
        return this.refuse(node, 'a private name', 'private fields cannot be read by a guard')
      case 'ParenthesizedExpression':
        return this.compile(node.expression, d, inChain)
    }
    return this.refuse(node, `\`${(node as Node).type}\``, ALLOWED)
  }

  /** Fold an expression whose operands are all constants into its value (when it has one). */
  private fold(c: Compiled, ...operands: Compiled[]): Compiled {
    if (!operands.every((o) => o.constant)) return c
    try {
      const value = c.ev(NO_VALUES)
      if (value !== FAIL) return constant(value)
    } catch {
      // it throws at every evaluation, which `test` turns into false, as it should
    }
    return c
  }

  private literal(node: Literal): Compiled | undefined {
    if (node.regex) return this.refuse(node, 'a regex literal outside `/re/.test(s)`', 'use it as `/re/.test(s)` with `s` a string')
    if (node.bigint !== undefined) return constant(BigInt(node.bigint))
    return constant(node.value)
  }

  private identifier(node: Identifier): Compiled | undefined {
    const slot = this.slots.get(node.name)
    if (slot !== undefined) {
      this.used.add(slot)
      return { ev: (v) => v[slot], constant: false, value: undefined, slot, code: `$v${slot}` }
    }
    if (CONSTANTS.has(node.name)) return constant(CONSTANTS.get(node.name))
    if (INSTANCEOF.has(node.name))
      return this.refuse(
        node,
        'a builtin used as a value:',
        `builtins can only appear as \`x instanceof ${node.name}\`${node.name === 'Array' ? ' or `Array.isArray(x)`' : ''}`,
      )
    if (this.unknown.has(node.name)) return undefined // reported once
    this.unknown.add(node.name)
    const bound = [...this.slots.keys()]
    return this.refuse(
      node,
      'the unknown name',
      bound.length > 0
        ? `a guard can use only the names the argument pattern binds: ${bound.join(', ')}`
        : 'the argument pattern binds no names: bind one, as in `findUser(id) when id === 42`',
    )
  }

  private unary(node: Expression & { type: 'UnaryExpression' }, d: number): Compiled | undefined {
    switch (node.operator) {
      case 'void':
        return this.refuse(node, '`void`', 'write `undefined`')
      case 'delete':
        return this.refuse(node, '`delete`', 'a guard only reads values')
      case '~':
        return this.refuse(node, 'the bitwise operator `~`', `the operators allowed are ${OPERATORS}`)
    }
    const x = this.compile(node.argument, d)
    if (!x) return undefined
    const a = x.ev
    const t = this.temp()
    const set = `${t} = ${this.code(x)}`
    let ev: Ev
    let code: string
    switch (node.operator) {
      case '!':
        ev = (v) => {
          const y = a(v)
          return y === FAIL ? FAIL : !y
        }
        code = `(${set}, ${t} === $F ? $F : !${t})`
        break
      case 'typeof':
        ev = (v) => {
          const y = a(v)
          return y === FAIL ? FAIL : typeof y
        }
        code = `(${set}, ${t} === $F ? $F : typeof ${t})`
        return { ...this.fold(dynamic(ev, code), x), typeofOf: x }
      case '-':
        ev = (v) => {
          const y = a(v)
          return isObject(y) ? FAIL : -(y as number)
        }
        code = `(${set}, $isObject(${t}) ? $F : -${t})`
        break
      case '+':
        ev = (v) => {
          const y = a(v)
          return isObject(y) ? FAIL : +(y as number)
        }
        code = `(${set}, $isObject(${t}) ? $F : +${t})`
        break
    }
    return this.fold(dynamic(ev, code), x)
  }

  /** The source of `identity`'s evaluation. */
  private identityCode(l: Compiled, r: Compiled, negate: boolean): string {
    const op = negate ? '!==' : '==='
    if (!r.constant) {
      const [x, y] = [this.temp(), this.temp()]
      return `(${x} = ${this.code(l)}, ${y} = ${this.code(r)}, ${x} === $F || ${y} === $F ? $F : ${x} ${op} ${y})`
    }
    const c = this.code(r)
    if (l.slot >= 0) return `(${l.code} ${op} ${c})`
    const t = l.typeofOf
    if (t && t.slot >= 0) return `(typeof ${t.code} ${op} ${c})`
    const x = this.temp()
    return `(${x} = ${this.code(l)}, ${x} === $F ? $F : ${x} ${op} ${c})`
  }

  /** `===` and `!==`, with the common shapes `x === 42` and `typeof x === "string"` made direct. */
  private identity(l: Compiled, r: Compiled, negate: boolean): Ev {
    const a = l.ev
    const b = r.ev
    if (!r.constant) {
      return negate
        ? (v) => {
            const x = a(v)
            const y = b(v)
            return x === FAIL || y === FAIL ? FAIL : x !== y
          }
        : (v) => {
            const x = a(v)
            const y = b(v)
            return x === FAIL || y === FAIL ? FAIL : x === y
          }
    }
    const c = r.value
    const i = l.slot
    if (i >= 0) return negate ? (v) => v[i] !== c : (v) => v[i] === c
    const t = l.typeofOf
    if (t && t.slot >= 0) {
      const j = t.slot
      return negate ? (v) => typeof v[j] !== c : (v) => typeof v[j] === c
    }
    return negate
      ? (v) => {
          const x = a(v)
          return x === FAIL ? FAIL : x !== c
        }
      : (v) => {
          const x = a(v)
          return x === FAIL ? FAIL : x === c
        }
  }

  private binary(node: Expression & { type: 'BinaryExpression' }, d: number): Compiled | undefined {
    const op = node.operator
    switch (op) {
      case 'in':
        return this.refuse(node, 'the `in` operator', 'it would consult the prototype chain: to test an own property, write `x.key !== undefined`')
      case '&':
      case '|':
      case '^':
      case '<<':
      case '>>':
      case '>>>':
        return this.refuse(node, `the bitwise operator \`${op}\``, `the operators allowed are ${OPERATORS}`)
      case 'instanceof':
        return this.instanceOf(node, d)
    }
    const l0 = this.compile(node.left, d)
    const r0 = this.compile(node.right, d)
    if (!l0 || !r0) return undefined
    // Put a constant on the right of a comparison, where `identity` looks for it.
    const swap = (op === '===' || op === '!==') && l0.constant && !r0.constant
    const l = swap ? r0 : l0
    const r = swap ? l0 : r0
    const a = l.ev
    const b = r.ev
    // Relational and arithmetic operators would coerce an object (and FAIL is one): such an
    // operand fails the guard instead. Among primitives, JS semantics apply as they are.
    let ev: Ev
    let code: string
    const [ca, cb] = [this.code(l), this.code(r)]
    // Relational and arithmetic operators: both operands once, into temporaries, then the check.
    const [x, y] = op === '===' || op === '!==' || op === '==' || op === '!=' ? ['', ''] : [this.temp(), this.temp()]
    const both = `${x} = ${ca}, ${y} = ${cb}, $isObject(${x}) || $isObject(${y})`
    switch (op) {
      case '===':
      case '!==':
        ev = this.identity(l, r, op === '!==')
        code = this.identityCode(l, r, op === '!==')
        break
      case '==':
        ev = (v) => looseEquals(a(v), b(v), false)
        code = `$looseEquals(${ca}, ${cb}, false)`
        break
      case '!=':
        ev = (v) => looseEquals(a(v), b(v), true)
        code = `$looseEquals(${ca}, ${cb}, true)`
        break
      case '<':
        ev = (v) => {
          const x = a(v)
          const y = b(v)
          return isObject(x) || isObject(y) ? FAIL : (x as number) < (y as number)
        }
        code = `(${both} ? $F : ${x} < ${y})`
        break
      case '<=':
        ev = (v) => {
          const x = a(v)
          const y = b(v)
          return isObject(x) || isObject(y) ? FAIL : (x as number) <= (y as number)
        }
        code = `(${both} ? $F : ${x} <= ${y})`
        break
      case '>':
        ev = (v) => {
          const x = a(v)
          const y = b(v)
          return isObject(x) || isObject(y) ? FAIL : (x as number) > (y as number)
        }
        code = `(${both} ? $F : ${x} > ${y})`
        break
      case '>=':
        ev = (v) => {
          const x = a(v)
          const y = b(v)
          return isObject(x) || isObject(y) ? FAIL : (x as number) >= (y as number)
        }
        code = `(${both} ? $F : ${x} >= ${y})`
        break
      case '+':
        ev = (v) => {
          const x = a(v)
          const y = b(v)
          return isObject(x) || isObject(y) ? FAIL : (x as number) + (y as number)
        }
        code = `(${both} ? $F : ${x} + ${y})`
        break
      case '-':
        ev = (v) => {
          const x = a(v)
          const y = b(v)
          return isObject(x) || isObject(y) ? FAIL : (x as number) - (y as number)
        }
        code = `(${both} ? $F : ${x} - ${y})`
        break
      case '*':
        ev = (v) => {
          const x = a(v)
          const y = b(v)
          return isObject(x) || isObject(y) ? FAIL : (x as number) * (y as number)
        }
        code = `(${both} ? $F : ${x} * ${y})`
        break
      case '/':
        ev = (v) => {
          const x = a(v)
          const y = b(v)
          return isObject(x) || isObject(y) ? FAIL : (x as number) / (y as number)
        }
        code = `(${both} ? $F : ${x} / ${y})`
        break
      case '%':
        ev = (v) => {
          const x = a(v)
          const y = b(v)
          return isObject(x) || isObject(y) ? FAIL : (x as number) % (y as number)
        }
        code = `(${both} ? $F : ${x} % ${y})`
        break
      case '**':
        ev = (v) => {
          const x = a(v)
          const y = b(v)
          if (isObject(x) || isObject(y) || (typeof y === 'bigint' && y > MAX_BIGINT_EXPONENT)) return FAIL
          return (x as number) ** (y as number)
        }
        code = `(${both} || (typeof ${y} === "bigint" && ${y} > $MAX_EXPONENT) ? $F : ${x} ** ${y})`
        break
      default:
        return this.refuse(node, `the operator \`${op}\``, `the operators allowed are ${OPERATORS}`)
    }
    return this.fold(dynamic(ev, code), l, r)
  }

  private instanceOf(node: Expression & { type: 'BinaryExpression' }, d: number): Compiled | undefined {
    const right = unparen(node.right)
    const l = this.compile(node.left, d)
    if (right.type !== 'Identifier' || !INSTANCEOF.has(right.name) || this.slots.has(right.name)) {
      const what = this.quoted(right)
      return this.refuse(
        node,
        `\`instanceof\` with ${what} on its right in`,
        `only builtins can appear there (a user class could run code through Symbol.hasInstance): ${BUILTINS}`,
      )
    }
    if (!l) return undefined
    const a = l.ev
    const proto = INSTANCEOF.get(right.name)!
    return this.fold(
      dynamic((v) => instanceOf(a(v), proto), `$instanceOf(${this.code(l)}, ${this.valueCode(proto)})`),
      l,
    )
  }

  private member(node: MemberExpression, d: number, inChain: boolean): Compiled | undefined {
    if (node.object.type === 'Super') return this.compile(node.object, d)
    if (node.property.type === 'PrivateIdentifier') return this.compile(node.property, d)
    const obj = this.compile(node.object, d, inChain)
    let key: PropertyKey | undefined
    let dyn: Compiled | undefined
    if (!node.computed) key = (node.property as Identifier).name
    else {
      dyn = this.compile(node.property, d)
      if (!dyn) return undefined
      if (dyn.constant && !isObject(dyn.value)) {
        key = typeof dyn.value === 'symbol' || typeof dyn.value === 'number' ? dyn.value : `${dyn.value as string}`
        dyn = undefined
      }
    }
    if (typeof key === 'string' && isForbiddenKey(key))
      return this.refuse(
        node,
        `reading \`${key}\` in`,
        "a guard reads only own data properties, never an object's internals: compare a property of your own instead",
      )
    if (!obj) return undefined
    const o = obj.ev
    const optional = node.optional
    const read = dyn ? `$readComputed` : `$readOwn`
    const keyCode = dyn ? this.code(dyn) : this.valueCode(key)
    let code: string
    if (inChain) {
      const t = this.temp()
      const short = optional ? `${t} === $S || ${t} === null || ${t} === void 0` : `${t} === $S`
      code = `(${t} = ${this.code(obj)}, ${short} ? $S : ${read}(${t}, ${keyCode}))`
    } else code = `${read}(${this.code(obj)}, ${keyCode})`
    let ev: Ev
    if (dyn) {
      const k = dyn.ev
      ev = inChain
        ? (v) => {
            const x = o(v)
            if (x === SHORT || (optional && (x === null || x === undefined))) return SHORT
            return readComputed(x, k(v))
          }
        : (v) => readComputed(o(v), k(v))
    } else {
      const k = key as PropertyKey
      ev = inChain
        ? (v) => {
            const x = o(v)
            if (x === SHORT || (optional && (x === null || x === undefined))) return SHORT
            return readOwn(x, k)
          }
        : (v) => readOwn(o(v), k)
    }
    return dyn ? this.fold(dynamic(ev, code), obj, dyn) : this.fold(dynamic(ev, code), obj)
  }

  private call(node: CallExpression, d: number, inChain: boolean): Compiled | undefined {
    const callee = unparen(node.callee)
    const refuseCall = () => this.refuse(node, 'the call', `the only calls allowed are ${CALLS}`)
    if (node.optional) return this.refuse(node, 'an optional call `?.()` in', `write \`x?.includes(y)\`; the only calls allowed are ${CALLS}`)
    if (callee.type !== 'MemberExpression' || callee.computed || callee.property.type !== 'Identifier') return refuseCall()
    const method = callee.property.name
    const receiver = unparen(callee.object)
    const isBuiltinArray = receiver.type === 'Identifier' && receiver.name === 'Array' && !this.slots.has('Array')
    const isRegex = receiver.type === 'Literal' && receiver.regex !== undefined
    const known =
      (isBuiltinArray && method === 'isArray') ||
      (isRegex && method === 'test') ||
      (!isBuiltinArray && !isRegex && (method === 'startsWith' || method === 'endsWith' || method === 'includes'))
    if (!known) return refuseCall()
    const arg0 = node.arguments[0]
    if (node.arguments.length !== 1 || arg0 === undefined || arg0.type === 'SpreadElement')
      return this.refuse(node, `\`${method}\` with other than one argument in`, `write it as one of ${CALLS}`)
    const arg = this.compile(arg0, d)

    if (isBuiltinArray) {
      if (!arg) return undefined
      const a = arg.ev
      const t = this.temp()
      return this.fold(
        dynamic(
          (v) => {
            const x = a(v)
            return x === FAIL ? FAIL : isObject(x) && !isProxy(x) && isArray(x)
          },
          `(${t} = ${this.code(arg)}, ${t} === $F ? $F : $isObject(${t}) && !$isProxy(${t}) && $isArray(${t}))`,
        ),
        arg,
      )
    }

    if (isRegex) {
      const { pattern, flags } = (receiver as Literal).regex!
      if (flags.includes('g') || flags.includes('y'))
        return this.refuse(
          receiver,
          'the regex flags `g` and `y` in',
          `they make \`.test\` depend on the previous call; drop them: /${pattern}/${flags.replace(/[gy]/g, '')}`,
        )
      let re: RegExp
      try {
        re = new RegExp(pattern, flags)
      } catch (e) {
        return this.refuse(receiver, `an invalid regex (${(e as Error).message})`, 'fix the regex')
      }
      if (!arg) return undefined
      const a = arg.ev
      const t = this.temp()
      return this.fold(
        dynamic(
          (v) => {
            const s = a(v)
            return typeof s === 'string' ? regexpExec(re, s) !== null : FAIL
          },
          `(${t} = ${this.code(arg)}, typeof ${t} === "string" ? $regexpExec(${this.valueCode(re)}, ${t}) !== null : $F)`,
        ),
        arg,
      )
    }

    const recv = this.compile(receiver, d, inChain)
    if (!recv || !arg) return undefined
    const impl = METHODS[method as keyof typeof METHODS]
    const r = recv.ev
    const a = arg.ev
    const optional = callee.optional
    const ev: Ev = inChain
      ? (v) => {
          const x = r(v)
          if (x === SHORT || (optional && (x === null || x === undefined))) return SHORT
          return impl(x, a(v))
        }
      : (v) => impl(r(v), a(v))
    const fn = `$${method}`
    let code: string
    if (inChain) {
      const t = this.temp()
      const short = optional ? `${t} === $S || ${t} === null || ${t} === void 0` : `${t} === $S`
      code = `(${t} = ${this.code(recv)}, ${short} ? $S : ${fn}(${t}, ${this.code(arg)}))`
    } else code = `${fn}(${this.code(recv)}, ${this.code(arg)})`
    return this.fold(dynamic(ev, code), recv, arg)
  }
}

// ---------------------------------------------------------------------------------------------

/** The line of `source` holding `pos` (at most 120 characters of it), and a caret under `pos`. */
function caret(source: string, pos: number): string {
  const lineStart = source.lastIndexOf('\n', pos - 1) + 1
  let lineEnd = source.indexOf('\n', pos)
  if (lineEnd < 0) lineEnd = source.length
  const from = Math.max(lineStart, pos - 60)
  const to = Math.min(lineEnd, from + 120)
  const before = from > lineStart ? '...' : ''
  const after = to < lineEnd ? '...' : ''
  return `\n    ${before}${source.slice(from, to)}${after}\n    ${' '.repeat(before.length + pos - from)}^`
}

function syntaxProblem(source: string, error: unknown): string {
  const e = error as { message?: unknown; pos?: unknown }
  if (error instanceof RangeError || /stack space/.test(String(e?.message))) return `guard ${show(source)} nests too deeply to parse; write a simpler guard`
  let message = typeof e?.message === 'string' ? e.message.replace(/ \(\d+:\d+\)$/, '') : 'cannot parse it'
  message = message.charAt(0).toLowerCase() + message.slice(1)
  let hint = ''
  if (/rvalue/.test(message)) hint = ' (a guard only reads values: to compare, write `===`)'
  const where = typeof e?.pos === 'number' ? caret(source, e.pos) : ''
  return `guard ${show(source)} does not parse: ${message}${hint}${where}`
}

/**
 * Parse and check `source`; on failure push one clear problem per error into `problems` (showing
 * the source with a caret or the offending fragment, and saying what is allowed) and return
 * undefined. `names` are the names the argument pattern bound.
 */
export function compileGuard(source: string, names: readonly string[], problems: string[]): Guard | undefined {
  if (typeof source !== 'string' || source.trim() === '') {
    problems.push('the guard after `when` is empty: write a condition, as in `when id === 42`')
    return undefined
  }
  let ast: Expression
  try {
    ast = parseExpressionAt(source, 0, ACORN_OPTIONS)
  } catch (error) {
    problems.push(syntaxProblem(source, error))
    return undefined
  }
  const rest = source.slice(ast.end)
  if (rest.trim() !== '') {
    const at = ast.end + (rest.length - rest.trimStart().length)
    problems.push(
      `guard ${show(source)} does not parse: unexpected \`${rest.trim()}\` after the end of the expression` +
        ` (a guard is one expression; combine conditions with \`&&\` or \`||\`)${caret(source, at)}`,
    )
    return undefined
  }
  const before = problems.length
  let compiled: Compiled | undefined
  const compiler = new Compiler(source, names, problems)
  try {
    compiled = compiler.compile(ast, 0)
  } catch (error) {
    problems.push(
      error instanceof RangeError
        ? `guard ${show(source)} nests too deeply to compile; write a simpler guard`
        : `guard ${show(source)} could not be compiled: ${String((error as Error)?.message)}`,
    )
    return undefined
  }
  if (!compiled || problems.length > before) return undefined
  const code: GuardCode = freeze({
    expr: compiled.constant ? (compiled.value ? 'true' : 'false') : compiled.code,
    temps: compiler.temps,
    constants: freeze([...compiler.constants]),
    uses: freeze([...compiler.used].sort((a, b) => a - b)),
    equals: freeze(compiler.equalities(ast).map((e) => freeze(e))),
  })
  let test: (values: readonly unknown[]) => boolean
  if (compiled.constant) {
    const result = !!compiled.value
    test = () => result
  } else {
    const ev = compiled.ev
    test = (values) => {
      try {
        const result = ev(values)
        return result !== FAIL && !!result
      } catch {
        // What still throws: operators on mismatched primitives (a symbol, a bigint with a
        // number), a string grown too long, a stack overflow. None of it reaches the program.
        return false
      }
    }
  }
  return freeze({ source, test, code })
}

/**
 * What the names of a GuardCode's expression other than its own refer to: the run-time helpers
 * above, captured at load like every intrinsic here.
 */
export const GUARD_SCOPE: Readonly<Record<string, unknown>> = freeze({
  $F: FAIL,
  $S: SHORT,
  $isObject: isObject,
  $isProxy: isProxy,
  $isArray: isArray,
  $readOwn: readOwn,
  $readComputed: readComputed,
  $looseEquals: looseEquals,
  $instanceOf: instanceOf,
  $regexpExec: regexpExec,
  $startsWith: METHODS.startsWith,
  $endsWith: METHODS.endsWith,
  $includes: METHODS.includes,
  $MAX_EXPONENT: MAX_BIGINT_EXPONENT,
})

/**
 * The source of `function name($v0, ...) { ... }`, the guard's test as code: true when the guard
 * holds for these values, false otherwise, never a throw. `constants` is the name, in scope
 * where the source is compiled, of an array that holds `code.constants`; GUARD_SCOPE's names
 * must be in scope too.
 */
export function guardFunctionSource(name: string, code: GuardCode, arity: number, constants: string): string {
  const params = Array.from({ length: arity }, (_, i) => `$v${i}`).join(', ')
  const temps = code.temps > 0 ? `let ${Array.from({ length: code.temps }, (_, i) => `$t${i}`).join(', ')};` : ''
  return `function ${name}(${params}) {const $K = ${constants};${temps}` + `try {const $r = ${code.expr}; return $r !== $F && !!$r} catch {return false}}`
}

/**
 * Parse a single literal of an argument pattern: a number (negative, hex, octal, binary, bigint
 * `10n`, `NaN`, `Infinity`), a string in single or double quotes (or backquotes without `${}`),
 * `true`, `false`, `null` or `undefined`. Never throws.
 */
export function parseLiteral(text: string): { ok: true; value: unknown } | { ok: false } {
  const no = { ok: false } as const
  if (typeof text !== 'string' || text.trim() === '') return no
  let node: Expression
  try {
    node = parseExpressionAt(text, 0, ACORN_OPTIONS)
  } catch {
    return no
  }
  if (text.slice(node.end).trim() !== '') return no
  let negate = false
  if (node.type === 'UnaryExpression' && node.operator === '-') {
    negate = true
    node = node.argument
  }
  let value: unknown
  if (node.type === 'Literal' && !node.regex) {
    value = node.bigint !== undefined ? BigInt(node.bigint) : node.value
  } else if (node.type === 'TemplateLiteral' && node.expressions.length === 0) {
    value = node.quasis[0]?.value.cooked
  } else if (node.type === 'Identifier' && CONSTANTS.has(node.name)) {
    value = CONSTANTS.get(node.name)
  } else return no
  if (!negate) return { ok: true, value }
  if (typeof value === 'number' || typeof value === 'bigint') return { ok: true, value: -value }
  return no
}

// The load-time rewrite as a unit: names and kinds of every function, the skip list, `select`,
// the line structure and the source map (checked with an independent consumer), and the
// program's behaviour, dormant and live, against the same code unrewritten.
import { afterEach, describe, expect, it } from 'vitest'
import { createRequire } from 'node:module'
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import * as acorn from 'acorn'
import ts from 'typescript'
import { transformSync } from 'esbuild'
import { SourceMapConsumer } from 'source-map'
import { NO_LIVE_EDIT, itUnless } from './runtime.js'
import { bundleServer } from './helpers.js'
import { state } from '../src/state.js'
import {
  decodeTable,
  encodeTable,
  instrument,
  ParseFailure,
  type InstrumentOptions,
  type Instrumented,
  type ProbeInfo,
  type RawSourceMap,
} from '../src/instrument.js'

const require = createRequire(import.meta.url)
const root = resolve(import.meta.dirname, '..')

const FILE = '/app/src/sample.js'
const FILE_URL = pathToFileURL(FILE).href

type Format = 'commonjs' | 'module'

function rewrite(source: string, format: Format = 'commonjs', extra: Partial<InstrumentOptions> = {}): Instrumented {
  return instrument(source, { filename: FILE, format, ...extra })
}

/** The one probe of that name (fails if there is none or more than one). */
function probe(r: Instrumented, name: string): ProbeInfo {
  const found = r.probes.filter((p) => p.name === name)
  if (found.length !== 1) throw new Error(`${found.length} probes named ${name}: ${r.probes.map((p) => p.name).join(', ')}`)
  return found[0]
}

const names = (r: Instrumented) => r.probes.map((p) => p.name)

// ---------------------------------------------------------------------------------------------
// Tokens and their alignment: the original tokens, in order and each on its own line, inside
// the output, everything else being text the rewrite inserted.

interface Tok {
  text: string
  line: number
  column: number
}

function tokens(code: string, format: Format): Tok[] {
  const out: Tok[] = []
  const opts: acorn.Options = {
    ecmaVersion: 'latest',
    sourceType: format === 'module' ? 'module' : 'script',
    locations: true,
    allowHashBang: true,
    allowReturnOutsideFunction: format !== 'module',
    allowAwaitOutsideFunction: format === 'module',
  }
  for (const t of acorn.tokenizer(code, opts)) out.push({ text: code.slice(t.start, t.end), line: t.loc!.start.line, column: t.loc!.start.column })
  return out
}

/**
 * Where one line's original tokens `a` can be in the output tokens `b` of the same line.
 *
 * An alignment places every token of `a`, in order, on a token of `b` with the same text; the
 * tokens of `b` left over form runs, the insertions, and each run must hold one of the rewrite's
 * own names (`isOurs`). Of those alignments, the ones with the fewest runs are the plausible
 * ones (an insertion is one piece of text at one place). They can differ where an insertion next
 * to an original token ends or starts with the same token (`return (x)` becomes
 * `return ($r=((x)),...)`): for each original token this returns every output token some such
 * alignment puts it on, or undefined if there is no alignment at all.
 */
function alignLine(a: Tok[], b: Tok[], isOurs: (t: Tok) => boolean): number[][] | undefined {
  const m = a.length
  const n = b.length
  const INF = 1 << 29
  // States: 0 after a match (or at the line start), 1 in a run without our name yet, 2 in a run with it.
  const idx = (i: number, j: number, s: number) => (i * (n + 1) + j) * 3 + s
  const F = new Int32Array((m + 1) * (n + 1) * 3).fill(INF)
  const B = new Int32Array((m + 1) * (n + 1) * 3).fill(INF)
  const ours = b.map(isOurs)
  const skipState = (s: number, j: number) => (ours[j] ? 2 : s === 0 ? 1 : s)
  F[idx(0, 0, 0)] = 0
  for (let i = 0; i <= m; i++) {
    for (let j = 0; j < n; j++) {
      for (let s = 0; s < 3; s++) {
        const c = F[idx(i, j, s)]
        if (c >= INF) continue
        const k = idx(i, j + 1, skipState(s, j))
        const skip = c + (s === 0 ? 1 : 0)
        if (skip < F[k]) F[k] = skip
        if (i < m && s !== 1 && a[i].text === b[j].text) {
          const k2 = idx(i + 1, j + 1, 0)
          if (c < F[k2]) F[k2] = c
        }
      }
    }
  }
  const best = Math.min(F[idx(m, n, 0)], F[idx(m, n, 2)])
  if (best >= INF) return undefined
  B[idx(m, n, 0)] = 0
  B[idx(m, n, 2)] = 0
  for (let i = m; i >= 0; i--) {
    for (let j = n - 1; j >= 0; j--) {
      for (let s = 0; s < 3; s++) {
        let c = (s === 0 ? 1 : 0) + B[idx(i, j + 1, skipState(s, j))]
        if (i < m && s !== 1 && a[i].text === b[j].text) c = Math.min(c, B[idx(i + 1, j + 1, 0)])
        B[idx(i, j, s)] = Math.min(c, INF)
      }
    }
  }
  const places: number[][] = a.map(() => [])
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      if (a[i].text !== b[j].text) continue
      const before = Math.min(F[idx(i, j, 0)], F[idx(i, j, 2)])
      if (before + B[idx(i + 1, j + 1, 0)] === best) places[i].push(j)
    }
  }
  return places
}

const LINE_BREAK = /\r\n?|\n|\u2028|\u2029/

/**
 * Check the line structure of `r.code` against `source`: as many lines, and every original token,
 * in order, on its own line of the output, with only runs of inserted tokens that name one of the
 * rewrite's bindings (its prefix) between them. Returns each original token with the output
 * tokens it can be (see `alignLine`; most have exactly one).
 */
function alignment(source: string, r: Instrumented, format: Format): [Tok, Tok[]][] {
  expect(r.code.split('\n').length).toBe(source.split('\n').length)
  expect(r.code.split(LINE_BREAK).length).toBe(source.split(LINE_BREAK).length)
  const byLine = (toks: Tok[]) => {
    const lines = new Map<number, Tok[]>()
    for (const t of toks) {
      const l = lines.get(t.line)
      if (l) l.push(t)
      else lines.set(t.line, [t])
    }
    return lines
  }
  const before = byLine(tokens(source, format))
  const after = byLine(tokens(r.code, format))
  const isOurs = (t: Tok) => t.text.startsWith(r.prefix)
  const pairs: [Tok, Tok[]][] = []
  const problems: string[] = []
  for (const [line, out] of after) {
    const orig = before.get(line) ?? []
    const places = alignLine(orig, out, isOurs)
    if (!places) problems.push(`line ${line}: ${orig.map((t) => t.text).join(' ')}  ->  ${out.map((t) => t.text).join(' ')}`)
    else
      orig.forEach((t, i) => {
        // A token may also sit after inserted text that starts with the same token (a concise
        // arrow's closing text starts with ')'): every copy after its first place, up to the next
        // original token's last place, counts (two nested concise arrows that end together,
        // `.some((p) => p.x))`, let both ')' match inside either closing text).
        const own = [...places[i]]
        const next = i + 1 < orig.length && places[i + 1].length > 0 ? Math.max(...places[i + 1]) : out.length
        for (let j = Math.min(...own) + 1; j < next; j++) if (out[j].text === t.text && !own.includes(j)) own.push(j)
        pairs.push([t, own.map((j) => out[j])])
      })
  }
  for (const line of before.keys()) if (!after.has(line)) problems.push(`line ${line}: no tokens left`)
  expect(problems.slice(0, 3)).toEqual([])
  return pairs
}

/**
 * Every original token start, looked up in the output map at (one of) its place(s) in the
 * output, gives its own line and column back.
 */
async function expectMapsBack(source: string, r: Instrumented, format: Format): Promise<number> {
  const pairs = alignment(source, r, format)
  expect(r.map).toBeDefined()
  const consumer = await new SourceMapConsumer(JSON.stringify(r.map))
  try {
    const wrong: string[] = []
    for (const [o, places] of pairs) {
      const back = places.map((g) => consumer.originalPositionFor({ line: g.line, column: g.column }))
      if (!back.some((p) => p.line === o.line && p.column === o.column && p.source === FILE_URL))
        wrong.push(
          `${o.text} at ${o.line}:${o.column} (generated ${places.map((g) => `${g.line}:${g.column}`)}) -> ${back.map((p) => `${p.source}:${p.line}:${p.column}`)}`,
        )
    }
    expect(wrong.slice(0, 5)).toEqual([])
  } finally {
    consumer.destroy()
  }
  return pairs.length
}

// ---------------------------------------------------------------------------------------------
// Running rewritten code: a fake registry records what live probes report.

interface Call {
  kind: 'e' | 'r' | 'x'
  name: string
  value: unknown
  token: object
}

interface Registered {
  key: string
  n: number
  table: string
}

type Mode = 'original' | 'dormant' | 'live'

/** The process-wide state, where rewritten code finds the registry: the tests put a fake one there. */
const shared = state as { registry: unknown }
afterEach(() => {
  shared.registry = undefined
})

/** Install a fake registry whose files have every slot at `slot`. */
function installFake(slot: 0 | 1, calls: Call[], registered: Registered[], probes: () => readonly ProbeInfo[]) {
  const nameOf = (id: number) => probes()[id]?.name ?? `#${id}`
  const files = new Map<string, unknown>()
  const fake = {
    files,
    file(key: string, n: number, table: string) {
      registered.push({ key, n, table })
      const f = {
        s: Array(n).fill(slot) as number[],
        e(id: number, args: unknown) {
          const token = { id }
          calls.push({ kind: 'e', name: nameOf(id), value: args, token })
          return token
        },
        r(token: { id: number }, value: unknown) {
          calls.push({ kind: 'r', name: nameOf(token.id), value, token })
          return value
        },
        x(token: { id: number } | 0, err: unknown) {
          if (token !== 0) calls.push({ kind: 'x', name: nameOf(token.id), value: err, token })
          return err
        },
      }
      files.set(key, f)
      return f
    },
  }
  shared.registry = fake
  return fake
}

/**
 * Evaluate a CommonJS source as it is, or rewritten with probes dormant or live; returns its
 * `module.exports` and, rewritten, what the probes reported.
 */
function evaluate(source: string, mode: Mode, extra: Partial<InstrumentOptions> = {}) {
  const calls: Call[] = []
  const registered: Registered[] = []
  let r: Instrumented | undefined
  installFake(mode === 'live' ? 1 : 0, calls, registered, () => r?.probes ?? [])
  let code = source
  if (mode !== 'original') {
    r = rewrite(source, 'commonjs', extra)
    code = r.code
  }
  const module = { exports: {} as unknown }
  new Function('module', 'exports', 'require', code)(module, module.exports, require)
  return { exports: module.exports as any, calls, registered, r }
}

/** The source's `module.exports` (awaited) is `expected` as it is, and rewritten, dormant and live. */
async function expectSame(source: string, expected: unknown): Promise<void> {
  for (const mode of ['original', 'dormant', 'live'] as const) {
    const { exports } = evaluate(source, mode)
    expect(await exports, mode).toEqual(expected)
  }
}

/** Live probes of a source: its exports and the calls, with tokens checked to pair up. */
function live(source: string) {
  const out = evaluate(source, 'live')
  const tokens = new Set(out.calls.filter((c) => c.kind === 'e').map((c) => c.token))
  for (const c of out.calls) if (c.kind !== 'e') expect(tokens.has(c.token), `${c.kind} of ${c.name} with a token e returned`).toBe(true)
  return out
}

const isArguments = (v: unknown) => Object.prototype.toString.call(v) === '[object Arguments]'

// ---------------------------------------------------------------------------------------------

describe.each(['commonjs', 'module'] as const)('names and kinds (%s)', (format) => {
  const one = (source: string, name: string) => probe(rewrite(source, format), name)

  it('names a function declaration by its name, kind function, at its line and column', () => {
    expect(one('\n  function fact(n) { return n }', 'fact')).toMatchObject({
      kind: 'function',
      async: false,
      generator: false,
      line: 2,
      column: 2,
      exactArgs: false,
    })
  })

  it('names a function expression by the variable it is bound to, before its own name', () => {
    const r = rewrite('const f = function () {}\nconst g = function inner() {}', format)
    expect(names(r)).toEqual(['f', 'g'])
    expect(probe(r, 'f').kind).toBe('function')
  })

  it('names an arrow by its variable, kind arrow', () => {
    expect(one('const sum = (a, b) => a + b', 'sum')).toMatchObject({ kind: 'arrow', line: 1, column: 12 })
  })

  it('names an arrow or function held by a property through the object bound to a variable', () => {
    const r = rewrite('const api = { p: () => 1, q: function () {}, nested: { deep: () => 2 } }', format)
    expect(names(r)).toEqual(['api.p', 'api.q', 'api.nested.deep'])
    expect(probe(r, 'api.p').kind).toBe('arrow')
    expect(probe(r, 'api.q').kind).toBe('function')
  })

  it('names object methods api.get, with string and number keys, kind method', () => {
    const r = rewrite("const api = { get(k) { return k }, 'put'(k, v) {}, 42() {} }", format)
    expect(names(r)).toEqual(['api.get', 'api.put', 'api.42'])
    expect(r.probes.map((p) => p.kind)).toEqual(['method', 'method', 'method'])
  })

  it('names class methods C#m, kind method', () => {
    expect(one('class Queue {\n  push(x) {}\n}', 'Queue#push')).toMatchObject({ kind: 'method', line: 2, column: 6 })
  })

  it('names static methods C.s', () => {
    expect(one('class Queue { static from(xs) {} }', 'Queue.from')).toMatchObject({ kind: 'method' })
  })

  it('names the constructor C#constructor, kind constructor', () => {
    expect(one('class Queue { constructor(n) { this.n = n } }', 'Queue#constructor')).toMatchObject({ kind: 'constructor' })
  })

  it('names private methods C##p', () => {
    expect(one('class Queue { #grow() {} }', 'Queue##grow')).toMatchObject({ kind: 'method' })
  })

  it('names getters and setters C#x, kinds get and set; static ones C.x', () => {
    const r = rewrite('class Queue { get size() { return 0 } set size(v) {} static get count() { return 1 } }', format)
    expect(r.probes.map((p) => [p.name, p.kind])).toEqual([
      ['Queue#size', 'get'],
      ['Queue#size', 'set'],
      ['Queue.count', 'get'],
    ])
  })

  it('names getters and setters of an object literal through its variable', () => {
    const r = rewrite('const o = { get x() { return 1 }, set x(v) {} }', format)
    expect(r.probes.map((p) => [p.name, p.kind])).toEqual([
      ['o.x', 'get'],
      ['o.x', 'set'],
    ])
  })

  it('names class-field arrows and functions C#f, static ones C.f', () => {
    const r = rewrite('class Queue {\n  onDrain = () => {}\n  handler = function () {}\n  static make = () => new Queue()\n}', format)
    expect(r.probes.map((p) => [p.name, p.kind, p.line])).toEqual([
      ['Queue#onDrain', 'arrow', 2],
      ['Queue#handler', 'function', 3],
      ['Queue.make', 'arrow', 4],
    ])
  })

  it('names the methods of a class expression through its variable', () => {
    expect(names(rewrite('const K = class { m() {} }', format))).toEqual(['K#m'])
  })

  it('marks async functions, arrows and methods async', () => {
    const r = rewrite('async function load() {}\nconst a = async () => 1\nclass C { async m() {} }', format)
    expect(r.probes.map((p) => [p.name, p.async, p.generator])).toEqual([
      ['load', true, false],
      ['a', true, false],
      ['C#m', true, false],
    ])
  })

  it('marks generators and generator methods generator', () => {
    const r = rewrite('function* ids() {}\nconst o = { *each() {} }\nclass C { static *all() {} }', format)
    expect(r.probes.map((p) => [p.name, p.async, p.generator])).toEqual([
      ['ids', false, true],
      ['o.each', false, true],
      ['C.all', false, true],
    ])
  })

  it('marks async generators both async and generator', () => {
    const r = rewrite('async function* stream() {}\nconst o = { async *g() {} }\nconst e = async function* () {}', format)
    expect(r.probes.map((p) => [p.name, p.async, p.generator])).toEqual([
      ['stream', true, true],
      ['o.g', true, true],
      ['e', true, true],
    ])
  })

  it('names nested functions outer.inner, through methods too', () => {
    const r = rewrite('function outer() {\n  function inner() {}\n  const arrow = () => 1\n}\nclass C { m() { const h = () => 1 } }', format)
    expect(names(r)).toEqual(['outer', 'outer.inner', 'outer.arrow', 'C#m', 'C#m.h'])
  })

  it('names anonymous callbacks @<line>, and outer.@<line> inside a function', () => {
    const r = rewrite('setTimeout(() => {}, 1)\n\n[1].map(function () {})\nfunction outer() {\n  return [1].map((x) => x)\n}', format)
    expect(names(r)).toEqual(['@1', '@3', 'outer', 'outer.@5'])
  })

  it('names a computed key it cannot read by its line', () => {
    expect(names(rewrite('class C {\n  [Symbol.iterator]() {}\n}', format))).toEqual(['C#@2'])
  })
})

describe('names of CommonJS assignments', () => {
  it('names exports.x = ... x', () => {
    expect(names(rewrite('exports.run = () => {}\nmodule.exports.stop = function () {}'))).toEqual(['run', 'stop'])
  })

  it('names module.exports = function ... default', () => {
    expect(probe(rewrite('module.exports = function () {}'), 'default').kind).toBe('function')
  })

  it('names the methods of module.exports = {...} as the module own functions', () => {
    expect(names(rewrite('module.exports = { helper() {}, other: () => 1 }'))).toEqual(['helper', 'other'])
  })

  it('names X.prototype.m = function ... X#m', () => {
    expect(names(rewrite('function Queue() {}\nQueue.prototype.push = function (x) {}'))).toEqual(['Queue', 'Queue#push'])
  })

  it('names a member chain a.b.c = ... a.b.c, and this.x = ... x', () => {
    expect(names(rewrite('a.b.c = () => 1\nthis.x = function () {}'))).toEqual(['a.b.c', 'x'])
  })

  it('lists no exports for CommonJS files', () => {
    expect(rewrite('exports.f = function () {}').probes[0].exports).toEqual([])
  })
})

describe('ES module exports', () => {
  const exportsOf = (source: string) => Object.fromEntries(rewrite(source, 'module').probes.map((p) => [p.name, p.exports]))

  it('lists export function f under f', () => {
    expect(exportsOf('export function f() {}\nfunction local() {}')).toEqual({ f: ['f'], local: [] })
  })

  it('lists export { g as gg } under gg, nested functions with the first segment replaced', () => {
    expect(exportsOf('function g() { return function inner() {} }\nexport { g as gg }')).toEqual({ g: ['gg'], 'g.inner': ['gg.inner'] })
  })

  it('lists one function exported twice under both names', () => {
    expect(exportsOf('function g() {}\nexport { g, g as alias }')).toEqual({ g: ['g', 'alias'] })
  })

  it('lists export default function x(){} under default, named x', () => {
    expect(exportsOf('export default function x() {}')).toEqual({ x: ['default'] })
  })

  it('names an anonymous default function or arrow default', () => {
    expect(exportsOf('export default function () {}')).toEqual({ default: ['default'] })
    expect(exportsOf('export default () => 1')).toEqual({ default: ['default'] })
  })

  it('names the methods of an anonymous default class default#m and default.s', () => {
    expect(exportsOf('export default class { m() {} static s() {} }')).toEqual({ 'default#m': ['default#m'], 'default.s': ['default.s'] })
  })

  it('lists the methods of an exported class under C#m', () => {
    expect(exportsOf('export class C { m() {} #p() {} }')).toEqual({ 'C#m': ['C#m'], 'C##p': ['C##p'] })
  })

  it('lists exported const arrows and the methods of an exported object', () => {
    expect(exportsOf('export const h = () => 1, k = async function* () {}\nconst api = { get() {} }\nexport { api as client }')).toEqual({
      h: ['h'],
      k: ['k'],
      'api.get': ['client.get'],
    })
  })
})

// ---------------------------------------------------------------------------------------------

describe('the skip list', () => {
  it('leaves a function that calls eval directly untouched, reason eval', () => {
    const source = 'function run(s) { return eval(s) }\nfunction ok() {}'
    const r = rewrite(source)
    expect(names(r)).toEqual(['ok'])
    expect(r.skipped).toEqual([{ name: 'run', line: 1, reason: 'eval' }])
    expect(r.code.split('\n')[0].endsWith(';function run(s) { return eval(s) }')).toBe(true)
  })

  it('leaves a function containing with untouched, reason with', () => {
    const r = rewrite('function get(o) {\n  with (o) { return x }\n}')
    expect(r.probes).toEqual([])
    expect(r.skipped).toEqual([{ name: 'get', line: 1, reason: 'with' }])
  })

  it('leaves every function nested inside a with block untouched, reason with', () => {
    const r = rewrite('with (globalThis) {\n  function top() {}\n  var f = () => 1\n}\nfunction after() {}')
    expect(names(r)).toEqual(['after'])
    expect(r.skipped).toEqual([
      { name: 'top', line: 2, reason: 'with' },
      { name: 'f', line: 3, reason: 'with' },
    ])
  })

  it('leaves functions nested in a function with with untouched too', () => {
    const r = rewrite('function c(o) {\n  with (o) {\n    var f = function () {}\n  }\n}')
    expect(r.probes).toEqual([])
    expect(r.skipped.map((s) => [s.name, s.reason])).toEqual([
      ['c', 'with'],
      ['c.f', 'with'],
    ])
  })

  it('skips an arrow that calls eval directly', () => {
    const r = rewrite('function outer(s) {\n  const q = () => eval(s)\n  return q\n}')
    expect(r.skipped).toEqual([{ name: 'outer.q', line: 2, reason: 'eval' }])
  })

  it('probes a function that calls eval indirectly: (0, eval)(...) and globalThis.eval(...)', () => {
    const r = rewrite('function a(s) { return (0, eval)(s) }\nfunction b(s) { return globalThis.eval(s) }')
    expect(names(r)).toEqual(['a', 'b'])
    expect(r.skipped).toEqual([])
  })

  it('runs a skipped function and its probed neighbours unchanged', async () => {
    await expectSame(
      `function run(s) { var local = 2; return eval(s) }
       function indirect(s) { return (0, eval)(s) }
       globalThis.__instrumentTestX = 40
       module.exports = [run('local * 21'), indirect('typeof local'), indirect('__instrumentTestX + 2')]
       delete globalThis.__instrumentTestX`,
      [42, 'undefined', 42],
    )
  })
})

// ---------------------------------------------------------------------------------------------

describe('select', () => {
  const source = 'function a() {}\nfunction b(x) { return x }\nconst c = () => 3'

  it('probes only the chosen functions, with ids 0.., and lists the others as not selected', () => {
    const r = rewrite(source, 'commonjs', { select: (fn) => fn.name !== 'a' })
    expect(r.probes.map((p) => [p.id, p.name])).toEqual([
      [0, 'b'],
      [1, 'c'],
    ])
    expect(r.skipped).toEqual([{ name: 'a', line: 1, reason: 'not selected' }])
    expect(r.code.split('\n')[0]).toMatch(/function a\(\) \{\}$/)
  })

  it('shows select each function as it would be probed', () => {
    const seen: unknown[] = []
    rewrite(source, 'commonjs', { select: (fn) => (seen.push(fn), false) })
    const info = (name: string, kind: string, line: number, column: number) => {
      return { name, kind, async: false, generator: false, line, column, exports: [], exactArgs: false, callsOnly: false, top: true, generated: false }
    }
    expect(seen).toEqual([info('a', 'function', 1, 0), info('b', 'function', 2, 0), info('c', 'arrow', 3, 10)])
  })

  it('returns the code unchanged and no map when none is selected', () => {
    const r = rewrite(source, 'commonjs', { select: () => false })
    expect(r.code).toBe(source)
    expect(r.map).toBeUndefined()
    expect(r.probes).toEqual([])
    expect(r.skipped.map((s) => s.reason)).toEqual(['not selected', 'not selected', 'not selected'])
  })

  it('returns the code unchanged and no map when the file has no function', () => {
    const r = rewrite('const x = 1\n', 'module')
    expect(r.code).toBe('const x = 1\n')
    expect(r.map).toBeUndefined()
  })

  it('registers only the selected functions, and their probes work live', () => {
    const { exports, calls, registered } = live('function a() { return 1 }\nfunction b(x) { return x + a() }\nmodule.exports = b(1)')
    expect(exports).toBe(2)
    expect(registered.map((f) => f.n)).toEqual([2])
    const sel = evaluate('function a() { return 1 }\nfunction b(x) { return x + a() }\nmodule.exports = b(1)', 'live', { select: (fn) => fn.name === 'b' })
    expect(sel.exports).toBe(2)
    expect(sel.registered.map((f) => f.n)).toEqual([1])
    expect(sel.calls.map((c) => [c.kind, c.name])).toEqual([
      ['e', 'b'],
      ['r', 'b'],
    ])
    expect(calls.map((c) => [c.kind, c.name])).toEqual([
      ['e', 'b'],
      ['e', 'a'],
      ['r', 'a'],
      ['r', 'b'],
    ])
  })
})

// ---------------------------------------------------------------------------------------------
// Fixtures with every kind of function, and formatting that tests where insertions go.

const KINDS_SCRIPT = `'use strict'
function fact(n) {
  if (n <= 1) return 1
  return n * fact(n - 1)
}
const api = { get(k) { return k }, set: (k, v) => ({ k, v }), async *g() { yield 1 } }
exports.run = async (x) => await x
module.exports.stop = function () { return }
function Queue() { this.items = [] }
Queue.prototype.push = function (x) { this.items.push(x); return this }
class Base { constructor(x) { this.x = x } m() { return 'base' } }
class Derived extends Base {
  #p() { return 1 }
  static s() { return 2 }
  get v() { return this.x }
  set v(y) { this.x = y }
  f = () => this
  constructor(x) { super(x); if (!x) return }
  m() { return super.m() + this.#p() }
  static { function inBlock() {} }
}
function* ids(a = 1, ...rest) { const x = yield a; return x }
async function* stream() { for await (const x of []) yield x }
function outer() { return [1].map(function () { return () => 0 }) }
const obj = () => ({ a: 1 }), seq = () => (0, 1), cur = a => b => a + b
function args() { return arguments.length }
function early() { "use strict"
  return this }
`

const KINDS_MODULE = `'use strict'
import { readFileSync } from 'node:fs'
export function f(a, { b, c: [d] } = {}, ...e) { return a }
function g() { return function inner() {} }
export { g as gg }
export default class { m() { return 1 } static s() {} }
export class C { m() {} #p() {} get x() { return 1 } static y = () => 2 }
export const h = () => 1, k = async function* () { yield await 1 }
const top = await Promise.resolve(() => {})
label: for (const x of []) { (() => { return })(); continue label }
`

/** Formatting that puts insertions next to comments, ASI, regexes, templates and parentheses. */
const AWKWARD = `function a() { // comment after the brace
  return /x/.test('x') }
function b() /* before the body */ {
  'use strict' /* directive without semicolon */
  return (
    1 +
    2
  )
}
const c = (x) =>
  // the body on the next line
  x * 2
const d = x => (y) => \`\${x}\${y}\`
const e = () => { return }
function f() {
  if (arguments.length) return; else return
}
const g = [1, 2].map((x) => x + 1), h = (0, () => 1)
const i = {
  async *[Symbol.asyncIterator]() {},
  'quoted key': function () { return typeof this },
}
`

describe('line structure', () => {
  it.each([
    ['the CommonJS kinds', KINDS_SCRIPT, 'commonjs'],
    ['the ES module kinds', KINDS_MODULE, 'module'],
    ['awkward formatting, as CommonJS', AWKWARD, 'commonjs'],
    ['awkward formatting, as an ES module', AWKWARD, 'module'],
  ] as const)('keeps every original token on its line, in order, for %s', (_, source, format) => {
    const r = rewrite(source, format)
    expect(r.probes.length).toBeGreaterThan(5)
    expect(alignment(source, r, format).length).toBe(tokens(source, format).length)
    // And the output is a valid program of the same kind.
    expect(() =>
      acorn.parse(r.code, { ecmaVersion: 'latest', sourceType: format === 'module' ? 'module' : 'script', allowReturnOutsideFunction: format !== 'module' }),
    ).not.toThrow()
  })

  it('keeps lines with CRLF line ends', () => {
    const source = 'function a() {\r\n  return 1\r\n}\r\nconst b = () =>\r\n  2\r\n'
    const r = rewrite(source)
    alignment(source, r, 'commonjs')
    expect(r.code.split('\r\n').length).toBe(source.split('\r\n').length)
    expect(probe(r, 'b').line).toBe(4)
  })

  it.each([
    ['acorn (CommonJS build)', 'node_modules/acorn/dist/acorn.js', 'commonjs'],
    ['acorn (ES module build)', 'node_modules/acorn/dist/acorn.mjs', 'module'],
    ['lodash', 'node_modules/lodash/lodash.js', 'commonjs'],
  ] as const)('keeps every original token on its line in %s', (_, path, format) => {
    const source = readFileSync(join(root, path), 'utf8')
    const r = rewrite(source, format)
    expect(r.probes.length).toBeGreaterThan(100)
    expect(alignment(source, r, format).length).toBe(tokens(source, format).length)
  })

  it('keeps the line count when a function name holds a JavaScript line separator (U+2028)', () => {
    // The CommonJS header carries the table as a string literal: a raw U+2028 in it is a line
    // break for V8 and acorn, so every later line would be one off.
    const source = "const o = { '\\u2028'() { return 1 } }\nfunction after() {}\n"
    const r = rewrite(source)
    expect(probe(r, 'after').line).toBe(2)
    alignment(source, r, 'commonjs')
  })

  it('reports function lines as JavaScript counts them, with CR and U+2028 line breaks', () => {
    // acorn (and V8, in stack traces) count \r, \r\n, \n, U+2028 and U+2029 as line ends.
    const source = '/* a\u2028b */ function one() {}\rfunction two() {}\r\nfunction three() { return () => 1 }\n'
    const r = rewrite(source)
    const lines = Object.fromEntries(r.probes.map((p) => [p.name, p.line]))
    expect(lines).toEqual({ one: 2, two: 3, three: 4, 'three.@4': 4 })
  })
})

// ---------------------------------------------------------------------------------------------

describe('source map', () => {
  it.each([
    ['the CommonJS kinds', KINDS_SCRIPT, 'commonjs'],
    ['the ES module kinds', KINDS_MODULE, 'module'],
    ['awkward formatting', AWKWARD, 'commonjs'],
  ] as const)('maps every original token of %s back to its line and column', async (_, source, format) => {
    expect(await expectMapsBack(source, rewrite(source, format), format)).toBe(tokens(source, format).length)
  })

  it.each([
    ['acorn', 'node_modules/acorn/dist/acorn.js', 'commonjs'],
    ['lodash', 'node_modules/lodash/lodash.js', 'commonjs'],
  ] as const)('maps every original token of %s back', async (_, path, format) => {
    const source = readFileSync(join(root, path), 'utf8')
    expect(await expectMapsBack(source, rewrite(source, format), format)).toBeGreaterThan(10_000)
  })

  it('maps tokens back across lone CR line breaks, as JavaScript counts lines', async () => {
    const source = 'function a() {\r  return 1\r}\rconst b = () =>\r  2\r'
    await expectMapsBack(source, rewrite(source), 'commonjs')
  })

  it('names the file by its file: URL', () => {
    const r = rewrite('function f() {}')
    expect(r.map).toMatchObject({ version: 3, sources: [FILE_URL], file: 'sample.js' })
  })

  const TS = `interface Item { id: number; price: number }

export class Cart {
  private items: Item[] = []
  constructor(readonly owner: string) {}
  add(item: Item): number {
    this.items.push(item)
    return this.items.length
  }
  total(): number {
    return this.items.reduce((sum: number, it: Item) => sum + it.price, 0)
  }
}

export function discount(total: number, rate = 0.1): number {
  const off: number = total * rate
  return total - off
}
`

  function compileTs() {
    const out = ts.transpileModule(TS, {
      fileName: '/proj/src/cart.ts',
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: true },
    })
    const js = out.outputText.replace(/\/\/# sourceMappingURL=.*\n?$/, '')
    return { js, map: JSON.parse(out.sourceMapText!) as RawSourceMap }
  }

  it('composes with an input map: identifiers map back to their place in the TypeScript source', async () => {
    const { js, map } = compileTs()
    const r = instrument(js, { filename: '/proj/src/cart.js', format: 'module', inputMap: map })
    expect(r.probes.length).toBeGreaterThan(4)
    const pairs = alignment(js, r, 'module')
    const tsLines = TS.split('\n')
    const composed = await new SourceMapConsumer(JSON.stringify(r.map))
    const own = await new SourceMapConsumer(JSON.stringify(map))
    try {
      const wrong: string[] = []
      let identifiers = 0
      for (const [o, places] of pairs) {
        if (!/^[A-Za-z_$][\w$]*$/.test(o.text) || ['export', 'class', 'function', 'return', 'const', 'constructor', 'this'].includes(o.text)) continue
        identifiers++
        expect(places).toHaveLength(1)
        const g = places[0]
        const p = composed.originalPositionFor({ line: g.line, column: g.column })
        const q = own.originalPositionFor({ line: o.line, column: o.column })
        if (p.source !== 'file:///proj/src/cart.ts' || p.line !== q.line || p.column !== q.column)
          wrong.push(`${o.text}: ${p.source}:${p.line}:${p.column}, tsc says ${q.line}:${q.column}`)
        else if (!tsLines[p.line! - 1].startsWith(o.text, p.column!))
          wrong.push(`${o.text} -> ${p.line}:${p.column} '${tsLines[p.line! - 1].slice(p.column!)}'`)
      }
      expect(identifiers).toBeGreaterThan(25)
      expect(wrong).toEqual([])
    } finally {
      composed.destroy()
      own.destroy()
    }
  })

  it('resolves the input map sources against inputMapURL', () => {
    const { js, map } = compileTs()
    const r = instrument(js, {
      filename: '/proj/dist/cart.js',
      format: 'module',
      inputMap: { ...map, sources: ['../src/cart.ts'] },
      inputMapURL: 'file:///proj/dist/cart.js.map',
    })
    expect(r.map!.sources).toEqual(['file:///proj/src/cart.ts'])
  })

  it.each(['instrument', 'installers/probes', 'session'])(
    'composes with the tsc map of a real file (src/%s.ts): every token maps where tsc maps it',
    async (name) => {
      const tsPath = join(root, 'src', `${name}.ts`)
      const out = ts.transpileModule(readFileSync(tsPath, 'utf8'), {
        fileName: tsPath,
        compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: true },
      })
      const js = out.outputText.replace(/\/\/# sourceMappingURL=.*\n?$/, '')
      const map = JSON.parse(out.sourceMapText!) as RawSourceMap
      const r = instrument(js, { filename: tsPath.replace(/\.ts$/, '.js'), format: 'module', inputMap: map })
      expect(r.map!.sources).toEqual([pathToFileURL(tsPath).href])
      const pairs = alignment(js, r, 'module')
      const composed = await new SourceMapConsumer(JSON.stringify(r.map))
      const own = await new SourceMapConsumer(JSON.stringify(map))
      try {
        const wrong: string[] = []
        let compared = 0
        for (const [o, places] of pairs) {
          const q = own.originalPositionFor({ line: o.line, column: o.column })
          if (q.line === null) continue
          compared++
          const back = places.map((g) => composed.originalPositionFor({ line: g.line, column: g.column }))
          if (!back.some((p) => p.source === pathToFileURL(tsPath).href && p.line === q.line && p.column === q.column))
            wrong.push(`${o.text} ${o.line}:${o.column}: ${back.map((p) => `${p.line}:${p.column}`)}, tsc says ${q.line}:${q.column}`)
        }
        expect(compared).toBeGreaterThan(1000)
        expect(wrong.slice(0, 5)).toEqual([])
      } finally {
        composed.destroy()
        own.destroy()
      }
    },
  )
})

// ---------------------------------------------------------------------------------------------

describe('original files and names, through the input map', () => {
  const fixtures = join(root, 'fixtures/typescript/src')
  const bundle = bundleServer

  it('each function of a bundle says the file it was written in, as an absolute path', () => {
    const { code, map } = bundle()
    const r = instrument(code, { filename: '/out/server.js', format: 'commonjs', inputMap: map, inputMapURL: 'file:///out/server.js.map' })
    const of = (name: string) => r.probes.filter((p) => p.name === name).map((p) => p.source)
    expect(of('Repo#get')).toEqual([join(fixtures, 'db.ts')])
    expect(of('findUser').sort()).toEqual([join(fixtures, 'db.ts'), join(fixtures, 'other.ts')].sort())
  })

  it("a bundler's renamed binding (findUser2) is named as its file has it, from the map's names", () => {
    const { code, map } = bundle()
    expect(code).toContain('function findUser2(')
    const r = instrument(code, { filename: '/out/server.js', format: 'commonjs', inputMap: map, inputMapURL: 'file:///out/server.js.map' })
    expect(r.probes.map((p) => p.name)).not.toContain('findUser2')
    expect(r.probes.find((p) => p.source === join(fixtures, 'other.ts'))?.name).toBe('findUser')
  })

  it("code the compiler added has no position in the map: generated; the program's functions are not", () => {
    const source = readFileSync(join(fixtures, 'math.ts'), 'utf8')
    const out = transformSync(source, { loader: 'ts', format: 'esm', sourcemap: 'external', keepNames: true, sourcefile: join(fixtures, 'math.ts') })
    const r = instrument(out.code, { filename: join(fixtures, 'math.ts'), format: 'module', inputMap: JSON.parse(out.map) as RawSourceMap })
    expect(r.probes.filter((p) => p.generated).map((p) => p.name)).toEqual(['__name'])
    expect(r.probes.filter((p) => !p.generated).map((p) => p.name)).toEqual(['fact', 'boom', 'add', 'Counter#bump'])
    // The file is its own original: no other source to name.
    expect(r.probes.every((p) => p.source === undefined)).toBe(true)
  })

  it("a map that covers a function's name but not its first keyword still gives its file", () => {
    // Generated: `function f() {}` on line 1; the map's one segment is at column 9 (`f`), from a.ts.
    const map: RawSourceMap = { version: 3, sources: ['a.ts'], names: [], mappings: 'SAAA' }
    const r = instrument('function f() {}\n', { filename: '/out/x.js', format: 'commonjs', inputMap: map, inputMapURL: 'file:///src/x.js.map' })
    expect(r.probes[0]).toMatchObject({ name: 'f', source: '/src/a.ts', generated: false })
  })
})

describe('behaviour unchanged, dormant and live', () => {
  it('keeps this for method calls, call and apply, and sloppy plain calls', async () => {
    await expectSame(
      `function who() { return this }
       const o = { m() { return this }, who, arrow: () => typeof this }
       const ctx = {}
       module.exports = [
         o.m() === o, o.who() === o, who.call(ctx) === ctx, who.apply(ctx, []) === ctx,
         who() === globalThis, typeof who.call(5), (0, o.m)() === globalThis, o.arrow(),
       ]`,
      [true, true, true, true, true, 'object', true, 'object'],
    )
  })

  it('keeps this in strict code: undefined in a plain call, primitives unboxed', async () => {
    await expectSame(
      `'use strict'
       function who() { return this }
       module.exports = [who() === undefined, who.call(5) === 5, typeof who.call('s')]`,
      [true, true, 'string'],
    )
  })

  it('keeps arguments: its length, and its aliasing of parameters in sloppy mode', async () => {
    await expectSame(
      `function alias(a) { arguments[0] = 2; return a }
       function back(a) { a = 3; return arguments[0] }
       function count() { return arguments.length }
       function viaArrow() { return (() => arguments[1])() }
       module.exports = [alias(1), back(1), count(1, 2, 3), count(), viaArrow('a', 'b')]`,
      [2, 3, 3, 0, 'b'],
    )
  })

  it('keeps arguments unaliased in strict mode', async () => {
    await expectSame(
      `function alias(a) { 'use strict'; arguments[0] = 2; return a }
       module.exports = [alias(1)]`,
      [1],
    )
  })

  it('keeps new.target', async () => {
    await expectSame(
      `function F() { this.t = new.target }
       class A { constructor() { this.t = new.target } }
       class B extends A {}
       function plain() { return new.target }
       module.exports = [new F().t === F, new B().t === B, plain() === undefined, new A().t === A]`,
      [true, true, true, true],
    )
  })

  it('keeps super calls and super.m() in classes and object literals', async () => {
    await expectSame(
      `class A { constructor(x) { this.x = x } m() { return 'A' } static s() { return 'sA' } }
       class B extends A {
         constructor(x) { super(x * 2) }
         m() { return 'B' + super.m() }
         static s() { return 'sB' + super.s() }
         arrow = () => super.m()
       }
       const p = { hi() { return 'p' } }
       const o = { __proto__: p, hi() { return 'o' + super.hi() } }
       const b = new B(2)
       module.exports = [b.x, b.m(), B.s(), b.arrow(), o.hi()]`,
      [4, 'BA', 'sBsA', 'A', 'op'],
    )
  })

  it('evaluates default parameters exactly once per call', async () => {
    await expectSame(
      `let n = 0
       function f(a = ++n, b = a + 1) { return [a, b] }
       const g = (x = ++n) => x
       module.exports = [f(), f(), f(10), g(), n]`,
      [[1, 2], [2, 3], [10, 11], 3, 3],
    )
  })

  it("keeps a function's 'use strict' directive first, with or without semicolon", async () => {
    await expectSame(
      `function withSemi() { 'use strict'; return this === undefined }
       function withoutSemi() { 'use strict'
         return this === undefined }
       function second() { 'a directive'; "use strict"
         return this === undefined }
       const arrow = () => { 'use strict'; return (function () { return this })() }
       function assigns() { 'use strict'; try { undeclared = 1; return 'sloppy' } catch (e) { return e.constructor.name } }
       module.exports = [withSemi(), withoutSemi(), second(), arrow(), assigns()]`,
      [true, true, true, undefined, 'ReferenceError'],
    )
  })

  it('keeps hoisting: functions declared later in the body, var declarations', async () => {
    await expectSame(
      `function f() { return g() + typeof v + typeof h; var v = 1; function g() { return 'g' } function h() {} }
       function w() { v = 3; var v; return v }
       function closureBefore() { const get = () => later(); return get(); function later() { return 'later' } }
       module.exports = [f(), w(), closureBefore()]`,
      ['gundefinedfunction', 3, 'later'],
    )
  })

  it('compiles a body that declares a var and a function of the same name', async () => {
    // Valid at function level (both are var-scoped); inside a block it is a redeclaration.
    await expectSame(
      `function f() { var g = 1; function g() {} return g }
       function h() { function k() {} var k; return typeof k }
       module.exports = [f(), h()]`,
      [1, 'function'],
    )
  })

  it('compiles a strict body that declares one function twice', async () => {
    await expectSame(
      `function f() { 'use strict'; function g() { return 1 } function g() { return 2 } return g() }
       module.exports = [f()]`,
      [2],
    )
  })

  it('keeps fn.length and fn.name for every kind', async () => {
    await expectSame(
      `function decl(a, b) {}
       const expr = function (a) {}
       const named = function inner(a, b, c) {}
       const arrow = (a, b = 1, c) => a
       const rest = (a, ...r) => a
       async function asy(a) {}
       function* gen(a, b) {}
       async function* agen(a) {}
       const o = { m(a) {}, get x() { return 1 }, set x(v) {} }
       class C { constructor(a, b) {} m(a) {} static s(a, b, c) {} #p(a) {} p() { return [this.#p.name, this.#p.length] } f = (a, b) => a }
       const d = Object.getOwnPropertyDescriptor(o, 'x')
       const c = new C()
       module.exports = [decl, expr, named, arrow, rest, asy, gen, agen, o.m, d.get, d.set, C, C.prototype.m, C.s, c.f]
         .map((f) => [f.name, f.length]).concat([c.p()])`,
      [
        ['decl', 2],
        ['expr', 1],
        ['inner', 3],
        ['arrow', 1],
        ['rest', 1],
        ['asy', 1],
        ['gen', 2],
        ['agen', 1],
        ['m', 1],
        ['get x', 0],
        ['set x', 1],
        ['C', 2],
        ['m', 1],
        ['s', 3],
        ['f', 2],
        ['#p', 1],
      ],
    )
  })

  it('keeps closures and recursion', async () => {
    await expectSame(
      `function counter() { let n = 0; return { inc: () => ++n, get: function () { return n } } }
       const c = counter(); c.inc(); c.inc()
       function fact(n) {
         if (n <= 1) return 1
         return n * fact(n - 1)
       }
       module.exports = [c.get(), fact(5)]`,
      [2, 120],
    )
  })

  it('keeps generators: the yield sequence, the return value, and gen.return()', async () => {
    await expectSame(
      `function* g(n) { const x = yield n; yield x * 2; return 'done' }
       const it = g(1)
       const seq = [it.next(), it.next(5), it.next(), it.next()]
       let finallyRan = false
       function* h() { try { yield 1; yield 2 } finally { finallyRan = true } }
       const early = h()
       early.next()
       const ret = early.return(7)
       const o = { *[Symbol.iterator]() { yield* [1, 2]; return 3 } }
       module.exports = [seq, ret, early.next(), finallyRan, [...o]]`,
      [
        [
          { value: 1, done: false },
          { value: 10, done: false },
          { value: 'done', done: true },
          { value: undefined, done: true },
        ],
        { value: 7, done: true },
        { value: undefined, done: true },
        true,
        [1, 2],
      ],
    )
  })

  it('keeps async functions: awaits, the resolved value, the rejection with the same error', async () => {
    await expectSame(
      `const order = []
       async function f(x) { order.push('in'); await null; order.push('after'); const y = await Promise.resolve(x); return y + 1 }
       const boom = new Error('boom')
       async function g() { await null; throw boom }
       const arrow = async (x) => (await x) * 2
       async function* ag() { yield 1; await null; yield 2 }
       const p = f(1)
       order.push('sync')
       module.exports = (async () => {
         const collected = []
         for await (const v of ag()) collected.push(v)
         return [await p, order, await g().then(() => 'resolved', (e) => e === boom), await arrow(Promise.resolve(4)), collected]
       })()`,
      [2, ['in', 'sync', 'after'], true, 8, [1, 2]],
    )
  })

  it('keeps exceptions: the very same thrown object, primitives too', async () => {
    await expectSame(
      `const thing = { thrown: true }
       function t(v) { throw v }
       const viaArrow = (v) => t(v)
       class K { m(v) { t(v) } }
       function catchOf(f, v) { try { f(v) } catch (e) { return e === v } return 'no throw' }
       module.exports = [catchOf(t, thing), catchOf(viaArrow, thing), catchOf((v) => new K().m(v), thing), catchOf(t, 5), catchOf(t, undefined)]`,
      [true, true, true, true, true],
    )
  })

  it('keeps arrow expression bodies: object literals, sequences, curried arrows, call arguments', async () => {
    await expectSame(
      `let side = 0
       const obj = () => ({ a: 1 })
       const seq = () => (side++, side * 10)
       const cur = (a) => (b) => a + b
       function two(f, b) { return [f(), b] }
       const nothing = () => void side
       const cond = (x) => x ? 'yes' : 'no'
       module.exports = [obj(), seq(), side, cur(1)(2), two(() => 1, 2), nothing(), cond(0), [1, 2].map((x) => x * 2)]`,
      [{ a: 1 }, 10, 1, 3, [1, 2], undefined, 'no', [2, 4]],
    )
  })

  it('keeps getters and setters', async () => {
    await expectSame(
      `class T { #v = 1; get v() { return this.#v } set v(x) { this.#v = x * 10 } static get k() { return 'k' } }
       const t = new T()
       const assigned = (t.v = 3)
       let log = []
       const o = { _x: 0, get x() { log.push('get'); return this._x }, set x(v) { log.push('set'); this._x = v; return 'ignored' } }
       o.x = 5
       module.exports = [t.v, assigned, T.k, o.x, log]`,
      [30, 3, 'k', 5, ['set', 'get']],
    )
  })

  it('keeps class fields: arrow fields bound to the instance, initializers evaluated once', async () => {
    await expectSame(
      `let created = 0
       class F { count = ++created; bound = () => this; plain = function () { return this }; static s = () => F.name }
       const f = new F()
       const { bound, plain } = f
       module.exports = [bound() === f, plain() === undefined || plain() === globalThis, f.count, created, F.s(), new F().count, created]`,
      [true, true, 1, 1, 'F', 2, 2],
    )
  })

  it('keeps derived constructors: super(), return of an object, plain return, no constructor', async () => {
    await expectSame(
      `class Base { constructor(x) { this.x = x } }
       class D extends Base { constructor() { super(1); this.y = 2 } }
       class R extends Base { constructor() { super(0); return { replaced: true } } }
       class Early extends Base { constructor() { return { early: true } } }
       class Bare extends Base { constructor(x) { super(x); if (x) return; this.z = 1 } }
       class None extends Base {}
       class Missing extends Base { constructor() {} }
       let missing
       try { new Missing() } catch (e) { missing = e.constructor.name }
       const d = new D()
       module.exports = [d.x, d.y, d instanceof D, new R(), new R() instanceof R, new Early(), new Bare(1).z, new Bare(0).z, new None(3).x, missing]`,
      [1, 2, true, { replaced: true }, false, { early: true }, undefined, 1, 3, 'ReferenceError'],
    )
  })

  it('keeps a return without value followed by a line that could continue it', async () => {
    // \`return\` ends at the line break (ASI): the next line is a statement of its own.
    await expectSame(
      `let ran = 0
       function f(x) {
         if (x) return
         (ran++)
         return 'fell'
       }
       function g() {
         return
         -1
       }
       module.exports = [f(false), ran, f(true), ran, g()]`,
      ['fell', 1, undefined, 1, undefined],
    )
  })

  it('keeps functions that use a prefix-like name: the rewrite picks another prefix', async () => {
    const source = `const $rt = 1, $rt1 = 2
       function f($rtS, $rtP) { return $rt + $rt1 + $rtS + $rtP }
       module.exports = [f(3, 4)]`
    expect(rewrite(source).prefix).toBe('$rt2')
    await expectSame(source, [10])
  })
})

// ---------------------------------------------------------------------------------------------

describe('what live probes report', () => {
  it('enters with the id of the function and its parameter values, returns with the value', () => {
    const { exports, calls, r } = live('function add(a, b) { return a + b }\nmodule.exports = add(1, 2)')
    expect(exports).toBe(3)
    expect(calls.map((c) => [c.kind, c.name, c.value])).toEqual([
      ['e', 'add', [1, 2]],
      ['r', 'add', 3],
    ])
    expect(isArguments(calls[0].value)).toBe(false)
    expect(probe(r!, 'add').exactArgs).toBe(false)
  })

  it('passes the arguments object itself when the function uses arguments', () => {
    const { exports, calls, r } = live('function va() { return arguments }\nmodule.exports = va(1, 2, 3)')
    expect(isArguments(calls[0].value)).toBe(true)
    expect(calls[0].value).toBe(exports)
    expect(calls[1]).toMatchObject({ kind: 'r', value: exports })
    expect(probe(r!, 'va').exactArgs).toBe(true)
  })

  it('passes the enclosing arguments when only a nested arrow uses them', () => {
    const { calls, r } = live('function outer() { return (() => arguments.length)() }\nmodule.exports = outer(7, 8)')
    expect(probe(r!, 'outer').exactArgs).toBe(true)
    expect(probe(r!, 'outer.@1').exactArgs).toBe(false)
    expect(isArguments(calls.find((c) => c.name === 'outer' && c.kind === 'e')!.value)).toBe(true)
    expect(calls.find((c) => c.name === 'outer.@1' && c.kind === 'e')!.value).toEqual([])
  })

  it('passes parameters as the function sees them: defaults applied, patterns by their names, rest spread', () => {
    const { calls } = live(
      'function d({ a }, [b], c = 5, ...rest) { return a }\nconst arrow = (x, y = x + 1) => y\nmodule.exports = [d({ a: 1, z: 9 }, [2, 3], undefined, 4, 5), arrow(1)]',
    )
    expect(calls.filter((c) => c.kind === 'e').map((c) => [c.name, c.value])).toEqual([
      ['d', [{ a: 1 }, [2], 5, 4, 5]],
      ['arrow', [1, 2]],
    ])
  })

  it('reports each level of a recursion, returns innermost first', () => {
    const { calls } = live(KINDS_SCRIPT + '\nmodule.exports = fact(3)')
    expect(calls.map((c) => [c.kind, c.name, c.value])).toEqual([
      ['e', 'fact', [3]],
      ['e', 'fact', [2]],
      ['e', 'fact', [1]],
      ['r', 'fact', 1],
      ['r', 'fact', 2],
      ['r', 'fact', 6],
    ])
  })

  it('returns with undefined when a function falls off its end or returns without value', () => {
    const { calls } = live('function none() {}\nfunction bare() { return }\nconst arrow = () => {}\nmodule.exports = [none(), bare(), arrow()]')
    expect(calls.filter((c) => c.kind === 'r').map((c) => [c.name, c.value])).toEqual([
      ['none', undefined],
      ['bare', undefined],
      ['arrow', undefined],
    ])
  })

  it('returns with the instance from a constructor that falls off its end', () => {
    const { exports, calls } = live(
      'class P { constructor(x) { this.x = x } }\nclass Q extends P { constructor() { super(2) } }\nmodule.exports = [new P(1), new Q()]',
    )
    expect(calls.filter((c) => c.kind === 'r').map((c) => [c.name, c.value])).toEqual([
      ['P#constructor', exports[0]],
      ['P#constructor', exports[1]],
      ['Q#constructor', exports[1]],
    ])
  })

  it('returns with the instance from a constructor that returns without value', () => {
    const { exports, calls } = live('class P { constructor(x) { this.x = x; if (x) return; this.y = 0 } }\nmodule.exports = new P(1)')
    expect(calls.filter((c) => c.kind === 'r').map((c) => [c.name, c.value])).toEqual([['P#constructor', exports]])
  })

  it('returns with the object a constructor returns instead of the instance', () => {
    const { exports, calls } = live('class P { constructor() { return { other: 1 } } }\nmodule.exports = new P()')
    expect(calls[1]).toMatchObject({ kind: 'r', name: 'P#constructor', value: { other: 1 } })
    expect(calls[1].value).toBe(exports)
  })

  it('reports a throw with the very same error object, and no return', () => {
    const { exports, calls } = live(
      'const boom = new Error("boom")\nconst t = () => { throw boom }\nlet caught\ntry { t() } catch (e) { caught = e }\nmodule.exports = { boom, caught }',
    )
    expect(exports.caught).toBe(exports.boom)
    expect(calls.map((c) => [c.kind, c.name])).toEqual([
      ['e', 't'],
      ['x', 't'],
    ])
    expect(calls[1].value).toBe(exports.boom)
  })

  it('reports an arrow expression body that throws', () => {
    const { exports, calls } = live(
      'const boom = new TypeError("t")\nconst raise = () => { throw boom }\nconst via = (x) => raise(x)\ntry { via(1) } catch {}\nmodule.exports = boom',
    )
    expect(calls.filter((c) => c.kind === 'x').map((c) => [c.name, c.value === exports])).toEqual([
      ['raise', true],
      ['via', true],
    ])
  })

  it('reports async functions entering synchronously and returning the awaited value', async () => {
    const { exports, calls } = live(
      'async function f(x) { await null; return x * 2 }\nconst boom = new Error("b")\nasync function g() { await null; throw boom }\nmodule.exports = Promise.all([f(2), g().catch((e) => e)])',
    )
    expect(calls.map((c) => [c.kind, c.name])).toEqual([
      ['e', 'f'],
      ['e', 'g'],
    ])
    const [value, err] = await exports
    expect(value).toBe(4)
    expect(calls.filter((c) => c.kind !== 'e' && (c.name === 'f' || c.name === 'g')).map((c) => [c.kind, c.name, c.value])).toEqual([
      ['r', 'f', 4],
      ['x', 'g', err],
    ])
  })

  it('reports a generator with its arguments when iteration starts, and its return value', () => {
    const { calls } = live("function* g(n) { yield n; return 'done' }\nconst it = g(1)\nit.next(); it.next()\nmodule.exports = 0")
    expect(calls.map((c) => [c.kind, c.name, c.value])).toEqual([
      ['e', 'g', [1]],
      ['r', 'g', 'done'],
    ])
  })

  it('reports getters, setters, methods and class-field arrows under their names', () => {
    const { calls } = live(
      'class C { get x() { return 1 } set x(v) {} m(a) { return a } f = (b) => b }\nconst c = new C()\nc.x = c.x\nc.m(2)\nc.f(3)\nmodule.exports = 0',
    )
    expect(calls.filter((c) => c.kind === 'e').map((c) => [c.name, c.value])).toEqual([
      ['C#x', []],
      ['C#x', [1]],
      ['C#m', [2]],
      ['C#f', [3]],
    ])
  })

  it("with runtime 'global', adds no header and reaches the file through one global binding named after the key", () => {
    const source = 'function f(a) { return a }\nmodule.exports = f'
    const r = rewrite(source, 'commonjs', { runtime: 'global', key: '7' })
    expect(r.code.split('\n')[0].startsWith('function f(a) {')).toBe(true)
    expect(r.binding).toBe(`${r.prefix}$7`)
    expect(r.code).not.toContain('globalThis')
    const calls: Call[] = []
    const fake = installFake(1, calls, [], () => r.probes)
    const file = fake.file('7', r.probes.length, '')
    Object.defineProperty(globalThis, r.binding!, { value: file, configurable: true })
    try {
      const module = { exports: undefined as unknown as (a: number) => number }
      new Function('module', 'exports', 'require', r.code)(module, {}, require)
      expect(module.exports(5)).toBe(5)
      expect(calls.map((c) => [c.kind, c.name, c.value])).toEqual([
        ['e', 'f', [5]],
        ['r', 'f', 5],
      ])
    } finally {
      delete (globalThis as Record<string, unknown>)[r.binding!]
    }
  })

  it('with stableIds, a rewrite that selects a few numbers them as the full table does', () => {
    const source = 'function a() {}\nfunction b() {}\nfunction c() {}\n'
    const full = rewrite(source, 'commonjs', { runtime: 'global', key: '1', stableIds: true, tableOnly: true })
    expect(full.code).toBe(source)
    expect(full.probes.map((p) => [p.name, p.id])).toEqual([
      ['a', 0],
      ['b', 1],
      ['c', 2],
    ])
    const some = rewrite(source, 'commonjs', { runtime: 'global', key: '1', stableIds: true, select: (f) => (f as { id?: number }).id === 2 })
    expect(some.probes.map((p) => [p.name, p.id])).toEqual([['c', 2]])
    expect(some.code).toContain('.s[2]')
  })
})

// ---------------------------------------------------------------------------------------------

describe('the header', () => {
  it('registers a CommonJS file under its filename, with its table, on line 1', () => {
    const source = 'function f() {}\nconst g = () => 1\n'
    const { registered, r } = evaluate(source, 'dormant')
    expect(registered).toHaveLength(1)
    expect(registered[0].key).toBe(FILE)
    expect(registered[0].n).toBe(2)
    expect(decodeTable(registered[0].table).probes).toEqual(r!.probes)
    expect(r!.code.startsWith(`const ${r!.prefix}P=`)).toBe(true)
  })

  it('registers under the key option when given', () => {
    expect(evaluate('function f() {}', 'dormant', { key: 'other-key' }).registered[0].key).toBe('other-key')
  })

  it('runs without a registry: the fallback keeps every probe dormant', () => {
    const r = rewrite('function f(x) { return x + 1 }\nmodule.exports = f(1)')
    const module = { exports: 0 }
    new Function('module', 'exports', 'require', r.code)(module, {}, require)
    expect(module.exports).toBe(2)
  })

  it('registers an ES module in its first statement, its slots an array literal held by a const (no data: module)', () => {
    const r = rewrite('export function f() {}\nexport const g = () => 1', 'module')
    const first = r.code.split('\n')[0]
    expect(first).toMatch(
      /^const \$rtP=\(globalThis\[Symbol\.for\("recon-trace\.state"\)\]\?\.registry\|\|\{[^\n]*\}\)\.file\("[^\n]*",2,"[^\n]*",\[0,0\]\),\$rtS=\$rtP\.s;export function f\(\) \{/,
    )
    expect(first).not.toContain('import')
    const table = JSON.parse(JSON.parse(/,2,("(?:[^"\\]|\\.)*"),\[0,0\]\)/.exec(first)![1]) as string) as { p: unknown[][] }
    expect(table.p.map((p) => p[0])).toEqual(['f', 'g'])
  })

  it("reads the slots in a try block only in an ES module's functions that can run before its body (hoisted declarations and what they hold)", () => {
    const r = rewrite(
      'const a = () => 0\nexport function f() { return () => 1 }\nexport const g = () => 2\nexport default function () {}\nclass C { m() {} }\nfunction h() {}',
      'module',
    )
    const byName = (name: string) => r.probes.find((p) => p.name === name)!.id
    for (const name of ['f', 'f.@2', 'default', 'h']) expect(r.code).toContain(`try{if($rtS[${byName(name)}]!==0)`)
    for (const name of ['a', 'g', 'C#m']) {
      expect(r.code).toContain(`;if($rtS[${byName(name)}]!==0)`)
      expect(r.code).not.toContain(`try{if($rtS[${byName(name)}]!==0)`)
    }
    // CommonJS: never (the header runs before any function of the file can).
    expect(rewrite('function f() {}').code).not.toContain('try{if(')
  })

  it.each(['commonjs', 'module'] as const)("goes after a leading 'use strict' (%s)", (format) => {
    const r = rewrite("'use strict'\nfunction f() {}", format)
    const [first, second] = r.code.split('\n')
    expect(first.startsWith("'use strict';")).toBe(true)
    expect(first).toContain(`;const ${r.prefix}P=`)
    expect(second.startsWith('function f() {')).toBe(true)
    // The directive is still the first statement of the program.
    const ast = acorn.parse(r.code, { ecmaVersion: 'latest', sourceType: format === 'module' ? 'module' : 'script' }) as acorn.Program
    expect((ast.body[0] as acorn.ExpressionStatement).directive).toBe('use strict')
  })

  it('keeps a CommonJS directive prologue of several directives in front', async () => {
    await expectSame(`"use client"\n'use strict'\nfunction f() { return this }\nmodule.exports = [f() === undefined]`, [true])
  })

  it.each(['commonjs', 'module'] as const)('leaves a shebang on line 1 and goes on line 2 at column 0 (%s)', (format) => {
    const source = '#!/usr/bin/env node\nfunction f() {}\n'
    const r = rewrite(source, format)
    const [first, second] = r.code.split('\n')
    expect(first).toBe('#!/usr/bin/env node')
    expect(second.startsWith(`const ${r.prefix}P=`)).toBe(true)
    expect(second).toMatch(/function f\(\) \{.*\}$/)
    alignment(source, r, format)
  })

  it('runs a CommonJS file with a shebang', async () => {
    // Function bodies do not accept a shebang: compare from line 2 (the line count stays).
    const source = '#!/usr/bin/env node\nfunction f() { return 1 }\nmodule.exports = [f()]'
    const r = rewrite(source)
    const module = { exports: [] as unknown }
    new Function('module', 'exports', 'require', r.code.replace(/^#!.*/, ''))(module, {}, require)
    expect(module.exports).toEqual([1])
  })
})

// ---------------------------------------------------------------------------------------------

describe('parse failure', () => {
  function acornMessage(source: string, sourceType: 'script' | 'module'): string {
    try {
      acorn.parse(source, { ecmaVersion: 'latest', sourceType, allowHashBang: true, allowReturnOutsideFunction: sourceType === 'script' })
    } catch (e) {
      return (e as Error).message
    }
    throw new Error('parsed')
  }

  it('throws ParseFailure with the filename and acorn message', () => {
    const source = 'function f( {'
    let err: unknown
    try {
      rewrite(source)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(ParseFailure)
    const failure = err as ParseFailure
    expect(failure.filename).toBe(FILE)
    expect(failure.cause).toBe(acornMessage(source, 'script'))
    expect(failure.message).toBe(`${FILE}: ${failure.cause}`)
  })

  it('parses by the format: import fails in CommonJS, top-level return fails in a module', () => {
    expect(() => rewrite("import x from 'y'", 'commonjs')).toThrow(ParseFailure)
    expect(() => rewrite('return 1', 'module')).toThrow(ParseFailure)
    expect(() => rewrite('return 1', 'commonjs')).not.toThrow()
    expect(() => rewrite('with (o) {}', 'module')).toThrow(ParseFailure)
  })
})

describe('the table', () => {
  it('round-trips probes through encodeTable and decodeTable, dropping the not selected', () => {
    const r = rewrite(KINDS_SCRIPT + '\nfunction ev(s) { return eval(s) }', 'commonjs', { select: (fn) => fn.name !== 'outer' })
    expect(r.skipped.map((s) => s.reason).sort()).toEqual(['eval', 'not selected'])
    const back = decodeTable(encodeTable(r.probes, r.skipped))
    expect(back.probes).toEqual(r.probes)
    expect(back.skipped).toEqual(r.skipped.filter((s) => s.reason !== 'not selected'))
  })

  it('round-trips every flag and the exports of an ES module', () => {
    const r = rewrite(KINDS_MODULE, 'module')
    expect(r.probes.some((p) => p.async && p.generator)).toBe(true)
    expect(r.probes.some((p) => p.exports.length > 0)).toBe(true)
    expect(decodeTable(encodeTable(r.probes, r.skipped)).probes).toEqual(r.probes)
  })
})

describe("capture: 'calls'", () => {
  it('puts only the entry probe in each function: no try block, returns untouched, the table says so', () => {
    const source = `function f(a, b) {\n  if (a) return a\n  return b\n}\nconst g = (x) => x * 2\nmodule.exports = { f, g }\n`
    const r = instrument(source, { filename: '/virtual/calls.cjs', capture: 'calls' })
    expect(r.code).not.toMatch(/try\{|catch\(/)
    expect(r.code).toContain('return a\n')
    expect(r.code.split('\n').length).toBe(source.split('\n').length)
    expect(r.probes.every((p) => p.callsOnly)).toBe(true)
    const table = decodeTable(encodeTable(r.probes, r.skipped))
    expect(table.probes.map((p) => p.callsOnly)).toEqual([true, true])
  })

  it('behaves as the original, dormant and live, and reports each call with its parameters', () => {
    const source = `function f(a, b) { if (a) return a; return b }\nconst g = (x) => ({ x })\nmodule.exports = { f, g }\n`
    const calls: { id: number; args: unknown[] }[] = []
    for (const slot of [0, 1]) {
      const fake = {
        file: (_k: string, n: number) => ({
          s: Array(n).fill(slot),
          e: (id: number, args: unknown[]) => (calls.push({ id, args }), 0),
          r: () => {},
          x: (_t: unknown, e: unknown) => e,
        }),
      }
      shared.registry = fake
      const r = instrument(source, { filename: '/virtual/calls2.cjs', capture: 'calls' })
      const m = { exports: {} as { f: (a: unknown, b: unknown) => unknown; g: (x: unknown) => unknown } }
      new Function('module', 'exports', r.code)(m, m.exports)
      expect(m.exports.f(0, 2)).toBe(2)
      expect(m.exports.g(3)).toEqual({ x: 3 })
      shared.registry = undefined
    }
    expect(calls).toEqual([
      { id: 0, args: [0, 2] },
      { id: 1, args: [3] },
    ])
  })
})

describe('ready for live edit', () => {
  itUnless(NO_LIVE_EDIT)(
    'probes one function of a loaded module through Debugger.setScriptSource, reaching a reference taken before, and restores exactly',
    () => {
      const r = spawnSync(process.execPath, [join(root, 'fixtures/programs/liveedit.cjs')], { cwd: root, encoding: 'utf8', timeout: 20_000 })
      expect(JSON.parse(r.stdout)).toEqual({
        edit: 'Ok',
        restore: 'Ok',
        during: 24,
        after: 6,
        seen: [4, 3, 2, 1, 'restored'],
        probes: ['fact'],
        exact: true,
        lines: true,
      })
    },
  )
})

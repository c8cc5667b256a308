// The per-call decision: a spec's matcher as generated code and as closures, which must agree.
import { spawnSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import { compileMatcher, shapeOf, uniteMatchers, type Matcher, type MatcherBuild } from '../src/match.js'
import { parseSpecs, type SpecInput, type TraceSpec } from '../src/spec.js'
import { isBusy } from '../src/state.js'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '')

function spec(input: SpecInput): TraceSpec {
  const problems: string[] = []
  const [s] = parseSpecs(input, problems)
  expect(problems).toEqual([])
  return s
}

function both(input: SpecInput, where?: () => boolean): { generated: Matcher; closures: Matcher; errors: string[] } {
  const errors: string[] = []
  const s = spec(input)
  const make = (build: MatcherBuild) => compileMatcher(s, where, (what) => void errors.push(`${build}: ${what}`), build)
  return { generated: make('generated'), closures: make('closures'), errors }
}

const obj = { id: 3, name: 'ann', tags: ['a', 'b'] }
const getter = Object.defineProperty({}, 'id', { get: () => 3, enumerable: true })
const proxy = new Proxy({ id: 3 }, {})
const CALLS: unknown[][] = [
  [],
  [1],
  [-1],
  [1, 2],
  [-1, 2],
  [1, -1],
  [NaN, 2],
  [-0, 0],
  [0, -0],
  ['SELECT 1', 2],
  ['select', 'x'],
  [2n, 3n],
  [null, undefined],
  [undefined, null],
  [obj, 1],
  [getter, 1],
  [proxy, 1],
  [1, 2, 3],
  [1, 2, 3, 4, 5],
  [obj, obj, obj],
]

const SPECS: SpecInput[] = [
  'm:f',
  'm:f/2',
  'm:f(_, _, ...)',
  'm:f(a, _) when a === -1',
  'm:f(_, -1)',
  'm:f(NaN, _)',
  'm:f(-0, _)',
  'm:f(0, _)',
  'm:f(null, _)',
  'm:f(undefined, _)',
  'm:f(2n, _)',
  'm:f("select", _)',
  'm:f(a, b) when a < b',
  'm:f(a, b) when a == b',
  'm:f(u, _) when u?.name?.length > 2 && typeof u.id === "number"',
  'm:f(u, _) when u.id === 3',
  'm:f(x, ...r) when r.length > 1 && args.length === 3',
  'm:f(...r) when r.length === 5',
  'm:f(s, _) when /^sel/i.test(s) || s.startsWith("x")',
  'm:f(a, b) when a instanceof Object ? b === 1 : -a < b',
  'm:f(a, b) when a ** b > 2n',
  'm:f(a, _) when Array.isArray(a?.tags) && a.tags.includes("b")',
  'm:f(a, b) when a === b -> return',
  'm:f/2 -> stack',
]

describe('a matcher', () => {
  it('is generated code where code generation is allowed', () => {
    expect(both('m:f(a, _) when a === 1').generated.generated).toBe(true)
    expect(both('m:f(a, _) when a === 1').closures.generated).toBeUndefined()
  })

  it.each(SPECS.map((s) => [s]))('decides as the closures for %s, on every call', (input) => {
    const { generated, closures } = both(input)
    for (const args of CALLS) expect(generated(args, args.length), `${String(input)} on ${args.length} arguments`).toBe(closures(args, args.length))
  })

  it('decides as the closures with a predicate: true, false, "return", a throw', () => {
    const answers: unknown[] = [true, false, 'return', 0, 'x']
    for (const answer of answers) {
      const { generated, closures } = both(['m', 'f', () => answer as boolean])
      for (const args of CALLS) expect(generated(args, args.length)).toBe(closures(args, args.length))
    }
    const { generated, closures, errors } = both([
      'm',
      'f',
      () => {
        throw new Error('no')
      },
    ])
    expect(generated([1], 1)).toBe(0)
    expect(generated([1], 1)).toBe(0)
    expect(closures([1], 1)).toBe(0)
    expect(errors).toEqual([expect.stringMatching(/^generated: the predicate of/), expect.stringMatching(/^closures: the predicate of/)])
  })

  it('gives a predicate a copy of the arguments, inside the re-entry guard', () => {
    const seen: unknown[] = []
    const args = [1, 2]
    const { generated } = both([
      'm',
      'f',
      (a: unknown[]) => {
        seen.push(a, isBusy(), [...a])
        a[0] = 9
        return true
      },
    ])
    expect(generated(args, 2)).not.toBe(0)
    expect(seen[2]).toEqual([1, 2])
    expect(seen[0]).not.toBe(args)
    expect(seen[1]).toBe(true)
    expect(args).toEqual([1, 2])
    expect(isBusy()).toBe(false)
  })

  it('runs the where-filter after the count and before the patterns, inside the re-entry guard', () => {
    const order: string[] = []
    const where = () => {
      order.push(`where busy=${isBusy()}`)
      return false
    }
    const { generated, closures } = both('m:f(1, _)', where)
    expect(generated([1], 1)).toBe(0)
    expect(order).toEqual([])
    expect(generated([2, 2], 2)).toBe(0)
    expect(closures([2, 2], 2)).toBe(0)
    expect(order).toEqual(['where busy=true', 'where busy=true'])
  })

  it('writes no text of the guard into its code: a string literal stays a value', () => {
    const { generated, closures } = both('m:f(s, _) when s === "\\"); throw 1; (\\"" || s === "\\u2028"')
    expect(generated(['"); throw 1; ("', 0], 2)).toBe(1)
    expect(generated(['\u2028', 0], 2)).toBe(1)
    expect(closures(['\u2028', 0], 2)).toBe(1)
    expect(generated(['x', 0], 2)).toBe(0)
  })
})

describe('the shapes a matcher carries for a wrapper', () => {
  it('hold the count, the literals and a guard on positional names', () => {
    const s = shapeOf(spec('m:f(a, -1, b) when a < b'))
    expect(s.arity).toBe(3)
    expect(s.rest).toBe(false)
    expect(s.literals).toEqual([[1, -1]])
    expect(s.guard?.positions).toEqual([0, 2])
  })

  it('pin the argument values every selected call has: literal patterns and guard equalities, NaN left out', () => {
    expect(shapeOf(spec('m:f(_, -1, NaN)')).pins).toEqual([[1, -1]])
    expect(shapeOf(spec('m:f(_, a, b) when b === "x" && a > 1')).pins).toEqual([[2, 'x']])
    expect(shapeOf(spec('m:f(a, ...r) when a === 3 && r.length > 0')).pins).toEqual([[0, 3]])
    expect(shapeOf(spec('m:f(a) when a === 1 || a === 2')).pins).toEqual([])
  })

  it('leave out a guard that reads the rest or args', () => {
    expect(shapeOf(spec('m:f(a, ...r) when r.length > 1')).guard).toBeUndefined()
    expect(shapeOf(spec('m:f(a) when args.length === 1')).guard).toBeUndefined()
  })

  it('of united matchers are the shapes of each', () => {
    const a = both('m:f(1, _)').generated
    const b = both('m:f(_, 2)').generated
    const u = uniteMatchers([a, b])
    expect(u.shapes?.map((s) => s.literals)).toEqual([[[0, 1]], [[1, 2]]])
    expect(u([1, 5], 2)).not.toBe(0)
    expect(u([7, 2], 2)).not.toBe(0)
    expect(u([7, 7], 2)).toBe(0)
  })
})

describe('without code generation from strings', () => {
  it('a process started with --disallow-code-generation-from-strings traces with closures, the same calls', () => {
    const script = `
      const { calls, clear } = require(${JSON.stringify(`${ROOT}/dist/cjs/index.js`)})
      const { compileMatcher } = require(${JSON.stringify(`${ROOT}/dist/cjs/match.js`)})
      const { parseSpecs } = require(${JSON.stringify(`${ROOT}/dist/cjs/spec.js`)})
      const lib = { add: (a, b) => a + b }
      const lines = []
      calls([{ module: lib, function: 'add', args: 'a, _', when: 'a > 1' }, { module: lib, function: 'add', args: '_, -1' }], 10, { io: (l) => lines.push(l) })
      lib.add(1, 1); lib.add(2, 1); lib.add(0, -1)
      const m = compileMatcher(parseSpecs('m:f(a) when a === 1', [])[0], undefined, () => {})
      setImmediate(() => { clear(); console.log(JSON.stringify({ generated: m.generated === true, lines: lines.map((l) => l.replace(/^\\S+ /, '')) })) })
    `
    const r = spawnSync(process.execPath, ['--disallow-code-generation-from-strings', '-e', script], { encoding: 'utf8', timeout: 30_000 })
    expect(r.stderr).toBe('')
    const out = JSON.parse(r.stdout) as { generated: boolean; lines: string[] }
    expect(out.generated).toBe(false)
    expect(out.lines).toEqual([expect.stringContaining('add(2, 1)'), expect.stringContaining('add(0, -1)')])
  })
})

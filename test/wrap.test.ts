// Wrapper faithfulness, case by case, on fixtures/shapes.cjs loaded through Node's require.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { calls, clear } from '../src/index.js'
import { collector, drain, graphOf, requireFixture, sameGraph } from './helpers.js'

const shapes = requireFixture('./shapes.cjs')
const M = './fixtures/shapes.cjs'

afterEach(() => clear())

function trace(fn: string, limit = 1000) {
  const out = collector()
  const n = calls([M, fn, 'return'], limit, { io: out.io })
  return { n, lines: out.lines }
}

// Both builds of a wrapper: compiled from its own source (the default), and the closures used
// where code generation is off.
describe.each(['generated', 'closures'])('a wrapper keeps (%s)', (build) => {
  const before = process.env.RECON_TRACE_CODEGEN
  beforeAll(() => {
    if (build === 'closures') process.env.RECON_TRACE_CODEGEN = 'off'
  })
  afterAll(() => {
    if (before === undefined) delete process.env.RECON_TRACE_CODEGEN
    else process.env.RECON_TRACE_CODEGEN = before
  })

  it('name and length', () => {
    const before = shapes.add
    trace('add')
    expect(shapes.add).not.toBe(before)
    expect(shapes.add.name).toBe('add')
    expect(shapes.add.length).toBe(2)
    expect(Object.getOwnPropertyDescriptor(shapes.add, 'name')).toEqual(Object.getOwnPropertyDescriptor(before, 'name'))
  })

  it('the same prototype object, so instanceof holds both ways', () => {
    const Original = shapes.Point
    trace('Point')
    expect(shapes.Point.prototype).toBe(Original.prototype)
    const p = new shapes.Point(3, 4)
    expect(p).toBeInstanceOf(Original)
    expect(p).toBeInstanceOf(shapes.Point)
    expect(p.norm()).toBe(5)
  })

  it('new.target: a function that checks it behaves the same with and without new', () => {
    trace('Point')
    expect(shapes.Point(1, 2)).toBeInstanceOf(shapes.Point)
    expect(new shapes.Point(1, 2).x).toBe(1)
  })

  it('a class constructor working under new, and refusing a call without new', () => {
    const Original = shapes.Shape
    trace('Shape')
    const s = new shapes.Shape('tri')
    expect(s).toBeInstanceOf(Original)
    expect(s.describe()).toBe('tri with 0 sides')
    expect(() => shapes.Shape('x')).toThrow(TypeError)
  })

  it('subclassing: a class that extends a wrapped class still works', () => {
    trace('Shape')
    const Base = shapes.Shape as new (name: string) => { describe(): string }
    class Hexagon extends Base {
      sides() {
        return 6
      }
    }
    expect(new Hexagon('h').describe()).toBe('h with 6 sides')
  })

  it('static methods that use this, and inherited statics', () => {
    trace('Square')
    const sq = shapes.Square.create('sq')
    expect(sq).toBeInstanceOf(shapes.Square)
    expect(sq.describe()).toBe('sq with 4 sides')
  })

  it('writable static properties forwarded to the original (reads and writes)', () => {
    const Original = shapes.Shape
    trace('Shape')
    shapes.Shape.count = 7
    expect(Original.count).toBe(7)
    expect(shapes.getCount()).toBe(7)
    expect(Object.keys(shapes.Shape)).toEqual(Object.keys(Original))
    expect(shapes.Shape.KIND).toBe('shape')
    Original.count = 0
  })

  it('this', () => {
    trace('whoAmI')
    const o = { who: shapes.whoAmI }
    expect(o.who()).toBe(o)
    expect(shapes.whoAmI.call(42)).toBe(42)
  })

  it('arguments, whatever their number', () => {
    const { lines } = trace('sloppyArgs')
    expect(shapes.sloppyArgs(1, 2, 3, 4, 5)).toBe(5)
    expect(shapes.variadic()).toBe(0)
    expect(lines).toBeDefined()
  })

  it('the very same thrown object', () => {
    const { lines } = trace('fail')
    let thrown: unknown
    try {
      shapes.fail('nope')
    } catch (e) {
      thrown = e
    }
    expect(thrown).toBeInstanceOf(TypeError)
    expect((thrown as Error).message).toBe('nope')
    expect(lines).toBeDefined()
  })

  it('the very same returned promise', async () => {
    const Original = shapes.later
    trace('later')
    const p = shapes.later(1)
    expect(p).toBeInstanceOf(Promise)
    expect(await p).toBe(2)
    expect(Original).not.toBe(shapes.later)
  })

  it('a non-constructor (arrow, async function) stays a non-constructor', () => {
    trace('arrow')
    expect(() => new shapes.arrow(1)).toThrow(TypeError)
    expect(shapes.arrow(2)).toBe(4)
    expect(Object.getOwnPropertyDescriptor(shapes.arrow, 'prototype')).toBeUndefined()
  })

  it('a generator still yields', () => {
    trace('count')
    expect([...shapes.count(3)]).toEqual([0, 1, 2])
  })

  it('the [[Prototype]] of the function (async functions keep their constructor)', () => {
    const Original = shapes.later
    trace('later')
    expect(Object.getPrototypeOf(shapes.later)).toBe(Object.getPrototypeOf(Original))
    expect(shapes.later.constructor.name).toBe('AsyncFunction')
  })
})

describe('the checks written into a generated wrapper', () => {
  function traceSpec(spec: string | string[]) {
    const out = collector()
    const n = calls(spec, 1000, { io: out.io })
    return { n, lines: out.lines }
  }

  it('let through exactly the calls a literal pattern and a guard select, at any position', async () => {
    // sloppyArgs declares no parameter: every argument is read from `arguments`.
    const { lines } = traceSpec([`${M}:sloppyArgs(_, _, _, _, 5)`, `${M}:add(a, b) when a === 1 && b > 2`])
    expect(shapes.sloppyArgs(1, 2, 3, 4, 5)).toBe(5)
    expect(shapes.sloppyArgs(1, 2, 3, 4, 6)).toBe(5)
    expect(shapes.sloppyArgs(1, 2, 3, 5)).toBe(4)
    expect(shapes.add(1, 3)).toBe(4)
    expect(shapes.add(1, 2)).toBe(3)
    expect(shapes.add(2, 3)).toBe(5)
    await drain()
    expect(lines.map((l) => l.replace(/^\S+ /, ''))).toEqual([
      expect.stringContaining('sloppyArgs(1, 2, 3, 4, 5)'),
      expect.stringContaining('add(1, 3)'),
    ])
  })

  it('send on the calls of every spec when several name the same function', async () => {
    const { n, lines } = traceSpec([`${M}:add(1, _)`, `${M}:add(_, 2)`])
    expect(n).toBe(1)
    shapes.add(1, 5)
    shapes.add(7, 2)
    shapes.add(7, 7)
    await drain()
    expect(lines).toEqual([expect.stringContaining('add(1, 5)'), expect.stringContaining('add(7, 2)')])
  })

  it('are compiled per function: each wrapper is its own script in stack traces', () => {
    traceSpec([`${M}:fail/1`, `${M}:add/2`])
    let stack = ''
    try {
      shapes.fail('x')
    } catch (e) {
      stack = String((e as Error).stack)
    }
    expect(stack).toMatch(/recon-trace:wrapper:\d+/)
    const failScript = /recon-trace:wrapper:(\d+)/.exec(stack)![1]
    // add's wrapper is another script: its frame names another number.
    let other = ''
    const add = shapes.add
    const probe = {
      valueOf() {
        other = String(new Error().stack)
        return 1
      },
    }
    add(probe, 1)
    const addScript = /recon-trace:wrapper:(\d+)/.exec(other)?.[1]
    expect(addScript).toBeDefined()
    expect(addScript).not.toBe(failScript)
  })

  it('are left out where code generation is off: the closures serve the same calls', async () => {
    process.env.RECON_TRACE_CODEGEN = 'off'
    try {
      const { lines } = traceSpec(`${M}:add(a, 2) when a > 0`)
      expect(shapes.add(1, 2)).toBe(3)
      expect(shapes.add(0, 2)).toBe(2)
      let stack = ''
      try {
        shapes.add({ valueOf: () => { stack = String(new Error().stack); return 1 } }, 2)
      } catch {
        /* not thrown */
      }
      expect(stack).not.toContain('recon-trace:wrapper:')
      await drain()
      expect(lines).toEqual([expect.stringContaining('add(1, 2)')])
    } finally {
      delete process.env.RECON_TRACE_CODEGEN
    }
  })
})

describe('paths', () => {
  it('wraps a function reachable through two paths once', () => {
    const { n } = trace('*')
    expect(shapes.add).toBe(shapes.sum)
    expect(n).toBeGreaterThan(5)
  })

  it('wraps prototype methods (Class#method)', async () => {
    const { lines } = trace('Shape#describe')
    new shapes.Shape('tri').describe()
    await drain()
    expect(lines[0]).toMatch(/shapes:Shape#describe\(\)$/)
  })

  it('wraps inherited prototype methods on the subclass only (Square#describe)', async () => {
    const { lines } = trace('Square#describe')
    new shapes.Shape('s').describe()
    new shapes.Square('q').describe()
    await drain()
    expect(lines.filter((l) => l.includes('Square#describe(')).length).toBe(1)
  })

  it('wraps static methods (Class.method)', async () => {
    const { lines } = trace('Point.origin')
    shapes.Point.origin()
    await drain()
    expect(lines[0]).toMatch(/shapes:Point\.origin\(\)/)
  })

  it('wraps nested objects (a.b.c)', async () => {
    const { lines } = trace('math.deep.twice')
    expect(shapes.math.deep.twice(4)).toBe(8)
    await drain()
    expect(lines).toEqual([expect.stringMatching(/shapes:math\.deep\.twice\(4\)$/), expect.stringMatching(/math\.deep\.twice\/1 --> 8 \([\d.]+ (ns|µs|ms|s)\)$/)])
  })

  it('wraps what a glob names (get*)', async () => {
    const { n } = trace('get*')
    expect(n).toBe(3)
  })

  it('leaves getters alone unless named, and traces a getter that is named', async () => {
    const d = Object.getOwnPropertyDescriptor(shapes.Shape.prototype, 'label')
    trace('Shape#*')
    expect(Object.getOwnPropertyDescriptor(shapes.Shape.prototype, 'label')).toEqual(d)
    clear()
    const { lines } = trace('Shape#label')
    expect(new shapes.Shape('x').label).toBe('<x>')
    await drain()
    expect(lines[0]).toMatch(/Shape#label \(get\)\(\)/)
  })

  it('refuses a frozen object with a clear error and hooks nothing', () => {
    const before = graphOf(shapes)
    expect(() => calls([shapes.frozen, 'f', '_'], 10)).toThrow(/read-only and not configurable/)
    expect(sameGraph(before, graphOf(shapes))).toEqual([])
  })

  it('names close exports when a function path matches nothing', () => {
    expect(() => calls(`${M}:ad/2`, 10)).toThrow(/no function "ad" in shapes; it has: add/)
  })
})

describe('restore', () => {
  it('clear() restores the whole module graph exactly', () => {
    const before = graphOf(shapes)
    const out = collector()
    calls([`${M}:_/_`, `${M}:Shape#_`, `${M}:math.deep.twice/1`], 100, { io: out.io })
    expect(sameGraph(before, graphOf(shapes)).length).toBeGreaterThan(0)
    clear()
    expect(sameGraph(before, graphOf(shapes))).toEqual([])
  })

  it('a wrapper kept by the program after clear() goes straight to the original', async () => {
    const out = collector()
    calls(`${M}:add/2`, 100, { io: out.io })
    const kept = shapes.add
    clear()
    expect(kept(1, 2)).toBe(3)
    await drain()
    expect(out.lines).toEqual([])
  })

  it('leaves a property the program replaced while traced as the program left it', () => {
    const original = shapes.getName
    calls(`${M}:getName/0`, 100, { io: () => {} })
    const mine = () => 'mine'
    shapes.getName = mine
    clear()
    expect(shapes.getName).toBe(mine)
    shapes.getName = original
  })
})

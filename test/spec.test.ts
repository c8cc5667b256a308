import { describe, expect, it } from 'vitest'
import { parseSpecs } from '../src/spec.js'
import { TraceError } from '../src/error.js'
import { calls } from '../src/index.js'

function parse(input: unknown) {
  const problems: string[] = []
  const specs = parseSpecs(input, problems)
  return { specs, problems }
}

describe('string form', () => {
  it('reads module:function/arity', () => {
    const { specs, problems } = parse('./lib/queue.js:in/2')
    expect(problems).toEqual([])
    expect(specs[0]).toMatchObject({ module: './lib/queue.js', function: 'in', arity: 2, return: false, stack: false })
  })

  it('splits at the last colon so node: builtins keep their prefix', () => {
    const { specs } = parse('node:fs:readFileSync/_')
    expect(specs[0]).toMatchObject({ module: 'node:fs', function: 'readFileSync', arity: undefined })
  })

  it('reads argument patterns, a guard and actions', () => {
    const { specs, problems } = parse('pg:Client#query(sql, _) when typeof sql === "string" && sql.includes("users") -> return, stack')
    expect(problems).toEqual([])
    expect(specs[0]).toMatchObject({ module: 'pg', function: 'Client#query', arity: 2, return: true, stack: true, bindings: ['sql', undefined] })
    expect(specs[0].guard?.test(['select * from users', ['select * from users', 1]])).toBe(true)
    expect(specs[0].guard?.test([42, [42, 1]])).toBe(false)
  })

  it('reads literal patterns and a rest pattern', () => {
    const { specs, problems } = parse("./db.cjs:find(42, 'x', ...rest) when rest.length > 0")
    expect(problems).toEqual([])
    expect(specs[0]).toMatchObject({ arity: 2, rest: true, restName: 'rest' })
    expect(specs[0].patterns).toEqual([{ kind: 'literal', value: 42 }, { kind: 'literal', value: 'x' }])
  })

  it('keeps an arrow inside a guard string literal out of the actions', () => {
    const { specs, problems } = parse('./a.js:f(s) when s === "a->b" -> return')
    expect(problems).toEqual([])
    expect(specs[0].return).toBe(true)
    expect(specs[0].guard?.test(['a->b', ['a->b']])).toBe(true)
  })

  it('keeps commas inside string literals in one pattern, and escaped quotes inside the string', () => {
    const { specs, problems } = parse(`./a.js:f('a,b', x) when x === "say \\"->\\" ok" -> return`)
    expect(problems).toEqual([])
    expect(specs[0].patterns).toEqual([{ kind: 'literal', value: 'a,b' }, { kind: 'bind', name: 'x' }])
    expect(specs[0].return).toBe(true)
    expect(specs[0].guard?.test(['say "->" ok', []])).toBe(true)
  })

  it('binds args for a guard without patterns', () => {
    const { specs, problems } = parse('./a.js:f/_ when args.length > 1')
    expect(problems).toEqual([])
    expect(specs[0].guard?.test([[1, 2]])).toBe(true)
  })

  it('reads an empty pattern list as arity 0', () => {
    expect(parse('./a.js:f()').specs[0].arity).toBe(0)
  })
})

describe('tuple and object forms', () => {
  it('reads a tuple with an arity', () => {
    expect(parse(['./q.js', 'in', 2]).specs[0]).toMatchObject({ module: './q.js', function: 'in', arity: 2 })
  })

  it("reads 'return' in the arity slot as any arity with return trace", () => {
    expect(parse(['./q.js', 'in', 'return']).specs[0]).toMatchObject({ arity: undefined, return: true })
  })

  it('reads a predicate in the arity slot', () => {
    const pred = () => true
    expect(parse(['./q.js', 'in', pred]).specs[0].predicate).toBe(pred)
  })

  it('reads an object given directly as the module', () => {
    const server = { emit() {} }
    expect(parse([server, 'emit', '_']).specs[0].module).toBe(server)
  })

  it('reads the object form', () => {
    const { specs, problems } = parse({ module: 'pg', function: 'Client#query', args: 'sql, _', when: 'sql.length > 3', return: true })
    expect(problems).toEqual([])
    expect(specs[0]).toMatchObject({ arity: 2, return: true, bindings: ['sql', undefined] })
  })

  it('unites a list of specs of mixed forms', () => {
    const { specs, problems } = parse(['./a.js:f/1', ['./b.js', 'g', 2], { module: './c.js', function: 'h' }])
    expect(problems).toEqual([])
    expect(specs.map((s) => s.function)).toEqual(['f', 'g', 'h'])
  })

  it('tells a list of two string specs from a tuple', () => {
    const { specs } = parse(['./a.js:f/1', './b.js:g/2'])
    expect(specs).toHaveLength(2)
  })
})

describe('refusals', () => {
  it('refuses a wildcard module with a wildcard function', () => {
    expect(parse('_:_/_').problems[0]).toMatch(/wildcard module with a wildcard function/)
  })

  it('refuses a wildcard module with a glob function', () => {
    expect(parse(['_', 'get*', '_']).problems[0]).toMatch(/wildcard module/)
  })

  it('refuses a spec without module:function', () => {
    expect(parse('queue').problems[0]).toMatch(/expected 'module:function'/)
  })

  it('refuses a bad arity and shows it', () => {
    expect(parse('./a.js:f/x').problems[0]).toMatch(/the arity "x" is not valid/)
  })

  it('refuses an unknown action and names the right ones', () => {
    expect(parse('./a.js:f/1 -> retrun').problems[0]).toMatch(/unknown action "retrun".*return, stack/)
  })

  it('refuses a bad function path', () => {
    expect(parse('./a.js:a#b#c/1').problems[0]).toMatch(/not a function path/)
    expect(parse('./a.js:a.@x').problems[0]).toMatch(/not a function path/)
  })

  it('accepts the local-scope names of a private method and of an anonymous function', () => {
    expect(parse('./a.js:Queue##grow/0').problems).toEqual([])
    expect(parse('./a.js:mapAll.@65').problems).toEqual([])
    expect(parse('./a.js:mapAll.@*').problems).toEqual([])
  })

  it('refuses unknown keys of the object form', () => {
    expect(parse({ module: 'a', function: 'f', arty: 2 }).problems[0]).toMatch(/unknown key "arty"/)
  })

  it('refuses a guard that calls user code, naming the construct', () => {
    expect(parse('./a.js:f(x) when x.toString() === "1"').problems.join('\n')).toMatch(/call/i)
  })

  it('refuses a guard name the patterns do not bind', () => {
    expect(parse('./a.js:f(x) when y > 1').problems.join('\n')).toMatch(/y/)
  })

  it('refuses a rest pattern that is not last', () => {
    expect(parse('./a.js:f(..., x)').problems[0]).toMatch(/must come last/)
  })

  it('lists every problem of every spec, limit and option in one TraceError', () => {
    let err: unknown
    try {
      calls(['_:_/_', './a.js:f/x'], 0, { args: 'all', bogus: 1 } as never)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(TraceError)
    const e = err as TraceError
    expect(e.problems.length).toBeGreaterThanOrEqual(5)
    expect(e.message).toMatch(/wildcard/)
    expect(e.message).toMatch(/the limit 0 is not valid/)
    expect(e.message).toMatch(/option args: "all"/)
    expect(e.message).toMatch(/unknown option "bogus"/)
  })
})

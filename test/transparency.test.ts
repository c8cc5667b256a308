// Transparency on real third-party code: every exported function and class method of acorn and
// of source-map wrapped at once (thousands of calls a second go through the wrappers, most of
// them internal `this.method()` calls on the prototypes), real workloads run with the trace
// filtered out and with it live, and the results compared byte for byte with untraced runs.
import { afterEach, describe, expect, it } from 'vitest'
import { createRequire } from 'node:module'
import { readFileSync } from 'node:fs'
import { calls, clear } from '../src/index.js'
import { collector, drain, graphOf, sameGraph } from './helpers.js'

const require = createRequire(import.meta.url)
const acorn = require('acorn') as typeof import('acorn')
const sourceMap = require('source-map') as typeof import('source-map')

afterEach(() => clear())

// A real input: the source of source-map's generator, about 15 KB of JavaScript.
const input = readFileSync(require.resolve('source-map/lib/source-map-generator.js'), 'utf8')

const parse = () => JSON.stringify(acorn.parse(input, { ecmaVersion: 'latest', locations: true }))

function generateMap(): string {
  const g = new sourceMap.SourceMapGenerator({ file: 'out.js' })
  for (let line = 1; line <= 500; line++) {
    g.addMapping({ generated: { line, column: line % 40 }, original: { line: line * 2, column: 3 }, source: `src/${line % 7}.ts`, name: line % 3 ? undefined : `n${line}` })
  }
  g.setSourceContent('src/0.ts', 'export const x = 1')
  return g.toString()
}

describe('transparency on real packages', () => {
  it('acorn, every function and Parser method wrapped: the same AST, filtered out and traced', async () => {
    const expected = parse()
    const before = graphOf(acorn)
    const hooked = calls('acorn:_/_ when false', 10_000_000, { io: () => {} })
    expect(hooked).toBeGreaterThan(200)
    expect(parse()).toBe(expected)
    clear()
    expect(sameGraph(before, graphOf(acorn))).toEqual([])

    const out = collector()
    calls('acorn:Parser#_/_ -> return', 2000, { io: out.io })
    expect(parse()).toBe(expected)
    await drain(100) // the output writes at most 2 ms of lines per turn
    expect(out.lines.at(-1)).toBe('recon-trace: rate limit tripped after 2000 messages; tracing stopped.')
    expect(sameGraph(before, graphOf(acorn))).toEqual([])
    expect(parse()).toBe(expected)
  })

  it('source-map, every class method wrapped: the same map, filtered out and traced', async () => {
    const expected = generateMap()
    const before = graphOf(sourceMap)
    const hooked = calls('source-map:_/_ when false', 10_000_000, { io: () => {} })
    expect(hooked).toBeGreaterThan(20)
    expect(generateMap()).toBe(expected)
    clear()
    expect(sameGraph(before, graphOf(sourceMap))).toEqual([])

    const out = collector()
    calls('source-map:_ -> return', 500, { io: out.io })
    expect(generateMap()).toBe(expected)
    await drain(100)
    expect(out.lines.at(-1)).toBe('recon-trace: rate limit tripped after 500 messages; tracing stopped.')
    expect(sameGraph(before, graphOf(sourceMap))).toEqual([])
  })
})

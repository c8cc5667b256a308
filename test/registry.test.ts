// The registry's ProbeFile: the entry check a live probe calls, from the typed arrays a trace sets.
import { describe, expect, it } from 'vitest'
import { ProbeFile, type LiveProbe, type ProbeHandler } from '../src/registry.js'

/** A file of two probes whose handler records what reaches it; probe 0 live, accepting 2 arguments. */
function file(pin?: [number, unknown]): { f: ProbeFile; seen: unknown[][]; matched: unknown[][] } {
  const seen: unknown[][] = []
  const matched: unknown[][] = []
  const f = new ProbeFile('/app/x.js', 2, '{"p":[],"s":[]}', [0, 0])
  const probe: LiveProbe = {
    match: (args, n) => {
      matched.push(Array.from(args).slice(0, n))
      return 1
    },
    min: 2,
    max: 2,
    exact: false,
  }
  const handler: ProbeHandler = {
    enter: (_f, _t, args, n) => {
      seen.push(Array.from(args).slice(0, n))
      return 0
    },
    ret: () => {},
    threw: () => {},
  }
  f.live = [probe, undefined]
  f.minArgs = Int32Array.of(2, 0x7fffffff)
  f.maxArgs = Int32Array.of(2, -1)
  f.exactArgs = Uint8Array.of(0, 0)
  if (pin) {
    f.pinAt = Int32Array.of(pin[0], -1)
    f.pinValues = [pin[1], undefined]
  }
  f.handler = handler
  return { f, seen, matched }
}

describe('ProbeFile.e, the entry check of a live probe', () => {
  it('drops a call whose count its specs do not accept before the matcher, trailing undefined not counted', () => {
    const { f, matched } = file()
    expect(f.e(0, [1])).toBe(0)
    expect(f.e(0, [1, 2, 3])).toBe(0)
    expect(f.e(0, [1, undefined])).toBe(0)
    expect(f.e(0, [1, 2])).toBe(0)
    expect(matched).toEqual([[1, 2]])
  })

  it('drops a call whose pinned argument has another value before the matcher, and lets the others on', () => {
    const { f, matched, seen } = file([1, -1])
    f.e(0, [5, 2])
    f.e(0, [5, '-1'])
    f.e(0, [5, -1])
    expect(matched).toEqual([[5, -1]])
    expect(seen).toEqual([[5, -1]])
  })

  it('works without pins (a file whose trace set only the counts)', () => {
    const { f, matched } = file()
    f.pinAt = undefined
    expect(() => f.e(0, [3, 4])).not.toThrow()
    expect(matched).toEqual([[3, 4]])
  })

  it('is dormant for a file no trace made live', () => {
    const f = new ProbeFile('/app/y.js', 1, '{"p":[],"s":[]}', [0])
    expect(f.e(0, [1, 2])).toBe(0)
  })
})

describe('Registry.file', () => {
  const TABLE = '{"p":[["f","function",0,1,0,["f"],-1]],"s":[]}'

  it("tells the trace of each file as it registers, an ES module's too, its slots the header's literal", async () => {
    const { Registry } = await import('../src/registry.js')
    const reg = new Registry(() => true)
    const heard: string[] = []
    reg.onFile = (f) => void heard.push(`${f.filename}:${f.probes.map((p) => p.name).join(',')}`)
    const literal = [0]
    const cjs = reg.file('/app/a.cjs', 1, TABLE, literal)
    const esm = reg.file('file:///app/b.mjs', 1, TABLE, [0])
    expect(heard).toEqual(['/app/a.cjs:f', '/app/b.mjs:f'])
    expect(cjs.s).toBe(literal)
    // No literal, or one of the wrong length: slots of its own, all dormant.
    expect(reg.file('/app/c.cjs', 1, TABLE).s).toEqual([0])
    expect(reg.file('/app/d.cjs', 1, TABLE, [0, 0]).s).toEqual([0])
    expect(esm.filename).toBe('/app/b.mjs')
  })
})

// Durations on return lines, and the stats mode in-process: counts, errors, percentiles, rows by
// argument value, the cap on values, limits, the table and JSON at the end, the refresh on a
// terminal, what is refused up front, and the restore.
import { afterEach, describe, expect, it } from 'vitest'
import { Writable } from 'node:stream'
import { calls, clear, TraceError } from '../src/index.js'
import { MAX_KEYS, MAX_ROWS } from '../src/stats.js'
import { DURATION, collector, drain, requireFixture, untimed } from './helpers.js'

const queue = requireFixture('./queue.cjs')
const db = requireFixture('./db.cjs')
const Q = './fixtures/queue.cjs'
const DB = './fixtures/db.cjs'

afterEach(() => clear())

/** Wait for the lines of a trace until `done` says they are complete. */
async function until(lines: readonly string[], done: (lines: readonly string[]) => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms
  while (!done(lines) && Date.now() < end) await new Promise((r) => setTimeout(r, 10))
}

/** Busy-wait `ms` milliseconds (a slow synchronous call). */
function spin(ms: number): void {
  const t = performance.now()
  while (performance.now() - t < ms);
}

/** A duration's text as milliseconds: `3.12 µs` is 0.00312. */
function ms(text: string): number {
  const [, n, unit] = /^([\d.]+) (ns|µs|ms|s)$/.exec(text)!
  return Number(n) * { ns: 1e-6, µs: 1e-3, ms: 1, s: 1000 }[unit as 'ns']
}

describe('durations on return lines', () => {
  it('a return, an exception, a fulfilled and a rejected promise each end with how long the call took', async () => {
    const out = collector()
    calls([`${Q}:in -> return`, `${DB}:load -> return`, `${DB}:findUser -> return`], 20, { io: out.io })
    queue.in(1, queue.new())
    await db.load(1)
    await db.load(999).catch(() => {})
    await db.findUser(42)
    await drain()
    const returns = out.lines.filter((l) => / (-->|~>|~!|!!) /.test(l))
    expect(returns).toHaveLength(4)
    for (const l of returns) expect(l, l).toMatch(DURATION)
    const took = (re: RegExp) => ms(DURATION.exec(returns.find((l) => re.test(l))!)![0].slice(2, -1))
    // load settles after a 5 ms timer: its duration is until it settled, not until it returned
    // (libuv starts a timer from the loop's cached time, so it may fire a little before 5 ms).
    expect(took(/db:load\/1 ~> /)).toBeGreaterThanOrEqual(3)
    expect(took(/db:load\/1 ~! /)).toBeGreaterThanOrEqual(3)
    expect(took(/queue:in\/2 --> /)).toBeLessThan(50)
  })

  it('a thrown exception carries the duration up to the throw', async () => {
    const out = collector()
    const o = {
      boom(n: number) {
        spin(n)
        throw new Error('x')
      },
    }
    calls([o, 'boom', 'return'], 10, { io: out.io })
    expect(() => o.boom(3)).toThrow('x')
    await drain()
    const line = out.lines.find((l) => l.includes(' !! '))!
    expect(ms(DURATION.exec(line)![0].slice(2, -1))).toBeGreaterThanOrEqual(2.9)
  })

  it('JSON Lines carry the duration in ms, on returns only', async () => {
    const out = collector()
    calls(`${Q}:in -> return`, 10, { io: out.io, json: true })
    queue.in(1, queue.new())
    await drain()
    const [call, ret] = out.lines.map((l) => JSON.parse(l) as { type: string; duration?: number })
    expect(call.type).toBe('call')
    expect(call.duration).toBeUndefined()
    expect(ret.type).toBe('return')
    expect(typeof ret.duration).toBe('number')
    expect(ret.duration).toBeGreaterThan(0)
    expect(ret.duration).toBeLessThan(50)
  })

  it('a value cut to the line limit keeps the duration at the end of the line', async () => {
    const out = collector()
    calls(`${Q}:fromList -> return`, 10, { io: out.io, format: { line: 80 } })
    queue.fromList(Array.from({ length: 100 }, (_, i) => i))
    await drain()
    const ret = out.lines.find((l) => l.includes(' --> '))!
    expect(ret.length).toBeLessThanOrEqual(80)
    expect(ret).toMatch(/\.\.\. \([\d.]+ (ns|µs|ms|s)\)$/)
  })
})

describe('stats mode', () => {
  it('prints no line per call; at clear() a table of calls, errors and percentiles per function, and a histogram', async () => {
    const out = collector()
    const o = {
      fast() {
        return 1
      },
      slow() {
        spin(2)
      },
      bad() {
        throw new Error('no')
      },
    }
    calls([o, '_'], 1000, { io: out.io, stats: true })
    for (let i = 0; i < 50; i++) o.fast()
    for (let i = 0; i < 5; i++) o.slow()
    for (let i = 0; i < 3; i++) expect(() => o.bad()).toThrow('no')
    await drain()
    expect(out.lines).toEqual([])
    clear()
    await drain()
    const lines = out.lines
    expect(lines[0]).toMatch(/^function\s+calls\s+errors\s+p50\s+p90\s+p99\s+max$/)
    // Busiest (time spent) first: slow's 5 x 2 ms.
    expect(lines[1]).toMatch(/^Object:slow\s+5\s+0\s+(1\.9\d|2\.\d\d) ms\s/)
    expect(lines.slice(1, 4).some((l) => /^Object:fast\s+50\s+0\s/.test(l))).toBe(true)
    expect(lines.slice(1, 4).some((l) => /^Object:bad\s+3\s+3\s/.test(l))).toBe(true)
    expect(lines).toContain('Object:slow, 5 calls, µs:')
    expect(lines.some((l) => /^\[1K, 2K\)\s+\d+ \|@+ *\|$/.test(l) || /^\[2K, 4K\)\s+\d+ \|@+ *\|$/.test(l))).toBe(true)
    // clear() ends it without a trip line.
    expect(lines.some((l) => l.startsWith('recon-trace:'))).toBe(false)
  })

  it('by an argument: a row per value, the slowest on top, errors counted per value', async () => {
    const out = collector()
    const o = {
      find(id: string, _opts?: unknown) {
        if (id === 'slow') spin(3)
        if (id === 'gone') throw new Error('gone')
        return id
      },
    }
    calls([{ module: o, function: 'find', args: 'id, ...' }], 1000, { io: out.io, stats: true, by: 'id', json: true })
    for (let i = 0; i < 30; i++) o.find(`u${i % 3}`)
    for (let i = 0; i < 4; i++) o.find('slow')
    for (let i = 0; i < 2; i++) expect(() => o.find('gone')).toThrow()
    clear()
    await drain()
    expect(out.lines).toHaveLength(1)
    const report = JSON.parse(out.lines[0]) as {
      type: string
      by: string
      rows: { function: string; key: string; calls: number; errors: number; p50: number; max: number }[]
    }
    expect(report.type).toBe('stats')
    expect(report.by).toBe('id')
    expect(report.rows[0]).toMatchObject({ function: 'Object:find', key: 'slow', calls: 4, errors: 0 })
    expect(report.rows[0].p50).toBeGreaterThanOrEqual(2.7)
    expect(Object.fromEntries(report.rows.map((r) => [r.key, [r.calls, r.errors]]))).toEqual({
      slow: [4, 0],
      u0: [10, 0],
      u1: [10, 0],
      u2: [10, 0],
      gone: [2, 2],
    })
  })

  it(`keeps at most ${MAX_KEYS} values per function; the calls of the rest are counted as "others"`, async () => {
    const out = collector()
    const o = { f: (id: number) => id }
    calls([{ module: o, function: 'f', args: 'id' }], 10_000, { io: out.io, stats: true, by: 'id', json: true })
    for (let i = 0; i < MAX_KEYS + 50; i++) o.f(i)
    for (let i = 0; i < 10; i++) o.f(3)
    clear()
    await drain()
    const rows = (JSON.parse(out.lines[0]) as { rows: { key: string; others?: boolean; calls: number }[] }).rows
    expect(rows).toHaveLength(MAX_KEYS + 1)
    expect(rows.at(-1)).toMatchObject({ key: 'others', others: true, calls: 50 })
    expect(rows.find((r) => r.key === '3')!.calls).toBe(11)
    expect(rows.reduce((n, r) => n + r.calls, 0)).toBe(MAX_KEYS + 60)
  })

  it(`keeps at most ${MAX_ROWS} value rows in a trace, all functions together: past it new values are "others"`, async () => {
    const out = collector()
    const fns: Record<string, (id: number) => number> = {}
    for (let k = 0; k < 12; k++) fns[`f${k}`] = (id: number) => id
    calls([{ module: fns, function: '_', args: 'id' }], 1_000_000, { io: out.io, stats: true, by: 'id', json: true })
    for (let k = 0; k < 12; k++) for (let i = 0; i < MAX_KEYS; i++) fns[`f${k}`](i)
    clear()
    await drain()
    const rows = (JSON.parse(out.lines[0]) as { rows: { function: string; others?: boolean; calls: number }[] }).rows
    expect(rows.filter((r) => r.others !== true)).toHaveLength(MAX_ROWS)
    expect(rows.filter((r) => r.others === true).reduce((n, r) => n + r.calls, 0)).toBe(12 * MAX_KEYS - MAX_ROWS)
    expect(rows.reduce((n, r) => n + r.calls, 0)).toBe(12 * MAX_KEYS)
  })

  it('a row is named by the value as it prints: objects through a small snapshot (no getter runs, redacted keys hidden), long strings cut to 120 characters', async () => {
    const out = collector()
    const o = { f: (v: unknown) => v }
    let ran = false
    const tricky = {
      id: 1,
      get lazy() {
        ran = true
        return 2
      },
      password: 'hunter2',
    }
    calls([{ module: o, function: 'f', args: 'v' }], 1000, { io: out.io, stats: true, by: 'v', json: true })
    o.f(tricky)
    o.f('x'.repeat(500))
    o.f('x'.repeat(500) + 'y')
    o.f(3)
    o.f(-0)
    o.f(0)
    clear()
    await drain()
    expect(ran).toBe(false)
    const keys = (JSON.parse(out.lines[0]) as { rows: { key: string; calls: number }[] }).rows.map((r) => [r.key, r.calls])
    expect(keys).toContainEqual(['{ id: 1, lazy: [Getter], password: [REDACTED] }', 1])
    // Two strings alike in their first 117 characters share a row.
    expect(keys).toContainEqual([`${'x'.repeat(117)}...`, 2])
    expect(keys).toContainEqual(['3', 1])
    expect(keys).toContainEqual(['0', 2])
  })

  it('a count limit counts calls: a flood trips it, and the table still prints what was seen, then the trip line', async () => {
    const out = collector()
    const o = { f: (x: number) => x }
    const f0 = o.f
    calls([o, 'f', '_'], 100, { io: out.io, stats: true })
    for (let i = 0; i < 10_000; i++) o.f(i)
    // The 100th call ended the trace there and then.
    expect(o.f).toBe(f0)
    await drain()
    expect(out.lines[1]).toMatch(/^Object:f\s+100\s+0\s/)
    expect(out.lines.at(-1)).toBe('recon-trace: rate limit tripped after 100 calls; tracing stopped.')
  })

  it('a rate limit trips on the call over the rate, which is not counted', async () => {
    const out = collector()
    const o = { f: (x: number) => x }
    calls([o, 'f', '_'], [20, 60_000], { io: out.io, stats: true, json: true })
    for (let i = 0; i < 50; i++) o.f(i)
    await drain()
    expect(JSON.parse(out.lines[0]).rows[0].calls).toBe(20)
    expect(JSON.parse(out.lines[1])).toEqual({ type: 'end', message: 'rate limit tripped after 20 calls (more than 20 in 60000 ms); tracing stopped.' })
  })

  it('the time limit ends it with the table, and says how many calls it counted', async () => {
    const out = collector()
    const o = { f: (x: number) => x }
    calls([o, 'f', '_'], 1000, { io: out.io, stats: true, time: 100 })
    o.f(1)
    o.f(2)
    await until(out.lines, (l) => l.some((x) => x.startsWith('recon-trace:')))
    expect(out.lines[1]).toMatch(/^Object:f\s+2\s+0\s/)
    expect(out.lines.at(-1)).toBe('recon-trace: time limit of 100 ms reached after 2 calls; tracing stopped.')
  })

  it('async functions are timed until their promise settles; rejections count as errors', async () => {
    const out = collector()
    calls([`${DB}:load`, `${DB}:findUser`], 1000, { io: out.io, stats: true, json: true })
    await Promise.all([db.load(1), db.load(42), db.load(7).catch(() => {}), db.findUser(1), db.findUser(3).catch(() => {})])
    clear()
    await drain()
    const rows = (JSON.parse(out.lines[0]) as { rows: { function: string; calls: number; errors: number; rejections: number; p50: number }[] }).rows
    const load = rows.find((r) => r.function === 'db:load')!
    expect(load).toMatchObject({ calls: 3, errors: 1, rejections: 1 })
    expect(load.p50).toBeGreaterThanOrEqual(3)
    expect(rows.find((r) => r.function === 'db:findUser')).toMatchObject({ calls: 2, errors: 1, rejections: 1 })
  })

  it('on a terminal the table refreshes in place once a second, then the final table replaces it', async () => {
    let text = ''
    const tty = new Writable({
      write(chunk, _enc, cb) {
        text += String(chunk)
        cb()
      },
    }) as Writable & { isTTY: boolean }
    tty.isTTY = true
    const o = { f: (x: number) => x }
    calls([o, 'f', '_'], 100_000, { io: tty, stats: true, color: false })
    o.f(1)
    await until([], () => text.includes('Object:f'), 2500)
    expect(text).toMatch(/^function\s+calls/)
    const first = text
    o.f(2)
    await until([], () => text.length > first.length, 2500)
    // The second report goes up over the first (its lines) and clears to the end of the screen.
    const lines = first.split('\n').length - 1
    expect(text.slice(first.length)).toMatch(new RegExp(`^\\x1b\\[${lines}F\\x1b\\[J function\\s+calls`.replace(' ', '')))
    clear()
    await drain()
    expect(text.slice(text.lastIndexOf('\x1b[J') + 3)).toMatch(/^function\s+calls\s+errors\s+p50\s+p90\s+p99\s+max\nObject:f\s+2\s/)
  }, 10_000)

  for (const build of ['generated', 'closures'] as const) {
    it(`is faithful in stats mode (${build} wrappers): this, extra arguments, new, the same thrown object; each call counted`, async () => {
      const before = process.env.RECON_TRACE_CODEGEN
      if (build === 'closures') process.env.RECON_TRACE_CODEGEN = 'off'
      try {
        const out = collector()
        class Point {
          constructor(
            public x: number,
            public y: number,
          ) {}
        }
        const thrown = new Error('same')
        const o = {
          k: 5,
          self(this: { k: number }, a: number) {
            return this.k + a + arguments.length
          },
          boom(_a: number) {
            throw thrown
          },
          Point,
        }
        calls([o, '_'], 1000, { io: out.io, stats: true, json: true })
        expect((o.self as (...a: number[]) => number)(1, 2, 3)).toBe(9)
        expect(o.self(1)).toBe(7)
        let caught: unknown
        try {
          o.boom(1)
        } catch (e) {
          caught = e
        }
        expect(caught).toBe(thrown)
        const p = new o.Point(1, 2)
        expect(p).toBeInstanceOf(Point)
        expect([p.x, p.y]).toEqual([1, 2])
        clear()
        await drain()
        const rows = (JSON.parse(out.lines[0]) as { rows: { function: string; calls: number; throws: number }[] }).rows
        const by = Object.fromEntries(rows.map((r) => [r.function, [r.calls, r.throws]]))
        expect(by).toEqual({ 'Object:self': [2, 0], 'Object:boom': [1, 1], 'Object:Point': [1, 0] })
      } finally {
        if (before === undefined) delete process.env.RECON_TRACE_CODEGEN
        else process.env.RECON_TRACE_CODEGEN = before
      }
    })
  }

  it("stats of Math.log2 and performance.now themselves: recon-trace's own calls of them are not counted, nor called back", async () => {
    const out = collector()
    const { performance } = await import('node:perf_hooks')
    calls(
      [
        [Math, 'log2', '_'],
        [performance, 'now', '_'],
      ],
      1000,
      { io: out.io, stats: true, json: true },
    )
    // Were recon-trace's clock reads (two per call) or bucket math the live functions, they would count too.
    for (let i = 0; i < 5; i++) Math.log2(1e-12)
    for (let i = 0; i < 3; i++) performance.now()
    clear()
    await drain()
    const rows = (JSON.parse(out.lines[0]) as { rows: { function: string; calls: number }[] }).rows
    expect(Object.fromEntries(rows.map((r) => [r.function, r.calls]))).toEqual({ 'Object:log2': 5, 'Performance:now': 3 })
  })

  it('a returned function restores exactly: the same object back, nothing left on the object', () => {
    const o = { f: (x: number) => x, g: () => 2 }
    const before = Object.getOwnPropertyDescriptors(o)
    calls([o, '_'], 1000, { stats: true, io: () => {} })
    expect(o.f).not.toBe(before.f.value)
    o.f(1)
    clear()
    expect(Object.getOwnPropertyDescriptors(o)).toEqual(before)
  })
})

describe('stats mode refuses up front', () => {
  const refused = (fn: () => unknown) => {
    try {
      fn()
    } catch (e) {
      expect(e).toBeInstanceOf(TraceError)
      return (e as Error).message
    }
    throw new Error('not refused')
  }

  it('by without stats, a name that is not one, and stats with a formatter', () => {
    expect(refused(() => calls(`${Q}:in(x, _)`, 1, { by: 'x' }))).toContain('option by: "x" groups the rows of stats mode: give stats: true too (--stats)')
    expect(refused(() => calls(`${Q}:in(x, _)`, 1, { stats: true, by: 'a.b' }))).toContain('option by: "a.b" is not a name')
    expect(refused(() => calls(`${Q}:in`, 1, { stats: true, formatter: () => '' }))).toContain('options stats and formatter')
  })

  it('a spec that does not bind the name, binds it to the rest, or at another position; every problem in one error', () => {
    const m = refused(() => calls([`${Q}:in(x, _)`, `${Q}:split(_, x)`, `${Q}:new`, `${Q}:fromList(...x)`], 1, { stats: true, by: 'x' }))
    expect(m).toContain(`${Q}:new: does not bind x; stats by x need a pattern such as 'module:function(x, _)'`)
    expect(m).toContain(`${Q}:fromList(...x): binds x to the rest of the arguments: bind one argument by position`)
    expect(m).toContain(`option by: the specs bind x at different positions (argument 1 in ${Q}:in(x, _); argument 2 in ${Q}:split(_, x))`)
  })

  it('a redacted name: its values are never shown', () => {
    expect(refused(() => calls(`${Q}:in(password, _)`, 1, { stats: true, by: 'password' }))).toContain('option by: "password" is a redacted name')
    expect(refused(() => calls(`${Q}:in(card, _)`, 1, { stats: true, by: 'card', redact: ['card'] }))).toContain('is a redacted name')
  })

  it('nothing is hooked when refused', () => {
    const f = queue.in
    refused(() => calls(`${Q}:new`, 1, { stats: true, by: 'x' }))
    expect(queue.in).toBe(f)
  })
})

describe('untimed lines', () => {
  it('the helpers strip a return line duration (so other tests compare values)', () => {
    expect(untimed(['12:00:00.000001 <1.0> m:f/1 --> 1 (3.12 µs)'])).toEqual(['<1.0> m:f/1 --> 1'])
  })
})

// The histogram of the stats mode: buckets, percentiles within a bucket of the true value,
// merging, the power-of-two view bpftrace draws, and the report and table built on it.
import { describe, expect, it } from 'vitest'
import { BUCKETS, Histogram, bucketOf, highOf, lowOf } from '../src/histogram.js'
import { LatestReports, mergeReports, reportJSON } from '../src/report.js'
import { MAX_SHOWN, reportLines } from '../src/table.js'
import type { StatsData } from '../src/stats.js'

/** A seeded generator, so that a failure reproduces. */
function rng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** The exact percentile of sorted values, by the histogram's rank rule (the ceil(q n)th value). */
function exact(sorted: readonly number[], q: number): number {
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]
}

describe('buckets', () => {
  it('every duration falls in the bucket whose bounds hold it, for 10^5 durations from 1 ns to 1 h', () => {
    const r = rng(1)
    const wrong: [number, number][] = []
    for (let i = 0; i < 100_000; i++) {
      const us = 10 ** (r() * 12 - 3) // 1 ns .. 11.6 days in µs
      const b = bucketOf(us)
      if (!(b > 0 && b < BUCKETS && lowOf(b) <= us && us < highOf(b))) wrong.push([us, b])
    }
    expect(wrong).toEqual([])
  })

  it('exact powers of two start their bucket; sub-nanosecond and negative durations go to bucket 0; past 2^40 µs to the last', () => {
    for (let e = -10; e < 40; e++) expect(lowOf(bucketOf(2 ** e))).toBe(2 ** e)
    expect(bucketOf(0)).toBe(0)
    expect(bucketOf(-5)).toBe(0)
    expect(bucketOf(Number.NaN)).toBe(0)
    expect(bucketOf(2 ** 41)).toBe(BUCKETS - 1)
    expect(highOf(BUCKETS - 1)).toBe(Infinity)
  })

  it('a bucket is at most 1/8 of a power of two wide', () => {
    for (let b = 1; b < BUCKETS - 1; b++) expect(highOf(b) / lowOf(b)).toBeLessThanOrEqual(1.125 + 1e-12)
  })
})

describe('percentiles', () => {
  for (const [name, draw] of [
    ['log-uniform, 1 µs to 1 s', (r: () => number) => 10 ** (r() * 6 - 3)],
    ['two modes, 0.05 ms and 30 ms', (r: () => number) => (r() < 0.9 ? 0.05 + r() * 0.01 : 30 + r() * 2)],
    ['all equal', () => 1.5],
  ] as const) {
    it(`p50, p90, p99 lie in the true value's bucket (${name})`, () => {
      const r = rng(7)
      const h = new Histogram()
      const values: number[] = []
      for (let i = 0; i < 20_000; i++) {
        const ms = draw(r)
        values.push(ms)
        h.add(ms)
      }
      values.sort((a, b) => a - b)
      for (const q of [0.5, 0.9, 0.99]) {
        const truth = exact(values, q)
        const got = h.quantile(q)
        expect(bucketOf(got * 1000), `p${q * 100}: ${got} ms for ${truth} ms`).toBe(bucketOf(truth * 1000))
      }
      expect(h.max).toBe(values.at(-1))
      expect(h.min).toBe(values[0])
      expect(h.count).toBe(20_000)
    })
  }

  it('an empty histogram has no percentile (NaN), and the JSON report says null', () => {
    expect(new Histogram().quantile(0.5)).toBeNaN()
    const d: StatsData = {
      type: 'stats',
      final: true,
      pid: 1,
      thread: 0,
      functions: [{ function: 'db:slow', all: { calls: 2, throws: 0, rejections: 0, hist: new Histogram().data() } }],
    }
    expect(JSON.parse(reportJSON(mergeReports([d])))).toEqual({
      type: 'stats',
      rows: [{ function: 'db:slow', calls: 2, errors: 0, throws: 0, rejections: 0, p50: null, p90: null, p99: null, max: null, total: 0 }],
    })
  })
})

describe('merging', () => {
  it('two histograms merged read as one histogram of all the durations', () => {
    const r = rng(3)
    const a = new Histogram()
    const b = new Histogram()
    const all = new Histogram()
    for (let i = 0; i < 5000; i++) {
      const x = 10 ** (r() * 4 - 2)
      ;(i % 3 === 0 ? a : b).add(x)
      all.add(x)
    }
    const m = Histogram.of(a.data())
    m.merge(b.data())
    const { sum, ...rest } = m.data()
    const { sum: allSum, ...allRest } = all.data()
    expect(rest).toEqual(allRest)
    expect(sum).toBeCloseTo(allSum, 6)
  })

  it('the reports of two threads merge per function and per value; the busiest (time spent) first', () => {
    const row = (calls: number, ms: number, throws = 0) => {
      const h = new Histogram()
      for (let i = 0; i < calls; i++) h.add(ms)
      return { calls, throws, rejections: 0, hist: h.data() }
    }
    const t0: StatsData = {
      type: 'stats',
      final: false,
      pid: 10,
      thread: 0,
      by: 'id',
      functions: [
        {
          function: 'db:find',
          all: row(12, 1),
          keys: [
            { key: '1', ...row(10, 1) },
            { key: 'slow', ...row(2, 1) },
          ],
        },
      ],
    }
    const t1: StatsData = {
      type: 'stats',
      final: true,
      pid: 10,
      thread: 1,
      by: 'id',
      functions: [{ function: 'db:find', all: row(3, 30, 1), keys: [{ key: 'slow', ...row(3, 30, 1) }] }],
    }
    const latest = new LatestReports()
    expect(latest.add(JSON.stringify(t0))).toBe(true)
    expect(latest.add(JSON.stringify(t1))).toBe(true)
    expect(latest.add('{"type":"line"}')).toBe(false)
    const report = latest.report()
    expect(report.calls).toBe(15)
    const rows = JSON.parse(reportJSON(report)).rows as { key: string; calls: number; errors: number }[]
    expect(rows.map((r) => [r.key, r.calls, r.errors])).toEqual([
      ['slow', 5, 1],
      ['1', 10, 0],
    ])
    // A newer report of a thread replaces its older one.
    latest.add(JSON.stringify({ ...t0, functions: [{ ...t0.functions[0], all: row(1, 1), keys: [{ key: '1', ...row(1, 1) }] }] }))
    expect(latest.report().calls).toBe(4)
  })
})

describe('the table', () => {
  it('draws one row per power of two of µs from the first counted to the last, as bpftrace does', () => {
    const h = new Histogram()
    for (let i = 0; i < 10; i++) h.add(0.0005) // 0.5 µs
    for (let i = 0; i < 20; i++) h.add(0.003) // 3 µs
    h.add(1.5) // 1.5 ms: [1K, 2K)
    expect(h.powersOfTwo().map((r) => [r.low, r.high, r.count])).toEqual([
      [0, 1, 10],
      [1, 2, 0],
      [2, 4, 20],
      ...[4, 8, 16, 32, 64, 128, 256, 512].map((x) => [x, x * 2, 0]),
      [1024, 2048, 1],
    ])
    const d: StatsData = {
      type: 'stats',
      final: true,
      pid: 1,
      thread: 0,
      functions: [{ function: 'x:f', all: { calls: 31, throws: 0, rejections: 0, hist: h.data() } }],
    }
    const lines = reportLines(mergeReports([d]))
    expect(lines[0]).toMatch(/^function\s+calls\s+errors\s+p50\s+p90\s+p99\s+max$/)
    expect(lines[1]).toMatch(/^x:f\s+31\s+0\s+/)
    expect(lines).toContain('x:f, 31 calls, µs:')
    expect(lines).toContain(`[0, 1)${' '.repeat(14)}      10 |${'@'.repeat(26).padEnd(52)}|`)
    expect(lines).toContain(`[2, 4)${' '.repeat(14)}      20 |${'@'.repeat(52)}|`)
    expect(lines).toContain(`[1K, 2K)${' '.repeat(12)}       1 |${'@'.repeat(2).padEnd(52)}|`)
  })

  it(`shows the ${MAX_SHOWN} busiest values of a function and the rest as one row of "others"`, () => {
    const keys = []
    for (let i = 0; i < MAX_SHOWN + 5; i++) {
      const h = new Histogram()
      h.add(i + 1)
      keys.push({ key: `k${i}`, calls: 1, throws: 0, rejections: 0, hist: h.data() })
    }
    const all = new Histogram()
    for (const k of keys) all.merge(k.hist)
    const d: StatsData = {
      type: 'stats',
      final: true,
      pid: 1,
      thread: 0,
      by: 'id',
      functions: [{ function: 'x:f', all: { calls: keys.length, throws: 0, rejections: 0, hist: all.data() }, keys }],
    }
    const report = mergeReports([d])
    const lines = reportLines(report)
    const rows = lines.slice(1, lines.indexOf(''))
    expect(rows).toHaveLength(MAX_SHOWN + 1)
    expect(rows[0]).toMatch(/^x:f\s+k24\s+1\s/)
    expect(rows.at(-1)).toMatch(/^x:f\s+\(others\)\s+5\s+0\s+-\s+-\s+-\s+5\.00 ms$/)
    // The JSON report lists every value.
    expect((JSON.parse(reportJSON(report)).rows as unknown[]).length).toBe(MAX_SHOWN + 5)
  })
})

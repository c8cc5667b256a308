/**
 * Histogram: the durations of calls, counted in fixed buckets, for the stats mode (stats.ts).
 *
 * Buckets are log-linear: every power of two of microseconds, from 2^-10 µs (about 1 ns) to
 * 2^40 µs (about 12.7 days), is cut into 8 equal parts. A duration is counted, never kept, so
 * a histogram is 401 counters whatever the number of calls, and two histograms (two threads,
 * two processes) merge by adding counters. A percentile read from it lies in the same bucket as
 * the true value: within 1/8 of a power of two, that is within 12.5 % (the midpoint reported is
 * within 6.25 %); the exact minimum and maximum are kept beside the counters and bound it.
 *
 * What the terminal draws (`powersOfTwo`) is the coarser view bpftrace's `hist()` prints: one
 * row per power of two of microseconds, everything under 1 µs in `[0, 1)`.
 */

/**
 * Math's functions as they were at load: a counted call's bucket is found outside recon-trace's
 * re-entry guard, and a trace of `Math.log2` itself must not be called back from it.
 */
const { clz32, floor, log2 } = Math

/** Parts of each power of two. */
const SUB = 8
/** The first power of two of microseconds with its own buckets (2^-10 µs: 0.98 ns). */
const MIN_EXP = -10
/** The last: durations from 2^40 µs on share the top bucket. */
const MAX_EXP = 40
/** Bucket 0 holds what is below 2^MIN_EXP µs; the top bucket what is above 2^MAX_EXP µs. */
export const BUCKETS = (MAX_EXP - MIN_EXP) * SUB + 1

/** 2^e for every e of the range (a table: `2 ** e` with a variable e is a slow call here). */
const POW2 = Float64Array.from({ length: MAX_EXP - MIN_EXP + 2 }, (_, i) => 2 ** (i + MIN_EXP))
const pow2 = (e: number) => POW2[e - MIN_EXP]
/** Units of 2^MIN_EXP µs per µs. */
const UNITS = 2 ** -MIN_EXP

/**
 * The bucket of a duration given in microseconds. Below 2^21 µs (2 s) in integer arithmetic on
 * units of 2^-10 µs (from 8 units on): the power of two from the leading zeros, the part from the
 * next 3 bits
 * (bench/stats.mjs: `Math.log2` and `2 ** e` there cost more than the rest of a counted call).
 */
export function bucketOf(us: number): number {
  const v = us * UNITS
  if (v >= 8 && v < 2147483648) {
    const x = v >>> 0
    const e = 31 - clz32(x)
    return 1 + e * SUB + ((x >>> (e - 3)) & 7)
  }
  if (!(v >= 1)) return 0
  let e = floor(log2(us))
  if (e >= MAX_EXP) return BUCKETS - 1
  // log2 may round across a power of two: put the ratio back in [1, 2).
  let ratio = us / pow2(e)
  if (ratio < 1) ratio = us / pow2(--e)
  else if (ratio >= 2) ratio = us / pow2(++e)
  let sub = floor((ratio - 1) * SUB)
  if (sub >= SUB) sub = SUB - 1
  return 1 + (e - MIN_EXP) * SUB + sub
}

/** The lowest duration (µs) of bucket `i`; bucket 0 starts at 0. */
export function lowOf(i: number): number {
  if (i <= 0) return 0
  const e = MIN_EXP + floor((i - 1) / SUB)
  return pow2(e) * (1 + ((i - 1) % SUB) / SUB)
}

/** Where bucket `i` ends (µs, excluded). */
export function highOf(i: number): number {
  if (i <= 0) return pow2(MIN_EXP)
  if (i >= BUCKETS - 1) return Infinity
  return lowOf(i + 1)
}

/** A histogram as it travels (protocol.ts) and merges: its counters, sparse, and exact bounds, in ms. */
export interface HistogramData {
  /** `[bucket, count]` for every bucket that counted something, in bucket order. */
  readonly buckets: readonly (readonly [number, number])[]
  readonly count: number
  /** Sum of the durations, ms. */
  readonly sum: number
  readonly min: number
  readonly max: number
}

/** One row of the terminal's view: `[low, high)` in µs (high Infinity for the last). */
export interface PowerRow {
  readonly low: number
  readonly high: number
  readonly count: number
}

export class Histogram {
  private readonly counts = new Uint32Array(BUCKETS)
  count = 0
  /** Sum of the durations, ms. */
  sum = 0
  min = Infinity
  max = 0

  /** Count one duration, in ms. Hot path: no allocation. */
  add(ms: number): void {
    if (!(ms >= 0)) ms = 0
    this.counts[bucketOf(ms * 1000)]++
    this.count++
    this.sum += ms
    if (ms < this.min) this.min = ms
    if (ms > this.max) this.max = ms
  }

  /** Add another histogram's counts. */
  merge(d: HistogramData): void {
    for (const [i, c] of d.buckets) if (i >= 0 && i < BUCKETS && c > 0) this.counts[i] += c
    this.count += d.count
    this.sum += d.sum
    if (d.count > 0 && d.min < this.min) this.min = d.min
    if (d.max > this.max) this.max = d.max
  }

  /**
   * The duration (ms) under which a share `q` (0.5, 0.9, 0.99) of the calls took: the midpoint
   * of the bucket that holds the call of that rank, kept between the exact minimum and maximum.
   * NaN when nothing was counted.
   */
  quantile(q: number): number {
    if (this.count === 0) return NaN
    const rank = Math.max(1, Math.ceil(q * this.count))
    let seen = 0
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i]
      if (seen >= rank) {
        const high = highOf(i)
        const mid = high === Infinity ? this.max : (lowOf(i) + high) / 2000
        return Math.min(this.max, Math.max(this.min, mid))
      }
    }
    return this.max
  }

  /** bpftrace's `hist()` rows: one per power of two of µs from the first counted to the last; all under 1 µs in `[0, 1)`. */
  powersOfTwo(): PowerRow[] {
    const rows = new Map<number, number>()
    for (let i = 0; i < BUCKETS; i++) {
      const c = this.counts[i]
      if (c === 0) continue
      const e = i === 0 ? -1 : Math.max(-1, MIN_EXP + Math.floor((i - 1) / SUB))
      rows.set(e, (rows.get(e) ?? 0) + c)
    }
    if (rows.size === 0) return []
    const es = [...rows.keys()]
    const first = Math.min(...es)
    const last = Math.max(...es)
    const out: PowerRow[] = []
    for (let e = first; e <= last; e++) {
      const low = e < 0 ? 0 : pow2(e)
      const high = e < 0 ? 1 : e >= MAX_EXP ? Infinity : pow2(e + 1)
      out.push({ low, high, count: rows.get(e) ?? 0 })
    }
    return out
  }

  data(): HistogramData {
    const buckets: [number, number][] = []
    for (let i = 0; i < BUCKETS; i++) if (this.counts[i] > 0) buckets.push([i, this.counts[i]])
    return { buckets, count: this.count, sum: this.sum, min: this.count > 0 ? this.min : 0, max: this.max }
  }

  static of(d: HistogramData): Histogram {
    const h = new Histogram()
    h.merge(d)
    return h
  }
}

/**
 * Report: what a trace in stats mode tells at its end (and once a second on a terminal), from
 * the counters of every thread and process it ran in (stats.ts), merged.
 *
 * Rows: per function, or with `by` per function and argument value; each with its calls, its
 * errors (throws and rejections), and the 50th, 90th and 99th percentiles and the maximum of
 * the durations, in milliseconds. Functions come busiest first, by the time spent in them
 * (the sum of their calls' durations), and so do the values of a function: the one costing the
 * program most is on top. The row of the values past the cap (`others`) comes last.
 *
 * The in-process trace and the CLI both render through here (text: table.ts), so a report
 * reads the same wherever it is printed.
 */
import { Histogram } from './histogram.js'
import type { RowData, StatsData } from './stats.js'

/** One row of the report. Durations in ms; NaN where no call ended yet. */
export interface ReportRow {
  function: string
  key?: string
  others?: boolean
  calls: number
  errors: number
  throws: number
  rejections: number
  p50: number
  p90: number
  p99: number
  max: number
  /** Time spent in the calls that ended, ms: what orders the rows. */
  total: number
}

/** One function: its own row (all its calls), its histogram, and with `by` its argument values' rows. */
export interface ReportFunction {
  row: ReportRow
  hist: Histogram
  keys: ReportRow[]
}

export interface Report {
  by: string | undefined
  functions: ReportFunction[]
  /** Calls counted, all functions together. */
  calls: number
}

interface Acc {
  calls: number
  throws: number
  rejections: number
  hist: Histogram
  others: boolean
}

function acc(others = false): Acc {
  return { calls: 0, throws: 0, rejections: 0, hist: new Histogram(), others }
}

function add(a: Acc, d: RowData): void {
  a.calls += d.calls
  a.throws += d.throws
  a.rejections += d.rejections
  a.hist.merge(d.hist)
}

function rowOf(fn: string, a: Acc, key: string | undefined): ReportRow {
  const h = a.hist
  const r: ReportRow = {
    function: fn,
    calls: a.calls,
    errors: a.throws + a.rejections,
    throws: a.throws,
    rejections: a.rejections,
    p50: h.quantile(0.5),
    p90: h.quantile(0.9),
    p99: h.quantile(0.99),
    max: h.count > 0 ? h.max : NaN,
    total: h.sum,
  }
  if (key !== undefined) r.key = key
  if (a.others) r.others = true
  return r
}

/** Busiest first: time spent, then calls, then the name; "others" last. */
function busiest(a: ReportRow, b: ReportRow): number {
  if (a.others !== b.others) return a.others === true ? 1 : -1
  if (b.total !== a.total) return b.total - a.total
  if (b.calls !== a.calls) return b.calls - a.calls
  const x = a.key ?? a.function
  const y = b.key ?? b.function
  return x < y ? -1 : x > y ? 1 : 0
}

/**
 * Merge the latest counters of each thread and process into one report. Rows of the same
 * function (and value) add up; the "others" rows add up with each other.
 */
export function mergeReports(list: readonly StatsData[]): Report {
  const fns = new Map<string, { all: Acc; keys: Map<string, Acc>; others: Acc | undefined }>()
  let by: string | undefined
  for (const d of list) {
    by ??= d.by
    for (const f of d.functions) {
      let m = fns.get(f.function)
      if (m === undefined) {
        m = { all: acc(), keys: new Map(), others: undefined }
        fns.set(f.function, m)
      }
      add(m.all, f.all)
      for (const k of f.keys ?? []) {
        if (k.others === true) add((m.others ??= acc(true)), k)
        else {
          let a = m.keys.get(k.key ?? '')
          if (a === undefined) {
            a = acc()
            m.keys.set(k.key ?? '', a)
          }
          add(a, k)
        }
      }
    }
  }
  const functions: ReportFunction[] = []
  let calls = 0
  for (const [name, m] of fns) {
    calls += m.all.calls
    const keys = [...m.keys].map(([k, a]) => rowOf(name, a, k))
    if (m.others !== undefined) keys.push(rowOf(name, m.others, 'others'))
    keys.sort(busiest)
    functions.push({ row: rowOf(name, m.all, undefined), hist: m.all.hist, keys })
  }
  functions.sort((a, b) => busiest(a.row, b.row))
  return { by, functions, calls }
}

/** A duration in the JSON report: ms to the nanosecond; null where no call ended. */
function ms(x: number): number | null {
  return Number.isFinite(x) ? Math.round(x * 1e6) / 1e6 : null
}

/** The rows of a report, as the JSON report lists them: per function, or with `by` per value. */
export function reportRows(r: Report): ReportRow[] {
  return r.by === undefined ? r.functions.map((f) => f.row) : r.functions.flatMap((f) => f.keys)
}

/**
 * The report as one JSON line: `{"type":"stats","rows":[{"function":"db:loadUser","key":"3",
 * "calls":10,"errors":0,"p50":31.2,"p90":..,"p99":..,"max":..}]}`: durations in ms, `key`
 * only with `by` (and `"others":true` on the row of the values past the cap), plus `throws`,
 * `rejections` and `total` (ms spent).
 */
export function reportJSON(r: Report): string {
  const rows = reportRows(r).map((x) => {
    const o: Record<string, unknown> = { function: x.function }
    if (x.key !== undefined) o.key = x.key
    if (x.others === true) o.others = true
    o.calls = x.calls
    o.errors = x.errors
    o.throws = x.throws
    o.rejections = x.rejections
    o.p50 = ms(x.p50)
    o.p90 = ms(x.p90)
    o.p99 = ms(x.p99)
    o.max = ms(x.max)
    o.total = ms(x.total)
    return o
  })
  const out: Record<string, unknown> = { type: 'stats' }
  if (r.by !== undefined) out.by = r.by
  out.rows = rows
  return JSON.stringify(out)
}

/**
 * The latest counters of every thread and process of one trace, as the CLI receives them (each
 * report holds everything its thread counted so far, so a newer one replaces the older).
 */
export class LatestReports {
  private readonly latest = new Map<string, StatsData>()

  /** Take one report (a `stats` line's JSON); false if it is not one. */
  add(text: string): boolean {
    let d: StatsData
    try {
      d = JSON.parse(text) as StatsData
    } catch {
      return false
    }
    if (d === null || typeof d !== 'object' || d.type !== 'stats' || !Array.isArray(d.functions)) return false
    this.latest.set(`${d.pid}.${d.thread}`, d)
    return true
  }

  get size(): number {
    return this.latest.size
  }

  report(): Report {
    return mergeReports([...this.latest.values()])
  }
}

/**
 * Table: a stats report (report.ts) as text for a terminal or a log.
 *
 * ```
 * function       key       calls  errors      p50      p90      p99      max
 * db:findUser    7            20       0  31.2 ms  31.9 ms  32.4 ms  32.4 ms
 * db:findUser    3           180       0  52.3 µs  80.1 µs   121 µs   130 µs
 *
 * db:findUser, 200 calls, µs:
 * [32, 64)              120 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
 * [64, 128)              58 |@@@@@@@@@@@@@@@@@@@@@@@@@                           |
 * [128, 256)              2 |                                                    |
 * ...
 * [16K, 32K)             20 |@@@@@@@@                                            |
 * ```
 *
 * One row per function, or with `by` per function and argument value (the `MAX_SHOWN` busiest
 * values; the rest, and the values past the cap, in one row of "others"). Then, per function,
 * a histogram of its durations in powers of two of microseconds, drawn as bpftrace draws
 * `hist()` (K, M, G: powers of 1024). Durations in the table read `412 ns`, `52.3 µs`,
 * `31.2 ms`, `1.20 s`; `-` where no call ended yet.
 */
import { formatDuration } from './clock.js'
import type { Report, ReportRow } from './report.js'

/** Argument values shown per function in the text; the JSON report lists every one. */
export const MAX_SHOWN = 20
/** Characters of the bar of a histogram's row, as bpftrace's. */
const BAR = 52

function duration(ms: number): string {
  return Number.isFinite(ms) ? formatDuration(ms) : '-'
}

/** A power of two of µs as bpftrace labels it: 512, 1K, 2K, 1M. */
function power(x: number): string {
  if (x === Infinity) return '...'
  for (const [unit, size] of [
    ['T', 2 ** 40],
    ['G', 2 ** 30],
    ['M', 2 ** 20],
    ['K', 2 ** 10],
  ] as const)
    if (x >= size && x % size === 0) return `${x / size}${unit}`
  return String(x)
}

/** The rows the text shows for one function: its busiest values, the rest together as "others". */
function shownKeys(keys: readonly ReportRow[]): { rows: ReportRow[]; hidden: ReportRow[] } {
  const own = keys.filter((k) => k.others !== true)
  const others = keys.filter((k) => k.others === true)
  if (own.length <= MAX_SHOWN) return { rows: [...own], hidden: others }
  return { rows: own.slice(0, MAX_SHOWN), hidden: [...own.slice(MAX_SHOWN), ...others] }
}

/** Several rows as one "others" row: counts added, percentiles unknown, the largest maximum. */
function together(fn: string, rows: readonly ReportRow[]): ReportRow {
  const r: ReportRow = {
    function: fn,
    key: 'others',
    others: true,
    calls: 0,
    errors: 0,
    throws: 0,
    rejections: 0,
    p50: NaN,
    p90: NaN,
    p99: NaN,
    max: NaN,
    total: 0,
  }
  for (const x of rows) {
    r.calls += x.calls
    r.errors += x.errors
    r.throws += x.throws
    r.rejections += x.rejections
    r.total += x.total
    if (Number.isFinite(x.max) && !(x.max <= r.max)) r.max = x.max
  }
  // One row past the cap keeps its percentiles; several cannot be combined from rows alone.
  if (rows.length === 1) return { ...rows[0], key: 'others', others: true }
  return r
}

/** The report's table and histograms, as lines. */
export function reportLines(report: Report, title?: string): string[] {
  const by = report.by !== undefined
  const rows: ReportRow[] = []
  for (const f of report.functions) {
    if (!by) {
      rows.push(f.row)
      continue
    }
    const { rows: shown, hidden } = shownKeys(f.keys)
    rows.push(...shown)
    if (hidden.length > 0) rows.push(together(f.row.function, hidden))
  }
  const lines: string[] = []
  if (title !== undefined) lines.push(title)
  if (rows.length === 0) {
    lines.push('no call matched')
    return lines
  }
  const head = ['function', ...(by ? [report.by!] : []), 'calls', 'errors', 'p50', 'p90', 'p99', 'max']
  const cells = rows.map((r) => [
    r.function,
    ...(by ? [r.others === true ? '(others)' : (r.key ?? '')] : []),
    String(r.calls),
    String(r.errors),
    duration(r.p50),
    duration(r.p90),
    duration(r.p99),
    duration(r.max),
  ])
  const left = by ? 2 : 1
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)))
  const line = (c: readonly string[]) =>
    c
      .map((x, i) => (i < left ? x.padEnd(widths[i]) : x.padStart(widths[i])))
      .join('  ')
      .trimEnd()
  lines.push(line(head), ...cells.map(line))
  for (const f of report.functions) {
    const hist = f.hist.powersOfTwo()
    if (hist.length === 0) continue
    lines.push('', `${f.row.function}, ${f.row.calls} call${f.row.calls === 1 ? '' : 's'}, µs:`)
    const most = Math.max(...hist.map((h) => h.count))
    for (const h of hist) {
      const label = h.low === 0 ? '[0, 1)' : `[${power(h.low)}, ${power(h.high)})`
      const bar = '@'.repeat(Math.floor((h.count * BAR) / most))
      lines.push(`${label.padEnd(20)}${String(h.count).padStart(8)} |${bar.padEnd(BAR)}|`)
    }
  }
  return lines
}

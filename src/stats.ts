/**
 * Stats: how long and how often, per function and per argument value, in the traced thread.
 *
 * In stats mode (`calls(specs, limit, { stats: true })`, `--stats` on the command line) a
 * matching call prints nothing. The session (session.ts) asks `Stats.of(label)` for its
 * function's counters once per call, times the call on the monotonic clock, and counts its end
 * here: returned (or fulfilled), threw, or rejected, with its duration in a fixed-size histogram
 * (histogram.ts). With `by` (`{ by: 'id' }`, `--by id`) each value of the argument the specs'
 * pattern binds to that name gets its own row: at most `MAX_KEYS` per function, the calls of
 * any further value counted in one row of "others", and at most `MAX_ROWS` such rows in the
 * trace. Memory is bounded: `MAX_ROWS` rows plus two per hooked function, of 401 counters each.
 *
 * `data()` is what the trace reports (report.ts renders and merges it): once a second while the
 * trace runs, where someone watches (a terminal, the CLI), and once at its end.
 */
import { Histogram, type HistogramData } from './histogram.js'
import { renderValue } from './format.js'
import { snapshot } from './snapshot.js'

/** Distinct argument values counted apart, per function; the rest are "others". */
export const MAX_KEYS = 1000
/**
 * Rows of argument values in one trace, all functions together (each row is 401 counters, 1.6
 * KB): a wildcard spec over many functions stays within about 16 MB; past it, a function's new
 * values are "others" too.
 */
export const MAX_ROWS = 10_000
/** Characters kept of an argument value used as a key. */
export const KEY_CHARS = 120

/** The counters of one function, or of one argument value of it. */
export class Row {
  constructor(
    /** An argument value's row: its function's own row, which counts every call too. */
    readonly parent?: Row,
  ) {}
  /** Calls that matched (the limit counts these). */
  calls = 0
  /** Calls that threw. */
  throws = 0
  /** Calls whose returned promise rejected. */
  rejections = 0
  /** Durations of the calls that ended (returned, threw, settled). */
  readonly hist = new Histogram()

  data(key?: string, others?: boolean): RowData {
    const d: RowData = { calls: this.calls, throws: this.throws, rejections: this.rejections, hist: this.hist.data() }
    if (key !== undefined) d.key = key
    if (others === true) d.others = true
    return d
  }
}

/** One function's rows: all its calls, and with `by` each argument value's. */
export class FunctionStats {
  readonly all = new Row()
  /** By the value itself where it is a primitive (no string is made per call), else by its text. */
  readonly keys = new Map<unknown, Row>()
  others: Row | undefined
  constructor(
    readonly label: string,
    /** The trace's count of value rows, shared by its functions. */
    private readonly budget: { rows: number },
  ) {}

  /** The row of an argument value (`rowKey`): its own while there is room, else "others". */
  row(key: unknown): Row {
    let r = this.keys.get(key)
    if (r !== undefined) return r
    if (this.keys.size < MAX_KEYS && this.budget.rows < MAX_ROWS) {
      this.budget.rows++
      r = new Row(this.all)
      this.keys.set(key, r)
      return r
    }
    return (this.others ??= new Row(this.all))
  }
}

/** A row as reported: counters and histogram; `key` with `by`, `others` on the row of the values past the cap. */
export interface RowData {
  key?: string
  others?: true
  calls: number
  throws: number
  rejections: number
  hist: HistogramData
}

/** One function as reported. */
export interface FunctionData {
  function: string
  all: RowData
  /** With `by`: a row per argument value, then "others" if any. */
  keys?: RowData[]
}

/** What one thread's trace reports: on the wire as one JSON line of kind `stats` (protocol.ts). */
export interface StatsData {
  type: 'stats'
  /** The trace has ended: this is its last report. */
  final: boolean
  pid: number
  thread: number
  /** The name the rows are keyed by, when `by` was given. */
  by?: string
  functions: FunctionData[]
}

const slice = String.prototype.slice
const NO_REDACTION = () => false

/**
 * What a row of an argument value is found by, on the call: a number, bigint, boolean, null,
 * undefined or symbol itself (Map keys compare them by value, 0 and -0 alike); a string itself,
 * or its first `KEY_CHARS` characters (a long string is not kept whole); anything else its text
 * (`keyOf`).
 */
export function rowKey(v: unknown, redact: (key: string) => boolean): unknown {
  if (typeof v === 'string') return v.length > KEY_CHARS ? keyOf(v, redact) : v
  if (typeof v === 'object' ? v === null : typeof v !== 'function') return v
  return keyOf(v, redact)
}

/**
 * An argument value as a row's key, without running code of the program: a string as itself,
 * a number, bigint, boolean, null, undefined or symbol as it prints, anything else through a
 * small snapshot (snapshot.ts); at most `KEY_CHARS` characters.
 */
export function keyOf(v: unknown, redact: (key: string) => boolean): string {
  let k: string
  switch (typeof v) {
    case 'string':
      k = v
      break
    case 'number':
      k = Object.is(v, -0) ? '0' : `${v}`
      break
    case 'bigint':
      k = `${v}n`
      break
    case 'boolean':
      k = v ? 'true' : 'false'
      break
    case 'undefined':
      k = 'undefined'
      break
    case 'symbol':
      k = String(v)
      break
    default:
      k = v === null ? 'null' : renderValue(snapshot(v, { depth: 1, string: KEY_CHARS, collection: 4, nodes: 16 }, redact))
  }
  return k.length > KEY_CHARS ? `${slice.call(k, 0, KEY_CHARS - 3)}...` : k
}

/** A trace's counters, per function label (`db:findUser`). */
export class Stats {
  private readonly fns = new Map<string, FunctionStats>()
  /** Counters changed since the last report. */
  changed = false
  /** Value rows made, all functions together (at most `MAX_ROWS`). */
  private readonly budget = { rows: 0 }

  constructor(
    /** The name rows are keyed by, or undefined. */
    readonly by: string | undefined,
  ) {}

  /** The counters of a function, made at its first call. */
  of(label: string): FunctionStats {
    let f = this.fns.get(label)
    if (f === undefined) {
      f = new FunctionStats(label, this.budget)
      this.fns.set(label, f)
    }
    return f
  }

  data(final: boolean, pid: number, thread: number): StatsData {
    this.changed = false
    const functions: FunctionData[] = []
    for (const f of this.fns.values()) {
      const fd: FunctionData = { function: f.label, all: f.all.data() }
      if (this.by !== undefined) {
        fd.keys = []
        // A key that is not a string is a primitive (rowKey): its text runs no redaction.
        for (const [k, r] of f.keys) fd.keys.push(r.data(typeof k === 'string' ? k : keyOf(k, NO_REDACTION)))
        if (f.others !== undefined) fd.keys.push(f.others.data('others', true))
      }
      functions.push(fd)
    }
    const d: StatsData = { type: 'stats', final, pid, thread, functions }
    if (this.by !== undefined) d.by = this.by
    return d
  }
}

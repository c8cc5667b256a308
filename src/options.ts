/**
 * Options of `calls`: checked once, up front, with every default stated here.
 */
import type { OutputOptions } from './output.js'
import type { Writable } from 'node:stream'
import { show } from './error.js'
import { checkPid, type PidSelector, type PidSpec } from './where.js'
import { DEFAULT_SNAPSHOT_LIMITS, SNAPSHOT_HARD_CAPS, type SnapshotLimits } from './snapshot.js'
import { DEFAULT_FORMAT_OPTIONS, LINE_HARD_CAP, type TraceEvent } from './format.js'
import { DEFAULT_FRAMES, MAX_FRAMES } from './stack.js'

/** Bounds on what a message may hold. Every field has a default and a hard cap. */
export interface FormatLimits {
  /** Levels of nesting rendered below each value. Default 4, at most 16. */
  depth?: number
  /** Characters kept of each string. Default 256, at most 65536. */
  string?: number
  /** Items kept of each array, object, Map, Set or buffer. Default 32, at most 10000. */
  collection?: number
  /** Values captured per message, all arguments together. Default 512, at most 100000. */
  nodes?: number
  /** Characters per printed line. Default 4096, at most 1000000. */
  line?: number
  /** Frames kept by the `stack` action. Default 10, at most 100. */
  frames?: number
}

export interface TraceOptions {
  /**
   * Which threads and async contexts: `'all'`, `'new'`, `'existing'`, a label `'<4242.3>'`,
   * a threadId, a worker name, `{ context: asyncLocalStorage, match?: (store) => boolean }`,
   * or a list of these (their union). Default `'all'`.
   */
  pid?: PidSpec
  /**
   * `'global'`: calls that go through a module's export or an object's property (runtime
   * wrappers; for ES modules, the probes of their exported functions). `'local'`: every call of
   * the function, internal and recursive ones too, and functions that are never exported
   * (the preload's probes when the program started with `--import recon-trace/register`;
   * otherwise binding swaps and entry breakpoints, put into the running program).
   * Default `'global'`.
   */
  scope?: 'global' | 'local'
  /** `'args'` prints the arguments of each call, `'arity'` only their number (`queue:in/2`). Default `'args'`. */
  args?: 'args' | 'arity'
  /**
   * `'formatter'`: lines are stamped when written (cheap). `'trace'`: stamped on the call
   * itself, to the microsecond (one clock read per message). Default `'formatter'`.
   */
  timestamp?: 'formatter' | 'trace'
  /** Stop after this many milliseconds, whatever the limit. Default: no time limit. At most 7 days. */
  time?: number
  /** Where lines go: a writable stream, or a function called with each line. Default `process.stderr`. */
  io?: Writable | NodeJS.WritableStream | ((line: string) => void)
  /** Turn an event into the text to print; `''` prints nothing (the message still counts). Default: recon-trace's line format. */
  formatter?: (event: TraceEvent) => string
  /** Print JSON Lines (one object per event) instead of text. Default false. */
  json?: boolean
  /**
   * The overhead budget, in percent of one core: a trace served by breakpoints (local scope in a
   * process started without the preload) ends with its own line when its breakpoint hits and
   * pauses cost the program more than this in any second. Default 5.
   */
  budget?: number
  /** Bounds on captured values and printed lines. Defaults as listed in `FormatLimits`. */
  format?: FormatLimits
  /**
   * More key names whose values print as `[REDACTED]`, added to the built-in list (password,
   * secret, token, authorization, cookie, api key...). Default none.
   */
  redact?: readonly string[]
  /** Color the output with ANSI codes. Default: true when `io` is a TTY stream. */
  color?: boolean
  /** Messages that may wait to be written; beyond it messages are dropped and counted. Default 10000, at most 1000000. */
  queue?: number
  /**
   * Say, in a notice at the start, which way of hooking serves which functions, and why
   * (runtime wrappers, the preload's probes, binding swaps, entry breakpoints, live edit).
   * Default false; the CLI always says it.
   */
  explain?: boolean
  /**
   * Stats mode: print no line per call; count calls, throws and rejections and measure
   * durations per function, and print a table of them (percentiles, and a histogram per
   * function) when the trace ends; on a terminal it refreshes once a second. The limit counts
   * calls. Default false. docs/stats.md.
   */
  stats?: boolean
  /**
   * With `stats`: a row per value of the argument that every spec's pattern binds to this name
   * (`'db:findUser(id)'` and `by: 'id'`), at most 1000 values per function, the rest counted as
   * "others". Default: a row per function.
   */
  by?: string
}

/** Options after checking, with defaults filled in. */
export interface Resolved {
  pid: readonly PidSelector[]
  scope: 'global' | 'local'
  args: 'args' | 'arity'
  timestamp: 'formatter' | 'trace'
  time: number | undefined
  /** Where lines go; the agent replaces it with its sink (session.ts, startTrace). */
  io: OutputOptions['io']
  formatter: ((event: TraceEvent) => string) | undefined
  json: boolean
  snapshot: SnapshotLimits
  line: number
  frames: number
  redact: readonly string[]
  color: boolean
  queue: number
  explain: boolean
  /** The overhead budget: the share of one core a trace's breakpoints and pauses may cost (0.05: 5 %). */
  budget: number
  stats: boolean
  by: string | undefined
}

const KNOWN = ['pid', 'scope', 'args', 'timestamp', 'time', 'io', 'formatter', 'json', 'format', 'redact', 'color', 'queue', 'explain', 'budget', 'stats', 'by']
/** The options a client may send an agent (protocol.ts): data only, no `io` or `formatter` function. */
export const WIRE_OPTIONS: readonly string[] = KNOWN.filter((k) => k !== 'io' && k !== 'formatter')
const MAX_TIME = 7 * 24 * 3600 * 1000
/** The overhead budget by default: 5 % of one core (installers/binding.ts). */
const DEFAULT_BUDGET = 0.05
const MAX_QUEUE = 1_000_000
const FORMAT_CAPS = { ...SNAPSHOT_HARD_CAPS, line: LINE_HARD_CAP, frames: MAX_FRAMES }

function oneOf<T extends string>(name: string, v: unknown, allowed: readonly T[], problems: string[]): T | undefined {
  if (v === undefined) return undefined
  if ((allowed as readonly unknown[]).includes(v)) return v as T
  problems.push(`option ${name}: ${show(v)} is not one of ${allowed.map((a) => `'${a}'`).join(', ')}`)
  return undefined
}

/** A boolean option, false when not given. */
function flag(name: string, v: unknown, problems: string[]): boolean {
  if (v === undefined || v === false) return false
  if (v === true) return true
  problems.push(`option ${name}: ${show(v)} is not true or false`)
  return false
}

function isStream(v: unknown): v is NodeJS.WritableStream {
  return typeof v === 'object' && v !== null && typeof (v as { write?: unknown }).write === 'function'
}

/** Check every option; push one problem per fault. */
export function checkOptions(options: unknown, problems: string[]): Resolved | undefined {
  const before = problems.length
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    problems.push(`the options must be an object such as { args: 'arity', time: 30000 }, not ${show(options)}`)
    return undefined
  }
  const o = (options ?? {}) as Record<string, unknown>
  for (const k of Object.keys(o)) {
    if (!KNOWN.includes(k)) problems.push(`unknown option ${show(k)}: the options are ${KNOWN.join(', ')}`)
  }
  const pid = checkPid(o.pid ?? 'all', problems)
  const scope = oneOf('scope', o.scope, ['global', 'local'] as const, problems) ?? 'global'
  const args = oneOf('args', o.args, ['args', 'arity'] as const, problems) ?? 'args'
  const timestamp = oneOf('timestamp', o.timestamp, ['formatter', 'trace'] as const, problems) ?? 'formatter'
  let time: number | undefined
  if (o.time !== undefined) {
    if (typeof o.time === 'number' && Number.isInteger(o.time) && o.time > 0 && o.time <= MAX_TIME) time = o.time
    else problems.push(`option time: ${show(o.time)} is not valid: give milliseconds as an integer from 1 to ${MAX_TIME} (e.g. 30000 for 30 s)`)
  }
  let io: Resolved['io'] = { stream: process.stderr }
  if (o.io !== undefined) {
    if (typeof o.io === 'function') io = { fn: o.io as (line: string) => void }
    else if (isStream(o.io)) io = { stream: o.io }
    else problems.push(`option io: ${show(o.io)} is neither a writable stream nor a function (line) => void`)
  }
  let formatter: Resolved['formatter']
  if (o.formatter !== undefined) {
    if (typeof o.formatter === 'function') formatter = o.formatter as Resolved['formatter']
    else problems.push(`option formatter: ${show(o.formatter)} is not a function (event) => string`)
  }
  const json = flag('json', o.json, problems)
  if (json && formatter) problems.push(`options json and formatter both decide how events print: give one of them`)
  const limits = { ...DEFAULT_SNAPSHOT_LIMITS, line: DEFAULT_FORMAT_OPTIONS.line, frames: DEFAULT_FRAMES }
  if (o.format !== undefined) {
    if (typeof o.format !== 'object' || o.format === null) problems.push(`option format: ${show(o.format)} is not an object such as { depth: 3, string: 120 }`)
    else {
      for (const [k, v] of Object.entries(o.format)) {
        if (!(k in FORMAT_CAPS)) {
          problems.push(`option format: unknown limit ${show(k)}: the limits are ${Object.keys(FORMAT_CAPS).join(', ')}`)
          continue
        }
        const cap = FORMAT_CAPS[k as keyof typeof FORMAT_CAPS]
        if (typeof v === 'number' && Number.isInteger(v) && v >= (k === 'depth' ? 0 : 1) && v <= cap) limits[k as keyof typeof limits] = v
        else problems.push(`option format.${k}: ${show(v)} is not valid: give an integer from ${k === 'depth' ? 0 : 1} to ${cap}`)
      }
    }
  }
  let redact: readonly string[] = []
  if (o.redact !== undefined) {
    if (Array.isArray(o.redact) && o.redact.every((r) => typeof r === 'string' && r.length > 0)) redact = [...o.redact]
    else problems.push(`option redact: ${show(o.redact)} is not a list of key names such as ['ssn', 'card']`)
  }
  let color = 'stream' in io && (io.stream as { isTTY?: boolean }).isTTY === true
  if (o.color !== undefined) {
    if (typeof o.color === 'boolean') color = o.color
    else problems.push(`option color: ${show(o.color)} is not true or false`)
  }
  let queue = 10_000
  if (o.queue !== undefined) {
    if (typeof o.queue === 'number' && Number.isInteger(o.queue) && o.queue >= 1 && o.queue <= MAX_QUEUE) queue = o.queue
    else problems.push(`option queue: ${show(o.queue)} is not valid: give an integer from 1 to ${MAX_QUEUE}`)
  }
  const explain = flag('explain', o.explain, problems)
  let budget = DEFAULT_BUDGET
  if (o.budget !== undefined) {
    if (typeof o.budget === 'number' && o.budget > 0 && o.budget <= 100) budget = o.budget / 100
    else
      problems.push(`option budget: ${show(o.budget)} is not valid: give the share of one core the trace may cost, in percent, above 0 and up to 100 (e.g. 5)`)
  }
  const stats = flag('stats', o.stats, problems)
  let by: string | undefined
  if (o.by !== undefined) {
    if (typeof o.by !== 'string' || !/^[A-Za-z_$][\w$]*$/.test(o.by))
      problems.push(`option by: ${show(o.by)} is not a name: give the name a spec's pattern binds, as id in 'db:findUser(id)'`)
    else if (!stats) problems.push(`option by: ${show(o.by)} groups the rows of stats mode: give stats: true too (--stats)`)
    else by = o.by
  }
  if (stats && formatter) problems.push(`options stats and formatter: stats mode prints no event to format; give one of them`)
  if (problems.length > before || !pid) return undefined
  const { line, frames, ...snapshot } = limits
  return { pid, scope, args, timestamp, time, io, formatter, json, snapshot, line, frames, redact, color, queue, explain, budget, stats, by }
}

/**
 * Rendering of trace events, off the hot path: recon-trace's text lines (optionally colored)
 * and JSON Lines objects. Everything here works from snapshots (see `snapshot.ts`), never from
 * the live values, so formatting runs no user code either.
 *
 * Text form (design §3), one line per event, values in util.inspect's default style on one line:
 *
 * ```
 * 13:14:55.365157 <4242.0> queue:in('a', Queue { front: [], back: [] })
 * 13:14:55.365190 <4242.0> queue:in/2 --> Queue { front: ['a'], back: [] } (3.12 µs)
 * 13:14:55.365301 <4242.0> db:findUser/1 !! NotFoundError: no user 42 (41.0 µs)
 * 13:14:55.371012 <4242.3> db:load/1 ~> { id: 42, name: 'x' } (31.2 ms)
 * 13:14:55.371012 <4242.3> db:load/1 ~! Error: timeout (5.00 s)
 * ```
 *
 * A return line ends with how long the call took (a promise's: until it settled).
 *
 * Arrays print as `[1, 2]`, objects as `{ a: 1 }`, class instances as `Queue { ... }`.
 *
 * @module
 */
import { formatDuration, wallTime } from './clock.js'
import type { Snap, SnapError, SnapNode, SnapString } from './snapshot.js'

export interface TraceEvent {
  type: 'call' | 'return' | 'exception' | 'fulfilled' | 'rejected'
  /** ms since the epoch with a sub-ms fraction; 0: not taken at the call, stamped when formatted. */
  time: number
  pid: number
  threadId: number
  /** Display name: 'queue', 'pg', 'node:fs', 'Server' (an object given directly). */
  module: string
  /** 'in', 'Client#query', 'Client.connect', 'a.b.c', 'default'. */
  function: string
  arity: number
  /** On 'call' unless the trace prints arities. */
  args?: Snap[]
  /** On 'return', 'exception', 'fulfilled', 'rejected'. */
  result?: Snap
  /** On 'call' when the spec asked for `stack`. */
  stack?: StackFrame[]
  /**
   * On 'return', 'exception', 'fulfilled', 'rejected': how long the call took, in ms (for a
   * promise, until it settled), on the monotonic clock.
   */
  duration?: number
}

export interface StackFrame {
  function: string
  file: string
  line: number
  column: number
}

export interface FormatOptions {
  /** Color with chalk (once {@link loadColor} has loaded it). Default false. */
  color: boolean
  /** Max characters per rendered line, before color codes; longer lines end in '...'. Default 4096. */
  line: number
}

export const DEFAULT_FORMAT_OPTIONS: Readonly<FormatOptions> = Object.freeze({ color: false, line: 4096 })

/** The largest accepted `line`. */
export const LINE_HARD_CAP = 1_000_000
/** The smallest `line` honoured (room for '...'). */
const LINE_MIN = 8

// ---------------------------------------------------------------------------------------------
// Color
// ---------------------------------------------------------------------------------------------

/** The few chalk styles used; any object providing them (a chalk instance) will do. */
export interface ChalkLike {
  red(text: string): string
  green(text: string): string
  yellow(text: string): string
  cyan(text: string): string
  magenta(text: string): string
  gray(text: string): string
  bold(text: string): string
}

let colorizer: ChalkLike | undefined

/** Use these styles for `color: true` (undefined: print plain). */
export function setColorizer(c: ChalkLike | undefined): void {
  colorizer = c
}

/**
 * Load chalk (ESM-only; in the CommonJS build this is a `require`, which works on Node >= 20.19)
 * with 16 colors forced on, since the caller has already decided to color. Resolves to false,
 * and colors stay off, when chalk cannot be loaded.
 */
export async function loadColor(): Promise<boolean> {
  if (colorizer !== undefined) return true
  try {
    const { Chalk } = await import('chalk')
    colorizer = new Chalk({ level: 1 })
    return true
  } catch {
    return false
  }
}

type Style =
  | 'number' // numbers, bigints, booleans
  | 'string'
  | 'symbol'
  | 'undefined'
  | 'null'
  | 'special' // functions, [Getter], [Circular *1], [Object], [Proxy] ...
  | 'date'
  | 'regexp'
  | 'redacted'
  | 'time'
  | 'pid'
  | 'mfa'
  | 'ok' // --> and ~>
  | 'bad' // !! and ~!
  | 'frame'

function paint(c: ChalkLike, style: Style, text: string): string {
  switch (style) {
    case 'number':
      return c.yellow(text)
    case 'string':
    case 'symbol':
    case 'ok':
      return c.green(text)
    case 'undefined':
    case 'time':
    case 'frame':
      return c.gray(text)
    case 'null':
    case 'mfa':
      return c.bold(text)
    case 'special':
      return c.cyan(text)
    case 'date':
    case 'pid':
      return c.magenta(text)
    case 'regexp':
    case 'redacted':
    case 'bad':
      return c.red(text)
  }
}

// ---------------------------------------------------------------------------------------------
// A line under construction: styled pieces, cut at a length
// ---------------------------------------------------------------------------------------------

class Line {
  /** The pieces and their styles, kept only for a colored line; a plain one is one string. */
  private readonly texts: string[] | undefined
  private readonly styles: (Style | undefined)[] | undefined
  private plain = ''
  private length = 0

  constructor(
    private readonly max: number,
    styled: boolean,
  ) {
    // A plain line (no color: every line of a file, a pipe, JSON's text) keeps no arrays: a
    // line of a 10 000-message burst allocates about 300 bytes less (bench/traced.mjs small-10k).
    this.texts = styled ? [] : undefined
    this.styles = styled ? [] : undefined
  }

  /** True once the line is longer than its limit: renderers stop adding to it. */
  get full(): boolean {
    return this.length > this.max
  }

  put(text: string, style?: Style): void {
    if (this.length > this.max || text === '') return
    if (this.texts === undefined) this.plain += text
    else {
      this.texts.push(text)
      this.styles!.push(style)
    }
    this.length += text.length
  }

  text(c: ChalkLike | undefined): string {
    const over = this.length > this.max
    if (this.texts === undefined) return over ? `${slice(this.plain, 0, this.max - 3)}...` : this.plain
    let keep = over ? this.max - 3 : Infinity
    let out = ''
    for (let i = 0; i < this.texts.length && keep > 0; i++) {
      let t = this.texts[i]
      if (t.length > keep) t = slice(t, 0, keep)
      keep -= t.length
      const style = this.styles![i]
      out += c !== undefined && style !== undefined ? paint(c, style, t) : t
    }
    return over ? `${out}...` : out
  }
}

// ---------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------

/** Render one value (as used inside a line: a top-level Error prints as `[Name: message]` too). */
export function renderValue(snap: Snap, color?: boolean): string {
  const line = new Line(Infinity, color === true)
  value(line, snap, false)
  return line.text(color === true ? colorizer : undefined)
}

// ---------------------------------------------------------------------------------------------
// Intrinsics, captured at load: rendering never calls a method the program replaced. No regular
// expression either: `String.prototype.replace` with one calls `RegExp.prototype[Symbol.replace]`,
// which reads `exec`, and on V8 14 (Node 26) the `flags` getter, from the prototype.
// ---------------------------------------------------------------------------------------------

const stringIncludes = String.prototype.includes
const stringStartsWith = String.prototype.startsWith
const stringSlice = String.prototype.slice
const stringCharCodeAt = String.prototype.charCodeAt
const dateToISOString = Date.prototype.toISOString
const dateGetHours = Date.prototype.getHours
const dateGetMinutes = Date.prototype.getMinutes
const dateGetSeconds = Date.prototype.getSeconds
const has = (s: string, part: string): boolean => stringIncludes.call(s, part)
const slice = (s: string, from: number, to?: number): string => stringSlice.call(s, from, to)
const HEX = '0123456789ABCDEF'
const hexLower = '0123456789abcdef'

/** `n` (0 <= n < 2^16) as `width` hexadecimal digits or more, upper or lower case. */
function hex(n: number, width: number, digits = HEX): string {
  let out = ''
  do {
    out = digits[n & 15] + out
    n >>>= 4
  } while (n > 0)
  while (out.length < width) out = `0${out}`
  return out
}

// util.inspect's escapes, plus line separators, bidirectional overrides and lone surrogates, so a
// value can neither break the line nor restyle or reorder the terminal's output.
const SHORT_ESCAPES: Record<number, string> = {
  0x08: '\\b',
  0x09: '\\t',
  0x0a: '\\n',
  0x0c: '\\f',
  0x0d: '\\r',
  0x27: "\\'",
  0x5c: '\\\\',
}

function escapeCode(code: number): string {
  const short = SHORT_ESCAPES[code]
  if (short !== undefined) return short
  return code < 0x100 ? `\\x${hex(code, 2)}` : `\\u${hex(code, 4)}`
}

const NONE = -1
const BACKSLASH = 0x5c
const SINGLE_QUOTE = 0x27

/**
 * `s` with every control character, C1 control, line or paragraph separator, bidirectional
 * control and lone surrogate escaped, and the characters `also` and `also2` (a backslash, a
 * quote) too; `s` itself when nothing needs it.
 */
function escapeText(s: string, also: number, also2: number): string {
  let out = ''
  let from = 0
  const n = s.length
  for (let i = 0; i < n; i++) {
    const c = stringCharCodeAt.call(s, i)
    if (c >= 0x20 && c < 0x7f && c !== also && c !== also2) continue
    let escape: boolean
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = i + 1 < n ? stringCharCodeAt.call(s, i + 1) : 0
      if (next >= 0xdc00 && next <= 0xdfff) {
        i++ // a well-formed pair
        continue
      }
      escape = true
    } else {
      escape =
        c < 0x20 ||
        (c >= 0x7f && c <= 0x9f) ||
        (c >= 0xdc00 && c <= 0xdfff) ||
        c === 0x2028 ||
        c === 0x2029 ||
        (c >= 0x202a && c <= 0x202e) ||
        (c >= 0x2066 && c <= 0x2069) ||
        c === also ||
        c === also2
    }
    if (escape) {
      out += slice(s, from, i) + escapeCode(c)
      from = i + 1
    }
  }
  return from === 0 ? s : out + slice(s, from)
}

/** Control characters and the like escaped, no quotes (error messages, names, symbols). */
function escapeRaw(s: string): string {
  return escapeText(s, NONE, NONE)
}

/**
 * A string literal as util.inspect writes it: single quotes, or double quotes (then backticks)
 * when the text contains single quotes and not the other kind.
 */
function quote(s: string): string {
  let q = "'"
  if (has(s, "'")) {
    if (!has(s, '"')) q = '"'
    else if (!has(s, '`') && !has(s, '${')) q = '`'
  }
  return `${q}${escapeText(s, BACKSLASH, q === "'" ? SINGLE_QUOTE : NONE)}${q}`
}

/** `^[a-zA-Z_][a-zA-Z_0-9]*$`, without a regular expression. */
function isIdentifier(k: string): boolean {
  if (k.length === 0) return false
  for (let i = 0; i < k.length; i++) {
    const c = stringCharCodeAt.call(k, i)
    const letter = (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x5f
    if (!letter && (i === 0 || c < 0x30 || c > 0x39)) return false
  }
  return true
}

function key(line: Line, k: string | symbol): void {
  if (typeof k === 'symbol') line.put(`[${escapeRaw(String(k))}]`, 'symbol')
  else if (isIdentifier(k)) line.put(k)
  else line.put(quote(k), 'string')
}

function more(line: Line, n: number, what: string, first: boolean): void {
  if (n > 0) line.put(`${first ? '' : ', '}... ${plural(n, `more ${what}`)}`)
}

function plural(n: number, what: string): string {
  return `${n} ${what}${n === 1 ? '' : 's'}`
}

function cutString(line: Line, s: SnapString): void {
  line.put(quote(s.v), 'string')
  line.put(`... ${plural(s.more, 'more character')}`)
}

function refMark(line: Line, ref: number): void {
  if (ref > 0) line.put(`<ref *${ref}> `, 'special')
}

function value(line: Line, s: Snap, top: boolean): void {
  switch (typeof s) {
    case 'string':
      line.put(quote(s), 'string')
      return
    case 'number':
      line.put(s === 0 && 1 / s < 0 ? '-0' : String(s), 'number')
      return
    case 'bigint':
      line.put(`${s}n`, 'number')
      return
    case 'boolean':
      line.put(s ? 'true' : 'false', 'number')
      return
    case 'symbol':
      line.put(escapeRaw(String(s)), 'symbol')
      return
    case 'undefined':
      line.put('undefined', 'undefined')
      return
  }
  if (s === null) line.put('null', 'null')
  else node(line, s, top)
}

/** `a, b, c` with a trailing `... N more items`; stops early once the line is full. */
function list(line: Line, items: readonly Snap[], extra: number, what = 'item'): void {
  for (let i = 0; i < items.length && !line.full; i++) {
    if (i > 0) line.put(', ')
    value(line, items[i], false)
  }
  more(line, extra, what, items.length === 0)
}

function props(line: Line, keys: readonly (string | symbol)[], values: readonly Snap[], extra: number): void {
  if (keys.length === 0 && extra <= 0) {
    line.put('{}')
    return
  }
  line.put('{ ')
  for (let i = 0; i < keys.length && !line.full; i++) {
    if (i > 0) line.put(', ')
    key(line, keys[i])
    line.put(': ')
    value(line, values[i], false)
  }
  more(line, extra, 'item', keys.length === 0)
  line.put(' }')
}

function hexBytes(bytes: readonly number[], separator = ' '): string {
  let out = ''
  for (let i = 0; i < bytes.length; i++) out += `${i > 0 ? separator : ''}${hex(bytes[i] & 255, 2, hexLower)}`
  return out
}

function bytesText(bytes: readonly number[], length: number): string {
  const rest = length - bytes.length
  return `<${hexBytes(bytes)}${rest > 0 ? `${bytes.length > 0 ? ' ' : ''}... ${plural(rest, 'more byte')}` : ''}>`
}

function dateText(t: number): string {
  return Number.isNaN(t) ? 'Invalid Date' : dateToISOString.call(new Date(t))
}

function functionText(s: Extract<SnapNode, { k: 'fn' }>): string {
  const name = escapeRaw(s.name)
  if (s.kind === 'class') {
    return `[class ${name === '' ? '(anonymous)' : name}${s.ext !== '' ? ` extends ${escapeRaw(s.ext)}` : ''}]`
  }
  return `[${s.kind}${name === '' ? ' (anonymous)' : `: ${name}`}]`
}

/** `NotFoundError`, or `Foo [Error]` for a subclass that kept the inherited name, as util.inspect. */
function errorName(s: SnapError): string {
  const name = escapeRaw(s.name)
  return s.c !== null && s.c !== s.name && !has(s.name, s.c) ? `${escapeRaw(s.c)} [${name}]` : name
}

function error(line: Line, s: SnapError, top: boolean): void {
  refMark(line, s.ref)
  const head = errorName(s)
  const message = typeof s.message === 'string' ? s.message : s.message.v
  const cut = typeof s.message === 'string' ? 0 : s.message.more
  let text = message === '' ? head : `${head}: ${escapeRaw(message)}`
  if (cut > 0) text += `... ${plural(cut, 'more character')}`
  line.put(top ? text : `[${text}]`, 'bad')
  if (s.keys.length > 0 || s.more > 0) {
    line.put(' ')
    props(line, s.keys, s.values, s.more)
  }
}

function node(line: Line, s: SnapNode, top: boolean): void {
  switch (s.k) {
    case 'str':
      cutString(line, s)
      return
    case 'obj':
      refMark(line, s.ref)
      if (s.c === null) line.put('[Object: null prototype] ')
      else if (s.c === 'Module') line.put('[Module: null prototype] ')
      else if (s.c !== 'Object') line.put(`${escapeRaw(s.c)} `)
      props(line, s.keys, s.values, s.more)
      return
    case 'arr':
      refMark(line, s.ref)
      if (s.c !== 'Array') line.put(`${escapeRaw(s.c)}(${s.length}) `)
      line.put('[')
      list(line, s.items, s.more)
      line.put(']')
      return
    case 'holes':
      line.put(`<${plural(s.n, 'empty item')}>`, 'undefined')
      return
    case 'map':
      refMark(line, s.ref)
      line.put(`${escapeRaw(s.c)}(${s.size}) `)
      if (s.keys.length === 0 && s.more <= 0) {
        line.put('{}')
        return
      }
      line.put('{ ')
      for (let i = 0; i < s.keys.length && !line.full; i++) {
        if (i > 0) line.put(', ')
        value(line, s.keys[i], false)
        line.put(' => ')
        value(line, s.values[i], false)
      }
      more(line, s.more, 'item', s.keys.length === 0)
      line.put(' }')
      return
    case 'set':
      refMark(line, s.ref)
      line.put(`${escapeRaw(s.c)}(${s.size}) `)
      if (s.items.length === 0 && s.more <= 0) {
        line.put('{}')
        return
      }
      line.put('{ ')
      list(line, s.items, s.more)
      line.put(' }')
      return
    case 'typed':
      line.put(`${s.c}(${s.length}) [`)
      list(line, s.items, s.length - s.items.length)
      line.put(']')
      return
    case 'bytes':
      if (s.c === 'Buffer') {
        line.put(`<Buffer ${slice(bytesText(s.bytes, s.length), 1)}`)
      } else {
        line.put(`${s.c} { [Uint8Contents]: ${bytesText(s.bytes, s.length)}, byteLength: `)
        line.put(String(s.length), 'number')
        line.put(' }')
      }
      return
    case 'err':
      error(line, s, top)
      return
    case 'fn':
      line.put(functionText(s), 'special')
      return
    case 'date':
      line.put(dateText(s.t), 'date')
      return
    case 're':
      line.put(`/${escapeRaw(s.source)}/${s.flags}`, 'regexp')
      return
    case 'box':
      line.put(`[${s.c}: `)
      value(line, s.v, false)
      line.put(']')
      return
    case 'opaque':
      line.put(`${escapeRaw(s.c)} {${s.note === '' ? '' : ` ${s.note} `}}`)
      return
    case 'circ':
      line.put(`[Circular *${s.ref}]`, 'special')
      return
    case 'deep':
      line.put(s.c === null ? '[Object: null prototype]' : `[${escapeRaw(s.c)}]`, 'special')
      return
    case 'mark':
      line.put(MARK_TEXT[s.m], s.m === 'redacted' ? 'redacted' : 'special')
      return
  }
}

const MARK_TEXT: Record<Extract<SnapNode, { k: 'mark' }>['m'], string> = {
  redacted: '[REDACTED]',
  getter: '[Getter]',
  setter: '[Setter]',
  getset: '[Getter/Setter]',
  proxy: '[Proxy]',
  unreadable: '[unreadable]',
  budget: '...',
}

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

const ARROWS: Record<Exclude<TraceEvent['type'], 'call'>, readonly [string, Style]> = {
  return: ['-->', 'ok'],
  exception: ['!!', 'bad'],
  fulfilled: ['~>', 'ok'],
  rejected: ['~!', 'bad'],
}

function now(): number {
  return wallTime()
}

function lineLimit(n: unknown): number {
  if (typeof n !== 'number' || !(n >= 0)) return DEFAULT_FORMAT_OPTIONS.line
  return n < LINE_MIN ? LINE_MIN : n > LINE_HARD_CAP ? LINE_HARD_CAP : Math.floor(n)
}

/**
 * One event as recon-trace's text line(s), without trailing newline. A call whose arguments were
 * not captured (`args: 'arity'`) prints as `mod:fn/2`; when the snapshot's node budget ran out
 * before the last argument, the line ends with `... N more arguments`. A stack renders as extra
 * lines `    at fn (file:line:col)`. Each line is cut to `options.line` characters.
 */
export function formatEvent(event: TraceEvent, options: FormatOptions): string {
  const max = lineLimit(options?.line)
  const c = options?.color === true ? colorizer : undefined
  // A return's duration ends its line: a long value is cut before it, never the duration.
  const took = event.type !== 'call' && event.duration !== undefined ? ` (${formatDuration(event.duration)})` : ''
  const line = new Line(took === '' ? max : Math.max(LINE_MIN, max - took.length), c !== undefined)
  line.put(formatTime(event.time || now()), 'time')
  line.put(' ')
  line.put(pidTag.of(event.pid, event.threadId), 'pid')
  line.put(' ')
  const mf = moduleFunction.of(event.module, event.function)
  if (event.type === 'call') {
    if (event.args === undefined) {
      line.put(`${mf}/${event.arity}`, 'mfa')
    } else {
      line.put(mf, 'mfa')
      line.put('(')
      list(line, event.args, event.arity - event.args.length, 'argument')
      line.put(')')
    }
  } else {
    const [arrow, style] = ARROWS[event.type] ?? ['-->', 'ok']
    line.put(`${mf}/${event.arity}`, 'mfa')
    line.put(' ')
    line.put(arrow, style)
    line.put(' ')
    value(line, event.result, true)
  }
  let out = took === '' ? line.text(c) : line.text(c) + (c !== undefined ? paint(c, 'time', took) : took)
  const stack = event.stack
  if (stack !== undefined) {
    for (const f of stack) {
      const at = new Line(max, c !== undefined)
      const where = `${f.file}:${f.line}:${f.column}`
      at.put(`    at ${f.function ? `${escapeRaw(f.function)} (${escapeRaw(where)})` : escapeRaw(where)}`, 'frame')
      out += `\n${at.text(c)}`
    }
  }
  return out
}

/** The text made of the last pair of values, made again only when one of them changes. */
class LastText<A, B> {
  private a: A | undefined
  private b: B | undefined
  private text: string | undefined
  constructor(private readonly make: (a: A, b: B) => string) {}
  of(a: A, b: B): string {
    if (this.text === undefined || a !== this.a || b !== this.b) {
      this.a = a
      this.b = b
      this.text = this.make(a, b)
    }
    return this.text
  }
}

// A line's `<pid.thread>` and `module:function`, text and JSON: a burst of one function's calls
// builds each once (bench/message-bytes.mjs).
const pidTag = new LastText((pid: number, thread: number) => `<${pid}.${thread}>`)
const moduleFunction = new LastText((module: string, fn: string) => escapeRaw(`${module}:${fn}`))
const jsonPid = new LastText((pid: number, thread: number) => `"pid":${pid},"thread":${thread}`)
const jsonMF = new LastText((module: string, fn: string) => `"module":${stringify(module)},"function":${stringify(fn)}`)

/** Render a timestamp (ms since the epoch) as HH:MM:SS.uuuuuu in local time. */
export function formatTime(ms: number): string {
  let whole = Math.floor(ms)
  let micros = Math.round((ms - whole) * 1000)
  if (micros >= 1000) {
    whole += 1
    micros -= 1000
  }
  if (!Number.isFinite(whole) || Math.abs(whole) > 8.64e15) return '00:00:00.000000'
  const second = Math.floor(whole / 1000)
  // The local HH:MM:SS of a given second never changes: build it once per second rather than a
  // Date and three local-time conversions per line (bench/traced.mjs, text lines end to end).
  if (second !== cachedSecond) {
    const d = new Date(second * 1000)
    const two = (n: number) => (n < 10 ? `0${n}` : String(n))
    cachedSecond = second
    cachedClock = `${two(dateGetHours.call(d))}:${two(dateGetMinutes.call(d))}:${two(dateGetSeconds.call(d))}.`
  }
  const sub = String((whole - second * 1000) * 1000 + micros)
  return cachedClock + (sub.length >= 6 ? sub : slice('000000', sub.length) + sub)
}
let cachedSecond = NaN
let cachedClock = ''

// ---------------------------------------------------------------------------------------------
// JSON Lines
// ---------------------------------------------------------------------------------------------

/**
 * One event as a plain JSON-safe object for JSON Lines:
 *
 * ```json
 * { "time": 1732281295365.157, "pid": 4242, "thread": 0, "type": "call", "module": "queue",
 *   "function": "in", "arity": 2, "args": ["a", { "$class": "Queue", "front": [], "back": [] }] }
 * ```
 *
 * `args` (on calls, unless arities are traced), `result` and `duration` (on the other types;
 * milliseconds, to the nanosecond) and `stack` (an array of `{ function, file, line, column }`)
 * appear only when the event has them. `time` is
 * in ms with microseconds as the fraction.
 *
 * Values map to JSON as follows. Strings, booleans, null and finite numbers stay themselves;
 * plain objects become objects and plain arrays arrays. Everything JSON cannot carry takes a
 * tagged form, an object whose first key starts with `$` (so a key of the traced object that
 * starts with `$` is written with one more `$`: `$id` becomes `$$id`):
 *
 * | value | JSON |
 * |---|---|
 * | `undefined` | `{ "$undefined": true }` |
 * | `NaN`, `Infinity`, `-Infinity`, `-0` | `{ "$number": "NaN" }` (the name as a string) |
 * | `10n` | `{ "$bigint": "10" }` |
 * | `Symbol(x)` | `{ "$symbol": "Symbol(x)" }` |
 * | a string cut to the limit | `{ "$string": "the kept prefix", "$more": 1234 }` (characters left out) |
 * | class instance | its properties plus `"$class": "Queue"` (`"[Object: null prototype]"`, `"Module"`) |
 * | keys left out | `"$more": 5` on the object (on an array: a last element `{ "$more": 5 }`) |
 * | symbol key | the key `"[Symbol(x)]"` |
 * | array holes | `{ "$holes": 3 }` in place of 3 missing elements |
 * | array subclass | `{ "$class": "MyArray", "$items": [...] }` |
 * | Map | `{ "$map": [[key, value], ...], "$size": 2 }` (and `$class`, `$more`) |
 * | Set | `{ "$set": [...], "$size": 2 }` (and `$class`, `$more`) |
 * | typed array | `{ "$typed": "Float64Array", "$length": 3, "$items": [...] }` |
 * | Buffer, ArrayBuffer | `{ "$bytes": "Buffer", "$length": 5, "$hex": "68656c6c6f" }` (hex of the kept bytes) |
 * | Error | `{ "$error": "TypeError", "message": "...", ...own properties, "cause": ... }` (and `$class`) |
 * | function | `{ "$function": "[class Foo extends Bar]" }` (the text form) |
 * | Date | `{ "$date": "2024-11-22T13:14:55.365Z" }` (or `"Invalid Date"`) |
 * | RegExp | `{ "$regexp": "/a+/gi" }` |
 * | boxed primitive | `{ "$boxed": "Number", "value": 1 }` |
 * | Promise, WeakMap, WeakSet | `{ "$opaque": "Promise" }` |
 * | cycle | `{ "$circular": 1 }`, and `"$ref": 1` on the object it points back to |
 * | below the depth limit | `{ "$deep": "Queue" }` |
 * | redacted | the string `"[REDACTED]"` |
 * | accessor property | `{ "$accessor": "getter" }` (or `"setter"`, `"getter/setter"`) |
 * | Proxy | `{ "$proxy": true }` |
 * | could not be read | `{ "$unreadable": true }` |
 * | node budget exhausted | `{ "$truncated": true }` |
 */
export function eventToJSON(event: TraceEvent): Record<string, unknown> {
  const time = event.time || now()
  const out: Record<string, unknown> = {
    time: Math.round(time * 1000) / 1000,
    pid: event.pid,
    thread: event.threadId,
    type: event.type,
    module: event.module,
    function: event.function,
    arity: event.arity,
  }
  if (event.args !== undefined) out.args = event.args.map((a) => toJSONValue(a))
  if (event.type !== 'call') out.result = toJSONValue(event.result)
  if (event.type !== 'call' && event.duration !== undefined) out.duration = durationJSON(event.duration)
  if (event.stack !== undefined) {
    out.stack = event.stack.map((f) => ({ function: f.function, file: f.file, line: f.line, column: f.column }))
  }
  return out
}

const stringify = JSON.stringify

/** A duration in JSON: milliseconds to the nanosecond. */
function durationJSON(ms: number): number {
  return Number.isFinite(ms) ? Math.round(ms * 1e6) / 1e6 : 0
}

/** A captured value as JSON text: primitives written directly, the rest through toJSONValue. */
function jsonText(s: Snap): string {
  switch (typeof s) {
    case 'string':
      return stringify(s)
    case 'boolean':
      return s ? 'true' : 'false'
    case 'number':
      if (Number.isFinite(s) && !(s === 0 && 1 / s < 0)) return `${s}`
  }
  return s === null ? 'null' : stringify(toJSONValue(s))
}

/**
 * `JSON.stringify(eventToJSON(event))`, written directly: no intermediate object for the event
 * and none for an argument that is a primitive (the JSON Lines path, bench/traced.mjs
 * small-json). test/format.test.ts checks the two agree.
 */
export function eventToJSONText(event: TraceEvent): string {
  const time = event.time || now()
  let out =
    `{"time":${Math.round(time * 1000) / 1000},${jsonPid.of(event.pid, event.threadId)},"type":"${event.type}",` +
    `${jsonMF.of(event.module, event.function)},"arity":${event.arity}`
  const args = event.args
  if (args !== undefined) {
    out += ',"args":['
    for (let i = 0; i < args.length; i++) out += i === 0 ? jsonText(args[i]) : `,${jsonText(args[i])}`
    out += ']'
  }
  if (event.type !== 'call') out += `,"result":${jsonText(event.result)}`
  if (event.type !== 'call' && event.duration !== undefined) out += `,"duration":${durationJSON(event.duration)}`
  if (event.stack !== undefined)
    out += `,"stack":${stringify(event.stack.map((f) => ({ function: f.function, file: f.file, line: f.line, column: f.column })))}`
  return `${out}}`
}

/** One captured value as JSON-safe data (see {@link eventToJSON} for the tagged forms). */
export function toJSONValue(s: Snap): unknown {
  switch (typeof s) {
    case 'string':
    case 'boolean':
      return s
    case 'number':
      if (Number.isFinite(s) && !(s === 0 && 1 / s < 0)) return s
      return { $number: s === 0 ? '-0' : String(s) }
    case 'bigint':
      return { $bigint: String(s) }
    case 'symbol':
      return { $symbol: String(s) }
    case 'undefined':
      return { $undefined: true }
  }
  if (s === null) return null
  switch (s.k) {
    case 'str':
      return { $string: s.v, $more: s.more }
    case 'obj': {
      const o: Record<string, unknown> = {}
      if (s.c !== 'Object') o.$class = s.c === null ? '[Object: null prototype]' : s.c
      if (s.ref > 0) o.$ref = s.ref
      fields(o, s.keys, s.values)
      if (s.more > 0) o.$more = s.more
      return o
    }
    case 'arr': {
      const items: unknown[] = s.items.map(toJSONValue)
      if (s.more > 0) items.push({ $more: s.more })
      if (s.c === 'Array' && s.ref === 0) return items
      const o: Record<string, unknown> = { $class: s.c }
      if (s.ref > 0) o.$ref = s.ref
      o.$items = items
      return o
    }
    case 'holes':
      return { $holes: s.n }
    case 'map': {
      const o: Record<string, unknown> = { $map: s.keys.map((k, i) => [toJSONValue(k), toJSONValue(s.values[i])]), $size: s.size }
      if (s.c !== 'Map') o.$class = s.c
      if (s.more > 0) o.$more = s.more
      if (s.ref > 0) o.$ref = s.ref
      return o
    }
    case 'set': {
      const o: Record<string, unknown> = { $set: s.items.map(toJSONValue), $size: s.size }
      if (s.c !== 'Set') o.$class = s.c
      if (s.more > 0) o.$more = s.more
      if (s.ref > 0) o.$ref = s.ref
      return o
    }
    case 'typed':
      return { $typed: s.c, $length: s.length, $items: s.items.map(toJSONValue) }
    case 'bytes':
      return { $bytes: s.c, $length: s.length, $hex: hexBytes(s.bytes, '') }
    case 'err': {
      const o: Record<string, unknown> = { $error: s.name }
      if (s.c !== null && s.c !== s.name) o.$class = s.c
      if (s.ref > 0) o.$ref = s.ref
      o.message = toJSONValue(s.message)
      fields(o, s.keys, s.values)
      if (s.more > 0) o.$more = s.more
      return o
    }
    case 'fn':
      return { $function: functionText(s) }
    case 'date':
      return { $date: dateText(s.t) }
    case 're':
      return { $regexp: `/${s.source}/${s.flags}` }
    case 'box':
      return { $boxed: s.c, value: toJSONValue(s.v) }
    case 'opaque':
      return { $opaque: s.c }
    case 'circ':
      return { $circular: s.ref }
    case 'deep':
      return { $deep: s.c === null ? '[Object: null prototype]' : s.c }
    case 'mark':
      switch (s.m) {
        case 'redacted':
          return '[REDACTED]'
        case 'getter':
          return { $accessor: 'getter' }
        case 'setter':
          return { $accessor: 'setter' }
        case 'getset':
          return { $accessor: 'getter/setter' }
        case 'proxy':
          return { $proxy: true }
        case 'unreadable':
          return { $unreadable: true }
        case 'budget':
          return { $truncated: true }
      }
  }
  return { $unreadable: true }
}

function fields(o: Record<string, unknown>, keys: readonly (string | symbol)[], values: readonly Snap[]): void {
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]
    const name = typeof k === 'symbol' ? `[${String(k)}]` : stringStartsWith.call(k, '$') ? `$${k}` : k
    // defineProperty: a key named __proto__ must stay a key, not set the prototype.
    Object.defineProperty(o, name, { value: toJSONValue(values[i]), enumerable: true, writable: true, configurable: true })
  }
}

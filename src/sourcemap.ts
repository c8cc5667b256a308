/**
 * Source maps of the rewrite: the writer of the map from rewritten code to the original source.
 *
 * The rewrite only inserts text (instrument.ts), so the map is written from the insertion list
 * and the token boundaries of the source, and composed on the way with the file's own input map
 * (tsc, a bundler) when it has one: stack traces and debuggers then name the original file, line
 * and column. The mappings are encoded with @jridgewell/sourcemap-codec's decoder for the input
 * and our own base64 VLQ writer for the output; tests check every token with an independent
 * `SourceMapConsumer` (test/instrument.test.ts).
 */
import { decode, type SourceMapMappings } from '@jridgewell/sourcemap-codec'
import type { InstrumentOptions } from './instrument.js'
import { originalSources } from './origin.js'

/** A source map in its JSON form (version 3). */
export interface RawSourceMap {
  version: number
  file?: string
  sources: (string | null)[]
  sourcesContent?: (string | null)[]
  names: string[]
  mappings: string
  sourceRoot?: string
}

function toURL(filename: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(filename) && !/^[a-z]:[\\/]/i.test(filename)) return filename
  return new URL(`file://${filename.startsWith('/') ? '' : '/'}${filename.replace(/\\/g, '/')}`).href
}

const B64 = new Uint8Array(64)
'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.split('').forEach((c, i) => (B64[i] = c.charCodeAt(0)))

/** Base64 VLQ written straight into a byte buffer: no array per segment (those cost a third of the rewrite's time in GC). */
class MappingsWriter {
  private buf = new Uint8Array(1 << 16)
  private n = 0
  private byte(b: number): void {
    if (this.n === this.buf.length) {
      const next = new Uint8Array(this.buf.length * 2)
      next.set(this.buf)
      this.buf = next
    }
    this.buf[this.n++] = b
  }
  vlq(v: number): void {
    let x = v < 0 ? (-v << 1) | 1 : v << 1
    do {
      let d = x & 31
      x >>>= 5
      if (x > 0) d |= 32
      this.byte(B64[d])
    } while (x > 0)
  }
  comma(): void {
    this.byte(44)
  }
  semicolon(): void {
    this.byte(59)
  }
  toString(): string {
    return Buffer.from(this.buf.buffer, 0, this.n).toString('latin1')
  }
}

const enum Cls {
  Space,
  Word,
  Punct,
}
const ASCII_CLASS = new Uint8Array(128)
for (let c = 0; c < 128; c++) {
  ASCII_CLASS[c] =
    c === 32 || c === 9 || c === 10 || c === 13 || c === 11 || c === 12
      ? Cls.Space
      : (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 36 || c === 95
        ? Cls.Word
        : Cls.Punct
}
function classOf(c: number): Cls {
  if (c < 128) return ASCII_CLASS[c] as Cls
  return c === 0xa0 || c === 0xfeff || c === 0x2028 || c === 0x2029 ? Cls.Space : Cls.Word
}

/** The mappings of a file's own (input) map, or undefined when they do not decode. */
export function decodeInput(map: RawSourceMap): SourceMapMappings | undefined {
  try {
    return decode(map.mappings)
  } catch {
    return undefined
  }
}

/**
 * The map of the rewrite, composed with the input map when there is one.
 *
 * The rewrite only inserts, never on a new line, so a char at column c of a line lands at column
 * c + (all that was inserted on that line at or before it). A segment is written at every token
 * boundary of the source (where whitespace, word and punctuation alternate, and at each
 * punctuation char), which is every position V8 names in a stack trace (a call's callee or
 * property, `new`, `throw`, an operator). With an input map, each of those positions is looked
 * up there (the segment at or before it on its line, as a consumer does) and the result written
 * instead, so the map goes straight from the output to the original source (TypeScript...).
 */

export function buildMap(source: string, inserted: number[], options: InstrumentOptions, inLines: SourceMapMappings | undefined): RawSourceMap {
  // Insertions sorted by position.
  const count = inserted.length >> 1
  const order = new Int32Array(count)
  for (let i = 0; i < count; i++) order[i] = i
  order.sort((a, b) => inserted[2 * a] - inserted[2 * b])
  // Positions and lengths in that order, and one past the end as a sentinel: the loop below
  // compares each char's position with the next insertion's, a single compare per char.
  const at = new Float64Array(count + 1)
  const size = new Float64Array(count + 1)
  for (let i = 0; i < count; i++) {
    at[i] = inserted[2 * order[i]]
    size[i] = inserted[2 * order[i] + 1]
  }
  at[count] = Infinity
  const fileURL = toURL(options.filename)
  const input = inLines === undefined ? undefined : options.inputMap
  const w = new MappingsWriter()
  let k = 0 // next insertion (in `order`)
  let line = 0
  let lineStart = 0
  let shift = 0
  let prevGenCol = 0
  let first = true // first segment of the line
  // Relative fields across the whole map.
  let pSource = 0
  let pLine = 0
  let pCol = 0
  let pName = 0
  let prevCls = Cls.Space
  const len = source.length
  let nextAt = at[0]
  for (let p = 0; p < len; p++) {
    // Insertions at p come before the char at p.
    if (nextAt <= p) {
      while (at[k] <= p) shift += size[k++]
      nextAt = at[k]
    }
    const c = source.charCodeAt(p)
    // A line ends as JavaScript ends it: \n (also of \r\n), a lone \r, U+2028, U+2029.
    if (c === 10 || c === 0x2028 || c === 0x2029 || (c === 13 && source.charCodeAt(p + 1) !== 10)) {
      w.semicolon()
      line++
      lineStart = p + 1
      shift = 0
      prevGenCol = 0
      first = true
      prevCls = Cls.Space
      continue
    }
    const cls = c < 128 ? (ASCII_CLASS[c] as Cls) : classOf(c)
    if (cls === Cls.Space || (cls === prevCls && cls === Cls.Word)) {
      prevCls = cls
      continue
    }
    prevCls = cls
    const col = p - lineStart
    const genCol = col + shift
    if (inLines === undefined) {
      if (!first) w.comma()
      w.vlq(genCol - prevGenCol)
      w.vlq(0)
      w.vlq(line - pLine)
      w.vlq(col - pCol)
      pLine = line
      pCol = col
    } else {
      const segs = inLines[line]
      if (segs === undefined || segs.length === 0) continue
      let lo = 0
      let hi = segs.length - 1
      let found = -1
      while (lo <= hi) {
        const mid = (lo + hi) >> 1
        if (segs[mid][0] <= col) {
          found = mid
          lo = mid + 1
        } else hi = mid - 1
      }
      if (found === -1) continue
      const seg = segs[found]
      if (seg.length < 4) continue
      if (!first) w.comma()
      w.vlq(genCol - prevGenCol)
      w.vlq(seg[1]! - pSource)
      w.vlq(seg[2]! - pLine)
      w.vlq(seg[3]! - pCol)
      pSource = seg[1]!
      pLine = seg[2]!
      pCol = seg[3]!
      if (seg.length === 5) {
        w.vlq(seg[4]! - pName)
        pName = seg[4]!
      }
    }
    prevGenCol = genCol
    first = false
  }
  const file = fileURL.slice(fileURL.lastIndexOf('/') + 1)
  if (!input) return { version: 3, file, sources: [fileURL], names: [], mappings: w.toString() }
  const base = options.inputMapURL ?? fileURL
  const sources = originalSources(input, base).map((s) => (s === '' ? '' : toURL(s)))
  const map: RawSourceMap = { version: 3, file, sources, names: input.names ?? [], mappings: w.toString() }
  if (input.sourcesContent) map.sourcesContent = input.sourcesContent
  return map
}

/** A map as an inline `//# sourceMappingURL` comment (what Node reads with source maps on). */
export function inlineMapComment(map: RawSourceMap): string {
  return `\n//# sourceMappingURL=data:application/json;charset=utf-8;base64,${Buffer.from(JSON.stringify(map)).toString('base64')}\n`
}

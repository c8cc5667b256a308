/**
 * Livediff: which functions V8's live edit will really patch, known before the edit.
 *
 * `Debugger.setScriptSource` answers `Ok` even when it gave a function no new code. V8 does
 * not know which function we changed: it diffs the old and new texts (lines first, then the
 * characters of each changed run of lines shorter than 800 characters, both with Myers'
 * algorithm), then maps each old function to the new function that starts and ends at the
 * translated positions. A function whose start or end falls inside a changed range, or whose
 * translated positions name no new function, is "damaged": its closures keep their old code,
 * silently. Measured on Node 20 and 24: a probe put into `function f(a) { return a + 1 }` on
 * one line reported Ok and never ran, because the character diff matched the function's last
 * `}` with a `}` of the inserted text.
 *
 * This module is a port of V8's `LiveEdit::CompareStrings` (src/debug/liveedit.cc and
 * liveedit-diff.cc, the same on V8 11.3 of Node 20 and 13.6 of Node 24) and of the position
 * translation of `CalculateFunctionLiteralChanges`, so that the installer can check an edit
 * before making it, and try another form of the same probe when the diff would not map it.
 * The tests check its verdicts against what V8 does (test/liveedit.test.ts).
 */

/** One changed range: old [start, end) became new [newStart, newEnd). */
export interface Change {
  start: number
  end: number
  newStart: number
  newEnd: number
}

interface Input {
  len1: number
  len2: number
  equals(i: number, j: number): boolean
}

type AddChunk = (pos1: number, pos2: number, len1: number, len2: number) => void

/** Myers' O(ND) diff with the linear space refinement, as V8 writes it (same ties, same chunks). */
function myers(input: Input, add: AddChunk): void {
  const size = input.len1 + input.len2 + 1
  const fwd = new Int32Array(size)
  const rev = new Int32Array(size)
  const at = (v: Int32Array, i: number) => (i >= 0 ? i : size + i)
  type Point = { x: number; y: number }
  const less = (a: Point, b: Point) => a.x < b.x && a.y < b.y

  const forward = (tl: Point, br: Point, d: number): [Point, Point] | undefined => {
    const delta = br.x - tl.x - (br.y - tl.y)
    for (let k = -d; k <= d; k += 2) {
      const from = { x: 0, y: 0 }
      const to = { x: 0, y: 0 }
      if (k === -d || (k !== d && fwd[at(fwd, k - 1)] < fwd[at(fwd, k + 1)])) {
        from.x = to.x = fwd[at(fwd, k + 1)]
      } else {
        from.x = fwd[at(fwd, k - 1)]
        to.x = from.x + 1
      }
      to.y = tl.y + (to.x - tl.x) - k
      from.y = d === 0 || from.x !== to.x ? to.y : to.y - 1
      while (less(to, br) && input.equals(to.x, to.y)) {
        to.x++
        to.y++
      }
      fwd[at(fwd, k)] = to.x
      const odd = delta % 2 !== 0
      const l = k - delta
      if (odd && l >= -d + 1 && l <= d - 1 && to.x >= rev[at(rev, l)]) return [from, to]
    }
    return undefined
  }

  const reverse = (tl: Point, br: Point, d: number): [Point, Point] | undefined => {
    const delta = br.x - tl.x - (br.y - tl.y)
    for (let l = d; l >= -d; l -= 2) {
      const from = { x: 0, y: 0 }
      const to = { x: 0, y: 0 }
      if (l === d || (l !== -d && rev[at(rev, l - 1)] > rev[at(rev, l + 1)])) {
        from.x = to.x = rev[at(rev, l - 1)]
      } else {
        from.x = rev[at(rev, l + 1)]
        to.x = from.x - 1
      }
      const k = l + delta
      to.y = tl.y + (to.x - tl.x) - k
      from.y = d === 0 || from.x !== to.x ? to.y : to.y + 1
      while (less(tl, to) && input.equals(to.x - 1, to.y - 1)) {
        to.x--
        to.y--
      }
      rev[at(rev, l)] = to.x
      const even = delta % 2 === 0
      if (even && k >= -d && k <= d && to.x <= fwd[at(fwd, k)]) return [to, from]
    }
    return undefined
  }

  const middle = (tl: Point, br: Point): [Point, Point] | undefined => {
    const areaSize = br.x - tl.x + (br.y - tl.y)
    if (areaSize === 0) return undefined
    fwd[at(fwd, 1)] = tl.x
    rev[at(rev, -1)] = br.x
    for (let d = 0; d <= Math.ceil(areaSize / 2); d++) {
      const f = forward(tl, br, d)
      if (f) return f
      const r = reverse(tl, br, d)
      if (r) return r
    }
    return undefined
  }

  const path = (from: Point, to: Point): Point[] | undefined => {
    const snake = middle(from, to)
    if (!snake) return undefined
    const head = path(from, snake[0])
    const tail = path(snake[1], to)
    const out: Point[] = []
    if (head) out.push(...head)
    else out.push(snake[0])
    if (tail) out.push(...tail)
    else out.push(snake[1])
    return out
  }

  const points = path({ x: 0, y: 0 }, { x: input.len1, y: input.len2 })
  if (!points) return
  let open: Point | undefined
  const same = (p: Point) => {
    if (open === undefined) return
    add(open.x, open.y, p.x - open.x, p.y - open.y)
    open = undefined
  }
  const change = (p: Point) => {
    if (open === undefined) open = { x: p.x, y: p.y }
  }
  const walk = (p1: Point, p2: Point): Point => {
    while (p1.x < p2.x && p1.y < p2.y && input.equals(p1.x, p1.y)) {
      same(p1)
      p1 = { x: p1.x + 1, y: p1.y + 1 }
    }
    return p1
  }
  for (let i = 1; i < points.length; i++) {
    let p1 = points[i - 1]
    const p2 = points[i]
    p1 = walk(p1, p2)
    const cmp = p2.x - p1.x - (p2.y - p1.y)
    if (cmp === -1) {
      change(p1)
      p1 = { x: p1.x, y: p1.y + 1 }
    } else if (cmp === 1) {
      change(p1)
      p1 = { x: p1.x + 1, y: p1.y }
    }
    walk(p1, p2)
  }
  same(points[points.length - 1])
}

/** Start of each line and the end of the text, as V8's `String::CalculateLineEnds` cuts lines. */
function lineStarts(s: string): number[] {
  const starts = [0]
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c === 10 || c === 0x2028 || c === 0x2029 || (c === 13 && s.charCodeAt(i + 1) !== 10)) starts.push(i + 1)
  }
  starts.push(s.length) // the imaginary line after the last one starts at the end
  return starts
}

/** The chunk above which V8 does not diff characters (its CHUNK_LEN_LIMIT). */
const CHUNK_LEN_LIMIT = 800

/** V8's diff of two sources: changed ranges, in order. */
export function compareSources(s1: string, s2: string): Change[] {
  const l1 = lineStarts(s1)
  const l2 = lineStarts(s2)
  const n1 = l1.length - 1 // number of lines (V8: line ends + 1)
  const n2 = l2.length - 1
  const lineStart1 = (i: number) => (i === 0 ? 0 : i >= n1 ? s1.length : l1[i])
  const lineStart2 = (i: number) => (i === 0 ? 0 : i >= n2 ? s2.length : l2[i])
  const lineEnd1 = (i: number) => lineStart1(i + 1)
  const lineEnd2 = (i: number) => lineStart2(i + 1)
  const lineEq = (i: number, j: number) => {
    const a = lineStart1(i)
    const b = lineStart2(j)
    const len = lineEnd1(i) - a
    if (len !== lineEnd2(j) - b) return false
    return s1.startsWith(s2.slice(b, b + len), a) // equal lengths: same text
  }
  // NarrowDownInput: common lines at both ends take no part in the diff.
  let prefix = 0
  while (prefix < Math.min(n1, n2) && lineEq(prefix, prefix)) prefix++
  let suffix = 0
  while (suffix < Math.min(n1 - prefix, n2 - prefix) && lineEq(n1 - suffix - 1, n2 - suffix - 1)) suffix++
  const out: Change[] = []
  const lines: Input = {
    len1: n1 - prefix - suffix,
    len2: n2 - prefix - suffix,
    equals: (i, j) => lineEq(i + prefix, j + prefix),
  }
  myers(lines, (lp1, lp2, ll1, ll2) => {
    lp1 += prefix
    lp2 += prefix
    const c1 = lineStart1(lp1)
    const c2 = lineStart2(lp2)
    const len1 = lineStart1(lp1 + ll1) - c1
    const len2 = lineStart2(lp2 + ll2) - c2
    if (len1 < CHUNK_LEN_LIMIT && len2 < CHUNK_LEN_LIMIT) {
      myers({ len1, len2, equals: (i, j) => s1.charCodeAt(c1 + i) === s2.charCodeAt(c2 + j) }, (p1, p2, k1, k2) => {
        out.push({ start: c1 + p1, end: c1 + p1 + k1, newStart: c2 + p2, newEnd: c2 + p2 + k2 })
      })
    } else out.push({ start: c1, end: c1 + len1, newStart: c2, newEnd: c2 + len2 })
  })
  return out
}

/**
 * Where a function at old [start, end) is looked for in the new source, as
 * `CalculateFunctionLiteralChanges` translates it: `undefined` when either end falls inside a
 * changed range (the function is damaged). At equal positions V8 orders a function's start or
 * end before a change, so a change that begins exactly there does not count.
 */
export function translateRange(changes: readonly Change[], start: number, end: number): [number, number] | undefined {
  const pos = (p: number): number | undefined => {
    let delta = 0
    for (const c of changes) {
      if (c.start >= p) break // starts at or after p: sorted after p's event
      if (c.end > p) return undefined // p is inside (the change started before p and ends after it)
      if (c.end === p) {
        // DIFF_ENDS at p sorts after a literal event at p: p was still inside this change
        if (c.start < p) return undefined
      }
      delta += c.newEnd - c.newStart - (c.end - c.start)
    }
    return p + delta
  }
  const s = pos(start)
  const e = pos(end)
  return s === undefined || e === undefined ? undefined : [s, e]
}

/** Where a character of the old text lands in the new: after every insertion at or before it. */
function mover(insertions: readonly number[]): (p: number) => number {
  return (p) => {
    let d = 0
    for (let i = 0; i < insertions.length && insertions[i] <= p; i += 2) d += insertions[i + 1]
    return p + d
  }
}

/** A probed function's place in the old text (from `instrument`'s spans). */
export interface Span {
  readonly id: number
  readonly start: number
  readonly head: number
  readonly end: number
  readonly close: number
}

/**
 * The ids of the functions whose edit V8 would not apply: `source` rewritten to `code` by the
 * `insertions` ([position, length] pairs, sorted), each function of `spans` changed inside.
 * Empty: every probed function gets its new code. Also returns V8's changes, for the caller's
 * next check.
 */
export function unpatched(source: string, code: string, insertions: readonly number[], spans: readonly Span[]): number[] {
  const changes = compareSources(source, code)
  const moved = mover(insertions)
  const bad: number[] = []
  for (const s of spans) {
    // V8 starts a function at its parameters (an arrow at its first character): `start`.
    const ok = true
    const r = ok ? translateRange(changes, s.start, s.end) : undefined
    if (r === undefined || r[0] !== moved(s.start) || r[1] !== moved(s.end - 1) + 1 + s.close) bad.push(s.id)
  }
  return bad
}

/**
 * The ids of the functions V8 would not map back when `code` (the edited text) is replaced by
 * `source` again: their closures would keep the probes (dormant, but reading the binding).
 */
export function unrestored(code: string, source: string, insertions: readonly number[], spans: readonly Span[]): number[] {
  const changes = compareSources(code, source)
  const moved = mover(insertions)
  const bad: number[] = []
  for (const s of spans) {
    const r = translateRange(changes, moved(s.start), moved(s.end - 1) + 1 + s.close)
    if (r === undefined || r[0] !== s.start || r[1] !== s.end) bad.push(s.id)
  }
  return bad
}

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
  const at = (_v: Int32Array, i: number) => (i >= 0 ? i : size + i)
  type Point = { x: number; y: number }

  // forward and reverse keep their points in numbers (no object per step): on a 1 MB file with
  // 100 edited functions, the allocation-per-step version took 0.8 s.
  const eq = input.equals
  const forward = (tl: Point, br: Point, d: number): [Point, Point] | undefined => {
    const delta = br.x - tl.x - (br.y - tl.y)
    const odd = delta % 2 !== 0
    for (let k = -d; k <= d; k += 2) {
      let fromX: number
      let toX: number
      if (k === -d || (k !== d && fwd[at(fwd, k - 1)] < fwd[at(fwd, k + 1)])) {
        fromX = toX = fwd[at(fwd, k + 1)]
      } else {
        fromX = fwd[at(fwd, k - 1)]
        toX = fromX + 1
      }
      let toY = tl.y + (toX - tl.x) - k
      const fromY = d === 0 || fromX !== toX ? toY : toY - 1
      while (toX < br.x && toY < br.y && eq(toX, toY)) {
        toX++
        toY++
      }
      fwd[at(fwd, k)] = toX
      const l = k - delta
      if (odd && l >= -d + 1 && l <= d - 1 && toX >= rev[at(rev, l)])
        return [
          { x: fromX, y: fromY },
          { x: toX, y: toY },
        ]
    }
    return undefined
  }

  const reverse = (tl: Point, br: Point, d: number): [Point, Point] | undefined => {
    const delta = br.x - tl.x - (br.y - tl.y)
    const even = delta % 2 === 0
    for (let l = d; l >= -d; l -= 2) {
      let fromX: number
      let toX: number
      if (l === d || (l !== -d && rev[at(rev, l - 1)] > rev[at(rev, l + 1)])) {
        fromX = toX = rev[at(rev, l - 1)]
      } else {
        fromX = rev[at(rev, l + 1)]
        toX = fromX - 1
      }
      const k = l + delta
      let toY = tl.y + (toX - tl.x) - k
      const fromY = d === 0 || fromX !== toX ? toY : toY + 1
      while (tl.x < toX && tl.y < toY && eq(toX - 1, toY - 1)) {
        toX--
        toY--
      }
      rev[at(rev, l)] = toX
      if (even && k >= -d && k <= d && toX <= fwd[at(fwd, k)])
        return [
          { x: toX, y: toY },
          { x: fromX, y: fromY },
        ]
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
  // Each distinct line (with its terminator) gets a number once, so that a comparison of two
  // lines is one of two integers: the line diff of a 1 MB file with 100 edited functions took
  // 1.3 s comparing substrings, and a few ms this way (bench/liveedit-install.mjs).
  const ids = new Map<string, number>()
  const number = (s: string, start: (i: number) => number, end: (i: number) => number, n: number) => {
    const out = new Int32Array(n)
    for (let i = 0; i < n; i++) {
      const text = s.slice(start(i), end(i))
      let id = ids.get(text)
      if (id === undefined) ids.set(text, (id = ids.size))
      out[i] = id
    }
    return out
  }
  const id1 = number(s1, lineStart1, lineEnd1, n1)
  const id2 = number(s2, lineStart2, lineEnd2, n2)
  const lineEq = (i: number, j: number) => id1[i] === id2[j]
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

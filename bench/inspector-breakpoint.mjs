// For comparison: what a Node inspector conditional breakpoint whose condition is false costs
// per hit (the mechanism of inspector-based live debuggers), beside a recon-trace trace whose
// guard is false, measured in the same process against the same untraced baseline.
//
//   npm run build && node bench/inspector-breakpoint.mjs
//
// An in-process `inspector.Session`: `Debugger.enable`, then `Debugger.setBreakpointByUrl` with
// `condition: 'false'` on the body line of `add` in bench/fixtures/tiny.cjs; the loop calls
// `tiny.add(i, 1)`. The baseline calls bench/fixtures/twin.cjs (same code, no breakpoint).
// Then the breakpoint is removed, the debugger disabled, and recon-trace hooks the same
// function with the equivalent guard (`add(a, _) when a === -1`). Each row is timed in rounds
// interleaved with its baseline; both call sites are monomorphic (V8 may inline). The breakpoint
// row times HITS (2000) hits per round: its cost per hit drifts with the heap (30-120 µs seen
// here over 80k hits), so the rounds are printed too.
import { Session } from 'node:inspector'
import { readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { calls, clear } from 'recon-trace'
import { TINY, tiny, twin, require, makeLoop, calibrate, rounds, compare, header, result, printSink, fmt, pad, lpad } from './common.mjs'

const R = Number(process.env.ROUNDS ?? 5)
const HITS = Number(process.env.HITS ?? 2000)
header(`inspector-breakpoint: ns per call of tiny.add(i, 1), median of ${R} interleaved rounds`)

const session = new Session()
session.connect()
const post = (method, params) =>
  new Promise((resolve, reject) => session.post(method, params, (err, res) => (err ? reject(err) : resolve(res))))

const file = require.resolve('./fixtures/tiny.cjs')
const lineNumber = readFileSync(file, 'utf8')
  .split('\n')
  .findIndex((l) => l.includes('return a + b'))

const rows = []
async function measure(label, setup, teardown, hits) {
  const loops = { base: makeLoop(`twin, ${label}`), variant: makeLoop(`tiny, ${label}`) }
  await setup()
  // A breakpoint hit costs tens of µs: a fixed number of hits per round instead of calibrating.
  const entries = { base: [loops.base, twin, calibrate(loops.base, twin)], variant: [loops.variant, tiny, hits ?? calibrate(loops.variant, tiny)] }
  rounds(entries, 1)
  const data = rounds(entries, R)
  await teardown()
  const c = compare(data.base, data.variant)
  c.rounds = data.variant
  rows.push([label, c])
  result({ scenario: 'inspector-breakpoint', case: label, base_ns: c.base, ns: c.variant, added_ns: c.added, ratio: c.ratio })
}

await measure(
  'Debugger.enable, no breakpoint',
  () => post('Debugger.enable'),
  () => {},
)
let breakpointId
await measure(
  "conditional breakpoint, condition 'false'",
  async () => {
    const r = await post('Debugger.setBreakpointByUrl', { url: pathToFileURL(file).href, lineNumber, condition: 'false' })
    if (r.locations.length !== 1) throw new Error(`the breakpoint did not resolve: ${JSON.stringify(r)}`)
    breakpointId = r.breakpointId
  },
  async () => {
    await post('Debugger.removeBreakpoint', { breakpointId })
    await post('Debugger.disable')
  },
  HITS,
)
await measure(
  "recon-trace, guard false: 'add(a, _) when a === -1'",
  () => {
    if (calls(`${TINY}:add(a, _) when a === -1`, 10_000_000, { io: () => {} }) !== 1) throw new Error('not hooked')
  },
  () => clear(),
)
session.disconnect()

console.log(`${pad('case', 52)}${lpad('base ns', 9)}${lpad('ns/call', 11)}${lpad('added', 11)}${lpad('ratio', 9)}`)
for (const [label, c] of rows) {
  console.log(`${pad(label, 52)}${lpad(fmt(c.base), 9)}${lpad(fmt(c.variant), 11)}${lpad(fmt(c.added), 11)}${lpad(fmt(c.ratio, 1), 9)}`)
}
const [, bp] = rows[1]
const [, ours] = rows[2]
console.log(`a false conditional breakpoint: ${fmt(bp.added / 1000)} µs per hit (median; rounds of ${HITS} hits, in order: ${bp.rounds.map((x) => fmt(x / 1000, 0)).join(', ')} µs), ${fmt(bp.added / ours.added, 0)}x recon-trace's false guard`)
printSink()

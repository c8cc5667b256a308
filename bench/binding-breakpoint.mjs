// Entry breakpoints, per call: what a call costs when only the entry breakpoint of the binding
// installer sees it (a function reached through a reference taken before the trace), in a
// process started WITHOUT the preload; matched (a line per call) and filtered out, beside a
// plain inspector conditional breakpoint on the same function in the same process.
//
//   npm run build && node bench/binding-breakpoint.mjs [case...]
//
// bench/fixtures/bound.cjs. Cases (each its own process; the cost of a hit drifts with the
// number of hits in a process, docs/benchmarks.md §2):
//   stored-filtered  `handler`, a top-level function the module stored in a table at load;
//   stored-matched   called as handlers[0](i) from bound.dispatch(i). The file arms at the
//                    first call (a pause; no closure refers to `handler`, so only its export
//                    gets the wrapper), the table keeps the original: every call is a
//                    breakpoint hit. Specs '…/bound.cjs:handler/3' (called with
//                    1 argument: filtered out) and '…/bound.cjs:handler' (every call matched)
//   nested-filtered  `makeNested.nested`, a function nested in another (no binding holds it: a
//   nested-matched   breakpoint is the only way in), called from bound.callNested(i)
//   name-filtered    `f`, its binding swapped, called by name from bound.loop (the wrapper marks
//                    the call, the breakpoint's condition sees the mark and says no), while its
//                    entry breakpoint is still on: spec '…/bound.cjs:f/3'
//   budget           the overhead budget: `makeNested.nested/3` traced with { budget: 5 } (5 % of a
//                    core, the default); the program makes, every 10 ms, as many calls as the
//                    installer's own cost per hit (DebugSession.costPerHit, measured once per
//                    thread) says take 4 % of the time, for BUDGET_MS (5000) ms. Reported: the
//                    real share of the time spent in those calls, per second and overall, the
//                    real µs per call, and whether the budget ended the trace. Goal: the real
//                    share stays within the budget, or the trace ends.
// Each other case first measures, for reference, a plain conditional breakpoint with condition
// 'false' on the same line (our own inspector.Session, Debugger.setBreakpointByUrl, then the
// breakpoint removed, the Debugger disabled, the session closed), then the trace: calls(spec,
// 10_000_000, { scope: 'local', io, budget: 100 }) (budget 100: the trace is not ended for its
// cost). Each round times the untraced twin (bound-twin.cjs, same code) over a calibrated
// number of calls, then HITS (2000) calls of the traced one, then yields a turn of the event
// loop, and more until the round's matched lines are written (the queue never fills); ROUNDS
// (5) rounds after one of warm-up (the first call of the file's arming pause is in it); medians. 'on the call'
// is the time of the call itself; the matched lines' formatting and writing happen after, at
// the next turns (bench/traced.mjs measures that: under 1 µs per line).
// Checked: matched, one line per call; filtered, no line; the trace still on at the end.
// Reference (the issue): a conditional breakpoint costs 110-190 µs per hit.
import { Session } from 'node:inspector'
import { readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { calls, clear } from 'recon-trace'
import { require, makeLoop, calibrate, time, compare, header, result, printSink, fmt, pad, lpad, tick, runCases, CASE } from './common.mjs'

const R = Number(process.env.ROUNDS ?? 5)
const HITS = Number(process.env.HITS ?? 2000)
const FILE = './bench/fixtures/bound.cjs'
const CASES = {
  'stored-filtered': { spec: `${FILE}:handler/3`, call: 'obj.dispatch(i)', line: 'function handler(a) {', matched: false },
  'stored-matched': { spec: `${FILE}:handler`, call: 'obj.dispatch(i)', line: 'function handler(a) {', matched: true },
  'nested-filtered': { spec: `${FILE}:makeNested.nested/3`, call: 'obj.callNested(i)', line: 'return function nested(a) {', matched: false },
  'nested-matched': { spec: `${FILE}:makeNested.nested`, call: 'obj.callNested(i)', line: 'return function nested(a) {', matched: true },
  'name-filtered': { spec: `${FILE}:f/3`, call: 'obj.loop(1)', line: 'function f(a) {', matched: false },
}
const state = () => globalThis[Symbol.for('recon-trace.state')]
const BUDGET_MS = Number(process.env.BUDGET_MS ?? 5000)

/** The budget case: a steady rate of calls the installer thinks cost 4 % of the time, under a 5 % budget. */
async function budgetCase(bound) {
  const lines = []
  const spec = `${FILE}:makeNested.nested/3`
  if (calls(spec, 10_000_000, { scope: 'local', io: (l) => lines.push(l), budget: 5 }) !== 1) throw new Error('not hooked')
  const cost = state().debugSession.cost // ms per hit, as the installer measured it
  const per = Math.max(1, Math.floor((0.04 * 10) / cost))
  const ended = () => lines.some((l) => l.includes('overhead budget'))
  let spent = 0
  let hits = 0
  let sliceStart = performance.now()
  let sliceSpent = 0
  const slices = []
  const t0 = performance.now()
  while (performance.now() - t0 < BUDGET_MS && !ended()) {
    const t = performance.now()
    for (let i = 0; i < per; i++) bound.callNested(i)
    const d = performance.now() - t
    spent += d
    sliceSpent += d
    hits += per
    if (performance.now() - sliceStart >= 1000) {
      slices.push((100 * sliceSpent) / (performance.now() - sliceStart))
      sliceStart = performance.now()
      sliceSpent = 0
    }
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  const elapsed = performance.now() - t0
  const share = (100 * spent) / elapsed
  const stopped = ended()
  clear()
  console.log(
    `${pad(CASE, 17)}budget 5 %: ${per} calls per 10 ms, ${hits} calls in ${fmt(elapsed / 1000, 1)} s; the installer's cost per hit ${fmt(cost * 1000, 0)} µs, real ${fmt((1000 * spent) / hits, 0)} µs; ` +
      `real share of the time ${fmt(share, 1)} % (per second: ${slices.map((x) => fmt(x, 0)).join(', ')} %); ended by the budget: ${stopped ? 'yes' : 'no'}`,
  )
  result({ scenario: 'binding-breakpoint', case: 'budget', budget_pct: 5, share_pct: share, max_second_pct: Math.max(...slices), calibrated_us: cost * 1000, real_us: (1000 * spent) / hits, ended: stopped })
}

if (CASE === undefined) {
  header(`binding-breakpoint: µs per call seen by an entry breakpoint (no preload); median of ${R} rounds of ${HITS} calls`)
  console.log(`${pad('case', 17)}${pad('what', 44)}${lpad('base ns', 9)}${lpad('µs/call', 10)}${lpad('added µs', 10)}  rounds (added µs, in order)`)
  runCases(import.meta.url, [...Object.keys(CASES), 'budget'], process.argv.slice(2))
  console.log('reference (the issue): a conditional breakpoint, 110-190 µs per hit')
} else {
  if (state()?.registry) throw new Error('run without the preload: this measures the binding installer')
  const bound = require('./fixtures/bound.cjs')
  if (CASE === 'budget') {
    await budgetCase(bound)
    process.exit(0)
  }
  const c = CASES[CASE]
  const twin = require('./fixtures/bound-twin.cjs')
  const file = require.resolve('./fixtures/bound.cjs')
  // The body's first line (0-based): the line after the function's head.
  const lineNumber = readFileSync(file, 'utf8').split('\n').findIndex((l) => l.includes(c.line)) + 1

  /** Interleaved rounds of the twin (calibrated) and HITS calls of bound, a turn of the event loop after each. */
  async function measure(label, what, drain = async () => {}) {
    const base = makeLoop(`twin, ${label}`, c.call)
    const prog = makeLoop(`bound, ${label}`, c.call)
    const nBase = calibrate(base, twin)
    const b = []
    const p = []
    for (let r = 0; r < R + 1; r++) {
      b.push(time(base, twin, nBase))
      p.push(time(prog, bound, HITS))
      await tick()
      await drain((r + 1) * HITS)
    }
    b.shift()
    p.shift()
    const cmp = compare(b, p)
    const rounds = p.map((x, i) => (x - b[i]) / 1000)
    console.log(`${pad(CASE, 17)}${pad(what, 44)}${lpad(fmt(cmp.base), 9)}${lpad(fmt(cmp.variant / 1000, 1), 10)}${lpad(fmt(cmp.added / 1000, 1), 10)}  ${rounds.map((x) => fmt(x, 0)).join(', ')}`)
    result({ scenario: 'binding-breakpoint', case: `${CASE}, ${label}`, base_ns: cmp.base, us: cmp.variant / 1000, added_us: cmp.added / 1000 })
  }

  // Reference: a plain conditional breakpoint, condition 'false', on the same line.
  const session = new Session()
  session.connect()
  const post = (method, params) => new Promise((resolve, reject) => session.post(method, params, (err, res) => (err ? reject(err) : resolve(res))))
  await post('Debugger.enable')
  const bp = await post('Debugger.setBreakpointByUrl', { url: pathToFileURL(file).href, lineNumber, condition: 'false' })
  if (bp.locations.length !== 1) throw new Error(`the breakpoint did not resolve: ${JSON.stringify(bp)}`)
  await measure('plain breakpoint', "plain conditional breakpoint, 'false'")
  await post('Debugger.removeBreakpoint', { breakpointId: bp.breakpointId })
  await post('Debugger.disable')
  session.disconnect()

  // The trace.
  let lines = 0
  const notices = []
  const io = (l) => (l.startsWith('recon-trace: ') ? notices.push(l) : lines++)
  const hooked = calls(c.spec, 10_000_000, { scope: 'local', io, budget: 100 })
  if (hooked !== 1) throw new Error(`calls() selected ${hooked} functions`)
  // Matched: the turns until the round's lines are written (at most 2 ms of writing per turn).
  const drain = async (want) => {
    for (let i = 0; i < 1000 && c.matched && lines < want; i++) await tick()
  }
  await measure('traced', `recon-trace, ${c.matched ? 'matched' : 'filtered out'}: ${c.spec.split(':')[1]}`, drain)
  await tick()
  const active = state()?.active !== undefined
  clear()
  await tick()
  const want = c.matched ? (R + 1) * HITS : 0
  // Matched: every call writes a line (the one in flight at the arming pause too: its breakpoint reports it).
  if (lines !== want) throw new Error(`${lines} lines for ${want} traced calls: ${notices.join(' | ')}`)
  if (!active) throw new Error(`the trace ended: ${notices.at(-1)}`)
  if (notices.some((l) => l.includes('came off'))) console.log(`${pad(CASE, 17)}(${notices.find((l) => l.includes('came off'))})`)
  printSink()
}

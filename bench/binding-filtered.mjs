// Binding swap, per call while traced but filtered out: a function whose top-level binding the
// binding installer swapped for a wrapper (process started WITHOUT the preload), called by name
// from a hot loop of its own module, every call filtered out by arity. Added ns per call above
// the untraced baseline.
//
//   npm run build && node bench/binding-filtered.mjs
//
// bench/fixtures/bound.cjs: `loop(n)` calls `f(i)` by name n times (f takes one argument).
// bench/fixtures/bound-twin.cjs is the same code, never traced: the baseline, timed in the same
// interleaved rounds (median of ROUNDS, 7). Two call sites:
//   by name      bound.loop(1000): the module's own call `f(i)`, through the swapped binding
//   exports      a loop outside the module calling bound.f(i) (the export, swapped too at
//                calls()), monomorphic before the trace: it sees the original, then the wrapper
//   exports new  the same, a loop first run after the swap (it has only seen the wrapper)
// Phases, in one process:
//   (a) before any trace
//   warm-up      calls('./bench/fixtures/bound.cjs:f/3', 10_000_000, { scope: 'local', io,
//                budget: BUDGET (1) }): the first call arms the file (a pause swaps f's binding); each
//                call through the name then also hits f's entry breakpoint (about 100 µs) until
//                the budget logic takes the breakpoint off ('the entry breakpoint came off').
//                The program calls bound.loop(50) then yields a turn of the event loop (the
//                budget is checked there), until that notice, or WARM_MS (5000) ms: then the
//                scenario says the breakpoint did not come off and measures anyway
//   (b) traced   f's binding is the wrapper, no breakpoint; nothing matches, nothing is written
//                (checked: only notices reached io, and the trace is still on)
// Goal (the issue): under 5 ns added per call filtered out by arity.
import { calls, clear } from 'recon-trace'
import { require, makeLoop, calibrate, rounds, compare, header, result, sink, printSink, fmt, pad, lpad, tick, INNER } from './common.mjs'

const R = Number(process.env.ROUNDS ?? 7)
const WARM_MS = Number(process.env.WARM_MS ?? 5000)
const BUDGET = Number(process.env.BUDGET ?? 1)
const SPEC = './bench/fixtures/bound.cjs:f/3'
const bound = require('./fixtures/bound.cjs')
const twin = require('./fixtures/bound-twin.cjs')
const state = () => globalThis[Symbol.for('recon-trace.state')]
if (state()?.registry) throw new Error('run without the preload: this measures the binding installer')

header(`binding-filtered: ns per call of f(i), binding swapped, filtered out by arity ('${SPEC}', called with 1 arg, budget ${BUDGET}); median of ${R} interleaved rounds`)

// The by-name loops: the call site is the module's own `f(i)`; each driver is its own closure.
const byNameBase = (o) => o.loop(INNER)
const byNameProg = (o) => o.loop(INNER)
const entries = {}
for (const [k, loop, obj] of [
  ['by name base', byNameBase, twin],
  ['by name prog', byNameProg, bound],
  ['exports base', makeLoop('bound-twin.f, inlined', 'obj.f(i)'), twin],
  ['exports prog', makeLoop('bound.f, inlined', 'obj.f(i)'), bound],
])
  entries[k] = [loop, obj, calibrate(loop, obj)]

// (a) before any trace.
rounds(entries, 2)
const before = rounds(entries, R)

// Warm-up: until the entry breakpoint comes off.
const lines = []
const hooked = calls(SPEC, 10_000_000, { scope: 'local', io: (l) => lines.push(l), budget: BUDGET })
if (hooked !== 1) throw new Error(`calls() selected ${hooked} functions`)
const t0 = performance.now()
let warmCalls = 0
let offMs
while (performance.now() - t0 < WARM_MS) {
  sink(bound.loop(50))
  warmCalls += 50
  await tick()
  if (lines.some((l) => l.includes('the entry breakpoint came off'))) {
    offMs = performance.now() - t0
    break
  }
}
const notices = lines.filter((l) => l.startsWith('recon-trace: '))
const cameOff = offMs !== undefined
console.log(cameOff ? `the entry breakpoint came off after ${fmt(offMs, 0)} ms and ${warmCalls} calls` : `the entry breakpoint did NOT come off within ${WARM_MS} ms (${warmCalls} calls)`)
for (const l of notices) console.log(`  ${l}`)
if (!notices.some((l) => l.includes('swapped the bindings of bound:f'))) throw new Error('f was not swapped')
if (state()?.active === undefined) throw new Error(`the trace ended during the warm-up: ${lines.at(-1)}`)

// (b) traced, the binding swapped, every call filtered out.
lines.length = 0
for (const [k, loop, obj] of [
  ['exports new base', makeLoop('bound-twin.f, inlined, new', 'obj.f(i)'), twin],
  ['exports new prog', makeLoop('bound.f, inlined, new while traced', 'obj.f(i)'), bound],
])
  entries[k] = [loop, obj, calibrate(loop, obj)]
rounds(entries, 2) // V8 re-optimizes the loops around the wrapper
const traced = rounds(entries, R)
await tick()
if (lines.length !== 0) throw new Error(`io got ${lines.length} lines while traced: ${lines[0]}`)
if (state()?.active === undefined) throw new Error('the trace ended while measuring')
clear()

console.log(`${pad('phase', 34)}${pad('call site', 13)}${lpad('base ns', 9)}${lpad('bound ns', 10)}${lpad('added ns', 10)}${lpad('ratio', 8)}  added min..max`)
for (const [phase, data] of [
  ['(a) before any trace', before],
  [cameOff ? '(b) traced, breakpoint off' : '(b) traced, breakpoint still ON', traced],
]) {
  for (const site of ['by name', 'exports', 'exports new']) {
    if (data[`${site} base`] === undefined) continue
    const r = compare(data[`${site} base`], data[`${site} prog`])
    console.log(`${pad(phase, 34)}${pad(site, 13)}${lpad(fmt(r.base), 9)}${lpad(fmt(r.variant), 10)}${lpad(fmt(r.added), 10)}${lpad(fmt(r.ratio), 8)}  ${fmt(r.spread[0])}..${fmt(r.spread[1])}`)
    result({ scenario: 'binding-filtered', case: `${phase.slice(0, 3)} ${site}`, base_ns: r.base, ns: r.variant, added_ns: r.added, ratio: r.ratio, came_off: cameOff, off_ms: offMs, warm_calls: warmCalls })
  }
}
printSink()

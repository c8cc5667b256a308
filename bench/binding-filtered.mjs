// Binding swap, per call while traced but filtered out: a function whose top-level binding the
// binding installer swapped for a wrapper (process started WITHOUT the preload), called by name
// from a hot loop of its own module, every call filtered out by arity. Added ns per call above
// the untraced baseline.
//
//   npm run build && node bench/binding-filtered.mjs [decl|const]
//
// Cases (each its own process):
//   decl   bench/fixtures/bound.cjs, `function f(a)`: swapped inside the entry breakpoint's
//          condition (no pause)
//   const  bench/fixtures/bound-const.cjs, `const f = (a) => a + 1`: swapped at a pause
// In both, `loop(n)` calls `f(i)` by name n times (f takes one argument), and the twin
// (bound-twin.cjs / bound-const-twin.cjs, the same code, never traced) is the baseline, timed in
// the same interleaved rounds (median of ROUNDS, 7). Three call sites:
//   by name      bound.loop(1000): the module's own call `f(i)`, through the swapped binding
//   exports      a loop outside the module calling bound.f(i) (the export, swapped too at
//                calls()), monomorphic before the trace: it sees the original, then the wrapper
//   exports new  the same, a loop first run after the swap (it has only seen the wrapper)
// Phases, in one process:
//   (a) before any trace
//   batch        calls('./bench/fixtures/<file>:f/3', 10_000_000, { scope: 'local', io }) (the
//                default budget, 5 %), then at once, in the same turn, ONE synchronous
//                bound.loop(BATCH) (10 000 calls): the first call arms the file; each call
//                through the name also hits f's entry breakpoint (about 100 µs) until the budget
//                is spent, and the next call through the wrapper takes the breakpoint off on the
//                spot. Reported: the batch's wall time, and the calls through the name before the
//                breakpoint came off (its notice). Checked: the notice 'the entry breakpoint came
//                off' (else the scenario says so and measures anyway)
//   (b) traced   f's binding is the wrapper, no breakpoint; nothing matches, nothing is written
//                (checked: only notices reached io, and the trace is still on)
// Goal (the issue): under 5 ns added per call filtered out by arity.
import { calls, clear } from 'recon-trace'
import { require, makeLoop, calibrate, rounds, compare, header, result, sink, printSink, fmt, pad, lpad, tick, INNER, runCases, CASE } from './common.mjs'

const R = Number(process.env.ROUNDS ?? 7)
const BATCH = Number(process.env.BATCH ?? 10_000)
const FILES = { decl: 'bound', const: 'bound-const' }
const state = () => globalThis[Symbol.for('recon-trace.state')]

if (CASE === undefined) {
  header(`binding-filtered: ns per call of f(i), binding swapped, filtered out by arity ('…:f/3', called with 1 arg, default budget); median of ${R} interleaved rounds`)
  console.log(`${pad('case', 7)}${pad('phase', 34)}${pad('call site', 13)}${lpad('base ns', 9)}${lpad('bound ns', 10)}${lpad('added ns', 10)}${lpad('ratio', 8)}  added min..max`)
  runCases(import.meta.url, Object.keys(FILES), process.argv.slice(2))
} else {
  if (state()?.registry) throw new Error('run without the preload: this measures the binding installer')
  const name = FILES[CASE]
  const SPEC = `./bench/fixtures/${name}.cjs:f/3`
  const bound = require(`./fixtures/${name}.cjs`)
  const twin = require(`./fixtures/${name}-twin.cjs`)

  // The by-name loops: the call site is the module's own `f(i)`; each driver is its own closure.
  const byNameBase = (o) => o.loop(INNER)
  const byNameProg = (o) => o.loop(INNER)
  const entries = {}
  for (const [k, loop, obj] of [
    ['by name base', byNameBase, twin],
    ['by name prog', byNameProg, bound],
    ['exports base', makeLoop(`${name}-twin.f, inlined`, 'obj.f(i)'), twin],
    ['exports prog', makeLoop(`${name}.f, inlined`, 'obj.f(i)'), bound],
  ])
    entries[k] = [loop, obj, calibrate(loop, obj)]

  // (a) before any trace.
  rounds(entries, 2)
  const before = rounds(entries, R)

  // The batch: one synchronous burst of calls through the name, in the turn of calls().
  const lines = []
  const hooked = calls(SPEC, 10_000_000, { scope: 'local', io: (l) => lines.push(l) })
  if (hooked !== 1) throw new Error(`calls() selected ${hooked} functions`)
  const t0 = performance.now()
  sink(bound.loop(BATCH))
  const batchMs = performance.now() - t0
  await tick()
  const notices = lines.filter((l) => l.startsWith('recon-trace: '))
  const off = notices.find((l) => l.includes('the entry breakpoint came off'))
  const cameOff = off !== undefined
  const byName = Number(/\((\d+) calls through its name\)/.exec(off ?? '')?.[1])
  console.log(
    `${pad(CASE, 7)}batch of ${BATCH} calls through the name, right after calls(): ${fmt(batchMs, 1)} ms; ` +
      (cameOff ? `the entry breakpoint came off after ${byName} calls through the name` : 'the entry breakpoint did NOT come off'),
  )
  for (const l of notices) console.log(`${pad(CASE, 7)}  ${l}`)
  if (!notices.some((l) => l.includes(`swapped the bindings of ${name}:f`))) throw new Error('f was not swapped')
  if (state()?.active === undefined) throw new Error(`the trace ended during the batch: ${lines.at(-1)}`)

  // (b) traced, the binding swapped, every call filtered out.
  lines.length = 0
  for (const [k, loop, obj] of [
    ['exports new base', makeLoop(`${name}-twin.f, inlined, new`, 'obj.f(i)'), twin],
    ['exports new prog', makeLoop(`${name}.f, inlined, new while traced`, 'obj.f(i)'), bound],
  ])
    entries[k] = [loop, obj, calibrate(loop, obj)]
  rounds(entries, 2) // V8 re-optimizes the loops around the wrapper
  const traced = rounds(entries, R)
  await tick()
  if (lines.length !== 0) throw new Error(`io got ${lines.length} lines while traced: ${lines[0]}`)
  if (state()?.active === undefined) throw new Error('the trace ended while measuring')
  clear()

  result({ scenario: 'binding-filtered', case: `${CASE}, batch`, kind: CASE, batch: BATCH, batch_ms: batchMs, came_off: cameOff, name_hits: byName })
  for (const [phase, data] of [
    ['(a) before any trace', before],
    [cameOff ? '(b) traced, breakpoint off' : '(b) traced, breakpoint still ON', traced],
  ]) {
    for (const site of ['by name', 'exports', 'exports new']) {
      if (data[`${site} base`] === undefined) continue
      const r = compare(data[`${site} base`], data[`${site} prog`])
      console.log(
        `${pad(CASE, 7)}${pad(phase, 34)}${pad(site, 13)}${lpad(fmt(r.base), 9)}${lpad(fmt(r.variant), 10)}${lpad(fmt(r.added), 10)}${lpad(fmt(r.ratio), 8)}  ${fmt(r.spread[0])}..${fmt(r.spread[1])}`,
      )
      result({ scenario: 'binding-filtered', case: `${CASE}, ${phase.slice(0, 3)} ${site}`, kind: CASE, site, phase: phase.slice(1, 2), base_ns: r.base, ns: r.variant, added_ns: r.added, ratio: r.ratio, came_off: cameOff })
    }
  }
  printSink()
}

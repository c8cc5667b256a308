// Binding swap, after the restore: does a function whose binding was swapped for a wrapper and
// put back by clear() cost what it cost before the trace? Process started WITHOUT the preload.
//
//   npm run build && node bench/binding-restore.mjs [case...]
//
// Two fixtures, the same code but for f: bench/fixtures/bound.cjs (`function f(a)`: swapped and
// put back through closures an entry breakpoint's condition makes in the module's scope, no
// pause) and bench/fixtures/bound-const.cjs (`const f = (a) => a + 1`: swapped at a pause, put
// back at one pause per file). In each, three functions of the module call `f(i)` by name in a
// loop, each its own call site: `loop` (warmed up to optimized code before the trace, and called
// while traced), `loopIdle` (warmed up before, never called while traced), `loopLater` (first
// called after clear()). The twin (bound-twin.cjs / bound-const-twin.cjs, the same code, never
// traced) is the baseline, timed in the same interleaved rounds (median of ROUNDS, 7). Phases,
// in one process:
//   (a) before   no trace yet (loop and loopIdle hot and optimized)
//   trace        calls('./bench/fixtures/<file>:f/3', 10_000_000, { scope: 'local', io, ... })
//                (every call filtered out), then clear(). Cases (each its own process), for
//                decl-* and const-*:
//                  brief  the first call arms the file (loop(1): the swap), loop(100) more calls
//                         (wrapper + entry breakpoint), then clear()
//                  hot    budget 1: loop(50) and a turn of the event loop until the entry
//                         breakpoint comes off, then 2 x 10^7 calls of loop (V8 optimizes it
//                         around the wrapper), then clear()
// A fourth caller, outside the module: a loop calling bound.f(i) through the exports (which the
// installer swaps too, at calls()), hot before the trace, and in case hot while traced too.
//   (c) after    the same loops again, and loopLater. Checked: the binding (current()) and
//                the export are the original f; after the turn, the Debugger session closed.
// Goal (the issue): ratio 1.00 after the restore. 'ratio' is bound over the twin in the same
// rounds (the same code, never traced: 1.00 in (a)); 'vs (a)' is that ratio after over the
// ratio before (through the twin, so that the machine's drift between the phases cancels; it
// carries the noise of both phases, a few % at 0.4 ns per call).
import { calls, clear } from 'recon-trace'
import { require, makeLoop, drive, calibrate, rounds, compare, header, result, sink, printSink, fmt, pad, lpad, tick, runCases, CASE, INNER } from './common.mjs'

const R = Number(process.env.ROUNDS ?? 7)
const CASES = ['decl-brief', 'decl-hot', 'const-brief', 'const-hot']
const FILES = { decl: 'bound', const: 'bound-const' }
const state = () => globalThis[Symbol.for('recon-trace.state')]

if (CASE === undefined) {
  header(`binding-restore: ns per call of f(i) by name, before a binding swap and after clear() put it back; median of ${R} interleaved rounds`)
  console.log(`${pad('case', 12)}${pad('phase', 26)}${pad('caller', 42)}${lpad('twin ns', 9)}${lpad('bound ns', 10)}${lpad('added', 8)}${lpad('ratio', 8)}${lpad('vs (a)', 8)}`)
  runCases(import.meta.url, CASES, process.argv.slice(2))
} else {
  if (state()?.registry) throw new Error('run without the preload: this measures the binding installer')
  const [kind, how] = CASE.split('-')
  const name = FILES[kind]
  const SPEC = `./bench/fixtures/${name}.cjs:f/3`
  const bound = require(`./fixtures/${name}.cjs`)
  const twin = require(`./fixtures/${name}-twin.cjs`)
  const original = bound.f

  // One driver closure per (caller, module): each has its own feedback.
  const drivers = {
    'loop base': (o) => o.loop(INNER),
    'loop prog': (o) => o.loop(INNER),
    'loopIdle base': (o) => o.loopIdle(INNER),
    'loopIdle prog': (o) => o.loopIdle(INNER),
    'loopLater base': (o) => o.loopLater(INNER),
    'loopLater prog': (o) => o.loopLater(INNER),
    'exports base': makeLoop('bound-twin.f through the exports', 'obj.f(i)'),
    'exports prog': makeLoop('bound.f through the exports', 'obj.f(i)'),
  }
  const entry = (k) => {
    const obj = k.endsWith('base') ? twin : bound
    return [drivers[k], obj, calibrate(drivers[k], obj)]
  }
  const entries = {}
  for (const k of ['loop base', 'loop prog', 'loopIdle base', 'loopIdle prog', 'exports base', 'exports prog']) entries[k] = entry(k)

  // (a) before any trace.
  rounds(entries, 2)
  const before = rounds(entries, R)

  // The trace, then clear().
  const lines = []
  const hooked = calls(SPEC, 10_000_000, { scope: 'local', io: (l) => lines.push(l), budget: how === 'hot' ? 1 : 100 })
  if (hooked !== 1) throw new Error(`calls() selected ${hooked} functions`)
  sink(bound.loop(1)) // arms the file: the pause swaps f's binding
  await tick()
  const swapNotice = lines.find((l) => l.includes(`swapped the bindings of ${name}:f`))
  if (kind === 'decl' ? !swapNotice?.endsWith('(no pause)') : !swapNotice?.includes('(the thread paused')) throw new Error(`f was not swapped: ${lines.join(' | ')}`)
  if (bound.current() === original) throw new Error('the binding is not the wrapper')
  let note = ''
  if (how === 'brief') sink(bound.loop(100))
  else {
    const t0 = performance.now()
    let off = false
    while (!off && performance.now() - t0 < 5000) {
      sink(bound.loop(50))
      await tick()
      off = lines.some((l) => l.includes('the entry breakpoint came off'))
    }
    note = off ? `the entry breakpoint came off after ${fmt(performance.now() - t0, 0)} ms` : 'the entry breakpoint did NOT come off within 5 s'
    for (let k = 0; k < 2e4; k++) sink(bound.loop(INNER))
    sink(drive(drivers['exports prog'], bound, 2e7))
    if (state()?.active === undefined) throw new Error(`the trace ended: ${lines.at(-1)}`)
  }
  clear()
  if (bound.current() !== original) throw new Error('after clear(), the binding is not the original f')
  if (bound.f !== original) throw new Error('after clear(), the export is not the original f')
  await tick()
  if (state()?.debugSession?.isOpen) throw new Error('after clear() and its turn, the Debugger session is still open')
  if (lines.some((l) => !l.startsWith('recon-trace: '))) throw new Error(`a call was traced: ${lines.find((l) => !l.startsWith('recon-trace: '))}`)

  // (c) after the restore: the same loops, and loopLater (first called now).
  for (const k of ['loopLater base', 'loopLater prog']) entries[k] = entry(k)
  rounds(entries, 2)
  const after = rounds(entries, R)

  const CALLERS = {
    loop: how === 'hot' ? 'loop: hot before and while traced' : 'loop: hot before, 101 calls traced',
    loopIdle: 'loopIdle: hot before, idle while traced',
    loopLater: 'loopLater: first called after clear()',
    exports: how === 'hot' ? 'exports: hot before and while traced' : 'exports: hot before, idle while traced',
  }
  const rows = [
    ['(a) before any trace', before, ['loop', 'loopIdle', 'exports']],
    ['(c) after clear()', after, ['loop', 'loopIdle', 'loopLater', 'exports']],
  ]
  for (const [phase, data, callers] of rows) {
    for (const c of callers) {
      const r = compare(data[`${c} base`], data[`${c} prog`])
      // Against (a): the ratio to the twin now over the ratio before, same caller (loopLater:
      // against loopIdle's). Through the twin, so that the machine's drift between phases cancels.
      const a = c === 'loopLater' ? 'loopIdle' : c
      const vsA = r.ratio / compare(before[`${a} base`], before[`${a} prog`]).ratio
      console.log(`${pad(CASE, 12)}${pad(phase, 26)}${pad(CALLERS[c], 42)}${lpad(fmt(r.base), 9)}${lpad(fmt(r.variant), 10)}${lpad(fmt(r.added), 8)}${lpad(fmt(r.ratio), 8)}${lpad(fmt(vsA), 8)}`)
      result({ scenario: 'binding-restore', case: `${CASE}, ${phase.slice(0, 3)}, ${c}`, kind, how, caller: c, base_ns: r.base, ns: r.variant, added_ns: r.added, ratio: r.ratio, vs_before: vsA })
    }
  }
  if (note) console.log(`${pad(CASE, 12)}(${note})`)
  printSink()
}

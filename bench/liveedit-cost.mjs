// Live edit, per call: what a probe put in by live edit costs a hot function, in a process
// started WITHOUT the preload, before any trace, while traced, and after the trace ended and
// the original text is back.
//
//   npm run build && node bench/liveedit-cost.mjs [case...]
//
// bench/fixtures/tiny.cjs's add is called as tiny.add(i, 1) in tight loops (INNER calls per
// invocation of a loop; inlined and megamorphic call sites, bench/common.mjs);
// bench/fixtures/twin.cjs (same code, never traced) is the baseline, timed in the same
// interleaved rounds. Three phases in the same process, with the same loops:
//   (a) before   no trace yet
//   (b) traced   calls(spec, 10_000_000, { scope: 'local', io: () => {} }): live edit puts a
//                probe into add (Debugger.setScriptSource); no call ever matches
//   (c) after    clear(), then the original text back (the next turn of the event loop),
//                checked: the editor's session closed, Debugger.getScriptSource is the file
//   plus, in (c), fresh loops that never ran while add was edited.
// Cases (each in its own process):
//   guard    spec './bench/fixtures/tiny.cjs:add(a, b) when a === "never"' (the guard runs
//            on every call and is false)
//   arity    spec './bench/fixtures/tiny.cjs:add/3' (add is called with 2 arguments: the probe
//            drops the call on its count, before any guard)
// Goals: (b) guard under 10 ns added per call; (c) ratio 1.00 to (a).
import { calls, clear } from 'recon-trace'
import { readFileSync } from 'node:fs'
import { TINY, tiny, twin, makeLoop, makeMegaLoop, calibrate, rounds, compare, ROOT, header, result, printSink, fmt, pad, lpad, runCases, CASE, tick, median, liveEditGated, runningText } from './common.mjs'

// On Node 22 and later a local spec goes to binding swaps unless live edit is asked for: this
// measures live edit, so it asks (children inherit it). RECON_TRACE_LIVE_EDIT=force still wins.
process.env.RECON_TRACE_LIVE_EDIT ??= 'on'

const R = Number(process.env.ROUNDS ?? 7)
const CASES = ['guard', 'arity']
const SPECS = { guard: `${TINY}:add(a, b) when a === "never"`, arity: `${TINY}:add/3` }

if (CASE === undefined) {
  header(`liveedit-cost: ns per call of tiny.add(i, 1), probe put in by live edit (no preload); median of ${R} interleaved rounds`)
  if (!(await liveEditGated('liveedit-cost'))) {
    console.log(`${pad('case', 7)}${pad('phase', 30)}${pad('call site', 13)}${lpad('twin ns', 9)}${lpad('tiny ns', 9)}${lpad('added ns', 10)}${lpad('ratio', 8)}${lpad('vs (a)', 8)}  added min..max`)
    runCases(import.meta.url, CASES, process.argv.slice(2))
  }
} else {
  if (globalThis[Symbol.for('recon-trace.state')]?.registry) throw new Error('run without the preload: this measures live edit')
  const editor = () => globalThis[Symbol.for('recon-trace.state')]?.liveEditor
  const loops = {
    'inlined base': makeLoop('twin, inlined'),
    'inlined prog': makeLoop('tiny (live edit), inlined'),
    'megamorphic base': makeMegaLoop('twin'),
    'megamorphic prog': makeMegaLoop('tiny (live edit)'),
  }
  const entries = {}
  for (const [k, loop] of Object.entries(loops)) {
    const obj = k.endsWith('base') ? twin : tiny
    entries[k] = [loop, obj, calibrate(loop, obj)]
  }
  const original = tiny.add

  // (a) before any trace.
  rounds(entries, 2)
  const before = rounds(entries, R)

  // (b) traced, every call filtered out.
  let lines = 0
  const n = calls(SPECS[CASE], 10_000_000, { scope: 'local', io: () => lines++ })
  if (n !== 1) throw new Error(`selected ${n} functions`)
  if (!editor()?.isOpen) throw new Error('live edit did not open its session')
  rounds(entries, 2) // V8 re-optimizes the loops around the edited add
  const traced = rounds(entries, R)
  if (lines !== 0) throw new Error(`${lines} lines written: the guard/arity should filter every call out`)

  // (c) after clear() and the restore.
  clear()
  await tick()
  await tick()
  for (let i = 0; i < 1000 && editor().isOpen; i++) await tick()
  if (editor().isOpen) throw new Error('the original text is not back after 1000 turns of the event loop')
  if (tiny.add !== original) throw new Error('add is not the same function object')
  // Outside timing: V8 runs the original text again.
  if (runningText('/bench/fixtures/tiny.cjs') !== readFileSync(new URL('./fixtures/tiny.cjs', import.meta.url), 'utf8')) throw new Error('Debugger.getScriptSource is not the original text after the restore')
  const fresh = {
    'fresh inlined base': makeLoop('twin, inlined, after the restore'),
    'fresh inlined prog': makeLoop('tiny, inlined, fresh after the restore'),
    'fresh megamorphic base': makeMegaLoop('twin, after the restore'),
    'fresh megamorphic prog': makeMegaLoop('tiny, fresh after the restore'),
  }
  const after = { ...entries }
  for (const [k, loop] of Object.entries(fresh)) {
    const obj = k.endsWith('base') ? twin : tiny
    after[k] = [loop, obj, calibrate(loop, obj)]
  }
  rounds(after, 2)
  const cleared = rounds(after, R)

  const rows = [
    ['(a) before any trace', '', before],
    ['(b) traced, filtered out', '', traced],
    ['(c) after clear() + restore', '', cleared],
    ['(c) after, new call site', 'fresh ', cleared],
  ]
  for (const [phase, prefix, data] of rows) {
    for (const site of ['inlined', 'megamorphic']) {
      const r = compare(data[`${prefix}${site} base`], data[`${prefix}${site} prog`])
      // Against (a): tiny's ns per call now over tiny's before any trace (same call site; for a
      // new call site, against the (a) loop of the same kind).
      const vsA = r.variant / median(before[`${site} prog`])
      console.log(
        `${pad(CASE, 7)}${pad(phase, 30)}${pad(site, 13)}${lpad(fmt(r.base), 9)}${lpad(fmt(r.variant), 9)}${lpad(fmt(r.added), 10)}${lpad(fmt(r.ratio), 8)}${lpad(fmt(vsA), 8)}  ${fmt(r.spread[0])}..${fmt(r.spread[1])}`,
      )
      result({ scenario: 'liveedit-cost', case: `${CASE}, ${phase}, ${site}`, base_ns: r.base, ns: r.variant, added_ns: r.added, ratio: r.ratio, vs_before: vsA })
    }
  }
  printSink()
}

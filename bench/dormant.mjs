// Dormant: after `clear()` the traced function is the original object again, so calling it
// must cost what it cost before any trace (ratio 1.00 within noise).
//
//   npm run build && node bench/dormant.mjs
//
// The program's hot loops call `tiny.add(i, 1)` (bench/fixtures/tiny.cjs) before any trace,
// while a trace that filters every call out is active (so V8 optimizes them with the wrapper in
// place, as in a long trace in production), and after `clear()`. Each round also times the same
// loops on bench/fixtures/twin.cjs (same code, never traced): the baseline of that round.
// Two kinds of call site: one V8 inlines `add` into, and a megamorphic one it cannot.
// After clear() a third kind: fresh loops that never saw the wrapper.
import { calls, clear } from 'recon-trace'
import { TINY, tiny, twin, drive, makeLoop, makeMegaLoop, rounds, compare, header, result, sink, printSink, fmt, pad, lpad } from './common.mjs'

const N = Number(process.env.N ?? 2e7)
const R = Number(process.env.ROUNDS ?? 7)

header(`dormant: ns per call of tiny.add(i, 1), median of ${R} interleaved rounds x ${N} calls`)

const original = tiny.add
const loops = {
  inlined: { base: makeLoop('twin, inlined'), prog: makeLoop('tiny, inlined') },
  mega: { base: makeMegaLoop('twin'), prog: makeMegaLoop('tiny') },
}
const entries = (l, kind) => ({ [`${kind} base`]: [l.base, twin, N], [`${kind} prog`]: [l.prog, tiny, N] })

// Warm-up: let every loop be optimized before the first timed round.
rounds({ ...entries(loops.inlined, 'inlined'), ...entries(loops.mega, 'mega') }, 2)
const before = rounds({ ...entries(loops.inlined, 'inlined'), ...entries(loops.mega, 'mega') }, R)

// A trace that hooks add but lets no call through (wrong arity): the program keeps running at
// full speed with the wrapper in place, long enough for its loops to be re-optimized with it.
const hooked = calls(`${TINY}:add/3`, 10_000_000, { io: () => {} })
if (hooked !== 1 || tiny.add === original) throw new Error('the trace did not hook tiny.add')
for (let r = 0; r < 3; r++) {
  sink(drive(loops.inlined.prog, tiny, N / 4))
  sink(drive(loops.mega.prog, tiny, N / 4))
}
clear()
if (tiny.add !== original) throw new Error('clear() did not restore the original function')

const fresh = { base: makeLoop('twin, inlined, after clear'), prog: makeLoop('tiny, inlined, fresh after clear') }
const freshMega = { base: makeMegaLoop('twin, after clear'), prog: makeMegaLoop('tiny, fresh after clear') }
const afterEntries = {
  ...entries(loops.inlined, 'inlined'),
  ...entries(loops.mega, 'mega'),
  ...entries(fresh, 'fresh inlined'),
  ...entries(freshMega, 'fresh mega'),
}
rounds(afterEntries, 1)
const after = rounds(afterEntries, R)

console.log(`identity restored after clear(): ${tiny.add === original}`)
console.log(`${pad('phase / call site', 52)}${lpad('twin ns', 9)}${lpad('tiny ns', 9)}${lpad('ratio', 8)}${lpad('added ns', 10)}`)
const rows = [
  ['before any trace', 'inlined', before, 'inlined'],
  ['before any trace', 'megamorphic', before, 'mega'],
  ['after calls()+clear(), same call site', 'inlined', after, 'inlined'],
  ['after calls()+clear(), same call site', 'megamorphic', after, 'mega'],
  ['after clear(), new call site', 'inlined', after, 'fresh inlined'],
  ['after clear(), new call site', 'megamorphic', after, 'fresh mega'],
]
for (const [phase, site, data, key] of rows) {
  const c = compare(data[`${key} base`], data[`${key} prog`])
  console.log(`${pad(`${phase}, ${site}`, 52)}${lpad(fmt(c.base), 9)}${lpad(fmt(c.variant), 9)}${lpad(fmt(c.ratio), 8)}${lpad(fmt(c.added), 10)}`)
  result({ scenario: 'dormant', case: `${phase}, ${site}`, base_ns: c.base, ns: c.variant, ratio: c.ratio, added_ns: c.added })
}
printSink()

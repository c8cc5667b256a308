// Hooked but filtered out: the function is wrapped, the wrapper's matcher says no, the call goes
// straight to the original. Added ns per call above the untraced baseline.
//
//   npm run build && node bench/filtered.mjs [case...]
//
// Cases (each in its own process, so that the wrapper's feedback of one never reaches another):
//   arity      calls('./bench/fixtures/tiny.cjs:add/3', ...) while add is called with 2 arguments
//   predicate  calls(['./bench/fixtures/tiny.cjs', 'add', () => false], ...)
//   guard      calls('./bench/fixtures/tiny.cjs:add(a, _) when a === -1', ...)
//   pattern    calls('./bench/fixtures/tiny.cjs:add(_, -1)', ...): a literal argument pattern
//   arity2     as arity, with a second function of the module hooked too (sub/3) and called:
//              every wrapper is a closure of the same source, so they share V8 feedback.
// Goal: under 5 ns on Node 24 for the arity case. Limit 10_000_000, io: () => {} (nothing is
// ever written: nothing matches). Two call sites per case: one V8 inlines the wrapper into (a
// monomorphic `mod.add(i, 1)` in a hot function), and a megamorphic one it cannot inline into.
// The baseline is the same loops calling bench/fixtures/twin.cjs, same code, never traced,
// timed in the same rounds.
import { calls } from 'recon-trace'
import { TINY, tiny, twin, makeLoop, makeMegaLoop, drive, calibrate, rounds, compare, header, result, sink, printSink, fmt, pad, lpad, runCases, CASE } from './common.mjs'

const R = Number(process.env.ROUNDS ?? 7)
const CASES = {
  arity: { spec: `${TINY}:add/3`, text: "'tiny.cjs:add/3', called with 2 args" },
  predicate: { spec: [TINY, 'add', () => false], text: "[tiny.cjs, 'add', () => false]" },
  guard: { spec: `${TINY}:add(a, _) when a === -1`, text: "'tiny.cjs:add(a, _) when a === -1'" },
  pattern: { spec: `${TINY}:add(_, -1)`, text: "'tiny.cjs:add(_, -1)'" },
  arity2: { spec: [`${TINY}:add/3`, `${TINY}:sub/3`], text: 'add/3 and sub/3 hooked, both called' },
}

const which = CASE
if (which === undefined) {
  header(`filtered: ns per call of tiny.add(i, 1), hooked but filtered out; median of ${R} interleaved rounds`)
  console.log(`${pad('case', 44)}${pad('call site', 13)}${lpad('base ns', 9)}${lpad('traced', 9)}${lpad('added ns', 10)}${lpad('ratio', 8)}  added min..max`)
  runCases(import.meta.url, Object.keys(CASES), process.argv.slice(2))
} else {
  const c = CASES[which]
  const hooked = calls(c.spec, 10_000_000, { io: () => {} })
  if (hooked !== (which === 'arity2' ? 2 : 1)) throw new Error(`hooked ${hooked} functions`)
  if (which === 'arity2') {
    // The other hooked function is called from its own sites, inlined and not.
    const s1 = makeLoop('tiny.sub, inlined', 'obj.sub(i, 1)')
    const s2 = makeMegaLoop('tiny.sub', 'obj.sub(i, 1)')
    for (let r = 0; r < 5; r++) sink(drive(s1, tiny, 1e6) + drive(s2, tiny, 1e6))
  }
  const loops = {
    'inlined base': makeLoop('twin, inlined'),
    'inlined traced': makeLoop('tiny (hooked), inlined'),
    'megamorphic base': makeMegaLoop('twin'),
    'megamorphic traced': makeMegaLoop('tiny (hooked)'),
  }
  const entries = {}
  for (const [k, loop] of Object.entries(loops)) {
    const obj = k.endsWith('base') ? twin : tiny
    entries[k] = [loop, obj, calibrate(loop, obj)]
  }
  rounds(entries, 2)
  const data = rounds(entries, R)
  for (const site of ['inlined', 'megamorphic']) {
    const r = compare(data[`${site} base`], data[`${site} traced`])
    console.log(
      `${pad(`${which}: ${c.text}`, 44)}${pad(site, 13)}${lpad(fmt(r.base), 9)}${lpad(fmt(r.variant), 9)}${lpad(fmt(r.added), 10)}${lpad(fmt(r.ratio), 8)}  ${fmt(r.spread[0])}..${fmt(r.spread[1])}`,
    )
    result({ scenario: 'filtered', case: `${which}, ${site}`, base_ns: r.base, ns: r.variant, added_ns: r.added, ratio: r.ratio })
  }
  printSink()
}

// Load-time probes on a tiny function: what a probe costs per call when no trace selects it
// (dormant), when a trace selects it but filters the call out (live, wrong arity), and after
// the trace ended. Added ns per call above the same function without a probe.
//
//   npm run build && node bench/probe-dormant.mjs [case...]
//
// Each case runs in its own process started with the preload (`--import recon-trace/register`):
// bench/fixtures/tiny.cjs gets probes, bench/fixtures/twin.cjs (same code) is excluded
// (RECON_TRACE_EXCLUDE) and is the baseline, timed in the same interleaved rounds.
//   dormant   no trace: the probe is one load and one branch per call
//   filtered  calls('./bench/fixtures/tiny.cjs:add/3', ..., { scope: 'local' }) while add is called with 2 arguments
//   cleared   the same trace, then clear(): back to dormant
//   guard     calls('./bench/fixtures/tiny.cjs:add(a, b) when a === -1', ..., { scope: 'local' }): live,
//             every call filtered out by the guard
//   pattern   calls('./bench/fixtures/tiny.cjs:add(_, -1)', ...): by a literal argument pattern
// PROBE_FORMAT=module: the same with the ES module fixtures (bench/fixtures/tiny.mjs, twin.mjs),
// whose probes read their slots through the ES module header (src/instrument.ts).
// Goals: dormant under 1 ns per call on Node 24; filtered, guard and pattern under 5 ns.
import { calls, clear } from 'recon-trace'
import { TINY as TINY_CJS, tiny as tinyCjs, twin as twinCjs, makeLoop, makeMegaLoop, drive, calibrate, rounds, compare, header, result, sink, printSink, fmt, pad, lpad, runCases, CASE } from './common.mjs'

const R = Number(process.env.ROUNDS ?? 7)
const ESM = process.env.PROBE_FORMAT === 'module'
const TINY = ESM ? './bench/fixtures/tiny.mjs' : TINY_CJS
const tiny = ESM ? await import('./fixtures/tiny.mjs') : tinyCjs
const twin = ESM ? await import('./fixtures/twin.mjs') : twinCjs
const CASES = ['dormant', 'filtered', 'cleared', 'guard', 'pattern']
const SPECS = { filtered: `${TINY}:add/3`, cleared: `${TINY}:add/3`, guard: `${TINY}:add(a, b) when a === -1`, pattern: `${TINY}:add(_, -1)` }

if (CASE === undefined) {
  header(`probe-dormant: ns per call of tiny.add(i, 1) with a load-time probe${ESM ? ' (ES modules)' : ''}; median of ${R} interleaved rounds`)
  console.log(`${pad('case', 12)}${pad('call site', 13)}${lpad('base ns', 9)}${lpad('probed', 9)}${lpad('added ns', 10)}${lpad('ratio', 8)}  added min..max`)
  process.env.RECON_TRACE_EXCLUDE = `bench/fixtures/twin.${ESM ? 'mjs' : 'cjs'},bench/*.mjs`
  process.env.RECON_TRACE_CACHE = '0'
  runCases(import.meta.url, CASES, process.argv.slice(2), ['--import', 'recon-trace/register'])
} else {
  const reg = globalThis[Symbol.for('recon-trace.state')]?.registry
  const files = reg ? [...reg.files.keys()] : []
  const ext = ESM ? 'mjs' : 'cjs'
  if (!files.some((f) => f.endsWith(`tiny.${ext}`)) || files.some((f) => f.endsWith(`twin.${ext}`))) throw new Error(`expected tiny.${ext} probed and twin.${ext} not: ${files.join(', ')}`)
  if (CASE !== 'dormant') {
    const n = calls(SPECS[CASE], 10_000_000, { scope: 'local', io: () => {} })
    if (n !== 1) throw new Error(`selected ${n} probes`)
  }
  const loops = {
    'inlined base': makeLoop('twin, inlined'),
    'inlined probed': makeLoop('tiny (probed), inlined'),
    'megamorphic base': makeMegaLoop('twin'),
    'megamorphic probed': makeMegaLoop('tiny (probed)'),
  }
  const entries = {}
  for (const [k, loop] of Object.entries(loops)) {
    const obj = k.endsWith('base') ? twin : tiny
    entries[k] = [loop, obj, calibrate(loop, obj)]
  }
  rounds(entries, 2)
  if (CASE === 'cleared') {
    clear()
    rounds(entries, 2)
  }
  const data = rounds(entries, R)
  for (const site of ['inlined', 'megamorphic']) {
    const r = compare(data[`${site} base`], data[`${site} probed`])
    console.log(`${pad(CASE, 12)}${pad(site, 13)}${lpad(fmt(r.base), 9)}${lpad(fmt(r.variant), 9)}${lpad(fmt(r.added), 10)}${lpad(fmt(r.ratio), 8)}  ${fmt(r.spread[0])}..${fmt(r.spread[1])}`)
    result({ scenario: 'probe-dormant', case: `${CASE}, ${site}${ESM ? ', ES module' : ''}`, base_ns: r.base, ns: r.variant, added_ns: r.added, ratio: r.ratio })
  }
  printSink()
}

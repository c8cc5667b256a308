// Load-time probes on a call-heavy real workload: acorn (every one of its functions probed)
// parsing a 1 MB JavaScript file. Each mode runs in its own processes, interleaved:
//   plain     no preload: acorn as published
//   dormant   --import recon-trace/register, RECON_TRACE_INCLUDE=acorn: every function of acorn
//             has a probe, no trace
//   filtered  the same, with a local trace selecting every function of acorn at an arity no call
//             has (`acorn:_/20`): every probe is live and every call is filtered out
//   calls     as dormant, with RECON_TRACE_PROBES=calls: probes that see calls only (the
//             smallest form: no try block, no return capture)
//   lean      as dormant, with RECON_TRACE_PROBES=lean: no probe in the functions a binding
//             holds and acorn only calls through it (308 of its 360), full probes in the rest;
//             a trace reaches the former by binding swaps (Node 22+; Node 20 falls back to full)
// A fourth process counts acorn's calls per parse (a handler that counts every probe's entry),
// so that a time difference reads as ns per call.
//
//   npm run build && node bench/probe-workload.mjs        (PAIRS=7 by default)
//
// Goals: dormant within 5% of plain; filtered under 5 ns added per call (above plain).
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { ROOT, header, result, median, fmt, pad, lpad } from './common.mjs'

const PAIRS = Number(process.env.PAIRS ?? 7)
const PARSES = Number(process.env.PARSES ?? 12)
const mode = process.env.BENCH_MODE

/** The input: real code, about 1 MB, the same in every process. */
function input() {
  const parts = [readFileSync(`${ROOT}/node_modules/lodash/lodash.js`, 'utf8'), readFileSync(`${ROOT}/node_modules/acorn/dist/acorn.js`, 'utf8'), readFileSync(`${ROOT}/node_modules/yaml/dist/compose/composer.js`, 'utf8')]
  let text = ''
  for (let i = 0; text.length < 1_000_000; i++) text += `\n;(function () {\n${parts[i % parts.length]}\n})();\n`
  return text
}

if (mode) {
  const { createRequire } = await import('node:module')
  const require = createRequire(import.meta.url)
  const acorn = require('acorn')
  const src = input()
  const reg = globalThis[Symbol.for('recon-trace.state')]?.registry
  const acornFiles = reg ? [...reg.files.values()].filter((f) => f.filename.includes('/node_modules/acorn/')) : []
  if ((mode === 'plain') !== (acornFiles.length === 0)) throw new Error(`mode ${mode}: ${acornFiles.length} probed acorn files`)
  if (mode === 'filtered') {
    const { calls } = await import('recon-trace')
    const n = calls('acorn:_/20', 10, { scope: 'local', io: () => {} })
    if (n < 100) throw new Error(`only ${n} probes selected`)
  }
  let calls = 0
  if (mode === 'count') {
    // Every probe live, with what ProbeFile.e reads (registry.ts): a live entry that matches every
    // call, and argument counts that let every call through; the handler counts the entries.
    for (const f of acornFiles) {
      f.live = f.s.map(() => ({ match: () => 1, min: 0, max: 1e9, exact: true }))
      f.minArgs = new Int32Array(f.n)
      f.maxArgs = new Int32Array(f.n).fill(1e9)
      f.exactArgs = new Uint8Array(f.n).fill(1)
      f.handler = { enter: () => (calls++, 0), ret() {}, threw() {} }
      for (let i = 0; i < f.s.length; i++) f.s[i] = 1
    }
    acorn.parse(src, { ecmaVersion: 'latest' })
    // A count of zero means the probes were not reached: a figure per call would be meaningless.
    if (calls === 0) throw new Error(`count: no call of acorn's ${acornFiles.length} probed files was counted`)
    console.log(JSON.stringify({ calls, probes: acornFiles.reduce((a, f) => a + f.n, 0) }))
  } else {
    for (let i = 0; i < 3; i++) acorn.parse(src, { ecmaVersion: 'latest' })
    const ms = []
    for (let i = 0; i < PARSES; i++) {
      const t = process.hrtime.bigint()
      acorn.parse(src, { ecmaVersion: 'latest' })
      ms.push(Number(process.hrtime.bigint() - t) / 1e6)
    }
    console.log(JSON.stringify({ ms: median(ms), bytes: src.length }))
  }
} else {
  header(`probe-workload: acorn parsing 1 MB, ms per parse (median of ${PARSES} in a process), ${PAIRS} processes per mode, interleaved`)
  const run = (m) => {
    const preload = m === 'plain' ? [] : ['--import', 'recon-trace/register']
    const r = spawnSync(process.execPath, [...preload, new URL(import.meta.url).pathname], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, BENCH_MODE: m, RECON_TRACE_INCLUDE: 'acorn', RECON_TRACE_EXCLUDE: 'bench/*.mjs', RECON_TRACE_CACHE: '0', RECON_TRACE_PROBES: m === 'calls' || m === 'lean' ? m : 'full' },
    })
    if (r.status !== 0) throw new Error(`${m}: ${r.stderr}`)
    return JSON.parse(r.stdout.trim().split('\n').pop())
  }
  const { calls, probes } = run('count')
  const modes = (process.env.MODES ?? 'plain,dormant,lean,filtered,calls').split(',')
  const ms = Object.fromEntries(modes.map((m) => [m, []]))
  let bytes = 0
  for (let p = 0; p < PAIRS; p++) {
    for (const m of modes) {
      const r = run(m)
      ms[m].push(r.ms)
      bytes = r.bytes
    }
  }
  const ratios = (m) => ms[m].map((x, i) => x / ms.plain[i])
  console.log(`input ${(bytes / 1e6).toFixed(2)} MB; acorn: ${probes} functions probed, ${(calls / 1e6).toFixed(2)} million calls per parse`)
  console.log(`${pad('mode', 10)}${lpad('ms/parse', 10)}${lpad('ratio', 8)}  ratio min..max${lpad('added ns/call', 16)}`)
  for (const m of modes) {
    const rs = ratios(m)
    const added = ((median(ms[m]) - median(ms.plain)) * 1e6) / calls
    console.log(`${pad(m, 10)}${lpad(fmt(median(ms[m]), 1), 10)}${lpad(fmt(median(rs), 3), 8)}  ${fmt(Math.min(...rs), 3)}..${fmt(Math.max(...rs), 3)}${lpad(m === 'plain' ? '' : fmt(added), 16)}`)
    result({ scenario: 'probe-workload', case: m, ms: median(ms[m]), ratio: median(rs), added_ns: m === 'plain' ? 0 : added, calls })
  }
}

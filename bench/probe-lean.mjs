// The preload's lean form against plain and fully probed code, in one process: five copies of
// acorn's dist/acorn.js, each parsing the 1.35 MB input of probe-workload.mjs in turn, the order
// rotated every round:
//   plain   as published
//   twin    a second plain copy: its ratio is this measurement's floor
//   full    every function probed, as RECON_TRACE_PROBES=full writes it
//   lean    what RECON_TRACE_PROBES=lean writes: no probe in the 308 functions a binding holds
//           and acorn only calls through it, full probes in the other 52
//   leanx   lean, with acorn's exports left without a probe too (isIdentifierChar, Node...): not
//           a form the preload writes (a caller may hold an export from before a trace, which a
//           binding swap does not reach), the bound of what leaving functions to bindings gives This machine's speed moves by up to 2x between minutes, which
// separate processes per form (probe-workload.mjs, probe-forms.mjs) cannot tell from a cost:
// here each round's parses run within a second of each other, and a form's figure is the
// median of its parses over the median of plain's, in the same process; then the median over
// the processes. (Single rounds are no measure: a collection lands in one parse or another, and
// moves a round's ratios by up to 50 %. A collection before each parse, with --expose-gc, made
// every parse 3x slower, the heap grown again each time: another workload.)
//
// Each copy is its own module (its own functions and feedback); the process runs with the
// preload (the copies' headers register in its registry) and the copies are not rewritten again
// (RECON_TRACE_EXCLUDE). PROCS processes (default 3), each WARM rounds of warm-up then ROUNDS
// timed rounds. Where binding swaps cannot run (Node 20), lean is what the preload would not
// write there; it is measured all the same, as the form.
//
//   npm run build && node bench/probe-lean.mjs        (PROCS=3 WARM=15 ROUNDS=30)
//
// Goal (issue 14): the lean form <= 1.02 of plain.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT, header, result, median, fmt, pad, lpad, require } from './common.mjs'

const PROCS = Number(process.env.PROCS ?? 3)
const WARM = Number(process.env.WARM ?? 15)
const ROUNDS = Number(process.env.ROUNDS ?? 30)
const FORMS = ['plain', 'twin', 'full', 'lean', 'leanx']
// A form's copy is a file of its own: plain and twin have the same text, and no header.

if (process.env.BENCH_DIR) {
  const dir = process.env.BENCH_DIR
  const parsers = FORMS.map((f) => require(join(dir, `${f}.js`)).parse)
  const reg = globalThis[Symbol.for('recon-trace.state')]?.registry
  const files = reg ? [...reg.files.values()].filter((f) => f.filename.startsWith(dir)) : []
  // plain and twin have no header; full, lean and leanx registered, lean and leanx with their bound functions marked.
  const bound = files.map((f) => f.probes.filter((p) => p.bound === true).length).sort((a, b) => a - b)
  if (files.length !== 3 || bound[0] !== 0 || bound[1] < 300) throw new Error(`the copies did not register as written: ${JSON.stringify(bound)}`)
  const parts = ['lodash/lodash.js', 'acorn/dist/acorn.js', 'yaml/dist/compose/composer.js'].map((f) => readFileSync(join(ROOT, 'node_modules', f), 'utf8'))
  let text = ''
  for (let i = 0; text.length < 1_000_000; i++) text += `\n;(function () {\n${parts[i % parts.length]}\n})();\n`
  const o = { ecmaVersion: 'latest' }
  const ms = FORMS.map(() => [])
  for (let round = 0; round < WARM + ROUNDS; round++) {
    const times = FORMS.map(() => 0)
    for (let k = 0; k < FORMS.length; k++) {
      const i = (round + k) % FORMS.length
      const t = process.hrtime.bigint()
      parsers[i](text, o)
      times[i] = Number(process.hrtime.bigint() - t) / 1e6
    }
    if (round >= WARM) for (let i = 0; i < FORMS.length; i++) ms[i].push(times[i])
  }
  console.log(JSON.stringify({ ms }))
} else {
  header(`probe-lean: acorn parsing 1.35 MB, plain / full / lean copies in one process, ${ROUNDS} rounds after ${WARM}, ${PROCS} processes`)
  const { instrument } = require('../dist/cjs/instrument.js')
  const src = readFileSync(join(ROOT, 'node_modules/acorn/dist/acorn.js'), 'utf8')
  const dir = mkdtempSync(join(tmpdir(), 'recon-trace-lean-'))
  try {
    const lean = instrument(src, { filename: join(dir, 'lean.js'), format: 'commonjs', map: false, bind: true })
    const probed = lean.probes.filter((p) => p.bound !== true).length
    writeFileSync(join(dir, 'plain.js'), src)
    writeFileSync(join(dir, 'twin.js'), src)
    writeFileSync(join(dir, 'full.js'), instrument(src, { filename: join(dir, 'full.js'), format: 'commonjs', map: false }).code)
    writeFileSync(join(dir, 'lean.js'), lean.code)
    const exported = new Set(Object.keys(require('acorn')))
    const leanx = instrument(src, { filename: join(dir, 'leanx.js'), format: 'commonjs', map: false, bind: true, select: (f) => !exported.has(f.name) })
    writeFileSync(join(dir, 'leanx.js'), leanx.code)
    const all = FORMS.map(() => [])
    const ratios = Object.fromEntries(FORMS.map((f) => [f, []]))
    for (let p = 0; p < PROCS; p++) {
      const r = spawnSync(process.execPath, ['--require', join(ROOT, 'dist/cjs/preload.js'), new URL(import.meta.url).pathname], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, BENCH_DIR: dir, RECON_TRACE_EXCLUDE: `${dir}/**`, RECON_TRACE_CACHE: '0', BENCH_CHILD: '1' },
      })
      if (r.status !== 0) throw new Error(r.stderr)
      const { ms } = JSON.parse(r.stdout.trim().split('\n').pop())
      ms.forEach((xs, i) => all[i].push(median(xs)))
      FORMS.forEach((f, i) => ratios[f].push(median(ms[i]) / median(ms[0])))
    }
    const probedx = leanx.probes.filter((p) => p.bound !== true).length
    console.log(`acorn: ${lean.probes.length} functions; lean: ${lean.probes.length - probed} left to bindings, ${probed} probed; leanx: ${probedx} probed`)
    console.log(`${pad('form', 8)}${lpad('median ms', 11)}${lpad('ratio', 8)}  ratio min..max over ${PROCS} processes`)
    for (const [i, form] of FORMS.entries()) {
      if (form === 'plain') {
        console.log(`${pad(form, 8)}${lpad(fmt(median(all[i]), 1), 11)}${lpad('1.000', 8)}`)
        continue
      }
      const rs = ratios[form]
      console.log(`${pad(form, 8)}${lpad(fmt(median(all[i]), 1), 11)}${lpad(fmt(median(rs), 3), 8)}  ${fmt(Math.min(...rs), 3)}..${fmt(Math.max(...rs), 3)}`)
      result({ scenario: 'probe-lean', case: form, ratio: median(rs), ms: median(all[i]), base_ms: median(all[0]) })
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

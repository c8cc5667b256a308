// What rewritten ES modules cost at start-up, their probes dormant: the ES module program of
// bench/probe-load.mjs (MODULES x FUNCTIONS), plain and rewritten as the preload rewrites it
// (instrument(), no source map), each started RUNS times (default 15) without the preload (the
// probes' inert stand-in: loading and running the larger code is what is measured),
// interleaved; medians, and the ratio against plain.
//
//   npm run build && node bench/esm-header.mjs
//
// The header once imported a data: module per file that registered it before the body ran: one
// more module record per file. Commit a82df1f's version of this file measured it against the
// header of today (slots on a hoisted function of the module): x1.60 -> x1.42 of a plain start
// on Node 24 (docs/benchmarks.md).
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT, header, result, median, fmt, pad, lpad } from './common.mjs'
import { generate } from './fixtures/program.mjs'

const RUNS = Number(process.env.RUNS ?? 15)
const MODULES = Number(process.env.MODULES ?? 200)
const FUNCTIONS = Number(process.env.FUNCTIONS ?? 20)
header(`esm-header: ${MODULES} ES modules x ${FUNCTIONS} functions, plain and rewritten, ${RUNS} runs each`)

const { instrument } = await import(`${ROOT}/dist/esm/instrument.js`)
const root = mkdtempSync(join(tmpdir(), 'rt-esm-header-'))
const dirs = { plain: join(root, 'plain'), rewritten: join(root, 'rewritten') }
for (const d of Object.values(dirs)) mkdirSync(d)
generate(dirs.plain, true, MODULES, FUNCTIONS)
for (const name of readdirSync(dirs.plain)) {
  const filename = join(dirs.plain, name)
  const r = instrument(readFileSync(filename, 'utf8'), { filename, format: 'module', map: false })
  if (r.code.includes('data:text/javascript')) throw new Error(`${name}: a data: module in the header`)
  writeFileSync(join(dirs.rewritten, name), r.code)
}

const ways = [
  ['plain', join(dirs.plain, 'main.mjs')],
  ['rewritten, probes dormant', join(dirs.rewritten, 'main.mjs')],
]
const env = { ...process.env }
delete env.NODE_OPTIONS
const out = ways.map(([, file]) => spawnSync(process.execPath, [file], { env, encoding: 'utf8' }))
for (const [i, o] of out.entries()) if (o.status !== 0 || o.stdout !== out[0].stdout) throw new Error(`${ways[i][0]}: ${o.stderr || o.stdout}`)
const ms = ways.map(() => [])
for (let r = -1; r < RUNS; r++)
  ways.forEach(([, file], i) => {
    const t = performance.now()
    spawnSync(process.execPath, [file], { env })
    if (r >= 0) ms[i].push(performance.now() - t)
  })
rmSync(root, { recursive: true, force: true })

console.log(`${pad('program', 50)}${lpad('ms', 8)}${lpad('ratio', 8)}`)
const base = median(ms[0])
ways.forEach(([name], i) => {
  const m = median(ms[i])
  console.log(`${pad(name, 50)}${lpad(fmt(m, 1), 8)}${lpad(fmt(m / base), 8)}`)
  if (i) result({ scenario: 'esm-header', case: name, ms: m, ratio: m / base })
})

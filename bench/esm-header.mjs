// What the ES module probe header costs at start-up: each rewritten ES module imports a data:
// module of its own that registers the file before the module's body runs (src/instrument.ts),
// one more module record per file. Issue 14's ES module warm start is above CommonJS's by about
// this much.
//
//   npm run build && node bench/esm-header.mjs
//
// The ES module program of bench/probe-load.mjs (MODULES x FUNCTIONS), written three ways:
// plain; rewritten as the preload rewrites it (instrument(), no source map), the data: module
// header; and, as an experiment the preload does not do, the same code with the header
// `var $rtP=<registration>;function $rtS(){}` (slots on a hoisted function declaration, which
// exists before any module body runs: no data: module). Each started RUNS times (default 15)
// without the preload (the probes' inert stand-in: the module loading is what is measured),
// interleaved; medians, and ratios against plain. In the experiment an empty slot reads
// `undefined`, which the entry check (`!==0`) takes for armed: every call goes to the stand-in's
// `e()`, so its figure is, if anything, high.
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT, header, result, median, fmt, pad, lpad } from './common.mjs'
import { generate } from './fixtures/program.mjs'

const RUNS = Number(process.env.RUNS ?? 15)
const MODULES = Number(process.env.MODULES ?? 200)
const FUNCTIONS = Number(process.env.FUNCTIONS ?? 20)
header(`esm-header: ${MODULES} ES modules x ${FUNCTIONS} functions, plain, rewritten, and with the experimental header, ${RUNS} runs each`)

const { instrument } = await import(`${ROOT}/dist/esm/instrument.js`)
const root = mkdtempSync(join(tmpdir(), 'rt-esm-header-'))
const dirs = { plain: join(root, 'plain'), rewritten: join(root, 'rewritten'), hoisted: join(root, 'hoisted') }
for (const d of Object.values(dirs)) mkdirSync(d)
generate(dirs.plain, true, MODULES, FUNCTIONS)
let changed = 0
for (const name of readdirSync(dirs.plain)) {
  const filename = join(dirs.plain, name)
  const source = readFileSync(filename, 'utf8')
  const r = instrument(source, { filename, format: 'module', map: false })
  writeFileSync(join(dirs.rewritten, name), r.code)
  // The data: module's text is `const p=<registration>;export const s=p.s;export{p};`.
  const m = /import\{s as (\$\w+),p as (\$\w+)\}from"(data:text\/javascript,[^"]*)";/.exec(r.code)
  let hoisted = r.code
  if (m) {
    const data = decodeURIComponent(m[3].slice('data:text/javascript,'.length))
    const registration = /^const p=(.*);export const s=p\.s;export\{p\};$/.exec(data)
    if (!registration) throw new Error(`the data: module of ${name} has another shape: ${data.slice(0, 80)}`)
    hoisted = r.code.replace(m[0], () => `var ${m[2]}=${registration[1]};function ${m[1]}(){};`)
    changed++
  }
  writeFileSync(join(dirs.hoisted, name), hoisted)
}
if (changed < MODULES) throw new Error(`only ${changed} of ${MODULES} modules have the data: module header`)

const ways = [
  ['plain', join(dirs.plain, 'main.mjs')],
  ['rewritten: data: module header (as today)', join(dirs.rewritten, 'main.mjs')],
  ['rewritten: hoisted-function header (experiment)', join(dirs.hoisted, 'main.mjs')],
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

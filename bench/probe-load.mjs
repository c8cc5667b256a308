// Load-time cost of the preload: how fast files are rewritten, and how much longer a program
// that loads a large module graph takes to start with the preload than without.
//
//   npm run build && node bench/probe-load.mjs
//
// 1. Rewrite throughput: instrument() (parse, probes, map composed, inline map comment) over
//    real files, warm (after 300 ms of passes on the file), in MB/s; acorn's parse alone for
//    reference. "all": the bytes of all files over the time of one pass of each.
// 2. Start-up: a generated program of MODULES modules x FUNCTIONS functions (CommonJS, and the
//    same as ES modules), started RUNS times each way, interleaved: plain; with
//    `--import recon-trace/register` and no cache (every file rewritten: a first start); with a
//    warm cache (RECON_TRACE_CACHE, a restart: the rewritten files and, on Node 22+, V8's compile
//    cache the preload turns on beside them); and cached with RECON_TRACE_PROBES=calls (the
//    smallest probes). Medians of wall time.
// Goals: rewrite at least 10 MB/s; start-up under 1.3x on the first start, under 1.05x cached.
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT, header, result, median, fmt, pad, lpad } from './common.mjs'
import { generate } from './fixtures/program.mjs'

const RUNS = Number(process.env.RUNS ?? 7)
const MODULES = Number(process.env.MODULES ?? 200)
const FUNCTIONS = Number(process.env.FUNCTIONS ?? 20)

header(`probe-load: rewrite throughput, and start-up of ${MODULES} modules x ${FUNCTIONS} functions with and without the preload`)

// 1. Throughput.
const { instrument, inlineMapComment } = await import(`${ROOT}/dist/esm/instrument.js`)
const { Parser } = await import(`${ROOT}/node_modules/acorn/dist/acorn.mjs`)
const corpus = [
  ['acorn.js (CJS)', 'node_modules/acorn/dist/acorn.js', 'commonjs'],
  ['lodash.js (CJS)', 'node_modules/lodash/lodash.js', 'commonjs'],
  ['marked.esm.js (ESM)', 'node_modules/marked/lib/marked.esm.js', 'module'],
  ['typescript.js (CJS, 9 MB)', 'node_modules/typescript/lib/typescript.js', 'commonjs'],
]
console.log(`${pad('file', 28)}${lpad('MB', 7)}${lpad('probes', 8)}${lpad('rewrite MB/s', 14)}${lpad('parse MB/s', 12)}`)
let totalBytes = 0
let totalMs = 0
for (const [name, path, format] of corpus) {
  const src = readFileSync(join(ROOT, path), 'utf8')
  const once = () => {
    const r = instrument(src, { filename: join(ROOT, path), format })
    return r.code.length + inlineMapComment(r.map).length + r.probes.length
  }
  // Warm the rewriter up on this file (at least 2 passes and 300 ms), then time passes for at
  // least 500 ms: a 50 KB file is otherwise measured mostly by its JIT warm-up.
  const repeat = (fn, minMs, minPasses) => {
    let passes = 0
    const t0 = performance.now()
    while (passes < minPasses || performance.now() - t0 < minMs) {
      fn()
      passes++
    }
    return (performance.now() - t0) / passes
  }
  repeat(once, 300, 2)
  const ms = repeat(once, 500, 2)
  const parse = () => Parser.parse(src, { ecmaVersion: 'latest', sourceType: format === 'module' ? 'module' : 'script' })
  repeat(parse, 200, 2)
  const parseMs = repeat(parse, 300, 2)
  const mb = src.length / 1e6
  totalBytes += src.length
  totalMs += ms
  const probes = instrument(src, { filename: join(ROOT, path), format }).probes.length
  console.log(`${pad(name, 28)}${lpad(fmt(mb), 7)}${lpad(probes, 8)}${lpad(fmt(mb / (ms / 1000), 1), 14)}${lpad(fmt(mb / (parseMs / 1000), 1), 12)}`)
  result({ scenario: 'probe-load', case: `rewrite ${name}`, mb_per_s: mb / (ms / 1000), parse_mb_per_s: mb / (parseMs / 1000) })
}
console.log(`${pad('all', 28)}${lpad(fmt(totalBytes / 1e6), 7)}${lpad('', 8)}${lpad(fmt(totalBytes / 1e6 / (totalMs / 1000), 1), 14)}`)
result({ scenario: 'probe-load', case: 'rewrite all', mb_per_s: totalBytes / 1e6 / (totalMs / 1000) })

// 2. Start-up.

const root = mkdtempSync(join(tmpdir(), 'recon-trace-load-'))
try {
  for (const esm of [false, true]) {
    const dir = join(root, esm ? 'esm' : 'cjs')
    mkdirSync(dir)
    const bytes = generate(dir, esm, MODULES, FUNCTIONS)
    const cache = join(root, `cache-${esm ? 'esm' : 'cjs'}`)
    const main = join(dir, `main.${esm ? 'mjs' : 'cjs'}`)
    const start = (preload, cacheDir, probes = 'full') => {
      const t = process.hrtime.bigint()
      const r = spawnSync(process.execPath, [...(preload ? ['--import', 'recon-trace/register'] : []), main], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, RECON_TRACE_CACHE: cacheDir ?? '0', RECON_TRACE_PROBES: probes, NODE_OPTIONS: '' },
      })
      const ms = Number(process.hrtime.bigint() - t) / 1e6
      if (r.status !== 0) throw new Error(r.stderr)
      return { ms, out: r.stdout }
    }
    const plainOut = start(false).out
    if (start(true).out !== plainOut) throw new Error('the program printed something else with the preload')
    // One cache directory per probe form: V8's compile cache (in <cache>/v8, Node 22+) keeps one
    // entry per file, which two forms of the same file would replace at every start.
    const callsCache = `${cache}-calls`
    start(true, cache) // fills the cache
    start(true, callsCache, 'calls')
    const ms = { plain: [], first: [], cached: [], calls: [] }
    for (let r = 0; r < RUNS; r++) {
      ms.plain.push(start(false).ms)
      ms.first.push(start(true).ms)
      ms.cached.push(start(true, cache).ms)
      ms.calls.push(start(true, callsCache, 'calls').ms)
    }
    const label = esm ? 'ES modules' : 'CommonJS'
    const fns = MODULES * (FUNCTIONS * 2 + 3)
    console.log(`\nstart-up, ${label}: ${MODULES} files, ${(bytes / 1e6).toFixed(2)} MB, ${fns} functions (named functions, their callbacks, methods)`)
    console.log(`${pad('start', 26)}${lpad('ms', 9)}${lpad('ratio', 8)}  ratio min..max`)
    for (const k of ['plain', 'first', 'cached', 'calls']) {
      const ratios = ms[k].map((x, i) => x / ms.plain[i])
      const name = { plain: 'plain', first: 'preload, no cache', cached: 'preload, cache warm', calls: 'cache warm, probes=calls' }[k]
      console.log(`${pad(name, 26)}${lpad(fmt(median(ms[k]), 1), 9)}${lpad(fmt(median(ratios), 3), 8)}  ${fmt(Math.min(...ratios), 3)}..${fmt(Math.max(...ratios), 3)}`)
      result({ scenario: 'probe-load', case: `start-up ${label}, ${name}`, ms: median(ms[k]), ratio: median(ratios) })
    }
  }
} finally {
  rmSync(root, { recursive: true, force: true })
}

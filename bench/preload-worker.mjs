// What the preload adds to starting a worker thread: a preloaded process gives each worker the
// preload (src/register.ts, preloadWorkers: `--require` in the worker's execArgv), and it runs
// in the worker before the worker's first line.
//
//   npm run build && node bench/preload-worker.mjs
//   OTHER_PRELOAD=/other/checkout/dist/cjs/preload.js node bench/preload-worker.mjs   # A/B
//
// One process starts WORKERS workers per way (default 60), one at a time, the ways interleaved
// (plain, preloaded, plain, ...: the machine's drift falls on every way alike), each timed from
// `new Worker` to its first message (its first line ran). Medians, and the milliseconds added to
// the plain start. The rewrite cache is warm (the worker's code is eval'd: nothing to rewrite).
import { Worker } from 'node:worker_threads'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT, header, result, median, fmt, pad, lpad } from './common.mjs'

const WORKERS = Number(process.env.WORKERS ?? 60)
header(`preload-worker: starting a worker thread, plain and preloaded, ${WORKERS} workers each`)

const dir = mkdtempSync(join(tmpdir(), 'rt-preload-worker-'))
const env = { ...process.env, RECON_TRACE_CACHE: join(dir, 'cache') }
delete env.NODE_OPTIONS
const ways = [
  ['plain', []],
  ['preloaded (--require)', ['--require', join(ROOT, 'dist/cjs/preload.js')]],
]
if (process.env.OTHER_PRELOAD) ways.push([`preloaded, ${process.env.OTHER_PRELOAD}`, ['--require', process.env.OTHER_PRELOAD]])

function start(execArgv) {
  return new Promise((ok, fail) => {
    const t = performance.now()
    const w = new Worker("require('node:worker_threads').parentPort.postMessage(1)", { eval: true, execArgv, env })
    w.once('error', fail)
    w.once('message', () => {
      const ms = performance.now() - t
      w.terminate().then(() => ok(ms), fail)
    })
  })
}

const ms = ways.map(() => [])
for (let r = -3; r < WORKERS; r++) {
  for (let i = 0; i < ways.length; i++) {
    const t = await start(ways[i][1])
    if (r >= 0) ms[i].push(t)
  }
}
rmSync(dir, { recursive: true, force: true })

console.log(`${pad('worker start', 40)}${lpad('ms', 8)}${lpad('added', 8)}`)
const base = median(ms[0])
ways.forEach(([name], i) => {
  const m = median(ms[i])
  console.log(`${pad(name, 40)}${lpad(fmt(m, 1), 8)}${lpad(i ? `${m >= base ? '+' : ''}${fmt(m - base, 1)}` : '', 8)}`)
  if (i) result({ scenario: 'preload-worker', case: name, ms: m, added_ms: m - base, ratio: m / base })
})

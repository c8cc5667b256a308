// The preload's fixed cost: how much later a small program starts with
// `--require recon-trace/register` or `--import recon-trace/register` than without, with the
// rewrite cache warm (a restart), when the program itself loads nothing to instrument.
//
//   npm run build && node bench/preload-start.mjs
//
// Two programs: one line that ends in its first turn of the event loop (a script), and the same
// line with one more turn (a timer of 1 ms: a service, in miniature), which is when the agent
// opens its socket (src/startup.ts). RUNS processes each way (default 21), interleaved (plain,
// --require, --import, plain, ...), wall time from spawn to exit, medians; the added
// milliseconds are what every preloaded start pays. The first-line columns split the preload's
// own time (measured inside the process with performance.now(): the program prints when its
// first line ran).
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT, header, result, median, fmt, pad, lpad } from './common.mjs'

const RUNS = Number(process.env.RUNS ?? 21)
header(`preload-start: a one-line program, plain and preloaded (warm cache), ${RUNS} runs each`)

const dir = mkdtempSync(join(tmpdir(), 'rt-preload-start-'))
// performance.now() at the program's first line: the time since the process started.
const programs = [
  ['ends in its first turn', 'one.cjs', 'process.stdout.write(String(performance.now()))\n'],
  ['one more turn (1 ms timer)', 'turn.cjs', 'process.stdout.write(String(performance.now()))\nsetTimeout(() => {}, 1)\n'],
]
for (const [, file, text] of programs) writeFileSync(join(dir, file), text)
const env = { ...process.env, RECON_TRACE_CACHE: join(dir, 'cache') }
delete env.NODE_OPTIONS

const ways = [
  ['plain', []],
  ['--require recon-trace/register', ['--require', join(ROOT, 'dist/cjs/preload.js')]],
  ['--import recon-trace/register', ['--import', `file://${join(ROOT, 'dist/esm/preload.js')}`]],
]
const wall = programs.map(() => ways.map(() => []))
const first = programs.map(() => ways.map(() => []))
// Two warm-up rounds fill the caches (rewrite cache, V8's compile cache) and the file system's.
for (let r = -2; r < RUNS; r++) {
  programs.forEach(([, file], p) =>
    ways.forEach(([, flags], i) => {
      const t0 = performance.now()
      const out = spawnSync(process.execPath, [...flags, join(dir, file)], { env, encoding: 'utf8' })
      const ms = performance.now() - t0
      if (out.status !== 0) throw new Error(`${ways[i][0]}: ${out.stderr}`)
      if (r < 0) return
      wall[p][i].push(ms)
      first[p][i].push(Number(out.stdout))
    }),
  )
}
rmSync(dir, { recursive: true, force: true })

programs.forEach(([program], p) => {
  console.log(`\n${program}`)
  console.log(`${pad('start', 34)}${lpad('wall ms', 9)}${lpad('added', 8)}${lpad('first line ms', 15)}${lpad('added', 8)}`)
  const base = median(wall[p][0])
  const baseFirst = median(first[p][0])
  ways.forEach(([name], i) => {
    const w = median(wall[p][i])
    const f = median(first[p][i])
    console.log(`${pad(name, 34)}${lpad(fmt(w, 1), 9)}${lpad(i ? `+${fmt(w - base, 1)}` : '', 8)}${lpad(fmt(f, 1), 15)}${lpad(i ? `+${fmt(f - baseFirst, 1)}` : '', 8)}`)
    if (i) result({ scenario: 'preload-start', case: `${name}, ${program}`, ms: w, added_ms: w - base, ratio: w / base, first_line_added_ms: f - baseFirst })
  })
})

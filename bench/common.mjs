// Shared helpers of the benchmarks in bench/ (not a scenario itself: bench/run.mjs does not run it).
//
// Conventions every scenario follows:
// - it runs in a fresh process (bench/run.mjs starts one per scenario; a scenario with several
//   cases starts one more per case), so the JIT state of one case never leaks into another;
// - it imports the built package the way users do (`import { calls, clear } from 'recon-trace'`);
// - it compares against an untraced baseline measured in the same process, rounds interleaved
//   (baseline, variant, baseline, variant...) so that drift (frequency scaling, a noisy
//   neighbour) hits both alike, and reports medians over the rounds;
// - every result flows into a sink that is printed at the end, so nothing is dead code;
// - it prints a human-readable report, and, when BENCH_JSON is set (bench/run.mjs sets it),
//   one `@@result {json}` line per figure for the summary.
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { cpus } from 'node:os'
import { spawnSync } from 'node:child_process'

/** The repository root. Specs name the fixture relative to it, so scenarios run from there. */
export const ROOT = fileURLToPath(new URL('..', import.meta.url))
process.chdir(ROOT)

export const require = createRequire(import.meta.url)

/** The fixture that gets traced, and an identical twin that never is (the baseline). */
export const TINY = './bench/fixtures/tiny.cjs'
export const tiny = require('./fixtures/tiny.cjs')
export const twin = require('./fixtures/twin.cjs')

export const now = () => Number(process.hrtime.bigint())

export function median(xs) {
  const s = xs.slice().sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

/**
 * Run `script` again in `runs` fresh processes with `args` (each prints `{"ns": ...}` on stdout)
 * and return the median: for micro-benchmarks whose timing loop would otherwise see every case
 * and turn megamorphic.
 */
export function medianOfProcesses(script, args, runs) {
  const ns = []
  for (let r = 0; r < runs; r++) {
    const out = spawnSync(process.execPath, [script, ...args], { encoding: 'utf8', env: process.env })
    if (out.status !== 0) throw new Error(out.stderr)
    ns.push(JSON.parse(out.stdout).ns)
  }
  return median(ns)
}

/** Everything computed goes here; printed at the end so no loop is dead code. */
let sinkValue = 0
export function sink(v) {
  sinkValue = (sinkValue + (typeof v === 'number' ? v : 1)) | 0
}
export function printSink() {
  console.log(`(sink ${sinkValue})`)
}

export function header(title) {
  if (!process.env.BENCH_CHILD) {
    console.log(`node ${process.version} (V8 ${process.versions.v8}), ${cpus()[0].model}, ${cpus().length} cores`)
  }
  console.log(title)
}

/** One figure for bench/run.mjs's summary (only when BENCH_JSON is set). */
export function result(r) {
  if (process.env.BENCH_JSON) console.log(`@@result ${JSON.stringify(r)}`)
}

let loopId = 0
/** Calls per invocation of a timing loop. */
export const INNER = 1000
/**
 * A timing loop: a function calling `obj.add(i, 1)` INNER times, which `time()` calls over and
 * over, as a program calls its hot functions (so V8 optimizes it the usual way, not only by
 * on-stack replacement). Each loop is compiled from its own source text (a unique comment), so it
 * has its own bytecode and feedback: what one loop learns (which function it calls, whether that
 * function is inlined) does not leak into another.
 */
export function makeLoop(label, call = 'obj.add(i, 1)') {
  return new Function(
    'obj',
    `// loop ${++loopId}: ${label}
    let s = 0
    for (let i = 0; i < ${INNER}; i++) s = (s + ${call}) | 0
    return s`,
  )
}

/** Call `loop(obj)` n / INNER times (at least once); the driver's own call site is megamorphic, so it never inlines a loop. */
export function drive(loop, obj, n) {
  let s = 0
  for (let k = Math.max(1, Math.round(n / INNER)); k > 0; k--) s = (s + loop(obj)) | 0
  return s
}

/** Objects with an `add` (and `sub`) of their own (distinct functions, distinct shapes) to make a call site megamorphic. */
export const decoys = [
  { add: (a, b) => a - b, sub: (a, b) => a + b },
  { x: 1, add: (a, b) => a * b, sub: (a, b) => a | b },
  { y: 2, z: 3, add: (a, b) => a ^ b, sub: (a, b) => a & b },
]

/**
 * A loop whose call `obj.add(...)` V8 cannot inline: before timing, the call site has seen three
 * other functions, so its feedback is megamorphic and optimized code calls through the generic
 * call path. That is the situation of a function called from a shared helper, a dispatcher or
 * an event emitter.
 */
export function makeMegaLoop(label, call) {
  const loop = makeLoop(`${label} (megamorphic call site)`, call)
  for (let r = 0; r < 3; r++) for (const d of decoys) sink(drive(loop, d, 2000))
  return loop
}

/** Make n calls through `loop` and return ns per call. */
export function time(loop, obj, n) {
  const calls = Math.max(1, Math.round(n / INNER)) * INNER
  const t = now()
  sink(drive(loop, obj, n))
  return (now() - t) / calls
}

/**
 * Interleaved rounds: each round times every entry once, in order. Returns, per entry, the
 * median ns per call over the rounds. `entries`: { name: [loop, obj, n] }.
 */
export function rounds(entries, R) {
  const out = {}
  for (const k of Object.keys(entries)) out[k] = []
  for (let r = 0; r < R; r++) {
    for (const [k, [loop, obj, n]] of Object.entries(entries)) out[k].push(time(loop, obj, n))
  }
  return out
}

/** Per-round added cost and ratio of `variant` over `base` (arrays of ns per call from the same rounds). */
export function compare(base, variant) {
  const added = variant.map((v, i) => v - base[i])
  const ratio = variant.map((v, i) => v / base[i])
  return { base: median(base), variant: median(variant), added: median(added), ratio: median(ratio), spread: [Math.min(...added), Math.max(...added)] }
}

export const fmt = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : String(x))
export const pad = (s, n) => String(s).padEnd(n)
export const lpad = (s, n) => String(s).padStart(n)

export const tick = () => new Promise((resolve) => setImmediate(resolve))

/** Calls needed for one timing of `loop` to last about `ms` (after warming it up). */
export function calibrate(loop, obj, ms = 60) {
  let ns = time(loop, obj, 2e5)
  ns = Math.min(ns, time(loop, obj, 2e5))
  return Math.max(INNER, Math.min(5e7, Math.round((ms * 1e6) / ns / INNER) * INNER))
}

/** In the process of one case of a scenario (see runCases): that case's name. */
export const CASE = process.env.BENCH_CASE

/**
 * For a scenario with several cases: run each case in its own process (this same file, same
 * runtime and flags, the case named in BENCH_CASE), forward its output; exit code 1 if one failed.
 * `wanted`: the case names given on the command line (all cases when none is).
 */
export function runCases(file, cases, wanted = [], extraFlags = []) {
  const unknown = wanted.filter((c) => !cases.includes(c))
  if (unknown.length) throw new Error(`unknown case ${unknown.join(', ')}; cases: ${cases.join(', ')}`)
  let failed = 0
  for (const c of wanted.length ? wanted : cases) {
    const out = spawnSync(process.execPath, [...process.execArgv, ...extraFlags, fileURLToPath(file)], {
      encoding: 'utf8',
      env: { ...process.env, BENCH_CHILD: '1', BENCH_CASE: c },
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 64 << 20,
    })
    process.stdout.write(out.stdout)
    if (out.status !== 0) {
      failed++
      console.log(`case ${c}: exited with ${out.status ?? out.signal}`)
    }
  }
  if (failed) process.exitCode = 1
}

/** Live edit may be off on this runtime (the gate of src/liveedit.ts): then say so, and the scenario measures nothing. */
export async function liveEditGated(scenario) {
  const { liveEditRefusal } = await import(`${ROOT}/dist/esm/installers/liveedit.js`)
  const refused = liveEditRefusal?.()
  if (refused === undefined) return false
  console.log(`skipped: ${refused}`)
  result({ scenario, case: 'skipped', reason: refused })
  return true
}

/**
 * The text V8 runs for the script whose URL ends with `suffix`, through a session of our own
 * (outside timing). The lowest id: V8 lists the replaced copies of an edited script under the
 * same URL, with higher ids, until they are collected.
 */
export function runningText(suffix) {
  const { Session } = require('node:inspector')
  const s = new Session()
  s.connect()
  let id
  s.on('Debugger.scriptParsed', (m) => {
    if (m.params.url.endsWith(suffix) && (id === undefined || Number(m.params.scriptId) < Number(id))) id = m.params.scriptId
  })
  s.post('Debugger.enable')
  let text
  s.post('Debugger.getScriptSource', { scriptId: id }, (e, r) => (text = r?.scriptSource))
  s.post('Debugger.disable')
  s.disconnect()
  return text
}

/**
 * Time every inspector method, summed, from now on (every session of the process: the
 * installer's and the bench's alike): `spent` ms and `count` calls, by method.
 */
export function timeInspectorPosts(inspector) {
  const spent = new Map()
  const count = new Map()
  const post = inspector.Session.prototype.post
  inspector.Session.prototype.post = function (method, ...rest) {
    const t = performance.now()
    try {
      return post.call(this, method, ...rest)
    } finally {
      spent.set(method, (spent.get(method) ?? 0) + performance.now() - t)
      count.set(method, (count.get(method) ?? 0) + 1)
    }
  }
  return { spent, count }
}

// Flood: a program calling a traced function as fast as it can. The limit must hold exactly,
// memory must stay bounded, and the event loop must keep turning.
//
//   npm run build && node bench/flood.mjs [case...]   (each case: RUNS=3 processes, with --expose-gc; medians)
//
// The flood lasts FLOOD_MS (200) ms, or until the limit has tripped if that takes longer, in synchronous batches of 10_000 calls of tiny.add(i, 1),
// one batch per turn of the event loop (separated by setImmediate), as a busy server would.
// io is a function that counts the lines (nothing is kept). Measured:
// - lines: call lines, then the trip line; nothing may follow the trip line;
// - memory: heapUsed and rss after a full GC before the trace, the peak seen after each batch,
//   and after a full GC once the output has drained (goal: growth under 20 MB);
// - event-loop delay: the longest a timer waited, by a 1 ms setInterval probe (the gap between
//   two ticks, minus 1 ms) and by perf_hooks.monitorEventLoopDelay (max, resolution 1 ms);
//   goal: no task delayed more than 10 ms. To tell whose time it is: the program's longest
//   batch, and the longest time from the end of a batch to the next turn of the loop (the
//   output flush that the batch's first traced call scheduled runs in between).
//
// Cases (each in its own process):
//   untraced   the same flood on bench/fixtures/twin.cjs: what the flood itself costs the loop
//   count      limit 100000: exactly 100000 call lines, then the trip line
//   count-1k   the same in batches of 1000 calls per turn
//   rate       limit [1000, 1000]: at most 1000 call lines within the first window, then the trip
//   sync       limit 100000, but 1_000_000 calls in ONE synchronous loop (no turn of the event
//              loop between calls): the queue (10_000 messages by default) fills and the rest is
//              dropped and counted; the limit still trips at 100000 messages. Right after the
//              loop, with the queue full, a forced GC measures the live heap of a full queue
//              (its pause is subtracted from the lag figures).
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { calls } from 'recon-trace'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { TINY, tiny, twin, now, median, header, result, sink, printSink, fmt, pad, lpad, tick, CASE } from './common.mjs'

const FLOOD_MS = Number(process.env.FLOOD_MS ?? 200)
const BATCH = 10_000
const BATCHES = { untraced: BATCH, count: BATCH, 'count-1k': 1000, rate: BATCH }
const MB = 2 ** 20
const CASES = ['untraced', 'count', 'count-1k', 'rate', 'sync']
const RUNS = Number(process.env.RUNS ?? 3)

if (CASE === undefined) {
  header(`flood: ${FLOOD_MS} ms of calls in synchronous batches (10000, or 1000 for count-1k) per event-loop turn; io counts lines; median of ${RUNS} processes per case`)
  console.log(
    `${pad('case', 10)}${lpad('calls', 10)}${lpad('lines', 8)}${lpad('trip', 6)}${lpad('after', 7)}  ${pad('other lines', 22)}${lpad('heap0', 7)}${lpad('peak+', 7)}${lpad('end+', 7)}${lpad('rss+', 7)}${lpad('rssE+', 7)}${lpad('lag ms', 8)}${lpad('worst', 7)}${lpad('>10', 5)}${lpad('eld ms', 8)}${lpad('batch', 7)}${lpad('flush', 7)}`,
  )
  const wanted = process.argv.slice(2)
  for (const c of wanted) if (!CASES.includes(c)) throw new Error(`unknown case ${c}; cases: ${CASES.join(', ')}`)
  let failed = 0
  for (const c of wanted.length ? wanted : CASES) {
    const runs = []
    for (let i = 0; i < RUNS; i++) {
      const out = spawnSync(process.execPath, [...process.execArgv, '--expose-gc', fileURLToPath(import.meta.url)], {
        encoding: 'utf8',
        env: { ...process.env, BENCH_CHILD: '1', BENCH_CASE: c },
        stdio: ['ignore', 'pipe', 'inherit'],
      })
      const line = out.stdout.split('\n').find((l) => l.startsWith('@@run '))
      if (out.status !== 0 || !line) {
        failed++
        console.log(`case ${c}: exited with ${out.status ?? out.signal}`)
        continue
      }
      runs.push(JSON.parse(line.slice(6)))
    }
    if (runs.length === 0) continue
    // Medians of the figures; the line counts must be the same in every run, else all are shown.
    const m = (k) => median(runs.map((r) => r[k]))
    const same = (k) => [...new Set(runs.map((r) => r[k]))].join('|')
    const r = {
      scenario: 'flood',
      case: c,
      runs: runs.length,
      calls: m('calls'),
      call_lines: same('call_lines'),
      trip_lines: same('trip_lines'),
      lines_after_trip: same('lines_after_trip'),
      other: same('other'),
    }
    for (const k of ['heap0_mb', 'heap_peak_mb', 'heap_end_mb', 'rss_peak_mb', 'rss_end_mb', 'lag_ms', 'gaps_over_10ms', 'eld_max_ms', 'batch_max_ms', 'flush_max_ms', 'gc_pause_ms']) r[k] = m(k)
    r.lag_worst_ms = Math.max(...runs.map((x) => x.lag_ms))
    if (runs[0].live_full_queue_mb !== undefined) r.live_full_queue_mb = m('live_full_queue_mb')
    console.log(
      `${pad(c, 10)}${lpad(r.calls, 10)}${lpad(r.call_lines, 8)}${lpad(r.trip_lines, 6)}${lpad(r.lines_after_trip, 7)}  ${pad(r.other || '-', 22)}` +
        `${lpad(fmt(r.heap0_mb, 1), 7)}${lpad(fmt(r.heap_peak_mb, 1), 7)}${lpad(fmt(r.heap_end_mb, 1), 7)}${lpad(fmt(r.rss_peak_mb, 1), 7)}${lpad(fmt(r.rss_end_mb, 1), 7)}` +
        `${lpad(fmt(r.lag_ms, 1), 8)}${lpad(fmt(r.lag_worst_ms, 1), 7)}${lpad(r.gaps_over_10ms, 5)}${lpad(fmt(r.eld_max_ms, 1), 8)}${lpad(fmt(r.batch_max_ms, 1), 7)}${lpad(fmt(r.flush_max_ms, 1), 7)}`,
    )
    if (r.live_full_queue_mb !== undefined) {
      console.log(`${pad('', 10)}live heap right after the loop, queue full (10000 messages), after a forced GC: +${fmt(r.live_full_queue_mb, 1)} MB (GC pause ${fmt(r.gc_pause_ms, 1)} ms, subtracted from lag)`)
    }
    result(r)
  }
  console.log('heap0: heapUsed before (MB); peak+: highest heapUsed after a batch minus heap0; end+: heapUsed after drain and GC minus heap0;')
  console.log('rss+: peak rss minus rss before; rssE+: rss at the end minus rss before; lag: longest gap of a 1 ms interval, minus 1 ms')
  console.log('(median of the runs; worst: the largest of the runs); >10: gaps of that interval over 10 ms (+1 ms period);')
  console.log("eld: monitorEventLoopDelay max (resolution 1 ms); batch: the program's longest synchronous batch (ms); flush: longest")
  console.log('time from the end of a batch to the next turn, where the output flush runs (ms)')
  if (failed) process.exitCode = 1
} else {
  if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc (node bench/flood.mjs does)')
  const gc = globalThis.gc
  const mod = CASE === 'untraced' ? twin : tiny
  const batch = BATCHES[CASE]

  let callLines = 0
  let tripLines = 0
  let afterTrip = 0
  const others = []
  let onTrip
  const io = (line) => {
    if (tripLines > 0) afterTrip++
    if (!line.startsWith('recon-trace: ')) callLines++
    else if (line.includes('tracing stopped')) {
      tripLines++
      onTrip?.()
    } else others.push(line)
  }

  // A first taste of everything, so that compiling our code is not counted as the flood's memory.
  const loop = new Function('obj', 'n', 'let s = 0; for (let i = 0; i < n; i++) s = (s + obj.add(i, 1)) | 0; return s')
  sink(loop(twin, BATCH))
  gc()
  gc()
  const m0 = process.memoryUsage()
  let peakHeap = m0.heapUsed
  let peakRss = m0.rss

  // Event-loop delay probes.
  const eld = monitorEventLoopDelay({ resolution: 1 })
  eld.enable()
  let lastTick = now()
  let maxGap = 0
  let over10 = 0
  const probe = setInterval(() => {
    const t = now()
    if (t - lastTick > maxGap) maxGap = t - lastTick
    if (t - lastTick > 11e6) over10++
    lastTick = t
  }, 1)
  await new Promise((resolve) => setTimeout(resolve, 20))
  maxGap = 0
  over10 = 0
  lastTick = now()
  eld.reset()

  const tripped = new Promise((resolve) => (onTrip = resolve))
  const limit = CASE === 'rate' ? [1000, 1000] : 100_000
  if (CASE !== 'untraced' && calls(`${TINY}:add/2`, limit, { io }) !== 1) throw new Error('not hooked')

  let made = 0
  let gcPause = 0
  let liveFull
  // The longest synchronous batch of the program, and the longest time from the end of a batch
  // to the next turn (where recon-trace's output flush runs: it was scheduled first).
  let maxBatch = 0
  let maxFlush = 0
  if (CASE === 'sync') {
    const t0 = now()
    sink(loop(mod, 1_000_000))
    maxBatch = now() - t0
    made = 1_000_000
    const m = process.memoryUsage()
    peakHeap = Math.max(peakHeap, m.heapUsed)
    peakRss = Math.max(peakRss, m.rss)
    const t = now()
    gc()
    gcPause = (now() - t) / 1e6
    liveFull = process.memoryUsage().heapUsed - m0.heapUsed
    const t1 = now()
    await tick()
    maxFlush = now() - t1
  } else {
    // At least FLOOD_MS, and on until the trace has tripped (at most 30 s).
    let isTripped = CASE === 'untraced'
    void tripped.then(() => (isTripped = true))
    const start = performance.now()
    while (performance.now() - start < FLOOD_MS || (!isTripped && performance.now() - start < 30_000)) {
      const t0 = now()
      sink(loop(mod, batch))
      const t1 = now()
      made += batch
      const m = process.memoryUsage()
      if (m.heapUsed > peakHeap) peakHeap = m.heapUsed
      if (m.rss > peakRss) peakRss = m.rss
      const t2 = now()
      await tick()
      if (t1 - t0 > maxBatch) maxBatch = t1 - t0
      if (now() - t2 > maxFlush) maxFlush = now() - t2
    }
  }
  if (CASE !== 'untraced') await Promise.race([tripped, new Promise((resolve) => setTimeout(resolve, 5000).unref())])
  for (let i = 0; i < 5; i++) await tick()
  await new Promise((resolve) => setTimeout(resolve, 10))
  clearInterval(probe)
  eld.disable()
  gc()
  gc()
  const m1 = process.memoryUsage()

  const lag = Math.max(0, maxGap / 1e6 - 1 - gcPause)
  const eldMax = Math.max(0, eld.max / 1e6 - gcPause)
  const other = others.map((l) => l.replace(/^recon-trace: /, '').replace(/: the output could not keep up.*/, '')).join('; ')
  // For the parent (which prints medians over the runs of this case).
  console.log(
    `@@run ${JSON.stringify({
      case: CASE,
      calls: made,
      call_lines: callLines,
      trip_lines: tripLines,
      lines_after_trip: afterTrip,
      other,
      heap0_mb: m0.heapUsed / MB,
      heap_peak_mb: (peakHeap - m0.heapUsed) / MB,
      heap_end_mb: (m1.heapUsed - m0.heapUsed) / MB,
      rss_peak_mb: (peakRss - m0.rss) / MB,
      rss_end_mb: (m1.rss - m0.rss) / MB,
      live_full_queue_mb: liveFull === undefined ? undefined : liveFull / MB,
      gc_pause_ms: gcPause,
      lag_ms: lag,
      gaps_over_10ms: over10,
      eld_max_ms: eldMax,
      batch_max_ms: maxBatch / 1e6,
      flush_max_ms: maxFlush / 1e6,
    })}`,
  )
  printSink()
}

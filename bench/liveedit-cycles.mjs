// Live edit, over and over: CYCLES (1000) install/restore cycles on a function that the program
// keeps calling, in a process started WITHOUT the preload. No crash, no wrong result, no
// memory kept, and how many cycles had to wait for the function.
//
//   npm run build && node bench/liveedit-cycles.mjs      (runs itself again with --expose-gc)
//
// The target: mix(x) of bench/fixtures/busy.cjs, a deterministic hash of x. While the cycles
// run, it is called
//   - from a timer: a 1 ms setInterval, 10 calls per tick;
//   - from promises: an async loop that calls it after each of 20 awaits of a resolved
//     promise, then yields to the event loop (setImmediate), and again;
//   - from a worker thread, which requires its own copy of busy.cjs and calls it in a busy
//     loop (what is edited is the main thread's copy; the worker just keeps a core busy and
//     checks its own results);
// and every result is compared with a copy of mix in this file. One cycle:
//   calls('./bench/fixtures/busy.cjs:mix(x) when x % 50 === 0 -> return', 10_000_000,
//         { scope: 'local', io })         (live edit: the probe goes in)
//   2 ms of the program running traced    (a timer of 2 ms: interval ticks and the async loop)
//   clear(), then turns of the event loop until the editor has put the original text back
//   and closed its session
// Memory: heapUsed (and heapTotal, rss) after two global.gc(), after a warm-up of WARMUP (10) cycles and
// after the CYCLES cycles (the callers keep running in both). io counts lines: call and return
// lines of mix, and notices ('waiting to probe ...' when V8 refused the edit because the
// function was running; 'could not probe' when it stayed busy).
// Also: the longest gap between two ticks of the 1 ms interval, minus 1 ms (the event loop
// blocked by a cycle: Debugger.enable, the edit, the restore), and the time of a cycle.
import { calls, clear } from 'recon-trace'
import { Worker } from 'node:worker_threads'
import { readFileSync } from 'node:fs'
import { ROOT, header, result, median, fmt, pad, lpad, tick, runCases, CASE, require, liveEditGated, runningText } from './common.mjs'

// On Node 22 and later a local spec goes to binding swaps unless live edit is asked for: this
// measures live edit, so it asks (children inherit it). RECON_TRACE_LIVE_EDIT=force still wins.
process.env.RECON_TRACE_LIVE_EDIT ??= 'on'

const CYCLES = Number(process.env.CYCLES ?? 1000)
const WARMUP = Number(process.env.WARMUP ?? 10)
const TARGET = './bench/fixtures/busy.cjs'
const SPEC = `${TARGET}:mix(x) when x % 50 === 0 -> return`
const MB = 2 ** 20

/** The same code as busy.cjs's mix: the expected result of every call. */
function expectedMix(x) {
  let h = x | 0
  for (let i = 0; i < 8; i++) {
    h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) + i
  }
  return (h ^ (h >>> 13)) >>> 0
}

if (CASE === undefined) {
  header(`liveedit-cycles: ${CYCLES} live-edit install/restore cycles of busy.cjs:mix while a timer, promises and a worker call it (no preload)`)
  if (!(await liveEditGated('liveedit-cycles'))) runCases(import.meta.url, ['cycles'], [], ['--expose-gc'])
} else {
  if (typeof globalThis.gc !== 'function') throw new Error('run with --expose-gc (node bench/liveedit-cycles.mjs does)')
  if (globalThis[Symbol.for('recon-trace.state')]?.registry) throw new Error('run without the preload: this measures live edit')
  const busy = require('./fixtures/busy.cjs')
  const editor = () => globalThis[Symbol.for('recon-trace.state')]?.liveEditor
  const original = busy.mix

  // Every call checked.
  const count = { timer: 0, promise: 0, traced: 0 }
  let mismatches = 0
  let firstMismatch
  let tracing = false
  let expectedLines = 0
  const check = (x, who) => {
    const got = busy.mix(x)
    if (got !== expectedMix(x)) {
      mismatches++
      firstMismatch ??= `${who}: mix(${x}) = ${got}, expected ${expectedMix(x)}`
    }
    if (busy.label(x) !== `item-${x % 100}`) {
      mismatches++
      firstMismatch ??= `${who}: label(${x}) = ${busy.label(x)}`
    }
    count[who]++
    if (tracing) {
      count.traced++
      // The guard selects x % 50 === 0: a call line and a return line each.
      if (x % 50 === 0) expectedLines += 2
    }
  }

  // The timer, with the longest gap between two ticks.
  let tx = 0
  let lastTick = performance.now()
  let maxGap = 0
  const gaps = []
  const interval = setInterval(() => {
    const t = performance.now()
    maxGap = Math.max(maxGap, t - lastTick)
    lastTick = t
    for (let k = 0; k < 10; k++) check(tx++, 'timer')
  }, 1)

  // The promises.
  let running = true
  let px = 1_000_000
  const promiseLoop = (async () => {
    while (running) {
      for (let k = 0; k < 20; k++) {
        await Promise.resolve(px)
        check(px++, 'promise')
      }
      await new Promise((resolve) => setImmediate(resolve))
    }
  })()

  // The worker: its own copy of busy.cjs, a busy loop, a shared flag to stop.
  const shared = new Int32Array(new SharedArrayBuffer(12)) // [stop, thousands of calls, mismatches]
  const worker = new Worker(
    `
    const { workerData } = require('node:worker_threads')
    const busy = require(workerData.file)
    const expected = ${expectedMix.toString()}
    const shared = workerData.shared
    let x = 2_000_000_000
    while (Atomics.load(shared, 0) === 0) {
      for (let k = 0; k < 1000; k++, x++) {
        if (busy.mix(x) !== expected(x)) Atomics.add(shared, 2, 1)
      }
      Atomics.add(shared, 1, 1)
    }
    `,
    { eval: true, workerData: { file: require.resolve('./fixtures/busy.cjs'), shared } },
  )
  const workerDone = new Promise((resolve, reject) => {
    worker.on('exit', resolve)
    worker.on('error', reject)
  })

  // io: lines by kind.
  // Notices start with 'recon-trace:'; the trace's own lines name busy:mix.
  const lines = { mix: 0, waiting: 0, couldNot: 0, fallback: 0, other: 0 }
  let otherSample
  const io = (line) => {
    const s = String(line)
    const notice = s.includes('recon-trace:')
    if (notice && s.includes('waiting to probe')) lines.waiting++
    else if (notice && s.includes('could not probe')) lines.couldNot++
    else if (notice && s.includes('instead')) lines.fallback++
    else if (!notice && s.includes('busy:mix')) lines.mix++
    else {
      lines.other++
      otherSample ??= s
    }
  }

  let errors = 0
  let firstError
  let waitedCycles = 0
  let slowRestores = 0
  let tracedCycles = 0
  let wrongLineCycles = 0
  let silentCycles = 0
  let firstWrongLines
  // heapUsed after 2 x gc() every SAMPLE cycles: a leak grows steadily, a plateau does not.
  const SAMPLE = Math.max(1, Math.round(CYCLES / 10))
  const heapSeries = []
  const cycleMs = []
  async function cycle() {
    const t = performance.now()
    const before = { waiting: lines.waiting, mix: lines.mix, expected: expectedLines }
    try {
      const n = calls(SPEC, 10_000_000, { scope: 'local', io })
      if (n !== 1) throw new Error(`calls() selected ${n} functions`)
    } catch (err) {
      errors++
      firstError ??= err instanceof Error ? err.message : String(err)
    }
    tracing = true
    await new Promise((resolve) => setTimeout(resolve, 2))
    tracing = false
    clear()
    await tick()
    await tick()
    let turns = 2
    while (editor()?.isOpen) {
      if (turns > 100_000) throw new Error('the original text is not back after 100 000 turns of the event loop')
      await tick()
      turns++
    }
    if (turns > 2) slowRestores++
    if (lines.waiting > before.waiting) waitedCycles++
    if (lines.mix > before.mix) tracedCycles++
    const want = expectedLines - before.expected
    const got = lines.mix - before.mix
    if (got !== want) {
      wrongLineCycles++
      firstWrongLines ??= `cycle ${cycleMs.length}: ${got} lines of mix for ${want / 2} selected calls (want ${want})`
    }
    if (want > 0 && got === 0) silentCycles++
    cycleMs.push(performance.now() - t)
  }

  const memory = async () => {
    await tick()
    globalThis.gc()
    globalThis.gc()
    const m = process.memoryUsage()
    return { heap: m.heapUsed / MB, total: m.heapTotal / MB, rss: m.rss / MB }
  }

  const started = performance.now()
  for (let c = 0; c < WARMUP; c++) await cycle()
  const base = await memory()
  const linesAtBase = { ...lines }
  maxGap = 0
  lastTick = performance.now()
  cycleMs.length = 0
  const linesAt = { mix: lines.mix, expected: expectedLines }
  wrongLineCycles = 0
  silentCycles = 0
  firstWrongLines = undefined
  for (let c = 0; c < CYCLES; c++) {
    await cycle()
    if ((c + 1) % SAMPLE === 0 && c + 1 < CYCLES) {
      // Not counted in the cycle times nor in the interval gaps.
      heapSeries.push(await memory())
      lastTick = performance.now()
    }
  }
  const end = await memory()
  heapSeries.push(end)
  const totalS = (performance.now() - started) / 1000

  running = false
  clearInterval(interval)
  await promiseLoop
  Atomics.store(shared, 0, 1)
  await workerDone

  // Outside timing: V8 runs the original text; the function object is the same; no binding left.
  const restored = runningText('/bench/fixtures/busy.cjs') === readFileSync(new URL('./fixtures/busy.cjs', import.meta.url), 'utf8')
  const left = Object.getOwnPropertyNames(globalThis).filter((k) => k.startsWith('$rt$'))

  const workerCalls = Atomics.load(shared, 1) * 1000
  const workerMismatches = Atomics.load(shared, 2)
  const mixLines = lines.mix - linesAtBase.mix
  console.log(`cycles: ${WARMUP} warm-up + ${CYCLES}, ${fmt(totalS, 1)} s; cycle median ${fmt(median(cycleMs), 1)} ms, max ${fmt(Math.max(...cycleMs), 1)} ms (each: calls(), 2 ms traced, clear(), restore)`)
  console.log(`calls checked: timer ${count.timer}, promises ${count.promise} (${count.traced} of them while traced), worker ${workerCalls}; wrong results: main ${mismatches}, worker ${workerMismatches}${firstMismatch ? ` (first: ${firstMismatch})` : ''}`)
  console.log(`calls() errors: ${errors}${firstError ? ` (first: ${firstError})` : ''}; crash: none (we are here)`)
  console.log(
    `io lines: mix call/return ${lines.mix} (${mixLines} in the ${CYCLES} cycles; ${tracedCycles} cycles wrote some), 'waiting to probe' ${lines.waiting} (in ${waitedCycles} cycles), 'could not probe' ${lines.couldNot}, traced through the export instead ${lines.fallback}, other ${lines.other}${otherSample ? ` (e.g. ${JSON.stringify(otherSample.slice(0, 160))})` : ''}`,
  )
  console.log(
    `lines of mix in the ${CYCLES} cycles: ${lines.mix - linesAt.mix} for ${(expectedLines - linesAt.expected) / 2} calls the guard selected while traced (want ${expectedLines - linesAt.expected}); cycles with other than 2 lines per selected call: ${wrongLineCycles}${firstWrongLines ? ` (first: ${firstWrongLines})` : ''}; cycles with selected calls and no line: ${silentCycles}`,
  )
  console.log(`restore: more than 2 turns of the event loop in ${slowRestores} cycles; after the last: getScriptSource is the file's text: ${restored}; same function object: ${busy.mix === original}; global bindings left: ${left.length}`)
  console.log(`longest 1 ms interval gap during the ${CYCLES} cycles: ${fmt(maxGap - 1, 1)} ms over 1 ms`)
  const signed = (x, d = 2) => `${x >= 0 ? '+' : ''}${fmt(x, d)}`
  console.log(`${pad('memory (after 2 x gc())', 36)}${lpad('heapUsed MB', 13)}${lpad('heapTotal MB', 14)}${lpad('rss MB', 9)}`)
  console.log(`${pad(`after ${WARMUP} warm-up cycles`, 36)}${lpad(fmt(base.heap), 13)}${lpad(fmt(base.total, 1), 14)}${lpad(fmt(base.rss, 1), 9)}`)
  console.log(`${pad(`after ${CYCLES} more cycles`, 36)}${lpad(fmt(end.heap), 13)}${lpad(fmt(end.total, 1), 14)}${lpad(fmt(end.rss, 1), 9)}`)
  console.log(`${pad('difference', 36)}${lpad(signed(end.heap - base.heap), 13)}${lpad(signed(end.total - base.total, 1), 14)}${lpad(signed(end.rss - base.rss, 1), 9)}`)
  console.log(`every ${SAMPLE} cycles, heapUsed MB: ${heapSeries.map((m) => fmt(m.heap)).join(' ')}`)
  console.log(`every ${SAMPLE} cycles, heapTotal MB: ${heapSeries.map((m) => fmt(m.total, 1)).join(' ')}`)
  console.log(`every ${SAMPLE} cycles, rss MB: ${heapSeries.map((m) => fmt(m.rss, 1)).join(' ')}`)
  result({
    scenario: 'liveedit-cycles',
    case: `${CYCLES} cycles`,
    cycles: CYCLES,
    errors,
    mismatches: mismatches + workerMismatches,
    waiting_lines: lines.waiting,
    waited_cycles: waitedCycles,
    could_not: lines.couldNot,
    fallback: lines.fallback,
    traced_cycles: tracedCycles,
    selected_calls: (expectedLines - linesAt.expected) / 2,
    mix_lines: lines.mix - linesAt.mix,
    wrong_line_cycles: wrongLineCycles,
    silent_cycles: silentCycles,
    heap_series_mb: heapSeries.map((m) => m.heap),
    heap_total_series_mb: heapSeries.map((m) => m.total),
    rss_series_mb: heapSeries.map((m) => m.rss),
    heap_base_mb: base.heap,
    heap_end_mb: end.heap,
    heap_diff_mb: end.heap - base.heap,
    heap_total_base_mb: base.total,
    heap_total_end_mb: end.total,
    rss_base_mb: base.rss,
    rss_end_mb: end.rss,
    cycle_ms: median(cycleMs),
    cycle_max_ms: Math.max(...cycleMs),
    max_gap_ms: maxGap - 1,
    restored,
  })
  if (errors || mismatches || workerMismatches || !restored || left.length || busy.mix !== original) {
    throw new Error('live edit cycles: a check failed (see above)')
  }
}

// Traced to a null sink: what one message costs end to end, call to written line.
//
//   npm run build && node bench/traced.mjs [case...]
//
// Each round makes N traced calls in one synchronous burst (the call side: match, count,
// snapshot, enqueue), then awaits until the N lines have reached the sink (the output side:
// formatting and writing, which recon-trace does at setImmediate). End to end = from the first
// call to the last line received. The count limit (10_000_000) is never reached and the default
// queue (10_000 messages) never overflows, so every call prints exactly one line. Each round also
// times the N calls untraced (bench/fixtures/twin.cjs), subtracted from the figures.
// Goal: under 1 µs per message end to end with small arguments.
//
// Cases (each in its own process; BURST=n overrides N):
//   small          add(1, 2), bursts of 1000 calls, io: a function that counts lines
//   small-10k      the same in bursts of 10_000 calls (a full queue: more live objects per GC)
//   small-stream   add(1, 2), bursts of 1000, io: a Writable that discards (one write per 64 KiB)
//   small-json     the same with json: true
//   big            add(obj, 2) with obj a ~1 MB object (11_000 records), bursts of 200, io: a
//                  function; the bounded snapshot takes what the default limits allow
import { Writable } from 'node:stream'
import { calls, clear } from 'recon-trace'
import { TINY, tiny, twin, now, median, header, result, sink, printSink, fmt, pad, lpad, runCases, CASE } from './common.mjs'

const R = Number(process.env.ROUNDS ?? 7)
const CASES = {
  small: { burst: 1000 },
  'small-10k': { burst: 10_000 },
  'small-stream': { burst: 1000, stream: true },
  'small-json': { burst: 1000, stream: true, json: true },
  big: { burst: 200, big: true, warm: 1000, rounds: 15 },
}

const which = CASE
if (which === undefined) {
  header(`traced: cost per message end to end (call, snapshot, queue, format, write), median of ${R} rounds (15 for big)`)
  console.log(`${pad('case', 40)}${lpad('N/round', 8)}${lpad('call ns', 10)}${lpad('e2e µs', 9)}${lpad('msgs/s', 11)}${lpad('base ns', 9)}  e2e min..max µs`)
  runCases(import.meta.url, Object.keys(CASES), process.argv.slice(2))
} else {
  let lines = 0
  let want = 0
  let done
  const arrived = (k) => {
    lines += k
    if (lines >= want && done) {
      const d = done
      done = undefined
      d()
    }
  }
  let bytes = 0
  const nullSink = new Writable({
    write(chunk, _enc, cb) {
      bytes += chunk.length
      let k = 0
      for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) k++
      arrived(k)
      cb()
    },
  })
  const ioFn = () => arrived(1)

  const c = CASES[which]
  let arg = 1
  let label = 'add(1, 2)'
  if (c.big) {
    arg = {
      users: Array.from({ length: 11_000 }, (_, i) => ({ id: i, name: `user${i}`, email: `user${i}@example.com`, tags: ['a', 'b'], active: i % 2 === 0 })),
    }
    label = `add(obj of ${(JSON.stringify(arg).length / 2 ** 20).toFixed(2)} MB JSON, 2)`
  }
  const N = Number(process.env.BURST ?? c.burst)
  const options = { io: c.stream ? nullSink : ioFn, json: c.json === true }
  label = `${which}: ${label}`

  // The program's code: N calls in a row.
  const burst = new Function('obj', 'arg', 'n', 'let s = 0; for (let i = 0; i < n; i++) s = (s + (obj.add(arg, 2) === 3 ? 1 : 0)) | 0; return s')
  const burstBase = new Function('obj', 'arg', 'n', '// baseline\nlet s = 0; for (let i = 0; i < n; i++) s = (s + (obj.add(arg, 2) === 3 ? 1 : 0)) | 0; return s')

  if (calls(`${TINY}:add/2`, 10_000_000, options) !== 1) throw new Error('not hooked')
  const base = []
  const call = []
  const e2e = []
  // Warm-up rounds first (at least 50_000 messages, 1000 for the big object), not counted.
  const W = Math.max(2, Math.ceil((c.warm ?? 50_000) / N))
  const rounds = Number(process.env.ROUNDS ?? c.rounds ?? 7)
  for (let r = -W; r < rounds; r++) {
    let t = now()
    sink(burstBase(twin, arg, N))
    const b = (now() - t) / N
    want = lines + N
    const drained = new Promise((resolve) => (done = resolve))
    t = now()
    sink(burst(tiny, arg, N))
    const c = now() - t
    await drained
    const e = now() - t
    if (r < 0) continue // warm-up rounds
    base.push(b)
    call.push(c / N - b)
    e2e.push(e / N - b)
  }
  clear()
  const e2eNs = median(e2e)
  console.log(
    `${pad(label, 40)}${lpad(N, 8)}${lpad(fmt(median(call), 0), 10)}${lpad(fmt(e2eNs / 1000), 9)}${lpad(fmt(1e9 / e2eNs, 0), 11)}${lpad(fmt(median(base)), 9)}  ${fmt(Math.min(...e2e) / 1000)}..${fmt(Math.max(...e2e) / 1000)}`,
  )
  result({ scenario: 'traced', case: label, call_ns: median(call), e2e_us: e2eNs / 1000, msgs_per_s: 1e9 / e2eNs, base_ns: median(base) })
  if (lines !== (rounds + W) * N) throw new Error(`expected ${(rounds + W) * N} lines, got ${lines}`)
  sink(bytes)
  printSink()
}

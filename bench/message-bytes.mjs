// Bytes allocated per traced message, on the call side (match, count, snapshot, enqueue: what
// the traced program's thread pays during its burst) and on the output side (formatting and
// writing, at the next turn). A count, not a time: it does not move with this shared machine's
// speed, and it is what the garbage collector pays for when a burst of 10 000 messages waits a
// turn in the queue (bench/traced.mjs small-10k: each scavenge copies the waiting events).
//
//   npm run build && node bench/message-bytes.mjs
//
// Needs `v8.getHeapStatistics().total_allocated_bytes` (Node 26 and later); elsewhere it says so
// and reports nothing. Cases, each in its own process: add(1, 2) traced to an io function, bursts
// of 10 000 calls, text and JSON Lines; the median of 7 rounds after 5 warm-up rounds. The same
// loop untraced (bench/fixtures/twin.cjs) gives the baseline, subtracted.
import v8 from 'node:v8'
import { calls, clear } from 'recon-trace'
import { TINY, tiny, twin, median, header, result, fmt, pad, lpad, runCases, CASE } from './common.mjs'

const CASES = { text: { json: false }, json: { json: true } }
const N = Number(process.env.BURST ?? 10_000)
const ROUNDS = 7
const WARM = 5

if (CASE === undefined) {
  header(`message-bytes: bytes allocated per message, bursts of ${N} calls of add(1, 2) to an io function, median of ${ROUNDS} rounds`)
  if (!('total_allocated_bytes' in v8.getHeapStatistics())) console.log('  (no figures: this Node has no v8.getHeapStatistics().total_allocated_bytes; Node 26 and later have it)')
  else {
    console.log(`${pad('case', 8)}${lpad('call side', 11)}${lpad('output side', 13)}${lpad('untraced', 10)}`)
    runCases(import.meta.url, Object.keys(CASES), process.argv.slice(2))
  }
} else {
  const allocated = () => v8.getHeapStatistics().total_allocated_bytes
  let lines = 0
  let done
  const io = () => {
    if (++lines === N && done) done()
  }
  if (calls(`${TINY}:add/2`, 10_000_000, { io, json: CASES[CASE].json }) !== 1) throw new Error('not hooked')
  const loop = (obj) => {
    let s = 0
    for (let i = 0; i < N; i++) s = (s + obj.add(1, 2)) | 0
    return s
  }
  const base = []
  const call = []
  const out = []
  for (let r = -WARM; r < ROUNDS; r++) {
    let a = allocated()
    loop(twin)
    const b = (allocated() - a) / N
    lines = 0
    const drained = new Promise((resolve) => (done = resolve))
    a = allocated()
    loop(tiny)
    const c = allocated()
    await drained
    const d = allocated()
    if (r < 0) continue
    base.push(b)
    call.push((c - a) / N - b)
    out.push((d - c) / N)
  }
  clear()
  console.log(`${pad(CASE, 8)}${lpad(fmt(median(call), 0), 11)}${lpad(fmt(median(out), 0), 13)}${lpad(fmt(median(base), 0), 10)}`)
  result({ scenario: 'message-bytes', case: CASE, call_bytes: median(call), output_bytes: median(out), base_bytes: median(base) })
}

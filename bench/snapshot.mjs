// Cost of taking a snapshot of a traced call's arguments (src/snapshot.ts) on the hot path, next
// to util.inspect of the same values (what formatting on the call would cost instead).
//
//   npm run build && node bench/snapshot.mjs       (RUNS=5 processes per figure, N snapshots)
//
// Every figure is measured in a fresh process (a shared loop would see every shape and measure
// its own megamorphism); the median is printed. The default limits are used throughout.
import { medianOfProcesses } from './common.mjs'
import { inspect } from 'node:util'
import { DEFAULT_SNAPSHOT_LIMITS, makeRedactor, snapshotArgs } from '../dist/esm/snapshot.js'

const N = Number(process.env.N ?? 1e6)
const RUNS = Number(process.env.RUNS ?? 5)

class Queue {
  constructor() {
    this.front = []
    this.back = []
  }
}
const big = {}
for (let i = 0; i < 1e5; i++) big[`k${i}`] = i

const cases = [
  { name: "two small args ('abc', { 3 fields })", args: () => ['abc', { id: 42, name: 'x', active: true }] },
  { name: "('a', Queue { front: [], back: [] })", args: () => ['a', new Queue()] },
  { name: '(1, 2)', args: () => [1, 2] },
  { name: 'an object with a secret key', args: () => [{ user: 'ann', password: 'p', accessToken: 't' }] },
  { name: 'nested { a: { b: { c: [1, 2, 3] } } }', args: () => [{ a: { b: { c: [1, 2, 3] } }, d: 'x' }] },
  { name: 'an array of 32 numbers', args: () => [Array.from({ length: 32 }, (_, i) => i)], n: N / 10 },
  { name: 'Map of 3 entries', args: () => [new Map([[1, 'a'], [2, 'b'], [3, 'c']])] },
  { name: 'an Error with a cause', args: () => [new Error('x', { cause: new Error('y') })], n: N / 10 },
  { name: 'a string of 1 MB', args: () => ['x'.repeat(1 << 20)] },
  { name: 'a sparse array of length 1e9', args: () => [new Array(1e9)], n: N / 100 },
  // util.inspect lists all keys every time (~20 ms): measured over a few calls only.
  { name: 'an object of 1e5 keys (seen before)', args: () => [big], n: N / 10, inspectN: 20 },
]

function measure(c, which) {
  const redact = makeRedactor()
  const args = c.args()
  const n = which === 'inspect' && c.inspectN ? c.inspectN : Math.max(1000, Math.floor(c.n ?? N))
  const fn = which === 'inspect' ? () => inspect(args) : () => snapshotArgs(args, DEFAULT_SNAPSHOT_LIMITS, redact)
  let sink = 0
  for (let i = 0; i < Math.min(n, 1e5); i++) sink += fn().length
  const t = process.hrtime.bigint()
  for (let i = 0; i < n; i++) sink += fn().length
  const ns = Number(process.hrtime.bigint() - t) / n
  return { ns, sink }
}

const [, , caseIndex, which] = process.argv
if (caseIndex !== undefined) {
  process.stdout.write(JSON.stringify(measure(cases[Number(caseIndex)], which)))
} else {
  const self = process.argv[1]
  const run = (i, which) => medianOfProcesses(self, [String(i), which], RUNS)
  console.log(`node ${process.version}: ns per call, median of ${RUNS} processes`)
  console.log(`${'arguments'.padEnd(42)} ${'snapshot'.padStart(9)} ${'inspect'.padStart(9)}`)
  cases.forEach((c, i) => {
    const s = run(i, 'snapshot').toFixed(0)
    const u = run(i, 'inspect').toFixed(0)
    console.log(`${c.name.padEnd(42)} ${s.padStart(9)} ${u.padStart(9)}`)
  })
}

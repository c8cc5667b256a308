// Cost of evaluating compiled guards (src/guard.ts) on the traced call's hot path, next to the
// plain JS predicate a user would write for the same condition.
//
//   npm run build && node bench/guard.mjs          (RUNS=5 processes per figure, N evaluations)
//
// Every figure is measured in a fresh process, so that no call site has seen another guard (a
// shared timing loop would turn megamorphic and measure itself); the median is printed. The
// loop overhead (an indirect call, an array read) is included in both columns.
import { medianOfProcesses } from './common.mjs'
import { compileGuard } from '../dist/esm/guard.js'

const N = Number(process.env.N ?? 2e7)
const RUNS = Number(process.env.RUNS ?? 5)

const user = { id: 42, name: 'ada' }
const withGetter = Object.defineProperty({}, 'id', { get: () => 42, enumerable: true })
const cases = [
  { guard: 'id === 42', names: ['id'], inputs: [[42], [7], [42], ['42']], plain: (v) => v[0] === 42 },
  { guard: 'id > 10 && id < 100', names: ['id'], inputs: [[42], [7], [42], [200]], plain: (v) => v[0] > 10 && v[0] < 100 },
  { guard: 'typeof id === "number"', names: ['id'], inputs: [[42], ['x'], [1], [null]], plain: (v) => typeof v[0] === 'number' },
  { guard: 'u.id === 42', names: ['u'], inputs: [[user], [{ id: 7 }], [user], [{}]], plain: (v) => v[0].id === 42 },
  { guard: 'u?.name?.length > 2', names: ['u'], inputs: [[user], [null], [{ name: 'x' }], [{}]], plain: (v) => v[0]?.name?.length > 2 },
  { guard: 'sql.startsWith("SELECT")', names: ['sql'], inputs: [['SELECT 1'], ['UPDATE x'], ['SELECT *'], ['DELETE']], plain: (v) => v[0].startsWith('SELECT') },
  { guard: '/^sel/i.test(sql)', names: ['sql'], inputs: [['SELECT 1'], ['UPDATE x'], ['select *'], ['DELETE']], plain: (v) => /^sel/i.test(v[0]) },
  { guard: 'u.id === 42', names: ['u'], inputs: [[withGetter]], plain: null, note: 'an accessor: the guard fails' },
]

function measure(fn, inputs) {
  const k = inputs.length
  let hits = 0
  for (let i = 0; i < 2e5; i++) if (fn(inputs[i % k])) hits++
  const t = process.hrtime.bigint()
  for (let i = 0; i < N; i++) if (fn(inputs[i % k])) hits++
  const ns = Number(process.hrtime.bigint() - t) / N
  return { ns, hits }
}

const [, , caseIndex, which] = process.argv
if (caseIndex !== undefined) {
  const c = cases[Number(caseIndex)]
  let fn = c.plain
  if (which === 'guard') {
    const problems = []
    const g = compileGuard(c.guard, c.names, problems)
    if (!g) throw new Error(problems.join('\n'))
    fn = (v) => g.test(v)
  }
  process.stdout.write(JSON.stringify(measure(fn, c.inputs)))
} else {
  const self = process.argv[1]
  const run = (i, which) => medianOfProcesses(self, [String(i), which], RUNS)
  console.log(`node ${process.version}: ns per evaluation, median of ${RUNS} processes x ${N} evaluations`)
  console.log(`${'guard'.padEnd(28)} ${'guard'.padStart(8)} ${'plain JS'.padStart(9)}`)
  cases.forEach((c, i) => {
    const g = run(i, 'guard').toFixed(1)
    const p = c.plain ? run(i, 'plain').toFixed(1) : '-'
    console.log(`${c.guard.padEnd(28)} ${g.padStart(8)} ${p.padStart(9)}${c.note ? `  (${c.note})` : ''}`)
  })
}

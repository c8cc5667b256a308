// The built package, loaded the way users load it, in real child processes.
import { describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { itUnless } from './runtime.js'
import { undurated } from './helpers.js'

const run = (file: string, ...args: string[]) =>
  spawnSync(process.execPath, [file, ...args], { encoding: 'utf8', timeout: 10_000, env: { ...process.env, FORCE_COLOR: undefined, NO_COLOR: undefined } })

const expected = (pid: number | undefined) => [
  'hooked 1',
  `<${pid}.0> queue:in('a', Queue { front: [], back: [] })`,
  `<${pid}.0> queue:in/2 --> Queue { front: ['a'], back: [] }`,
  'recon-trace: rate limit tripped after 2 messages; tracing stopped.',
]
const untimed = (s: string) => s.trim().split('\n').map((l) => undurated(l.replace(/^\d\d:\d\d:\d\d\.\d{6} /, '')))

describe('the test run', () => {
  // .ci/run says which Node each pass is for; npm runs its scripts with node_modules/.bin (Node
  // 24) first on PATH, and until the `test` script ran its inner npm with the outer npm's Node,
  // the "Node 20" pass ran the suite on Node 24 (the runtime of a nested `npm run` comes from PATH).
  itUnless(process.env.RECON_TRACE_CI_NODE === undefined && 'run outside .ci/run, which names the Node of each pass')('runs on the Node that the CI pass is for', () => {
    expect(process.version).toBe(process.env.RECON_TRACE_CI_NODE)
  })
})

describe('the built package', () => {
  it('import works (ESM build)', () => {
    const r = run('fixtures/programs/esm-user.mjs')
    expect(r.stderr).toBe('')
    expect(untimed(r.stdout)).toEqual(expected(r.pid))
  })

  it('require works (CommonJS build)', () => {
    const r = run('fixtures/programs/cjs-user.cjs')
    expect(r.stderr).toBe('')
    expect(untimed(r.stdout)).toEqual(expected(r.pid))
  })

  it('both builds in one process share a single trace', () => {
    const r = run('fixtures/programs/dual.mjs')
    expect(r.stderr).toBe('')
    expect(r.stdout).toMatch(/distinct copies true/)
    expect(r.stdout).toMatch(/len restored by the other copy true/)
    expect(r.stdout).toMatch(/new restored by clear true/)
    expect(r.stdout).not.toMatch(/queue:new\(\)/)
  })

  it('colors the output with ANSI codes when asked, from either build', () => {
    for (const file of ['fixtures/programs/esm-user.mjs', 'fixtures/programs/cjs-user.cjs']) {
      const r = run(file, 'color')
      expect(r.stdout, file).toMatch(/\u001b\[\d+m/)
      expect(r.stdout.replace(/\u001b\[\d+m/g, '')).toMatch(/queue:in\('a'/)
    }
  })

  it('ships type declarations for both builds, as the exports map says', () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8'))
    for (const cond of ['import', 'require']) {
      const entry = pkg.exports['.'][cond]
      expect(existsSync(entry.types), entry.types).toBe(true)
      expect(existsSync(entry.default), entry.default).toBe(true)
    }
  })
})

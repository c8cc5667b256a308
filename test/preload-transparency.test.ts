// Transparency of the load-time instrumenter on real third-party code. Each workload in
// fixtures/workloads/ drives one popular package hard (thousands of calls, error paths, async
// paths) and prints a sha256 of everything it produced. It runs in a child process plainly and
// then with the recon-trace preload instrumenting every function of that package
// (RECON_TRACE_INCLUDE=<package>): stdout and exit code must be identical, and the probe
// registry, which the workload reports on stderr, must show the package's files were probed.
import { beforeAll, describe, expect, it } from 'vitest'
import { spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))

interface Workload {
  pkg: string
  file: string
  /** CommonJS workloads are also run with the preload given to --require. */
  cjs: boolean
  /** What the workload shows, for the test names. */
  does: string
  /** Files of the package the preload must have probed (the workload loads more). */
  minFiles: number
}

const workloads: Workload[] = [
  // ESM only, one minified bundle.
  { pkg: 'marked', file: 'marked.mjs', cjs: false, does: 'marked renders the same HTML', minFiles: 1 },
  // CommonJS, 33 files of its own loaded (44 with its nested source-map copy).
  { pkg: 'handlebars', file: 'handlebars.cjs', cjs: true, does: 'handlebars compiles and renders the same templates', minFiles: 25 },
  // CommonJS, one 17,000-line file.
  { pkg: 'lodash', file: 'lodash.cjs', cjs: true, does: 'lodash computes the same results', minFiles: 1 },
  // CommonJS package, 72 files loaded, imported from an ES module.
  { pkg: 'yaml', file: 'yaml.mjs', cjs: false, does: 'yaml parses and stringifies the same documents', minFiles: 50 },
]

function run(w: Workload, flags: string[], include?: string): SpawnSyncReturns<string> {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const k of Object.keys(env)) if (k.startsWith('RECON_TRACE_')) delete env[k]
  if (include !== undefined) env.RECON_TRACE_INCLUDE = include
  return spawnSync(process.execPath, [...flags, `fixtures/workloads/${w.file}`], {
    cwd: root,
    env,
    encoding: 'utf8',
    timeout: 55_000,
    maxBuffer: 16 * 1024 * 1024,
  })
}

/** The `probes: N in K files of pkg` line the workload writes to stderr when the registry exists. */
function probes(stderr: string): { n: number; files: number } | undefined {
  const m = /^probes: (\d+) in (\d+) files of /m.exec(stderr)
  return m ? { n: Number(m[1]), files: Number(m[2]) } : undefined
}

const TIMEOUT = 60_000

describe.each(workloads)('transparency of the preload on $pkg', (w) => {
  let plain: SpawnSyncReturns<string>

  beforeAll(() => {
    plain = run(w, [])
  }, TIMEOUT)

  it(`the ${w.pkg} workload, run plainly, prints its digest and finds no probe registry`, () => {
    expect(plain.error, plain.stderr).toBeUndefined()
    expect(plain.status, plain.stderr).toBe(0)
    expect(plain.stdout).toMatch(new RegExp(`^${w.pkg} sha256 [0-9a-f]{64}\\n`))
    expect(plain.stdout).toMatch(/^error /m) // the error paths ran
    expect(plain.stderr).toMatch(/^probes: absent$/m)
  })

  /** The preloaded run printed what the plain run printed, and the package was probed. */
  const sameWithProbes = (flags: string[]) => {
    const traced = run(w, flags, w.pkg)
    expect(traced.error, traced.stderr).toBeUndefined()
    expect(traced.signal, traced.stderr).toBeNull()
    expect(traced.status, traced.stderr).toBe(plain.status)
    expect(traced.stdout).toBe(plain.stdout)
    const p = probes(traced.stderr)
    expect(p, traced.stderr).toBeDefined()
    expect(p!.n).toBeGreaterThan(0)
    expect(p!.files).toBeGreaterThanOrEqual(w.minFiles)
  }

  it(`${w.does} with every function of ${w.pkg} probed (--import recon-trace/register)`, () => {
    sameWithProbes(['--import', 'recon-trace/register'])
  }, TIMEOUT)

  if (!w.cjs) return // --require preloads are for CommonJS programs

  it(`${w.does} with every function of ${w.pkg} probed (--require recon-trace/register)`, () => {
    sameWithProbes(['--require', 'recon-trace/register'])
  }, TIMEOUT)
})

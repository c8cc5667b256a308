// What each entry point loads. `recon-trace --help` and `list` talk to no trace, and a preloaded
// start whose files all come from the rewrite cache traces nothing yet: none of them may load the
// rewrite (acorn, magic-string), the trace machinery (session, specs, guards, snapshots, wrappers)
// or live edit. The lists are pinned: a new import on these paths shows up here.
import { afterAll, describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import moduleApi from 'node:module'
import { HAS_REGISTER_HOOKS, describeUnless, itUnless } from './runtime.js'

const root = resolve(import.meta.dirname, '..')
const cache = mkdtempSync(join(tmpdir(), 'recon-trace-entry-'))
afterAll(() => rmSync(cache, { recursive: true, force: true }))

/** Run node with `flags`: the JSON list the fixture's exit hook printed last on stderr, and stdout. */
function run(flags: string[]): { files: string[]; out: string } {
  const r = spawnSync(process.execPath, flags, { cwd: root, encoding: 'utf8', timeout: 20_000, env: { ...process.env, NODE_OPTIONS: '', RECON_TRACE_CACHE: cache } })
  const last = r.stderr.trim().split('\n').pop() ?? ''
  if (!last.startsWith('[')) throw new Error(`no list from ${flags.join(' ')}: ${r.stderr}`)
  return { files: JSON.parse(last) as string[], out: r.stdout }
}
const loaded = (flags: string[]): string[] => run(flags).files

const CLI = ['bin', 'cli', 'error', 'installation', 'limit', 'lines', 'protocol']
/** The preload, whichever way it is given, runs the CommonJS build (src/preload.ts). */
const PRELOAD = ['error', 'installation', 'mapsupport', 'modules', 'origin', 'register', 'registry', 'scope', 'startup', 'state']
/** What the agent adds, at the program's first turn of the event loop (src/startup.ts). */
const AGENT = ['agent', 'limit', 'lines', 'protocol', 'threadagent']
const files = (build: 'cjs' | 'esm', names: readonly string[]) => names.map((n) => `dist/${build}/${n}.js`)
const sorted = (list: string[]) => [...list].sort()

describe('what each entry point loads', () => {
  it('recon-trace --help loads the CLI, its protocol and nothing of the trace', () => {
    expect(loaded(['--require', './fixtures/entry/cjs-loaded.cjs', 'dist/cjs/bin.js', '--help'])).toEqual(files('cjs', CLI))
  })

  it('recon-trace list loads the same, and nothing more', () => {
    expect(loaded(['--require', './fixtures/entry/cjs-loaded.cjs', 'dist/cjs/bin.js', 'list'])).toEqual(files('cjs', CLI))
  })

  it('the CommonJS preload, its files in the rewrite cache, loads the hooks and the registry only (with the agent on Node 20)', () => {
    const flags = ['--require', './fixtures/entry/cjs-loaded.cjs', '--require', 'recon-trace/register', 'fixtures/entry/app.cjs']
    expect(loaded(flags)).toContain('dist/cjs/instrument.js') // the first start rewrites the file
    // Without module.registerHooks (Node 20) the ES module hooks' thread gives every program a
    // turn of its event loop, and with it the agent.
    expect(loaded(flags)).toEqual(sorted(files('cjs', [...PRELOAD, 'preload', ...(HAS_REGISTER_HOOKS ? [] : AGENT)])))
  })

  it('a preloaded program whose event loop turns gets the agent and its socket at the first turn, not before its first line', () => {
    const flags = ['--require', './fixtures/entry/cjs-loaded.cjs', '--require', 'recon-trace/register', 'fixtures/entry/turn.cjs']
    expect(loaded(flags)).toContain('dist/cjs/instrument.js') // the first start rewrites the file
    const r = run(flags)
    expect(r.out).toBe('no socket at the first line, socket\n')
    expect(r.files).toEqual(sorted(files('cjs', [...PRELOAD, ...AGENT, 'preload'])))
  })

  it("a worker thread of a preloaded program loads the preload and the agent's thread part: not the agent, whose socket needs net", () => {
    const flags = ['--require', 'recon-trace/register', 'fixtures/entry/worker.cjs']
    loaded(flags) // the first start rewrites the file
    expect(loaded(flags)).toEqual(sorted(files('cjs', [...PRELOAD, 'preload', 'lines', 'threadagent'])))
  })

  itUnless(!HAS_REGISTER_HOOKS && `module.registerHooks, which the test records ES module loads with, does not exist on Node ${process.versions.node}`)(
    "the ES module preload, its files in the rewrite cache, loads the CommonJS build's hooks and registry only: no acorn, no magic-string",
    () => {
      const flags = ['--import', './fixtures/entry/esm-loaded.mjs', '--import', 'recon-trace/register', 'fixtures/entry/app.mjs']
      expect(loaded(flags)).toEqual(expect.arrayContaining(['node_modules/acorn', 'node_modules/magic-string'])) // the first start rewrites
      expect(loaded(flags)).toEqual(sorted([...files('cjs', PRELOAD), ...files('esm', ['installation', 'preload'])]))
    },
  )
})

describe('the rewrite cache', () => {
  it('is keyed by files that exist in the build: a cache entry is reused on the next start', async () => {
    const { REWRITE_FILES } = await import('../src/register.js')
    const { existsSync } = await import('node:fs')
    for (const build of ['cjs', 'esm']) for (const f of REWRITE_FILES) expect(existsSync(join(root, 'dist', build, f)), `dist/${build}/${f}`).toBe(true)
  })
})

const NO_COMPILE_CACHE =
  typeof (moduleApi as { getCompileCacheDir?: unknown }).getCompileCacheDir !== 'function' &&
  `module.enableCompileCache and getCompileCacheDir do not exist on Node ${process.versions.node}`

describeUnless(NO_COMPILE_CACHE)("V8's compile cache, turned on by the preload", () => {
  const preload = pathToFileURL(join(root, 'dist/esm/preload.js')).href
  /** The compile cache directory a preloaded program sees, less the subdirectory Node adds per version (or 'off'). */
  function cacheDirSeen(env: Record<string, string>): string {
    const clean: Record<string, string | undefined> = { ...process.env, NODE_OPTIONS: '' }
    for (const k of ['NODE_COMPILE_CACHE', 'NODE_DISABLE_COMPILE_CACHE', 'NODE_V8_COVERAGE', 'RECON_TRACE_COMPILE_CACHE']) delete clean[k]
    const r = spawnSync(process.execPath, ['--import', preload, '-e', "console.log(require('node:module').getCompileCacheDir() ?? 'off')"], {
      cwd: root,
      encoding: 'utf8',
      timeout: 20_000,
      env: { ...clean, ...env },
    })
    expect(r.stderr).toBe('')
    return r.stdout.trim().replace(/\/v\d+\.\d+\.\d+-[^/]+$/, '')
  }

  it('lives in <cache>/v8 beside the rewritten files', () => {
    expect(cacheDirSeen({ RECON_TRACE_CACHE: cache })).toBe(join(cache, 'v8'))
  })

  it('stays off with RECON_TRACE_COMPILE_CACHE=off, with the rewrite cache off, and under NODE_V8_COVERAGE', () => {
    expect(cacheDirSeen({ RECON_TRACE_CACHE: cache, RECON_TRACE_COMPILE_CACHE: 'off' })).toBe('off')
    expect(cacheDirSeen({ RECON_TRACE_CACHE: '0' })).toBe('off')
    const coverage = mkdtempSync(join(tmpdir(), 'recon-trace-coverage-'))
    try {
      expect(cacheDirSeen({ RECON_TRACE_CACHE: cache, NODE_V8_COVERAGE: coverage })).toBe('off')
    } finally {
      rmSync(coverage, { recursive: true, force: true })
    }
  })

  it("leaves Node's own settings as they are: NODE_COMPILE_CACHE's directory, NODE_DISABLE_COMPILE_CACHE", () => {
    const own = mkdtempSync(join(tmpdir(), 'recon-trace-own-cache-'))
    try {
      expect(cacheDirSeen({ RECON_TRACE_CACHE: cache, NODE_COMPILE_CACHE: own })).toBe(own)
      expect(cacheDirSeen({ RECON_TRACE_CACHE: cache, NODE_DISABLE_COMPILE_CACHE: '1' })).toBe('off')
    } finally {
      rmSync(own, { recursive: true, force: true })
    }
  })
})

// What each entry point loads. `recon-trace --help` and `list` talk to no trace, and a preloaded
// start whose files all come from the rewrite cache traces nothing yet: none of them may load the
// rewrite (acorn, magic-string), the trace machinery (session, specs, guards, snapshots, wrappers)
// or live edit. The lists are pinned: a new import on these paths shows up here.
import { afterAll, describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { HAS_REGISTER_HOOKS, itUnless } from './runtime.js'

const root = resolve(import.meta.dirname, '..')
const cache = mkdtempSync(join(tmpdir(), 'recon-trace-entry-'))
afterAll(() => rmSync(cache, { recursive: true, force: true }))

/** Run node with `flags`; the JSON list the fixture's exit hook printed last on stderr. */
function loaded(flags: string[]): string[] {
  const r = spawnSync(process.execPath, flags, { cwd: root, encoding: 'utf8', timeout: 20_000, env: { ...process.env, NODE_OPTIONS: '', RECON_TRACE_CACHE: cache } })
  const last = r.stderr.trim().split('\n').pop() ?? ''
  if (!last.startsWith('[')) throw new Error(`no list from ${flags.join(' ')}: ${r.stderr}`)
  return JSON.parse(last) as string[]
}

const CLI = ['bin', 'cli', 'error', 'installation', 'limit', 'lines', 'protocol']
const PRELOAD = ['agent', 'error', 'installation', 'limit', 'lines', 'mapsupport', 'modules', 'origin', 'preload', 'protocol', 'register', 'registry', 'state']
const files = (build: 'cjs' | 'esm', names: readonly string[]) => names.map((n) => `dist/${build}/${n}.js`)

describe('what each entry point loads', () => {
  it('recon-trace --help loads the CLI, its protocol and nothing of the trace', () => {
    expect(loaded(['--require', './fixtures/entry/cjs-loaded.cjs', 'dist/cjs/bin.js', '--help'])).toEqual(files('cjs', CLI))
  })

  it('recon-trace list loads the same, and nothing more', () => {
    expect(loaded(['--require', './fixtures/entry/cjs-loaded.cjs', 'dist/cjs/bin.js', 'list'])).toEqual(files('cjs', CLI))
  })

  it('the CommonJS preload, its files in the rewrite cache, loads the hooks, the registry and the agent only', () => {
    const flags = ['--require', './fixtures/entry/cjs-loaded.cjs', '--require', 'recon-trace/register', 'fixtures/entry/app.cjs']
    expect(loaded(flags)).toContain('dist/cjs/instrument.js') // the first start rewrites the file
    expect(loaded(flags)).toEqual(files('cjs', PRELOAD))
  })

  itUnless(!HAS_REGISTER_HOOKS && `module.registerHooks, which the test records ES module loads with, does not exist on Node ${process.versions.node}`)(
    'the ES module preload, its files in the rewrite cache, loads the hooks, the registry and the agent only: no acorn, no magic-string',
    () => {
      const flags = ['--import', './fixtures/entry/esm-loaded.mjs', '--import', 'recon-trace/register', 'fixtures/entry/app.mjs']
      expect(loaded(flags)).toEqual(expect.arrayContaining(['node_modules/acorn', 'node_modules/magic-string'])) // the first start rewrites
      expect(loaded(flags)).toEqual(files('esm', PRELOAD))
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

/**
 * Scope: what the preload instruments and where it keeps its caches, from `register()`'s options
 * and the environment (`RECON_TRACE_INCLUDE`, `RECON_TRACE_EXCLUDE`, `RECON_TRACE_CACHE`,
 * `RECON_TRACE_PROBES`, `RECON_TRACE_COMPILE_CACHE`), and V8's compile cache beside the rewrite
 * cache. Small on purpose: the preload (preload.ts) loads it first and turns the compile cache on
 * before the rest of recon-trace compiles, so that a warm start compiles none of it again.
 */
import ModuleApi from 'node:module'
import { mkdirSync } from 'node:fs'
import { homedir } from 'node:os'
import { isAbsolute, join, resolve } from 'node:path'

/** Options of `register()`; each defaults to its environment variable. */
export interface RegisterOptions {
  /**
   * Packages (by name: `'marked'`, `'@scope/pkg'`) and globs (`'**\/vendor/*.js'`, relative to
   * the working directory, or absolute) to instrument besides the application's own files.
   * Default: `RECON_TRACE_INCLUDE`, comma-separated, or none.
   */
  include?: readonly string[]
  /** Packages and globs to leave out. Default: `RECON_TRACE_EXCLUDE`, comma-separated, or none. */
  exclude?: readonly string[]
  /**
   * A directory where rewritten files are kept, checked against their source and recon-trace's version, so a
   * restart does not rewrite them again; `false` for none. Default: `RECON_TRACE_CACHE` if set
   * (`0` or `off` for none), else `~/.cache/recon-trace` (owner-only).
   */
  cache?: string | false
  /**
   * What probes see: `'full'` (the call, and its return value or exception) or `'calls'` (the
   * call only: the smallest probe, for the hottest code; `-> return` is then refused on those
   * files). `'lean'`: no probe at all in the functions a top-level binding holds, or a property
   * of an object one holds (holder.ts), that the file only ever calls through it: a trace
   * reaches them by binding swaps (docs/binding.md), and they cost nothing while no trace selects
   * them; full probes in the rest (nested functions, anonymous callbacks, functions passed or
   * exported as values). Where binding swaps cannot run (Node 20, a Node without the
   * inspector), `'lean'` is `'full'`. Default: `RECON_TRACE_PROBES`, or `'full'`.
   */
  probes?: 'full' | 'calls' | 'lean'
}

export interface ScopeData {
  include: string[]
  exclude: string[]
  cwd: string
  cache: string | false
  /** The form of the rewrite: `'lean'` only where binding swaps run (`swapsRun`). */
  probes: 'full' | 'calls' | 'lean'
}

function list(v: string | undefined): string[] {
  return (v ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
}

/** The scope, from options and environment, checked: throws a plain message for a bad entry. */
export function scopeOf(options: RegisterOptions = {}): ScopeData {
  const env = process.env
  const include = options.include ? [...options.include] : list(env.RECON_TRACE_INCLUDE)
  const exclude = options.exclude ? [...options.exclude] : list(env.RECON_TRACE_EXCLUDE)
  let cache: string | false
  if (options.cache !== undefined) cache = options.cache
  else if (env.RECON_TRACE_CACHE !== undefined)
    cache = /^(0|off|false|no)$/i.test(env.RECON_TRACE_CACHE) || env.RECON_TRACE_CACHE === '' ? false : resolve(env.RECON_TRACE_CACHE)
  else cache = join(env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : join(homedir(), '.cache'), 'recon-trace')
  const asked = options.probes ?? (env.RECON_TRACE_PROBES === 'calls' || env.RECON_TRACE_PROBES === 'lean' ? env.RECON_TRACE_PROBES : 'full')
  const probes = asked === 'lean' && !swapsRun(env) ? 'full' : asked
  return { include, exclude, cwd: process.cwd(), cache, probes }
}

/**
 * V8 11 (Node 20) crashed the process when a breakpoint was set while it optimized a caller of
 * the function (installers/debugger.ts `bindingRefusal` has the details).
 */
export const BREAKPOINTS_CRASH = Number(process.versions.v8.split('.')[0]) <= 11

/**
 * Whether binding swaps can run in this thread, as far as a preload can tell without loading
 * the inspector: a Node built with it, on a V8 where breakpoints are safe (or
 * `RECON_TRACE_BINDING=force`). The lean form relies on them.
 */
export function swapsRun(env: NodeJS.ProcessEnv = process.env): boolean {
  return process.features.inspector !== false && (!BREAKPOINTS_CRASH || env.RECON_TRACE_BINDING === 'force')
}

let cacheReady: string | false | undefined

/** The cache directory, made (owner-only) at the first use; `false` when there is none or it cannot be made. */
export function cacheDir(dir: string | false): string | false {
  if (cacheReady !== undefined) return cacheReady
  if (dir === false) return (cacheReady = false)
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    return (cacheReady = dir)
  } catch {
    return (cacheReady = false)
  }
}

/**
 * V8's compile cache (`module.enableCompileCache`, Node 22.8+) for the modules loaded from now on,
 * in `<cache>/v8`, when the rewrite cache is on: a warm start then neither rewrites a file nor
 * compiles its larger code again (bench/probe-load.mjs, 200 files on Node 24: x1.88 of a plain
 * start with the rewrite cache alone, x1.35 with both). Node keys the cache by the source after
 * the hooks, so rewritten code is cached as it runs. It affects this thread only (workers and
 * children inherit nothing), and never fails the program: Node reports a failure in the result.
 *
 * Left off with `RECON_TRACE_COMPILE_CACHE=off`, with the rewrite cache off, and under
 * NODE_V8_COVERAGE (Node's compile cache makes coverage less precise). `NODE_COMPILE_CACHE` (on
 * already, in its own directory) and `NODE_DISABLE_COMPILE_CACHE` (off) keep their meaning:
 * Node answers ALREADY_ENABLED or DISABLED.
 */
export function turnOnCompileCache(scope: ScopeData): void {
  const env = process.env
  const enable = (ModuleApi as unknown as { enableCompileCache?: (dir: string) => unknown }).enableCompileCache
  if (typeof enable !== 'function' || scope.cache === false || env.NODE_V8_COVERAGE) return
  if (/^(0|off|false|no)$/i.test(env.RECON_TRACE_COMPILE_CACHE ?? '')) return
  const dir = cacheDir(scope.cache)
  if (dir === false) return
  try {
    enable(join(dir, 'v8'))
  } catch {
    /* a quiet optimization: the program starts as it would without it */
  }
}

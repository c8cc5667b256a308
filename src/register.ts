/**
 * Register: the load hooks that instrument modules as they load (the preload's work).
 *
 * `node --import recon-trace/register app.mjs` (or `--require`, or the same in `NODE_OPTIONS`)
 * calls `register()` before the program's first line. From then on every module file the
 * program loads that the scope covers is rewritten once by `instrument` (a dormant probe in each
 * function, an inline source map composed with the file's own), and registers its probes when
 * it runs. What is covered: the application's own files (everything outside `node_modules`), plus
 * the packages and globs of `RECON_TRACE_INCLUDE`, minus those of `RECON_TRACE_EXCLUDE`; never
 * recon-trace itself, `node:` builtins, JSON, WebAssembly or TypeScript that Node strips itself.
 *
 * Hooks: `module.registerHooks` (synchronous, in this thread, ESM and CommonJS alike) where the
 * runtime has it (Node 22.15+, 24); otherwise `module.register` (ES modules, hooks in Node's
 * loader thread) plus a patch of the CommonJS compile step (`Module.prototype._compile`).
 * Worker threads run the preload again (they inherit `execArgv` and `NODE_OPTIONS`), so they
 * are instrumented the same way.
 *
 * A file that does not parse loads unchanged, with one warning naming the file and the cause.
 * Nothing here ever throws into the program's loading: any fault of ours loads the file as is.
 */
import Module from 'node:module'
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { isAbsolute, join, relative, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type * as Instrument from './instrument.js'
import { installRegistry, type Registry } from './registry.js'
import { isEsmFile, isOwnFile, packageNameOf } from './modules.js'
import { state } from './state.js'
import { commonJsFile, ownFileURL } from './installation.js'

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
   * A directory where rewritten files are kept, keyed by content and recon-trace's version, so a
   * restart does not rewrite them again; `false` for none. Default: `RECON_TRACE_CACHE` if set
   * (`0` or `off` for none), else `~/.cache/recon-trace` (owner-only).
   */
  cache?: string | false
  /**
   * What probes see: `'full'` (the call, and its return value or exception) or `'calls'` (the
   * call only: the smallest probe, for the hottest code; `-> return` is then refused on those
   * files). Default: `RECON_TRACE_PROBES`, or `'full'`.
   */
  probes?: 'full' | 'calls'
}

export interface ScopeData {
  include: string[]
  exclude: string[]
  cwd: string
  cache: string | false
  probes: 'full' | 'calls'
}

/**
 * The files whose code decides what a rewritten file is: the rewrite, its names, its map, and the
 * table and header format the registry reads. test/entry-points.test.ts proves the cache hits in
 * a fresh checkout (a name missing here would make every start a miss, silently).
 */
export const REWRITE_FILES: readonly string[] = ['instrument.js', 'naming.js', 'sourcemap.js', 'registry.js', 'state.js']

let version: string | undefined
/** recon-trace's version and the rewrite's own code: a cached file is reused only by the same rewrite. */
function rewriteVersion(): string {
  if (version === undefined) {
    const h = createHash('sha256')
    try {
      for (const f of REWRITE_FILES) h.update(readFileSync(ownFileURL(f)))
    } catch {
      h.update(String(Date.now())) // cannot tell: never reuse
    }
    version = h.digest('hex').slice(0, 16)
  }
  return version
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
  const probes = options.probes ?? (env.RECON_TRACE_PROBES === 'calls' ? 'calls' : 'full')
  return { include, exclude, cwd: process.cwd(), cache, probes }
}

/** A path glob (`src/**`, `lib/*.js`) as a regular expression: `*` stays within a directory, `**` crosses them. */
function pathGlobToRegExp(glob: string): RegExp {
  let re = ''
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]
    if (c === '*') {
      if (glob[i + 1] === '*') {
        re += '.*'
        i++
        if (glob[i + 1] === '/') i++
      } else re += '[^/]*'
    } else if (c === '?') re += '[^/]'
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&')
  }
  return new RegExp(`^${re}$`)
}

const isGlob = (s: string) => /[*?/\\]/.test(s) || s.startsWith('.')

/** The decision `file -> instrumented?` for a scope. */
export function coverage(scope: ScopeData): (filename: string) => boolean {
  const compile = (entries: string[]) => {
    const names = new Set(entries.filter((e) => !isGlob(e)))
    const globs = entries.filter(isGlob).map((g) => pathGlobToRegExp(g.replace(/\\/g, '/')))
    return (file: string, pkg: string | undefined) => {
      if (pkg !== undefined && names.has(pkg)) return true
      if (globs.length === 0) return false
      const abs = file.replace(/\\/g, '/')
      const rel = relative(scope.cwd, file).replace(/\\/g, '/')
      return globs.some((g) => g.test(rel) || g.test(abs) || g.test(`./${rel}`))
    }
  }
  const included = compile(scope.include)
  const excluded = compile(scope.exclude)
  const cache = new Map<string, boolean>()
  return (filename) => {
    let v = cache.get(filename)
    if (v !== undefined) return v
    v = false
    if (/\.(c|m)?js$/.test(filename) && isAbsolute(filename) && !isOwnFile(filename)) {
      const pkg = packageNameOf(filename)
      v = (pkg === undefined || included(filename, pkg)) && !excluded(filename, pkg)
    }
    cache.set(filename, v)
    return v
  }
}

// ---------------------------------------------------------------------------------------------
// The rewrite of one file, with its input map and the cache.

const warned = new Set<string>()
function warn(message: string): void {
  if (warned.has(message)) return
  warned.add(message)
  try {
    process.emitWarning(message, { type: 'ReconTraceWarning' })
  } catch {
    /* nothing to do */
  }
}

let rewriter: typeof Instrument | undefined
/**
 * The rewrite module, loaded on the first cache miss: acorn, magic-string and the map codec take
 * a while to load (bench/probe-load.mjs, start-up), which a start whose files are all in the
 * cache never pays (test/entry-points.test.ts). Through `require`
 * of the CommonJS build (synchronous in every hook, on every supported runtime).
 */
export function rewriterModule(): typeof Instrument {
  if (rewriter === undefined) {
    const file = commonJsFile('instrument.js')
    // Our dependencies are loaded for us, not instrumented, and taken out of require's cache
    // again: a program that uses acorn or magic-string itself (and includes it) then loads its
    // own copy, with probes, instead of sharing ours.
    const cache = (Module as unknown as { _cache: Record<string, unknown> })._cache
    const before = new Set(Object.keys(cache))
    loadingRewriter = true
    try {
      rewriter = Module.createRequire(file)(file) as typeof Instrument
    } finally {
      loadingRewriter = false
      for (const k of Object.keys(cache)) if (!before.has(k) && !isOwnFile(k)) delete cache[k]
    }
  }
  return rewriter
}
let loadingRewriter = false

/** The file's own source map, if it names one that can be read. */
export function inputMapOf(source: string, filename: string): { map: Instrument.RawSourceMap; url: string } | undefined {
  const ref = rewriterModule().findMapReference(source)
  if (!ref) return undefined
  try {
    const fileURL = pathToFileURL(filename).href
    if (ref.url.startsWith('data:')) {
      const comma = ref.url.indexOf(',')
      const meta = ref.url.slice(5, comma)
      const body = ref.url.slice(comma + 1)
      const text = meta.endsWith(';base64') ? Buffer.from(body, 'base64').toString('utf8') : decodeURIComponent(body)
      return { map: JSON.parse(text) as Instrument.RawSourceMap, url: fileURL }
    }
    const url = new URL(ref.url, fileURL)
    if (url.protocol !== 'file:') return undefined
    return { map: JSON.parse(readFileSync(fileURLToPath(url), 'utf8')) as Instrument.RawSourceMap, url: url.href }
  } catch {
    return undefined
  }
}

let cacheReady: string | false | undefined

function cacheDir(dir: string | false): string | false {
  if (cacheReady !== undefined) return cacheReady
  if (dir === false) return (cacheReady = false)
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    return (cacheReady = dir)
  } catch {
    return (cacheReady = false)
  }
}

/** Write a cache file (owner-only), then rename it in place: a reader never sees half a file. */
function store(dir: string, name: string, text: string): boolean {
  try {
    const tmp = join(dir, `${name}.${process.pid}.tmp`)
    writeFileSync(tmp, text, { mode: 0o600 })
    renameSync(tmp, join(dir, name))
    return true
  } catch {
    return false
  }
}

/**
 * The instrumented source of one file, or `undefined` to load it as it is (nothing to probe, or
 * it does not parse: then one warning).
 */
export function rewrite(
  source: string,
  filename: string,
  format: 'module' | 'commonjs',
  scope: ScopeData,
  withMap = process.sourceMapsEnabled !== false,
): string | undefined {
  if (loadingRewriter) return undefined
  try {
    const dir = cacheDir(scope.cache)
    let key: string | undefined
    if (dir !== false) {
      key = createHash('sha256')
        .update(rewriteVersion())
        .update('\0')
        .update(scope.probes)
        .update(withMap ? '\0map' : '\0')
        .update('\0')
        .update(format)
        .update('\0')
        .update(filename)
        .update('\0')
        .update(source)
        .digest('hex')
      try {
        const hit = readFileSync(join(dir, `${key}.js`), 'utf8')
        return hit.length === 0 ? undefined : hit
      } catch {
        /* a miss */
      }
    }
    const { instrument, inlineMapComment, ParseFailure } = rewriterModule()
    // The file's own map is needed for the composed map, and for the original lines of names.
    const input = inputMapOf(source, filename)
    let r: ReturnType<typeof instrument>
    try {
      r = instrument(source, { filename, format, inputMap: input?.map, inputMapURL: input?.url, capture: scope.probes, map: withMap })
    } catch (err) {
      if (err instanceof ParseFailure) warn(`recon-trace: ${filename} loads without probes: it does not parse (${err.cause})`)
      else warn(`recon-trace: ${filename} loads without probes: ${err instanceof Error ? err.message : String(err)}`)
      return undefined
    }
    if (r.probes.length === 0) {
      if (dir !== false && key !== undefined) store(dir, `${key}.js`, '')
      return undefined
    }
    if (!r.map) {
      // Source maps are off: Node reads no map for a module compiled now, so none is built (a
      // tenth of the rewrite's time). Lines are kept anyway.
      if (dir !== false && key !== undefined) store(dir, `${key}.js`, r.code)
      return r.code
    }
    // With a cache, the map is a file beside the code, named by its URL: Node reads it only when
    // source maps are on, where an inline map (2-3 times the size of the code) is scanned by V8
    // at every start (bench/probe-load.mjs, warm start).
    if (dir !== false && key !== undefined) {
      const mapFile = join(dir, `${key}.js.map`)
      if (store(dir, `${key}.js.map`, JSON.stringify(r.map))) {
        const out = `${r.code}\n//# sourceMappingURL=${pathToFileURL(mapFile).href}\n`
        store(dir, `${key}.js`, out)
        return out
      }
    }
    const out = r.code + inlineMapComment(r.map)
    return out
  } catch {
    return undefined
  }
}

// ---------------------------------------------------------------------------------------------
// Installing the hooks.

type SyncHooks = {
  load?: (
    url: string,
    context: { format?: string | null },
    next: (url: string, context?: unknown) => { format?: string | null; source?: unknown },
  ) => { format?: string | null; source?: unknown; shortCircuit?: boolean }
}
const ModuleApi = Module as unknown as {
  registerHooks?: (hooks: SyncHooks) => unknown
  register?: (specifier: string, parentURL?: string, options?: { data?: unknown }) => void
  prototype: { _compile: (this: unknown, content: string, filename: string, ...rest: unknown[]) => unknown }
}

/** The format Node gives a file by its extension and nearest package.json (no syntax detection). */
function formatOf(filename: string): 'module' | 'commonjs' | undefined {
  if (filename.endsWith('.cjs')) return 'commonjs'
  if (!filename.endsWith('.mjs') && !filename.endsWith('.js')) return undefined
  return isEsmFile(filename) ? 'module' : 'commonjs'
}

/** A load hook's source as text; read from the file when the hook chain gave none. */
export function sourceText(source: unknown, url: string): string | undefined {
  if (typeof source === 'string') return source
  if (source instanceof Uint8Array) return Buffer.from(source.buffer, source.byteOffset, source.byteLength).toString('utf8')
  if (source instanceof ArrayBuffer) return Buffer.from(source).toString('utf8')
  if (source === null || source === undefined) {
    try {
      return readFileSync(fileURLToPath(url), 'utf8')
    } catch {
      return undefined
    }
  }
  return undefined
}

let installed: Registry | undefined

/**
 * Instrument every module loaded from now on that `options` covers, and install the probe
 * registry of this thread. Called by the preload; callable from code before the program's
 * modules load (a module already loaded keeps its code). A second call returns the first's
 * registry.
 */
export function register(options: RegisterOptions = {}): Registry {
  if (installed) return installed
  const scope = scopeOf(options)
  const covers = coverage(scope)
  const reg = installRegistry(covers)
  installed = reg
  if (typeof ModuleApi.registerHooks === 'function') {
    ModuleApi.registerHooks({
      load(url, context, next) {
        const result = next(url, context)
        if (!url.startsWith('file:')) return result
        let filename: string
        try {
          filename = fileURLToPath(url)
        } catch {
          return result
        }
        // `require` of a .js file leaves the format open (Node decides when it compiles it).
        const format = result.format ?? formatOf(filename)
        if (format !== 'module' && format !== 'commonjs') return result
        if (!covers(filename)) return result
        const text = sourceText(result.source, url)
        if (text === undefined) return result
        const code = rewrite(text, filename, format, scope)
        return code === undefined ? result : { ...result, format, source: code }
      },
    })
    return reg
  }
  // Node 20 and 22 before registerHooks: ES modules through the loader thread...
  if (typeof ModuleApi.register === 'function') {
    try {
      ModuleApi.register(ownFileURL('loader.js').href, undefined, { data: scope })
    } catch (err) {
      warn(`recon-trace: ES modules will load without probes: the loader hooks could not be registered (${err instanceof Error ? err.message : String(err)})`)
    }
  }
  // ...and CommonJS at its compile step, in this thread.
  const proto = ModuleApi.prototype
  const compile = proto._compile
  proto._compile = function _compile(this: unknown, content: string, filename: string, ...rest: unknown[]) {
    if (typeof content === 'string' && typeof filename === 'string' && covers(filename)) {
      const code = rewrite(content, filename, 'commonjs', scope)
      if (code !== undefined) content = code
    }
    return Reflect.apply(compile, this, [content, filename, ...rest])
  }
  return reg
}

/**
 * Worker threads run `--require` preloads but not `--import` ones (Node 20 and 24), so a program
 * preloaded with `--import recon-trace/register` would start uninstrumented workers. This gives
 * every worker started from now on the CommonJS preload as a `--require` flag: the
 * `worker_threads` export `Worker` becomes a subclass whose constructor adds the flag to the
 * worker's `execArgv` (given or inherited), and nothing else. Not done when this thread already
 * has the preload as `--require` (workers inherit that).
 */
export function preloadWorkers(): void {
  try {
    const argv = process.execArgv
    const required = argv.some(
      (a, i) =>
        (/^(-r|--require)$/.test(a) && /recon-trace[\\/]register|preload\.js$/.test(argv[i + 1] ?? '')) ||
        /^--require=.*(recon-trace[\\/]register|preload\.js)$/.test(a),
    )
    if (required) return
    const cjsPreload = commonJsFile('preload.js')
    const req = Module.createRequire(cjsPreload)
    const wt = req('node:worker_threads') as typeof import('node:worker_threads') & Record<string, unknown>
    const Original = wt.Worker
    if (state.workersPreloaded) return
    const withPreload = (options: unknown): unknown => {
      const o = (typeof options === 'object' && options !== null ? options : {}) as { execArgv?: unknown }
      const base = Array.isArray(o.execArgv) ? (o.execArgv as string[]) : process.execArgv
      return { ...o, execArgv: [...base, '--require', cjsPreload] }
    }
    const Worker = class Worker extends Original {
      constructor(filename: string | URL, options?: import('node:worker_threads').WorkerOptions) {
        super(filename, withPreload(options) as import('node:worker_threads').WorkerOptions)
      }
    }
    wt.Worker = Worker
    state.workersPreloaded = true
    ;(Module as unknown as { syncBuiltinESMExports: () => void }).syncBuiltinESMExports()
  } catch (err) {
    warn(`recon-trace: worker threads will start without probes (${err instanceof Error ? err.message : String(err)})`)
  }
}

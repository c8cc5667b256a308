/**
 * Register: the load hooks that instrument modules as they load (the preload's work).
 *
 * `node --import recon-trace/register app.mjs` (or `--require`, or the same in `NODE_OPTIONS`)
 * calls `register()` before the program's first line. From then on every module file the
 * program loads that the scope covers is rewritten once by `instrument` (a dormant probe in each
 * function, an inline source map composed with the file's own), and registers its probes when
 * it runs. What is covered: the application's own files (everything outside `node_modules`), plus
 * the packages and globs of `RECON_TRACE_INCLUDE`, minus those of `RECON_TRACE_EXCLUDE`; never
 * recon-trace itself, `node:` builtins, JSON or WebAssembly.
 *
 * TypeScript (docs/typescript.md), however it runs:
 * - Node's own type stripping: the load hook sees the formats `module-typescript`,
 *   `commonjs-typescript` (or `typescript`, a `.ts` file `require`d with no package type), strips
 *   the types itself with `module.stripTypeScriptTypes` (blanks: every position stays), probes the
 *   JavaScript and hands it on as `module` or `commonjs`;
 * - a loader (tsx, ts-node, `--experimental-transform-types`): what reaches us is JavaScript with
 *   the loader's inline source map, which the rewrite's own map is composed with. tsx's and
 *   ts-node's CommonJS paths (`require.extensions`) skip the load hooks and call
 *   `Module.prototype._compile` directly: the compile-step patch catches them there.
 *
 * Hooks: `module.registerHooks` (synchronous, in this thread, ESM and CommonJS alike) where the
 * runtime has it (Node 22.15+, 24); otherwise `module.register` (ES modules, hooks in Node's
 * loader thread). On every runtime, a patch of the CommonJS compile step
 * (`Module.prototype._compile`) for the code no load hook saw. Worker threads run the preload
 * again (they inherit `execArgv` and `NODE_OPTIONS`), so they are instrumented the same way.
 *
 * A file that does not parse loads unchanged, with one warning naming the file and the cause.
 * Nothing here ever throws into the program's loading: any fault of ours loads the file as is.
 */
import Module from 'node:module'
import { readFileSync, renameSync, writeFileSync, statSync } from 'node:fs'
import { dirname, extname, isAbsolute, join, relative, sep } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type * as Instrument from './instrument.js'
import { installRegistry, type Registry } from './registry.js'
import { isEsmFile, isOwnFile, isTypeScriptFile, packageNameOf } from './modules.js'
import { STATE_KEY, state } from './state.js'
import { commonJsFile, ownFileURL } from './installation.js'
import { mapSupported, shareMap } from './mapsupport.js'
import { findMapReference, readMap } from './origin.js'
import { cacheDir, scopeOf, turnOnCompileCache, type RegisterOptions, type ScopeData } from './scope.js'

export type { RegisterOptions, ScopeData } from './scope.js'

/**
 * The files whose code decides what a rewritten file is: the rewrite, its names, its map, and the
 * table and header format the registry reads. test/entry-points.test.ts proves the cache hits in
 * a fresh checkout (a name missing here would make every start a miss, silently).
 */
export const REWRITE_FILES: readonly string[] = ['instrument.js', 'naming.js', 'sourcemap.js', 'origin.js', 'registry.js', 'state.js']

/**
 * A 64-bit hash of `parts` in the manner of FNV-1a (two 32-bit lanes, the second also fed by the
 * first), in hex. It names cache entries; it does not
 * vouch for them: an entry holds the file's name and source, compared in full before its code is
 * used (`cached`). No crypto: loading `node:crypto` alone took 4-6 ms of a preloaded start (Node
 * 24), a third of the preload's fixed cost.
 */
export function fnv64(parts: readonly string[]): string {
  let a = 0x811c9dc5
  let b = 0xcbf29ce4
  for (const s of parts) {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i)
      a = Math.imul(a ^ c, 0x01000193)
      b = Math.imul(b ^ c ^ (a >>> 15), 0x01000193)
    }
    a = Math.imul(a ^ 0xff, 0x01000193)
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0')
}

let version: string | undefined
/**
 * The rewrite's own code: recon-trace's version (npm gives every file of a package the same
 * time, so a release is told by its version) and the size and time of the rewrite's files (a
 * new build writes them anew): a cached file is reused only by the same rewrite. Not their
 * content: hashing 150 KB in JavaScript at start-up, before the JIT, took 7-8 ms (Node 24).
 */
function rewriteVersion(): string {
  if (version === undefined) {
    try {
      const pkg = JSON.parse(readFileSync(ownFileURL('../../package.json'), 'utf8')) as { version?: unknown }
      version = fnv64([
        String(pkg.version),
        ...REWRITE_FILES.map((f) => {
          const s = statSync(ownFileURL(f))
          return `${f}:${s.size}:${s.mtimeMs}`
        }),
      ])
    } catch {
      version = String(Date.now()) // cannot tell: never reuse
    }
  }
  return version
}

/** The first line of a cache entry: the entry format. */
const ENTRY = 'recon-trace cache 2\n'

/**
 * A cache entry: the format line, the file's name (JSON) and its source's length on a line each,
 * the source, then what the rewrite made of it (empty: load the file as it is).
 */
function entry(filename: string, source: string, code: string): string {
  return `${ENTRY}${JSON.stringify(filename)}\n${source.length}\n${source}${code}`
}

/**
 * The code of a cache entry when it was made from exactly this file and source, else undefined
 * (a miss: another source, another file under the same hash, an entry of an older format).
 */
function cached(text: string, filename: string, source: string): string | undefined {
  if (!text.startsWith(ENTRY)) return undefined
  const name = JSON.stringify(filename)
  let at = ENTRY.length
  if (!text.startsWith(name, at) || text.charCodeAt(at + name.length) !== 10) return undefined
  at += name.length + 1
  const nl = text.indexOf('\n', at)
  if (nl < 0 || text.slice(at, nl) !== String(source.length)) return undefined
  at = nl + 1
  if (!text.startsWith(source, at)) return undefined
  return text.slice(at + source.length)
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

/** The files the preload can instrument: JavaScript, JSX, TypeScript (stripped, or compiled by a loader). */
const isScriptFile = (file: string) => /\.(c|m)?jsx?$/.test(file) || isTypeScriptFile(file)

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
    if (isScriptFile(filename) && isAbsolute(filename) && !isOwnFile(filename)) {
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
  const ref = findMapReference(source)
  return ref === undefined ? undefined : readMap<Instrument.RawSourceMap>(ref.url, filename)
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

/** An instrumented file: its code, and the format it was instrumented as. */
export interface Rewritten {
  code: string
  format: 'module' | 'commonjs'
}

/**
 * The instrumented source of one file, or `undefined` to load it as it is (nothing to probe, or
 * it does not parse: then one warning). `'detect'`: a file whose format Node decides from its
 * syntax (a `.ts` file `require`d with no package type): instrumented as CommonJS, or as an ES
 * module when it does not parse as a script, which is Node's own rule.
 */
export function rewrite(
  source: string,
  filename: string,
  format: 'module' | 'commonjs' | 'detect',
  scope: ScopeData,
  withMap = process.sourceMapsEnabled !== false,
  /** Load the file as it is, without a warning, when it does not parse. */
  quiet = false,
): Rewritten | undefined {
  if (loadingRewriter) return undefined
  try {
    const dir = cacheDir(scope.cache)
    const formats = format === 'detect' ? (['commonjs', 'module'] as const) : [format]
    const keys = new Map<'module' | 'commonjs', string>()
    if (dir !== false) {
      for (const f of formats) {
        // One entry per file, rewrite and form: a changed file replaces its entry.
        const key = fnv64([rewriteVersion(), scope.probes, withMap ? 'map' : '', f, filename])
        keys.set(f, key)
        try {
          const hit = cached(readFileSync(join(dir, `${key}.js`), 'utf8'), filename, source)
          if (hit !== undefined) return hit.length === 0 ? undefined : { code: hit, format: f }
        } catch {
          /* a miss */
        }
      }
    }
    const { instrument, inlineMapComment, ParseFailure } = rewriterModule()
    // The file's own map is needed for the composed map, and for the original lines of names.
    const input = inputMapOf(source, filename)
    let r: ReturnType<typeof instrument> | undefined
    let as: 'module' | 'commonjs' = formats[0]
    for (const f of formats) {
      as = f
      try {
        r = instrument(source, {
          filename,
          format: f,
          inputMap: input?.map,
          inputMapURL: input?.url,
          capture: scope.probes === 'calls' ? 'calls' : 'full',
          bind: scope.probes === 'lean',
          map: withMap,
        })
        break
      } catch (err) {
        if (err instanceof ParseFailure && f !== formats[formats.length - 1]) continue
        if (err instanceof ParseFailure && quiet) return undefined
        if (err instanceof ParseFailure) warn(`recon-trace: ${filename} loads without probes: it does not parse (${err.cause})`)
        else warn(`recon-trace: ${filename} loads without probes: ${err instanceof Error ? err.message : String(err)}`)
        return undefined
      }
    }
    if (r === undefined) return undefined
    const key = keys.get(as)
    if (r.probes.length === 0) {
      if (dir !== false && key !== undefined) store(dir, `${key}.js`, entry(filename, source, ''))
      return undefined
    }
    if (!r.map) {
      // Source maps are off: Node reads no map for a module compiled now, so none is built (a
      // tenth of the rewrite's time). Lines are kept anyway.
      if (dir !== false && key !== undefined) store(dir, `${key}.js`, entry(filename, source, r.code))
      return { code: r.code, format: as }
    }
    // With a cache, the map is a file beside the code, named by its URL: Node reads it only when
    // source maps are on, where an inline map (2-3 times the size of the code) is scanned by V8
    // at every start (bench/probe-load.mjs, warm start). Relative to the file: Node reads a map
    // named by a relative URL or a data: URL, and ignores an absolute file: URL.
    const ref = dir !== false && key !== undefined ? relativeURL(filename, join(dir, `${key}.js.map`)) : undefined
    if (dir !== false && key !== undefined && ref !== undefined) {
      if (store(dir, `${key}.js.map`, JSON.stringify(r.map))) {
        const out = `${r.code}\n//# sourceMappingURL=${ref}\n`
        store(dir, `${key}.js`, entry(filename, source, out))
        return { code: out, format: as }
      }
    }
    return { code: r.code + inlineMapComment(r.map), format: as }
  } catch {
    return undefined
  }
}

/** `to` as a URL relative to the file `from` (both absolute paths); undefined across drives. */
function relativeURL(from: string, to: string): string | undefined {
  const rel = relative(dirname(from), to)
  if (isAbsolute(rel)) return undefined
  return rel.split(sep).map(encodeURIComponent).join('/')
}

/** Node's TypeScript formats (type stripping), and the format each is once stripped. */
const TYPESCRIPT_FORMATS: Readonly<Record<string, 'module' | 'commonjs' | 'detect'>> = {
  'module-typescript': 'module',
  'commonjs-typescript': 'commonjs',
  typescript: 'detect',
}

/**
 * The JavaScript Node would run for a TypeScript file: its types blanked out
 * (`module.stripTypeScriptTypes`, mode `strip`: every line and column stays where it was), or,
 * under `--experimental-transform-types`, transformed with an inline source map. `undefined`
 * when it cannot be (the runtime has no stripping, or syntax that needs a transform): Node then
 * loads the file itself, and reports its own error if there is one.
 */
export function stripTypes(source: string, filename: string): string | undefined {
  const strip = (Module as unknown as { stripTypeScriptTypes?: (code: string, options: object) => string }).stripTypeScriptTypes
  if (typeof strip !== 'function') return undefined
  const transform = (process.features as { typescript?: unknown }).typescript === 'transform'
  // Its first call emits an ExperimentalWarning (Node 22 to 26) that the program, which runs its
  // TypeScript without it, would never print: that one warning is dropped, nothing else.
  const emitWarning = process.emitWarning
  process.emitWarning = function emitWarning(this: unknown, ...args: unknown[]): void {
    const [warning, type] = args
    const text = typeof warning === 'string' ? warning : warning instanceof Error ? warning.message : ''
    const kind = typeof type === 'string' ? type : warning instanceof Error ? warning.name : (type as { type?: unknown } | undefined)?.type
    if (kind === 'ExperimentalWarning' && text.startsWith('stripTypeScriptTypes ')) return
    Reflect.apply(emitWarning, process, args)
  } as typeof process.emitWarning
  try {
    return transform ? strip(source, { mode: 'transform', sourceMap: true, sourceUrl: pathToFileURL(filename).href }) : strip(source, { mode: 'strip' })
  } catch {
    return undefined
  } finally {
    process.emitWarning = emitWarning
  }
}

/**
 * A load hook's whole decision for one file: the result to hand on (`undefined`: the file as it
 * came). TypeScript is stripped here, then probed as JavaScript.
 */
export function instrumentLoaded(
  url: string,
  format: string | null | undefined,
  source: unknown,
  scope: ScopeData,
  covers: (filename: string) => boolean,
  withMap?: boolean,
): Rewritten | undefined {
  // A URL with a query or a fragment is another module than its file (import-in-the-middle's
  // wrapper of it, a cache-busting import): the registry knows files, so it is left alone.
  if (!url.startsWith('file:') || url.includes('?') || url.includes('#')) return undefined
  let filename: string
  try {
    filename = fileURLToPath(url)
  } catch {
    return undefined
  }
  // `require` of a .js file leaves the format open (Node decides when it compiles it).
  const f = format ?? formatOf(filename)
  const ts = f === undefined ? undefined : TYPESCRIPT_FORMATS[f]
  if (f !== 'module' && f !== 'commonjs' && ts === undefined) return undefined
  if (!covers(filename)) return undefined
  // A CommonJS loader (ts-node, esbuild-register) compiles this kind of file itself, after the
  // load hooks, from the TypeScript they hand on: it is probed at the compile step instead.
  if (ts !== undefined && Object.hasOwn((Module as unknown as { _extensions: object })._extensions, extname(filename))) return undefined
  let text = sourceText(source, url)
  if (text === undefined || text.includes(HEADER_MARK)) return undefined
  if (ts !== undefined) {
    text = stripTypes(text, filename)
    if (text === undefined) return undefined
  }
  // TypeScript handed on as JavaScript that is not (a loader outside these hooks transforms it
  // later, where the preload's outer copy sees it): left alone, without a warning.
  const quiet = ts === undefined && isTypeScriptFile(filename)
  return rewrite(text, filename, ts ?? (f as 'module' | 'commonjs'), scope, withMap, quiet)
}

// ---------------------------------------------------------------------------------------------
// Installing the hooks.

type SyncHooks = {
  load: (
    url: string,
    context: { format?: string | null },
    next: (url: string, context?: unknown) => { format?: string | null; source?: unknown },
  ) => { format?: string | null; source?: unknown; shortCircuit?: boolean }
}
const ModuleApi = Module as unknown as {
  registerHooks?: (hooks: SyncHooks) => { deregister?: () => void } | undefined
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
  reg.lean = scope.probes === 'lean'
  installed = reg
  // What the load hooks handed on for CommonJS files, by filename: the compile step below leaves
  // exactly that text alone (it is ours already, or was left as it is on purpose).
  const handed = new Map<string, string>()
  if (typeof ModuleApi.registerHooks === 'function') {
    const hooks: SyncHooks = {
      load(url, context, next) {
        const result = next(url, context)
        const r = instrumentLoaded(url, result.format, result.source, scope, covers)
        if (r === undefined) {
          if ((result.format ?? 'commonjs') === 'commonjs' && typeof result.source === 'string') remember(handed, url, result.source)
          return result
        }
        if (r.format === 'commonjs') remember(handed, url, r.code)
        return { ...result, format: r.format, source: r.code }
      },
    }
    const registerHooks = ModuleApi.registerHooks
    let handle = registerHooks(hooks)
    // Outermost, whatever registers after us (`--import tsx` after the preload): the hook that
    // was registered last runs first and sees, from `next`, what every other one made, which is
    // the code that runs: a loader's JavaScript and its map, never its TypeScript input.
    stayOutermost('registerHooks', () => {
      handle?.deregister?.()
      handle = registerHooks(hooks)
    })
  } else if (typeof ModuleApi.register === 'function') {
    // Node 20 and 22 before registerHooks: ES modules through the loader thread, and again on top
    // of each loader registered later (hooks in that thread cannot be taken out): the outermost
    // copy probes what the loaders made; the inner ones leave TypeScript they cannot parse alone,
    // and no copy probes a file twice.
    const register = ModuleApi.register
    const add = () => register(ownFileURL('loader.js').href, undefined, { data: scope })
    try {
      add()
      stayOutermost('register', add)
    } catch (err) {
      warn(`recon-trace: ES modules will load without probes: the loader hooks could not be registered (${err instanceof Error ? err.message : String(err)})`)
    }
  }
  turnOnCompileCache(scope)
  // CommonJS at its compile step, in this thread: every module before registerHooks, and on
  // every runtime the code that reaches `_compile` without a load hook (tsx's and ts-node's
  // `require.extensions`, which read and transform the file themselves).
  const proto = ModuleApi.prototype
  const compile = proto._compile
  proto._compile = function _compile(this: unknown, content: string, filename: string, ...rest: unknown[]) {
    if (typeof content === 'string' && typeof filename === 'string' && (rest[0] === undefined || rest[0] === 'commonjs')) {
      const url = handed.size > 0 ? pathToFileURL(filename).href : ''
      const known = handed.get(url)
      if (known !== undefined) handed.delete(url)
      if (known !== content && covers(filename) && !content.includes(HEADER_MARK)) {
        const r = rewrite(content, filename, 'commonjs', scope, process.sourceMapsEnabled !== false || mapSupported())
        if (r !== undefined) {
          content = r.code
          shareMap(filename, content)
        }
      }
    }
    return Reflect.apply(compile, this, [content, filename, ...rest])
  }
  return reg
}

/**
 * Text in the header of every instrumented file (instrument.ts): a file that has it is never
 * instrumented again.
 */
const HEADER_MARK = STATE_KEY

/**
 * Make `module[name]` (registerHooks, register) call `again` after each registration it makes,
 * so that the preload's hooks stay on top of any registered later. The function in its place
 * has the original's name and length and returns what it returns; a fault of ours never reaches
 * the caller.
 */
function stayOutermost(name: 'registerHooks' | 'register', again: () => void): void {
  const api = Module as unknown as Record<string, unknown>
  const original = api[name]
  if (typeof original !== 'function') return
  const wrapped = {
    [name](this: unknown, ...args: unknown[]): unknown {
      const result = Reflect.apply(original, this, args)
      try {
        again()
      } catch {
        /* our hooks stay where they were */
      }
      return result
    },
  }[name]
  Object.defineProperty(wrapped, 'length', { value: original.length })
  api[name] = wrapped
  ;(Module as unknown as { syncBuiltinESMExports: () => void }).syncBuiltinESMExports()
}

/** Remember what a load hook handed on for a file, a bounded number of files at once. */
function remember(handed: Map<string, string>, url: string, text: string): void {
  if (handed.size >= 64) handed.delete(handed.keys().next().value as string)
  handed.set(url, text)
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

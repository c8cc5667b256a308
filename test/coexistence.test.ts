// recon-trace beside the other tools that hook a Node.js process's module loading, in real
// processes: OpenTelemetry's auto-instrumentation preload (require-in-the-middle for CommonJS,
// import-in-the-middle's loader hooks for ES modules) in every order, and V8's compile cache
// (NODE_COMPILE_CACHE, module.enableCompileCache). The app (fixtures/coexistence/) is an Express
// service that asks itself a few questions over HTTP: with both tools, it must print what it
// prints alone, OpenTelemetry must report the spans it reports alone, and recon-trace must trace
// the app's own functions as it does alone.
import { describe, expect, it } from 'vitest'
import { spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { closeSync, openSync, readFileSync, readdirSync } from 'node:fs'
import * as moduleApi from 'node:module'
import { join, resolve } from 'node:path'
import { itUnless } from './runtime.js'
import { tempDirs, undurated } from './helpers.js'

const root = resolve(import.meta.dirname, '..')
const NODE = process.versions.node
const MAJOR = Number(NODE.split('.')[0])

/** A fresh temporary directory, removed after the suite. */
const tempDir = tempDirs('coexist')

const OTEL_REQUIRE = ['--require', '@opentelemetry/auto-instrumentations-node/register']
const OTEL_IMPORT = ['--import', '@opentelemetry/auto-instrumentations-node/register']
/** OpenTelemetry's set-up for ES modules: import-in-the-middle's loader hooks, then the same preload. */
const OTEL_ESM = ['--import', './fixtures/coexistence/otel-esm.mjs']
const RECON_IMPORT = ['--import', 'recon-trace/register']
const RECON_REQUIRE = ['--require', 'recon-trace/register']

/** OpenTelemetry's configuration: spans printed by the console exporter, nothing else, nothing sent anywhere. */
const OTEL_ENV: Record<string, string> = {
  OTEL_TRACES_EXPORTER: 'console',
  OTEL_METRICS_EXPORTER: 'none',
  OTEL_LOGS_EXPORTER: 'none',
  OTEL_SERVICE_NAME: 'coexist',
  // Only the environment detector (it reads OTEL_SERVICE_NAME): the cloud ones would try the network.
  OTEL_NODE_RESOURCE_DETECTORS: 'env',
}

interface Result {
  status: number | null
  signal: NodeJS.Signals | null
  /** The lines the app printed itself (`app: ...`). */
  app: string[]
  /** What the app said of the trace it started (`trace: hooked N`). */
  hooked: string[]
  /** recon-trace's trace lines (stderr), time and pid left out: `<0> users:findUser('1')`. */
  trace: string[]
  /** The other lines on stderr, `(node:PID)` as `(node:N)`. */
  stderr: string[]
  /** The spans the console exporter printed (see `spansOf`). */
  spans: Span[]
  stdout: string
  rawStderr: string
}

const TRACE_LINE = /^\d\d:\d\d:\d\d\.\d{6} <\d+\.(\d+)> /

let logs: string | undefined
let runs = 0

/**
 * Run fixtures/coexistence/`app` from the repository root with `flags`; `trace`: the app starts its
 * recon-trace trace. Its stderr goes to a file: Node's native debug lines (NODE_DEBUG_NATIVE) are
 * written to a non-blocking pipe without waiting, and lost when the pipe is full.
 */
function run(app: string, flags: readonly string[], opts: { trace: boolean; env?: Record<string, string> }): Result {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const k of Object.keys(env)) if (/^(OTEL_|RECON_TRACE_|COEXIST_|NODE_COMPILE_CACHE|NODE_DEBUG)/.test(k) || k === 'FORCE_COLOR') delete env[k]
  Object.assign(env, { NODE_OPTIONS: '', RECON_TRACE_CACHE: '0', COEXIST_TRACE: opts.trace ? '1' : '0' }, opts.env)
  logs ??= tempDir()
  const errFile = join(logs, `${++runs}.stderr`)
  const fd = openSync(errFile, 'w')
  let r: SpawnSyncReturns<string>
  try {
    r = spawnSync(process.execPath, [...flags, `fixtures/coexistence/${app}`], {
      cwd: root,
      env,
      encoding: 'utf8',
      timeout: 20_000,
      // Not SIGTERM: OpenTelemetry's preload handles it (it shuts its SDK down, the process runs on).
      killSignal: 'SIGKILL',
      stdio: ['ignore', 'pipe', fd],
    })
  } finally {
    closeSync(fd)
  }
  const stderr = readFileSync(errFile, 'utf8')
  const out = r.stdout.split('\n')
  const err = stderr.split('\n').filter((l) => l.length > 0)
  return {
    status: r.status,
    signal: r.signal,
    app: out.filter((l) => l.startsWith('app: ')),
    hooked: out.filter((l) => l.startsWith('trace: ')),
    trace: err.filter((l) => TRACE_LINE.test(l)).map((l) => undurated(l.replace(TRACE_LINE, '<$1> '))),
    stderr: err.filter((l) => !TRACE_LINE.test(l)).map((l) => l.replace(/^\(node:\d+\)/, '(node:N)')),
    spans: spansOf(r.stdout),
    stdout: r.stdout,
    rawStderr: stderr,
  }
}

/** A span as the console exporter prints it: its instrumentation, kind, name, id, parent's id (none: a root span), service. */
interface Span {
  scope: string
  kind: number
  name: string
  id: string
  parentId: string | undefined
  service: string | undefined
}

/**
 * The spans in the console exporter's output: `console.dir` of one object per span, `{` and `}`
 * alone on their lines, its keys indented by two spaces and theirs by four.
 */
function spansOf(stdout: string): Span[] {
  const spans: Span[] = []
  let cur: Partial<Span> | undefined
  let section = ''
  for (const line of stdout.split('\n')) {
    if (line === '{') {
      cur = {}
      section = ''
      continue
    }
    if (cur === undefined) continue
    if (line === '}') {
      spans.push(cur as Span)
      cur = undefined
      continue
    }
    let m: RegExpExecArray | null
    if ((m = /^ {2}(\w+): \{$/.exec(line))) section = m[1]
    else if (/^ {2}\w/.test(line)) section = ''
    if ((m = /^ {2}name: '(.*)',?$/.exec(line))) cur.name = m[1]
    else if ((m = /^ {2}kind: (\d+),?$/.exec(line))) cur.kind = Number(m[1])
    else if ((m = /^ {2}id: '([0-9a-f]+)',?$/.exec(line))) cur.id = m[1]
    else if (section === 'instrumentationScope' && (m = /^ {4}name: '(.*)',?$/.exec(line))) cur.scope = m[1]
    else if (section === 'parentSpanContext' && (m = /^ {4}spanId: '([0-9a-f]+)',?$/.exec(line))) cur.parentId = m[1]
    else if (section === 'resource' && (m = /^ {6}'service\.name': '(.*)',?$/.exec(line))) cur.service = m[1]
  }
  return spans
}

/** Spans without their ids: `scope kind name <- parent's name` (`root`: none), sorted; what two runs can share. */
function spanSummary(spans: readonly Span[]): string[] {
  const byId = new Map(spans.map((s) => [s.id, s]))
  return spans
    .map((s) => {
      const parent = s.parentId === undefined ? 'root' : (byId.get(s.parentId)?.name ?? 'unknown parent')
      return `${s.scope.replace('@opentelemetry/instrumentation-', '')} ${s.kind} ${s.name} <- ${parent}`
    })
    .sort()
}

/** What the app prints, whatever runs with it. */
const APP_LINES = [
  'app: GET /users/1 -> 200 {"id":1,"name":"Ada"}',
  'app: GET /users/3 -> 200 {"id":3,"name":"Edsger"}',
  'app: GET /users/9 -> 404 {"error":"no such user"}',
  'app: GET /greet/otel -> 200 hello, otel',
  'app: closed',
]

/** The trace of `findUser -> return` and `greet -> return`: a CommonJS and an ES module function. */
const TRACE = [
  "<0> users:findUser('1')",
  "<0> users:findUser/1 --> { id: 1, name: 'Ada' }",
  "<0> users:findUser('3')",
  "<0> users:findUser/1 --> { id: 3, name: 'Edsger' }",
  "<0> users:findUser('9')",
  '<0> users:findUser/1 --> null',
  "<0> greet:greet('otel')",
  "<0> greet:greet/1 --> 'hello, otel'",
]

/**
 * Spans each request must make (among others: net, the HTTP client): the HTTP server's, named by
 * the express route; express's, made by its instrumentation (through import-in-the-middle for
 * the ES module app); the router's for the route's handler under it.
 */
const ROUTE_SPANS = [
  'express 0 request handler <- middleware - patched',
  'http 1 GET /greet/:name <- GET',
  'http 1 GET /users/:id <- GET',
  'router 0 request handler - /greet/:name <- request handler',
  'router 0 request handler - /users/:id <- request handler',
]

/** Node 26 deprecates module.register(), which OpenTelemetry's documented ES module set-up calls: its warning, on its own. */
const REGISTER_DEPRECATION = [
  '(node:N) [DEP0205] DeprecationWarning: `module.register()` is deprecated. Use `module.registerHooks()` instead.',
  '(Use `node --trace-deprecation ...` to show where the warning was created)',
]

/** A run ended by itself, with status 0. */
function expectClean(r: Result): void {
  expect(r.signal, r.rawStderr).toBeNull()
  expect(r.status, r.rawStderr).toBe(0)
}

/** Each run once, the first time a test asks for it. */
const memo = new Map<string, Result>()
function once(key: string, f: () => Result): Result {
  let r = memo.get(key)
  if (r === undefined) memo.set(key, (r = f()))
  return r
}

type Iitm = 'async' | 'sync'
/** The run with neither tool. */
const plain = (app: string) => once(`plain ${app}`, () => run(app, [], { trace: false }))
/** The run with recon-trace alone, tracing. */
const reconAlone = (app: string) => once(`recon ${app}`, () => run(app, RECON_IMPORT, { trace: true }))
/** The run with OpenTelemetry alone: the CommonJS app with its --require preload, the ES module app with import-in-the-middle's hooks too. */
const otelAlone = (app: string, iitm: Iitm = 'async') =>
  once(`otel ${app} ${iitm}`, () => run(app, app.endsWith('.mjs') ? OTEL_ESM : OTEL_REQUIRE, { trace: false, env: { ...OTEL_ENV, COEXIST_IITM: iitm } }))

/** Whether import-in-the-middle can run as synchronous hooks here (its own version check). */
const iitmSpecifier = 'import-in-the-middle/supports-sync-hooks.mjs'
const { supportsSyncHooks } = (await import(iitmSpecifier)) as { supportsSyncHooks: () => boolean }
const NO_SYNC_IITM: string | false =
  !supportsSyncHooks() && `import-in-the-middle's synchronous hooks need module.registerHooks with nodejs/node#59929, not in Node ${NODE}`

describe('each tool alone (the baselines the tests below compare with)', () => {
  it.each(['app.cjs', 'app.mjs'])('%s alone prints its answers, and nothing on stderr', (app) => {
    const r = plain(app)
    expectClean(r)
    expect(r.app).toEqual(APP_LINES)
    expect(r.spans).toEqual([])
    expect(r.trace).toEqual([])
    expect(r.stderr).toEqual([])
  })

  it.each(['app.cjs', 'app.mjs'])('%s with recon-trace alone prints the same answers and the trace of its functions, and no other line on stderr', (app) => {
    const r = reconAlone(app)
    expectClean(r)
    expect(r.app).toEqual(APP_LINES)
    expect(r.hooked).toEqual(['trace: hooked 2'])
    expect(r.trace).toEqual(TRACE)
    expect(r.stderr).toEqual([])
  })

  it('app.cjs with OpenTelemetry alone (--require) prints the same answers, and its spans: express routes, HTTP server and client, parented across the request', () => {
    const r = otelAlone('app.cjs')
    expectClean(r)
    expect(r.app).toEqual(APP_LINES)
    expect(r.stderr).toEqual([])
    const summary = spanSummary(r.spans)
    expect(summary).toEqual(expect.arrayContaining(ROUTE_SPANS))
    expect(summary.filter((s) => s === 'http 1 GET /users/:id <- GET')).toHaveLength(3)
    expect(summary.filter((s) => s === 'http 2 GET <- root')).toHaveLength(4)
    expect(new Set(r.spans.map((s) => s.service))).toEqual(new Set(['coexist']))
  })

  /** OpenTelemetry alone on the ES module app: express, which it imports, is reached through import-in-the-middle only. */
  const esmAlone = (iitm: Iitm) => () => {
    const r = otelAlone('app.mjs', iitm)
    expectClean(r)
    expect(r.app).toEqual(APP_LINES)
    expect(r.stderr).toEqual(iitm === 'async' && MAJOR >= 26 ? REGISTER_DEPRECATION : [])
    expect(spanSummary(r.spans)).toEqual(expect.arrayContaining(ROUTE_SPANS))
    expect(new Set(r.spans.map((s) => s.service))).toEqual(new Set(['coexist']))
  }
  it(
    'app.mjs with OpenTelemetry alone (import-in-the-middle through module.register) prints the same answers, and the express spans that only its loader hooks make',
    esmAlone('async'),
  )
  itUnless(NO_SYNC_IITM)(
    'app.mjs with OpenTelemetry alone (import-in-the-middle as synchronous hooks) prints the same answers and the express spans',
    esmAlone('sync'),
  )

  it('app.mjs with OpenTelemetry but without import-in-the-middle has no express spans (so the ones above are its doing)', () => {
    const r = run('app.mjs', OTEL_IMPORT, { trace: false, env: OTEL_ENV })
    expectClean(r)
    expect(r.app).toEqual(APP_LINES)
    const summary = spanSummary(r.spans)
    expect(summary.some((s) => s.startsWith('http 1 '))).toBe(true)
    expect(summary.filter((s) => s.startsWith('express '))).toEqual([])
  })
})

interface Together {
  name: string
  app: 'app.cjs' | 'app.mjs'
  flags: string[]
  iitm?: Iitm
}

const together: Together[] = [
  { name: 'OpenTelemetry first: --require its preload, --import recon-trace/register', app: 'app.cjs', flags: [...OTEL_REQUIRE, ...RECON_IMPORT] },
  {
    // Node runs every --require preload before the first --import one, whatever their order on the command line.
    name: '--import recon-trace/register before --require OpenTelemetry on the command line (Node still loads OpenTelemetry first)',
    app: 'app.cjs',
    flags: [...RECON_IMPORT, ...OTEL_REQUIRE],
  },
  { name: 'recon-trace first: --require recon-trace/register, then --require OpenTelemetry', app: 'app.cjs', flags: [...RECON_REQUIRE, ...OTEL_REQUIRE] },
  { name: 'OpenTelemetry first: --require both', app: 'app.cjs', flags: [...OTEL_REQUIRE, ...RECON_REQUIRE] },
  {
    name: "recon-trace first: --import both (OpenTelemetry's CommonJS entry through the ES module loader)",
    app: 'app.cjs',
    flags: [...RECON_IMPORT, ...OTEL_IMPORT],
  },
  { name: 'OpenTelemetry first: --import both', app: 'app.cjs', flags: [...OTEL_IMPORT, ...RECON_IMPORT] },
  {
    name: 'ES module app, import-in-the-middle (module.register) first, then recon-trace',
    app: 'app.mjs',
    flags: [...OTEL_ESM, ...RECON_IMPORT],
    iitm: 'async',
  },
  {
    name: 'ES module app, recon-trace first, then import-in-the-middle (module.register)',
    app: 'app.mjs',
    flags: [...RECON_IMPORT, ...OTEL_ESM],
    iitm: 'async',
  },
  {
    name: 'ES module app, import-in-the-middle as synchronous hooks first, then recon-trace',
    app: 'app.mjs',
    flags: [...OTEL_ESM, ...RECON_IMPORT],
    iitm: 'sync',
  },
  {
    name: 'ES module app, recon-trace first, then import-in-the-middle as synchronous hooks',
    app: 'app.mjs',
    flags: [...RECON_IMPORT, ...OTEL_ESM],
    iitm: 'sync',
  },
]

describe('OpenTelemetry auto-instrumentation and recon-trace in the same process', () => {
  for (const t of together) {
    itUnless(t.iitm === 'sync' && NO_SYNC_IITM)(
      `${t.name} (${t.app}): the same answers, the same spans, the same trace, no other warning`,
      () => {
        const iitm = t.iitm ?? 'async'
        const r = run(t.app, t.flags, { trace: true, env: { ...OTEL_ENV, COEXIST_IITM: iitm } })
        expectClean(r)
        // (a) The program prints what it prints alone, with either tool alone, and with neither.
        expect(r.app).toEqual(APP_LINES)
        expect(r.app).toEqual(plain(t.app).app)
        expect(r.app).toEqual(otelAlone(t.app, iitm).app)
        expect(r.app).toEqual(reconAlone(t.app).app)
        // (b) OpenTelemetry reports the spans it reports alone, parented the same way.
        const spans = spanSummary(r.spans)
        expect(spans).toEqual(expect.arrayContaining(ROUTE_SPANS))
        expect(spans).toEqual(spanSummary(otelAlone(t.app, iitm).spans))
        expect(new Set(r.spans.map((s) => s.service))).toEqual(new Set(['coexist']))
        // (c) recon-trace traces both functions, calls and return values, as it does alone.
        expect(r.hooked).toEqual(['trace: hooked 2'])
        expect(r.trace).toEqual(TRACE)
        // (d) Nothing on stderr besides the trace but what OpenTelemetry prints alone.
        expect(r.stderr).toEqual(otelAlone(t.app, iitm).stderr)
      },
      30_000,
    )
  }
})

// ---------------------------------------------------------------------------------------------
// V8's compile cache.

const NO_COMPILE_CACHE: string | false = MAJOR < 22 && `NODE_COMPILE_CACHE does not exist on Node ${NODE} (Node 22.1+)`
const NO_ENABLE_COMPILE_CACHE: string | false =
  typeof (moduleApi as { enableCompileCache?: unknown }).enableCompileCache !== 'function' &&
  `module.enableCompileCache does not exist on Node ${NODE} (Node 22.8+)`

/** Files of the compile cache directory (it keeps one directory per Node version and V8 flags). */
function cacheFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => e.name)
}

/**
 * The app's own modules whose V8 cache Node accepted, from its NODE_DEBUG_NATIVE=COMPILE_CACHE
 * lines (the wording varies a little by version), relative to fixtures/coexistence/.
 */
function accepted(r: Result): string[] {
  return r.stderr.flatMap((l) => {
    const m = /^\[compile cache\] (?:V8 code )?cache for (?:CommonJS |ESM )?(\S+) was accepted/.exec(l)
    const own = m ? /\/fixtures\/coexistence\/(.+)$/.exec(m[1]) : null
    return own ? [own[1]] : []
  })
}

/** The lines of stderr that are not the compile cache's own debug lines. */
const notDebug = (r: Result) => r.stderr.filter((l) => !l.startsWith('[compile cache]'))

describe("V8's compile cache and the preload", () => {
  /**
   * Two preloaded runs of `app` sharing a compile cache (and a rewrite cache), which `env` turns
   * on; `first`: the lines the app prints before its answers.
   */
  const twice = (app: string, env: (cache: string) => Record<string, string>, first: string[] = []) => {
    const compileCache = tempDir()
    const e = { ...env(compileCache), RECON_TRACE_CACHE: tempDir(), NODE_DEBUG_NATIVE: 'COMPILE_CACHE' }
    const a = run(app, RECON_IMPORT, { trace: true, env: e })
    expectClean(a)
    // The first run filled it: V8 did cache what it compiled, the probed code.
    expect(cacheFiles(compileCache).length).toBeGreaterThan(0)
    const b = run(app, RECON_IMPORT, { trace: true, env: e })
    expectClean(b)
    for (const r of [a, b]) {
      expect(r.app).toEqual([...first, ...APP_LINES])
      expect(r.hooked).toEqual(['trace: hooked 2'])
      expect(r.trace).toEqual(TRACE)
      expect(notDebug(r)).toEqual([])
    }
    // The second run took the app's own modules from the cache (the program's entry as well,
    // unless the program turns the cache on itself, once it runs): their probed code, traced as
    // above. The first found none of them there.
    expect(accepted(a)).toEqual([])
    expect(accepted(b)).toEqual(expect.arrayContaining([app === 'cached.cjs' ? 'app.cjs' : app, 'lib/users.cjs', 'lib/greet.mjs']))
  }

  itUnless(NO_COMPILE_CACHE)(
    'NODE_COMPILE_CACHE: two runs of the preloaded CommonJS app print the same answers and the same trace, the second from the cache',
    () => twice('app.cjs', (dir) => ({ NODE_COMPILE_CACHE: dir })),
  )

  itUnless(NO_COMPILE_CACHE)('NODE_COMPILE_CACHE: the same with the ES module app', () => twice('app.mjs', (dir) => ({ NODE_COMPILE_CACHE: dir })))

  itUnless(NO_ENABLE_COMPILE_CACHE)(
    "module.enableCompileCache() called by the program, the preload's own left off: two preloaded runs print the same answers and the same trace, the second from the program's cache",
    () => twice('cached.cjs', (dir) => ({ COEXIST_COMPILE_CACHE: dir, RECON_TRACE_COMPILE_CACHE: 'off' }), ['app: compile cache enabled']),
  )

  itUnless(NO_ENABLE_COMPILE_CACHE)(
    "module.enableCompileCache() called by the program, the preload's on: the program finds it on already (ALREADY_ENABLED) and runs the same, the second run from the cache",
    () => {
      const own = tempDir()
      const rewrites = tempDir()
      const e = { COEXIST_COMPILE_CACHE: own, RECON_TRACE_CACHE: rewrites, NODE_DEBUG_NATIVE: 'COMPILE_CACHE' }
      const a = run('cached.cjs', RECON_IMPORT, { trace: true, env: e })
      const b = run('cached.cjs', RECON_IMPORT, { trace: true, env: e })
      const already = (moduleApi as unknown as { constants: { compileCacheStatus: { ALREADY_ENABLED: number } } }).constants.compileCacheStatus.ALREADY_ENABLED
      for (const r of [a, b]) {
        expectClean(r)
        expect(r.app).toEqual([`app: compile cache not enabled: status ${already} `, ...APP_LINES])
        expect(r.trace).toEqual(TRACE)
        expect(notDebug(r)).toEqual([])
      }
      // The cache is the preload's, beside its rewritten files; the program's directory stays empty.
      expect(cacheFiles(join(rewrites, 'v8')).length).toBeGreaterThan(0)
      expect(cacheFiles(own)).toEqual([])
      expect(accepted(b)).toEqual(expect.arrayContaining(['app.cjs', 'lib/users.cjs', 'lib/greet.mjs']))
    },
  )

  itUnless(NO_COMPILE_CACHE)(
    'a compile cache filled without the preload is not used for the probed code, which is traced; nor is the probed code, cached, used for a run without the preload',
    () => {
      const compileCache = tempDir()
      const env = { NODE_COMPILE_CACHE: compileCache, RECON_TRACE_CACHE: tempDir(), NODE_DEBUG_NATIVE: 'COMPILE_CACHE' }
      const before = run('app.cjs', [], { trace: false, env })
      const traced = run('app.cjs', RECON_IMPORT, { trace: true, env })
      const after = run('app.cjs', [], { trace: false, env })
      for (const r of [before, traced, after]) {
        expectClean(r)
        expect(r.app).toEqual(APP_LINES)
        expect(notDebug(r)).toEqual([])
      }
      expect(cacheFiles(compileCache).length).toBeGreaterThan(0)
      expect(before.trace).toEqual([])
      expect(traced.trace).toEqual(TRACE)
      expect(after.trace).toEqual([])
      // Each run found in the cache the other kind of code for the app's modules, and compiled its own.
      expect(accepted(traced)).toEqual([])
      expect(accepted(after)).toEqual([])
    },
  )
})

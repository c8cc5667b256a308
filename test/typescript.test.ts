// TypeScript however it runs: Node's type stripping, tsx, ts-node, tsc's output and an esbuild
// bundle. Each is a real project in a private temporary directory (fixtures/typescript), run as a
// user runs it, with the preload or without, traced in-process and from the CLI. Stack frames of
// errors thrown in instrumented code are compared with the same program run without recon-trace,
// and, for compiled output, with an independent SourceMapConsumer.
import { afterAll, describe, expect, it } from 'vitest'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import ts from 'typescript'
import { buildSync } from 'esbuild'
import { SourceMapConsumer } from 'source-map'
import { BINDING_ON, describeUnless, itUnless } from './runtime.js'
import { agentSocket, tempDirs, undurated } from './helpers.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const fixtures = join(root, 'fixtures/typescript')
const bin = join(root, 'dist/cjs/bin.js')
const tempDir = tempDirs('ts')
const services: ChildProcess[] = []
afterAll(() => {
  for (const s of services) s.kill('SIGKILL')
})

/** Node's own type stripping: on by default since Node 22.18 and 23.6. */
const STRIPS = Boolean((process.features as { typescript?: unknown }).typescript)
const NO_STRIPPING: string | false = !STRIPS && `Node ${process.versions.node} does not strip TypeScript types`

/**
 * A project in a new private directory: fixtures/typescript's files, a package.json (`type`), and
 * node_modules with recon-trace and the tools from this checkout. Returns its directory.
 */
function project(type: 'module' | 'commonjs' | undefined, extra: Record<string, unknown> = {}): string {
  const dir = tempDir()
  cpSync(join(fixtures, 'src'), join(dir, 'src'), { recursive: true })
  cpSync(join(fixtures, 'cjs'), join(dir, 'cjs'), { recursive: true })
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'ts-project', private: true, ...(type ? { type } : {}), ...extra }))
  mkdirSync(join(dir, 'node_modules'))
  symlinkSync(root, join(dir, 'node_modules/recon-trace'), 'dir')
  for (const p of ['tsx', 'ts-node', 'typescript']) symlinkSync(join(root, 'node_modules', p), join(dir, 'node_modules', p), 'dir')
  return dir
}

interface Ran {
  /** The program's own lines (`fact 6`, `frame at boom (...)`). */
  program: string[]
  /** The trace's lines, untimed: `math:fact(3)`. */
  trace: string[]
  /** The rest of stderr: neither the trace's lines nor its notices. */
  stderr: string
  status: number | null
}

const TRACE_LINE = /^\d\d:\d\d:\d\d\.\d{6} <\d+\.\d+> /

/** Run node with `args` in `dir`; its lines split into the program's and the trace's. */
function run(dir: string, args: readonly string[], env: Record<string, string> = {}): Ran {
  const r = spawnSync(process.execPath, args, {
    cwd: dir,
    encoding: 'utf8',
    timeout: 30_000,
    env: { ...process.env, NODE_OPTIONS: '', RECON_TRACE_CACHE: join(dir, '.cache'), TS_NODE_TRANSPILE_ONLY: '1', ...env },
  })
  // In-process traces write to stderr by default, their notices prefixed with `recon-trace: `.
  const err = r.stderr.split('\n').filter((l) => l.length > 0)
  return {
    program: r.stdout.split('\n').filter((l) => l.length > 0),
    trace: err.filter((l) => TRACE_LINE.test(l)).map((l) => undurated(l.replace(TRACE_LINE, ''))),
    stderr: err.filter((l) => !TRACE_LINE.test(l) && !l.startsWith('recon-trace: ')).join('\n'),
    status: r.status,
  }
}

/** The specs the fixture's main program is traced with, and the lines they print. */
const MATH_SPECS = './src/math.ts:fact/1 -> return;./src/math.ts:Counter#bump -> return;./src/math.ts:add;./src/math.ts:boom -> return'
const MATH_TRACE = [
  'math:fact(3)',
  'math:fact(2)',
  'math:fact(1)',
  'math:fact/1 --> 1',
  'math:fact/1 --> 2',
  'math:fact/1 --> 6',
  'math:add(1, 2)',
  'math:Counter#bump(5)',
  'math:Counter#bump/1 --> 5',
  'math:boom()',
]

/**
 * A frame's file: URL as a path. Node prints a source-mapped frame with the path of its source,
 * an ES module's frame that no map covers with its URL: under --enable-source-maps, a probed ES
 * module's frames (mapped by the rewrite's map) name the same file, line and column by its path.
 */
const asPath = (line: string) =>
  line.replace(/\(file:\/\/[^)]*\)/, (u) => `(${fileURLToPath(u.slice(1, -1).replace(/:\d+:\d+$/, ''))}${/:\d+:\d+$/.exec(u.slice(1, -1))?.[0] ?? ''})`)

/**
 * Run the fixture's main program without recon-trace, then with it and the trace, twice (the
 * rewrite's cache cold, then warm): the program's own output, stack frames included, must be the
 * same; the trace must print the TypeScript names.
 */
function expectTracedLikeUntraced(dir: string, plain: readonly string[], traced: readonly string[], main: string, env: Record<string, string> = {}) {
  const base = run(dir, [...plain, main], env)
  expect(base.status, base.stderr).toBe(0)
  expect(base.program[3]).toMatch(/^frame at boom \(.*src[\\/]math\.ts:11:\d+\)$/)
  for (const pass of ['cold', 'warm']) {
    const r = run(dir, [...traced, main], { SPEC: MATH_SPECS, ...env })
    expect(r.status, `${pass}: ${r.stderr}`).toBe(0)
    expect(r.program.map(asPath), pass).toEqual(base.program.map(asPath))
    expect(r.trace.slice(0, MATH_TRACE.length), pass).toEqual(MATH_TRACE)
    expect(r.trace[MATH_TRACE.length], pass).toMatch(/^math:boom\/0 !! TypeError: Cannot read properties of undefined \(reading 'v'\)/)
    expect(r.stderr, pass).toBe(base.stderr)
  }
}

describeUnless(NO_STRIPPING)("Node's type stripping", () => {
  it('ES modules (.ts under "type": "module"): probed with TypeScript names, frames and stderr as without the preload', () => {
    const dir = project('module')
    expectTracedLikeUntraced(dir, ['--enable-source-maps'], ['--enable-source-maps', '--import', 'recon-trace/register'], 'src/main.ts')
  })

  it('without --enable-source-maps: the same names, and each frame on its .ts line', () => {
    const dir = project('module')
    const base = run(dir, ['src/main.ts'])
    const r = run(dir, ['--import', 'recon-trace/register', 'src/main.ts'], { SPEC: MATH_SPECS })
    expect(r.trace.slice(0, MATH_TRACE.length)).toEqual(MATH_TRACE)
    expect(r.program.slice(0, 3)).toEqual(base.program.slice(0, 3))
    // Type stripping keeps every position; the probe's own text moves columns on its lines only.
    expect(r.program[3].replace(/:\d+\)$/, ')')).toBe(base.program[3].replace(/:\d+\)$/, ')'))
    expect(r.stderr).toBe('')
  })

  it('CommonJS: a .cts file and a .ts file required with no package type', () => {
    const dir = project(undefined)
    const r = run(dir, ['--require', 'recon-trace/register', 'cjs/main.cts'], { SPEC: './cjs/calc.cts:twice -> return;./cjs/legacy.ts:half -> return' })
    expect(r.status, r.stderr).toBe(0)
    expect(r.program).toEqual(['twice 8 half 4'])
    expect(r.trace).toEqual(['calc:twice(4)', 'calc:twice/1 --> 8', 'legacy:half(8)', 'legacy:half/1 --> 4'])
    expect(r.stderr).toBe('')
  })
})

describe('tsx', () => {
  for (const order of [
    ['--import', 'tsx', '--import', 'recon-trace/register'],
    ['--import', 'recon-trace/register', '--import', 'tsx'],
  ]) {
    it(`ES modules, ${order.join(' ')}: probes see tsx's JavaScript, frames through tsx's maps as without the preload`, () => {
      const dir = project('module')
      expectTracedLikeUntraced(dir, ['--import', 'tsx'], order, 'src/main.ts')
    })

    it(`CommonJS (tsx's require hook), ${order.join(' ')}: the same names and frames`, () => {
      const dir = project(undefined)
      expectTracedLikeUntraced(dir, ['--import', 'tsx'], order, 'src/main.ts')
    })
  }
})

describe('ts-node', () => {
  for (const order of [
    ['--require', 'ts-node/register', '--require', 'recon-trace/register'],
    ['--require', 'recon-trace/register', '--require', 'ts-node/register'],
  ]) {
    it(`CommonJS, ${order.join(' ')}: probes see ts-node's output; its source-map-support maps frames with the probed code's map`, () => {
      const dir = project(undefined)
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({ compilerOptions: { module: 'commonjs', target: 'es2022', allowImportingTsExtensions: true, noEmit: true } }),
      )
      // No --enable-source-maps: ts-node's own stack-trace mapper (source-map-support) maps frames.
      expectTracedLikeUntraced(dir, ['--require', 'ts-node/register'], order, 'src/main.ts')
    })
  }
})

describe('without the preload: the binding installer reaches TypeScript functions by the same names', () => {
  const expectBound = (r: Ran) => {
    expect(r.status, r.stderr).toBe(0)
    expect(r.program.slice(0, 3)).toEqual(['fact 6', 'add 3', 'bump 5'])
    // The first call arms the file: its entry breakpoint reports it, then the bindings are swapped.
    for (const line of ['math:fact(3)', 'math:fact(2)', 'math:fact/1 --> 2', 'math:add(1, 2)', 'math:Counter#bump(5)', 'math:Counter#bump/1 --> 5'])
      expect(r.trace, line).toContain(line)
    expect(r.trace.some((l) => /^math:boom\/1 !! TypeError/.test(l))).toBe(true)
  }

  itUnless(NO_STRIPPING)('under type stripping', () => {
    const dir = project('module')
    expectBound(run(dir, ['--enable-source-maps', 'src/main.ts'], { ...BINDING_ON, SPEC: MATH_SPECS }))
  })

  it('under tsx (its JavaScript and inline maps, esbuild names)', () => {
    const dir = project('module')
    expectBound(run(dir, ['--import', 'tsx', 'src/main.ts'], { ...BINDING_ON, SPEC: MATH_SPECS }))
  })
})

/** tsc's output of the fixture (CommonJS, `dist/` with maps), compiled with the TypeScript API. */
function compileWithTsc(dir: string, sourceMap = true): void {
  const files = ['main.ts', 'math.ts'].map((f) => join(dir, 'src', f))
  const program = ts.createProgram(files, {
    module: ts.ModuleKind.CommonJS,
    target: ts.ScriptTarget.ES2022,
    outDir: join(dir, 'dist'),
    rootDir: join(dir, 'src'),
    sourceMap,
    allowImportingTsExtensions: true,
    rewriteRelativeImportExtensions: true,
    skipLibCheck: true,
    types: [],
  })
  const emitted = program.emit()
  expect(emitted.emitSkipped).toBe(false)
}

/** The frame's file:line:column, in the original file through tsc's map, read by an independent consumer. */
async function originalOf(dir: string, generated: { line: number; column: number }): Promise<string> {
  const map = JSON.parse(readFileSync(join(dir, 'dist/math.js.map'), 'utf8'))
  const consumer = await new SourceMapConsumer(map)
  try {
    const o = consumer.originalPositionFor({ line: generated.line, column: generated.column - 1 })
    return `${fileURLToPath(new URL(o.source!, pathToFileURL(join(dir, 'dist/math.js.map'))))}:${o.line}:${o.column! + 1}`
  } finally {
    consumer.destroy()
  }
}

describe("tsc's output: specs name the .ts file", () => {
  it('with the preload, local and global scope: dist/math.js traced as src/math.ts, frames as without the preload', async () => {
    const dir = project(undefined)
    compileWithTsc(dir)
    for (const scope of ['local', 'global']) {
      const env = { SCOPE: scope }
      // Global scope sees the exported functions; Counter#bump is a method, reached in local scope.
      const base = run(dir, ['--enable-source-maps', 'dist/main.js'], env)
      expect(base.status, base.stderr).toBe(0)
      const r = run(dir, ['--enable-source-maps', '--require', 'recon-trace/register', 'dist/main.js'], {
        ...env,
        SPEC: './src/math.ts:fact/1 -> return;./src/math.ts:add;./src/math.ts:boom -> return',
      })
      expect(r.status, r.stderr).toBe(0)
      expect(r.program, scope).toEqual(base.program)
      // Local scope: every call, the recursive ones too (the preload's probes). Global scope: the
      // calls through the module's exports (runtime wrappers on dist/math.js's exports).
      expect(r.trace, scope).toEqual(
        scope === 'local'
          ? [...MATH_TRACE.slice(0, 7), 'math:boom()', "math:boom/0 !! TypeError: Cannot read properties of undefined (reading 'v')"]
          : [
              'math:fact(3)',
              'math:fact/1 --> 6',
              'math:add(1, 2)',
              'math:boom(undefined)',
              "math:boom/1 !! TypeError: Cannot read properties of undefined (reading 'v')",
            ],
      )
    }
    // The frame names the .ts position that tsc's own map gives for where V8 threw in dist/math.js.
    const plain = run(dir, ['dist/main.js'])
    const at = /math\.js:(\d+):(\d+)\)$/.exec(plain.program[3])!
    const expected = await originalOf(dir, { line: Number(at[1]), column: Number(at[2]) })
    const traced = run(dir, ['--enable-source-maps', '--require', 'recon-trace/register', 'dist/main.js'], { SPEC: './src/math.ts:boom -> return' })
    expect(expected).toBe(`${join(dir, 'src/math.ts')}:11:21`)
    expect(traced.program[3]).toBe(`frame at boom (${expected})`)
  })

  it('without the preload, in a running process: the binding installer (live edit on Node 20) reaches src/math.ts through dist/math.js', () => {
    const dir = project(undefined)
    compileWithTsc(dir)
    const r = run(dir, ['--enable-source-maps', 'dist/main.js'], { ...BINDING_ON, SPEC: './src/math.ts:fact/1 -> return;./src/math.ts:boom -> return' })
    expect(r.status, r.stderr).toBe(0)
    // The first call arms the file (its entry breakpoint reports it, then the bindings are swapped).
    expect(r.trace).toContain('math:fact(3)')
    expect(r.trace).toContain('math:fact/1 --> 6')
    expect(r.trace.some((l) => /^math:boom\/[01] !! TypeError/.test(l))).toBe(true)
  })

  it('output compiled without maps: a spec naming the .ts file waits for it, and says where it looks', () => {
    const dir = project(undefined)
    compileWithTsc(dir, false)
    const r = spawnSync(process.execPath, ['dist/main.js'], {
      cwd: dir,
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '', ...BINDING_ON, SPEC: './src/math.ts:fact' },
    })
    expect(r.status, r.stderr).toBe(0)
    expect(r.stderr).toMatch(/math \(or code compiled from it, found through a source map\) is not loaded yet/)
  })

  it('a spec naming no function of the .ts file lists the functions written in it', () => {
    const dir = project(undefined)
    compileWithTsc(dir)
    const r = run(dir, ['--require', 'recon-trace/register', 'dist/main.js'], { SPEC: './src/math.ts:facts' })
    expect(r.status).not.toBe(0)
    expect(r.stderr).toContain("./src/math.ts:facts: no function 'facts' in")
    expect(r.stderr).toMatch(/its functions are: fact, /)
  })
})

/** An esbuild bundle of the fixture's server.ts (CommonJS, with a map), recon-trace left out. */
function bundle(dir: string): void {
  const r = buildSync({
    entryPoints: [join(dir, 'src/server.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    sourcemap: true,
    external: ['recon-trace'],
    outfile: join(dir, 'dist/server.js'),
    logLevel: 'silent',
  })
  expect(r.errors).toEqual([])
  // The bundler renamed the second findUser: the bundle has findUser2, the map the original name.
  expect(readFileSync(join(dir, 'dist/server.js'), 'utf8')).toContain('function findUser2(')
}

describe('an esbuild bundle: functions named by their original file and name', () => {
  for (const preload of [true, false]) {
    for (const scope of ['local', 'global']) {
      it(`${preload ? 'with the preload' : 'without the preload'}, ${scope} scope: ./src/db.ts and ./src/other.ts, findUser in each`, () => {
        const dir = project(undefined)
        bundle(dir)
        const r = run(dir, [...(preload ? ['--require', 'recon-trace/register'] : []), '--enable-source-maps', 'dist/server.js'], {
          ...BINDING_ON,
          SCOPE: scope,
          SPEC: './src/db.ts:findUser -> return;./src/other.ts:findUser;./src/db.ts:Repo#get',
        })
        expect(r.status, r.stderr).toBe(0)
        expect(r.program).toEqual(['user ada ada X'])
        // In a bundle, global scope is the functions and methods at the top of the original file.
        // Without the preload the first call arms the bundle: reported, its return not.
        const first = preload ? ['db:findUser(1)', "db:findUser/1 --> { id: 1, name: 'ada' }"] : ['db:findUser(1)']
        expect(r.trace).toEqual([...first, 'db:Repo#get(1)', 'db:findUser(1)', "db:findUser/1 --> { id: 1, name: 'ada' }", "other:findUser('x')"])
      })
    }
  }
})

describe('the CLI', () => {
  it('recon-trace <pid> ./src/math.ts:fact/1 traces a TypeScript service run with tsx and the preload', async () => {
    const dir = project('module')
    const s = spawn(process.execPath, ['--import', 'tsx', '--import', 'recon-trace/register', 'src/service.ts'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_OPTIONS: '', RECON_TRACE_CACHE: '0' },
    })
    services.push(s)
    await new Promise<void>((ok, fail) => {
      s.stdout!.once('data', () => ok())
      s.once('exit', (c) => fail(new Error(`the service exited (${c})`)))
    })
    await agentSocket(s.pid!)
    const r = spawnSync(process.execPath, [bin, String(s.pid), './src/math.ts:fact/1 -> return', '-n', '4', '--scope', 'local'], {
      cwd: dir,
      encoding: 'utf8',
      timeout: 20_000,
    })
    expect(r.status, r.stderr).toBe(0)
    const lines = r.stdout
      .split('\n')
      .filter((l) => TRACE_LINE.test(l))
      .map((l) => undurated(l.replace(TRACE_LINE, '')))
    expect(lines).toHaveLength(4)
    for (const l of lines) expect(l).toMatch(/^math:fact(\(\d\)|\/1 --> \d+)$/)
    expect(r.stderr).toContain('math:fact through the preload')
  })
})

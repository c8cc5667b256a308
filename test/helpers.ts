import { afterAll } from 'vitest'
import { createRequire } from 'node:module'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { chmodSync, copyFileSync, cpSync, existsSync, linkSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createConnection } from 'node:net'
import { buildSync } from 'esbuild'
import type { RawSourceMap } from '../src/instrument.js'

/**
 * Start the CLI (`dist/cjs/bin.js`) in `cwd` and keep it running, its output collected; the
 * process is pushed to `children` for the test's cleanup.
 */
export function startCli(cwd: string, args: readonly string[], children: ChildProcess[]) {
  const c = spawn(process.execPath, [join(cwd, 'dist/cjs/bin.js'), ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] })
  children.push(c)
  let out = ''
  let err = ''
  c.stdout.on('data', (d) => (out += d))
  c.stderr.on('data', (d) => (err += d))
  const exited = new Promise<number | null>((ok) => c.on('exit', (code) => ok(code)))
  return { c, exited, out: () => out, err: () => err }
}

/**
 * The agent socket of a preloaded process, once its agent answers there: the agent opens it at
 * the program's first turn of the event loop (src/startup.ts), which may come after the
 * program's first output, and until then the path may hold the stale socket of a killed process
 * of the same pid, which refuses connections (the agent replaces it).
 */
export async function agentSocket(pid: number): Promise<string> {
  const sock = join(tmpdir(), `recon-trace-${process.getuid!()}`, `${pid}.sock`)
  const answers = () =>
    new Promise<boolean>((ok) => {
      const c = createConnection(sock)
      c.once('connect', () => {
        c.destroy()
        ok(true)
      })
      c.once('error', () => ok(false))
    })
  for (let i = 0; i < 400; i++) {
    if (existsSync(sock) && (await answers())) return sock
    await new Promise((r) => setTimeout(r, 10))
  }
  return sock
}

export const requireFixture = createRequire(new URL('../fixtures/', import.meta.url))

/**
 * A maker of temporary directories (`recon-trace-<name>-*` in the system's temporary directory),
 * every one removed after the test file. Call it at the top of a test file.
 */
export function tempDirs(name: string): () => string {
  const made: string[] = []
  afterAll(() => {
    for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true })
  })
  return () => {
    const d = mkdtempSync(join(tmpdir(), `recon-trace-${name}-`))
    made.push(d)
    return d
  }
}

/** Collect output lines through the `io` function option. */
export function collector() {
  const lines: string[] = []
  return { lines, io: (line: string) => void lines.push(line) }
}

/** Let the output queue drain (it writes at the next turns of the event loop). */
export async function drain(turns = 3): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r))
}

/** Every own property descriptor of an object, for before/after comparisons. */
export function descriptors(o: object): Record<string | symbol, PropertyDescriptor> {
  return Object.getOwnPropertyDescriptors(o)
}

/** A return line's duration at its end: ` (3.12 µs)`. */
export const DURATION = / \((\d+|\d+\.\d+) (ns|µs|ms|s)\)$/

/** A line without its duration, if it ends with one. */
export function undurated(line: string): string {
  return line.replace(DURATION, '')
}

/** Lines without their leading timestamp and a return's duration: `<pid.0> queue:in(...)`, `<pid.0> queue:in/2 --> ...`. */
export function untimed(lines: readonly string[]): string[] {
  return lines.map((l) => undurated(l.replace(/^\d\d:\d\d:\d\d\.\d{6} /, '')))
}

/**
 * Every object and function reachable from `root` through own properties (data values, getters
 * and setters, and each function's prototype), with its own descriptors: the whole graph a
 * trace could have touched. Compare two of these with `expectSameGraph`.
 */
export function graphOf(root: object, maxObjects = 5000): Map<object, Record<string | symbol, PropertyDescriptor>> {
  const seen = new Map<object, Record<string | symbol, PropertyDescriptor>>()
  const stack: unknown[] = [root]
  while (stack.length > 0 && seen.size < maxObjects) {
    const o = stack.pop()
    if ((typeof o !== 'object' && typeof o !== 'function') || o === null || seen.has(o)) continue
    if (o === Object.prototype || o === Function.prototype) continue
    const d = Object.getOwnPropertyDescriptors(o)
    seen.set(o, d)
    for (const k of Reflect.ownKeys(d)) {
      const desc = d[k as string]
      stack.push(desc.value, desc.get, desc.set)
    }
    stack.push(Object.getPrototypeOf(o))
  }
  return seen
}

/** Two graphs hold the same objects with identical descriptors (values compared by identity). */
export function sameGraph(a: ReturnType<typeof graphOf>, b: ReturnType<typeof graphOf>): string[] {
  const diffs: string[] = []
  for (const [o, da] of a) {
    const db = b.get(o)
    if (!db) {
      diffs.push(`object no longer reachable: ${String((o as { name?: unknown }).name ?? typeof o)}`)
      continue
    }
    const keys = new Set([...Reflect.ownKeys(da), ...Reflect.ownKeys(db)])
    for (const k of keys) {
      const x = da[k as string]
      const y = db[k as string]
      const same =
        x !== undefined &&
        y !== undefined &&
        Object.is(x.value, y.value) &&
        x.get === y.get &&
        x.set === y.set &&
        x.writable === y.writable &&
        x.enumerable === y.enumerable &&
        x.configurable === y.configurable
      if (!same) diffs.push(`property ${String(k)} differs`)
    }
  }
  for (const o of b.keys()) if (!a.has(o)) diffs.push(`new object reachable: ${typeof o}`)
  return diffs
}

/** What a program run by `runProgram` printed; `lines` are its stdout lines, time and pid left out (`<threadId>`). */
export interface Run {
  stdout: string
  stderr: string
  status: number | null
  /** The signal that ended it, if one did (a crash, or the timeout's SIGTERM). */
  signal: NodeJS.Signals | null
  lines: string[]
}

/**
 * Run `program` with `node -e` (an ES module with `esm`) from the repository root, with `flags`
 * before it and `env` over this process's environment (NODE_OPTIONS emptied).
 */
export function runProgram(program: string, opts: { esm?: boolean; flags?: readonly string[]; env?: Record<string, string>; timeout?: number } = {}): Run {
  const flags = [...(opts.flags ?? [])]
  if (opts.esm) flags.push('--input-type=module')
  const r = spawnSync(process.execPath, [...flags, '-e', program], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    encoding: 'utf8',
    timeout: opts.timeout ?? 30_000,
    env: { ...process.env, NODE_OPTIONS: '', ...opts.env },
  })
  const lines = r.stdout
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => undurated(l.replace(/^\d\d:\d\d:\d\d\.\d{6} <\d+\.(\d+)>/, '<$1>')))
  return { stdout: r.stdout, stderr: r.stderr, status: r.status, signal: r.signal, lines }
}

/**
 * A copy of the built package that every user can read, and the Node binary running the tests
 * beside it: for running the CLI as another user (uid 65534) when the checkout is private (mode
 * 0700, as `mktemp -d` makes it) or the Node binary lives inside it (node_modules/node22).
 * Hard links where the file system allows, copies otherwise. `remove()` deletes it.
 */
export function publicCopy(): { dir: string; node: string; bin: string; remove(): void } {
  const root = fileURLToPath(new URL('..', import.meta.url))
  const dir = mkdtempSync(join(tmpdir(), 'recon-trace-public-'))
  chmodSync(dir, 0o755)
  const place = (from: string, to: string) => {
    try {
      linkSync(from, to)
    } catch {
      copyFileSync(from, to)
    }
  }
  const node = join(dir, 'node')
  place(process.execPath, node)
  chmodSync(node, 0o755)
  cpSync(join(root, 'dist'), join(dir, 'dist'), { recursive: true })
  copyFileSync(join(root, 'package.json'), join(dir, 'package.json'))
  // The runtime dependencies, and theirs (npm hoists them to the top node_modules).
  const todo = Object.keys((JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> }).dependencies)
  const copied = new Set<string>()
  while (todo.length > 0) {
    const name = todo.pop()!
    const from = join(root, 'node_modules', name)
    if (copied.has(name) || !existsSync(from)) continue
    copied.add(name)
    cpSync(from, join(dir, 'node_modules', name), { recursive: true })
    const deps = (JSON.parse(readFileSync(join(from, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }).dependencies
    todo.push(...Object.keys(deps ?? {}))
  }
  // Every directory readable and searchable, every file readable, by anyone.
  const open = (p: string) => {
    for (const e of readdirSync(p, { withFileTypes: true })) {
      const q = join(p, e.name)
      if (e.isDirectory()) {
        chmodSync(q, 0o755)
        open(q)
      } else if (e.isFile() && q !== node) chmodSync(q, 0o644)
    }
  }
  open(dir)
  chmodSync(join(dir, 'dist/cjs/bin.js'), 0o755)
  return { dir, node, bin: join(dir, 'dist/cjs/bin.js'), remove: () => rmSync(dir, { recursive: true, force: true }) }
}

/**
 * An esbuild bundle of fixtures/typescript/src/server.ts, in memory: its code and map. It bundles
 * db.ts and other.ts, which both define `findUser`: the bundler renames one (`findUser2`), and
 * the map gives both their own name back.
 */
export function bundleServer(): { code: string; map: RawSourceMap } {
  const r = buildSync({
    entryPoints: [fileURLToPath(new URL('../fixtures/typescript/src/server.ts', import.meta.url))],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    sourcemap: 'external',
    external: ['recon-trace'],
    outfile: '/out/server.js',
    write: false,
    logLevel: 'silent',
  })
  const text = (suffix: string) => r.outputFiles.find((f) => f.path.endsWith(suffix))!.text
  return { code: text('server.js'), map: JSON.parse(text('server.js.map')) as RawSourceMap }
}

// The agent and the `recon-trace` CLI, in real processes: a preloaded service, traced from the
// command line through its control socket.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { fork, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import * as workerThreadsModule from 'node:worker_threads'
import { join, resolve } from 'node:path'
import { tmpdir } from 'node:os'
import { BINDING_ON, HAS_REGISTER_HOOKS, LIVE_EDIT_ON, NO_LIVE_EDIT, describeUnless, itUnless } from './runtime.js'
import { agentSocket, publicCopy, undurated } from './helpers.js'
import { PROTOCOL } from '../src/protocol.js'

/** script(1) (util-linux) gives a process a terminal: the in-place refresh of stats mode is tested through it. */
const NO_SCRIPT: string | false = spawnSync('script', ['--version']).error !== undefined && 'no script(1) on this machine to give the CLI a terminal'

const root = resolve(import.meta.dirname, '..')
const bin = join(root, 'dist/cjs/bin.js')
const work = './fixtures/service/work.cjs'
const services: ChildProcess[] = []

afterEach(() => {
  for (const s of services.splice(0)) s.kill('SIGKILL')
})

/** Fork a fixture of fixtures/service/, with the preload or without; killed after the test. */
function forkService(file: string, preload = true, env: Record<string, string> = {}): ChildProcess {
  const s = fork(join(root, 'fixtures/service', file), [], {
    cwd: root,
    execArgv: preload ? ['--import', 'recon-trace/register'] : [],
    env: { ...process.env, RECON_TRACE_CACHE: '0', NODE_OPTIONS: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  })
  services.push(s)
  return s
}

/** Start the ticker service with the preload; resolves once its agent listens. */
async function service(): Promise<ChildProcess> {
  const s = forkService('ticker.cjs')
  await new Promise<void>((ok, fail) => {
    s.stdout!.once('data', () => ok())
    s.once('exit', (c) => fail(new Error(`the service exited (${c})`)))
  })
  await agentSocket(s.pid!)
  return s
}

/** Ask the service whether a trace is active in it. */
function status(s: ChildProcess): Promise<{ active: boolean; calls: number }> {
  return new Promise((ok) => {
    s.once('message', (m) => ok(m as { active: boolean; calls: number }))
    s.send('status')
  })
}

/** Run the CLI to its end. */
function cli(args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: root, encoding: 'utf8', timeout: 20_000 })
  return {
    code: r.status,
    out: r.stdout,
    err: r.stderr,
    lines: r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => undurated(l.replace(/^\d\d:\d\d:\d\d\.\d{6} <\d+\.(\d+)>/, '<$1>'))),
  }
}

/** Start the CLI and keep it running, its output collected. */
function startCli(args: string[]) {
  const c = spawn(process.execPath, [bin, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  c.stdout.on('data', (d) => (out += d))
  c.stderr.on('data', (d) => (err += d))
  const exited = new Promise<number | null>((ok) => c.on('exit', (code) => ok(code)))
  return { c, exited, out: () => out, err: () => err }
}

/** Start the CLI and keep it running; resolves once its first line is out (or 4 s passed). */
async function liveCli(args: string[]) {
  const running = startCli(args)
  for (let i = 0; i < 200 && running.out() === '' && running.c.exitCode === null; i++) await new Promise((r) => setTimeout(r, 20))
  return running
}

/** The threads of the work:greet lines of a CLI's output, in order. */
const threadsOf = (out: string) =>
  [
    ...new Set(
      out
        .split('\n')
        .map((l) => /<\d+\.(\d+)> work:greet/.exec(l)?.[1])
        .filter(Boolean)
        .map(Number),
    ),
  ].sort()

/**
 * Trace until every thread of `want` has printed (or 15 s passed), then stop with Ctrl-C. Each
 * thread installs its own probes when the trace reaches it, a live edit in a worker some 80-150 ms
 * after the main thread's (more on a loaded machine): a count would measure that race, not the reach.
 */
async function traceUntilSeen(args: string[], want: number[]): Promise<{ code: number | null; seen: number[]; err: string }> {
  const c = startCli(args)
  const deadline = Date.now() + 15_000
  while (Date.now() < deadline && c.c.exitCode === null && threadsOf(c.out()).join() !== [...want].sort().join()) await new Promise((r) => setTimeout(r, 20))
  c.c.kill('SIGINT')
  const code = await c.exited
  return { code, seen: threadsOf(c.out()), err: c.err() }
}

describe('recon-trace <pid> <spec>', () => {
  it('traces a preloaded service through its socket until the limit trips, then exits 0', async () => {
    const s = await service()
    const r = cli([String(s.pid), `${work}:add/2 -> return`, '-n', '4', '--scope', 'local'])
    expect(r.err).toBe("recon-trace: work:add through the preload's probes (local scope: the preload instrumented work, its probes see every call)\n")
    expect(r.code).toBe(0)
    expect(r.lines).toHaveLength(5)
    expect(r.lines[0]).toMatch(/^<0> work:add\(\d+, 1\)$/)
    expect(r.lines[1]).toMatch(/^<0> work:add\/2 --> \d+$/)
    expect(r.lines[4]).toBe('recon-trace: rate limit tripped after 4 messages; tracing stopped.')
    expect((await status(s)).active).toBe(false)
  })

  it('without a limit uses 10 messages and 60 s, and says so', async () => {
    const s = await service()
    const r = cli([String(s.pid), `${work}:greet`, '--scope', 'local'])
    expect(r.err).toContain('no limit given: stopping after 10 messages or 60 s')
    expect(r.lines.filter((l) => l.includes('work:greet'))).toHaveLength(10)
    expect(r.code).toBe(0)
  })

  it('prints JSON Lines with --json', async () => {
    const s = await service()
    const r = cli([String(s.pid), `${work}:greet`, '-n', '2', '--scope', 'local', '--json'])
    const events = r.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    // Which installer serves which function comes first, as an object of the stream.
    expect(events[0]).toEqual({
      type: 'installer',
      pid: s.pid,
      installer: 'preload',
      name: "the preload's probes",
      functions: ['work:greet'],
      why: ['local scope: the preload instrumented work, its probes see every call'],
    })
    expect(events.slice(1, 3).map((e) => [e.type, e.function, e.pid])).toEqual([
      ['call', 'greet', s.pid],
      ['call', 'greet', s.pid],
    ])
    expect(events[3]).toEqual({ type: 'end', message: 'rate limit tripped after 2 messages; tracing stopped.' })
  })

  it('leaves the service untraced within a second when the CLI is killed mid-trace', async () => {
    const s = await service()
    const c = await liveCli([String(s.pid), `${work}:greet`, '-n', '100000', '--scope', 'local'])
    expect(c.out()).toContain('work:greet(')
    expect((await status(s)).active).toBe(true)
    c.c.kill('SIGKILL')
    await c.exited
    await new Promise((r) => setTimeout(r, 1000))
    expect((await status(s)).active).toBe(false)
  })

  it('refuses a second CLI, naming the holder, and lets it take over with --replace', async () => {
    const s = await service()
    const first = await liveCli([String(s.pid), `${work}:greet`, '-n', '100000', '--scope', 'local'])
    const refused = cli([String(s.pid), `${work}:add`, '-n', '1', '--scope', 'local'])
    expect(refused.code).toBe(1)
    expect(refused.err).toContain(`is already traced by recon-trace (pid ${first.c.pid})`)
    expect(refused.err).toContain('--replace')
    const second = cli([String(s.pid), `${work}:add`, '-n', '1', '--scope', 'local', '--replace'])
    expect(second.code).toBe(0)
    expect(second.lines[0]).toMatch(/^<0> work:add\(/)
    expect(await first.exited).toBe(0)
    expect(first.err()).toMatch(/replaced by recon-trace \(pid \d+\)/)
  })

  it('stops on Ctrl-C (SIGINT) with exit code 0, the service untraced', async () => {
    const s = await service()
    const c = await liveCli([String(s.pid), `${work}:greet`, '-n', '100000', '--scope', 'local'])
    c.c.kill('SIGINT')
    expect(await c.exited).toBe(0)
    expect((await status(s)).active).toBe(false)
  })
})

/**
 * With module.register (Node 20, Node 22 before 22.15), `--import` runs the main module after a
 * turn of the event loop, in which the agent opens its socket: no CLI meets such a process in a
 * first turn without its agent (it connects, and the trace starts when the program lets it).
 */
const AGENT_BEFORE_MAIN: string | false = !HAS_REGISTER_HOOKS && "--import runs the main module after the agent's turn with module.register"

describeUnless(AGENT_BEFORE_MAIN)('a preloaded service still in its first turn', () => {
  // Its agent opens the socket at the program's first turn of the event loop (startup.ts); this
  // service stays in its first turn until the test creates a file. The CLI sees the preload on
  // its command line or in its NODE_OPTIONS and waits for the agent (saying so after half a
  // second), instead of opening the inspector of a process that has one coming.
  it.each([
    ['on its command line', true, {}],
    ['in NODE_OPTIONS', false, { NODE_OPTIONS: '--import recon-trace/register' }],
  ] as const)('preloaded %s: traced through its socket once its agent starts, never through the inspector', async (_, flag, env) => {
    const until = join(mkdtempSync(join(tmpdir(), 'recon-trace-slow-')), 'loaded')
    const s = forkService('slowstart.cjs', flag, { ...env, SLOW_UNTIL: until })
    await new Promise((ok) => s.stdout!.once('data', ok))
    const c = startCli([String(s.pid), `${work}:greet`, '-n', '2', '--scope', 'local'])
    for (let i = 0; i < 500 && !c.err().includes('waiting for its agent') && c.c.exitCode === null; i++) await new Promise((r) => setTimeout(r, 20))
    expect(c.err()).toContain(`process ${s.pid} was started with the preload; waiting for its agent`)
    writeFileSync(until, '')
    expect(await c.exited, c.err()).toBe(0)
    expect(c.err()).not.toContain('inspector')
    const lines = c
      .out()
      .split('\n')
      .filter(Boolean)
      .map((l) => undurated(l.replace(/^\d\d:\d\d:\d\d\.\d{6} <\d+\.(\d+)>/, '<$1>')))
    expect(lines).toEqual(["<0> work:greet('slow')", "<0> work:greet('slow')", 'recon-trace: rate limit tripped after 2 messages; tracing stopped.'])
  })
})

describe('threads', () => {
  /** The threads service: resolves with it and the threadId of its first worker. */
  async function threads(): Promise<{ s: ChildProcess; first: number }> {
    const s = forkService('threads.cjs')
    const first = await new Promise<number>((ok) => s.stdout!.once('data', (d) => ok(Number(/ready (\d+)/.exec(String(d))![1]))))
    return { s, first }
  }

  it('reaches the worker threads too, labelled <pid.threadId>, with one limit for the whole process', async () => {
    const { s, first } = await threads()
    const r = cli([String(s.pid), `${work}:greet`, '-n', '40', '--scope', 'local'])
    expect(r.code).toBe(0)
    expect(r.out.split('\n').filter((l) => l.includes('work:greet('))).toHaveLength(40)
    expect(r.lines[40]).toBe('recon-trace: rate limit tripped after 40 messages; tracing stopped.')
    expect(r.lines).toHaveLength(41)
    expect(threadsOf(r.out)).toEqual([0, first])
  })

  it('--stats --by who: one report with the rows of every thread (each counts its own calls), merged by the CLI', async () => {
    const { s, first } = await threads()
    const r = cli([String(s.pid), `${work}:greet(who)`, '--stats', '--by', 'who', '--json', '--time', '1500ms', '--scope', 'local'])
    expect(r.code).toBe(0)
    const objects = r.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; rows?: { function: string; key: string; calls: number; errors: number }[]; message?: string })
    const reports = objects.filter((o) => o.type === 'stats')
    expect(reports).toHaveLength(1)
    const rows = Object.fromEntries(reports[0].rows!.map((x) => [x.key, x]))
    // Both threads greet every 5 ms: each counted its calls, the CLI added the worker's rows to the main thread's.
    expect(Object.keys(rows).sort()).toEqual(['main', `worker ${first}`])
    for (const x of Object.values(rows)) {
      expect(x.function).toBe('work:greet')
      expect(x.calls).toBeGreaterThan(20)
      expect(x.errors).toBe(0)
    }
    // The time limit is the agent's: its line counts the calls of both threads, each one's last report in.
    const total = Object.values(rows).reduce((n, x) => n + x.calls, 0)
    expect(objects.at(-1)).toEqual({ type: 'end', message: `time limit of 1500 ms reached after ${total} calls; tracing stopped.` })
  })

  itUnless(NO_SCRIPT)('--stats on a terminal: the table is redrawn in place every second, then the final table and the trip line', async () => {
    const { s } = await threads()
    // script(1) gives the CLI a terminal (its stdout and stderr), and copies what it writes.
    const command = [process.execPath, bin, String(s.pid), `${work}:greet(who)`, '--stats', '--by', 'who', '--time', '3500ms', '--scope', 'local', '--no-color']
    const r = spawnSync('script', ['-qfec', command.map((a) => `'${a}'`).join(' '), '/dev/null'], { cwd: root, encoding: 'utf8', timeout: 20_000 })
    expect(r.status).toBe(0)
    const out = r.stdout.replace(/\r/g, '')
    // At least two refreshes: each moves up over the table before it (n lines) and clears below.
    const ups = [...out.matchAll(/\x1b\[(\d+)F\x1b\[J(?:\x1b\[K)?function +who +calls/g)]
    expect(ups.length).toBeGreaterThanOrEqual(2)
    const final = out.slice(out.lastIndexOf('\x1b[J') + 3)
    expect(final).toMatch(/^(\x1b\[K)?function +who +calls +errors +p50 +p90 +p99 +max\n/)
    expect(final).toMatch(/\nwork:greet +main +\d+ +0 /)
    const total = [...final.matchAll(/^work:greet +\S+(?: \d+)? +(\d+) +0 /gm)].reduce((n, m) => n + Number(m[1]), 0)
    expect(total).toBeGreaterThan(0)
    expect(final).toContain(`recon-trace: time limit of 3500 ms reached after ${total} calls; tracing stopped.\n`)
  })

  itUnless(NO_LIVE_EDIT)(
    'live edit in each thread: a file the preload left out is probed by the main thread and by the worker, each in its own isolate',
    async () => {
      const s = forkService('threads.cjs', true, { RECON_TRACE_EXCLUDE: 'fixtures/service/work.cjs', ...LIVE_EDIT_ON })
      const first = await new Promise<number>((ok) => s.stdout!.once('data', (d) => ok(Number(/ready (\d+)/.exec(String(d))![1]))))
      const r = await traceUntilSeen([String(s.pid), `${work}:greet`, '-n', '100000', '--scope', 'local'], [0, first])
      expect(r.err).not.toContain('bad trace')
      expect(r.code).toBe(0)
      expect(r.seen).toEqual([0, first])
    },
  )

  it('--pid existing leaves out a worker started after the trace began, --pid new takes only it', async () => {
    const { s, first } = await threads()
    /** Trace with `--pid which` while the service starts one more worker; the threads seen, and that worker. */
    const whileSpawning = async (which: string) => {
      const c = await liveCli([String(s.pid), `${work}:greet`, '-n', '100000', '--scope', 'local', '--pid', which])
      const spawned = await new Promise<number>((ok) => {
        s.once('message', (m) => ok((m as { spawned: number }).spawned))
        s.send('spawn')
      })
      await new Promise((ok) => setTimeout(ok, 300))
      c.c.kill('SIGINT')
      await c.exited
      return { seen: threadsOf(c.out()), spawned }
    }
    const existing = await whileSpawning('existing')
    expect(existing.seen).toEqual([0, first])
    const fresh = await whileSpawning('new')
    const [spawned, late] = [existing.spawned, fresh.spawned]
    expect(fresh.seen).toEqual([late])
    expect(spawned).not.toBe(late)
  })
})

describe('worker names', () => {
  // A worker knows its name from Node 22 on (worker_threads.threadName); Node 20 does not tell it.
  itUnless(!('threadName' in workerThreadsModule) && `worker_threads.threadName does not exist on Node ${process.versions.node}`)(
    '--pid takes a worker by its name',
    async () => {
      const s = forkService('threads.cjs')
      const first = await new Promise<number>((ok) => s.stdout!.once('data', (d) => ok(Number(/ready (\d+)/.exec(String(d))![1]))))
      const r = cli([String(s.pid), `${work}:greet`, '-n', '4', '--scope', 'local', '--pid', 'jobs-1'])
      expect(r.code).toBe(0)
      const traced = r.out.split('\n').filter((l) => l.includes('work:greet('))
      expect(traced).toHaveLength(4)
      expect(traced.every((l) => l.includes(`<${s.pid}.${first}>`))).toBe(true)
    },
  )
})

describe('several processes, one limit', () => {
  it('traces a list of pids as one merged stream, stopping them all at the global limit', async () => {
    const [a, b] = [await service(), await service()]
    const r = cli([`${a.pid},${b.pid}`, `${work}:greet`, '-n', '6', '--scope', 'local'])
    expect(r.code).toBe(0)
    const traced = r.out.split('\n').filter((l) => l.includes('work:greet('))
    expect(traced).toHaveLength(6)
    expect(r.lines[6]).toBe('recon-trace: rate limit tripped after 6 messages across 2 processes; tracing stopped.')
    expect(r.lines).toHaveLength(7)
    expect(traced.every((l) => l.includes(`<${a.pid}.0>`) || l.includes(`<${b.pid}.0>`))).toBe(true)
    await new Promise((ok) => setTimeout(ok, 200))
    expect((await status(a)).active).toBe(false)
    expect((await status(b)).active).toBe(false)
  })

  it('--stats over a list of pids: one table of both processes, then why each one ended', async () => {
    const [a, b] = [await service(), await service()]
    const r = cli([`${a.pid},${b.pid}`, `${work}:greet`, '--stats', '--json', '--time', '1200ms', '--scope', 'local'])
    expect(r.code).toBe(0)
    const objects = r.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; rows?: { function: string; calls: number }[]; message?: string })
    const reports = objects.filter((o) => o.type === 'stats')
    expect(reports).toHaveLength(1)
    expect(reports[0].rows).toHaveLength(1)
    expect(reports[0].rows![0].function).toBe('work:greet')
    const ends = objects.filter((o) => o.type === 'end').map((o) => o.message)
    expect(ends.sort()).toEqual(
      [a.pid, b.pid].map((pid) => expect.stringMatching(new RegExp(`^process ${pid}: time limit of 1200 ms reached after \\d+ calls; tracing stopped\\.$`))),
    )
    // The table adds both processes' calls: each line says its own count.
    const each = ends.map((m) => Number(/after (\d+) calls/.exec(m!)![1]))
    expect(each.every((n) => n > 0)).toBe(true)
    expect(reports[0].rows![0].calls).toBe(each[0] + each[1])
  })

  it('traces a cluster with --children: the workers of the primary, one global limit', async () => {
    const primary = forkService('cluster.cjs')
    await new Promise((ok) => primary.stdout!.once('data', ok))
    const r = cli(['--children', String(primary.pid), `${work}:add/2`, '-n', '8', '--scope', 'local'])
    // Each process says which installer serves it, and nothing else goes to stderr.
    expect(
      r.err
        .trim()
        .split('\n')
        .every((l) => /^recon-trace: process \d+: work:add through the preload's probes \(local scope/.test(l)),
    ).toBe(true)
    expect(r.code).toBe(0)
    const traced = r.out.split('\n').filter((l) => l.includes('work:add('))
    expect(traced).toHaveLength(8)
    expect(traced.some((l) => l.includes(`<${primary.pid}.`))).toBe(false) // the primary does no work
    expect(r.out).toContain('rate limit tripped after 8 messages across 3 processes; tracing stopped.')
    primary.send('stop')
  })
})

describe('recon-trace --run', () => {
  it('starts the program with the preload and traces it from its first line', () => {
    const r = cli(['--run', `${JSON.stringify(process.execPath)} fixtures/service/short.cjs`, `${work}:add -> return`, '-n', '4', '--scope', 'local'])
    expect(r.code).toBe(0)
    expect(r.out).toContain('first line ran')
    const traced = r.lines.filter((l) => l.startsWith('<0>'))
    expect(traced).toEqual(['<0> work:add(0, 0)', '<0> work:add/2 --> 0', '<0> work:add(0, 1)', '<0> work:add/2 --> 1'])
    expect(r.out).toContain('recon-trace: rate limit tripped after 4 messages; tracing stopped.')
  })

  it('ends with the program when the program ends first, every line delivered', () => {
    const r = cli(['--run', `${JSON.stringify(process.execPath)} fixtures/service/short.cjs`, `${work}:add`, '-n', '100', '--scope', 'local'])
    expect(r.code).toBe(0)
    expect(r.lines.filter((l) => l.startsWith('<0> work:add('))).toHaveLength(5)
    expect(r.err).toContain('the program ended; tracing stopped.')
  })
})

describe('--children with new', () => {
  it('takes the children that start after the trace began, and only them', async () => {
    const primary = forkService('cluster.cjs')
    await new Promise((ok) => primary.stdout!.once('data', ok))
    const c = await liveCli(['--children', String(primary.pid), `${work}:add/2`, '-n', '5', '--scope', 'local', '--pid', 'new'])
    await new Promise((ok) => setTimeout(ok, 300))
    expect(c.out()).toBe('') // the workers that were there are not new
    const spawned = await new Promise<number>((ok) => {
      primary.once('message', (m) => ok((m as { spawned: number }).spawned))
      primary.send('spawn')
    })
    expect(await c.exited, c.err()).toBe(0)
    const traced = c
      .out()
      .split('\n')
      .filter((l) => l.includes('work:add('))
    expect(traced).toHaveLength(5)
    expect(traced.every((l) => l.includes(`<${spawned}.0>`))).toBe(true)
    primary.send('stop')
  })
})

describe('the status line', () => {
  it('says what is hooked, the messages against the limit and the time left', async () => {
    const { StatusLine } = await import('../src/cli.js')
    let written = ''
    const err = { write: (s: string) => ((written += s), true) } as unknown as NodeJS.WritableStream
    const line = new StatusLine(err, 10, 60_000, 4242)
    line.hooked = 2
    line.messages = 3
    line.threads = 1
    expect(line.text()).toBe('recon-trace: process 4242, 2 functions hooked, 3/10 messages, 60 s left; Ctrl-C to stop')
    line.threads = 3
    expect(line.text()).toBe('recon-trace: process 4242, 2 functions hooked in 3 threads, 3/10 messages, 60 s left; Ctrl-C to stop')
    line.draw()
    line.erase()
    expect(written).toBe(`\r\x1b[K${line.text()}\r\x1b[K`)
  })

  it('says which installer serves how many functions', async () => {
    const { StatusLine } = await import('../src/cli.js')
    const line = new StatusLine({ write: () => true } as unknown as NodeJS.WritableStream, 10, undefined, 4242)
    line.hooked = 3
    line.threads = 1
    line.served('binding swaps', 2)
    line.served('entry breakpoints', 1)
    expect(line.text()).toBe('recon-trace: process 4242, 3 functions hooked (binding swaps 2, entry breakpoints 1), 0/10 messages; Ctrl-C to stop')
  })

  it('is not drawn when stderr is not a terminal', async () => {
    const s = await service()
    const r = cli([String(s.pid), `${work}:greet`, '-n', '2', '--scope', 'local'])
    expect(r.err).not.toContain('\x1b[K')
  })
})

describe('recon-trace list', () => {
  it('lists the processes that have the agent, with their command line and session', async () => {
    const s = await service()
    const idle = cli(['list'])
    expect(idle.code).toBe(0)
    const row = idle.out.split('\n').find((l) => l.trim().startsWith(`${s.pid} `))
    expect(row).toMatch(/idle\s+.*ticker\.cjs/)
    const c = await liveCli([String(s.pid), `${work}:greet`, '-n', '100000', '--scope', 'local'])
    const busy = cli(['list'])
    expect(busy.out.split('\n').find((l) => l.trim().startsWith(`${s.pid} `))).toContain(`traced by ${c.c.pid}`)
    c.c.kill('SIGINT')
    await c.exited
  })
})

describe('attach without the preload, through the inspector', () => {
  const inspectorOpen = () =>
    new Promise<boolean>((ok) => {
      const req = request({ host: '127.0.0.1', port: 9229, path: '/json/list', timeout: 500 }, (res) => {
        res.resume()
        ok(true)
      })
      req.on('error', () => ok(false))
      req.on('timeout', () => req.destroy())
      req.end()
    })

  // The inspector a test before opened (and closed) must be gone: an inspector of another
  // process on 9229 makes the attach refuse, saying so.
  beforeEach(async () => {
    for (let i = 0; i < 50 && (await inspectorOpen()); i++) await new Promise((ok) => setTimeout(ok, 100))
  })

  it('starts the agent in a plain process, traces it in global scope, and closes the inspector again', async () => {
    const s = forkService('plain.cjs', false)
    await new Promise((ok) => s.stdout!.once('data', ok))
    expect(await inspectorOpen()).toBe(false)
    const r = cli([String(s.pid), `${work}:greet`, '-n', '3'])
    expect(r.code).toBe(0)
    expect(r.err).toContain(`process ${s.pid} has no agent: attaching through its inspector`)
    expect(r.lines).toEqual([
      "<0> work:greet('plain')",
      "<0> work:greet('plain')",
      "<0> work:greet('plain')",
      'recon-trace: rate limit tripped after 3 messages; tracing stopped.',
    ])
    await new Promise((ok) => setTimeout(ok, 400))
    expect(await inspectorOpen()).toBe(false)
    expect((await status(s)).active).toBe(false)
    // The agent stays: the next trace goes straight to its socket.
    const again = cli([String(s.pid), `${work}:add/2 -> return`, '-n', '2'])
    expect(again.code).toBe(0)
    expect(again.err).toBe(
      "recon-trace: work:add through runtime wrappers (global scope on work: the function is replaced where its module's exports hold it)\n",
    )
    expect(again.lines[1]).toMatch(/^<0> work:add\/2 --> \d+$/)
  })

  it('attaches a process whose pid has a stale socket, left by a killed process of the same pid', async () => {
    const s = forkService('plain.cjs', false)
    await new Promise((ok) => s.stdout!.once('data', ok))
    const path = join(tmpdir(), `recon-trace-${process.getuid!()}`, `${s.pid}.sock`)
    // A process that binds that path and dies by SIGKILL leaves the file, refusing connections.
    // (The file may be there already: a stale socket of an earlier process of this pid, which is
    // the case under test; the binder replaces it.)
    const binder = spawn(
      process.execPath,
      [
        '-e',
        `try { require('node:fs').unlinkSync(${JSON.stringify(path)}) } catch {}\nrequire('node:net').createServer().listen(${JSON.stringify(path)}, () => console.log('bound'))`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    )
    await new Promise((ok, fail) => {
      binder.stdout!.once('data', ok)
      binder.once('exit', (code) => fail(new Error(`the binder exited (${code}) before binding ${path}`)))
    })
    binder.kill('SIGKILL')
    await new Promise((ok) => binder.once('exit', ok))
    expect(existsSync(path)).toBe(true)
    const r = cli([String(s.pid), `${work}:greet`, '-n', '2'])
    expect(r.code, r.err).toBe(0)
    expect(r.err).toContain(`process ${s.pid} has no agent: attaching through its inspector`)
    expect(r.lines).toEqual(["<0> work:greet('plain')", "<0> work:greet('plain')", 'recon-trace: rate limit tripped after 2 messages; tracing stopped.'])
  }, 45_000)

  it('reaches the worker threads of such a process too: each swaps the bindings of its own copy of the module', async () => {
    const s = forkService('plain-threads.cjs', false, BINDING_ON)
    const worker = await new Promise<number>((ok) => s.stdout!.once('data', (d) => ok(Number(/ready (\d+)/.exec(String(d))![1]))))
    const r = await traceUntilSeen([String(s.pid), `${work}:greet`, '-n', '100000', '--scope', 'local'], [0, worker])
    expect(r.code, r.err).toBe(0)
    expect(r.seen).toEqual([0, worker])
  })

  itUnless(NO_LIVE_EDIT)('reaches the worker threads of such a process by live edit when it is asked for: each probes its own copy of the module', async () => {
    const s = forkService('plain-threads.cjs', false, LIVE_EDIT_ON)
    const worker = await new Promise<number>((ok) => s.stdout!.once('data', (d) => ok(Number(/ready (\d+)/.exec(String(d))![1]))))
    const r = await traceUntilSeen([String(s.pid), `${work}:greet`, '-n', '100000', '--scope', 'local'], [0, worker])
    expect(r.code, r.err).toBe(0)
    expect(r.seen).toEqual([0, worker])
  })

  itUnless(NO_LIVE_EDIT)('traces such a process in local scope through live edit when asked for, and leaves its module text exactly as it was', async () => {
    // Live edit is off by default on V8 13 (Node 24; test/liveedit.test.ts says why).
    const s = forkService('plain.cjs', false, LIVE_EDIT_ON)
    await new Promise((ok) => s.stdout!.once('data', ok))
    const r = cli([String(s.pid), `${work}:add`, '-n', '2', '--scope', 'local', '--args', 'arity'])
    expect(r.code, r.err).toBe(0)
    expect(r.lines).toEqual(['<0> work:add/2', '<0> work:add/2', 'recon-trace: rate limit tripped after 2 messages; tracing stopped.'])
    await new Promise((ok) => setTimeout(ok, 200))
    s.send('source')
    const seen = await new Promise<{ same: boolean; bindings: string[] }>((ok) =>
      s.on('message', (m: { same?: boolean }) => m.same !== undefined && ok(m as { same: boolean; bindings: string[] })),
    )
    expect(seen).toEqual({ same: true, bindings: [] })
  })

  it('traces such a process in local scope on every runtime through binding swaps: returns, the limit exact, its module text untouched', async () => {
    const s = forkService('plain.cjs', false, BINDING_ON)
    await new Promise((ok) => s.stdout!.once('data', ok))
    const r = cli([String(s.pid), `${work}:add -> return`, '-n', '4', '--scope', 'local'])
    expect(r.code, r.err).toBe(0)
    expect(r.err).toContain('work:add through binding swaps (local scope: the preload did not instrument work')
    const msgs = r.lines.filter((l) => l.startsWith('<0>'))
    expect(msgs).toHaveLength(4)
    expect(msgs.filter((l) => /^<0> work:add\/2 --> \d+$/.test(l)).length).toBeGreaterThanOrEqual(1)
    expect(r.lines.at(-1)).toBe('recon-trace: rate limit tripped after 4 messages; tracing stopped.')
    s.send('source')
    const seen = await new Promise<{ same: boolean; bindings: string[] }>((ok) =>
      s.on('message', (m: { same?: boolean }) => m.same !== undefined && ok(m as { same: boolean; bindings: string[] })),
    )
    expect(seen).toEqual({ same: true, bindings: [] })
  })
})

describe('an HTTP service under load', () => {
  /** The HTTP fixture, preloaded or not; resolves with it and its port. */
  async function http(preload: boolean): Promise<{ s: ChildProcess; port: number }> {
    const s = forkService('http.cjs', preload)
    const port = await new Promise<number>((ok) => s.stdout!.once('data', (d) => ok(Number(/port (\d+)/.exec(String(d))![1]))))
    if (preload) await agentSocket(s.pid!)
    return { s, port }
  }
  /** A bounded load from a loopback client: `total` requests, 8 at a time; resolves with the bodies' count. */
  async function load(port: number, total: number): Promise<number> {
    let sent = 0
    let ok = 0
    const one = (): Promise<void> =>
      new Promise((done) => {
        const req = request({ host: '127.0.0.1', port, path: `/?name=user${sent % 7}&n=${sent}` }, (res) => {
          res.resume()
          res.on('end', () => {
            if (res.statusCode === 200) ok++
            done()
          })
        })
        req.on('error', () => done())
        req.end()
      })
    const lane = async () => {
      while (sent < total) {
        sent++
        await one()
      }
    }
    await Promise.all(Array.from({ length: 8 }, lane))
    return ok
  }

  it('is traced through the socket while it serves, the limit exact, every request answered', async () => {
    const { s, port } = await http(true)
    const c = startCli([String(s.pid), `${work}:greet(who) when who.endsWith("3")`, '-n', '5', '--scope', 'local'])
    await new Promise((ok) => setTimeout(ok, 500))
    expect(await load(port, 300)).toBe(300)
    expect(await c.exited).toBe(0)
    const lines = c.out().trim().split('\n')
    expect(lines).toHaveLength(6)
    expect(lines.slice(0, 5).every((l) => /work:greet\('user3'\)$/.test(l))).toBe(true)
    expect(lines[5]).toBe('recon-trace: rate limit tripped after 5 messages; tracing stopped.')
  })

  it('started without the preload, is traced through the inspector the same way', async () => {
    const { s, port } = await http(false)
    const c = startCli([String(s.pid), `${work}:add/2 -> return`, '-n', '6'])
    for (let i = 0; i < 100 && !c.err().includes('attaching'); i++) await new Promise((ok) => setTimeout(ok, 20))
    await new Promise((ok) => setTimeout(ok, 700)) // the attach: signal, inspector, agent
    expect(await load(port, 300)).toBe(300)
    expect(await c.exited).toBe(0)
    const lines = c.out().trim().split('\n')
    expect(lines).toHaveLength(7)
    expect(lines.filter((l) => / work:add\(\d+, \d+\)$/.test(l))).toHaveLength(3)
    expect(lines.filter((l) => / work:add\/2 --> \d+ \([\d.]+ (ns|µs|ms|s)\)$/.test(l))).toHaveLength(3)
    expect(lines[6]).toBe('recon-trace: rate limit tripped after 6 messages; tracing stopped.')
    expect((await status(s)).active).toBe(false)
  })
})

describe('errors, each with what to do', () => {
  it('a bad spec: exit 1 with the TraceError text, the service untouched', async () => {
    const s = await service()
    const r = cli([String(s.pid), './fixtures/service/work.cjs:nope', '-n', '1', '--scope', 'local'])
    expect(r.code).toBe(1)
    expect(r.err).toMatch(/^recon-trace: bad trace: .*no function 'nope'/m)
    expect((await status(s)).active).toBe(false)
  })

  it('a dead pid: exit 1', () => {
    const r = cli(['999999', 'x:y', '-n', '1'])
    expect(r.code).toBe(1)
    expect(r.err).toContain('no process 999999 on this machine')
  })

  it('a process that is not Node.js is never signalled (SIGUSR1 would kill it): exit 1', async () => {
    const other = spawn('sleep', ['30'])
    services.push(other)
    await new Promise((ok) => setTimeout(ok, 100))
    const r = cli([String(other.pid), 'x:y', '-n', '1'])
    expect(r.code).toBe(1)
    expect(r.err).toContain(`process ${other.pid} does not look like Node.js`)
    expect(other.exitCode).toBeNull()
    expect(other.signalCode).toBeNull()
  })

  // Running the CLI as another user needs root (to switch to uid 65534, nobody). That user may
  // not be able to read the checkout (a private directory) nor the Node binary in node_modules:
  // it runs a copy of both that anyone can read (helpers.ts, publicCopy).
  itUnless(process.getuid?.() !== 0 && 'switching to another user (uid 65534) needs root')(
    'another user cannot trace the process, nor reach its socket: exit 1, saying so',
    async () => {
      const s = await service()
      const copy = publicCopy()
      try {
        const r = spawnSync(copy.node, [copy.bin, String(s.pid), `${work}:greet`, '-n', '1', '--scope', 'local'], {
          cwd: '/',
          uid: 65534,
          gid: 65534,
          encoding: 'utf8',
          timeout: 10_000,
        })
        expect(r.stderr).toContain(`process ${s.pid} belongs to another user: run recon-trace as that user, or as root`)
        expect(r.status).toBe(1)
        const sock = join(tmpdir(), `recon-trace-${process.getuid!()}`, `${s.pid}.sock`)
        const direct = spawnSync(
          copy.node,
          [
            '-e',
            `require('net').createConnection(${JSON.stringify(sock)}).on('error', (e) => console.log(e.code)).on('connect', () => console.log('connected'))`,
          ],
          { cwd: '/', uid: 65534, gid: 65534, encoding: 'utf8', timeout: 5000 },
        )
        expect(direct.stdout.trim()).toBe('EACCES')
      } finally {
        copy.remove()
      }
      expect((await status(s)).active).toBe(false)
    },
  )

  it('a usage error: exit 2 with the usage', () => {
    const r = cli(['--bogus'])
    expect(r.code).toBe(2)
    expect(r.err).toContain('unknown option --bogus')
    expect(r.err).toContain('Usage: recon-trace <pid>[,<pid>...] <spec>...')
  })

  it('--budget takes a share of one core in percent, passed to the trace as the budget option', async () => {
    const { parseArgs } = await import('../src/cli.js')
    expect(parseArgs(['4242', 'work:add', '--budget', '2.5']).options.budget).toBe(2.5)
    expect(parseArgs(['4242', 'work:add', '--budget', '10%']).options.budget).toBe(10)
    for (const bad of ['0', '150', 'lots'])
      expect(() => parseArgs(['4242', 'work:add', '--budget', bad])).toThrow(
        `--budget takes a percentage of one core above 0 and up to 100, such as 5, not ${bad}`,
      )
  })

  it("--help shows the book's examples, exit 0", () => {
    const r = cli(['--help'])
    expect(r.code).toBe(0)
    expect(r.out).toContain("recon-trace 4242 './lib/queue.js:in/2 -> return' -n 3")
  })
})

describe('the agent', () => {
  it('listens on an owner-only socket in an owner-only directory, removed at exit', async () => {
    const s = await service()
    const dir = join(tmpdir(), `recon-trace-${process.getuid!()}`)
    const sock = join(dir, `${s.pid}.sock`)
    expect(statSync(dir).mode & 0o777).toBe(0o700)
    expect(statSync(sock).mode & 0o777).toBe(0o600)
    const gone = new Promise((ok) => s.on('exit', ok))
    s.send('stop')
    await gone
    expect(existsSync(sock)).toBe(false)
  })

  it('bounds what it holds for a client that does not read, counting the rest as dropped', async () => {
    const s = forkService('flood.cjs')
    await new Promise((ok) => s.stdout!.once('data', ok))
    const sock = await agentSocket(s.pid!)
    const { createConnection } = await import('node:net')
    // A client that asks for a flood and never reads it.
    const stalled = createConnection(sock)
    stalled.pause()
    await new Promise((ok) => stalled.once('connect', ok))
    stalled.write(JSON.stringify({ v: PROTOCOL, type: 'trace', specs: [`${work}:greet`], limit: 10_000_000, options: { scope: 'global' }, client: 1 }) + '\n')
    await new Promise((ok) => setTimeout(ok, 1500))
    const st = await new Promise<{ active: boolean; backlog: number; dropped: number }>((ok) => {
      const c = createConnection(sock)
      c.setEncoding('utf8')
      c.on('connect', () => c.write(JSON.stringify({ v: PROTOCOL, type: 'status' }) + '\n'))
      c.on('data', (d: string) => {
        ok(JSON.parse(d.split('\n')[0]))
        c.end()
      })
    })
    stalled.destroy()
    expect(st.active).toBe(true)
    expect(st.dropped).toBeGreaterThan(0)
    // The socket's own buffer is bounded; what the kernel holds comes on top of it.
    expect(st.backlog).toBeLessThan(5 << 20)
  })

  it('refuses a request that is not data, changing nothing', async () => {
    const s = await service()
    const r = spawnSync(
      process.execPath,
      [
        '-e',
        `const c = require('net').createConnection(${JSON.stringify(join(tmpdir(), `recon-trace-${process.getuid!()}`, `${s.pid}.sock`))});
         c.setEncoding('utf8'); let got = ''
         c.on('connect', () => c.write(JSON.stringify({ v: ${PROTOCOL}, type: 'trace', specs: ['x:y'], limit: 1, options: { io: 'stdout' } }) + '\\n'))
         c.on('data', (d) => { got += d; if (got.includes('\\n')) { console.log(got.trim()); c.end() } })`,
      ],
      { encoding: 'utf8', timeout: 5000 },
    )
    const reply = JSON.parse(r.stdout)
    expect(reply.type).toBe('error')
    expect(reply.message).toContain('option "io" cannot be sent to an agent')
    expect((await status(s)).active).toBe(false)
  })

  it('refuses a client of another protocol version, saying which one it speaks, changing nothing', async () => {
    const s = await service()
    const { createConnection } = await import('node:net')
    const c = createConnection(join(tmpdir(), `recon-trace-${process.getuid!()}`, `${s.pid}.sock`))
    c.setEncoding('utf8')
    const reply = await new Promise<{ type: string; message: string }>((ok) => {
      let got = ''
      c.on('connect', () => c.write(JSON.stringify({ v: 1, type: 'trace', specs: [`${work}:greet`], limit: 1 }) + '\n'))
      c.on('data', (d: string) => {
        got += d
        if (got.includes('\n')) ok(JSON.parse(got.split('\n')[0]))
      })
    })
    c.end()
    expect(reply.type).toBe('error')
    expect(reply.message).toContain(`protocol version 1 is not supported: this agent speaks version ${PROTOCOL}`)
    expect((await status(s)).active).toBe(false)
  })
})

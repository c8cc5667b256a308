// An Express service (express from npm) started with plain `node`, with modules of its own,
// traced from the CLI in local scope: the binding installer reached through the inspector.
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { fork, type ChildProcess } from 'node:child_process'
import { connect } from 'node:net'
import { join, resolve } from 'node:path'
import { BINDING_ON } from './runtime.js'
import { startCli as startCliIn, undurated } from './helpers.js'

const root = resolve(import.meta.dirname, '..')
const users = './fixtures/binding/lib/users.cjs'
const render = './fixtures/binding/lib/render.mjs'
const children: ChildProcess[] = []

afterEach(() => {
  for (const c of children.splice(0)) c.kill('SIGKILL')
})

/** Whether something listens on the default inspector port (an attach opens it, and closes it again). */
function inspectorOpen(): Promise<boolean> {
  return new Promise((ok) => {
    const s = connect(9229, '127.0.0.1')
    s.once('connect', () => (s.destroy(), ok(true)))
    s.once('error', () => ok(false))
  })
}

beforeEach(async () => {
  for (let i = 0; i < 50 && (await inspectorOpen()); i++) await new Promise((ok) => setTimeout(ok, 100))
})

/** The app, started with plain node; resolves with it and its port. */
async function app(): Promise<{ s: ChildProcess; port: number }> {
  const s = fork(join(root, 'fixtures/binding/app.cjs'), [], {
    cwd: root,
    env: { ...process.env, NODE_OPTIONS: '', RECON_TRACE_LIVE_EDIT: '', ...BINDING_ON },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  })
  children.push(s)
  const port = await new Promise<number>((ok, fail) => {
    s.stdout!.once('data', (d) => ok((JSON.parse(String(d)) as { port: number }).port))
    s.once('exit', (c) => fail(new Error(`the app exited (${c})`)))
  })
  return { s, port }
}

/** Which of the app's bindings are not their originals, and whether a trace is active in it. */
function bindings(s: ChildProcess): Promise<{ changed: string[]; active: boolean }> {
  return new Promise((ok) => {
    s.once('message', (m) => ok(m as { changed: string[]; active: boolean }))
    s.send('bindings')
  })
}

/** Start the CLI; its output collected, `lines()` without timestamps, pids and durations. */
function startCli(args: string[]) {
  const c = startCliIn(root, args, children)
  const lines = () =>
    c
      .out()
      .split('\n')
      .filter(Boolean)
      .map((l) => undurated(l.replace(/^\d\d:\d\d:\d\d\.\d{6} <\d+\.(\d+)>/, '<$1>')))
  return { ...c, lines }
}

/** Wait until the CLI says the trace is installed (its report of which installer serves what). */
async function installed(c: ReturnType<typeof startCli>): Promise<void> {
  for (let i = 0; i < 400 && !c.err().includes(' through binding swaps (') && c.c.exitCode === null; i++) await new Promise((ok) => setTimeout(ok, 25))
}

async function get(port: number, path: string): Promise<string> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`)
  return r.text()
}

describe('an Express service started with plain node', () => {
  it('is traced in local scope: a route handler given by reference, an async function, an internal helper, a class method, an ES module; answers unchanged, every binding back', async () => {
    const { s, port } = await app()
    const expected = [await get(port, '/users/Ada0'), await get(port, '/render/x')]
    const c = startCli([
      String(s.pid),
      `${users}:getUser`,
      `${users}:loadUser -> return`,
      `${users}:normalize -> return`,
      `${users}:depth(n) when n === 0 -> return`,
      `${users}:Cache#get -> return`,
      `${render}:pad -> return`,
      `${render}:render -> return`,
      '-n',
      '24',
      '--scope',
      'local',
      '--args',
      'arity',
    ])
    await installed(c)
    const answers: string[] = []
    for (let i = 0; i < 40 && c.c.exitCode === null; i++) {
      answers.push(await get(port, `/users/Bob${i}`))
      answers.push(await get(port, '/render/x'))
    }
    expect(await c.exited).toBe(0)
    expect(answers.filter((a, i) => a !== (i % 2 === 0 ? JSON.stringify({ id: `bob${i / 2}`, depth: 3 }) : expected[1]))).toEqual([])
    const lines = c.lines()
    const msgs = lines.filter((l) => l.startsWith('<0>'))
    expect(msgs).toHaveLength(24)
    expect(lines.at(-1)).toBe('recon-trace: rate limit tripped after 24 messages; tracing stopped.')
    // Express holds the handler since before the trace: its entry breakpoint reports its calls
    // (req, res, next). So does the app's route, which took `render` from the module's namespace.
    expect(msgs).toContain('<0> users:getUser/3')
    expect(msgs.filter((l) => l.startsWith('<0> users:getUser/3 '))).toEqual([])
    expect(msgs).toContain('<0> render:render/1')
    expect(msgs).toContain("<0> users:loadUser/1 ~> { id: 'bob0', depth: 3 }")
    expect(msgs).toContain("<0> users:normalize/1 --> 'bob0'")
    expect(msgs).toContain('<0> users:Cache#get/1 --> undefined')
    // The recursive function's innermost call, picked by a guard.
    expect(msgs).toContain('<0> users:depth/1 --> 0')
    expect(msgs).toContain("<0> render:pad/1 --> '[x]'")
    expect(msgs.filter((l) => l.startsWith('<0> render:render/1 '))).toEqual([])
    expect(c.err()).toMatch(/users:normalize, .*users:loadUser.* through binding swaps/)
    await new Promise((ok) => setTimeout(ok, 100))
    expect(await bindings(s)).toEqual({ changed: [], active: false })
    // The app still answers as before.
    expect([await get(port, '/users/Ada0'), await get(port, '/render/x')]).toEqual(expected)
  }, 30_000)

  it('a CLI killed mid-trace (SIGKILL) ends the trace: every binding back, the breakpoints gone', async () => {
    const { s, port } = await app()
    const c = startCli([String(s.pid), `${users}:loadUser -> return`, `${users}:normalize`, '-n', '100000', '--scope', 'local'])
    await installed(c)
    for (let i = 0; i < 3; i++) await get(port, `/users/Kill${i}`)
    for (let i = 0; i < 100 && !c.lines().some((l) => l.includes('users:loadUser/1 ~>')); i++) await new Promise((ok) => setTimeout(ok, 20))
    const during = await bindings(s)
    expect(during.active).toBe(true)
    expect(during.changed).toEqual(expect.arrayContaining(['normalize', 'loadUser']))
    c.c.kill('SIGKILL')
    await c.exited
    let after = during
    for (let i = 0; i < 100 && after.active; i++) {
      await new Promise((ok) => setTimeout(ok, 20))
      after = await bindings(s)
    }
    expect(after).toEqual({ changed: [], active: false })
    expect(await get(port, '/users/After')).toBe(JSON.stringify({ id: 'after', depth: 3 }))
  }, 30_000)
})

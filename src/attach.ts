/**
 * Attach: start the agent in a process that was started without the preload, through the Node
 * inspector, as `node inspect -p <pid>` does.
 *
 * 1. `SIGUSR1` makes the process open its inspector on 127.0.0.1:9229 (loopback only; Node's
 *    default). If an inspector already answers there for that process, it is used and left open.
 * 2. Over the DevTools protocol (a WebSocket, with the `ws` package), `Runtime.evaluate` checks
 *    that the process on the port is the one asked for (its pid), then loads this installation's
 *    agent (`dist/cjs/agent.js`, by absolute path) into it and starts it: from then on the CLI
 *    talks to its socket as to a preloaded process's: runtime wrappers in global scope, and
 *    binding swaps with entry breakpoints (installers/binding.ts, in-process in the agent) for
 *    local scope and ES modules. The agent also starts its thread part in each worker thread,
 *    now and later (`reachWorkers`).
 * 3. If recon-trace opened the inspector, it closes it again (100 ms after it disconnects),
 *    leaving no port open, and the trace starts once it is closed. The agent stays, idle: an
 *    unref'd socket in the owner-only directory.
 *
 * What it costs and risks (see docs/live.md): while the inspector is open (a few hundred ms), any
 * local process that can reach 127.0.0.1:9229 could connect to it, as with any SIGUSR1; the
 * signal is refused by processes started with `--disable-sigusr1`; a process that already uses
 * SIGUSR1 for something else gets the signal.
 */
import { request } from 'node:http'
import { readlinkSync } from 'node:fs'
import WebSocket from 'ws'
import { commonJsFile } from './installation.js'

const HOST = '127.0.0.1'
const PORT = 9229

interface Target {
  webSocketDebuggerUrl?: string
}

function list(timeoutMs: number): Promise<Target[] | undefined> {
  return new Promise((resolve) => {
    const req = request({ host: HOST, port: PORT, path: '/json/list', timeout: timeoutMs }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (d: string) => (body += d))
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as Target[])
        } catch {
          resolve(undefined)
        }
      })
    })
    req.on('timeout', () => req.destroy())
    req.on('error', () => resolve(undefined))
    req.end()
  })
}

/** A minimal DevTools session: `call(method, params)` resolves with the result. */
function session(url: string): Promise<{ call: (method: string, params?: object) => Promise<Record<string, unknown>>; close: () => void }> {
  return new Promise((resolve, reject) => {
    // Bounded: an inspector that accepts and never answers (a process going away) must not hold
    // the CLI for ever.
    const ws = new WebSocket(url, { perMessageDeflate: false, handshakeTimeout: 3000 })
    let next = 1
    const waiting = new Map<number, (r: Record<string, unknown>) => void>()
    ws.on('close', () => {
      for (const done of waiting.values()) done({ error: 'the inspector closed the connection' })
      waiting.clear()
    })
    ws.on('message', (data) => {
      try {
        const m = JSON.parse(String(data)) as { id?: number; result?: Record<string, unknown>; error?: unknown }
        if (m.id !== undefined) waiting.get(m.id)?.(m.result ?? { error: m.error })
      } catch {
        /* not ours */
      }
    })
    ws.on('error', reject)
    ws.on('open', () =>
      resolve({
        call: (method, params = {}) =>
          new Promise((ok) => {
            const id = next++
            const timer = setTimeout(() => {
              waiting.delete(id)
              ok({ error: `${method}: no answer in 5 s` })
            }, 5000)
            waiting.set(id, (r) => {
              clearTimeout(timer)
              waiting.delete(id)
              ok(r)
            })
            ws.send(JSON.stringify({ id, method, params }))
          }),
        close: () => ws.close(),
      }),
    )
  })
}

async function evaluate(s: Awaited<ReturnType<typeof session>>, expression: string): Promise<unknown> {
  const r = (await s.call('Runtime.evaluate', { expression, returnByValue: true })) as {
    result?: { value?: unknown }
    exceptionDetails?: { exception?: { description?: string } }
  }
  if (r.exceptionDetails) throw new Error(r.exceptionDetails.exception?.description ?? 'the expression threw')
  return r.result?.value
}

/** The executable of a process (Linux: /proc/<pid>/exe), or undefined when it cannot be read. */
function executableOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/exe`)
  } catch {
    return undefined
  }
}

/**
 * Start the agent of `pid` through its inspector. Resolves with undefined when the agent is up,
 * or with a message that says what went wrong and what to do.
 */
export async function attach(pid: number): Promise<string | undefined> {
  // SIGUSR1 kills a process that does not handle it: only a Node.js process is ever signalled.
  const exe = executableOf(pid)
  if (exe === undefined)
    return `cannot tell whether process ${pid} is Node.js (no /proc here): start it with the preload (node --import recon-trace/register ...)`
  if (!/(^|[\\/])(node|nodejs)(\d+)?(\.exe)?$/.test(exe)) return `process ${pid} does not look like Node.js (its executable is ${exe}): it was not signalled`
  const before = await list(300)
  let opened = false
  if (before === undefined) {
    try {
      process.kill(pid, 'SIGUSR1')
    } catch (err) {
      return `cannot signal process ${pid} (${(err as { code?: string }).code}): run recon-trace as its user`
    }
    opened = true
  }
  let targets: Target[] | undefined
  for (let i = 0; i < 40 && (targets === undefined || targets.length === 0); i++) {
    targets = await list(300)
    if (targets === undefined || targets.length === 0) await new Promise((r) => setTimeout(r, 50))
  }
  if (!targets || targets.length === 0) {
    return (
      `process ${pid} has no agent and did not open its inspector on ${HOST}:${PORT} after SIGUSR1 (started with --disable-sigusr1, ` +
      `or the port is taken?): start it with the preload (node --import recon-trace/register ...)`
    )
  }
  for (const t of targets) {
    const url = t.webSocketDebuggerUrl
    if (!url || !url.startsWith(`ws://${HOST}:${PORT}/`)) continue
    let s: Awaited<ReturnType<typeof session>>
    try {
      s = await session(url)
    } catch {
      continue
    }
    try {
      if ((await evaluate(s, 'process.pid')) !== pid) continue
      const file = JSON.stringify(commonJsFile('agent.js'))
      const started = await evaluate(
        s,
        `(() => { const m = typeof process.getBuiltinModule === 'function' ? process.getBuiltinModule('node:module') : process.mainModule.constructor; ` +
          `const a = m.createRequire(${file})(${file}); const r = a.startAgent() ?? null; if (r !== null) a.reachWorkers(${file}); return r })()`,
      )
      if (opened)
        await evaluate(
          s,
          `void setTimeout(() => (typeof process.getBuiltinModule === 'function' ? process.getBuiltinModule('node:inspector') ` +
            `: process.mainModule.require('node:inspector')).close(), 100).unref()`,
        )
      if (typeof started !== 'string')
        return `the agent did not start in process ${pid} (its socket directory is not safe?): start the process with the preload instead`
    } catch (err) {
      return `attaching to process ${pid} through its inspector failed: ${err instanceof Error ? err.message : String(err)}`
    } finally {
      s.close()
    }
    // The trace starts once the inspector recon-trace opened is closed again: while it is open, a
    // debugger could be attached there, and the binding installer takes no pause (a const binding
    // would keep its breakpoint only; installers/binding.ts).
    if (opened) for (let i = 0; i < 60 && (await list(300)) !== undefined; i++) await new Promise((r) => setTimeout(r, 50))
    return undefined
  }
  return `the inspector on ${HOST}:${PORT} belongs to another process, not ${pid}: close it there, or start ${pid} with the preload`
}

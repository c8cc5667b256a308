/**
 * Protocol: what the `recon-trace` CLI and an agent say to each other, and where they meet.
 *
 * Transport: a Unix socket per process, `<os.tmpdir()>/recon-trace-<uid>/<pid>.sock`, in a
 * directory only its owner can enter (0700, checked), the socket itself 0600. Messages are JSON,
 * one per line, both ways, each with the protocol's version `v`.
 *
 * Requests (client to agent), declarative only: specs as strings, tuples or plain objects, never
 * functions or code; options that are data (`WIRE_OPTIONS`, options.ts).
 *
 *     {"v":3,"type":"trace","specs":["./lib/db.js:find/1"],"limit":10,"options":{"time":60000},"client":4300}
 *     {"v":3,"type":"stop"}
 *     {"v":3,"type":"status"}
 *
 * Replies (agent to client), typed, so that no side reads meaning from English text:
 *
 *     {"v":3,"type":"started","hooked":1,"pid":4242,"installers":[...]}   the trace runs in the main thread
 *     {"v":3,"type":"thread","threadId":3,"hooked":1,"installers":[...]}  and in a worker thread
 *
 * `installers` says which way of hooking serves which functions, and why (InstallerReport,
 * installers/installer.ts); the CLI prints it on stderr.
 *     {"v":3,"type":"line","line":"13:16:02.118337 <4242.0> db:find(42)"}   a trace message
 *     {"v":3,"type":"notice","line":"recon-trace: ..."}    a diagnostic line, not a message
 *     {"v":3,"type":"stats","line":"{\"type\":\"stats\",\"final\":false,\"pid\":4242,\"thread\":0,\"functions\":[...]}"}
 *                                                         stats mode: a thread's counters (stats.ts), once
 *                                                         a second and at its end (`final`); the CLI merges them
 *     {"v":3,"type":"trip","reason":"rate limit tripped after 10 messages"}
 *     {"v":3,"type":"end","reason":"rate limit tripped after 10 messages"}  the session is over
 *     {"v":3,"type":"error","message":"...","code":"busy","holder":4300}
 *
 * A `line` or `notice` arrives rendered (text, or JSON Lines when the trace asked for `json`):
 * redaction and every bound apply in the traced process. A `trip` carries the reason only; the
 * client renders it with `tripLine` (lines.ts), as the in-process trace does. Version 1 agents
 * (which sent trips and notices as plain `line`s) and version 2 agents (no stats mode) are
 * refused with the version check.
 */
import { lstatSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Socket } from 'node:net'
import type { InstallerReport } from './installers/installer.js'

export const PROTOCOL = 3

/** A request, as sent; the agent checks every field (agent.ts, checkRequest). */
export interface Request {
  v?: unknown
  type?: unknown
  specs?: unknown
  limit?: unknown
  options?: unknown
  replace?: unknown
  client?: unknown
}

/** What a thread's trace writes, by kind: a trace message, a diagnostic notice, its end, a stats report. */
export type LineKind = 'line' | 'notice' | 'end' | 'stats'

/** A reply, as received. */
export type Reply =
  | { type: 'started'; hooked: number; pid: number; installers: InstallerReport[] }
  | { type: 'thread'; threadId: number; hooked: number; installers: InstallerReport[] }
  | { type: 'line'; line: string }
  | { type: 'notice'; line: string }
  | { type: 'stats'; line: string }
  | { type: 'trip'; reason: string }
  | { type: 'end'; reason: string }
  | { type: 'error'; message: string; code?: string; holder?: number }
  | { type: 'status'; pid: number; active: boolean; holder?: number; backlog: number; dropped: number; argv: string[] }

/** Write one protocol message: a JSON line with the protocol's version. */
export function sendMessage(socket: Socket, msg: Reply | (Request & { type: string })): void {
  if (!socket.destroyed) socket.write(`${JSON.stringify({ v: PROTOCOL, ...msg })}\n`)
}

/**
 * Read a socket's messages: `onLine` for each non-empty line. `onOverflow` when a line grows
 * past `max` characters without its end (then nothing more is read).
 */
export function readLines(socket: Socket, onLine: (text: string) => void, max = Infinity, onOverflow?: () => void): void {
  socket.setEncoding('utf8')
  let buffered = ''
  socket.on('data', (chunk: string) => {
    buffered += chunk
    let nl: number
    while ((nl = buffered.indexOf('\n')) !== -1) {
      const text = buffered.slice(0, nl)
      buffered = buffered.slice(nl + 1)
      if (text.trim() !== '') onLine(text)
      if (socket.destroyed) return
    }
    if (buffered.length > max) {
      buffered = ''
      onOverflow?.()
    }
  })
}

/** The directory of the agents of this user, and the socket of a process. */
export function socketDir(): string {
  const uid = typeof process.getuid === 'function' ? process.getuid() : 'user'
  return join(tmpdir(), `recon-trace-${uid}`)
}
export function socketPath(pid: number): string {
  return join(socketDir(), `${pid}.sock`)
}

/** The socket directory, made if needed and checked: this user's, closed to others (0700); undefined if not. */
export function ensureSocketDir(): string | undefined {
  const dir = socketDir()
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    const st = lstatSync(dir)
    const uid = typeof process.getuid === 'function' ? process.getuid() : st.uid
    return st.isDirectory() && st.uid === uid && (st.mode & 0o077) === 0 ? dir : undefined
  } catch {
    return undefined
  }
}

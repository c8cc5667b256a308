/**
 * CLI: `recon-trace <pid> <spec>... [options]`, a trace of a live process from its shell.
 *
 * It connects to the agent of a process started with the preload (`node --import
 * recon-trace/register`, see agent.ts), sends the specs, prints each line on stdout as the agent
 * streams it, and exits when the trace ends: a limit tripped, the time ran out, or Ctrl-C. If
 * the CLI dies, the agent clears the trace at once. Without a limit it uses `-n 10` and 60 s,
 * and says so. Exit codes: 0 when the trace ended (limit, time, Ctrl-C), 1 for an error (no
 * such process, permission, no agent, a bad spec), 2 for a usage error; every error says what
 * to do.
 */
import { createConnection, createServer, type Socket } from 'node:net'
import { spawn } from 'node:child_process'
import { chmodSync, existsSync, readdirSync, readFileSync, unlinkSync } from 'node:fs'
import { Limiter } from './limit.js'
import { join } from 'node:path'
import { ensureSocketDir, readLines, sendMessage, socketDir, socketPath, PROTOCOL, type Reply } from './protocol.js'
import { PREFIX, explainLine, tripLine } from './lines.js'
import type { InstallerReport } from './installers/installer.js'
import { commonJsFile } from './installation.js'

export const USAGE = `Usage: recon-trace <pid>[,<pid>...] <spec>... [options]
       recon-trace --children <pid> <spec>... [options]
       recon-trace --run "node app.js" <spec>... [options]
       recon-trace list

Trace calls in a running Node.js process: one started with the preload
(node --import recon-trace/register app.js), or any other, reached through its inspector
(SIGUSR1). Each matching call prints one line; tracing stops by itself when the limit trips,
the time runs out or the overhead budget is spent, and when recon-trace exits.

Specs: module:function[/arity | (patterns)] [when guard] [-> return, stack]
       (a path module is relative to the traced process's working directory)
Options:
  -n N              stop after N messages (default 10 when no limit is given)
  --rate N/ms       stop when more than N messages come within ms milliseconds
  --time 30s        stop after this long (ms, s or m; default 60s when no limit is given)
  --scope local     every call, internal ones too (default: global)
  --budget 5        the share of one core, in percent, that breakpoints may cost the
                    program before the trace stops (default 5)
  --pid SPEC        threads: all, new, existing, <4242.3>, a threadId or worker name
  --args arity      print queue:in/2 instead of the arguments
  --timestamp trace stamp each message on the call itself
  --json            JSON Lines
  --stats           no line per call: count calls, errors and durations per function, and
                    print a table with percentiles and histograms when the trace ends (on a
                    terminal it refreshes every second); the limit counts calls (default
                    1000000 calls or 60 s when no limit is given)
  --by NAME         with --stats: a row per value of the argument the pattern binds to NAME
                    ('db:findUser(id)' --by id)
  --color, --no-color
  --depth N         levels of nesting printed (default 4)
  --width N         characters per line (default 4096)
  --replace         take over the session another recon-trace holds
  --children        the process and its children that have the agent (a cluster); one
                    limit for all of them, as for a list of pids
  --run "command"   start the program with the preload and trace it from its first line

Examples (Erlang in Anger, ch. 9):
  recon-trace 4242 './lib/queue.js:_' -n 10                  every call of the module's functions
  recon-trace 4242 './lib/queue.js:in/2 -> return' -n 3      calls of in/2 and what they return
  recon-trace 4242 './lib/queue.js:in(x, _) when x > 1' -n 5 calls whose first argument is > 1
  recon-trace 4242 'pg:Client#query' --rate 50/1000          at most 50 messages a second
  recon-trace 4242 './src/db.js:findUser(id)' --stats --by id --time 30s
                                                             which ids are slow, for 30 s
`

export interface Parsed {
  /** The first pid (with --children, the parent). */
  pid: number
  pids: number[]
  children: boolean
  /** `--run "command"`: start this program with the preload and trace it from its first line. */
  run?: string
  specs: string[]
  limit: number | [number, number]
  options: Record<string, unknown>
  replace: boolean
  defaulted: boolean
}

export class UsageError extends Error {}

/** What stats mode needs in the CLI, loaded only for it: the reports merged (report.ts) and drawn (table.ts). */
type StatsView = typeof import('./report.js') & typeof import('./table.js')

async function statsView(): Promise<StatsView> {
  const [report, table] = await Promise.all([import('./report.js'), import('./table.js')])
  return { ...report, ...table }
}

/** The limit of a stats trace given none: a flood still trips it. */
const STATS_DEFAULT_LIMIT = 1_000_000

function parseDuration(v: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(v)
  if (!m) return undefined
  const n = Number(m[1])
  return Math.round(m[2] === 'm' ? n * 60_000 : m[2] === 's' ? n * 1000 : m[2] === 'ms' ? n : n * 1000)
}

/** Parse the command line (without node and the script). Throws `UsageError`. */
export function parseArgs(argv: readonly string[]): Parsed {
  const positional: string[] = []
  const options: Record<string, unknown> = {}
  const format: Record<string, number> = {}
  let limit: number | [number, number] | undefined
  let replace = false
  let children = false
  let run: string | undefined
  const value = (i: number, flag: string) => {
    const v = argv[i + 1]
    if (v === undefined) throw new UsageError(`${flag} needs a value`)
    return v
  }
  const int = (v: string, flag: string) => {
    if (!/^\d+$/.test(v) || Number(v) < 1) throw new UsageError(`${flag}: ${v} is not a positive integer`)
    return Number(v)
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    switch (a) {
      case '-n':
        limit = int(value(i++, a), a)
        break
      case '--rate': {
        const m = /^(\d+)\/(\d+)$/.exec(value(i++, a))
        if (!m) throw new UsageError(`--rate takes N/ms, such as 50/1000, not ${argv[i]}`)
        limit = [Number(m[1]), Number(m[2])]
        break
      }
      case '--time': {
        const ms = parseDuration(value(i++, a))
        if (ms === undefined || ms < 1) throw new UsageError(`--time takes a duration such as 30s, 500ms or 2m, not ${argv[i]}`)
        options.time = ms
        break
      }
      case '--scope':
        options.scope = value(i++, a)
        break
      case '--budget': {
        const v = value(i++, a)
        const pct = Number(v.endsWith('%') ? v.slice(0, -1) : v)
        if (!/^\d+(\.\d+)?%?$/.test(v) || !(pct > 0 && pct <= 100))
          throw new UsageError(`--budget takes a percentage of one core above 0 and up to 100, such as 5, not ${v}`)
        options.budget = pct
        break
      }
      case '--pid':
        options.pid = value(i++, a)
          .split(',')
          .map((p) => (/^\d+$/.test(p) ? Number(p) : p))
        break
      case '--args':
        options.args = value(i++, a)
        break
      case '--timestamp':
        options.timestamp = value(i++, a)
        break
      case '--json':
        options.json = true
        break
      case '--stats':
        options.stats = true
        break
      case '--by':
        options.by = value(i++, a)
        break
      case '--color':
        options.color = true
        break
      case '--no-color':
        options.color = false
        break
      case '--depth':
        format.depth = int(value(i++, a), a)
        break
      case '--width':
        format.line = int(value(i++, a), a)
        break
      case '--replace':
        replace = true
        break
      case '--children':
        children = true
        break
      case '--run':
        run = value(i++, a)
        break
      default:
        if (a.startsWith('-')) throw new UsageError(`unknown option ${a}`)
        positional.push(a)
    }
  }
  if (Object.keys(format).length > 0) options.format = format
  if (options.by !== undefined && options.stats !== true) throw new UsageError('--by groups the rows of --stats: give --stats too')
  // Without a limit: 10 messages, or in stats mode (where the limit counts calls) a million calls; and 60 s.
  const defaultLimit = options.stats === true ? STATS_DEFAULT_LIMIT : 10
  if (run !== undefined) {
    if (positional.length < 1) throw new UsageError('give at least one spec after --run "command"')
    if (children) throw new UsageError('--run starts one program: --children does not apply')
    let defaultedRun = false
    if (limit === undefined) {
      limit = defaultLimit
      if (options.time === undefined) options.time = 60_000
      defaultedRun = true
    }
    return { pid: 0, pids: [], children: false, run, specs: positional, limit, options, replace, defaulted: defaultedRun }
  }
  if (positional.length < 2) throw new UsageError('give a pid and at least one spec')
  const pidText = positional[0]
  if (!/^\d+(,\d+)*$/.test(pidText)) throw new UsageError(`${pidText} is not a pid or a list of pids (4242,4243)`)
  const pids = [...new Set(pidText.split(',').map(Number))]
  if (children && pids.length > 1) throw new UsageError('--children takes one parent pid')
  let defaulted = false
  if (limit === undefined) {
    limit = defaultLimit
    if (options.time === undefined) options.time = 60_000
    defaulted = true
  }
  return { pid: pids[0], pids, children, specs: positional.slice(1), limit, options, replace, defaulted }
}

/** Why there is no agent to talk to, as a message that says what to do. */
function noAgent(pid: number, code: string | undefined): string {
  try {
    process.kill(pid, 0)
  } catch (err) {
    const c = (err as { code?: string }).code
    if (c === 'ESRCH') return `no process ${pid} on this machine: check the pid (ps, pgrep node)`
    if (c === 'EPERM') return `process ${pid} belongs to another user: run recon-trace as that user, or as root`
  }
  if (code === 'EACCES') return `permission denied on the agent socket of process ${pid}: run recon-trace as the user that runs it`
  return (
    `process ${pid} has no recon-trace agent (no socket at ${socketPath(pid)}): ` +
    `start it with the preload (node --import recon-trace/register ..., or NODE_OPTIONS='--import recon-trace/register')`
  )
}

/**
 * The status line of a trace on a terminal (stderr): what is hooked, how many messages so far
 * against the limit, the time left. Redrawn in place; erased before each traced line is
 * printed and when tracing ends. None when stderr is not a terminal.
 */
export class StatusLine {
  hooked = 0
  messages = 0
  /** Threads with something hooked, all processes together. */
  threads = 0
  private shown = false
  private readonly startedAt = Date.now()
  /** Functions per installer, as the traces reported them: `binding swaps 3, entry breakpoints 1`. */
  private readonly byInstaller = new Map<string, number>()
  served(installer: string, functions: number): void {
    this.byInstaller.set(installer, (this.byInstaller.get(installer) ?? 0) + functions)
  }
  constructor(
    private readonly err: NodeJS.WritableStream,
    private readonly limit: number | [number, number],
    private readonly time: number | undefined,
    private readonly pid: number | string,
    /** What the limit counts: messages, or calls in stats mode (then `messages` holds the calls reported). */
    private readonly unit: 'messages' | 'calls' = 'messages',
  ) {}

  text(now = Date.now()): string {
    const u = this.unit
    const lim =
      typeof this.limit === 'number' ? `${this.messages}/${this.limit} ${u}` : `${this.messages} ${u} (at most ${this.limit[0]} per ${this.limit[1]} ms)`
    const left = this.time === undefined ? '' : `, ${Math.max(0, Math.ceil((this.time - (now - this.startedAt)) / 1000))} s left`
    const threads = this.threads > 1 ? ` in ${this.threads} threads` : ''
    const by = this.byInstaller.size > 0 ? ` (${[...this.byInstaller].map(([name, n]) => `${name} ${n}`).join(', ')})` : ''
    return (
      `recon-trace: ${String(this.pid).includes(',') ? 'processes' : 'process'} ${this.pid}, ` +
      `${this.hooked} function${this.hooked === 1 ? '' : 's'} hooked${threads}${by}, ${lim}${left}; Ctrl-C to stop`
    )
  }
  draw(): void {
    this.err.write(`\r\x1b[K${this.text()}`)
    this.shown = true
  }
  erase(): void {
    if (!this.shown) return
    this.err.write('\r\x1b[K')
    this.shown = false
  }
}

interface Status {
  pid: number
  active: boolean
  holder?: number
  argv?: string[]
}

/** Ask one agent for its status; undefined if it does not answer within `ms`. */
function askStatus(pid: number, ms = 1000): Promise<Status | undefined> {
  return new Promise((resolve) => {
    const socket = createConnection(socketPath(pid))
    const done = (s: Status | undefined) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(s)
    }
    const timer = setTimeout(() => done(undefined), ms)
    socket.on('connect', () => sendMessage(socket, { type: 'status' }))
    readLines(socket, (text) => {
      try {
        done(JSON.parse(text) as Status)
      } catch {
        done(undefined)
      }
    })
    socket.on('error', () => done(undefined))
  })
}

/** `recon-trace list`: the processes of this user that have the agent. */
async function list(out: NodeJS.WritableStream): Promise<number> {
  let names: string[] = []
  try {
    names = readdirSync(socketDir()).filter((n) => /^\d+\.sock$/.test(n))
  } catch {
    /* no agent ever ran for this user */
  }
  const rows: string[] = []
  for (const n of names) {
    const pid = Number(n.slice(0, -5))
    const s = await askStatus(pid)
    if (!s) continue // a socket left by a process that died
    const cmd = (s.argv ?? []).join(' ')
    // On a terminal, one row per process, cut to the width; in a pipe, the whole command line.
    const width = (out as { isTTY?: boolean; columns?: number }).isTTY ? Math.max(20, ((out as { columns?: number }).columns ?? 100) - 29) : Infinity
    rows.push(
      `${String(pid).padStart(7)}  ${(s.active ? `traced by ${s.holder}` : 'idle').padEnd(18)}  ${cmd.length > width ? `${cmd.slice(0, width - 3)}...` : cmd}`,
    )
  }
  if (rows.length === 0) {
    out.write(
      `no Node.js process of this user has the recon-trace agent (${join(socketDir(), '<pid>.sock')}); start one with node --import recon-trace/register\n`,
    )
    return 0
  }
  out.write(`${'PID'.padStart(7)}  ${'SESSION'.padEnd(18)}  COMMAND\n${rows.join('\n')}\n`)
  return 0
}

/** The child processes of `pid` (Linux: /proc), for `--children`. */
export function childrenOf(pid: number): number[] {
  const kids: number[] = []
  try {
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      try {
        for (const c of readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim().split(/\s+/)) if (c) kids.push(Number(c))
      } catch {
        /* a task that ended */
      }
    }
  } catch {
    /* not Linux, or the process is gone */
  }
  return kids
}

/**
 * Trace one or several processes. With one, its agent's limit is the trace's limit. With
 * several, each agent gets the same limit (so no agent ever sends more than the whole trace may
 * print), and the CLI holds the one global limit: it counts the messages of all of them, prints
 * exactly the limit's worth, then stops every agent and prints the trip line itself.
 */
function trace(p: Parsed, initial: number[], out: NodeJS.WritableStream, err: NodeJS.WritableStream, given?: Socket, view?: StatsView): Promise<number> {
  const pids = [...initial]
  const multi = pids.length > 1 || p.children
  const limiter = new Limiter(p.limit)
  const tty = (err as { isTTY?: boolean }).isTTY === true
  const status = tty
    ? new StatusLine(err, p.limit, p.options.time as number | undefined, pids.length === 1 ? pids[0] : pids.join(','), view ? 'calls' : 'messages')
    : undefined
  // Stats mode: the latest counters of each thread and process, shown in place on a terminal, printed at the end.
  const latest = view ? new view.LatestReports() : undefined
  const json = p.options.json === true
  const inPlace = view !== undefined && !json && (out as { isTTY?: boolean }).isTTY === true
  let shown = 0
  let reported = false
  // Stats mode with several processes: each ends by its own limit or time; why, after the table.
  const ends = new Map<number, string>()
  const showStats = (final: boolean) => {
    if (!view || !latest || reported) return
    if (final) reported = true
    const report = latest.report()
    const text = json ? (final ? view.reportJSON(report) : '') : view.reportLines(report).join('\n')
    if (text === '') return
    status?.erase()
    out.write(`${shown > 0 ? `\x1b[${shown}F\x1b[J` : ''}${text}\n`)
    shown = final ? 0 : text.split('\n').length
    if (status) status.messages = report.calls
    status?.draw()
  }
  let ticker: NodeJS.Timeout | undefined
  return new Promise((resolve) => {
    let code: number | undefined
    const sockets = new Map<number, Socket>()
    const started = new Set<number>()
    const ended = new Set<number>()
    const finish = (c: number) => {
      if (code !== undefined) return
      if (c === 0) {
        showStats(true)
        for (const [pid, reason] of ends) print(tripLine(`process ${pid}: ${reason}`, p.options.json === true))
      }
      code = c
      if (ticker) clearInterval(ticker)
      status?.erase()
      process.removeListener('SIGINT', onSigint)
      for (const s of sockets.values()) s.end()
      resolve(c)
    }
    const stopAll = () => {
      for (const [pid, s] of sockets) if (started.has(pid) && !ended.has(pid)) sendMessage(s, { type: 'stop' })
    }
    const onSigint = () => {
      // Ctrl-C: the agents clear and say so; leave anyway after a second.
      stopAll()
      setTimeout(() => finish(0), 1000).unref()
      if (started.size === 0) finish(0)
    }
    process.on('SIGINT', onSigint)
    const print = (line: string) => {
      status?.erase()
      out.write(`${line}\n`)
      shown = 0
      status?.draw()
    }
    // Which way of hooking serves which functions, once per process and text: on stderr, or with
    // --json as objects in the stream, `{"type":"installer","pid":..,"installer":"binding",...}`.
    const explained = new Set<string>()
    const explain = (pid: number, reports: readonly InstallerReport[] | undefined) => {
      for (const r of reports ?? []) {
        const line = `${PREFIX}${multi ? `process ${pid}: ` : ''}${explainLine(r)}`
        if (explained.has(line)) continue
        explained.add(line)
        status?.served(r.name, r.functions.length)
        if (p.options.json === true) {
          print(JSON.stringify({ type: 'installer', pid, installer: r.installer, name: r.name, functions: r.functions, why: r.why }))
          continue
        }
        status?.erase()
        err.write(`${line}\n`)
        status?.draw()
      }
    }
    const onReply = (pid: number, msg: Reply) => {
      if (msg.type === 'notice') print(msg.line)
      else if (msg.type === 'stats') {
        if (latest?.add(msg.line) && inPlace) showStats(false)
        else if (status && latest) {
          status.messages = latest.report().calls
          status.draw()
        }
      } else if (msg.type === 'trip') {
        // With several processes the global limit is the CLI's, which says it once.
        if (!multi) {
          showStats(true)
          print(tripLine(msg.reason, p.options.json === true))
        } else if (view) ends.set(pid, msg.reason)
      } else if (msg.type === 'line') {
        if (multi) {
          if (limiter.tripped) return // in flight when the global limit tripped: not printed
          limiter.take()
        }
        if (status) status.messages++
        print(msg.line)
        if (multi && limiter.tripped) {
          print(tripLine(`${limiter.why()} across ${pids.length} processes`, p.options.json === true))
          stopAll()
          setTimeout(() => finish(0), 1000).unref()
        }
      } else if (msg.type === 'thread') {
        explain(pid, msg.installers)
        if (status) {
          status.hooked += msg.hooked ?? 0
          status.threads++
          status.draw()
        }
      } else if (msg.type === 'started') {
        started.add(pid)
        explain(pid, msg.installers)
        if (status) {
          if ((msg.hooked ?? 0) > 0) status.threads++
          status.hooked += msg.hooked ?? 0
          status.draw()
          ticker ??= setInterval(() => status.draw(), 500)
          ticker.unref()
        }
      } else if (msg.type === 'error') {
        err.write(`${String(msg.message).startsWith(PREFIX) ? '' : PREFIX}${multi ? `process ${pid}: ` : ''}${msg.message}\n`)
        stopAll()
        finish(1)
      } else if (msg.type === 'end') {
        ended.add(pid)
        if (msg.reason && msg.reason.startsWith('replaced')) err.write(`recon-trace: ${multi ? `process ${pid}: ` : ''}${msg.reason}\n`)
        if (ended.size === pids.length) finish(0)
      }
    }
    const connected = new Set<number>()
    const join = (pid: number, late: boolean) => {
      // With --run, the program connected to us and its agent already has the request.
      const socket = given ?? createConnection(socketPath(pid))
      sockets.set(pid, socket)
      if (!given) {
        socket.on('connect', () => {
          connected.add(pid)
          // A process that joins late is new as a whole: its threads, the main one too, are 'new'.
          const options =
            late && Array.isArray(p.options.pid) ? { ...p.options, pid: (p.options.pid as unknown[]).map((x) => (x === 'new' ? 'all' : x)) } : p.options
          sendMessage(socket, { type: 'trace', specs: p.specs, limit: p.limit, options, replace: p.replace, client: process.pid })
        })
      }
      readLines(socket, (text) => {
        try {
          onReply(pid, JSON.parse(text) as Reply)
        } catch {
          /* not a reply of ours */
        }
      })
      socket.on('error', (e: NodeJS.ErrnoException) => {
        if (code !== undefined) return
        if (late && !connected.has(pid) && (e.code === 'ECONNREFUSED' || e.code === 'ENOENT')) {
          // A child that starts later: the socket file seen was a stale one of an earlier process
          // of the same pid, or the child's agent is not listening yet. The next poll tries again.
          sockets.delete(pid)
          pids.splice(pids.indexOf(pid), 1)
          return
        }
        err.write(`recon-trace: ${noAgent(pid, e.code)}\n`)
        stopAll()
        finish(1)
      })
      socket.on('close', () => {
        if (late && !connected.has(pid)) return // refused: see 'error'
        if (code === undefined && !ended.has(pid)) {
          if (given) {
            // --run: the program ended before the trace did.
            status?.erase()
            err.write('recon-trace: the program ended; tracing stopped.\n')
            finish(0)
            return
          }
          err.write(`recon-trace: process ${pid} closed the connection (it exited?)\n`)
          stopAll()
          finish(1)
        }
      })
    }
    for (const pid of pids) join(pid, false)
    // --children with 'new' in the pid spec: children that start later join the trace.
    if (p.children && Array.isArray(p.options.pid) && (p.options.pid as unknown[]).includes('new')) {
      const poll = setInterval(() => {
        if (code !== undefined) return clearInterval(poll)
        for (const c of childrenOf(p.pid)) {
          if (sockets.has(c) || !existsSync(socketPath(c))) continue
          pids.push(c)
          join(c, true)
        }
      }, 250)
      poll.unref()
    }
  })
}

/**
 * `--run "command"`: start the program with the preload, the trace handed over in its
 * environment so that it starts before the program's first line, and its lines coming back to
 * a socket of ours. The program's own output goes to this terminal. Ends when the trace ends
 * (the program goes on) or the program exits; Ctrl-C stops the trace.
 */
async function runProgram(p: Parsed, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const dir = ensureSocketDir()
  if (dir === undefined) {
    err.write(`recon-trace: ${socketDir()} is not a directory of this user closed to others (mode 0700): remove it and try again\n`)
    return 1
  }
  const path = join(dir, `run-${process.pid}.sock`)
  try {
    unlinkSync(path)
  } catch {
    /* none */
  }
  const server = createServer()
  server.listen({ path, exclusive: true })
  chmodSync(path, 0o600)
  const request = { v: PROTOCOL, type: 'trace', specs: p.specs, limit: p.limit, options: p.options, client: process.pid }
  const child = spawn(p.run!, {
    shell: true,
    stdio: 'inherit',
    env: {
      ...process.env,
      // The CommonJS preload: it starts the trace before the program's first line (agent.ts).
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${JSON.stringify(commonJsFile('preload.js'))}`.trim(),
      RECON_TRACE_RUN: JSON.stringify(request),
      RECON_TRACE_RUN_SOCKET: path,
    },
  })
  const exited = new Promise<number>((ok) => child.on('exit', (c) => ok(c ?? 1)))
  const socket = await Promise.race([new Promise<Socket>((ok) => server.once('connection', ok)), exited.then(() => undefined)])
  server.close()
  try {
    unlinkSync(path)
  } catch {
    /* gone */
  }
  if (socket === undefined) {
    err.write(`recon-trace: the program exited before its agent started (is it a Node.js program? the preload is given to it through NODE_OPTIONS)\n`)
    return 1
  }
  const code = await trace(p, [child.pid ?? 0], out, err, socket, p.options.stats === true ? await statsView() : undefined)
  return code
}

/**
 * The pids to trace: those given, or with --children the parent and its children whose agent
 * answers (a child's socket file may be a stale one of an earlier process of the same pid).
 */
async function withAgents(p: Parsed): Promise<number[]> {
  if (!p.children) return [...p.pids]
  const kids: number[] = []
  for (const c of childrenOf(p.pid)) if (await agentAnswers(c)) kids.push(c)
  return [p.pid, ...kids]
}

/** Whether the agent of `pid` answers on its socket. */
async function agentAnswers(pid: number): Promise<boolean> {
  const path = socketPath(pid)
  return existsSync(path) && (await answers(path))
}

/** Whether `pid` is a live process this user may signal (another user's: false, as a dead one). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/**
 * Whether an agent listens on `path`. A process killed outright (SIGKILL) leaves its socket file
 * behind, and a later process can get the same pid: such a socket refuses connections, and its
 * process is attached like one without an agent (its own agent replaces the file).
 */
function answers(path: string): Promise<boolean> {
  return new Promise((ok) => {
    const c = createConnection(path)
    c.once('connect', () => {
      c.destroy()
      ok(true)
    })
    c.once('error', () => ok(false))
  })
}

/** The preload named on a command line or in NODE_OPTIONS: the package's entry, or its file. */
const PRELOAD_ARG = /(?:^|[\s=])(?:recon-trace\/register|\S*[\\/]dist[\\/](?:cjs|esm)[\\/]preload\.js)(?=\s|$)/

/**
 * Whether `pid` was started with the preload: on its command line, or in the NODE_OPTIONS it
 * started with (Linux's /proc; false elsewhere, or for another user's process).
 */
function startedWithPreload(pid: number): boolean {
  try {
    if (PRELOAD_ARG.test(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' '))) return true
    for (const v of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) if (v.startsWith('NODE_OPTIONS=') && PRELOAD_ARG.test(v.slice(13))) return true
  } catch {
    /* not Linux, gone, or not ours */
  }
  return false
}

/** How long the CLI waits for the agent of a preloaded process still in its first turn. */
const AGENT_WAIT_MS = 10_000

/**
 * A preloaded process opens its agent's socket at its program's first turn of the event loop
 * (startup.ts): one that loads for seconds, or was just started, has none yet (or a stale file
 * of an earlier process of its pid). Wait for it to answer rather than open the inspector of a
 * process that has the agent coming; say so if it takes long. `late`: it did not answer in time
 * (a first turn that never ends), said on `err`.
 */
async function agentComes(pid: number, err: NodeJS.WritableStream): Promise<'up' | 'gone' | 'late'> {
  const start = Date.now()
  for (let said = false; ; await new Promise((ok) => setTimeout(ok, 25))) {
    if (await agentAnswers(pid)) return 'up'
    if (!alive(pid)) return 'gone'
    const waited = Date.now() - start
    if (waited >= AGENT_WAIT_MS) {
      err.write(`recon-trace: process ${pid}'s agent did not start within ${AGENT_WAIT_MS / 1000} s\n`)
      return 'late'
    }
    if (!said && waited >= 500) {
      said = true
      err.write(`recon-trace: process ${pid} was started with the preload; waiting for its agent, which starts when its program first turns the event loop\n`)
    }
  }
}

/**
 * A process of ours that runs without the agent: start it through the inspector (attach.ts).
 * Dead pids and other users' processes are left to the connection's error, which says so. A
 * process started with the preload is given its agent's start first.
 */
async function attachWhereNeeded(pids: readonly number[], err: NodeJS.WritableStream): Promise<boolean> {
  for (const pid of pids) {
    if ((await agentAnswers(pid)) || !alive(pid)) continue
    if (startedWithPreload(pid) && (await agentComes(pid, err)) !== 'late') continue
    err.write(`recon-trace: process ${pid} has no agent: attaching through its inspector (SIGUSR1, 127.0.0.1:9229, closed again after)\n`)
    // Loaded only here: the WebSocket client and the loader code are not needed to talk to an agent.
    const { attach } = await import('./attach.js')
    const problem = await attach(pid)
    if (problem !== undefined) {
      err.write(`recon-trace: ${problem}\n`)
      return false
    }
  }
  return true
}

/** Run the CLI; resolves to the exit code. `out`/`err` default to the process's streams. */
export function main(argv: readonly string[], io: { out?: NodeJS.WritableStream; err?: NodeJS.WritableStream } = {}): Promise<number> {
  const out = io.out ?? process.stdout
  const err = io.err ?? process.stderr
  if (argv.length === 0 || argv.includes('--help') || argv.includes('-h')) {
    ;(argv.length === 0 ? err : out).write(USAGE)
    return Promise.resolve(argv.length === 0 ? 2 : 0)
  }
  if (argv[0] === 'list' && argv.length === 1) return list(out)
  let p: Parsed
  try {
    p = parseArgs(argv)
  } catch (e) {
    if (!(e instanceof UsageError)) throw e
    err.write(`recon-trace: ${e.message}\n\n${USAGE}`)
    return Promise.resolve(2)
  }
  if (p.options.color === undefined) p.options.color = (out as { isTTY?: boolean }).isTTY === true
  if (p.defaulted) {
    const count = p.options.stats === true ? `${STATS_DEFAULT_LIMIT} calls` : '10 messages'
    const ms = p.options.time as number
    const time = ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`
    err.write(`recon-trace: no limit given: stopping after ${count} or ${time}, whichever comes first (-n, --rate, --time)\n`)
  }
  if (p.run !== undefined) return runProgram(p, out, err)
  return withAgents(p).then((pids) =>
    attachWhereNeeded(pids, err).then(async (ok) => (ok ? trace(p, pids, out, err, undefined, p.options.stats === true ? await statsView() : undefined) : 1)),
  )
}

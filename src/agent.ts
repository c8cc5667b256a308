/**
 * Agent: the control socket of a preloaded process, through which the `recon-trace` CLI traces it.
 *
 * The preload starts it in the main thread, at the program's first turn of the event loop
 * (startup.ts; a program that ends in its first turn never opens it): a Unix socket at
 * `<os.tmpdir()>/recon-trace-<uid>/<pid>.sock`, in a directory only the owner can enter (0700,
 * checked: a directory of another owner, or open to others, is refused rather than used), the
 * socket itself 0600. Only the process owner (or root) can connect. The server is unref'd (it
 * never keeps the process alive) and the socket file is removed at exit.
 *
 * The messages are protocol.ts's. Every request is checked, and a bad one gets an `error` reply
 * with the `TraceError` text and changes nothing. The trace machinery (session.ts and what it
 * loads: the spec parser, acorn for guards) is loaded at the first trace request, not at start.
 *
 * One session per process: a second client is refused, with the holder's pid, unless it asks to
 * replace it. When the client disconnects or dies, the trace is cleared at once (the socket's
 * close event: well within the second the safety model asks). Redaction and every bound of the
 * snapshot apply here, in the traced process, before anything is written to the socket.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { chmodSync, unlinkSync } from 'node:fs'
import { createRequire } from 'node:module'
import { BroadcastChannel } from 'node:worker_threads'
import { TraceError } from './error.js'
import { commonJsFile } from './installation.js'
import { Limiter, type Limit } from './limit.js'
import type { TraceOptions } from './options.js'
import { PROTOCOL, ensureSocketDir, readLines, sendMessage, socketDir, socketPath, type LineKind, type Reply, type Request } from './protocol.js'
import { droppedNotice, noticeLine, timeLimitReason } from './lines.js'
import { channelName, clearHere, traceMachinery, type FromThread, type ThreadRequest, type Traces } from './threadagent.js'

type Started = ReturnType<Traces['startTrace']>

/** Why a request cannot be served, or the trace options it asks for. */
function checkRequest(r: Request, WIRE_OPTIONS: readonly string[]): { problems: string[]; options: TraceOptions } {
  const problems: string[] = []
  if (r.v !== PROTOCOL) problems.push(`protocol version ${JSON.stringify(r.v)} is not supported: this agent speaks version ${PROTOCOL}`)
  const specs = r.specs
  const list = Array.isArray(specs) ? specs : [specs]
  for (const s of list) {
    if (typeof s === 'string') continue
    if (Array.isArray(s) && s.every((x) => typeof x === 'string' || typeof x === 'number')) continue
    if (
      typeof s === 'object' &&
      s !== null &&
      !Array.isArray(s) &&
      Object.values(s).every((x) => x === null || ['string', 'number', 'boolean'].includes(typeof x) || Array.isArray(x))
    ) {
      if (typeof (s as { module?: unknown }).module !== 'string') problems.push(`a spec object must name its module as a string: ${JSON.stringify(s)}`)
      continue
    }
    problems.push(`a spec must be a string, a tuple or a plain object, not ${JSON.stringify(s)}`)
  }
  const options: Record<string, unknown> = {}
  if (r.options !== undefined) {
    if (typeof r.options !== 'object' || r.options === null || Array.isArray(r.options))
      problems.push(`options must be an object, not ${JSON.stringify(r.options)}`)
    else {
      for (const [k, v] of Object.entries(r.options)) {
        if (!WIRE_OPTIONS.includes(k)) problems.push(`option ${JSON.stringify(k)} cannot be sent to an agent: the options are ${WIRE_OPTIONS.join(', ')}`)
        else if (k === 'pid' && typeof v === 'object' && v !== null && !Array.isArray(v))
          problems.push('option pid: an async-context selector works in-process only')
        else options[k] = v
      }
    }
  }
  return { problems, options: options as TraceOptions }
}

interface Session {
  id: number
  socket: Socket
  client: number
  limiter: Limiter
  request: ThreadRequest
  json: boolean
  timer: NodeJS.Timeout | undefined
  finishing: boolean
  /** Messages not sent because the client did not read them fast enough (see BACKLOG). */
  dropped: number
  /**
   * Stats mode: the threads report their counters (kind `stats`), and the client is told the end
   * only after the last report of this thread (`mainEnded`) and of every worker that hooked
   * something (`threads`, `finals`), or a second after asking for it. The time limit is the
   * agent's alone then: its line counts the calls of every thread.
   */
  stats: boolean
  mainEnded: boolean
  threads: Set<number>
  finals: Set<number>
  /** Why it ends, once `finish` was called; undefined: cleared. */
  reason: string | undefined
  /** It ends by its time limit (stats mode: the line is made when told, with every thread's calls). */
  timeUp: boolean
  told: boolean
  tellTimer: NodeJS.Timeout | undefined
  /** Stats mode: the calls each thread counted, from its latest report. */
  counted: Map<number, number>
  /** The time limit, ms. */
  time: number | undefined
}

/**
 * The most the socket may hold unsent for a client that reads slowly (or not at all: a CLI
 * suspended with Ctrl-Z). Beyond it messages are counted as dropped rather than queued, and one
 * line says how many once the client catches up: the process's memory never grows with a stalled
 * operator.
 */
export const BACKLOG = 4 << 20

class Agent {
  private current: Session | undefined
  private sessions = 0
  /** Sessions whose client has not been told their end yet, by id: a stats report may still come. */
  private readonly open = new Map<number, Session>()
  private readonly channel: BroadcastChannel

  constructor(readonly server: Server) {
    this.channel = new BroadcastChannel(channelName())
    ;(this.channel as unknown as { unref(): void }).unref()
    this.channel.onmessage = (ev) => this.fromThread((ev as MessageEvent).data as FromThread)
  }

  private send(socket: Socket, msg: Reply): void {
    sendMessage(socket, msg)
  }

  connection(socket: Socket): void {
    socket.unref()
    readLines(
      socket,
      (text) => this.request(socket, text),
      1 << 20,
      () => {
        this.send(socket, { type: 'error', message: 'request too large (over 1 MB)' })
        socket.destroy()
      },
    )
    // The client left (closed, crashed, killed): its trace goes with it, in every thread, now.
    socket.on('close', () => {
      const c = this.current
      if (c?.socket === socket) this.stop(c)
      for (const [id, s] of this.open) if (s.socket === socket) this.open.delete(id)
    })
    socket.on('error', () => {
      /* a client that vanished: 'close' follows */
    })
  }

  /** End a session everywhere, without a word to its client (gone, or told already). */
  private stop(c: Session): void {
    if (this.current === c) this.current = undefined
    c.finishing = true
    if (c.timer) clearTimeout(c.timer)
    this.channel.postMessage({ type: 'stop', id: c.id })
    clearHere()
  }

  /**
   * End a session and tell its client why: a trip (if a limit or the time ended it), then `end`.
   * In stats mode this thread's trace writes its last report as it ends, and the client is told
   * after it.
   */
  private finish(c: Session, reason: string | undefined): void {
    if (c.finishing) return
    c.reason = reason
    this.stop(c)
    if (!c.stats) this.tell(c)
    else {
      c.tellTimer = setTimeout(() => this.tell(c), 1000)
      c.tellTimer.unref()
      this.tellIfReported(c)
    }
  }

  /** Stats mode: tell the end once every thread that hooked something has sent its last report. */
  private tellIfReported(c: Session): void {
    if (c.finishing && c.mainEnded && [...c.threads].every((t) => c.finals.has(t))) this.tell(c)
  }

  /** Tell the client its session ended, once. */
  private tell(c: Session): void {
    if (c.told) return
    c.told = true
    if (c.tellTimer) clearTimeout(c.tellTimer)
    this.open.delete(c.id)
    if (c.timeUp && c.stats)
      c.reason = timeLimitReason(
        c.time ?? 0,
        [...c.counted.values()].reduce((a, b) => a + b, 0),
        'calls',
      )
    if (c.reason !== undefined) this.send(c.socket, { type: 'trip', reason: c.reason })
    this.send(c.socket, { type: 'end', reason: c.reason ?? 'cleared' })
  }

  /** A line of any thread: a message is counted against the one limit of the process. */
  private line(id: number, line: string, kind: LineKind): void {
    if (kind === 'stats') {
      // A thread's counters: passed on while its client has not been told the end.
      const s = this.open.get(id)
      if (s === undefined || s.told) return
      let final = false
      let thread = -1
      try {
        const d = JSON.parse(line) as { thread?: unknown; final?: unknown; functions?: { all?: { calls?: unknown } }[] }
        let n = 0
        for (const f of d.functions ?? []) n += typeof f.all?.calls === 'number' ? f.all.calls : 0
        if (typeof d.thread === 'number') s.counted.set((thread = d.thread), n)
        final = d.final === true
      } catch {
        return
      }
      this.send(s.socket, { type: 'stats', line })
      if (final && thread > 0) {
        s.finals.add(thread)
        this.tellIfReported(s)
      }
      return
    }
    const c = this.current
    if (!c || c.id !== id || c.finishing) return
    // A thread's own end (its copy of the limit, or its time): the agent, which holds the one
    // limit, says it once.
    if (kind === 'end') return
    if (kind === 'notice') {
      this.send(c.socket, { type: 'notice', line })
      return
    }
    if (c.limiter.tripped) return
    c.limiter.take()
    if (c.socket.writableLength > BACKLOG) c.dropped++
    else {
      if (c.dropped > 0) {
        this.send(c.socket, { type: 'notice', line: noticeLine(droppedNotice(c.dropped, 'the client'), c.json) })
        c.dropped = 0
      }
      this.send(c.socket, { type: 'line', line })
    }
    if (c.limiter.tripped) this.finish(c, c.limiter.why())
  }

  private fromThread(m: FromThread): void {
    if (m.type === 'line') this.line(m.id, m.line, m.kind)
    // A thread that hooked something: its client counts the threads reached.
    else if (m.type === 'started') {
      const c = this.current
      if (c !== undefined && c.id === m.id) {
        c.threads.add(m.threadId)
        this.send(c.socket, { type: 'thread', threadId: m.threadId, hooked: m.hooked, installers: m.installers })
      }
    }
    // A worker that starts while a trace runs asks for it (the pid spec 'new' selects it).
    else if (m.type === 'hello' && this.current && !this.current.finishing) this.channel.postMessage(this.current.request)
  }

  request(socket: Socket, text: string): void {
    let r: Request
    try {
      r = JSON.parse(text) as Request
    } catch {
      this.send(socket, { type: 'error', message: `not a JSON request: ${text.slice(0, 80)}` })
      return
    }
    if (r.type === 'stop') {
      const c = this.current
      if (c?.socket === socket) this.finish(c, undefined)
      return
    }
    if (r.type === 'status') {
      const c = this.current
      this.send(socket, {
        type: 'status',
        pid: process.pid,
        active: c !== undefined,
        holder: c?.client,
        backlog: c?.socket.writableLength ?? 0,
        dropped: c?.dropped ?? 0,
        argv: [process.argv0, ...process.execArgv, ...process.argv.slice(1)],
      })
      return
    }
    if (r.type !== 'trace') {
      this.send(socket, { type: 'error', message: `unknown request type ${JSON.stringify(r.type)}: the types are trace, stop, status` })
      return
    }
    if (this.refusedAsBusy(socket, r)) return
    traceMachinery(
      (t) => {
        if (socket.destroyed) return
        const { problems, options } = checkRequest(r, t.WIRE_OPTIONS)
        if (problems.length > 0) this.send(socket, { type: 'error', message: new TraceError(problems).message })
        else this.start(socket, r, options, t)
      },
      (err) => this.send(socket, { type: 'error', message: `the trace machinery failed to load: ${err instanceof Error ? err.message : String(err)}` }),
    )
  }

  /**
   * Another client's session runs and this one did not ask to replace it: say so, and true.
   * Checked when the request arrives, and again when the trace machinery has loaded.
   */
  private refusedAsBusy(socket: Socket, r: Request): boolean {
    const previous = this.current
    if (previous === undefined || previous.socket === socket || r.replace === true) return false
    this.send(socket, {
      type: 'error',
      code: 'busy',
      holder: previous.client,
      message: `process ${process.pid} is already traced by recon-trace (pid ${previous.client}); ask to replace that session (--replace) to take it over`,
    })
    return true
  }

  /** Start a checked trace request: this thread's part, then the workers'. */
  private start(socket: Socket, r: Request, options: TraceOptions, { startTrace }: Traces): void {
    const client = typeof r.client === 'number' ? r.client : 0
    if (this.refusedAsBusy(socket, r)) return
    const previous = this.current
    // Replacing: the previous client is told, and let go.
    if (previous) {
      this.stop(previous)
      this.open.delete(previous.id)
      if (previous.socket !== socket) {
        this.send(previous.socket, { type: 'end', reason: `replaced by recon-trace (pid ${client})` })
        previous.socket.end()
      }
    }
    const id = ++this.sessions
    // Stats mode: the time limit is the agent's alone, so that its line counts the calls of every
    // thread; the threads' traces end when it stops them, each with its last report.
    const traced = options.stats === true && options.time !== undefined ? { ...options, time: undefined } : options
    const request: ThreadRequest = { type: 'trace', id, specs: r.specs, limit: r.limit, options: traced, startedAt: Date.now() }
    let started: Started
    try {
      // This thread's part; each thread counts its own messages too, so that none sends more
      // than the whole trace may print. The end of this thread's trace by its own limit or time
      // is the agent's to say; a clear by the program itself ends the session.
      started = startTrace(
        r.specs as Parameters<typeof startTrace>[0],
        r.limit as Parameters<typeof startTrace>[1],
        traced,
        (reason) => {
          const c = this.open.get(id)
          if (c === undefined) return
          c.mainEnded = true
          if (c.finishing) {
            if (c.stats) this.tellIfReported(c)
          } else if (reason === undefined) this.finish(c, undefined)
          // In stats mode no line reaches the agent's count: this thread's own limit ends the session.
          else if (c.stats) this.finish(c, reason)
        },
        undefined,
        (line, kind) => this.line(id, line, kind),
      )
    } catch (err) {
      this.send(socket, { type: 'error', message: err instanceof Error ? err.message : String(err) })
      return
    }
    const session: Session = {
      id,
      socket,
      client,
      limiter: new Limiter(r.limit as Limit),
      request,
      json: options.json === true,
      timer: undefined,
      finishing: false,
      dropped: 0,
      stats: options.stats === true,
      mainEnded: false,
      threads: new Set(),
      finals: new Set(),
      reason: undefined,
      timeUp: false,
      told: false,
      tellTimer: undefined,
      counted: new Map(),
      time: typeof options.time === 'number' ? options.time : undefined,
    }
    if (typeof options.time === 'number') {
      const ms = options.time
      session.timer = setTimeout(() => {
        session.timeUp = true
        this.finish(session, timeLimitReason(ms, session.limiter.taken))
      }, ms)
      session.timer.unref()
    }
    this.open.set(id, session)
    this.current = session
    this.channel.postMessage(request)
    this.send(socket, { type: 'started', hooked: started.hooked, pid: process.pid, installers: started.installers })
  }
}

let running: Agent | undefined

/**
 * `recon-trace --run`: the CLI started this program with the trace to run in
 * `RECON_TRACE_RUN` and its own socket in `RECON_TRACE_RUN_SOCKET`. The trace starts here,
 * before the program's first line, its lines going to that socket (written as soon as it
 * connects); the CLI is this session's client like any other. The variables are removed, so
 * that the program's own child processes do not start traces of their own.
 */
function runFromEnvironment(agent: Agent): void {
  const request = process.env.RECON_TRACE_RUN
  const path = process.env.RECON_TRACE_RUN_SOCKET
  delete process.env.RECON_TRACE_RUN
  delete process.env.RECON_TRACE_RUN_SOCKET
  if (!request || !path) return
  const socket = createConnection(path)
  agent.connection(socket)
  agent.request(socket, request)
}

/**
 * Start the agent of this process (main thread). Returns the socket path, or undefined when the
 * directory is not safe or the socket cannot be made (then one warning; the program goes on).
 */
export function startAgent(): string | undefined {
  if (running) return socketPath(process.pid)
  const path = socketPath(process.pid)
  try {
    const dir = ensureSocketDir()
    if (dir === undefined) {
      process.emitWarning(`recon-trace: the agent is off: ${socketDir()} is not a directory of this user closed to others (mode 0700)`, {
        type: 'ReconTraceWarning',
      })
      return undefined
    }
    try {
      unlinkSync(path) // a socket left by a process of the same pid that died
    } catch {
      /* none */
    }
    const server = createServer({ allowHalfOpen: false })
    const agent = new Agent(server)
    server.on('connection', (s) => agent.connection(s))
    server.on('error', (err) => process.emitWarning(`recon-trace: the agent's socket failed: ${err.message}`, { type: 'ReconTraceWarning' }))
    // `exclusive`: bound here and now, by this process (a cluster worker would otherwise ask its
    // primary to listen for it); the mode is set in the same tick, before anyone can connect.
    server.listen({ path, exclusive: true })
    try {
      chmodSync(path, 0o600)
    } catch {
      /* the directory is 0700 anyway */
    }
    server.unref()
    process.on('exit', () => {
      try {
        unlinkSync(path)
      } catch {
        /* gone */
      }
    })
    running = agent
    runFromEnvironment(agent)
    return path
  } catch (err) {
    process.emitWarning(`recon-trace: the agent is off: ${err instanceof Error ? err.message : String(err)}`, { type: 'ReconTraceWarning' })
    return undefined
  }
}

/**
 * For a process attached without the preload (attach.ts): start the thread part of the agent in
 * each of its worker threads, those running now and those started later, through the
 * inspector's NodeWorker domain of an in-process session (each worker has its own inspector;
 * `Runtime.evaluate` there loads the CommonJS build's threadagent.js and calls
 * `startThreadAgent`). The session stays open for the workers to come; it holds the event loop of
 * no one.
 */
export function reachWorkers(agentFile: string): void {
  if (reaching) return
  reaching = true
  try {
    const inspector = createRequire(agentFile)('node:inspector') as typeof import('node:inspector')
    const s = new inspector.Session()
    s.connect()
    const file = JSON.stringify(commonJsFile('threadagent.js'))
    const expression = `(() => { const m = process.getBuiltinModule('node:module'); m.createRequire(${file})(${file}).startThreadAgent() })()`
    s.on('NodeWorker.attachedToWorker', (m: { params: { sessionId: string } }) => {
      const { sessionId } = m.params
      s.post('NodeWorker.sendMessageToWorker', { sessionId, message: JSON.stringify({ id: 1, method: 'Runtime.evaluate', params: { expression } }) }, () => {})
    })
    s.on('NodeWorker.receivedMessageFromWorker', (m: { params: { sessionId: string; message: string } }) => {
      let reply: { id?: number } = {}
      try {
        reply = JSON.parse(m.params.message) as { id?: number }
      } catch {
        /* not ours */
      }
      if (reply.id === 1) s.post('NodeWorker.detach', { sessionId: m.params.sessionId }, () => {})
    })
    s.post('NodeWorker.enable', { waitForDebuggerOnStart: false }, () => {})
  } catch {
    /* no inspector, or no getBuiltinModule (Node before 20.16): the main thread only */
  }
}
let reaching = false

/**
 * The thread part of the agent (agent.ts), in each worker thread of a preloaded process, and
 * what the two parts share: the channel between them, its messages, and the trace machinery
 * (session.ts), loaded at the first trace request.
 *
 * Kept apart from the agent so that a worker starts with what it needs and no more: a worker
 * does not listen on a socket, and loading the agent there (Node's `net`, the protocol, the
 * limits and `perf_hooks`) added 2-4 ms to every worker start on Node 22-26
 * (bench/preload-worker.mjs, with OTHER_PRELOAD set to the build from before the split).
 */
import * as workerThreads from 'node:worker_threads'
import { BroadcastChannel, threadId } from 'node:worker_threads'
import type { TraceOptions } from './options.js'
import type { LineKind } from './protocol.js'
import { noticeLine } from './lines.js'
import { state } from './state.js'
import type { InstallerReport } from './installers/installer.js'

/** The trace machinery: session.ts and all it loads. */
export type Traces = typeof import('./session.js')
let traces: Traces | undefined
/**
 * The trace machinery, loaded on the first trace request: a preloaded start does not pay for
 * it. The CommonJS build loads it at once (`require`); the ES module build has no synchronous
 * way to load an ES module on every runtime, and loads it at the next turns (`import()`). The
 * preload, `--import` too, runs the CommonJS build (preload.ts), so a trace that must start
 * before the program's first line (`recon-trace --run`) starts there.
 */
export function traceMachinery(then: (t: Traces) => void, failed: (err: unknown) => void): void {
  if (traces === undefined && typeof require === 'function') {
    try {
      traces = require('./session.js') as Traces
    } catch (err) {
      failed(err)
      return
    }
  }
  if (traces !== undefined) then(traces)
  else
    import('./session.js').then((t) => {
      traces = t
      then(t)
    }, failed)
}
/** End this thread's trace, if the machinery was ever loaded (else there is none). */
export function clearHere(): void {
  if (state.active !== undefined) state.active.end(undefined)
}

/** The channel between the agent (main thread) and the thread part of each worker thread. */
export const channelName = () => `recon-trace.agent.${process.pid}`

/** What a worker thread's part tells the agent. */
export type FromThread =
  | { type: 'line'; id: number; line: string; kind: LineKind }
  | { type: 'started'; id: number; threadId: number; hooked: number; installers: InstallerReport[] }
  | { type: 'hello'; threadId: number }

/** What the agent sends its threads to start a trace: data only. */
export interface ThreadRequest {
  type: 'trace'
  id: number
  specs: unknown
  limit: unknown
  options: TraceOptions
  startedAt: number
}

/** This worker's name (`new Worker(file, { name })`), where the runtime tells it (Node 22.?+, 24; not 20). */
function threadName(): string | undefined {
  const name = (workerThreads as { threadName?: unknown }).threadName
  return typeof name === 'string' && name !== '' ? name : undefined
}

/**
 * The thread part of the agent, in each worker thread of a preloaded process: it takes the
 * agent's trace requests from the channel, traces this thread (the pid spec decides whether it
 * is selected: 'new' are the threads started after the trace began), and sends its lines back.
 */
export function startThreadAgent(): void {
  const bornAt = Date.now()
  try {
    const channel = new BroadcastChannel(channelName())
    ;(channel as unknown as { unref(): void }).unref()
    let active: number | undefined
    channel.onmessage = (ev) => {
      const m = (ev as MessageEvent).data as ThreadRequest | { type: 'stop'; id: number }
      if (m.type === 'trace') {
        if (active === m.id) return
        active = m.id
        const id = m.id
        const post = (msg: FromThread) => channel.postMessage(msg)
        const problem = (err: unknown) =>
          post({
            type: 'line',
            id,
            kind: 'notice',
            line: noticeLine(`thread ${threadId}: ${err instanceof Error ? err.message : String(err)}`, m.options.json === true),
          })
        traceMachinery(({ startTrace }) => {
          if (active !== id) return // stopped while the machinery loaded
          try {
            const started = startTrace(
              m.specs as Parameters<typeof startTrace>[0],
              m.limit as Parameters<typeof startTrace>[1],
              m.options,
              () => {
                if (active === id) active = undefined
              },
              { pid: process.pid, threadId, name: threadName(), existing: bornAt <= m.startedAt },
              (line, kind) => post({ type: 'line', id, line, kind }),
            )
            if (started.hooked > 0) post({ type: 'started', id, threadId, hooked: started.hooked, installers: started.installers })
          } catch (err) {
            problem(err)
          }
        }, problem)
      } else if (m.type === 'stop' && active === m.id) {
        active = undefined
        clearHere()
      }
    }
    channel.postMessage({ type: 'hello', threadId })
  } catch {
    /* no channel: this thread is not reached by the CLI */
  }
}

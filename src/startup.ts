/**
 * Start-up: what the preload does in each thread, always from the CommonJS build (preload.ts
 * loads it with `require`, whichever build it is itself): install the load hooks and the probe
 * registry (register.ts), give worker threads the preload, and start the agent the `recon-trace`
 * CLI connects to (agent.ts; threadagent.ts in a worker thread).
 *
 * The main thread's agent starts at the program's first turn of the event loop, not before its
 * first line: an unref'd immediate, so a program that ends in its first turn (a script, a build
 * step started with `NODE_OPTIONS=--import recon-trace/register` set for the whole container)
 * never loads the agent, Node's `net` or the `cluster` module its `listen` loads, and never
 * makes a socket; a service makes it once its main module has run (bench/preload-start.mjs).
 * `recon-trace --run` (`RECON_TRACE_RUN`) starts it at once: its trace starts before the first
 * line. Worker threads start their part (threadagent.ts, which has no socket) at once: it is
 * small, and a trace running when the worker starts reaches it as early as it can.
 */
import ModuleApi from 'node:module'
import { isMainThread } from 'node:worker_threads'
import { commonJsFile } from './installation.js'
import { preloadWorkers, register } from './register.js'

const load = ModuleApi.createRequire(commonJsFile('agent.js'))
const agent = () => load('./agent.js') as typeof import('./agent.js')

register()
preloadWorkers()
if (!isMainThread) (load('./threadagent.js') as typeof import('./threadagent.js')).startThreadAgent()
else if (process.env.RECON_TRACE_RUN) agent().startAgent()
else
  setImmediate(() => {
    try {
      agent().startAgent()
    } catch (err) {
      process.emitWarning(`recon-trace: the agent is off: ${err instanceof Error ? err.message : String(err)}`, { type: 'ReconTraceWarning' })
    }
  }).unref()

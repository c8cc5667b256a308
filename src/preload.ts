/**
 * The preload: `node --import recon-trace/register app.js` (or `--require recon-trace/register`,
 * or either in `NODE_OPTIONS`). Instruments the program's modules as they load, with the scope
 * given by `RECON_TRACE_INCLUDE`, `RECON_TRACE_EXCLUDE` and `RECON_TRACE_CACHE` (see
 * register.ts), and starts the agent the `recon-trace` CLI connects to (see agent.ts).
 */
import { isMainThread } from 'node:worker_threads'
import { preloadWorkers, register } from './register.js'
import { startAgent, startThreadAgent } from './agent.js'

register()
preloadWorkers()
// The control socket of the recon-trace CLI (agent.ts) in the main thread, its thread part in
// each worker.
if (isMainThread) startAgent()
else startThreadAgent()

/**
 * The preload: `node --import recon-trace/register app.js` (or `--require recon-trace/register`,
 * or either in `NODE_OPTIONS`). Instruments the program's modules as they load, with the scope
 * given by `RECON_TRACE_INCLUDE`, `RECON_TRACE_EXCLUDE` and `RECON_TRACE_CACHE` (see
 * register.ts), and starts the agent the `recon-trace` CLI connects to (see agent.ts).
 *
 * What every preloaded start pays, so kept short (bench/preload-start.mjs):
 * 1. V8's compile cache goes on first (scope.ts), before the rest of recon-trace compiles: a
 *    warm start compiles none of it again.
 * 2. All of it is the CommonJS build's, loaded with `require` (scope.ts, startup.ts), under
 *    `--import` too: the same modules through the ES module loader took 4 to 8 ms longer on
 *    Node 24. Both builds share one state per thread (state.ts), so a program that imports the
 *    ES module API traces through the same registry.
 */
import ModuleApi from 'node:module'
import { commonJsFile } from './installation.js'

const load = ModuleApi.createRequire(commonJsFile('startup.js'))
const { scopeOf, turnOnCompileCache } = load('./scope.js') as typeof import('./scope.js')
turnOnCompileCache(scopeOf())
load('./startup.js')

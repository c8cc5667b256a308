/**
 * The preload: `node --import recon-trace/register app.js` (or `--require recon-trace/register`,
 * or either in `NODE_OPTIONS`). Instruments the program's modules as they load, with the scope
 * given by `RECON_TRACE_INCLUDE`, `RECON_TRACE_EXCLUDE` and `RECON_TRACE_CACHE`. See register.ts.
 */
import { preloadWorkers, register } from './register.js'

register()
preloadWorkers()

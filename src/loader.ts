/**
 * Loader: the asynchronous module hooks for runtimes without `module.registerHooks` (Node 20,
 * Node 22 before 22.15). `register()` hands this file to `module.register`; Node runs it in its
 * loader thread, where it rewrites each ES module the scope covers (TypeScript ones stripped first,
 * where the runtime strips types). CommonJS modules are left to the compile-step patch in the
 * program's thread (their source here is `null`).
 */
import { coverage, instrumentLoaded, type ScopeData } from './register.js'

type LoadResult = { format?: string | null; source?: unknown; shortCircuit?: boolean }
type NextLoad = (url: string, context?: unknown) => Promise<LoadResult>

let scope: ScopeData | undefined
let covers: ((filename: string) => boolean) | undefined

export function initialize(data: ScopeData | undefined): void {
  if (data && typeof data === 'object' && Array.isArray(data.include) && Array.isArray(data.exclude) && typeof data.cwd === 'string') {
    scope = data
    covers = coverage(data)
  }
}

export async function load(url: string, context: { format?: string | null }, nextLoad: NextLoad): Promise<LoadResult> {
  const result = await nextLoad(url, context)
  if (scope === undefined || covers === undefined || (result.format !== 'module' && result.format !== 'module-typescript')) return result
  try {
    // This thread cannot see the program's process.setSourceMapsEnabled(): always with a map.
    const r = instrumentLoaded(url, result.format, result.source, scope, covers, true)
    return r === undefined ? result : { ...result, format: r.format, source: r.code }
  } catch {
    return result
  }
}

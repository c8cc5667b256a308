/**
 * The in-process inspector: one way to open a session on this thread's own isolate.
 *
 * Used by the binding and breakpoint installers (installers/debugger.ts: the Debugger domain,
 * one session per thread), by live edit (liveedit.ts: the Debugger domain, one session per thread, kept in the
 * process-wide state with the editor) and by the promise settler (settle.ts: the Runtime domain,
 * one session per trace that follows a promise). `node:inspector` is loaded on first use only,
 * through `createRequire`, so that recon-trace loads (and most traces run) without it, and a
 * runtime built without the inspector still loads recon-trace. An in-process session answers
 * `post` synchronously (measured on Node 20 to 26).
 */
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import type { Session } from 'node:inspector'

/** Why this runtime's inspector cannot be used (a build without it), or undefined when it can. */
export function inspectorRefusal(): string | undefined {
  try {
    createRequire(`${process.cwd()}/[recon-trace]`)('node:inspector')
    return undefined
  } catch (err) {
    return err instanceof Error ? err.message : String(err)
  }
}

/** The URL of this process's inspector server when one is open (a debugger may be attached there), else undefined. */
export function inspectorUrl(): string | undefined {
  try {
    return (createRequire(`${process.cwd()}/[recon-trace]`)('node:inspector') as typeof import('node:inspector')).url()
  } catch {
    return undefined
  }
}

/** Open a session connected to this thread; throws when the runtime has no inspector. */
export function openSession(): Session {
  const inspector = createRequire(`${process.cwd()}/[recon-trace]`)('node:inspector') as typeof import('node:inspector')
  const s = new inspector.Session()
  s.connect()
  return s
}

/** Post to an in-process session and return its answer, which comes synchronously (measured on Node 20 to 26); throws its error. */
export function postSync(session: Session, method: string, params?: object): Record<string, any> {
  let out: Record<string, any> | undefined
  let error: Error | undefined
  session.post(method, params ?? {}, (e: Error | null, r?: object) => {
    if (e) error = e
    else out = (r ?? {}) as Record<string, any>
  })
  if (error) throw error
  if (out === undefined) throw new Error(`${method}: no synchronous answer from the inspector`)
  return out
}

/** The parameters of `Debugger.scriptParsed` that the installers read. */
export interface ScriptParsed {
  readonly scriptId: string
  readonly url: string
  readonly isModule?: boolean
  readonly executionContextAuxData?: { readonly isDefault?: boolean }
}

/**
 * The file a parsed script runs, or undefined: not a file (an eval, a builtin), or a script of
 * another context (vm), whose functions do not see this realm's globalThis, which every
 * installer's probes, conditions and bindings read.
 */
export function scriptFile(p: ScriptParsed): string | undefined {
  if (p.executionContextAuxData?.isDefault === false) return undefined
  if (p.url.startsWith('/')) return p.url
  if (!p.url.startsWith('file:')) return undefined
  try {
    return fileURLToPath(p.url)
  } catch {
    return undefined
  }
}

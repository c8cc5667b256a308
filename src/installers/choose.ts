/**
 * Choose: which installer serves a spec, and why. One function, from the facts of the spec and
 * of the process, with its own tests (test/choose.test.ts); the session asks it for every spec
 * and the trace reports its answers (`why`) to the user.
 *
 * The order, from what each costs and reaches (installer.ts, docs/live-edit.md):
 * 1. Global scope on a CommonJS module, a builtin or an object given directly: runtime wrappers.
 *    Nothing to compile, nothing left when off, and they see every call through the export.
 * 2. Otherwise (local scope, or an ES module, whose exports cannot be replaced) the function
 *    needs probes in its body: the preload's, when the preload instrumented the file (they are
 *    already there: a slot write to turn on, nothing to undo).
 * 3. Else live edit, which puts probes into the running code, where the runtime has it.
 * 4. Else the spec is refused, saying why and how to start the program so that it can be served.
 */
import type { InstallerKind } from './installer.js'

/** What the choice rests on, for one spec. */
export interface ChoiceFacts {
  readonly scope: 'global' | 'local'
  /** The spec's module is an ES module (its exports cannot be replaced at run time). */
  readonly esm: boolean
  /** The preload is in this process and instrumented the spec's module. */
  readonly preloadCovers: boolean
  /** Why live edit cannot run here (runtime, setting, pause limit), or undefined if it can. Asked only when needed. */
  readonly liveEditRefusal: () => string | undefined
  /** The module as the user knows it (`work`, `lodash`), for the reasons. */
  readonly label: string
}

export type Choice = { readonly installer: InstallerKind; readonly why: string } | { readonly refused: string }

export function chooseInstaller(f: ChoiceFacts): Choice {
  if (f.scope === 'global' && !f.esm)
    return { installer: 'wrapper', why: `global scope on ${f.label}: the function is replaced where its module's exports hold it` }
  const need = f.scope === 'local' ? 'local scope' : 'an ES module'
  if (f.preloadCovers) return { installer: 'preload', why: `${need}: the preload instrumented ${f.label}, its probes see every call` }
  const refusal = f.liveEditRefusal()
  if (refusal === undefined) return { installer: 'live edit', why: `${need}: the preload did not instrument ${f.label}, live edit probes the running code` }
  return {
    refused:
      `${f.scope === 'local' ? "scope 'local'" : 'an ES module'} needs probes: the preload's, ` +
      `put in as modules load, or live edit's, put into a running program; ${refusal}`,
  }
}

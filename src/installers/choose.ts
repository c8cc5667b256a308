/**
 * Choose: which installer serves a spec, and why. One function, from the facts of the spec and
 * of the process, with its own tests (test/choose.test.ts); the session asks it for every spec
 * and the trace reports its answers (`why`) to the user.
 *
 * The order, from what each costs and reaches (installer.ts, docs/local-scope.md):
 * 1. Global scope on a CommonJS module, a builtin or an object given directly: runtime wrappers.
 *    Nothing to compile, nothing left when off, and they see every call through the export.
 *    A TypeScript file the program runs compiled (tsc: `dist/db.js` from `src/db.ts`) counts as
 *    the CommonJS module compiled from it.
 * 2. Otherwise (local scope, an ES module, or a file compiled into a bundle: no exports to
 *    replace) the function
 *    needs a way into its module: the preload's probes, when the preload instrumented the file
 *    (they are already there: a slot write to turn on, nothing to undo).
 * 3. Else, in any running process (Node 22 and later; Node 20 below): binding swaps for the functions a
 *    top-level binding holds, with entry breakpoints for the rest and for calls through
 *    references taken before the trace (binding.ts). Which of the two serves each function is
 *    decided per function when the file is read; both are reported as `binding`.
 * 4. Live edit when asked for (`RECON_TRACE_LIVE_EDIT=on`) where it runs: it gives nested
 *    functions their returns and exceptions at no cost per call, which breakpoints cannot, but
 *    pauses the program 40 ms plus about 4 ms per MB of heap at each edit and exists on Node 20
 *    and 22 only (docs/live-edit.md). Also where binding swaps cannot run: on V8 11 (Node 20),
 *    where setting a breakpoint while V8 optimized a caller crashed the process (debugger.ts).
 * 5. Else the spec is refused, saying why and how to start the program.
 */
import type { InstallerKind } from './installer.js'

/** What the choice rests on, for one spec. */
export interface ChoiceFacts {
  readonly scope: 'global' | 'local'
  /** The spec's module is an ES module (its exports cannot be replaced at run time). */
  readonly esm: boolean
  /**
   * The spec names a file the program runs compiled into a bundle or into ES modules (through a
   * source map): the running file's name. No module's exports are its own to replace.
   */
  readonly compiledInto?: string
  /** The preload is in this process and instrumented the spec's module. */
  readonly preloadCovers: boolean
  /** Live edit was asked for (RECON_TRACE_LIVE_EDIT=on or force). */
  readonly liveEditAsked: boolean
  /** Why live edit cannot run here (runtime, setting, pause limit), or undefined if it can. Asked only when needed. */
  readonly liveEditRefusal: () => string | undefined
  /** Why binding swaps cannot run here (no inspector, a runtime where they crashed), or undefined if they can. Asked only when needed. */
  readonly bindingRefusal: () => string | undefined
  /** The module as the user knows it (`work`, `lodash`), for the reasons. */
  readonly label: string
}

export type Choice = { readonly installer: InstallerKind; readonly why: string } | { readonly refused: string }

export function chooseInstaller(f: ChoiceFacts): Choice {
  if (f.scope === 'global' && !f.esm)
    return { installer: 'wrapper', why: `global scope on ${f.label}: the function is replaced where its module's exports hold it` }
  const need =
    f.scope === 'local' ? 'local scope' : f.compiledInto !== undefined ? `global scope on ${f.label}, compiled into ${f.compiledInto}` : 'an ES module'
  if (f.preloadCovers) return { installer: 'preload', why: `${need}: the preload instrumented ${f.label}, its probes see every call` }
  let asked = ''
  if (f.liveEditAsked) {
    const refusal = f.liveEditRefusal()
    if (refusal === undefined) return { installer: 'live edit', why: `${need}: live edit was asked for (RECON_TRACE_LIVE_EDIT), it probes the running code` }
    asked = ` (live edit was asked for, but ${refusal})`
  }
  const binding = f.bindingRefusal()
  if (binding === undefined)
    return {
      installer: 'binding',
      why:
        `${need}: the preload did not instrument ${f.label}; its bindings are swapped at the first call, ` +
        `and entry breakpoints see calls through other references${asked}`,
    }
  // Where binding swaps cannot run (Node 20), live edit serves, if it can.
  const liveEdit = f.liveEditAsked ? asked.slice(' (live edit was asked for, but '.length, -1) : f.liveEditRefusal()
  if (liveEdit === undefined)
    return {
      installer: 'live edit',
      why: `${need}: the preload did not instrument ${f.label}; binding swaps are off here (${binding}), live edit probes the running code`,
    }
  return { refused: `${need} without the preload needs binding swaps or live edit: binding swaps are off here (${binding}); ${liveEdit}` }
}

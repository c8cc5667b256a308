/**
 * Installer: the one contract every way of hooking a function implements.
 *
 * The session (session.ts) knows a trace's life: check the request, plan it (which installer
 * serves each spec: choose.ts), install, run the pipeline, end. It knows no installer's
 * insides. An installer knows how to reach functions one way, and nothing of the pipeline
 * beyond the two entry points it feeds: a wrapper's `onMatch` (wrapper.ts) or a probe's
 * `ProbeHandler` (registry.ts).
 *
 * - `wrapper` (wrapper.ts). Reaches global scope: CommonJS exports, builtins, objects given
 *   directly, modules loaded later. Selects by exported path, glob and arity. Installs a
 *   faithful wrapper at every property that holds the function; restores the original
 *   descriptors exactly. Costs nothing when off; a call site may stay megamorphic after.
 * - `preload` (probes.ts). Reaches local scope and ES modules in the files the preload
 *   instrumented, in every thread. Selects by the rewrite's names (`fact`, `outer.inner`,
 *   `Queue#push`), glob and arity. Installs and restores a slot write per function. Costs one
 *   load and branch per call while dormant.
 * - `binding` and `breakpoint` (binding.ts, with debugger.ts and reach.ts). Reach local scope
 *   and ES modules in a loaded file the preload did not instrument, on Node 22 and later (Node 20 when forced), through
 *   an in-process inspector session. Select by the preload's names. Install a conditional entry
 *   breakpoint per function (its calls, through any reference: 50-150 µs a hit), and at the
 *   first call into the file swap the top-level bindings and properties that hold the selected
 *   functions for wrappers (full events, a few ns a call). Restore the originals exactly, and
 *   turn the Debugger off. One piece of work with two faces: each function is reported under the
 *   one that serves its calls through its name.
 * - `live edit` (liveedit-installer.ts, with liveedit.ts). Only when RECON_TRACE_LIVE_EDIT=on
 *   asks for it, on Node 20 and 22 (off on 24, gone from 26): full probes in nested functions,
 *   which breakpoints cannot give. Installs the selected functions' text through V8's live
 *   edit; restores the original text, checked byte for byte. A pause of 40 ms + ~4 ms per MB of
 *   heap at each edit.
 *
 * The figures: docs/benchmarks.md (§1-3 wrappers, §6 probes, §8 live edit, §9 binding swaps).
 *
 * Every installer reports through the trace it serves (`TraceHost`): notices as they happen
 * (a file that loads later, a function that stays busy), and an end when it cannot go on.
 */

/** The ways of hooking a function. */
export type InstallerKind = 'wrapper' | 'preload' | 'binding' | 'breakpoint' | 'live edit'

/** How each installer is named to the user. */
export const INSTALLER_NAMES: Readonly<Record<InstallerKind, string>> = {
  wrapper: 'runtime wrappers',
  preload: "the preload's probes",
  binding: 'binding swaps',
  breakpoint: 'entry breakpoints',
  'live edit': 'live edit',
}

/** Which installer serves which functions of a trace, and why: what the trace reports. */
export interface InstallerReport {
  readonly installer: InstallerKind
  /** How the user knows it: `runtime wrappers`, `the preload's probes`, `live edit`. */
  readonly name: string
  readonly why: string[]
  /** `module:function`, as the trace prints them. */
  readonly functions: string[]
}

/** What an installer may ask of the trace it serves. */
export interface TraceHost {
  /** Whether the trace still runs. */
  readonly active: boolean
  /** A diagnostic line for the user (not a trace message). */
  notice(message: string): void
  /** End the trace, saying why (undefined: as if cleared). */
  end(reason: string | undefined): void
}

export interface Installer {
  readonly kind: InstallerKind
  /**
   * Put the hooks in. Returns how many functions it hooked now (more may follow as modules
   * load). A problem pushed to `problems` refuses the whole trace: the session then restores
   * every installer and throws one TraceError.
   */
  install(problems: string[]): number
  /** Take every hook out and put every original back, exactly; synchronous (live edit's text goes back at the next turn), idempotent. */
  restore(): void
  /** The functions it serves now, as `module:function` (for the report of which installer serves what). */
  served(): string[]
}

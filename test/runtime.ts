// What the runtime under test can do, and tests that say in their name why they are skipped.
// The suite runs on Node 20, 22, 24 and 26 (.ci/run); a test that cannot run on one of them is
// skipped there with the reason in its name, never silently.
import { describe, it, type TestFunction } from 'vitest'
import * as moduleApi from 'node:module'

/** V8's major version: 11 (Node 20), 12 (Node 22), 13 (Node 24), 14 (Node 26). */
export const V8_MAJOR = Number(process.versions.v8.split('.')[0])

/** V8 14 removed live edit (Debugger.setScriptSource); src/liveedit.ts's gate says so. */
export const NO_LIVE_EDIT: string | false = V8_MAJOR >= 14 && `live edit does not exist on V8 ${V8_MAJOR} (Node ${process.versions.node})`

/**
 * Live edit is used only when asked for (the binding installer serves local scope by default),
 * and V8 13 crashed after a live edit, so it needs force there: tests of what it does ask for it.
 */
export const LIVE_EDIT_ON: Record<string, string> = { RECON_TRACE_LIVE_EDIT: V8_MAJOR === 13 ? 'force' : 'on' }

/**
 * V8 11 (Node 20) crashed when a breakpoint was set while it optimized a caller of the function
 * (installers/debugger.ts, bindingRefusal): binding swaps are off there by default, and tests of
 * what they do turn them on; the test that sets thousands of breakpoints is skipped there.
 */
export const BINDING_ON: Record<string, string> = V8_MAJOR <= 11 ? { RECON_TRACE_BINDING: 'force' } : {}
export const BINDING_CRASHES: string | false =
  V8_MAJOR <= 11 && `V8 ${V8_MAJOR} (Node ${process.versions.node}) can crash when a breakpoint is set while it optimizes a caller`

/** Whether the runtime has the synchronous module hooks (Node 22.15+, 23.5+). */
export const HAS_REGISTER_HOOKS = typeof (moduleApi as { registerHooks?: unknown }).registerHooks === 'function'

type Body = TestFunction

/** `it`, or, where `reason` is a string, a skipped test whose name ends with that reason. */
export function itUnless(reason: string | false): (name: string, fn: Body, timeout?: number) => void {
  // The one place tests are skipped: only with a reason, which the skipped test's name carries.
  return reason === false ? (name, fn, timeout) => it(name, fn, timeout) : (name, fn) => it.skip(`${name} (skipped: ${reason})`, fn)
}

/** `describe`, or, where `reason` is a string, a skipped block whose name ends with that reason. */
export function describeUnless(reason: string | false): (name: string, fn: () => void) => void {
  // As itUnless: skipped only with a reason, carried in the block's name.
  return reason === false ? (name, fn) => describe(name, fn) : (name, fn) => describe.skip(`${name} (skipped: ${reason})`, fn)
}

/**
 * Codegen: the functions recon-trace compiles from source it writes itself, and the one place
 * that calls `new Function`.
 *
 * Two things are generated: a spec's matcher (match.ts), with its guard written as code
 * (guard.ts), and a hooked function's wrapper (installers/wrapper.ts), with the cheap part of
 * its specs' checks inlined. Both are written only from what was checked up front (a guard's
 * checked tree, argument counts, literal patterns as values), never from text of the user's,
 * so they can only say what the guard language says. Code written for one hooked function is
 * compiled for it alone, so V8 keeps its feedback apart from every other one's.
 *
 * Where code generation from strings is off (`--disallow-code-generation-from-strings`, or
 * `RECON_TRACE_CODEGEN=off`), `compile` returns undefined and the callers use their closures,
 * which do the same thing more slowly (bench/filtered.mjs).
 */

const FunctionCtor = Function
let allowed: boolean | undefined

/** Whether generated code may be used now (read at each compile, never on a call). */
export function codegenAllowed(): boolean {
  if (process.env.RECON_TRACE_CODEGEN === 'off') return false
  if (allowed === undefined) {
    try {
      allowed = typeof new FunctionCtor('return 1')() === 'number'
    } catch {
      allowed = false
    }
  }
  return allowed
}

let serial = 0

/**
 * `new Function(...params, body)`, its frames named `recon-trace:<what>:<n>` in stack traces, or
 * undefined when code generation is off or the source does not compile (a bug of the generator:
 * the caller's closures then serve, and the program is not affected).
 */
export function compile(what: string, params: readonly string[], body: string): Function | undefined {
  if (!codegenAllowed()) return undefined
  try {
    return new FunctionCtor(...params, `'use strict';${body}\n//# sourceURL=recon-trace:${what}:${++serial}`) as Function
  } catch {
    return undefined
  }
}

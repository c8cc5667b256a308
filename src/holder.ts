/**
 * Holder: where the program reads a function when it calls it by name, decided from the
 * function's name and the binding of its top scope it sits under (naming.ts), and nothing else.
 *
 * A top scope is the file's, or the body of an immediately invoked function or a UMD factory at
 * the top of the file (acorn's). A binding of it (`function fact`, `const helper = () => ...`,
 * `class Queue`, an ES module's own bindings), or a property of an object such a binding holds
 * (`Queue#push` on `Queue.prototype`, `Queue.from` on `Queue`, `api.get` on `api`, `pp.parse`
 * on `Parser.prototype` when `var pp = Parser.prototype`). A function nested in another (a new
 * closure at each call), a private method, an anonymous callback, a name a breakpoint's
 * condition cannot read or assign: no holder.
 *
 * Two sides use it: the binding installer swaps a holder's value for a wrapper
 * (installers/reach.ts, installers/binding.ts), and the preload's lean form
 * (`RECON_TRACE_PROBES=lean`, instrument.ts) leaves the functions that have one without a probe,
 * marked `bound` in the file's table, for the binding installer to serve.
 */
import type { FnRecord } from './naming.js'

/** Where the program reads a function when it calls it by name. */
export type Holder =
  /** A top-level binding of the file's module, script or CommonJS wrapper scope. */
  | { readonly kind: 'binding'; readonly name: string }
  /** A property of the object a top-level binding holds (`path` walked from it first). */
  | { readonly kind: 'member'; readonly base: string; readonly path: readonly string[]; readonly key: string; readonly slot: 'value' | 'get' | 'set' }

/** A top-level binding's name, as a breakpoint's condition can read and assign it. */
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/

/** Words a condition cannot read or assign as a binding's name. */
const RESERVED = new Set(
  (
    'arguments await break case catch class const continue debugger default delete do else enum eval export extends false finally for ' +
    'function if implements import in instanceof interface let new null package private protected public return static super switch ' +
    'this throw true try typeof var void while with yield'
  ).split(' '),
)

/** The holder of a function defined in a top scope, from its name and the binding it sits under. */
export function holderOf(rec: FnRecord, aliasOf?: (scope: number, name: string) => readonly string[] | undefined): Holder | undefined {
  const top = rec.hold
  // A name a condition cannot read or assign (an anonymous default export's `default`): only its
  // breakpoint reaches the function.
  if (!rec.scopeTop || top === undefined || !IDENTIFIER.test(top) || RESERVED.has(top) || rec.name.includes('##')) return undefined
  if (rec.name === top) return { kind: 'binding', name: top }
  if (!rec.name.startsWith(top) || (rec.name[top.length] !== '.' && rec.name[top.length] !== '#')) return undefined
  // `Queue#push`, `Queue.from`, `api.get`, `api.sub.get`, `Queue#size (get)` is named `Queue#size`.
  const rest = rec.name.slice(top.length)
  const parts = rest.split(/(?=[.#])/)
  const path: string[] = []
  for (const part of parts.slice(0, -1)) {
    if (part.startsWith('#')) path.push('prototype')
    path.push(part.slice(1))
  }
  const last = parts[parts.length - 1]
  if (last.startsWith('#')) path.push('prototype')
  const key = last.slice(1)
  if (key === '' || key.startsWith('@')) return undefined
  if (rec.kind === 'constructor') return { kind: 'binding', name: top }
  const slot = rec.kind === 'get' ? 'get' : rec.kind === 'set' ? 'set' : 'value'
  // `pp.parse` where `var pp = Parser.prototype`: through `Parser`, which a closure of the file
  // is likelier to keep (V8 keeps a binding in reach of a breakpoint's condition only then).
  const alias = aliasOf?.(rec.scope, top)
  if (alias !== undefined && IDENTIFIER.test(alias[0]) && !RESERVED.has(alias[0]))
    return { kind: 'member', base: alias[0], path: [...alias.slice(1), ...path], key, slot }
  return { kind: 'member', base: top, path, key, slot }
}

/**
 * Names: how a spec's function part selects functions, the same for every installer.
 *
 * A function path is a name (`fact`), a path through objects (`a.b.c`), a prototype method
 * (`Client#query`), a static (`Client.connect`) or a nested function (`outer.inner`,
 * `outer.@12`). A path whose last segment holds `*` or `?`, or is `_`, is a glob over the names
 * at that level; getters and setters are selected only when named, never by a glob. The arity
 * part selects by argument count: exact (`/2`), at least (`(a, b, ...)`), or any.
 */
import type { TraceSpec } from './spec.js'

/** The largest argument count that means "any": kept in an Int32Array by the probes. */
export const ANY_ARITY = 0x3fffffff

/** The argument counts a spec accepts, as [min, max]. */
export function arityRange(spec: Pick<TraceSpec, 'arity' | 'rest'>): [number, number] {
  if (spec.arity === undefined) return [0, ANY_ARITY]
  return [spec.arity, spec.rest ? ANY_ARITY : spec.arity]
}

/** Whether a function pattern is a glob: `*` or `?` anywhere, or a last segment `_`. */
export function isNameGlob(pattern: string): boolean {
  return /[*?]/.test(pattern) || /(^|[.#])_$/.test(pattern)
}

/** The pattern with a last segment `_` written as `*`. */
export function globOfPattern(pattern: string): string {
  return pattern.replace(/(^|[.#])_$/, '$1*')
}

/** A function-name glob (`get*`, `Client#?et`) as a regular expression of the whole name. */
export function nameGlobToRegExp(glob: string): RegExp {
  return new RegExp(
    `^${glob
      .replace(/[.+^${}()|[\]\\]/g, '\\$&')
      .replace(/\*/g, '.*')
      .replace(/\?/g, '.')}$`,
  )
}

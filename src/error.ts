/**
 * The one error class of recon-trace.
 *
 * Everything a user can get wrong (a spec, a limit, an option, a module that does not resolve)
 * is checked before anything is hooked, and every problem found is listed in a single
 * `TraceError`, so one attempt shows all that must change. Each problem shows the bad value
 * and names the right form. A `TraceError` is only ever thrown to the caller of `calls`, never
 * into the traced program.
 */
export class TraceError extends Error {
  /** One sentence per problem, in the order found. */
  readonly problems: readonly string[]

  constructor(problems: readonly string[]) {
    const list = problems.length === 1 ? ` ${problems[0]}` : `\n${problems.map((p) => `  - ${p}`).join('\n')}`
    super(`recon-trace: ${problems.length === 1 ? 'bad trace:' : `${problems.length} problems with this trace:`}${list}`)
    this.name = 'TraceError'
    this.problems = problems
  }
}

/** Throw one `TraceError` listing every problem collected, if there are any. */
export function throwIfProblems(problems: readonly string[]): void {
  if (problems.length > 0) throw new TraceError(problems)
}

/** A short, safe rendering of a bad value for an error message (never runs user code). */
export function show(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.length > 80 ? `${value.slice(0, 77)}...` : value)
    case 'number':
    case 'boolean':
    case 'undefined':
      return String(value)
    case 'bigint':
      return `${value}n`
    case 'symbol':
      return 'a symbol'
    case 'function':
      return `a function${value.name ? ` (${value.name})` : ''}`
    default:
      if (value === null) return 'null'
      return Array.isArray(value) ? `an array of ${value.length}` : 'an object'
  }
}

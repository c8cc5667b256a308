import { isAbsolute, relative } from 'node:path'

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

/**
 * `names` ordered for a "did you mean" list: the names that contain the wanted one (or that it
 * contains) first, then by edit distance, then alphabetically.
 */
export function closest(wanted: string, names: readonly string[]): string[] {
  const w = wanted.toLowerCase()
  const dist = (b: string) => {
    const m = w.length
    const n = b.length
    const d = Array.from({ length: m + 1 }, (_, i) => [i, ...new Array<number>(n).fill(0)])
    for (let j = 1; j <= n; j++) d[0][j] = j
    for (let i = 1; i <= m; i++)
      for (let j = 1; j <= n; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (w[i - 1] === b[j - 1] ? 0 : 1))
    return d[m][n]
  }
  const key = new Map<string, [number, number]>()
  for (const n of new Set(names)) {
    const a = n.toLowerCase()
    key.set(n, [a.includes(w) || w.includes(a) ? 0 : 1, dist(a)])
  }
  return [...key.keys()].sort((a, b) => key.get(a)![0] - key.get(b)![0] || key.get(a)![1] - key.get(b)![1] || a.localeCompare(b))
}

/** The command line that starts this program with the preload, for the messages that need it. */
export function preloadLine(): string {
  const script = process.argv[1]
  const shown = script === undefined || process.execArgv.some((a) => /^(-e|-p|--eval|--print)(=|$)/.test(a)) ? '<your program>' : relativeOrAbsolute(script)
  // The runtime flags of this run (a word that is not a flag is the value of the flag before
  // it), less the ones that say what to run or preload (--eval, --print, --import, --require,
  // --input-type) and their values.
  const flags: string[] = []
  const argv = process.execArgv
  const dropped = /^(-e|-p|-r|--eval|--print|--import|--require|--input-type)$/
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    if (!a.startsWith('-')) continue // a value whose flag was dropped
    if (dropped.test(a) || /^(--eval|--print|--import|--require|--input-type)=/.test(a)) {
      if (dropped.test(a) && argv[i + 1] !== undefined && !argv[i + 1].startsWith('-')) i++
      continue
    }
    flags.push(a)
    if (!a.includes('=') && argv[i + 1] !== undefined && !argv[i + 1].startsWith('-')) flags.push(argv[++i])
  }
  return `node ${[...flags, '--import', 'recon-trace/register', shown].join(' ')} (or NODE_OPTIONS='--import recon-trace/register')`
}

function relativeOrAbsolute(file: string): string {
  const rel = relative(process.cwd(), file)
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file
}

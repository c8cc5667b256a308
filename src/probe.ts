/**
 * Probe: the run-time side of load-time probes.
 *
 * Every instrumented file registers itself when it is evaluated (its header calls
 * `registry.file(key, n, table)`), and gets a `ProbeFile`: `s`, the slot array its probes read
 * (0: dormant), and `e`/`r`/`x`, which its live probes call on entry, return and throw. The table
 * of the file's functions (names, kinds, lines) travels as a JSON string and is parsed only when
 * a trace first looks at the file, so a program that never traces in local scope pays for none
 * of it.
 *
 * The registry lives in a global slot, so that the preload (ESM or CommonJS build of
 * recon-trace), the instrumented files and a trace started from either build all see one
 * registry. A trace selects functions by setting their slots to 1 and handing the files a
 * `ProbeHandler`; ending it sets them back to 0, so dormant probes are again one load and one
 * branch.
 */
import { fileURLToPath } from 'node:url'
import { decodeTable, REGISTRY_KEY, type ProbeInfo, type SkippedInfo } from './instrument.js'

/** What a live probe calls: the active trace's slow path. Never throws. */
export interface ProbeHandler {
  /** A call of probe `id`; returns 0 (nothing more to report) or a token for `ret`/`threw`. */
  enter(file: ProbeFile, id: number, args: ArrayLike<unknown>): unknown
  ret(file: ProbeFile, token: unknown, value: unknown): void
  threw(file: ProbeFile, token: unknown, err: unknown): void
}

export class ProbeFile {
  /** One slot per probe: 0 dormant, 1 live. A packed array of small integers (see instrument.ts). */
  readonly s: number[]
  /** The active trace's slow path while any probe of this file is live. */
  handler: ProbeHandler | undefined = undefined
  private table: { probes: ProbeInfo[]; skipped: SkippedInfo[] } | undefined
  constructor(
    /** Absolute path of the file. */
    readonly filename: string,
    readonly n: number,
    private readonly raw: string,
  ) {
    const s: number[] = []
    for (let i = 0; i < n; i++) s.push(0)
    this.s = s
  }

  /** The probed functions and the ones left alone, parsed on first use. */
  get probes(): readonly ProbeInfo[] {
    return (this.table ??= this.parse()).probes
  }
  get skipped(): readonly SkippedInfo[] {
    return (this.table ??= this.parse()).skipped
  }
  private parse(): { probes: ProbeInfo[]; skipped: SkippedInfo[] } {
    try {
      return decodeTable(this.raw)
    } catch {
      return { probes: [], skipped: [] }
    }
  }

  // The three entry points of live probes. Short names: they are written into every probe.
  e(id: number, args: ArrayLike<unknown>): unknown {
    const h = this.handler
    return h === undefined ? 0 : h.enter(this, id, args)
  }
  r(token: unknown, value: unknown): unknown {
    const h = this.handler
    if (h !== undefined) h.ret(this, token, value)
    return value
  }
  x(token: unknown, err: unknown): void {
    const h = this.handler
    if (h !== undefined) h.threw(this, token, err)
  }
}

/** Which files the preload instruments. */
export interface InstrumentScope {
  /** Package names and globs to instrument beyond the application's own files. */
  include: readonly string[]
  /** Package names and globs to leave out. */
  exclude: readonly string[]
}

export class Registry {
  readonly version = 1
  readonly files = new Map<string, ProbeFile>()
  /** Told of every file that registers (the active trace's pending specs). */
  onFile: ((f: ProbeFile) => void) | undefined = undefined
  /** Files that failed to parse and loaded unchanged: filename -> cause. */
  readonly failed = new Map<string, string>()
  constructor(
    readonly scope: InstrumentScope,
    /** Decides whether a file is instrumented (the preload's include/exclude). */
    readonly covers: (filename: string) => boolean,
    /** How the preload was started, for messages: `--import recon-trace/register`. */
    readonly how: string,
  ) {}

  /** Called by an instrumented file's header. Never throws. */
  file(key: string, n: number, table: string): ProbeFile {
    let filename = key
    try {
      if (key.startsWith('file:')) filename = fileURLToPath(key)
    } catch {
      /* keep the key */
    }
    // A file evaluated twice (a cleared require.cache) gets a new slot array: the old one may
    // still be read by functions of the first evaluation, which a trace then leaves dormant.
    const f = new ProbeFile(filename, n, table)
    this.files.set(filename, f)
    const on = this.onFile
    if (on !== undefined) {
      try {
        on(f)
      } catch {
        /* never into the program */
      }
    }
    return f
  }
}

const globalSlot = globalThis as unknown as Record<symbol, Registry | undefined>
const KEY = Symbol.for(REGISTRY_KEY)

/** The registry of this thread, if the preload installed one. */
export function registry(): Registry | undefined {
  const r = globalSlot[KEY]
  return r !== undefined && r.version === 1 ? r : undefined
}

/** Install the registry of this thread (once; a second call returns the first). */
export function installRegistry(scope: InstrumentScope, covers: (filename: string) => boolean, how: string): Registry {
  const existing = registry()
  if (existing) return existing
  const r = new Registry(scope, covers, how)
  Object.defineProperty(globalThis, KEY, { value: r, configurable: true, enumerable: false, writable: false })
  return r
}

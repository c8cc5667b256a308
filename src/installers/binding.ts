/**
 * Binding and breakpoint installers: local scope in any running process, on Node 22 and later,
 * without changing a line of its code.
 *
 * Planning (`planDebugger`, binding-plan.ts, before anything changes): open this thread's
 * Debugger session (debugger.ts), find the loaded scripts of the files the specs name, read each
 * one's text and table of functions (the preload's names: `fact`, `outer.inner`, `Queue#push`),
 * and where each function can be reached (reach.ts). The specs select functions in those tables
 * as they do in the preload's (probes.ts).
 *
 * Installing, per selected function:
 * - **An entry breakpoint** (the breakpoint installer). A conditional breakpoint at the start of
 *   its body, whose condition calls `DebugHooks.hit` with the call's arguments and says no: the
 *   call is matched, counted and reported there, and the thread never stops. It sees every
 *   call, through any reference, taken whenever: a route handler given to a router before the
 *   trace, a listener, a callback a library kept. It reports calls only (no return, exception
 *   or promise: the condition runs before the body), and each hit costs 50 to 150 µs
 *   (bench/binding-breakpoint.mjs), which the overhead budget bounds.
 * - **A binding swap** (the binding installer), for a function a top-level binding holds, or a
 *   property of an object such a binding holds (a class's prototype and statics, an object's
 *   methods; reach.ts). While a file is armed ("armed: waiting for the first call into db"),
 *   the condition of a hit in it also hands over a function made in that function's scope,
 *   `(c) => eval(c)` (or, where code from strings is disallowed, a pair of closures per
 *   binding), through which every binding of the file that the function can see is read and
 *   swapped for a faithful wrapper (wrapper.ts) that feeds the one pipeline with calls,
 *   returns, exceptions and promises. No pause. Properties are replaced as runtime wrappers
 *   replace them; a CommonJS module's exports that hold a selected function, when the trace
 *   starts. A `const` refuses the write: it is set at a pause (`Debugger.setVariableValue`,
 *   about 1 ms), taken only while no inspector server is open (a debugger attached there would
 *   hold the pause). The call in flight when its file is armed is reported by its breakpoint
 *   (its call only). From then on a call through the name costs the wrapper's few nanoseconds,
 *   and the entry breakpoint stays for calls through references, telling them apart by a mark
 *   the wrapper sets (`state.via`).
 *
 * The overhead budget (budget.ts): every hit of a breakpoint (and every pause) is counted
 * against the thread's time, in windows of a second. Over the budget (default 5 % of a core) a
 * function hot through its name loses its entry breakpoint at its next call through the wrapper,
 * on the spot; if the rest still costs more, the trace ends with its own line.
 *
 * Restoring: every wrapper goes inert at once (straight through to its original); properties
 * get their exact descriptors back; breakpoints come off; bindings get their originals back
 * through the same access, a `const` at a pause inside a function made in its scope at its
 * swap (no program code runs there). Done at once, or at the next turn when the end came from
 * inside a breakpoint's condition or a pause. A binding the program itself changed since is
 * left as it is. Then the session closes if no trace holds it: the Debugger domain is off again.
 */
import { Parser } from 'acorn'
import Module from 'node:module'
import type { ProbeHandler } from '../registry.js'
import { RETURN, type Matcher } from '../match.js'
import { STATE_KEY, isBusy, state } from '../state.js'
import { CONDITION_BASE, debugHooks, debugSession, type DebugScript, type PausedFrame } from './debugger.js'
import type { Installer, InstallerKind, TraceHost } from './installer.js'
import { inspectorUrl } from '../inspector.js'
import { selectsRunning, type Probes, type ProbeTarget } from './probes.js'
import { inBody, locatedIn, type Reach } from './reach.js'
import { debugFile, DebugFile, type DebugPlan, type DebugSpecPlan } from './binding-plan.js'
import { OverheadBudget } from './budget.js'
import { Target, install as installSite, makeWrapper, uninstall as uninstallSite, type OnMatch, type Site } from './wrapper.js'

const apply = Reflect.apply
const construct = Reflect.construct
const getOwnDescriptor = Reflect.getOwnPropertyDescriptor

/** Where the wrapper of a binding sits, and what to put back. */
interface BindingSwap {
  readonly name: string
  readonly original: Function
  readonly wrapper: Function
  /** Read and write the binding: closures made in its scope by a breakpoint's condition; undefined for a `const` (set at a pause). */
  readonly get: (() => unknown) | undefined
  readonly set: ((v: unknown) => void) | undefined
}

/** One selected function: its probe (names, matcher), its reach, its breakpoint and wrapper. */
class Hooked {
  breakpoint: string | undefined
  /** 1 while its entry breakpoint is set: the wrapper marks its calls for it. */
  marking = 0
  /** The hits of the current budget window, through the name and through references. */
  nameHits = 0
  refHits = 0
  target: Target | undefined
  readonly sites: Site[] = []
  binding: BindingSwap | undefined
  /** Its holder has been dealt with: swapped, or found out of reach. */
  armed = false
  /** A `const` binding: only a pause can change it. */
  constPending = false
  constructor(
    readonly entry: FileEntry,
    readonly probe: ProbeTarget,
    readonly reach: Reach,
  ) {}
  get label(): string {
    return `${this.probe.module}:${this.probe.name}`
  }
}

/** A file of the trace: its hooked functions by id, and its arming. */
class FileEntry {
  readonly hooked: (Hooked | undefined)[]
  /** Swaps waiting for a hit: true until every holder of the file was dealt with. */
  arming = false
  /** The names of the file's top-level bindings that hold selected functions. */
  holders: string[] = []
  /** Hits that armed (each may reach only the names its function does not shadow): bounded. */
  armHits = 0
  /** A function made in the file's top-level scope at the arming pause: the restore of `const` bindings pauses in it. */
  reenter: Function | undefined
  constructor(
    readonly index: number,
    readonly file: DebugFile,
  ) {
    this.hooked = new Array<Hooked | undefined>(file.reach.length).fill(undefined)
  }
}

/** Whether a condition's text parses as an expression (else the Debugger would ignore the breakpoint for good). */
function parses(condition: string): boolean {
  try {
    Parser.parseExpressionAt(condition, 0, { ecmaVersion: 'latest' })
    return true
  } catch {
    return false
  }
}

/** Whether this realm may compile code from strings (`--disallow-code-generation-from-strings` says no). */
let codeGeneration: boolean | undefined
function codeFromStrings(): boolean {
  if (codeGeneration === undefined) {
    try {
      codeGeneration = new Function('return 1')() === 1
    } catch {
      codeGeneration = false
    }
  }
  return codeGeneration
}

/** What a condition hands over for a binding: its name, and closures that read and write it. */
type Access = readonly [name: string, get: () => unknown, set: (v: unknown) => void]

/** Hits after which a file that still has holders to swap stops trying (their names are shadowed wherever it was called). */
const MAX_ARM_HITS = 64

/** Hits timed to measure what one costs, when a trace starts, and after each second with hits. */
const CALIBRATION_HITS = 24
const RECALIBRATION_HITS = 8

/** The generation of traces in this thread: a condition left by an ended trace answers no. */
let generation = 0

/**
 * The work of both installers for one trace: the breakpoints, the swaps, the budget. The two
 * `Installer`s below are its faces, each reporting the functions it serves.
 */
export class DebugHooks {
  private readonly entries: FileEntry[] = []
  private readonly gen = ++generation
  private readonly session = debugSession()
  private readonly via = state.via
  private budget: OverheadBudget | undefined
  private ended = false
  private onLoad: ((script: DebugScript) => void) | undefined
  private hooked = 0
  readonly bindings: Installer
  readonly breakpoints: Installer

  constructor(
    private readonly host: TraceHost & ProbeHandler,
    private readonly probes: Probes,
    private readonly plan: DebugPlan,
    private readonly onMatch: OnMatch,
    /** The overhead budget: the share of one core the trace may cost (0.05: 5 %). */
    private readonly share: number,
    /** The specs, by the index the probes know them by (`ProbeTarget.specs`). */
    private readonly specs: readonly DebugSpecPlan[],
  ) {
    const self = this
    this.breakpoints = {
      kind: 'breakpoint' as InstallerKind,
      install: (problems: string[]) => self.install(problems),
      restore: () => self.restore(),
      served: () => self.served(false),
    }
    this.bindings = {
      kind: 'binding' as InstallerKind,
      install: () => 0,
      restore: () => self.restore(),
      served: () => self.served(true),
    }
  }

  /** The functions a wrapper serves (or will, once their file is armed), or those only a breakpoint serves. */
  private served(wrapped: boolean): string[] {
    const out: string[] = []
    for (const e of this.entries)
      for (const h of e.hooked) {
        if (h === undefined) continue
        const byWrapper = h.target !== undefined || (e.arming && h.reach.holder !== undefined)
        if (byWrapper === wrapped) out.push(h.label)
      }
    return out
  }

  /** Select the functions, set their entry breakpoints, arm the files with bindings to swap. */
  install(problems: string[]): number {
    this.probes.install(problems)
    if (problems.length > 0) return 0
    this.budget = new OverheadBudget(
      this.share,
      () => this.session.measureHit(RECALIBRATION_HITS),
      this.session.recentHitCost() ?? this.session.measureHit(CALIBRATION_HITS),
      () => {
        for (const e of this.entries) for (const x of e.hooked) if (x !== undefined) x.nameHits = x.refHits = 0
      },
      (now) => (now ? this.markHotNames() : this.overBudget()),
    )
    const hooks = debugHooks()
    hooks.hit = this.onHit
    hooks.arm = this.onArm
    hooks.armEval = this.onArmEval
    for (const file of this.plan.files) {
      this.addFile(file, problems)
      if (problems.length > 0) return 0
    }
    if (this.plan.waitingFor.length > 0) this.waitForFiles(this.plan.waitingFor)
    this.noticeCallsOnly()
    return this.hooked
  }

  /** Set the entry breakpoints of a file's selected functions, swap its exports, arm it. */
  private addFile(file: DebugFile, problems: string[]): void {
    const live = this.probes.live.get(file.file)
    if (live === undefined) return
    const entry = new FileEntry(this.entries.length, file)
    this.entries.push(entry)
    for (let id = 0; id < live.length; id++) {
      const probe = live[id]
      if (probe === undefined) continue
      entry.hooked[id] = new Hooked(entry, probe, file.reach[id])
      this.hooked++
    }
    const holders = new Set<string>()
    for (const h of entry.hooked) {
      const holder = h?.reach.holder
      if (holder !== undefined) holders.add(holder.kind === 'binding' ? holder.name : holder.base)
    }
    entry.holders = [...holders]
    const evaluates = codeFromStrings()
    for (const h of entry.hooked) {
      if (h === undefined) continue
      const reach = h.reach
      const id = reach.id
      // The condition reports the call; while the file is arming, it also hands over a way to
      // read and write the bindings its function can see (its own names shadow the others),
      // made right there: a function that evaluates in that scope, or (where code from strings
      // is not allowed) a pair of closures per binding, which makes the condition longer.
      const args = parses(`f(${reach.args})`) ? reach.args : '[]'
      const hit = `${CONDITION_BASE}.hit(${this.gen}, ${entry.index}, ${id}, ${args})`
      const names = entry.holders.filter((n) => !reach.shadows.has(n))
      let condition = `${hit} && false`
      if (names.length > 0 && evaluates) condition = `${hit} && ${CONDITION_BASE}.armEval(${this.gen}, ${entry.index}, ${id}, (c) => eval(c))`
      else if (names.length > 0)
        condition =
          `${hit} && ${CONDITION_BASE}.arm(${this.gen}, ${entry.index}, ` +
          `[${names.map((n) => `[${JSON.stringify(n)}, () => ${n}, (v) => { ${n} = v }]`).join(', ')}])`
      const bp = this.session.setBreakpoint(file.script, reach.line, reach.column, condition, (frame) => this.armConsts(entry, frame))
      if (bp === undefined || !inBody(reach, bp.line, bp.column)) {
        if (bp !== undefined) this.session.removeBreakpoint(bp.id)
        problems.push(`${h.label}: V8 has no place to stop in its body (line ${reach.line + 1}), so it cannot be traced without the preload`)
        continue
      }
      h.breakpoint = bp.id
      h.marking = 1
      if (reach.holder !== undefined) entry.arming = true
    }
    if (problems.length > 0) return
    this.swapExports(entry)
    this.session.releaseObjects()
    if (entry.arming) this.host.notice(`armed: waiting for the first call into ${file.label} to swap its bindings`)
  }

  /** Specs whose file is not loaded yet: say so, and hook each such file when it loads. */
  private waitForFiles(names: readonly string[]): void {
    const list = [...new Set(names)]
    this.host.notice(
      `${list.join(', ')} ${list.length === 1 ? 'is' : 'are'} not loaded yet: ` +
        `${list.length === 1 ? 'its' : 'their'} functions are hooked when ${list.length === 1 ? 'it loads' : 'they load'}`,
    )
    this.onLoad = (script) => {
      if (this.ended || !this.host.active || !this.specs.some((p) => p.waits === true && selectsRunning(p.selector, script.filename))) return
      const notices: string[] = []
      try {
        const file = debugFile(script)
        if (this.probes.addLive(file.file, notices) > 0) {
          const before = this.hooked
          this.addFile(file, notices)
          if (this.hooked > before && notices.length === 0)
            this.host.notice(`${file.label} loaded: ${this.hooked - before} function${this.hooked - before === 1 ? '' : 's'} hooked`)
        }
      } catch (err) {
        notices.push(`${script.filename} cannot be read: ${err instanceof Error ? err.message : String(err)}`)
      }
      for (const n of notices) this.host.notice(n)
    }
    this.session.loading.add(this.onLoad)
  }

  private readonly onHit = (gen: number, f: number, id: number, args: ArrayLike<unknown>): boolean => this.hit(gen, f, id, args)
  private readonly onArm = (gen: number, f: number, access: readonly Access[]): boolean => this.arm(gen, f, access)
  private readonly onArmEval = (gen: number, f: number, id: number, evaluate: (code: string) => unknown): boolean =>
    this.arm(gen, f, this.accessThrough(f, id, evaluate))

  /**
   * Read and write the bindings a function of a file can see, through a function that evaluates
   * code in its scope (made by its breakpoint's condition): `() => evaluate('fact')`, and a write
   * that hands the value over through the process-wide state. Never throws.
   */
  private accessThrough(f: number, id: number, evaluate: (code: string) => unknown): Access[] {
    const entry = this.entries[f]
    const reach = entry?.file.reach[id]
    if (entry === undefined || reach === undefined) return []
    const slot = `globalThis[Symbol.for(${JSON.stringify(STATE_KEY)})].handoff`
    return entry.holders
      .filter((n) => !reach.shadows.has(n))
      .map((n): Access => [
        n,
        () => evaluate(n),
        (v) => {
          state.handoff = v
          try {
            evaluate(`${n} = ${slot}`)
          } finally {
            state.handoff = undefined
          }
        },
      ])
  }

  /** Functions whose returns a spec asks for but only a breakpoint reaches: said once. */
  private noticeCallsOnly(): void {
    const names: string[] = []
    for (const e of this.entries)
      for (const h of e.hooked)
        if (h !== undefined && h.reach.holder === undefined && [...h.probe.specs].some((i) => this.specs[i]?.spec.return)) names.push(h.label)
    if (names.length === 0) return
    this.host.notice(
      `${names.slice(0, 8).join(', ')}${names.length > 8 ? ` and ${names.length - 8} more` : ''}: ` +
        `no binding holds ${names.length === 1 ? 'it' : 'them'} (nested or anonymous), ` +
        `so a breakpoint reports ${names.length === 1 ? 'its' : 'their'} calls only, not returns or exceptions`,
    )
  }

  /**
   * A hit of an entry breakpoint, inside V8's evaluation of its condition: true pauses the thread
   * (to arm the file). Never throws.
   */
  private hit(gen: number, f: number, id: number, args: ArrayLike<unknown>): boolean {
    if (gen !== this.gen || this.ended) return false
    const h = this.entries[f]?.hooked[id]
    if (h === undefined) return false
    this.budget?.hit()
    if (this.via[0] === 1) {
      // The call came through our wrapper, which reports it.
      this.via[0] = 0
      h.nameHits++
      return h.entry.arming
    }
    h.refHits++
    this.session.inCallback++
    try {
      const t = h.probe
      const n = args.length
      if (!isBusy() && n >= t.min && n <= t.max) {
        const flags = t.match(args, n) & ~RETURN
        if (flags !== 0) this.host.enter(t.file, t, args, n, flags)
      }
    } catch {
      /* never into the program */
    } finally {
      this.session.inCallback--
    }
    return h.entry.arming && !this.ended
  }

  /**
   * The window just went over: functions hot through their names lose their breakpoint at their
   * next call through the wrapper (outside any Debugger callback), before this turn ends.
   */
  private markHotNames(): void {
    for (const e of this.entries)
      for (const h of e.hooked) if (h !== undefined && h.marking === 1 && h.target !== undefined && h.nameHits > 0 && h.nameHits >= h.refHits) h.marking = 2
  }

  /** A call through the name of a function whose breakpoint must come off: take it off now, if outside the Debugger's callbacks. */
  private dropFromWrapper(h: Hooked): boolean {
    if (this.session.inCallback > 0 || this.ended || h.breakpoint === undefined) return false
    this.session.removeBreakpoint(h.breakpoint)
    h.breakpoint = undefined
    h.marking = 0
    this.budget?.forget(h.nameHits)
    this.host.notice(
      `${h.label} (${h.nameHits} calls through its name): the entry breakpoint came off (it cost more than the budget allows; ` +
        `those calls are traced through the binding), so calls through references taken before the trace are no longer seen`,
    )
    return true
  }

  /**
   * The window went over the budget. Entry breakpoints hit mostly through names that a wrapper
   * already serves come off (those calls are traced anyway); if the rest still costs more than
   * the budget, the trace ends.
   */
  private overBudget(): void {
    if (this.ended || !this.host.active) return
    const dropped: string[] = []
    for (const e of this.entries)
      for (const h of e.hooked) {
        if (h === undefined || h.breakpoint === undefined || h.target === undefined || h.nameHits === 0 || h.nameHits < h.refHits) continue
        if (h.marking === 2 && this.dropFromWrapper(h)) continue
        this.session.removeBreakpoint(h.breakpoint)
        h.breakpoint = undefined
        h.marking = 0
        this.budget?.forget(h.nameHits)
        dropped.push(`${h.label} (${h.nameHits} calls through its name)`)
      }
    if (dropped.length > 0)
      this.host.notice(
        `${dropped.join(', ')}: the entry breakpoint came off (it cost more than the budget allows; those calls are traced through the binding), ` +
          `so calls through references taken before the trace are no longer seen`,
      )
    if (this.budget?.over() === true) this.host.end(this.budget.reason())
  }

  /**
   * Arm a file, inside the condition of a breakpoint hit in one of its functions: swap every
   * binding that function can see, through the closures the condition made in its scope. A
   * `const` refuses the write: those wait for a pause (true: pause now), where the Debugger can
   * set them; with a debugger possibly attached, no pause is taken (it could wait for that
   * debugger) and they keep their breakpoint only. Never throws.
   */
  private arm(gen: number, f: number, access: readonly Access[]): boolean {
    const entry = this.entries[f]
    if (gen !== this.gen || this.ended || entry === undefined || !entry.arming) return false
    this.session.inCallback++
    const t0 = performance.now()
    const swapped: Hooked[] = []
    const unreached: Hooked[] = []
    try {
      entry.armHits++
      const byName = new Map<string, Access>()
      for (const a of access) byName.set(a[0], a)
      for (const h of entry.hooked) {
        const holder = h?.reach.holder
        if (h === undefined || holder === undefined || h.armed || h.constPending) continue
        const a = byName.get(holder.kind === 'binding' ? holder.name : holder.base)
        if (a === undefined) continue // shadowed where this hit happened: a hit elsewhere arms it
        let value: unknown
        try {
          value = a[1]()
        } catch (err) {
          // Not initialized yet (a let, const or class read before its line ran): a later hit arms it.
          if (err instanceof ReferenceError && String(err.message).includes('before initialization')) continue
          value = undefined // not reachable from here (no closure refers to it)
        }
        if (holder.kind === 'binding') {
          if (typeof value !== 'function' || (h.target !== undefined && h.target.original !== value)) {
            h.armed = true
            unreached.push(h)
            continue
          }
          const t = this.targetOf(h, value)
          try {
            a[2](t.wrapper)
            h.binding = { name: holder.name, original: value, wrapper: t.wrapper, get: a[1], set: a[2] }
            h.armed = true
            swapped.push(h)
          } catch {
            h.constPending = true
          }
          continue
        }
        h.armed = true
        let owner = value
        for (const step of holder.path) owner = isObject(owner) ? dataOf(owner, step) : undefined
        if (!isObject(owner)) {
          unreached.push(h)
          continue
        }
        const d = getOwnDescriptor(owner, holder.key)
        const fn = d === undefined ? undefined : (d as Record<string, unknown>)[holder.slot]
        if (typeof fn !== 'function') {
          unreached.push(h)
          continue
        }
        if (h.target !== undefined && (fn === h.target.wrapper || h.target.original !== fn)) continue // swapped through the exports already
        const t = this.targetOf(h, fn)
        const site: Site = { owner, key: holder.key, slot: holder.slot, before: d }
        if (installSite(site, t.wrapper)) {
          h.sites.push(site)
          swapped.push(h)
        }
      }
      const consts = entry.hooked.filter((h): h is Hooked => h?.constPending === true)
      const pause = consts.length > 0 && this.canPause()
      if (consts.length > 0 && !pause) {
        for (const h of consts) {
          h.constPending = false
          h.armed = true
        }
        this.host.notice(
          `${consts.map((h) => h.label).join(', ')}: ` +
            `${consts.length === 1 ? 'its binding is a const' : 'their bindings are consts'}, which only a pause can change, ` +
            `and a debugger may be attached (the inspector is open at ${inspectorUrl()}): no pause is taken; calls only, through the entry breakpoint`,
        )
      }
      entry.arming = entry.hooked.some((h) => h?.reach.holder !== undefined && !h.armed && !h.constPending)
      if (entry.arming && entry.armHits >= MAX_ARM_HITS) {
        entry.arming = false
        const left = entry.hooked.filter((h): h is Hooked => h?.reach.holder !== undefined && !h.armed && !h.constPending)
        for (const h of left) h.armed = true
        unreached.push(...left)
      }
      this.noticeArmed(swapped, unreached, performance.now() - t0, false)
      return pause
    } catch {
      return false
    } finally {
      this.session.inCallback--
      this.budget?.pause(performance.now() - t0)
    }
  }

  /** Say what an arming swapped, and which holders stayed out of reach. */
  private noticeArmed(swapped: readonly Hooked[], unreached: readonly Hooked[], ms: number, paused: boolean): void {
    if (swapped.length > 0)
      this.host.notice(
        `swapped the bindings of ${swapped.map((h) => h.label).join(', ')} ` + (paused ? `(the thread paused ${Math.round(ms * 10) / 10} ms)` : `(no pause)`),
      )
    // Out of reach: calls only through the entry breakpoint, but in full through the module's
    // exports when they hold the function (swapped when the trace started).
    for (const [list, exported] of [
      [unreached.filter((h) => h.target === undefined), false],
      [unreached.filter((h) => h.target !== undefined), true],
    ] as const) {
      if (list.length === 0) continue
      const one = list.length === 1
      this.host.notice(
        `${list.map((h) => h.label).join(', ')}: ` +
          `no closure refers to ${one ? 'its binding' : 'their bindings'}, so V8 keeps no place to swap; ` +
          (exported
            ? `calls through the module's exports are traced in full, other calls only through ${one ? 'its' : 'their'} entry breakpoint (calls only)`
            : `calls only, through ${one ? 'its' : 'their'} entry breakpoint`),
      )
    }
  }

  /** Whether this thread may pause for a swap: not while an inspector server is open (a debugger there would hold the pause). */
  private canPause(): boolean {
    return inspectorUrl() === undefined
  }

  /** The arming pause, for the file's `const` bindings: set them at the Debugger, and keep a function made in their scope for the restore. */
  private armConsts(entry: FileEntry, frame: PausedFrame): void {
    const consts = entry.hooked.filter((h): h is Hooked => h?.constPending === true)
    if (consts.length === 0 || this.ended) return
    const t0 = performance.now()
    const swapped: Hooked[] = []
    const unreached: Hooked[] = []
    try {
      entry.reenter ??= this.session.valueOf(this.session.evaluateOn(frame, '(function () {})')) as Function
      const scopes = this.topScopes(frame)
      for (const h of consts) {
        h.constPending = false
        h.armed = true
        const name = (h.reach.holder as { name: string }).name
        const where = scopes.find((sc) => sc.names.has(name))
        const id = where?.names.get(name)
        const original = id === undefined ? undefined : this.session.valueOf(id)
        if (where === undefined || typeof original !== 'function') {
          unreached.push(h)
          continue
        }
        const t = this.targetOf(h, original)
        this.session.setVariable(frame, where.index, name, t.wrapper)
        h.binding = { name, original, wrapper: t.wrapper, get: undefined, set: undefined }
        swapped.push(h)
      }
    } catch (err) {
      // All of the file's const swaps or none.
      for (const h of swapped) this.unswap(h, frame)
      this.host.end(`could not swap the bindings of ${entry.file.label}: ${err instanceof Error ? err.message : String(err)}`)
      return
    } finally {
      this.session.releaseObjects()
      this.budget?.pause(performance.now() - t0)
    }
    this.noticeArmed(swapped, unreached, performance.now() - t0, true)
  }

  /** The frame's scopes that can hold a top-level binding, outermost first, with their names. */
  private topScopes(frame: PausedFrame): { index: number; names: Map<string, string | undefined> }[] {
    const out: { index: number; names: Map<string, string | undefined> }[] = []
    for (let i = frame.scopeChain.length - 1; i >= 1; i--) {
      const type = frame.scopeChain[i].type
      if (type === 'module' || type === 'closure' || type === 'script') out.push({ index: i, names: this.session.scopeNames(frame, i) })
    }
    // Script scope (global lexical bindings) last: a module's own binding of the name wins.
    return [...out.filter((s) => frame.scopeChain[s.index].type !== 'script'), ...out.filter((s) => frame.scopeChain[s.index].type === 'script')]
  }

  /** The wrapper of a hooked function's original (one per original). */
  private targetOf(h: Hooked, original: Function): Target {
    if (h.target !== undefined) return h.target
    const t = new Target(original, h.probe.module, h.probe.name, h.probe.match as Matcher)
    t.min = h.probe.min
    t.max = h.probe.max
    const via = this.via
    const self = this
    const generator = h.probe.info.generator
    // The wrapper calls the original through this mark: its entry breakpoint then knows the
    // call came through the name (a generator's body starts at its first next(): never marked).
    const mark = function (this: unknown) {
      const m = h.marking
      if (m !== 0 && !generator && (m === 1 || !self.dropFromWrapper(h))) via[0] = 1
      return new.target === undefined ? apply(original, this, arguments) : construct(original, arguments, new.target)
    }
    t.call = mark
    makeWrapper(t, this.onMatch)
    h.target = t
    return t
  }

  /**
   * A CommonJS module's exports: every selected function they hold (the exports themselves, their
   * properties, an exported class's statics and prototype methods) is replaced there by its
   * wrapper now, found by where V8 says its code starts. No pause is needed for a property.
   */
  private swapExports(entry: FileEntry): void {
    if (entry.file.script.module) return
    const m = (Module as unknown as { _cache: Record<string, { exports: unknown } | undefined> })._cache[entry.file.filename]
    if (m === undefined) return
    const places: { owner: object; key: string }[] = [{ owner: m, key: 'exports' }]
    const add = (o: unknown) => {
      if (o === null || (typeof o !== 'object' && typeof o !== 'function')) return
      for (const k of Reflect.ownKeys(o)) if (typeof k === 'string' && k !== 'prototype' && k !== 'constructor') places.push({ owner: o, key: k })
    }
    const exp = m.exports
    add(exp)
    const classes: unknown[] = typeof exp === 'function' ? [exp] : []
    if (exp !== null && typeof exp === 'object') for (const { key } of places.slice(1)) classes.push(dataOf(exp, key))
    for (const c of classes) if (typeof c === 'function') add(dataOf(c, 'prototype'))
    const scriptId = entry.file.script.id
    for (const { owner, key } of places) {
      const d = getOwnDescriptor(owner, key)
      if (d === undefined || typeof d.value !== 'function') continue
      const fn = d.value as Function
      let h = entry.hooked.find((x) => x?.target?.original === fn)
      if (h === undefined) {
        const loc = this.session.locationOf(fn)
        if (loc === undefined || loc.scriptId !== scriptId) continue
        h = entry.hooked.find((x) => x !== undefined && x.target === undefined && locatedIn(x.reach, loc.line, loc.column))
      }
      if (h === undefined) continue
      const t = this.targetOf(h, fn)
      const site: Site = { owner, key, slot: 'value', before: d }
      if (installSite(site, t.wrapper)) h.sites.push(site)
    }
  }

  /** Undo one function's swaps: its properties, and its binding (a `const` needs a pause in its scope: `frame`). */
  private unswap(h: Hooked, frame: PausedFrame | undefined, scopes = frame === undefined ? [] : this.topScopes(frame)): void {
    if (h.target !== undefined) h.target.on = 0
    for (let i = h.sites.length - 1; i >= 0; i--) uninstallSite(h.sites[i], h.target!.wrapper)
    h.sites.length = 0
    const b = h.binding
    if (b === undefined) return
    if (b.set !== undefined) {
      // A binding the program changed since is left as it is.
      try {
        if (b.get!() === b.wrapper) b.set(b.original)
      } catch {
        /* out of reach now: the wrapper stays, inert */
      }
      h.binding = undefined
      return
    }
    if (frame === undefined) return
    for (const sc of scopes) {
      if (!sc.names.has(b.name)) continue
      const id = sc.names.get(b.name)
      if (id !== undefined && this.session.valueOf(id) === b.wrapper) this.session.setVariable(frame, sc.index, b.name, b.original)
      break
    }
    h.binding = undefined
  }

  /** End: wrappers inert and properties back now; breakpoints and bindings now or at the next turn. */
  restore(): void {
    if (this.ended) return
    this.ended = true
    this.budget?.stop()
    if (this.onLoad !== undefined) this.session.loading.delete(this.onLoad)
    for (const e of this.entries)
      for (const h of e.hooked) {
        if (h === undefined) continue
        h.marking = 0
        if (h.target !== undefined) h.target.on = 0
        for (let i = h.sites.length - 1; i >= 0; i--) uninstallSite(h.sites[i], h.target!.wrapper)
        h.sites.length = 0
      }
    this.probes.restore()
    if (this.session.inCallback > 0) setImmediate(() => this.finish())
    else this.finish()
  }

  /** Breakpoints off, bindings back (a `const` at a pause in its file's scope), the session released. */
  private finish(): void {
    try {
      for (const e of this.entries)
        for (const h of e.hooked)
          if (h?.breakpoint !== undefined) {
            this.session.removeBreakpoint(h.breakpoint)
            h.breakpoint = undefined
          }
      for (const e of this.entries) {
        for (const h of e.hooked) if (h?.binding?.set !== undefined) this.unswap(h, undefined)
        const consts = e.hooked.filter((h): h is Hooked => h?.binding !== undefined)
        const reenter = e.reenter
        e.reenter = undefined
        if (consts.length === 0 || reenter === undefined || !this.canPause()) continue
        const bp = this.session.setFunctionBreakpoint(reenter, (frame) => {
          const scopes = this.topScopes(frame)
          for (const h of consts) this.unswap(h, frame, scopes)
        })
        try {
          reenter()
        } finally {
          this.session.removeBreakpoint(bp)
        }
      }
    } catch {
      /* never into the program; what could not be put back stays inert */
    } finally {
      this.session.releaseObjects()
      const hooks = debugHooks()
      if (hooks.hit === this.onHit) hooks.hit = undefined
      if (hooks.arm === this.onArm) hooks.arm = undefined
      if (hooks.armEval === this.onArmEval) hooks.armEval = undefined
      this.session.release()
    }
  }
}

const isObject = (v: unknown): v is object => (typeof v === 'object' && v !== null) || typeof v === 'function'

/** A data property's value, never running a getter or a proxy trap. */
function dataOf(o: object, key: string): unknown {
  const d = getOwnDescriptor(o, key)
  return d !== undefined && 'value' in d ? d.value : undefined
}

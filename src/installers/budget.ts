/**
 * Budget: what a trace's breakpoints cost the program, against the share of a core it may take.
 *
 * An entry breakpoint's hit costs the thread 50 to 150 µs (V8 evaluates its condition in the
 * paused frame's scope; bench/binding-breakpoint.mjs), and a `const` swap a pause of about 1 ms.
 * The budget counts both in windows of one second of wall time: hits times the cost of one hit,
 * plus the pauses. The cost of a hit is measured with a breakpoint of the installers' shape on a
 * function of ours (`DebugSession.measureHit`: a burst's median, doubled, for the colder hits of
 * a running program) when a trace starts (or taken from a measure of the last second), and again
 * after every window that had hits, outside the Debugger's callbacks: it grows with what the
 * Debugger holds. The figure is an estimate, not a reading of the program's own time;
 * docs/benchmarks.md §9 compares it with the share measured from outside.
 *
 * When a window goes over, the owner hears it twice: at once (`onOver(true)`, inside the hit:
 * mark what can be dropped without a Debugger call), and at the next turn (`onOver(false)`:
 * drop, then end the trace if the window is still over).
 */
import { budgetReason } from '../lines.js'

/** A window: one second of the thread's time. */
export const WINDOW_MS = 1000

export class OverheadBudget {
  /** What one hit costs, in ms. */
  cost: number
  /** The hits of the current window. */
  hits = 0
  /** The pauses of the current window, in ms. */
  private pauses = 0
  private windowStart = performance.now()
  private checking = false
  private measuring = false
  private stopped = false

  constructor(
    /** The share of one core the trace may cost (0.05: 5 %). */
    readonly share: number,
    /** What one hit costs now (ms); called outside the Debugger's callbacks. */
    private readonly measure: () => number,
    initialCost: number,
    /** A new window began: per-function counts start again. */
    private readonly onWindow: () => void,
    /** The window went over: `now` inside the hit that took it over, then again at the next turn. */
    private readonly onOver: (now: boolean) => void,
  ) {
    this.cost = initialCost
  }

  /** A hit of a breakpoint. Never throws. */
  hit(): void {
    const now = performance.now()
    if (now - this.windowStart >= WINDOW_MS) {
      this.windowStart = now
      this.hits = 0
      this.pauses = 0
      this.onWindow()
      if (!this.measuring) {
        this.measuring = true
        setImmediate(() => {
          this.measuring = false
          if (!this.stopped) this.cost = this.measure()
        }).unref()
      }
    }
    this.hits++
    if (!this.checking && this.over()) {
      this.checking = true
      this.onOver(true)
      setImmediate(() => {
        this.checking = false
        if (!this.stopped) this.onOver(false)
      })
    }
  }

  /** A pause of the thread, in ms. */
  pause(ms: number): void {
    this.pauses += ms
  }

  /** Hits that no longer count (their breakpoint came off: those calls are the wrapper's). */
  forget(hits: number): void {
    this.hits = Math.max(0, this.hits - hits)
  }

  /** Whether the current window costs more than the budget. */
  over(): boolean {
    return this.hits * this.cost + this.pauses > this.share * WINDOW_MS
  }

  /** Why the trace ends: the line's reason, with the share the window came to. */
  reason(): string {
    const spent = this.hits * this.cost + this.pauses
    const elapsed = Math.max(performance.now() - this.windowStart, WINDOW_MS)
    return budgetReason(this.share, this.hits, this.cost, Math.min(1, spent / elapsed))
  }

  stop(): void {
    this.stopped = true
  }
}

/**
 * Limits: every trace has one, and the limiter is what stops it.
 *
 * As in recon_trace, every message counts: a call line and a return line are two messages. In
 * stats mode (stats.ts), where nothing is printed per call, every call counts instead, so that a
 * flood still trips.
 *
 * - A count `N` lets exactly N messages through; the Nth closes the trace.
 * - A rate `[N, ms]` lets at most N messages through per window of `ms` milliseconds; the
 *   message that would be the (N+1)th inside one window trips the trace and is not printed. A
 *   window opens at the first message after the previous one has expired (recon_trace's
 *   `rate_tracer`), so quiet periods cost nothing.
 * - A `time` option (ms) closes the trace after that long, whatever the count.
 *
 * The limiter is consulted on the traced call itself, so it is two integer operations for a
 * count and one clock read for a rate (`performance.now()`; bench/traced.mjs has both).
 */
import { performance } from 'node:perf_hooks'
import { show } from './error.js'

export type Limit = number | readonly [count: number, windowMs: number]

/** The largest count or window accepted: beyond this a "limit" no longer limits anything. */
export const MAX_LIMIT = 10_000_000
export const MAX_WINDOW_MS = 24 * 3600 * 1000

const isPositiveInt = (n: unknown, max: number): n is number => typeof n === 'number' && Number.isInteger(n) && n > 0 && n <= max

/** Check a limit as given by the user; push one problem per fault. */
export function checkLimit(limit: unknown, problems: string[]): Limit | undefined {
  if (isPositiveInt(limit, MAX_LIMIT)) return limit
  if (Array.isArray(limit) && limit.length === 2 && isPositiveInt(limit[0], MAX_LIMIT) && isPositiveInt(limit[1], MAX_WINDOW_MS)) {
    return [limit[0], limit[1]]
  }
  problems.push(
    `the limit ${show(limit)} is not valid: give a message count (an integer from 1 to ${MAX_LIMIT}, e.g. 10) ` +
      `or a rate [count, milliseconds] (e.g. [10, 1000] for 10 messages per second); every trace needs one`,
  )
  return undefined
}

/**
 * Counts messages. `take()` says whether one more message may be printed; `tripped` tells
 * whether the trace must close now (after this message for a count, instead of it for a rate).
 */
export class Limiter {
  /** Messages let through so far. */
  taken = 0
  /** Set once the limit is reached; the session closes the trace when it sees it. */
  tripped = false
  private readonly max: number
  private readonly windowMs: number
  private windowStart = 0
  private inWindow = 0

  constructor(
    readonly limit: Limit,
    /** What it counts, as its trip line says: messages, or calls in stats mode. */
    readonly unit: 'messages' | 'calls' = 'messages',
  ) {
    if (typeof limit === 'number') {
      this.max = limit
      this.windowMs = 0
    } else {
      this.max = limit[0]
      this.windowMs = limit[1]
    }
  }

  /** Why the trace stops once `tripped`, as its last line says it. */
  why(): string {
    const l = this.limit
    return typeof l === 'number'
      ? `rate limit tripped after ${this.taken} ${this.unit}`
      : `rate limit tripped after ${this.taken} ${this.unit} (more than ${l[0]} in ${l[1]} ms)`
  }

  /** One more message: true if it may be printed. Sets `tripped` when the trace must close. */
  take(): boolean {
    if (this.tripped) return false
    if (this.windowMs === 0) {
      this.taken++
      if (this.taken >= this.max) this.tripped = true
      return true
    }
    const now = performance.now()
    if (this.inWindow === 0 || now - this.windowStart > this.windowMs) {
      this.windowStart = now
      this.inWindow = 0
    }
    if (this.inWindow >= this.max) {
      this.tripped = true
      return false
    }
    this.inWindow++
    this.taken++
    return true
  }
}

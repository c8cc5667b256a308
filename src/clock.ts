/**
 * Clock: trace timestamps, to the microsecond, on the wall clock.
 *
 * `performance.now()` is monotonic and fine-grained, but it is not the wall clock that logs and
 * other tools print (`Date.now()`, which NTP keeps right): `performance.timeOrigin +
 * performance.now()` was up to 3 ms off `Date.now()` in a fresh process here, and the two drift
 * apart over a long-lived service's days. So the offset between them is checked at most once a
 * second, when a timestamp is taken, and moved only when it is off by more than `Date.now()`'s
 * own resolution (1 ms): stamps stay within about 1.5 ms of the wall clock, and consecutive
 * stamps between two checks keep their microsecond order.
 */
import { performance } from 'node:perf_hooks'

/**
 * The monotonic clock in ms (`performance.now()`), bound at load: a trace of `performance.now`
 * itself never reaches recon-trace's own clock reads (durations, stats, rate windows).
 */
export const monotonic: () => number = performance.now.bind(performance)

let offset = performance.timeOrigin
let checkedAt = -Infinity

/** Now, in ms since the epoch with a sub-ms fraction, on the wall clock. */
export function wallTime(): number {
  const monotonic = performance.now()
  if (monotonic - checkedAt > 1000) {
    checkedAt = monotonic
    // Date.now() is truncated to the millisecond: the true time is half a millisecond later on average.
    const wall = Date.now() + 0.5
    const drift = wall - (offset + monotonic)
    if (drift > 1 || drift < -1) offset = wall - monotonic
  }
  return offset + monotonic
}

/**
 * A call's duration as the text prints it, three significant figures in the unit that keeps it
 * readable: `412 ns`, `52.3 µs`, `31.2 ms`, `1.20 s`, `95.0 s`.
 */
export function formatDuration(ms: number): string {
  if (!(ms >= 0) || !Number.isFinite(ms)) return '? ms'
  if (ms < 0.001) return `${Math.round(ms * 1e6)} ns`
  if (ms < 1) return `${figures(ms * 1000)} µs`
  if (ms < 1000) return `${figures(ms)} ms`
  return `${figures(ms / 1000)} s`
}

/** Three significant figures, without exponent: `1.20`, `52.3`, `412`, `1234`. */
function figures(x: number): string {
  if (x >= 100) return String(Math.round(x))
  if (x >= 10) return (Math.round(x * 10) / 10).toFixed(1)
  return (Math.round(x * 100) / 100).toFixed(2)
}

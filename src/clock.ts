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

// Trace timestamps (src/clock.ts): microsecond stamps that follow the wall clock.
import { describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { wallTime } from '../src/clock.js'

describe('wallTime', () => {
  it('stays within 1.5 ms of Date.now(), and never goes back between two checks of the offset', () => {
    let last = -Infinity
    for (let i = 0; i < 2000; i++) {
      const before = Date.now()
      const t = wallTime()
      const after = Date.now() + 1 // Date.now() truncates: the true time is below after + 1
      expect(t).toBeGreaterThan(before - 1.5)
      expect(t).toBeLessThan(after + 1.5)
      expect(t).toBeGreaterThanOrEqual(last)
      last = t
    }
  })

  it('follows the wall clock when performance.timeOrigin is off, as in a process whose clock was set after it started', () => {
    // A process whose wall clock moved (NTP) after it started: timeOrigin + now() is then off by
    // as much; the stamps are not.
    const r = spawnSync(
      process.execPath,
      [
        '--import',
        'data:text/javascript,' +
          encodeURIComponent(`
          import { performance } from 'node:perf_hooks'
          const real = Date.now
          Date.now = () => real() + 60_000 // the wall clock, one minute ahead of timeOrigin
          const { wallTime } = await import(${JSON.stringify(new URL('../dist/esm/clock.js', import.meta.url).href)})
          // In ms: the stamp within 2 ms of the moved wall clock, timeOrigin a minute behind it.
          // (Not Math.round of a small difference: -0.5 ms rounds to -0, which prints as '-0'.)
          console.log(Math.abs(wallTime() - Date.now()) < 2, Math.round((performance.timeOrigin + performance.now() - Date.now()) / 1000))
        `),
        '-e',
        '',
      ],
      { encoding: 'utf8', timeout: 10_000 },
    )
    expect(r.stdout.trim()).toBe('true -60')
  })
})

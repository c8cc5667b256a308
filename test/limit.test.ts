import { describe, expect, it } from 'vitest'
import { Limiter, checkLimit } from '../src/limit.js'

describe('count limit', () => {
  it('lets exactly N messages through and trips on the Nth', () => {
    const l = new Limiter(3)
    expect([l.take(), l.tripped, l.take(), l.tripped, l.take(), l.tripped]).toEqual([true, false, true, false, true, true])
    expect(l.take()).toBe(false)
    expect(l.taken).toBe(3)
  })
})

describe('rate limit', () => {
  it('lets N messages through in a window and trips on the N+1th, which is not printed', () => {
    const l = new Limiter([2, 1000])
    expect(l.take()).toBe(true)
    expect(l.take()).toBe(true)
    expect(l.tripped).toBe(false)
    expect(l.take()).toBe(false)
    expect(l.tripped).toBe(true)
    expect(l.taken).toBe(2)
  })

  it('opens a new window once the last one has expired', async () => {
    const l = new Limiter([2, 30])
    expect(l.take() && l.take()).toBe(true)
    await new Promise((r) => setTimeout(r, 60))
    expect(l.take() && l.take()).toBe(true)
    expect(l.tripped).toBe(false)
    expect(l.take()).toBe(false)
    expect(l.taken).toBe(4)
  })
})

describe('checkLimit', () => {
  it.each([[0], [-1], [1.5], [[1]], [[1, 0]], ['10'], [undefined], [Infinity]])('refuses %j', (bad) => {
    const problems: string[] = []
    expect(checkLimit(bad, problems)).toBeUndefined()
    expect(problems[0]).toMatch(/give a message count/)
  })

  it('accepts a count and a rate', () => {
    const problems: string[] = []
    expect(checkLimit(10, problems)).toBe(10)
    expect(checkLimit([10, 1000], problems)).toEqual([10, 1000])
    expect(problems).toEqual([])
  })
})

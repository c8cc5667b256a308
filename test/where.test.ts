// pid option: thread selectors decided once, async-context selectors per call.
import { afterEach, describe, expect, it } from 'vitest'
import { AsyncLocalStorage } from 'node:async_hooks'
import { calls, clear } from '../src/index.js'
import { compileWhere, checkPid } from '../src/where.js'
import { collector, drain, requireFixture, untimed } from './helpers.js'

const queue = requireFixture('./queue.cjs')
const Q = './fixtures/queue.cjs'
const me = `<${process.pid}.0>`

afterEach(() => clear())

describe('async context', () => {
  it('traces only calls made inside the matching request, across concurrent requests and awaits', async () => {
    const als = new AsyncLocalStorage<{ id: number }>()
    const out = collector()
    calls(`${Q}:in/2`, 100, { io: out.io, pid: { context: als, match: (store: { id: number }) => store.id === 2 } })
    const request = (id: number) =>
      als.run({ id }, async () => {
        for (let i = 0; i < 3; i++) {
          await new Promise((r) => setTimeout(r, 1 + ((id * 7 + i) % 3)))
          queue.in(`r${id}-${i}`, queue.new())
        }
      })
    queue.in('outside', queue.new())
    await Promise.all([request(1), request(2), request(3)])
    await drain()
    expect(untimed(out.lines)).toEqual([0, 1, 2].map((i) => `${me} queue:in('r2-${i}', Queue { front: [], back: [] })`))
  })

  it('without match, any call inside the context qualifies', async () => {
    const als = new AsyncLocalStorage<string>()
    const out = collector()
    calls(`${Q}:len/1`, 100, { io: out.io, pid: { context: als } })
    queue.len(queue.new())
    als.run('x', () => queue.len(queue.new()))
    await drain()
    expect(out.lines).toHaveLength(1)
  })

  it('a match function that throws counts as no match and is reported once', async () => {
    const als = new AsyncLocalStorage<string>()
    const out = collector()
    calls(`${Q}:len/1`, 100, {
      io: out.io,
      pid: {
        context: als,
        match: () => {
          throw new Error('bad match')
        },
      },
    })
    als.run('x', () => {
      expect(queue.len(queue.new())).toBe(0)
      expect(queue.len(queue.new())).toBe(0)
    })
    await drain()
    expect(out.lines).toEqual([expect.stringMatching(/the pid context match function threw Error: bad match/)])
  })

  it('a list unites a thread selector and a context', async () => {
    const als = new AsyncLocalStorage<string>()
    const out = collector()
    calls(`${Q}:len/1`, 100, { io: out.io, pid: [{ context: als }, 'existing'] })
    queue.len(queue.new())
    await drain()
    expect(out.lines).toHaveLength(1)
  })
})

describe('thread selectors', () => {
  const here = { pid: 4242, threadId: 0, existing: true }
  const never = () => {}

  it.each([
    ['all', true],
    ['existing', true],
    ['new', false],
    ['<4242.0>', true],
    ['<4242.3>', false],
    [0, true],
    [3, false],
  ] as const)('%j selects the existing main thread: %s', (sel, expected) => {
    expect(compileWhere([sel], never, here).here).toBe(expected)
  })

  it("'new' selects a thread started after the trace began", () => {
    expect(compileWhere(['new'], never, { ...here, existing: false }).here).toBe(true)
  })

  it('a worker name selects the thread of that name', () => {
    expect(compileWhere(['db-worker'], never, { ...here, threadId: 2, name: 'db-worker' }).here).toBe(true)
  })

  it('on a thread it does not select, calls() hooks nothing', () => {
    const original = queue.len
    expect(calls(`${Q}:len/1`, 10, { pid: 'new', io: () => {} })).toBe(0)
    expect(queue.len).toBe(original)
  })

  it('refuses bad selectors and shows the right forms', () => {
    const problems: string[] = []
    checkPid(['<12.x>', -1, { context: 1 }, []], problems)
    expect(problems).toHaveLength(4)
    expect(problems[0]).toMatch(/thread label like '<\d+\.0>'/)
  })
})

// Return traces of promises: ~> and ~! without attaching handlers to the program's promises.
import { afterEach, describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { calls, clear } from '../src/index.js'
import { collector, drain, graphOf, requireFixture, sameGraph, untimed } from './helpers.js'

const db = requireFixture('./db.cjs')
const D = './fixtures/db.cjs'
const me = `<${process.pid}.0>`

afterEach(() => clear())

async function settle(ms = 30) {
  await new Promise((r) => setTimeout(r, ms))
  await drain()
}

describe('returned promises', () => {
  it('prints ~> with what a returned promise fulfilled to, and returns the same promise', async () => {
    const out = collector()
    calls(`${D}:findUser/1 -> return`, 10, { io: out.io })
    const p = db.findUser(42)
    expect(p).toBeInstanceOf(Promise)
    expect(await p).toEqual({ id: 42, name: 'x' })
    await settle()
    expect(untimed(out.lines)).toEqual([`${me} db:findUser(42)`, `${me} db:findUser/1 ~> { id: 42, name: 'x' }`])
  })

  it('prints ~! with the rejection, and the program still gets the same error object', async () => {
    const out = collector()
    calls(`${D}:findUser/1 -> return`, 10, { io: out.io })
    let caught: unknown
    try {
      await db.findUser(9)
    } catch (e) {
      caught = e
    }
    expect(caught).toBeInstanceOf(db.NotFoundError)
    await settle()
    expect(untimed(out.lines)[1]).toBe(`${me} db:findUser/1 ~! NotFoundError: no user 9`)
  })

  it('follows a promise that settled before the function returned', async () => {
    const out = collector()
    calls(`${D}:cached/1 -> return`, 10, { io: out.io })
    await db.cached(1)
    await settle()
    expect(untimed(out.lines)[1]).toMatch(/^<\d+\.0> db:cached\/1 ~> \{ id: 1, name: 'ada', password: \[REDACTED\] \}$/)
  })

  it('follows a plain new Promise rejected later by a timer', async () => {
    const out = collector()
    calls(`${D}:load/1 -> return`, 10, { io: out.io })
    await expect(db.load(5)).rejects.toThrow('timeout')
    await settle()
    expect(untimed(out.lines)[1]).toBe(`${me} db:load/1 ~! Error: timeout`)
  })

  it('does not mark a traced promise as handled (a late handler still triggers rejectionHandled)', async () => {
    const out = collector()
    calls(`${D}:load/1 -> return`, 10, { io: out.io })
    const events: string[] = []
    const onUnhandled = (_r: unknown, p: Promise<unknown>) => events.push(p === pending ? 'unhandled:same' : 'unhandled:other')
    const onHandled = (p: Promise<unknown>) => events.push(p === pending ? 'handled:same' : 'handled:other')
    process.on('unhandledRejection', onUnhandled)
    process.on('rejectionHandled', onHandled)
    const pending = db.load(5)
    try {
      await settle(60)
      pending.catch(() => {})
      await settle(10)
    } finally {
      process.off('unhandledRejection', onUnhandled)
      process.off('rejectionHandled', onHandled)
    }
    expect(events).toEqual(['unhandled:same', 'handled:same'])
    expect(untimed(out.lines)[1]).toBe(`${me} db:load/1 ~! Error: timeout`)
  })

  it('a trip on a settled promise (off any call) restores the module graph too', async () => {
    const before = graphOf(db)
    const out = collector()
    calls(`${D}:findUser/1 -> return`, 2, { io: out.io })
    await db.findUser(42)
    await settle()
    expect(sameGraph(before, graphOf(db))).toEqual([])
    expect(out.lines.at(-1)).toBe('recon-trace: rate limit tripped after 2 messages; tracing stopped.')
  })

  it('when the inspector cannot read a promise, says so once and prints the return as a value', async () => {
    const inspector = await import('node:inspector')
    const post = inspector.Session.prototype.post
    inspector.Session.prototype.post = function (this: unknown, method: string, params: unknown, cb?: (err: Error | null, res?: unknown) => void) {
      if (method === 'Runtime.getProperties') return cb?.(new Error('refused'))
      return (post as Function).call(this, method, params, cb)
    } as typeof post
    try {
      const out = collector()
      calls(`${D}:findUser/1 -> return`, 10, { io: out.io })
      expect(await db.findUser(42)).toEqual({ id: 42, name: 'x' })
      expect(await db.findUser(42)).toEqual({ id: 42, name: 'x' })
      await settle()
      expect(untimed(out.lines)).toEqual([
        `${me} db:findUser(42)`,
        'recon-trace: a returned promise cannot be followed (no inspector in this runtime, or too many pending); its return prints as a value',
        `${me} db:findUser/1 --> Promise {}`,
        `${me} db:findUser(42)`,
        `${me} db:findUser/1 --> Promise {}`,
      ])
    } finally {
      inspector.Session.prototype.post = post
    }
  })

  it('after a trip, pending promises are no longer followed and nothing more prints', async () => {
    const out = collector()
    calls(`${D}:findUser/1 -> return`, 1, { io: out.io })
    await db.findUser(42)
    await settle()
    expect(untimed(out.lines)).toEqual([`${me} db:findUser(42)`, 'recon-trace: rate limit tripped after 1 messages; tracing stopped.'])
  })
})

describe('thenables', () => {
  it("prints a non-native thenable as a value and never calls its then (it may run a query)", async () => {
    const shapes = requireFixture('./shapes.cjs')
    let thens = 0
    class QueryBuilder {
      sql = 'select 1'
      then(resolve: (v: unknown) => void) {
        thens++
        resolve([])
      }
    }
    const out = collector()
    const qb = new QueryBuilder()
    calls('./fixtures/shapes.cjs:whoAmI/0 -> return', 10, { io: out.io })
    expect(shapes.whoAmI.call(qb)).toBe(qb)
    await settle()
    expect(thens).toBe(0)
    expect(untimed(out.lines).at(-1)).toBe(`${me} shapes:whoAmI/0 --> QueryBuilder { sql: 'select 1' }`)
  })
})

describe('an unhandled rejection in a real process', () => {
  const run = (...args: string[]) =>
    spawnSync(process.execPath, ['fixtures/programs/unhandled.cjs', ...args], { encoding: 'utf8', timeout: 10_000 })

  it('crashes the traced process exactly as the untraced one (same exit code, same error)', () => {
    const plain = run('plain')
    const traced = run('trace')
    expect(plain.status).toBe(1)
    expect(traced.status).toBe(plain.status)
    expect(traced.stderr).toMatch(/NotFoundError: no user 7/)
    expect(traced.stdout).not.toMatch(/still alive/)
    expect(traced.stdout).toMatch(/TRACE .*db:findUser\(7\)/)
  })

  it('reaches an unhandledRejection listener with the very promise the function returned', () => {
    const plain = run('plain', 'listener')
    const traced = run('trace', 'listener')
    expect(plain.stdout).toMatch(/unhandledRejection NotFoundError same-promise=true/)
    expect(traced.stdout).toMatch(/unhandledRejection NotFoundError same-promise=true/)
    expect(traced.status).toBe(0)
  })
})

// The book's example sessions (Erlang in Anger, ch. 9), transposed to fixtures/queue.cjs, and
// the limits, trips and restores around them.
import { afterEach, describe, expect, it } from 'vitest'
import { calls, clear } from '../src/index.js'
import { collector, drain, graphOf, requireFixture, sameGraph, untimed } from './helpers.js'

const queue = requireFixture('./queue.cjs')
const Q = './fixtures/queue.cjs'
const me = `<${process.pid}.0>`

afterEach(() => clear())

describe("the book's sessions", () => {
  it('1: queue:new/_ with a limit of 1 prints one call and trips', async () => {
    const out = collector()
    expect(calls([Q, 'new', '_'], 1, { io: out.io })).toBe(1)
    queue.new()
    queue.new()
    await drain()
    expect(untimed(out.lines)).toEqual([`${me} queue:new()`, 'recon-trace: rate limit tripped after 1 messages; tracing stopped.'])
  })

  it('2: queue:in/2 shows what is inserted', async () => {
    const out = collector()
    calls(`${Q}:in/2`, 1, { io: out.io })
    queue.in('a', queue.new())
    await drain()
    expect(untimed(out.lines)[0]).toBe(`${me} queue:in('a', Queue { front: [], back: [] })`)
  })

  it('3: a predicate returning "return" adds return lines, and each line counts', async () => {
    const out = collector()
    calls([Q, 'in', () => 'return'], 3, { io: out.io })
    queue.in('a', queue.new())
    queue.in('a', queue.new())
    await drain()
    expect(untimed(out.lines)).toEqual([
      `${me} queue:in('a', Queue { front: [], back: [] })`,
      `${me} queue:in/2 --> Queue { front: ['a'], back: [] }`,
      `${me} queue:in('a', Queue { front: [], back: [] })`,
      'recon-trace: rate limit tripped after 3 messages; tracing stopped.',
    ])
  })

  it('4: a wildcard function with a guard on the arguments, rate-limited, then clear()', async () => {
    const out = collector()
    const n = calls(`${Q}:_(a, _) when Array.isArray(a) || (typeof a === "number" && a > 1) -> return`, [10, 100], { io: out.io })
    expect(n).toBeGreaterThanOrEqual(7)
    queue.in(3, queue.new())
    queue.in(1, queue.new())
    queue.split(4, queue.fromList([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]))
    await drain()
    clear()
    expect(untimed(out.lines)).toEqual([
      `${me} queue:in(3, Queue { front: [], back: [] })`,
      `${me} queue:in/2 --> Queue { front: [3], back: [] }`,
      `${me} queue:split(4, Queue { front: [10, 9, 8, 7, 6, 5, 4, 3, 2, 1], back: [] })`,
      `${me} queue:split/2 --> [Queue { front: [4, 3, 2, 1], back: [] }, Queue { front: [10, 9, 8, 7, 6, 5], back: [] }]`,
    ])
  })
})

describe('limits', () => {
  it('a count trips on the Nth message exactly, removing every hook before the next line runs', async () => {
    const before = graphOf(queue)
    const out = collector()
    calls(`${Q}:len/1`, 5, { io: out.io })
    for (let i = 0; i < 5; i++) queue.len(queue.new())
    expect(sameGraph(before, graphOf(queue))).toEqual([])
    queue.len(queue.new())
    await drain()
    expect(out.lines.filter((l) => l.includes('queue:len('))).toHaveLength(5)
  })

  it('a rate lets N per window through and trips on the N+1th within one window', async () => {
    const before = graphOf(queue)
    const out = collector()
    calls(`${Q}:len/1`, [3, 60_000], { io: out.io })
    for (let i = 0; i < 4; i++) queue.len(queue.new())
    expect(sameGraph(before, graphOf(queue))).toEqual([])
    for (let i = 0; i < 6; i++) queue.len(queue.new())
    await drain()
    expect(untimed(out.lines)).toEqual([
      ...Array(3).fill(`${me} queue:len(Queue { front: [], back: [] })`),
      'recon-trace: rate limit tripped after 3 messages (more than 3 in 60000 ms); tracing stopped.',
    ])
  })

  it('a rate below its limit runs on across windows', async () => {
    const out = collector()
    calls(`${Q}:len/1`, [2, 20], { io: out.io })
    for (let w = 0; w < 3; w++) {
      queue.len(queue.new())
      queue.len(queue.new())
      await new Promise((r) => setTimeout(r, 40))
    }
    await drain()
    expect(out.lines.filter((l) => l.includes('queue:len('))).toHaveLength(6)
    expect(out.lines.join('\n')).not.toMatch(/tripped/)
  })

  it('a time limit ends the trace with its own line', async () => {
    const before = graphOf(queue)
    const out = collector()
    calls(`${Q}:len/1`, 100, { io: out.io, time: 30 })
    queue.len(queue.new())
    await new Promise((r) => setTimeout(r, 60))
    await drain()
    expect(sameGraph(before, graphOf(queue))).toEqual([])
    expect(out.lines.at(-1)).toBe('recon-trace: time limit of 30 ms reached after 1 messages; tracing stopped.')
  })

  it('a new calls() replaces the trace before it', async () => {
    const a = collector()
    const b = collector()
    calls(`${Q}:len/1`, 100, { io: a.io })
    calls(`${Q}:new/0`, 100, { io: b.io })
    queue.len(queue.new())
    await drain()
    expect(a.lines).toEqual([])
    expect(untimed(b.lines)).toEqual([`${me} queue:new()`])
  })

  it('clear() writes what was queued and no trip line', async () => {
    const out = collector()
    calls(`${Q}:new/0`, 100, { io: out.io })
    queue.new()
    clear()
    await drain()
    expect(untimed(out.lines)).toEqual([`${me} queue:new()`])
  })
})

describe('options', () => {
  it("args: 'arity' prints module:function/arity", async () => {
    const out = collector()
    calls(`${Q}:in/2`, 1, { io: out.io, args: 'arity' })
    queue.in('a', queue.new())
    await drain()
    expect(untimed(out.lines)[0]).toBe(`${me} queue:in/2`)
  })

  it("timestamp: 'trace' stamps the call itself, to the microsecond", async () => {
    const out = collector()
    calls(`${Q}:new/0`, 1, { io: out.io, timestamp: 'trace' })
    const t0 = Date.now()
    queue.new()
    await new Promise((r) => setTimeout(r, 50))
    await drain()
    const [h, m, s] = out.lines[0].slice(0, 15).split(':')
    const d = new Date(t0)
    const stamped = new Date(d.getFullYear(), d.getMonth(), d.getDate(), Number(h), Number(m), 0).getTime() + Number(s) * 1000
    expect(Math.abs(stamped - t0)).toBeLessThan(20)
    expect(out.lines[0]).toMatch(/^\d\d:\d\d:\d\d\.\d{6} /)
  })

  it('a custom formatter decides the text; an empty string prints nothing but counts', async () => {
    const out = collector()
    calls(`${Q}:len/1`, 3, { io: out.io, formatter: (e) => (e.arity === 1 ? '' : 'x') })
    for (let i = 0; i < 5; i++) queue.len(queue.new())
    await drain()
    expect(out.lines).toEqual(['recon-trace: rate limit tripped after 3 messages; tracing stopped.'])
  })

  it('a formatter that throws is reported once and never reaches the program', async () => {
    const out = collector()
    calls(`${Q}:len/1`, 10, {
      io: out.io,
      formatter: () => {
        throw new Error('bad formatter')
      },
    })
    expect(queue.len(queue.new())).toBe(0)
    expect(queue.len(queue.new())).toBe(0)
    await drain()
    expect(out.lines.filter((l) => l.includes('bad formatter'))).toHaveLength(1)
  })

  it('a predicate that throws counts as no match, is reported once, and never reaches the program', async () => {
    const out = collector()
    calls(
      [Q, 'len', () => {
        throw new Error('bad predicate')
      }],
      10,
      { io: out.io },
    )
    expect(queue.len(queue.new())).toBe(0)
    expect(queue.len(queue.new())).toBe(0)
    await drain()
    expect(out.lines).toEqual([expect.stringMatching(/the predicate of .* threw Error: bad predicate; counted as no match, reported once/)])
  })

  it('what a predicate throws is described without running its code (a thrown Proxy, a thrown string)', async () => {
    let traps = 0
    const hostile = new Proxy(new Error('x'), { get: () => void traps++, getPrototypeOf: () => (traps++, Error.prototype) })
    const out = collector()
    calls(
      [Q, 'len', () => {
        throw hostile
      }],
      10,
      { io: out.io },
    )
    queue.len(queue.new())
    calls(
      [Q, 'len', () => {
        throw 'plain words'
      }],
      10,
      { io: out.io },
    )
    queue.len(queue.new())
    await drain()
    expect(traps).toBe(0)
    expect(out.lines).toEqual([
      expect.stringMatching(/threw Proxy; counted as no match/),
      expect.stringMatching(/threw 'plain words'; counted as no match/),
    ])
  })

  it('JSON Lines carry one object per event', async () => {
    const out = collector()
    calls(`${Q}:in/2 -> return`, 2, { io: out.io, json: true })
    queue.in('a', queue.new())
    await drain()
    const [call, ret] = out.lines.slice(0, 2).map((l) => JSON.parse(l))
    expect(call).toMatchObject({ type: 'call', module: 'queue', function: 'in', arity: 2, pid: process.pid })
    expect(ret).toMatchObject({ type: 'return', module: 'queue', function: 'in', arity: 2 })
  })

  it('the stack action captures the caller, first frame in this file', async () => {
    const out = collector()
    calls(`${Q}:len/1 -> stack`, 1, { io: out.io })
    queue.len(queue.new())
    await drain()
    expect(out.lines.join('\n')).toMatch(/at .*session\.test\.ts:\d+:\d+/)
  })
})

describe('modules', () => {
  it('hooks a module loaded after calls() on its first load', async () => {
    const out = collector()
    expect(calls('./fixtures/late.cjs:hello/1', 5, { io: out.io })).toBe(0)
    const late = requireFixture('./late.cjs')
    expect(late.hello('you')).toBe('hello you')
    await drain()
    expect(untimed(out.lines)).toEqual([`${me} late:hello('you')`])
  })

  it("a wildcard module reaches the named function in every module, loaded before or after", async () => {
    const late = requireFixture('./late.cjs')
    const out = collector()
    expect(calls('_:hello/1', 10, { io: out.io })).toBe(1)
    const twin = requireFixture('./late-twin.cjs')
    late.hello('a')
    twin.hello('b')
    await drain()
    expect(untimed(out.lines)).toEqual([`${me} late:hello('a')`, `${me} late-twin:hello('b')`])
    clear()
    expect(twin.hello.toString()).toMatch(/hello again/)
  })

  it('traces the function a module exports as itself (default)', async () => {
    const greet = requireFixture('./default-fn.cjs')
    const out = collector()
    calls('./fixtures/default-fn.cjs:default/1', 5, { io: out.io })
    const traced = requireFixture('./default-fn.cjs')
    expect(traced).not.toBe(greet)
    expect(traced.version).toBe(1)
    expect(traced('bob')).toBe('hi bob')
    clear()
    expect(requireFixture('./default-fn.cjs')).toBe(greet)
    await drain()
    expect(untimed(out.lines)).toEqual([`${me} default-fn:default('bob')`])
  })

  it('traces node: builtins and restores them', async () => {
    const path = await import('node:path')
    const original = path.default.basename
    const out = collector()
    calls('node:path:basename/1', 1, { io: out.io })
    expect(path.default.basename('/a/b.txt')).toBe('b.txt')
    await drain()
    expect(path.default.basename).toBe(original)
    expect(untimed(out.lines)[0]).toBe(`${me} node:path:basename('/a/b.txt')`)
  })

  it("keeps a builtin's ES module named exports in step, while traced and after", async () => {
    const ns = await import('node:path')
    const original = ns.basename
    const out = collector()
    calls('node:path:basename/1', 10, { io: out.io })
    expect(ns.basename).not.toBe(original)
    expect(ns.basename('/x/y.js')).toBe('y.js')
    clear()
    expect(ns.basename).toBe(original)
    await drain()
    expect(untimed(out.lines)).toEqual([`${me} node:path:basename('/x/y.js')`])
  })

  it('traces an object given directly, and restores it by removing the shadowing property', async () => {
    const { EventEmitter } = await import('node:events')
    const server = new EventEmitter()
    const own = Object.getOwnPropertyNames(server)
    const out = collector()
    calls([server, 'emit', '_'], 2, { io: out.io })
    server.emit('ready', 1)
    new EventEmitter().emit('other')
    await drain()
    expect(untimed(out.lines)).toEqual([`${me} EventEmitter:emit('ready', 1)`])
    expect(Object.getOwnPropertyNames(server)).toEqual([...own, 'emit'])
    clear()
    expect(Object.getOwnPropertyNames(server)).toEqual(own)
    expect(server.emit).toBe(EventEmitter.prototype.emit)
  })

  it('serves an ES module in global scope without the preload: waits for it to load, saying so', async () => {
    // The module is not loaded here: the binding installer hooks its functions when it loads.
    const c = collector()
    expect(calls('./fixtures/esm.mjs:esmOnly/1', 1, { io: c.io })).toBe(0)
    clear()
    await drain()
    // On V8 11 binding swaps are off (installers/debugger.ts): live edit waits for it instead.
    expect(c.lines).toEqual([
      Number(process.versions.v8.split('.')[0]) <= 11
        ? 'recon-trace: esm is not loaded yet: live edit probes it when it loads'
        : 'recon-trace: esm is not loaded yet: its functions are hooked when it loads',
    ])
  })

  it('refuses a module that cannot be resolved', () => {
    expect(() => calls('./fixtures/nope.js:f/1', 1)).toThrow(/cannot resolve the module "\.\/fixtures\/nope\.js"/)
  })

  it('refuses console, node:inspector and the output stream', () => {
    expect(() => calls([console, 'log', '_'], 1)).toThrow(/console is refused/)
    expect(() => calls('node:inspector:open/_', 1)).toThrow(/refused/)
    expect(() => calls([process.stderr, 'write', '_'], 1)).toThrow(/refused: recon-trace writes its output through it/)
  })

  it('refuses the stream the output goes to, but traces another stream', async () => {
    const { Writable } = await import('node:stream')
    const sink = new Writable({ write: (_c, _e, cb) => cb() })
    expect(() => calls([sink, 'write', '_'], 1, { io: sink })).toThrow(/refused: recon-trace writes its output through it/)
    expect(() => calls('node:stream:Writable#write/_', 1, { io: sink })).toThrow(/refused/)
    const out = collector()
    expect(calls([sink, 'write', '_'], 1, { io: out.io })).toBe(1)
    sink.write('x')
    await drain()
    expect(untimed(out.lines)[0]).toMatch(/Writable:write\('x'\)/)
  })

  it('refuses to trace recon-trace itself', () => {
    expect(() => calls('./src/session.ts:calls/_', 1)).toThrow(/recon-trace itself is refused/)
  })
})

// The output queue: off the call, bounded, honouring back-pressure, saying what it dropped.
import { afterEach, describe, expect, it } from 'vitest'
import { Writable } from 'node:stream'
import { calls, clear } from '../src/index.js'
import { collector, drain, requireFixture } from './helpers.js'
import { formatEvent, type TraceEvent } from '../src/format.js'

const queue = requireFixture('./queue.cjs')
const shapes = requireFixture('./shapes.cjs')
const Q = './fixtures/queue.cjs'

afterEach(() => clear())

/** A stream that accepts writes only when told to (back-pressure on demand). */
function slowStream(highWaterMark = 16) {
  const chunks: string[] = []
  let release: (() => void) | undefined
  const stream = new Writable({
    highWaterMark,
    write(chunk, _enc, cb) {
      chunks.push(String(chunk))
      release = cb
    },
  })
  return {
    stream,
    chunks,
    next: () => {
      const r = release
      release = undefined
      r?.()
    },
  }
}

describe('output', () => {
  it('writes nothing during the traced call: lines appear only at a later turn', async () => {
    const out = collector()
    calls(`${Q}:len/1`, 10, { io: out.io })
    queue.len(queue.new())
    expect(out.lines).toEqual([])
    await drain()
    expect(out.lines).toHaveLength(1)
  })

  it('waits for drain when the stream signals back-pressure, then writes the rest in order', async () => {
    const s = slowStream()
    calls(`${Q}:len/1`, 1000, { io: s.stream, queue: 1000 })
    for (let i = 0; i < 50; i++) queue.len(queue.fromList([i]))
    await drain()
    expect(s.chunks).toHaveLength(1)
    for (let i = 0; i < 10; i++) {
      s.next()
      await drain()
    }
    const lines = s.chunks.join('').split('\n').filter(Boolean)
    expect(lines).toHaveLength(50)
    expect(lines.every((l, i) => l.includes(`queue:len(Queue { front: [${i}], back: [] })`))).toBe(true)
  })

  it('drops what overflows the queue, counts it, and says so once the stream drains', async () => {
    const s = slowStream()
    calls(`${Q}:len/1`, 1000, { io: s.stream, queue: 10 })
    queue.len(queue.new()) // written at once; the stream then holds back
    await drain()
    for (let i = 0; i < 100; i++) queue.len(queue.new())
    for (let i = 0; i < 5; i++) {
      s.next()
      await drain()
    }
    const text = s.chunks.join('')
    expect(text.split('\n').filter((l) => l.includes('queue:len('))).toHaveLength(11)
    expect(text).toMatch(/recon-trace: 90 messages dropped: the output could not keep up \(queue of 10\)/)
  })

  it('an io function that throws is reported once and the program never sees it', async () => {
    const seen: string[] = []
    calls(`${Q}:len/1`, 10, {
      io: (line) => {
        seen.push(line)
        throw new Error('io broke')
      },
    })
    expect(queue.len(queue.new())).toBe(0)
    await drain()
    expect(seen.length).toBeGreaterThan(0)
  })
})

describe('events written are filled again for the next messages', () => {
  it('a message never shows a field of the one written before it: arguments, value, stack', async () => {
    const out = collector()
    calls([`${Q}:fromList/1 -> return`, `${Q}:len/1 -> stack`, `${Q}:new/0`], 100, { io: out.io })
    for (let round = 0; round < 3; round++) {
      queue.len(queue.fromList([round, 'x']))
      queue.new()
      await drain()
    }
    const lines = out.lines.flatMap((l) => l.split('\n')).map((l) => l.replace(/^\S+ <\d+\.\d+> /, ''))
    const at = (l: string) => l.startsWith('    at ')
    expect(lines.filter((l) => !at(l)).map((l) => l.replace(/ \([^)]*s\)$/, ''))).toEqual(
      [0, 1, 2].flatMap((r) => [
        `queue:fromList([${r}, 'x'])`,
        `queue:fromList/1 --> Queue { front: ['x', ${r}], back: [] }`,
        `queue:len(Queue { front: ['x', ${r}], back: [] })`,
        'queue:new()',
      ]),
    )
    // Each call of len has its stack; no other message has one.
    for (let i = 0; i < lines.length; i++) {
      if (at(lines[i])) continue
      expect(lines[i + 1] !== undefined && at(lines[i + 1])).toBe(lines[i].startsWith('queue:len('))
    }
  })

  it("the user's formatter gets an event of its own each time, which it may keep", async () => {
    const kept: TraceEvent[] = []
    const out = collector()
    calls(`${Q}:fromList/1`, 100, {
      io: out.io,
      formatter: (e) => {
        kept.push(e)
        return e.function
      },
    })
    for (let i = 0; i < 3; i++) {
      queue.fromList([i])
      await drain()
    }
    expect(out.lines).toEqual(['fromList', 'fromList', 'fromList'])
    expect(new Set(kept).size).toBe(3)
    // Stamped when written, for the formatter to read.
    expect(kept.every((e) => e.time > 1.5e12)).toBe(true)
    expect(kept.map((e) => formatEvent(e, { color: false, line: 4096 }).slice(16))).toEqual([0, 1, 2].map((i) => `<${process.pid}.0> queue:fromList([${i}])`))
  })
})

describe('process exit', () => {
  it('leaves no exit listener behind once a trace has finished', async () => {
    await drain() // the previous test's trace closes its output one turn after clear()
    const before = process.listenerCount('exit')
    for (let i = 0; i < 20; i++) {
      calls(`${Q}:len/1`, 1, { io: () => {} })
      queue.len(queue.new())
    }
    await drain()
    expect(process.listenerCount('exit')).toBe(before)
  })

  it('adds one exit listener at most, however many outputs wait on a stream that never drains', async () => {
    await drain()
    const before = process.listenerCount('exit')
    for (let i = 0; i < 12; i++) {
      const stalled = new Writable({ highWaterMark: 1, write: () => {} }) // never calls back
      calls(`${Q}:len/1`, 10, { io: stalled })
      queue.len(queue.new())
      await drain()
    }
    clear()
    await drain()
    expect(process.listenerCount('exit') - before).toBeLessThanOrEqual(1)
  })

  it('writes what is queued when the program exits right after a traced call', async () => {
    const { spawnSync } = await import('node:child_process')
    const r = spawnSync(process.execPath, ['fixtures/programs/exit-now.cjs'], { encoding: 'utf8', timeout: 10_000 })
    expect(r.status).toBe(0)
    expect(r.stdout).toMatch(/queue:len\(Queue \{ front: \[\], back: \[\] \}\)/)
  })
})

describe('values through a live trace run no user code', () => {
  it('a Proxy argument, a getter, valueOf/toString/toJSON/inspect: no trap, no call', async () => {
    let touched = 0
    const proxy = new Proxy({}, { get: () => void touched++, ownKeys: () => (touched++, []), getPrototypeOf: () => (touched++, null) })
    const sneaky = {
      get lazy() {
        touched++
        return 1
      },
      valueOf: () => touched++,
      toString: () => String(touched++),
      toJSON: () => touched++,
      [Symbol.for('nodejs.util.inspect.custom')]: () => touched++,
      [Symbol.toPrimitive]: () => touched++,
    }
    const out = collector()
    calls('./fixtures/shapes.cjs:variadic/2 -> return', 10, { io: out.io })
    expect(shapes.variadic(proxy, sneaky)).toBe(2)
    await drain()
    clear()
    expect(touched).toBe(0)
    expect(out.lines[0]).toMatch(/shapes:variadic\(\[Proxy\], \{ .*lazy: \[Getter\]/)
  })

  it('a huge argument is captured within bounds', async () => {
    const out = collector()
    calls(`${Q}:len/1`, 10, { io: out.io, format: { string: 10, collection: 3 } })
    const q = queue.fromList(['x'.repeat(1_000_000), 2, 3, 4, 5])
    queue.len(q)
    await drain()
    expect(out.lines[0].length).toBeLessThan(300)
    expect(out.lines[0]).toMatch(/more/)
  })
})

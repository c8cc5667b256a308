import { describe, it, expect, afterEach } from 'vitest'
import {
  DEFAULT_FORMAT_OPTIONS,
  eventToJSON,
  eventToJSONText,
  formatEvent,
  formatTime,
  loadColor,
  renderValue,
  setColorizer,
  type ChalkLike,
  type TraceEvent,
} from '../src/format.js'
import { DEFAULT_SNAPSHOT_LIMITS, makeRedactor, snapshot, snapshotArgs, type Snap } from '../src/snapshot.js'

const redact = makeRedactor()
const snap = (v: unknown): Snap => snapshot(v, DEFAULT_SNAPSHOT_LIMITS, redact)
const show = (v: unknown): string => renderValue(snap(v))
const plain = { color: false, line: 4096 }

class Queue {
  front: unknown[] = []
  back: unknown[] = []
}

/** 13:14:55.365157 local time on 2024-11-22. */
const T = new Date(2024, 10, 22, 13, 14, 55, 365).getTime() + 0.157

function event(over: Partial<TraceEvent>): TraceEvent {
  return { type: 'call', time: T, pid: 4242, threadId: 0, module: 'queue', function: 'in', arity: 2, ...over }
}

/** A colorizer that shows which style each piece got. */
const tags: ChalkLike = {
  red: (s) => `<red>${s}</>`,
  green: (s) => `<green>${s}</>`,
  yellow: (s) => `<yellow>${s}</>`,
  cyan: (s) => `<cyan>${s}</>`,
  magenta: (s) => `<magenta>${s}</>`,
  gray: (s) => `<gray>${s}</>`,
  bold: (s) => `<bold>${s}</>`,
}

afterEach(() => setColorizer(undefined))

describe('formatTime', () => {
  it('renders local time as HH:MM:SS.uuuuuu', () => {
    expect(formatTime(T)).toBe('13:14:55.365157')
    expect(formatTime(new Date(2024, 0, 1, 1, 2, 3, 4).getTime())).toBe('01:02:03.004000')
  })

  it('carries a fraction that rounds up to a whole millisecond', () => {
    expect(formatTime(new Date(2024, 0, 1, 1, 2, 3, 999).getTime() + 0.9999)).toBe('01:02:04.000000')
  })
})

describe('formatEvent', () => {
  it('prints a call with its arguments as recon-trace does', () => {
    const args = snapshotArgs(['a', new Queue()], DEFAULT_SNAPSHOT_LIMITS, redact)
    expect(formatEvent(event({ args }), plain)).toBe("13:14:55.365157 <4242.0> queue:in('a', Queue { front: [], back: [] })")
  })

  it('prints a call without arguments (arity mode) as module:function/arity', () => {
    expect(formatEvent(event({}), plain)).toBe('13:14:55.365157 <4242.0> queue:in/2')
  })

  it('prints a call with no arguments as an empty list', () => {
    expect(formatEvent(event({ arity: 0, args: [] }), plain)).toBe('13:14:55.365157 <4242.0> queue:in()')
  })

  it('marks returns, exceptions, fulfilments and rejections with their arrows', () => {
    const q = new Queue()
    q.front.push('a')
    class NotFoundError extends Error {
      override name = 'NotFoundError'
    }
    const ev = (type: TraceEvent['type'], result: unknown, over: Partial<TraceEvent> = {}) => formatEvent(event({ type, result: snap(result), ...over }), plain)
    expect(ev('return', q)).toBe("13:14:55.365157 <4242.0> queue:in/2 --> Queue { front: ['a'], back: [] }")
    expect(ev('exception', new NotFoundError('no user 42'), { module: 'db', function: 'findUser', arity: 1 })).toBe(
      '13:14:55.365157 <4242.0> db:findUser/1 !! NotFoundError: no user 42',
    )
    expect(ev('fulfilled', { id: 42, name: 'x' }, { threadId: 3 })).toBe("13:14:55.365157 <4242.3> queue:in/2 ~> { id: 42, name: 'x' }")
    expect(ev('rejected', new Error('timeout'))).toBe('13:14:55.365157 <4242.0> queue:in/2 ~! Error: timeout')
  })

  it('prints a top-level error result with its cause and extra properties', () => {
    const e = Object.assign(new Error('outer', { cause: new TypeError('inner') }), { code: 'E1' })
    expect(formatEvent(event({ type: 'exception', result: snap(e) }), plain)).toBe(
      "13:14:55.365157 <4242.0> queue:in/2 !! Error: outer { code: 'E1', cause: [TypeError: inner] }",
    )
  })

  it('prints a thrown non-error value as a value', () => {
    expect(formatEvent(event({ type: 'exception', result: 'oops' }), plain)).toBe("13:14:55.365157 <4242.0> queue:in/2 !! 'oops'")
    expect(formatEvent(event({ type: 'return', result: undefined }), plain)).toBe('13:14:55.365157 <4242.0> queue:in/2 --> undefined')
  })

  it('stamps an event taken without a time with the time of formatting', () => {
    const before = formatTime(Date.now()).slice(0, 5)
    const line = formatEvent(event({ time: 0 }), plain)
    expect(line).toMatch(/^\d\d:\d\d:\d\d\.\d{6} <4242\.0> queue:in\/2$/)
    expect(line.slice(0, 5)).toSatisfy((hm: string) => hm === before || hm === formatTime(Date.now()).slice(0, 5))
  })

  it('prints the stack as extra lines after the call', () => {
    const stack = [
      { function: 'handle', file: '/app/server.js', line: 10, column: 5 },
      { function: '', file: '/app/main.js', line: 3, column: 1 },
    ]
    expect(formatEvent(event({ stack }), plain)).toBe(
      ['13:14:55.365157 <4242.0> queue:in/2', '    at handle (/app/server.js:10:5)', '    at /app/main.js:3:1'].join('\n'),
    )
  })

  it('says how many arguments the node budget left out', () => {
    const args = snapshotArgs([[1, 2, 3], 'x', 'y'], { ...DEFAULT_SNAPSHOT_LIMITS, nodes: 3 }, redact)
    expect(formatEvent(event({ arity: 3, args }), plain)).toBe('13:14:55.365157 <4242.0> queue:in([1, 2, ... 1 more item], ... 2 more arguments)')
  })

  it("names each line's own process, thread, module and function, line after line", () => {
    const a = event({})
    const b = event({ pid: 7, threadId: 3, module: 'db', function: 'Pool#query' })
    const c = event({ pid: 7, threadId: 3, module: 'db', function: 'Pool#end' })
    const lines = [a, b, c, a].map((e) => formatEvent(e, plain))
    expect(lines.map((l) => l.slice(16))).toEqual(['<4242.0> queue:in/2', '<7.3> db:Pool#query/2', '<7.3> db:Pool#end/2', '<4242.0> queue:in/2'])
    const json = [a, b, c, a].map((e) => JSON.parse(eventToJSONText(e)) as { pid: number; thread: number; module: string; function: string })
    expect(json.map((j) => `${j.pid}.${j.thread} ${j.module}:${j.function}`)).toEqual(['4242.0 queue:in', '7.3 db:Pool#query', '7.3 db:Pool#end', '4242.0 queue:in'])
  })

  it('cuts a long line to the line limit, ending it with ...', () => {
    const args = [snap('x'.repeat(200))]
    const line = formatEvent(event({ arity: 1, args }), { color: false, line: 60 })
    expect(line).toHaveLength(60)
    // 35 characters before the string, 22 of it, then '...'.
    expect(line).toBe(`13:14:55.365157 <4242.0> queue:in('${'x'.repeat(22)}...`)
  })

  it('cuts each stack line on its own', () => {
    const stack = [{ function: 'f', file: `/${'d/'.repeat(40)}x.js`, line: 1, column: 1 }]
    const [, at] = formatEvent(event({ stack }), { color: false, line: 40 }).split('\n')
    expect(at).toHaveLength(40)
    expect(at.endsWith('...')).toBe(true)
  })

  it('counts only visible characters against the line limit when colored', () => {
    setColorizer(tags)
    const line = formatEvent(event({ arity: 1, args: [snap('abcdefghij')] }), { color: true, line: 40 })
    expect(line).toBe("<gray>13:14:55.365157</> <magenta><4242.0></> <bold>queue:in</>(<green>'ab</>...")
    expect(line.replace(/<\/?[a-z]*>/g, '')).toHaveLength(40)
  })

  it('colors the parts of a line once colors are on, and prints plain otherwise', () => {
    const ev = event({ type: 'exception', result: snap(new Error('x')) })
    setColorizer(tags)
    expect(formatEvent(ev, { color: true, line: 4096 })).toBe('<gray>13:14:55.365157</> <magenta><4242.0></> <bold>queue:in/2</> <red>!!</> <red>Error: x</>')
    expect(formatEvent(ev, plain)).toBe('13:14:55.365157 <4242.0> queue:in/2 !! Error: x')
    setColorizer(undefined)
    expect(formatEvent(ev, { color: true, line: 4096 })).toBe('13:14:55.365157 <4242.0> queue:in/2 !! Error: x')
  })

  it('loads chalk for colors, with ANSI codes forced on', async () => {
    expect(await loadColor()).toBe(true)
    const line = formatEvent(event({ arity: 1, args: [1] }), { color: true, line: 4096 })
    expect(line).toContain('\u001b[33m1\u001b[39m')
    expect(line.replace(/\u001b\[\d+m/g, '')).toBe('13:14:55.365157 <4242.0> queue:in(1)')
  })

  it('has the documented defaults', () => {
    expect(DEFAULT_FORMAT_OPTIONS).toEqual({ color: false, line: 4096 })
  })
})

describe('renderValue', () => {
  it('quotes strings as util.inspect does', () => {
    expect(show('a')).toBe("'a'")
    expect(show("it's")).toBe('"it\'s"')
    expect(show('a\'b"c')).toBe('`a\'b"c`')
    expect(show('a\'b"c`d')).toBe("'a\\'b\"c`d'")
    expect(show('back\\slash')).toBe("'back\\\\slash'")
  })

  it('escapes control characters, terminal escapes and bidi overrides so a value cannot break the line', () => {
    expect(show('a\nb\tc\x01\x1b[31m\u202e\u2028')).toBe("'a\\nb\\tc\\x01\\x1B[31m\\u202E\\u2028'")
    expect(show('\ud800x')).toBe("'\\uD800x'")
    expect(show({ 'new\nline': 1 })).toBe("{ 'new\\nline': 1 }")
    expect(show(new Error('multi\nline'))).toBe('[Error: multi\\nline]')
  })

  it('renders numbers, bigints, symbols and the rest like util.inspect', () => {
    expect(
      snapshotArgs([-0, NaN, -Infinity, 10n, Symbol('s'), Symbol(), undefined, null, true], DEFAULT_SNAPSHOT_LIMITS, redact).map((s) => renderValue(s)),
    ).toEqual(['-0', 'NaN', '-Infinity', '10n', 'Symbol(s)', 'Symbol()', 'undefined', 'null', 'true'])
  })

  it('writes arrays as [1, 2] and objects as { a: 1 }, quoting keys that are not identifiers', () => {
    expect(show([1, [2, 3], {}])).toBe('[1, [2, 3], {}]')
    expect(show({ a: 1, 'b-c': 2, $d: 3, [Symbol('e')]: 4 })).toBe("{ a: 1, 'b-c': 2, '$d': 3, [Symbol(e)]: 4 }")
  })

  it('renders nested errors in brackets, subclasses that kept the base name as util does', () => {
    class Foo extends Error {}
    expect(show({ e: new Foo('x') })).toBe('{ e: [Foo [Error]: x] }')
    expect(show(new Error())).toBe('[Error]')
  })

  it('says how much of a long error message was left out', () => {
    expect(renderValue(snapshot(new Error('abcdef'), { ...DEFAULT_SNAPSHOT_LIMITS, string: 2 }, redact))).toBe('[Error: ab... 4 more characters]')
  })

  it('renders an empty Buffer and collections cut to nothing', () => {
    expect(show(Buffer.alloc(0))).toBe('<Buffer >')
    const limits = { ...DEFAULT_SNAPSHOT_LIMITS, collection: 0 }
    expect(renderValue(snapshot([1, 2], limits, redact))).toBe('[... 2 more items]')
    expect(renderValue(snapshot({ a: 1 }, limits, redact))).toBe('{ ... 1 more item }')
    expect(renderValue(snapshot(Buffer.from('ab'), limits, redact))).toBe('<Buffer ... 2 more bytes>')
  })

  it('colors values by type when asked', () => {
    setColorizer(tags)
    expect(renderValue(snap({ s: 'x', n: 1, u: undefined, f() {} }), true)).toBe(
      "{ s: <green>'x'</>, n: <yellow>1</>, u: <gray>undefined</>, f: <cyan>[Function: f]</> }",
    )
    expect(renderValue(snap({ n: 1 }))).toBe('{ n: 1 }')
  })
})

describe('eventToJSONText', () => {
  it('writes exactly JSON.stringify(eventToJSON(event)), for every kind of value and event', () => {
    const a: Record<string, unknown> = {}
    a.self = a
    const values = [
      'plain',
      'quote " backslash \\ newline \n \u2028 \ud800',
      '',
      0,
      -0,
      1.5,
      -7,
      1e21,
      5e-324,
      NaN,
      Infinity,
      -Infinity,
      true,
      false,
      null,
      undefined,
      10n,
      Symbol('x'),
      a,
      [1, , 3],
      new Map([[1, 2]]),
      new Set([1]),
      Buffer.from('hi'),
      new Error('e'),
      () => {},
      'x'.repeat(300),
      JSON.parse('{"__proto__": 1, "$id": 2}'),
    ]
    const stack = [{ function: 'f "q"', file: '/a b.js', line: 1, column: 2 }]
    const events: TraceEvent[] = [
      event({}),
      event({ args: [] }),
      event({ arity: values.length, args: snapshotArgs(values, DEFAULT_SNAPSHOT_LIMITS, redact) }),
      event({ module: 'we"ird\\mod', function: 'Class#m\u0000' }),
      event({ stack, args: [snap(1)] }),
      event({ time: T + 0.0004 }),
      ...(['return', 'exception', 'fulfilled', 'rejected'] as const).flatMap((type) => values.map((v) => event({ type, result: snap(v) }))),
      event({ type: 'return', result: undefined }),
      ...[0, 0.000123456789, 31.2, 1e7, NaN].map((duration) => event({ type: 'fulfilled', result: snap(1), duration })),
    ]
    for (const e of events) expect(eventToJSONText(e)).toBe(JSON.stringify(eventToJSON(e)))
  })
})

describe('durations', () => {
  it('a return line ends with its duration in the unit that reads best; a call line has none', () => {
    const line = (duration: number, type: TraceEvent['type'] = 'return') =>
      formatEvent(event({ type, result: snap(1), duration }), { color: false, line: 4096 })
    expect(line(0.000412)).toMatch(/ --> 1 \(412 ns\)$/)
    expect(line(0.0523)).toMatch(/ --> 1 \(52\.3 µs\)$/)
    expect(line(3.125)).toMatch(/ --> 1 \(3\.13 ms\)$/)
    expect(line(31.24)).toMatch(/ --> 1 \(31\.2 ms\)$/)
    expect(line(1203)).toMatch(/ --> 1 \(1\.20 s\)$/)
    expect(line(95000)).toMatch(/ --> 1 \(95\.0 s\)$/)
    expect(line(2, 'rejected')).toMatch(/ ~! 1 \(2\.00 ms\)$/)
    expect(formatEvent(event({ duration: 5 }), { color: false, line: 4096 })).not.toMatch(/ms\)$/)
  })

  it('JSON Lines give it in ms to the nanosecond, on the events that end a call', () => {
    expect(eventToJSON(event({ type: 'return', result: snap(1), duration: 0.0001234567 })).duration).toBe(0.000123)
    expect(eventToJSON(event({ type: 'exception', result: snap(1), duration: 31.2 })).duration).toBe(31.2)
    expect('duration' in eventToJSON(event({ type: 'return', result: snap(1) }))).toBe(false)
  })
})

describe('eventToJSON', () => {
  it('gives the event fields and the arguments as JSON data', () => {
    const args = snapshotArgs(['a', new Queue()], DEFAULT_SNAPSHOT_LIMITS, redact)
    expect(eventToJSON(event({ args }))).toEqual({
      time: T,
      pid: 4242,
      thread: 0,
      type: 'call',
      module: 'queue',
      function: 'in',
      arity: 2,
      args: ['a', { $class: 'Queue', front: [], back: [] }],
    })
  })

  it('gives the result of a return, even when it is undefined, and the stack when present', () => {
    const stack = [{ function: 'f', file: '/a.js', line: 1, column: 2 }]
    expect(eventToJSON(event({ type: 'return', result: undefined }))).toMatchObject({ type: 'return', result: { $undefined: true } })
    expect(eventToJSON(event({ stack }))).toMatchObject({ stack })
    expect(eventToJSON(event({}))).not.toHaveProperty('result')
  })

  it('stamps an event taken without a time, on the wall clock', () => {
    // Stamps follow Date.now() within 1.5 ms (src/clock.ts); Date.now() itself is truncated to the ms.
    const before = Date.now()
    const t = eventToJSON(event({ time: 0 })).time as number
    expect(t).toBeGreaterThanOrEqual(before - 2)
    expect(t).toBeLessThanOrEqual(Date.now() + 2)
  })

  it('tags values JSON cannot carry', () => {
    const a: Record<string, unknown> = {}
    a.self = a
    const values = [
      undefined,
      NaN,
      -0,
      Infinity,
      10n,
      Symbol('x'),
      a,
      new Map([[1, { b: 2 }]]),
      new Set(['s']),
      [1, , 3],
      new Date(0),
      /x/g,
      () => {},
      Buffer.from('hi'),
      new Uint8Array([1]),
      Object(1),
      Promise.resolve(),
      new Error('e', { cause: 1 }),
    ]
    const json = eventToJSON(event({ arity: values.length, args: snapshotArgs(values, DEFAULT_SNAPSHOT_LIMITS, redact) })).args
    expect(json).toEqual([
      { $undefined: true },
      { $number: 'NaN' },
      { $number: '-0' },
      { $number: 'Infinity' },
      { $bigint: '10' },
      { $symbol: 'Symbol(x)' },
      { $ref: 1, self: { $circular: 1 } },
      { $map: [[1, { b: 2 }]], $size: 1 },
      { $set: ['s'], $size: 1 },
      [1, { $holes: 1 }, 3],
      { $date: '1970-01-01T00:00:00.000Z' },
      { $regexp: '/x/g' },
      { $function: '[Function (anonymous)]' },
      { $bytes: 'Buffer', $length: 2, $hex: '6869' },
      { $typed: 'Uint8Array', $length: 1, $items: [1] },
      { $boxed: 'Number', value: 1 },
      { $opaque: 'Promise' },
      { $error: 'Error', message: 'e', cause: 1 },
    ])
  })

  it('survives JSON.stringify and keeps odd keys as keys', () => {
    const o = JSON.parse('{"__proto__": 1, "$id": 2, "password": "p"}')
    o.long = 'x'.repeat(300)
    const json = eventToJSON(event({ arity: 1, args: [snap(o)] }))
    const back = JSON.parse(JSON.stringify(json))
    expect(back.args[0]).toEqual(JSON.parse(`{"__proto__": 1, "$$id": 2, "password": "[REDACTED]", "long": {"$string": "${'x'.repeat(256)}", "$more": 44}}`))
    expect(Object.getPrototypeOf(json.args as object[])).toBe(Array.prototype)
  })

  it('tags cut collections, deep values and placeholders', () => {
    const limits = { ...DEFAULT_SNAPSHOT_LIMITS, depth: 0, collection: 1 }
    const get = {
      get g() {
        return 1
      },
    }
    const v = snapshot({ a: [1, 2], p: new Proxy({}, {}), b: 2 }, limits, redact)
    expect(eventToJSON(event({ arity: 1, args: [v] })).args).toEqual([{ a: { $deep: 'Array' }, $more: 2 }])
    expect(eventToJSON(event({ arity: 2, args: snapshotArgs([[1, 2], get], limits, redact) })).args).toEqual([
      [1, { $more: 1 }],
      { g: { $accessor: 'getter' } },
    ])
  })
})

describe('runs no replaced built-in', () => {
  // Polyfills and libraries do replace built-in methods. A replaced method that rendering called
  // would be the program's code run by the tracer; on V8 14 (Node 26) even `str.replace(regex)`
  // reads RegExp.prototype.flags. Every method below counts its calls.
  const replaced: Array<[object, PropertyKey]> = [
    [String.prototype, 'replace'],
    [String.prototype, 'replaceAll'],
    [String.prototype, 'includes'],
    [String.prototype, 'startsWith'],
    [String.prototype, 'slice'],
    [String.prototype, 'padStart'],
    [String.prototype, 'charCodeAt'],
    [String.prototype, 'toUpperCase'],
    [String.prototype, 'split'],
    [String.prototype, 'valueOf'],
    [Number.prototype, 'toString'],
    [Number.prototype, 'valueOf'],
    [Date.prototype, 'toISOString'],
    [Date.prototype, 'getTime'],
    [Date.prototype, 'getHours'],
    [Date.prototype, 'getMinutes'],
    [Date.prototype, 'getSeconds'],
    [RegExp.prototype, 'exec'],
    [RegExp.prototype, 'test'],
    [RegExp.prototype, Symbol.replace],
    [RegExp.prototype, Symbol.split],
    [RegExp.prototype, Symbol.match],
  ]
  const getters: Array<[object, PropertyKey]> = [
    [RegExp.prototype, 'flags'],
    [RegExp.prototype, 'source'],
    [RegExp.prototype, 'global'],
    [RegExp.prototype, 'unicode'],
  ]

  it('renders strings, keys, symbols, dates, regexps, buffers, errors and times, in text and JSON, calling none of them', () => {
    const values = [
      'it\'s "q" `t` ${x}\n\u2028\u202e\ud800 \\',
      { 'not an identifier': 1, ok_1: 2, [Symbol('s\n')]: 3, $dollar: 4 },
      new Date(0),
      /a\/b/gi,
      Buffer.from([0, 15, 255]),
      new Uint8Array([1, 2]),
      Object(3),
      Object('s'),
      new TypeError('bad\tthing'),
      [1.5, -0, 10n],
    ]
    const snaps = values.map(snap)
    const undo: Array<() => void> = []
    let calls = 0
    for (const [o, k] of replaced) {
      const before = Object.getOwnPropertyDescriptor(o, k)!
      Object.defineProperty(o, k, { ...before, value: () => ++calls })
      undo.push(() => Object.defineProperty(o, k, before))
    }
    for (const [o, k] of getters) {
      const before = Object.getOwnPropertyDescriptor(o, k)!
      Object.defineProperty(o, k, { ...before, get: () => ++calls })
      undo.push(() => Object.defineProperty(o, k, before))
    }
    let text: string[]
    let json: string
    let line: string
    try {
      text = snaps.map((s) => renderValue(s))
      json = JSON.stringify(snaps.map((s) => eventToJSON(event({ args: [s] }))))
      line = formatEvent(event({ args: snaps, time: T }), plain)
    } finally {
      while (undo.length > 0) undo.pop()!()
    }
    expect(calls).toBe(0)
    expect(text).toEqual([
      "'it\\'s \"q\" `t` ${x}\\n\\u2028\\u202E\\uD800 \\\\'",
      "{ 'not an identifier': 1, ok_1: 2, '$dollar': 4, [Symbol(s\\n)]: 3 }",
      '1970-01-01T00:00:00.000Z',
      '/a\\/b/gi',
      '<Buffer 00 0f ff>',
      'Uint8Array(2) [1, 2]',
      '[Number: 3]',
      "[String: 's']",
      '[TypeError: bad\\tthing]',
      '[1.5, -0, 10n]',
    ])
    expect(json).toContain('"$hex":"000fff"')
    expect(line.startsWith('13:14:55.365157 <4242.0> queue:in(')).toBe(true)
  })
})

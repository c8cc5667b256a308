// Binding swaps and entry breakpoints: local scope in processes started with plain `node`, on
// every runtime, in real child processes.
import { describe, expect, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { resolve } from 'node:path'
import WebSocket from 'ws'
import { runProgram, type Run } from './helpers.js'
import { BINDING_CRASHES, BINDING_ON, V8_MAJOR, itUnless } from './runtime.js'

const root = resolve(import.meta.dirname, '..')
const shapes = './fixtures/binding/shapes.cjs'
const IO = `io: (l) => process.stdout.write(l + '\\n')`

/** Run `program` with plain node (no preload, live edit not asked for, binding swaps on where they are off by default). */
function run(program: string, opts: { esm?: boolean; flags?: string[]; env?: Record<string, string>; timeout?: number } = {}): Run {
  return runProgram(program, { ...opts, env: { RECON_TRACE_LIVE_EDIT: '', ...BINDING_ON, ...opts.env } })
}

/** The trace's lines, without their time and pid; notices as they are. */
const traced = (r: Run) => r.lines.filter((l) => l.startsWith('<0>') || l.startsWith('recon-trace:'))

/** A program prefix: `same()` prints which of the module's bindings are not the originals. */
const BEFORE = `
  const m = require('${shapes}')
  const before = m.bindings()
  const changed = () => Object.keys(before).filter((k) => before[k] !== m.bindings()[k])
  const exportsBefore = Object.getOwnPropertyDescriptors(m)
  const sameExports = () => Object.entries(Object.getOwnPropertyDescriptors(m)).every(([k, d]) => d.value === exportsBefore[k].value)
  const stateOf = () => globalThis[Symbol.for('recon-trace.state')]
  const turn = () => new Promise((ok) => setTimeout(ok, 20))
`

describe('binding swaps, CommonJS', () => {
  it('traces every shape with returns, exceptions and promises; the first call arms without a pause for let and function bindings', async () => {
    const r = run(`${BEFORE}
      const { calls, clear } = require('recon-trace')
      calls(['${shapes}:fact -> return', '${shapes}:double -> return', '${shapes}:later -> return', '${shapes}:Queue#push -> return',
             '${shapes}:Queue.of', '${shapes}:api.get -> return', '${shapes}:load -> return', '${shapes}:fails -> return'], 100, { scope: 'local', ${IO} })
      m.run(2)
      m.load(1).then(() => m.load(-1)).catch(async () => {
        try { m.fails(5) } catch (e) { console.log('caught', e.constructor.name) }
        await turn()
        clear()
        await turn()
        console.log('changed', JSON.stringify(changed()), 'exports', sameExports())
      })
    `)
    expect(r.status).toBe(0)
    const lines = traced(r)
    // The call that armed the file went through the original: its call only.
    expect(lines[0]).toBe('recon-trace: armed: waiting for the first call into shapes to swap its bindings')
    expect(lines).toContain("<0> shapes:fact(2)")
    expect(lines).toContainEqual(expect.stringMatching(/^recon-trace: swapped the bindings of shapes:fact, shapes:later, .*shapes:api\.get.* \(no pause\)$/))
    expect(lines.some((l) => /^recon-trace: swapped the bindings of shapes:double \(the thread paused [\d.]+ ms\)$/.test(l))).toBe(true)
    expect(lines).toEqual(
      expect.arrayContaining([
        '<0> shapes:fact(1)',
        '<0> shapes:fact/1 --> 1',
        '<0> shapes:double(2)',
        '<0> shapes:double/1 --> 4',
        "<0> shapes:later/1 --> 'later 2'",
        '<0> shapes:Queue.of(2)',
        '<0> shapes:Queue#push/1 --> 1',
        "<0> shapes:api.get/1 --> 'got 2'",
        '<0> shapes:fails/1 --> 0',
        '<0> shapes:load(1)',
        '<0> shapes:load/1 ~> { id: 1 }',
        "<0> shapes:load/1 ~! RangeError: bad id -1",
        "<0> shapes:fails/1 !! TypeError: too big: 5",
      ]),
    )
    expect(r.lines).toContain('caught TypeError')
    expect(r.lines).toContain('changed [] exports true')
  })

  it('swaps through closures in the condition where code from strings is not allowed (--disallow-code-generation-from-strings)', () => {
    const r = run(
      `${BEFORE}
      const { calls, clear } = require('recon-trace')
      calls(['${shapes}:fact -> return', '${shapes}:double -> return', '${shapes}:api.get'], 20, { scope: 'local', ${IO} })
      m.run(2)
      clear()
      console.log('changed', JSON.stringify(changed()))
    `,
      { flags: ['--disallow-code-generation-from-strings'] },
    )
    expect(r.status).toBe(0)
    expect(traced(r)).toEqual(expect.arrayContaining(['<0> shapes:fact/1 --> 1', '<0> shapes:double/1 --> 4', "<0> shapes:api.get('2')".replace("'2'", '2')]))
    expect(r.lines).toContain('changed []')
  })

  it('a nested function is reached by its entry breakpoint: its calls, and a notice that its returns are not seen', () => {
    const r = run(`${BEFORE}
      const { calls, clear } = require('recon-trace')
      calls('${shapes}:outer.inner -> return', 10, { scope: 'local', ${IO} })
      m.outer(1); m.outer(2)
      clear()
      console.log('changed', JSON.stringify(changed()))
    `)
    expect(traced(r)).toEqual([
      'recon-trace: shapes:outer.inner: no binding holds it (nested or anonymous), so a breakpoint reports its calls only, not returns or exceptions',
      '<0> shapes:outer.inner(1)',
      '<0> shapes:outer.inner(2)',
    ])
    expect(r.lines).toContain('changed []')
  })

  it('a call through a reference taken before the trace is seen, by the entry breakpoint; calls through the name get their returns', () => {
    const r = run(`${BEFORE}
      const { calls, clear } = require('recon-trace')
      const kept = m.fact  // a router, a listener, a callback list: taken before the trace
      calls('${shapes}:fact -> return', 20, { scope: 'local', ${IO} })
      kept(1)
      m.fact(1)
      kept(1)
      clear()
      console.log('changed', JSON.stringify(changed()), 'exports', sameExports())
    `)
    expect(traced(r)).toEqual([
      'recon-trace: armed: waiting for the first call into shapes to swap its bindings',
      '<0> shapes:fact(1)',
      'recon-trace: swapped the bindings of shapes:fact (no pause)',
      '<0> shapes:fact(1)',
      '<0> shapes:fact/1 --> 1',
      '<0> shapes:fact(1)',
    ])
    expect(r.lines).toContain('changed [] exports true')
  })

  it('a parameter that shadows a binding does not arm it from there: the swap waits for a hit where the name is the module\'s', () => {
    const r = run(`${BEFORE}
      const { calls, clear } = require('recon-trace')
      calls(['${shapes}:shadow', '${shapes}:fact -> return'], 20, { scope: 'local', ${IO} })
      console.log(m.bindings().shadow('x'))  // a hit in shadow(): its 'fact' is a string
      console.log('fact still original', m.bindings().fact === before.fact)
      m.fact(1)
      clear()
      console.log('changed', JSON.stringify(changed()))
    `)
    expect(r.lines).toContain('string')
    expect(r.lines).toContain('fact still original true')
    expect(traced(r)).toContain('recon-trace: swapped the bindings of shapes:fact (no pause)')
    expect(r.lines).toContain('changed []')
  })

  it('limits trip exactly, on the very call; everything is back at once, and later calls print nothing', () => {
    const r = run(`${BEFORE}
      const { calls } = require('recon-trace')
      calls('${shapes}:fact -> return', 5, { scope: 'local', ${IO} })
      m.fact(1)
      m.fact(3)
      console.log('right after the trip', JSON.stringify(changed()), stateOf().active !== undefined)
      m.fact(4)
      setTimeout(() => console.log('changed', JSON.stringify(changed()), 'active', stateOf().active !== undefined, 'session', stateOf().debugSession.isOpen), 20)
    `)
    expect(r.status).toBe(0)
    const messages = traced(r).filter((l) => l.startsWith('<0>'))
    // The exports were swapped at the start: the first call through them has its return too.
    expect(messages).toEqual(['<0> shapes:fact(1)', '<0> shapes:fact/1 --> 1', '<0> shapes:fact(3)', '<0> shapes:fact(2)', '<0> shapes:fact(1)'])
    expect(traced(r).at(-1)).toBe('recon-trace: rate limit tripped after 5 messages; tracing stopped.')
    expect(r.lines).toContain('right after the trip [] false')
    expect(r.lines.at(-1)).toBe('changed [] active false session false')
  })

  it('a time limit ends a trace that never fired, with nothing changed', () => {
    const r = run(`${BEFORE}
      const { calls } = require('recon-trace')
      calls('${shapes}:fact', 5, { scope: 'local', time: 50, ${IO} })
      setTimeout(() => console.log('changed', JSON.stringify(changed()), 'session', stateOf().debugSession.isOpen), 150)
    `)
    expect(traced(r)).toEqual([
      'recon-trace: armed: waiting for the first call into shapes to swap its bindings',
      'recon-trace: time limit of 50 ms reached after 0 messages; tracing stopped.',
    ])
    expect(r.lines.at(-1)).toBe('changed [] session false')
  })

  it('restores a const binding at a pause in a function made in its scope', () => {
    const r = run(`${BEFORE}
      const { calls, clear } = require('recon-trace')
      calls('${shapes}:double', 20, { scope: 'local', ${IO} })
      m.run(1)
      console.log('swapped', m.bindings().double !== before.double)
      clear()
      console.log('changed', JSON.stringify(changed()))
      setImmediate(() => setImmediate(() => console.log('session', stateOf().debugSession.isOpen)))
    `)
    expect(r.lines).toContain('swapped true')
    expect(r.lines).toContain('changed []')
    expect(r.lines).toContain('session false')
  })

  it('a binding the program replaced during the trace stays the program\'s', () => {
    const r = run(`${BEFORE}
      const { calls, clear } = require('recon-trace')
      calls('${shapes}:later', 20, { scope: 'local', ${IO} })
      m.run(1)
      const mine = (s) => 'mine ' + s
      m.setLater(mine)
      clear()
      console.log('kept', m.bindings().later === mine)
      m.setLater(before.later)
      console.log('changed', JSON.stringify(changed()))
    `)
    expect(r.lines).toContain('kept true')
    expect(r.lines).toContain('changed []')
  })

  it('an exception inside the installer (the Debugger refuses a swap) ends the trace saying why, with nothing left changed', () => {
    const r = run(`${BEFORE}
      const { calls } = require('recon-trace')
      calls('${shapes}:double', 20, { scope: 'local', ${IO} })
      stateOf().debugSession.setVariable = () => { throw new Error('refused by the test') }
      m.run(1); m.run(2)
      setTimeout(() => console.log('changed', JSON.stringify(changed()), 'active', stateOf().active !== undefined, 'session', stateOf().debugSession.isOpen), 30)
    `)
    expect(traced(r)).toContain('recon-trace: could not swap the bindings of shapes: refused by the test; tracing stopped.')
    expect(r.lines.at(-1)).toBe('changed [] active false session false')
  })

  it('a caller optimized before the trace sees the wrapper, and the original after the restore', () => {
    const r = run(
      `${BEFORE}
      const { calls, clear } = require('recon-trace')
      function caller(n) { return m.run(n)[0] }
      %PrepareFunctionForOptimization(caller);
      for (let i = 0; i < 2000; i++) caller(3);
      %OptimizeFunctionOnNextCall(caller);
      caller(3);
      // Optimized code: TurboFan (16, 64) or, on V8 14, Maglev (32).
      const optimized = (%GetOptimizationStatus(caller) & (16 | 32 | 64)) !== 0
      let n = 0
      calls('${shapes}:fact/1', 1000, { scope: 'local', io: (l) => { if (l.includes('shapes:fact(')) n++ } })
      for (let i = 0; i < 100; i++) caller(3)
      setTimeout(() => {
        const during = n
        clear()
        for (let i = 0; i < 100; i++) caller(3)
        setTimeout(() => console.log(JSON.stringify({ optimized, during, after: n - during, changed: changed() })), 20)
      }, 20)
    `,
      { flags: ['--allow-natives-syntax'] },
    )
    const out = JSON.parse(r.lines.at(-1)!)
    expect(out.optimized).toBe(true)
    // 100 calls of fact(3), 3 calls each: the first through the original (it armed the file, its
    // breakpoint saw it), every other one through the wrapper the optimized code now reaches.
    expect(out.during).toBe(300)
    expect(out.after).toBe(0)
    expect(out.changed).toEqual([])
  })

  itUnless(BINDING_CRASHES)('1000 trace, swap and restore cycles under load: results unchanged, every binding back, the heap back to its baseline', () => {
    const r = run(
      `${BEFORE}
      const { calls, clear } = require('recon-trace')
      const expected = JSON.stringify(m.run(3))
      const cycle = () => {
        calls(['${shapes}:fact -> return', '${shapes}:double'], 1000, { scope: 'local', io: () => {} })
        let same = true
        for (let i = 0; i < 3; i++) same = JSON.stringify(m.run(3)) === expected && same
        clear()
        return same
      }
      const tick = () => new Promise((ok) => setImmediate(ok))
      ;(async () => {
        for (let i = 0; i < 50; i++) { cycle(); await tick() }
        await tick(); globalThis.gc(); globalThis.gc()
        const base = process.memoryUsage().heapUsed
        let ok = 0
        // The program keeps working between traces: the traces start and end under its load.
        for (let i = 0; i < 1000; i++) { if (cycle()) ok++; if (i % 10 === 0) await tick() }
        await tick(); await tick(); globalThis.gc(); globalThis.gc()
        const grown = process.memoryUsage().heapUsed - base
        console.log(JSON.stringify({ ok, grownMB: Math.round(grown / 2 ** 20 * 10) / 10, changed: changed(), exports: sameExports(), session: stateOf().debugSession.isOpen }))
      })()
    `,
      { flags: ['--expose-gc'], timeout: 100_000 },
    )
    expect(r.status, `signal ${r.signal}; ${r.stderr.slice(-3000)}`).toBe(0)
    const out = JSON.parse(r.lines.at(-1)!)
    expect(out).toMatchObject({ ok: 1000, changed: [], exports: true, session: false })
    expect(out.grownMB).toBeLessThan(2)
  }, 120_000)

  it('a `debugger` statement in the program while a trace is armed does not stop it', () => {
    const r = run(`${BEFORE}
      const { calls, clear } = require('recon-trace')
      calls('${shapes}:fact', 5, { scope: 'local', ${IO} })
      function stops() { debugger; return 'went on' }
      console.log(stops())
      m.fact(2)
      clear()
    `)
    expect(r.status).toBe(0)
    expect(r.lines).toContain('went on')
    expect(traced(r)).toContain('<0> shapes:fact(2)')
  })

  it('a function of a vm context is never hooked: the installer reads only scripts of this realm', () => {
    const r = run(`
      const vm = require('node:vm'), { writeFileSync } = require('node:fs'), { join } = require('node:path'), os = require('node:os')
      const file = join(os.tmpdir(), 'recon-trace-vm-' + process.pid + '.js')
      writeFileSync(file, 'function inVm(x) { return x + 1 }')
      const ctx = vm.createContext({})
      new vm.Script(require('node:fs').readFileSync(file, 'utf8'), { filename: file }).runInContext(ctx)
      const { calls, clear } = require('recon-trace')
      console.log('hooked', calls(file + ':inVm', 5, { scope: 'local', ${IO} }))
      console.log(vm.runInContext('inVm(1)', ctx))
      clear()
      require('node:fs').unlinkSync(file)
    `)
    expect(r.lines[0]).toBe('hooked 0')
    expect(r.lines).toContainEqual(expect.stringMatching(/^recon-trace: recon-trace-vm-\d+ is not loaded yet: its functions are hooked when it loads$/))
    expect(r.lines).toContain('2')
    expect(r.lines.filter((l) => l.startsWith('<0>'))).toEqual([])
  })
})

describe('the runtime gate', () => {
  const program = `
    require('${shapes}')
    const { calls } = require('recon-trace')
    calls('${shapes}:fact', 5, { scope: 'local', explain: true, io: (l) => console.log(l) })
  `
  itUnless(V8_MAJOR > 11 && `binding swaps are on by default on V8 ${V8_MAJOR}`)(
    'on V8 11 (Node 20) binding swaps are off by default, saying why: live edit serves; RECON_TRACE_BINDING=force turns them on',
    () => {
      const off = runProgram(program, { env: { RECON_TRACE_LIVE_EDIT: '', RECON_TRACE_BINDING: '' } })
      expect(off.stdout).toContain('binding swaps are off here (V8 11')
      expect(off.stdout).toContain('crashed the process in our tests when a breakpoint was set while it optimized a caller of the function')
      expect(off.stdout).toContain('shapes:fact through live edit')
      const forced = runProgram(program, { env: { RECON_TRACE_LIVE_EDIT: '', RECON_TRACE_BINDING: 'force' } })
      expect(forced.stdout).toContain('shapes:fact through binding swaps')
    },
  )
  itUnless(V8_MAJOR <= 11 && `binding swaps are off by default on V8 ${V8_MAJOR}`)('binding swaps serve local scope by default on this runtime', () => {
    const on = runProgram(program, { env: { RECON_TRACE_LIVE_EDIT: '', RECON_TRACE_BINDING: '' } })
    expect(on.stdout).toContain('shapes:fact through binding swaps')
  })
})

describe('binding swaps in a preloaded program', () => {
  it('a file the preload left out is served by binding swaps, the preload\'s files by its probes, in one trace', () => {
    const r = run(
      `${BEFORE}
      const work = require('./fixtures/service/work.cjs')
      const { calls, clear } = require('recon-trace')
      calls(['${shapes}:fact -> return', './fixtures/service/work.cjs:add -> return'], 20, { scope: 'local', explain: true, ${IO} })
      m.fact(2); work.add(1, 2)
      clear()
      console.log('changed', JSON.stringify(changed()))
    `,
      { flags: ['--require', 'recon-trace/register'], env: { RECON_TRACE_EXCLUDE: 'fixtures/binding/**', RECON_TRACE_CACHE: '0' } },
    )
    expect(r.status).toBe(0)
    const lines = traced(r)
    expect(lines).toContainEqual(expect.stringMatching(/^recon-trace: work:add through the preload's probes/))
    expect(lines).toContainEqual(expect.stringMatching(/^recon-trace: shapes:fact through binding swaps \(local scope: the preload did not instrument shapes/))
    expect(lines).toEqual(expect.arrayContaining(['<0> shapes:fact(2)', '<0> shapes:fact/1 --> 1', '<0> work:add(1, 2)', '<0> work:add/2 --> 3']))
    expect(r.lines).toContain('changed []')
  })
})

describe('binding swaps, ES modules', () => {
  it('an internal function and an export: importers see the wrapper through the live binding, then the original', async () => {
    const r = run(
      `
      import { calls, clear } from 'recon-trace'
      import { visible, arrow, bindings } from './fixtures/binding/shapes.mjs'
      const before = bindings()
      calls(['./fixtures/binding/shapes.mjs:hidden -> return', './fixtures/binding/shapes.mjs:visible -> return', './fixtures/binding/shapes.mjs:arrow -> return', './fixtures/binding/shapes.mjs:Box#open'], 50, { scope: 'local', ${IO} })
      console.log('result', visible(2), visible(3), arrow(1, 2))
      console.log('importer sees the wrapper', visible !== before.visible)
      clear()
      await new Promise((ok) => setTimeout(ok, 10))
      const now = bindings()
      console.log('changed', JSON.stringify(Object.keys(before).filter((k) => before[k] !== now[k])), 'importer', visible === before.visible)
    `,
      { esm: true },
    )
    expect(r.status).toBe(0)
    expect(r.lines).toContain('result 7 10 3')
    expect(r.lines).toContain('importer sees the wrapper true')
    expect(traced(r)).toEqual(
      expect.arrayContaining(['<0> shapes:visible(2)', '<0> shapes:hidden/1 --> 6', '<0> shapes:visible/1 --> 10', '<0> shapes:arrow/2 --> 3']),
    )
    expect(r.lines).toContain('changed [] importer true')
  })
})

describe('binding swaps, names', () => {
  it('an anonymous default export has no name to swap: its entry breakpoint reports its calls, saying so', () => {
    const r = run(
      `
      import { calls, clear } from 'recon-trace'
      import dflt, { visible } from './fixtures/binding/shapes.mjs'
      calls(['./fixtures/binding/shapes.mjs:default -> return', './fixtures/binding/shapes.mjs:visible'], 10, { scope: 'local', ${IO} })
      console.log(dflt(), dflt(1), visible(1))
      clear()
    `,
      { esm: true },
    )
    expect(r.status).toBe(0)
    expect(r.lines).toContain('default default 4')
    expect(traced(r)).toEqual(
      expect.arrayContaining([
        'recon-trace: shapes:default: no binding holds it (nested or anonymous), so a breakpoint reports its calls only, not returns or exceptions',
        '<0> shapes:default()',
        '<0> shapes:default(1)',
        '<0> shapes:visible(1)',
      ]),
    )
  })
})

describe('the overhead budget', () => {
  it('ends a trace whose breakpoint hits cost more than its share of a core, with its own line, everything restored', () => {
    const r = run(`${BEFORE}
      const { calls } = require('recon-trace')
      const inner = []
      calls('${shapes}:outer.inner', 1000000, { scope: 'local', budget: 1, io: (l) => { if (!l.includes('outer.inner(')) console.log(l) } })
      const t0 = Date.now()
      const spin = () => { for (let i = 0; i < 200; i++) m.outer(i); if (stateOf().active !== undefined && Date.now() - t0 < 5000) setImmediate(spin); else setTimeout(() => console.log('changed', JSON.stringify(changed()), 'session', stateOf().debugSession.isOpen), 20) }
      spin()
    `)
    const end = r.lines.find((l) => l.includes('overhead budget'))
    expect(end).toMatch(/^recon-trace: overhead budget of 1% of a core exceeded: \d+ breakpoint hits in a second at \d+ µs each cost the program [\d.]+% \(raise it with the budget option, --budget on the command line\); tracing stopped\.$/)
    expect(r.lines.at(-1)).toBe('changed [] session false')
  })

  it('takes the entry breakpoint off a function hot through its name, keeps tracing it through its binding, and says so', () => {
    const r = run(`${BEFORE}
      const { calls, clear } = require('recon-trace')
      let n = 0
      calls('${shapes}:fact/2', 1000000, { scope: 'local', budget: 2, io: (l) => { if (l.startsWith('recon-trace')) console.log(l) } })
      const t0 = Date.now()
      const spin = () => {
        for (let i = 0; i < 200; i++) m.run(2)
        if (Date.now() - t0 < 1500) setImmediate(spin)
        else { clear(); console.log('changed', JSON.stringify(changed())) }
      }
      spin()
    `)
    expect(r.lines).toContainEqual(
      expect.stringMatching(
        /^recon-trace: shapes:fact \(\d+ calls through its name\): the entry breakpoint came off \(it cost more than the budget allows; those calls are traced through the binding\), so calls through references taken before the trace are no longer seen$/,
      ),
    )
    expect(r.lines.some((l) => l.includes('overhead budget'))).toBe(false)
    expect(r.lines.at(-1)).toBe('changed []')
  })

  it('refuses a budget that is not a share of a core', () => {
    const r = run(`
      const { calls } = require('recon-trace')
      try { calls('${shapes}:fact', 5, { scope: 'local', budget: 0 }) } catch (e) { console.log(e.message) }
    `)
    expect(r.stdout).toContain('option budget: 0 is not valid: give the share of one core the trace may cost, in percent, above 0 and up to 100 (e.g. 5)')
  })
})

describe('another debugger', () => {
  /** A child started with --inspect, and a client on its inspector (as DevTools or `node inspect`) that resumes every pause it sees. */
  async function withDebugger(program: string): Promise<{ out: string; pauses: string[] }> {
    const child: ChildProcess = spawn(process.execPath, ['--inspect=127.0.0.1:0', '-e', program], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_OPTIONS: '', RECON_TRACE_LIVE_EDIT: '', ...BINDING_ON },
    })
    let err = ''
    let out = ''
    const pauses: string[] = []
    let ws: WebSocket | undefined
    // Node waits at exit for an attached debugger to go: the program says when it is done.
    child.stdout!.on('data', (d) => {
      out += d
      if (out.includes('DONE')) ws?.close()
    })
    const url = await new Promise<string>((ok, fail) => {
      child.stderr!.on('data', (d) => {
        err += d
        const m = /ws:\/\/\S+/.exec(err)
        if (m) ok(m[0])
      })
      child.on('exit', () => fail(new Error(`exited: ${err}`)))
    })
    ws = new WebSocket(url)
    let id = 0
    const send = (method: string, params = {}) => ws!.send(JSON.stringify({ id: ++id, method, params }))
    ws.on('message', (raw) => {
      const msg = JSON.parse(String(raw))
      if (msg.method === 'Debugger.paused') {
        pauses.push(msg.params.callFrames[0]?.functionName ?? '')
        send('Debugger.resume')
      }
    })
    await new Promise((ok) => ws.on('open', ok))
    send('Debugger.enable')
    send('Runtime.runIfWaitingForDebugger')
    await new Promise((ok) => child.on('exit', ok))
    return { out, pauses }
  }

  it('with a debugger attached, no swap pauses the program: let and function bindings swap without a pause, a const keeps its breakpoint, saying why', async () => {
    const { out, pauses } = await withDebugger(`
      setTimeout(() => {
        ${BEFORE}
        const { calls, clear } = require('recon-trace')
        calls(['${shapes}:fact -> return', '${shapes}:double -> return'], 50, { scope: 'local', io: (l) => console.log(l) })
        m.run(2); m.run(3)
        clear()
        console.log('changed', JSON.stringify(changed()))
        console.log('DONE')
      }, 300)
    `)
    expect(pauses).toEqual([])
    expect(out).toContain('swapped the bindings of shapes:fact (no pause)')
    expect(out).toMatch(/shapes:double: its binding is a const, which only a pause can change, and a debugger may be attached \(the inspector is open at ws:\/\/127\.0\.0\.1:\d+\/[\w-]+\): no pause is taken; calls only, through the entry breakpoint/)
    expect(out).toContain('shapes:fact/1 --> 2')
    expect(out).toContain('changed []')
  }, 20_000)

  it('a pause of the other debugger (a `debugger` statement) is its own: recon-trace never resumes it', async () => {
    const { out, pauses } = await withDebugger(`
      setTimeout(() => {
        ${BEFORE}
        const { calls, clear } = require('recon-trace')
        calls('${shapes}:fact', 50, { scope: 'local', io: (l) => console.log(l) })
        function stops() { debugger; return 'resumed by the debugger' }
        console.log(stops())
        m.fact(2)
        clear()
        console.log('DONE')
      }, 300)
    `)
    expect(pauses).toEqual(['stops'])
    expect(out).toContain('resumed by the debugger')
  }, 20_000)
})

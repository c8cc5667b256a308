// Local scope and ES modules through the preload, in real processes started the way a user
// starts them: `node --import recon-trace/register` (and `--require`).
import { describe, expect, it } from 'vitest'
import { runProgram, tempDirs, type Run } from './helpers.js'
import { HAS_REGISTER_HOOKS, LIVE_EDIT_ON, NO_LIVE_EDIT, itUnless } from './runtime.js'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'

const root = resolve(import.meta.dirname, '..')
const IO = `io: (l) => process.stdout.write(l + '\\n')`

/** Run `program` (CommonJS unless `esm`) with the preload, from the repository root. */
function run(program: string, opts: { preload?: 'import' | 'require' | false; esm?: boolean; env?: Record<string, string>; flags?: string[] } = {}): Run {
  const preload = opts.preload ?? 'import'
  const flags = [...(opts.flags ?? [])]
  if (preload) flags.push(`--${preload}`, 'recon-trace/register')
  return runProgram(program, { esm: opts.esm, flags, env: { RECON_TRACE_CACHE: '0', ...opts.env } })
}

/** A temporary directory, removed after the suite. */
const tempDir = tempDirs('local')

/** Live edit is off by default on V8 13 and gone on V8 14 (test/runtime.ts): the tests that reach it turn it on, or are skipped. */
const LIVE = LIVE_EDIT_ON
const itLive = itUnless(NO_LIVE_EDIT)

const kinds = './fixtures/local/kinds.cjs'
const kindsEsm = './fixtures/local/kinds.mjs'

describe('local scope, CommonJS', () => {
  it('fact/1 with a count of 5 prints the first five nested calls, then trips', () => {
    const r = run(`
      const { calls } = require('recon-trace')
      const { fact } = require('./fixtures/local/fact.cjs')
      calls('./fixtures/local/fact.cjs:fact/1', 5, { scope: 'local', ${IO} })
      console.error('result', fact(7))
    `)
    expect(r.lines).toEqual([
      '<0> fact:fact(7)',
      '<0> fact:fact(6)',
      '<0> fact:fact(5)',
      '<0> fact:fact(4)',
      '<0> fact:fact(3)',
      'recon-trace: rate limit tripped after 5 messages; tracing stopped.',
    ])
    expect(r.stderr).toContain('result 5040')
  })

  it('works the same when preloaded with --require', () => {
    const r = run(
      `
      const { calls } = require('recon-trace')
      const { fact } = require('./fixtures/local/fact.cjs')
      calls('./fixtures/local/fact.cjs:fact(n) when n < 3 -> return', 10, { scope: 'local', ${IO} })
      fact(4)
    `,
      { preload: 'require' },
    )
    expect(r.lines).toEqual(['<0> fact:fact(2)', '<0> fact:fact(1)', '<0> fact:fact/1 --> 1', '<0> fact:fact/1 --> 2'])
  })

  it('a probe checks a value every selected call has before the matcher, and lets exactly those calls through', () => {
    const r = run(
      `
      const { calls } = require('recon-trace')
      const { fact } = require('./fixtures/local/fact.cjs')
      const file = [...globalThis[Symbol.for('recon-trace.state')].registry.files.values()].find((f) => f.filename.endsWith('fact.cjs'))
      calls(['./fixtures/local/fact.cjs:fact(n) when n === 2 -> return', './fixtures/local/fact.cjs:fact(2)'], 10, { scope: 'local', ${IO} })
      process.stderr.write('pin ' + file.pinAt[0] + ' ' + file.pinValues[0] + '\\n')
      fact(4)
    `,
      { preload: 'require' },
    )
    expect(r.stderr).toContain('pin 0 2')
    expect(r.lines).toEqual(['<0> fact:fact(2)', '<0> fact:fact/1 --> 2'])
  })

  /**
   * fixtures/local/cycle: a trace of `spec` starts first, waiting for a.mjs; b.mjs's body then
   * calls a.mjs's hoisted functions before a.mjs's body has run; `then` is the program's code
   * after the import (`a`: a.mjs's namespace).
   */
  const throughCycle = (spec: string, then: string) =>
    run(
      `
      import { calls } from 'recon-trace'
      calls('./fixtures/local/cycle/a.mjs:${spec}', 10, { scope: 'local', ${IO} })
      const a = await import('./fixtures/local/cycle/a.mjs')
      ${then}
    `,
      { esm: true },
    )

  it('an ES module function called through an import cycle before its body ran: the call works, the trace selects the file when its body starts', () => {
    // b.mjs's body calls a.mjs's `early` before a.mjs's body has run: its probe reads the slots
    // (a const of a.mjs's header, in its temporal dead zone then) in a try block and finds itself
    // dormant, so that first call runs untraced; the trace selects the file when its header
    // runs, and the later call is traced.
    const r = throughCycle('early -> return', `console.error('later', a.later)\n      a.early(1)`)
    expect(r.stderr).toContain('later 43')
    expect(r.lines).toEqual(['<0> a:early(1)', '<0> a:early/1 --> 2'])
  })

  it('a function made inside a hoisted one before the module body ran works then, and is traced after', () => {
    const r = throughCycle('maker.@12 -> return', `console.error('made', a.made)\n      a.maker(1)(2)`)
    expect(r.stderr).toContain('made 15')
    expect(r.lines).toEqual(['<0> a:maker.@12(2)', '<0> a:maker.@12/1 --> 3'])
  })

  it('a hoisted function that throws before the module body ran: the caller gets its own exception, and later ones are traced', () => {
    // Before, the probe's catch block read the header's binding, still unset, and the caller got
    // a TypeError of ours instead of the RangeError.
    const r = throughCycle(
      'fails -> return',
      `console.error('thrown', a.thrown)\n      try { a.default(4) } catch (e) { console.error('caught', e.name, e.message) }`,
    )
    expect(r.stderr).toContain('thrown RangeError: fails(7)')
    expect(r.stderr).toContain('caught RangeError fails(4)')
    expect(r.lines).toEqual(['<0> a:fails(4)', '<0> a:fails/1 !! RangeError: fails(4)'])
  })

  it('works the same when preloaded through NODE_OPTIONS', () => {
    const r = run(
      `
      const { calls } = require('recon-trace')
      const { fact } = require('./fixtures/local/fact.cjs')
      calls('./fixtures/local/fact.cjs:fact/1', 2, { scope: 'local', ${IO} })
      fact(3)
    `,
      { preload: false, env: { NODE_OPTIONS: '--import recon-trace/register' } },
    )
    expect(r.lines).toEqual(['<0> fact:fact(3)', '<0> fact:fact(2)', 'recon-trace: rate limit tripped after 2 messages; tracing stopped.'])
  })

  it('traces a function that is never exported, with its parameters as the function sees them', () => {
    const r = run(`
      const { calls } = require('recon-trace')
      const m = require('./fixtures/local/fact.cjs')
      calls('./fixtures/local/fact.cjs:hidden -> return', 10, { scope: 'local', ${IO} })
      m.viaHidden(4)
    `)
    expect(r.lines).toEqual(['<0> fact:hidden(4, 2)', '<0> fact:hidden/2 --> 6'])
  })

  it('names nested functions, methods, statics, private methods, field arrows and anonymous callbacks', () => {
    const r = run(`
      const { calls } = require('recon-trace')
      const k = require(${JSON.stringify(kinds)})
      calls(['${kinds}:declared.inner', '${kinds}:api.get', '${kinds}:Queue.from', '${kinds}:Queue##grow', '${kinds}:Queue#onEvent', '${kinds}:Queue#constructor', '${kinds}:mapAll.@*'], 100, { scope: 'local', args: 'arity', ${IO} })
      k.declared(1, 2); k.api.viaArrow('x'); const q = k.Queue.from([1]); q.onEvent('e'); k.mapAll([1, 2])
    `)
    expect(r.stderr).toBe('')
    expect(r.lines).toEqual([
      '<0> kinds:declared.inner/1',
      '<0> kinds:api.get/1',
      '<0> kinds:Queue.from/1',
      '<0> kinds:Queue#constructor/0',
      '<0> kinds:Queue##grow/0',
      '<0> kinds:Queue#onEvent/1',
      '<0> kinds:mapAll.@68/1',
      '<0> kinds:mapAll.@68/1',
    ])
  })

  it('selects getters and setters only when named, never by a glob (which does select private methods)', () => {
    const r = run(`
      const { calls } = require('recon-trace')
      const { Queue } = require(${JSON.stringify(kinds)})
      const n = calls('${kinds}:Queue#_', 100, { scope: 'local', args: 'arity', ${IO} })
      const q = new Queue('q'); q.push(1); q.size
      const m = calls('${kinds}:Queue#size -> return', 100, { scope: 'local', ${IO} })
      q.size; try { q.size = 3 } catch {}
      console.error(n, m)
    `)
    expect(r.lines).toEqual([
      '<0> kinds:Queue#constructor/1',
      '<0> kinds:Queue#push/1',
      '<0> kinds:Queue##grow/0',
      '<0> kinds:Queue#size (get)()',
      '<0> kinds:Queue#size (get)/0 --> 1',
      '<0> kinds:Queue#size (set)(3)',
      '<0> kinds:Queue#size (set)/1 !! RangeError: size is read-only (3)',
    ])
    expect(r.stderr.trim()).toBe('4 2')
  })

  it('reports an async function outcome as ~> and ~!, a generator return and a thrown exception', async () => {
    const r = run(`
      const { calls } = require('recon-trace')
      const k = require(${JSON.stringify(kinds)})
      calls(['${kinds}:load -> return', '${kinds}:count -> return', '${kinds}:fails -> return'], 100, { scope: 'local', ${IO} })
      ;(async () => {
        await k.load(1); await k.load(-1).catch(() => {}); [...k.count(2)]; try { k.fails(3) } catch {}
      })()
    `)
    expect(r.lines).toEqual([
      '<0> kinds:load(1)',
      '<0> kinds:load/1 ~> { id: 1 }',
      '<0> kinds:load(-1)',
      '<0> kinds:load/1 ~! Error: no record -1',
      '<0> kinds:count(2)',
      "<0> kinds:count/1 --> 'done'",
      '<0> kinds:fails(3)',
      '<0> kinds:fails/1 !! TypeError: bad 3',
    ])
  })

  it('gives the exact arity of a function that uses arguments', () => {
    const r = run(`
      const { calls } = require('recon-trace')
      const k = require(${JSON.stringify(kinds)})
      calls('${kinds}:usesArguments/3', 10, { scope: 'local', ${IO} })
      k.usesArguments(1); k.usesArguments(1, undefined, undefined)
    `)
    expect(r.lines).toEqual(['<0> kinds:usesArguments(1, undefined, undefined)'])
  })

  it('selects probes in a file that loads after the trace started', () => {
    const r = run(`
      const { calls } = require('recon-trace')
      console.error(calls('./fixtures/local/fact.cjs:fact/1', 2, { scope: 'local', ${IO} }))
      require('./fixtures/local/fact.cjs').fact(3)
    `)
    expect(r.lines).toEqual(['<0> fact:fact(3)', '<0> fact:fact(2)', 'recon-trace: rate limit tripped after 2 messages; tracing stopped.'])
    expect(r.stderr.trim()).toBe('0')
  })

  it('leaves every slot at 0 and no handler or registry hook once the limit trips', () => {
    const r = run(`
      const { calls, clear } = require('recon-trace')
      const k = require(${JSON.stringify(kinds)})
      const reg = globalThis[Symbol.for('recon-trace.state')]?.registry
      const file = [...reg.files.values()].find((f) => f.filename.endsWith('kinds.cjs'))
      const before = JSON.stringify(file.s)
      calls('${kinds}:_', 3, { scope: 'local', ${IO} })
      const during = file.s.filter((x) => x !== 0).length
      k.declared(1, 2); k.arrow(1)
      console.error(JSON.stringify({ before: before === JSON.stringify(file.s), during, handler: file.handler === undefined, onFile: reg.onFile === undefined }))
      calls('${kinds}:arrow', 3, { scope: 'local', ${IO} })
      clear()
      console.error(JSON.stringify({ after: before === JSON.stringify(file.s), handler: file.handler === undefined }))
    `)
    const [a, b] = r.stderr
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(a).toEqual({ before: true, during: expect.any(Number), handler: true, onFile: true })
    expect(a.during).toBeGreaterThan(10)
    expect(b).toEqual({ after: true, handler: true })
  })

  it('refuses a function the rewrite left alone, saying why', () => {
    const dir = tempDir()
    const file = join(dir, 'evil.cjs')
    writeFileSync(file, `function viaEval(s) { return eval(s) }\nfunction plain() { return 1 }\nmodule.exports = { viaEval, plain }\n`)
    const r = run(`
      const { calls } = require('recon-trace')
      require(${JSON.stringify(file)})
      try { calls(${JSON.stringify(`${file}:viaEval`)}, 10, { scope: 'local' }) } catch (e) { console.error(e.message) }
    `)
    expect(r.stderr).toMatch(/evil:viaEval \(line 1\) has no probe: it calls eval directly; it cannot be traced/)
  })

  it('lists the functions of the file when the name matches none', () => {
    const r = run(`
      const { calls } = require('recon-trace')
      require('./fixtures/local/fact.cjs')
      try { calls('./fixtures/local/fact.cjs:fac', 10, { scope: 'local' }) } catch (e) { console.error(e.message) }
    `)
    expect(r.stderr).toMatch(/no function 'fac' in .*fact\.cjs; its functions are: fact, /)
  })
})

describe('which installer serves what', () => {
  it('with explain: true, a notice says which way of hooking serves which functions, and why', () => {
    const ok = run(`
      const { calls } = require('recon-trace')
      const { fact } = require('./fixtures/local/fact.cjs')
      calls('./fixtures/local/fact.cjs:fact/1', 2, { scope: 'local', explain: true, ${IO} })
      fact(2)
    `)
    expect(ok.lines).toEqual([
      "recon-trace: fact:fact through the preload's probes (local scope: the preload instrumented fact, its probes see every call)",
      '<0> fact:fact(2)',
      '<0> fact:fact(1)',
      'recon-trace: rate limit tripped after 2 messages; tracing stopped.',
    ])
  })
})

describe('module hooks', () => {
  // module.register is deprecated (DEP0205) and warns from Node 26: the synchronous
  // module.registerHooks serves every runtime that has it (22.15+).
  it(`uses ${HAS_REGISTER_HOOKS ? 'module.registerHooks, never module.register,' : 'module.register (no module.registerHooks)'} on Node ${process.versions.node}, and the file gets its probes`, () => {
    for (const preload of ['import', 'require'] as const) {
      const r = run(
        `
        const { calls } = require('recon-trace')
        const { fact } = require('./fixtures/local/fact.cjs')
        calls('./fixtures/local/fact.cjs:fact/1', 1, { scope: 'local', ${IO} })
        fact(2)
      `,
        { preload, flags: ['--require', './fixtures/programs/spy-register.cjs', '--throw-deprecation'] },
      )
      const counts = JSON.parse(r.stderr.trim().split('\n').pop()!)
      expect(counts, preload).toEqual(HAS_REGISTER_HOOKS ? { register: 0, registerHooks: 1 } : { register: 1, registerHooks: 0 })
      expect(r.lines[0], preload).toBe('<0> fact:fact(2)')
    }
  })
})

describe('without the preload', () => {
  itLive('a local spec on a file not loaded yet waits for it, and one on a file that does not exist fails saying so', () => {
    const r = run(
      `
      const { calls } = require('recon-trace')
      try { calls('./fixtures/local/nope.cjs:fact', 10, { scope: 'local' }) } catch (e) { console.error(e.message) }
      calls('./fixtures/local/fact.cjs:fact/1', 2, { scope: 'local', ${IO} })
      setTimeout(() => { const { fact } = require('./fixtures/local/fact.cjs'); setTimeout(() => fact(3), 20) }, 20)
    `,
      { env: LIVE, preload: false },
    )
    expect(r.stderr).toContain('nope.cjs does not exist; live edit probes the code of a file that is loaded, or that loads later')
    expect(r.lines).toEqual([
      'recon-trace: fact is not loaded yet: live edit probes it when it loads',
      'recon-trace: probes in fact:fact (loaded after the start)',
      '<0> fact:fact(3)',
      '<0> fact:fact(2)',
      'recon-trace: rate limit tripped after 2 messages; tracing stopped.',
    ])
  })

  itLive('a local spec on a loaded file is served by live edit', () => {
    const r = run(
      `
      const { calls } = require('recon-trace')
      const { fact } = require('./fixtures/local/fact.cjs')
      calls('./fixtures/local/fact.cjs:fact/1', 3, { scope: 'local', ${IO} })
      fact(5)
    `,
      { env: LIVE, preload: false },
    )
    expect(r.lines).toEqual(['<0> fact:fact(5)', '<0> fact:fact(4)', '<0> fact:fact(3)', 'recon-trace: rate limit tripped after 3 messages; tracing stopped.'])
  })

  itLive('an ES module spec in global scope reaches the export through live edit', () => {
    const r = run(
      `
      import { calls } from 'recon-trace'
      const m = await import('${kindsEsm}')
      calls('${kindsEsm}:area -> return', 10, { ${IO} })
      m.area({ kind: 'square', side: 2 })
    `,
      { env: LIVE, preload: false, esm: true },
    )
    expect(r.lines).toEqual(["<0> kinds:area({ kind: 'square', side: 2 })", '<0> kinds:area/1 --> 4'])
  })
})

describe('ES modules', () => {
  it('global scope reaches exported functions (under their export names) through probes', () => {
    const r = run(
      `
      import { calls } from 'recon-trace'
      const m = await import('${kindsEsm}')
      console.error(calls(['${kindsEsm}:area -> return', '${kindsEsm}:squareOf', '${kindsEsm}:Shape#describe', '${kindsEsm}:default'], 100, { ${IO} }))
      m.default(3); new m.Shape('circle').describe()
    `,
      { esm: true },
    )
    expect(r.stderr.trim()).toBe('4')
    expect(r.lines).toEqual([
      '<0> kinds:default(3)',
      "<0> kinds:area({ kind: 'square', side: 3 })",
      '<0> kinds:squareOf(3)',
      '<0> kinds:area/1 --> 9',
      '<0> kinds:Shape#describe()',
    ])
  })

  it('global scope does not reach a function that is not exported', () => {
    const r = run(
      `
      import { calls } from 'recon-trace'
      await import('${kindsEsm}')
      try { calls('${kindsEsm}:circle', 10) } catch (e) { console.error(e.message) }
    `,
      { esm: true },
    )
    expect(r.stderr).toMatch(/no function exported as 'circle'.*its exports are: /)
  })

  it('local scope reaches internal functions and follows an async one', () => {
    const r = run(
      `
      import { calls } from 'recon-trace'
      const m = await import('${kindsEsm}')
      calls(['${kindsEsm}:circle -> return', '${kindsEsm}:fetchArea -> return'], 100, { scope: 'local', ${IO} })
      await m.fetchArea({ kind: 'circle', r: 2 }); await m.fetchArea(null).catch(() => {})
    `,
      { esm: true },
    )
    expect(r.lines).toEqual([
      "<0> kinds:fetchArea({ kind: 'circle', r: 2 })",
      '<0> kinds:circle(2)',
      '<0> kinds:circle/1 --> 13',
      '<0> kinds:fetchArea/1 ~> 13',
      '<0> kinds:fetchArea(null)',
      '<0> kinds:fetchArea/1 ~! Error: no shape',
    ])
  })
})

describe('worker threads', () => {
  it('a worker started by a preloaded program is instrumented and traces its own calls', () => {
    const r = run(`
      const { Worker } = require('node:worker_threads')
      const w = new Worker(\`
        const { calls } = require('recon-trace')
        const { fact } = require('./fixtures/local/fact.cjs')
        calls('./fixtures/local/fact.cjs:fact/1', 3, { scope: 'local', io: (l) => require('node:worker_threads').parentPort.postMessage(l) })
        fact(5)
      \`, { eval: true })
      w.on('message', (l) => process.stdout.write(l + '\\n'))
      w.on('error', (e) => console.error('worker error', e))
    `)
    expect(r.stderr).toBe('')
    // Node 20's loader thread (module.register) takes a threadId of its own: the worker's is 1 or 2.
    expect(r.lines.map((l) => l.replace(/^<[12]>/, '<w>'))).toEqual([
      '<w> fact:fact(5)',
      '<w> fact:fact(4)',
      '<w> fact:fact(3)',
      'recon-trace: rate limit tripped after 3 messages; tracing stopped.',
    ])
  })
})

describe('files that do not parse', () => {
  it('load unchanged, with one warning naming the file and the cause', () => {
    const dir = tempDir()
    const file = join(dir, 'broken.cjs')
    writeFileSync(file, `module.exports = function () { return 1 +* 2 }\n`)
    const program = `try { require(${JSON.stringify(file)}) } catch (e) { console.log(e.name) } try { require(${JSON.stringify(file)}) } catch (e) { console.log(e.name) }`
    const plain = run(program, { preload: false })
    const r = run(program)
    expect(r.stdout).toBe(plain.stdout)
    expect(r.stdout).toBe('SyntaxError\nSyntaxError\n')
    const warnings = r.stderr.split('\n').filter((l) => l.includes('ReconTraceWarning'))
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toContain(`${file} loads without probes: it does not parse (Unexpected token (1:41))`)
  })
})

describe('scope of the preload', () => {
  itLive('RECON_TRACE_EXCLUDE leaves a file without probes; a spec on it is served by live edit', () => {
    const r = run(
      `
      const { calls } = require('recon-trace')
      require('./fixtures/local/fact.cjs')
      const reg = globalThis[Symbol.for('recon-trace.state')]?.registry
      console.error([...reg.files.keys()].some((f) => f.endsWith('fact.cjs')))
      try { calls('./fixtures/local/fact.cjs:fact', 10, { scope: 'local' }) } catch (e) { console.error(e.message) }
    `,
      { env: { RECON_TRACE_EXCLUDE: 'fixtures/local/fact.cjs', ...LIVE } },
    )
    expect(r.stderr).toMatch(/^false\n/)
    expect(r.stderr.trim()).toBe('false') // no error: live edit serves it
  })

  it('a package in node_modules gets probes only when RECON_TRACE_INCLUDE names it', () => {
    const program = `
      require('lodash')
      const reg = globalThis[Symbol.for('recon-trace.state')]?.registry
      console.log([...reg.files.keys()].filter((f) => f.includes('/node_modules/lodash/')).length)
    `
    expect(run(program).stdout.trim()).toBe('0')
    expect(run(program, { env: { RECON_TRACE_INCLUDE: 'lodash' } }).stdout.trim()).toBe('1')
  })

  it('register() from code instruments the modules loaded after it, with its own include list', () => {
    const r = run(
      `
      const { register, calls } = require('recon-trace')
      register({ include: ['lodash'], cache: false })
      const _ = require('lodash')
      try { calls('lodash:chunk', 10, { scope: 'local' }) } catch (e) { console.error(e.message) }
      calls('lodash:runInContext.chunk -> return', 10, { scope: 'local', ${IO} })
      _.chunk([1, 2, 3], 2)
    `,
      { preload: false },
    )
    // lodash's functions live in runInContext, inside the file's anonymous wrapper (which adds nothing to names).
    expect(r.stderr).toMatch(/no function 'chunk' in the module; its functions are: runInContext\.chunk, /)
    expect(r.lines).toEqual(['<0> lodash:runInContext.chunk([1, 2, 3], 2)', '<0> lodash:runInContext.chunk/2 --> [[1, 2], [3]]'])
  })

  itLive('a package spec that is not included is served by live edit, once the package loads', () => {
    const r = run(
      `
      const { calls } = require('recon-trace')
      calls('lodash:runInContext.chunk', 10, { scope: 'local', ${IO} })
      const _ = require('lodash')
      setTimeout(() => _.chunk([1, 2, 3], 2), 20)
    `,
      { env: LIVE },
    )
    expect(r.lines).toEqual([
      'recon-trace: lodash is not loaded yet: live edit probes it when it loads',
      'recon-trace: probes in lodash:runInContext.chunk (loaded after the start)',
      '<0> lodash:runInContext.chunk([1, 2, 3], 2)',
    ])
  })
})

describe('RECON_TRACE_PROBES=calls', () => {
  it('traces calls with the smallest probes, and refuses a return trace on them, saying why', () => {
    const r = run(
      `
      const { calls } = require('recon-trace')
      const { fact } = require('./fixtures/local/fact.cjs')
      try { calls('./fixtures/local/fact.cjs:fact -> return', 10, { scope: 'local' }) } catch (e) { console.error(e.message) }
      calls('./fixtures/local/fact.cjs:fact/1', 2, { scope: 'local', ${IO} })
      fact(4)
    `,
      { env: { RECON_TRACE_PROBES: 'calls' } },
    )
    expect(r.stderr).toContain('was instrumented with RECON_TRACE_PROBES=calls: its probes see calls, not returns or exceptions')
    expect(r.lines).toEqual(['<0> fact:fact(4)', '<0> fact:fact(3)', 'recon-trace: rate limit tripped after 2 messages; tracing stopped.'])
  })
})

describe('the cache', () => {
  it('keeps rewritten files (owner-only) and reuses them on the next start', () => {
    const dir = tempDir()
    const program = `const { fact } = require('./fixtures/local/fact.cjs'); console.log(fact(5), globalThis.fromCache === true)`
    const first = run(program, { env: { RECON_TRACE_CACHE: dir } })
    expect(first.stdout).toBe('120 false\n')
    const files = readdirSync(dir).filter((f) => f.endsWith('.js'))
    expect(files.length).toBeGreaterThan(0)
    // Prove the next start reads the cache: mark the cached copy of fact.cjs (its code comes
    // last in the entry, after the file's name and source).
    const cached = files.map((f) => join(dir, f)).find((f) => readFileSync(f, 'utf8').includes('function fact'))!
    writeFileSync(cached, readFileSync(cached, 'utf8') + '\nglobalThis.fromCache = true;\n')
    const second = run(program, { env: { RECON_TRACE_CACHE: dir } })
    expect(second.stdout).toBe('120 true\n')
  })

  it('rewrites a file again when its source changed, and never runs an entry made from another source', () => {
    const dir = tempDir()
    const app = join(tempDir(), 'app.cjs')
    const program = `console.log(require(${JSON.stringify(app)}).v())`
    const env = { RECON_TRACE_CACHE: dir, RECON_TRACE_INCLUDE: `${dirname(app)}/**` }
    writeFileSync(app, 'exports.v = function v() { return "first" }\n')
    expect(run(program, { env }).stdout).toBe('first\n')
    // The same name and length, another source: the entry is not this file's any more.
    writeFileSync(app, 'exports.v = function v() { return "again" }\n')
    expect(run(program, { env }).stdout).toBe('again\n')
    expect(run(program, { env }).stdout).toBe('again\n')
    const entries = readdirSync(dir).filter((f) => f.endsWith('.js'))
    expect(entries.filter((f) => readFileSync(join(dir, f), 'utf8').includes(app))).toHaveLength(1)
  })
})

describe('stack traces and source maps', () => {
  /** The `at` lines of an error's stack, as the program prints them. */
  const stackOf = `(e) => console.log(e.stack.split('\\n').filter((l) => l.includes(' at ')).slice(0, 4).join('\\n'))`
  /**
   * The position each frame names: file (a path; Node prints a mapped ES module's file as a path
   * where V8 prints its URL), line and column. The function's name is left out: for a file with
   * a source map Node formats the frame itself (`Queue.set size` where V8 says
   * `set size [as size]`), whoever made the map.
   */
  const positions = (text: string) =>
    text
      .split('\n')
      .filter((l) => l.includes(' at '))
      .map((l) =>
        (/\(?((?:file:\/\/)?[^\s()]+):(\d+):(\d+)\)?$/.exec(l) ?? [])
          .slice(1)
          .join(':')
          .replace(/^file:\/\//, ''),
      )

  it('an error thrown in instrumented CommonJS names the same frames, lines and columns as without the preload (source maps on)', () => {
    const program = `
      const k = require(${JSON.stringify(kinds)})
      try { k.fails(1) } catch (e) { (${stackOf})(e) }
      try { new k.Queue('q').size = 2 } catch (e) { (${stackOf})(e) }
    `
    const plain = run(program, { preload: false, flags: ['--enable-source-maps'] })
    const probed = run(program, { flags: ['--enable-source-maps'] })
    expect(plain.stdout).toMatch(/at Object\.fails \(.*fixtures\/local\/kinds\.cjs:61:9\)/)
    expect(positions(probed.stdout)).toEqual(positions(plain.stdout))
    expect(positions(probed.stdout)).toContain(`${root}/fixtures/local/kinds.cjs:44:11`)
  })

  it('with the cache on, the map is a file beside the cached code and errors still map exactly', () => {
    const dir = tempDir()
    const program = `
      const k = require(${JSON.stringify(kinds)})
      try { k.fails(1) } catch (e) { (${stackOf})(e) }
      try { k.arrow(Symbol()) } catch (e) { (${stackOf})(e) }
    `
    const plain = run(program, { preload: false, flags: ['--enable-source-maps'] })
    // The second error is thrown on a line the probe writes on (the arrow's body): its column
    // moves in the rewritten code, and only the map brings it back.
    expect(positions(plain.stdout).some((p) => /kinds\.cjs:10:\d+$/.test(p))).toBe(true)
    for (let i = 0; i < 2; i++) {
      const probed = run(program, { flags: ['--enable-source-maps'], env: { RECON_TRACE_CACHE: dir } })
      expect(positions(probed.stdout)).toEqual(positions(plain.stdout))
    }
    // The rewritten files (and, on Node 22+, V8's compile cache in its own directory, v8/).
    const files = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => e.name)
    const code = files.map((f) => readFileSync(join(dir, f), 'utf8')).find((t) => t.includes('function fails'))!
    // Relative to the file: Node reads a relative or data: URL, and ignores an absolute file: URL.
    expect(code).toMatch(/\/\/# sourceMappingURL=(\.\.\/)+[^\s:]+\.js\.map\n$/)
    expect(files.filter((f) => f.endsWith('.js.map')).length).toBeGreaterThan(0)
  })

  it('keeps every line number even without source maps', () => {
    const program = `
      const k = require(${JSON.stringify(kinds)})
      try { k.fails(1) } catch (e) { console.log(e.stack.split('\\n').filter((l) => l.includes('kinds.cjs')).map((l) => l.replace(/:(\\d+):\\d+\\)$/, ':$1)')).join('\\n')) }
    `
    const plain = run(program, { preload: false })
    const probed = run(program)
    expect(plain.stdout).toContain('kinds.cjs:61)')
    expect(probed.stdout).toBe(plain.stdout)
  })

  it('an ES module rejection names the same frames with source maps on', () => {
    const program = `
      const m = await import('${kindsEsm}')
      await m.fetchArea(null).catch(${stackOf})
    `
    const plain = run(program, { preload: false, esm: true, flags: ['--enable-source-maps'] })
    const probed = run(program, { esm: true, flags: ['--enable-source-maps'] })
    expect(plain.stdout).toMatch(/at Module\.fetchArea \(.*fixtures\/local\/kinds\.mjs:26:21\)/)
    expect(positions(probed.stdout)).toEqual(positions(plain.stdout))
  })

  it('process.setSourceMapsEnabled(true) at run time maps errors of modules loaded after it', () => {
    const program = `
      process.setSourceMapsEnabled(true)
      const k = require(${JSON.stringify(kinds)})
      try { k.fails(1) } catch (e) { (${stackOf})(e) }
    `
    const plain = run(program, { preload: false })
    const probed = run(program)
    expect(positions(probed.stdout)).toEqual(positions(plain.stdout))
    expect(probed.stdout).toMatch(/kinds\.cjs:61:9\)/)
  })

  it('TypeScript compiled with a map: errors and traces name the .ts file, checked against an independent SourceMapConsumer', async () => {
    const ts = (await import('typescript')).default
    const { SourceMapConsumer } = await import('source-map')
    const tsFile = join(root, 'fixtures/ts/orders.ts')
    const source = readFileSync(tsFile, 'utf8')
    const out = ts.transpileModule(source, {
      fileName: tsFile,
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, sourceMap: true },
    })
    const dir = tempDir()
    const js = join(dir, 'orders.cjs')
    const map = JSON.parse(out.sourceMapText!)
    map.sources = [tsFile]
    writeFileSync(js, out.outputText.replace(/\/\/# sourceMappingURL=.*/, '//# sourceMappingURL=orders.cjs.map'))
    writeFileSync(`${js}.map`, JSON.stringify(map))
    // Where the throw is in the compiled JS, and where the tsc map says it comes from.
    const jsLines = out.outputText.split('\n')
    const jsLine = jsLines.findIndex((l) => l.includes('throw new RangeError'))
    const jsCol = jsLines[jsLine].indexOf('new RangeError') // V8 names the position of the `new`
    const consumer = await new SourceMapConsumer(map)
    const expected = consumer.originalPositionFor({ line: jsLine + 1, column: jsCol })
    consumer.destroy()
    const tsLine = source.split('\n').findIndex((l) => l.includes('// THROW SITE')) + 1
    expect(expected.line).toBe(tsLine)

    const program = `
      const { calls } = require('recon-trace')
      const o = require(${JSON.stringify(js)})
      if (globalThis[Symbol.for('recon-trace.state')]?.registry) calls(${JSON.stringify(`${js}:lineTotal -> return`)}, 10, { scope: 'local', ${IO} })
      o.orderTotal([{ sku: 'a', qty: 2, price: 3 }])
      try { o.orderTotal([{ sku: 'b', qty: -1, price: 1 }]) } catch (e) { (${stackOf})(e) }
    `
    const plain = run(program, { preload: false, flags: ['--enable-source-maps'] })
    const probed = run(program, { flags: ['--enable-source-maps'] })
    const frame = `at lineTotal (${tsFile}:${expected.line}:${expected.column! + 1})`
    expect(plain.stdout).toContain(frame)
    expect(probed.lines.filter((l) => l.startsWith('<0>'))).toEqual([
      "<0> orders:lineTotal({ sku: 'a', qty: 2, price: 3 })",
      '<0> orders:lineTotal/1 --> 6',
      "<0> orders:lineTotal({ sku: 'b', qty: -1, price: 1 })",
      '<0> orders:lineTotal/1 !! RangeError: negative quantity for b',
    ])
    expect(positions(probed.stdout)).toEqual(positions(plain.stdout))
    expect(probed.stdout).toContain(frame)

    // Every kind of function of the TypeScript file, traced in local scope.
    const kindsRun = run(`
      const { calls } = require('recon-trace')
      const o = require(${JSON.stringify(js)})
      calls(['${js}:Cart.empty', '${js}:Cart#add -> return', '${js}:Cart##check', '${js}:Cart#size -> return', '${js}:Cart#total -> return', '${js}:checkout -> return', '${js}:receipt -> return', '${js}:orderTotal.@*'], 100, { scope: 'local', args: 'arity', ${IO} })
      ;(async () => {
        const cart = o.Cart.empty().add({ sku: 'a', qty: 2, price: 3 })
        cart.size
        await o.checkout(cart)
        ;[...o.receipt([{ sku: 'a', qty: 1, price: 1 }])]
      })()
    `)
    expect(kindsRun.stderr).toBe('')
    expect(kindsRun.lines).toEqual([
      '<0> orders:Cart.empty/0',
      '<0> orders:Cart#add/1',
      '<0> orders:Cart##check/1',
      '<0> orders:Cart#add/1 --> Cart { total: [Function: total] }',
      '<0> orders:Cart#size (get)/0',
      '<0> orders:Cart#size (get)/0 --> 1',
      '<0> orders:checkout/1',
      '<0> orders:Cart#size (get)/0',
      '<0> orders:Cart#size (get)/0 --> 1',
      '<0> orders:Cart#total/0',
      '<0> orders:orderTotal.@15/2', // the arrow's line in orders.ts, through the tsc map
      '<0> orders:Cart#total/0 --> 6',
      '<0> orders:checkout/1 ~> { total: 6 }',
      '<0> orders:receipt/1',
      '<0> orders:receipt/1 --> 1',
    ])
  })
})

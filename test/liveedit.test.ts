// Live edit: probes put into a process started without any preparation, in real processes.
import { describe, expect, it } from 'vitest'
import { runProgram, type Run } from './helpers.js'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { tmpdir } from 'node:os'
import { LIVE_EDIT_ON, NO_LIVE_EDIT, V8_MAJOR, describeUnless, itUnless } from './runtime.js'

const root = resolve(import.meta.dirname, '..')
const IO = `io: (l) => process.stdout.write(l + '\\n')`
const shapes = './fixtures/live/shapes.cjs'

/** Blocks of tests of what live edit does: where it does not exist (V8 14), skipped, saying so. */
const describeLive = describeUnless(NO_LIVE_EDIT)

/** Run `program` with plain node: no preload (live edit turned on where it is off by default). */
function run(program: string, opts: { esm?: boolean; flags?: string[]; env?: Record<string, string>; timeout?: number } = {}): Run {
  return runProgram(program, { ...opts, env: { ...LIVE_EDIT_ON, ...opts.env } })
}

/**
 * A program prefix: `check(file)` prints, as one JSON line on stderr, what a second, independent
 * inspector session sees of `file` (is its text the original?), which global bindings the
 * probes left, and whether recon-trace's session is still open.
 */
const CHECK = `
  const __insp = require('node:inspector'), __fs = require('node:fs'), __path = require('node:path'), __url = require('node:url')
  function check(file) {
    const s = new __insp.Session(); s.connect()
    // The lowest id: V8 lists the replaced copies of an edited script under its URL too, with higher ids.
    const ids = new Map(); s.on('Debugger.scriptParsed', (e) => { const o = ids.get(e.params.url); if (o === undefined || +e.params.scriptId < +o) ids.set(e.params.url, e.params.scriptId) })
    s.post('Debugger.enable', () => {})
    const abs = __path.resolve(file)
    let text; s.post('Debugger.getScriptSource', { scriptId: ids.get(__url.pathToFileURL(abs).href) ?? ids.get(abs) }, (e, r) => { text = r && r.scriptSource })
    s.post('Debugger.disable', () => {}); s.disconnect()
    const ed = globalThis[Symbol.for('recon-trace.state')]?.liveEditor
    console.error(JSON.stringify({ original: text === __fs.readFileSync(abs, 'utf8'), bindings: Object.getOwnPropertyNames(globalThis).filter((n) => n.startsWith('$rt')), open: ed ? ed.isOpen : false }))
  }
  const turn = () => new Promise((ok) => setTimeout(ok, 20))
`
const checks = (r: Run) =>
  r.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { original: boolean; bindings: string[]; open: boolean })

describeLive('live edit, CommonJS', () => {
  it('traces every kind of function of a module loaded without the preload, and puts the text back', () => {
    const r = run(`${CHECK}
      const { calls } = require('recon-trace')
      const m = require('${shapes}')
      const n = calls(['${shapes}:decl -> return', '${shapes}:arrowExpr', '${shapes}:arrowBlock -> return', '${shapes}:Box#constructor', '${shapes}:Box#get -> return',
        '${shapes}:Box.of', '${shapes}:Box#size -> return', '${shapes}:obj.meth', '${shapes}:obj.fe -> return', '${shapes}:count -> return', '${shapes}:hidden -> return'], 100, { scope: 'local', ${IO} })
      console.error('hooked', n)
      m.decl(1); m.arrowExpr(2); m.arrowBlock(3); m.Box.of(4).get(5); new m.Box(1).size; m.obj.meth(6); m.obj.fe(7); [...m.count(2)]; m.viaHidden(12)
      ;(async () => {
        const { clear } = require('recon-trace')
        check('${shapes}')
        clear()
        await turn()
        check('${shapes}')
        m.decl(1)
      })()
    `)
    expect(r.stderr).toContain('hooked 11')
    expect(r.lines).toEqual([
      '<0> shapes:decl(1)',
      '<0> shapes:decl/1 --> 2',
      '<0> shapes:arrowExpr(2)',
      '<0> shapes:arrowBlock(3)',
      '<0> shapes:arrowBlock/1 --> 2',
      '<0> shapes:Box.of(4)',
      '<0> shapes:Box#constructor(4)',
      '<0> shapes:Box#get(5)',
      '<0> shapes:Box#get/1 --> 9',
      '<0> shapes:Box#constructor(1)',
      '<0> shapes:Box#size (get)()',
      '<0> shapes:Box#size (get)/0 --> 1',
      '<0> shapes:obj.meth(6)',
      '<0> shapes:obj.fe(7)',
      '<0> shapes:obj.fe/1 --> { a: 7 }',
      '<0> shapes:count(2)',
      '<0> shapes:count/1 --> undefined',
      '<0> shapes:hidden(12)',
      "<0> shapes:hidden/1 --> 'big'",
    ])
    const [during, after] = checks(r)
    expect(during).toEqual({ original: false, bindings: [expect.stringMatching(/^\$rt\d*\$\d+$/)], open: true })
    expect(after).toEqual({ original: true, bindings: [], open: false })
  })

  it('after a trip, slots go dormant on the tripping call and the original text is back at the next turn', () => {
    const r = run(`${CHECK}
      const { calls } = require('recon-trace')
      const m = require('${shapes}')
      calls('${shapes}:hidden/1', 2, { scope: 'local', ${IO} })
      for (let i = 0; i < 5; i++) m.viaHidden(i)
      check('${shapes}')
      setTimeout(() => check('${shapes}'), 30)
    `)
    expect(r.lines).toEqual(['<0> shapes:hidden(0)', '<0> shapes:hidden(1)', 'recon-trace: rate limit tripped after 2 messages; tracing stopped.'])
    const [sameTurn, later] = checks(r)
    expect(sameTurn.original).toBe(false) // the tripping call is still running when the trace ends
    expect(later).toEqual({ original: true, bindings: [], open: false })
  })

  it('an exception keeps its identity, and its stack keeps every line', () => {
    const r = run(`
      const { calls } = require('recon-trace')
      const m = require('${shapes}')
      const frames = (e) => e.stack.split('\\n').filter((l) => l.includes('shapes.cjs')).map((l) => l.replace(/:(\\d+):\\d+\\)?$/, ':$1'))
      let before; try { m.fails(1) } catch (e) { before = frames(e) }
      calls('${shapes}:fails -> return', 10, { scope: 'local', ${IO} })
      let during, same; const err = new Error('x')
      try { m.fails(2) } catch (e) { during = frames(e); same = e instanceof RangeError }
      console.error(JSON.stringify({ before, during, same }))
    `)
    const { before, during, same } = JSON.parse(r.stderr.trim().split('\n').pop()!)
    expect(same).toBe(true)
    expect(during).toEqual(before)
    expect(r.lines).toEqual(['<0> shapes:fails(2)', '<0> shapes:fails/1 !! RangeError: bad 2'])
  })

  it("a `debugger` statement in a probed function does not stop the program on recon-trace's session", () => {
    const r = run(`
      const { calls } = require('recon-trace')
      const m = require('${shapes}')
      calls('${shapes}:stops -> return', 10, { scope: 'local', ${IO} })
      console.error('result', m.stops(5))
    `)
    expect(r.status).toBe(0)
    expect(r.stderr).toContain('result 5')
    expect(r.lines).toEqual(['<0> shapes:stops(5)', '<0> shapes:stops/1 --> 5'])
  })

  it('a concise arrow gets its calls; a return trace on it is refused, saying why and what to do', () => {
    const r = run(`
      const { calls } = require('recon-trace')
      const m = require('${shapes}')
      try { calls('${shapes}:arrowExpr -> return', 10, { scope: 'local' }) } catch (e) { console.error(e.message) }
    `)
    expect(r.stderr).toContain('shapes:arrowExpr is an arrow function with an expression body: live edit can probe its calls but not its return')
    expect(r.stderr).toContain('node --import recon-trace/register')
  })

  it('names the functions of the file when the spec names none of them', () => {
    const r = run(`
      const { calls } = require('recon-trace')
      require('${shapes}')
      try { calls('${shapes}:hiden', 10, { scope: 'local' }) } catch (e) { console.error(e.message) }
      console.error('open', globalThis[Symbol.for('recon-trace.state')].liveEditor.isOpen)
    `)
    expect(r.stderr).toMatch(/no function 'hiden' in .*shapes\.cjs; its functions are: hidden/)
    expect(r.stderr).toContain('open false')
  })
})

describeLive('live edit, files that load later', () => {
  it('a file that loads after the trace began is probed when it loads, and put back at the end', () => {
    const r = run(`${CHECK}
      const { calls, clear } = require('recon-trace')
      console.error('hooked', calls('./fixtures/live/lazy.cjs:inner -> return', 10, { scope: 'local', ${IO} }))
      setTimeout(() => {
        const m = require('./fixtures/live/lazy.cjs')
        m.lazyFn(1) // in the same turn as the load: the probe goes in at the next turn
        setTimeout(() => { m.lazyFn(2); check('./fixtures/live/lazy.cjs'); clear(); setTimeout(() => check('./fixtures/live/lazy.cjs'), 20) }, 20)
      }, 20)
    `)
    expect(r.stderr).toContain('hooked 0')
    expect(r.lines).toEqual([
      'recon-trace: lazy is not loaded yet: live edit probes it when it loads',
      'recon-trace: probes in lazy:inner (loaded after the start)',
      '<0> lazy:inner(2)',
      '<0> lazy:inner/1 --> 20',
    ])
    expect(checks(r)).toEqual([
      { original: false, bindings: [expect.stringMatching(/^\$rt\d*\$\d+$/)], open: true },
      { original: true, bindings: [], open: false },
    ])
  })

  it('a trace that waits for a file that never loads holds the session only until it ends', () => {
    const r = run(`
      const { calls, clear } = require('recon-trace')
      calls('./fixtures/live/lazy.cjs:inner', 10, { scope: 'local', ${IO} })
      const ed = globalThis[Symbol.for('recon-trace.state')]?.liveEditor
      console.error('while', ed.isOpen)
      clear()
      console.error('after', ed.isOpen)
    `)
    expect(r.stderr).toContain('while true')
    expect(r.stderr).toContain('after false')
  })
})

describeLive('live edit, other contexts', () => {
  it('never edits a script of a vm context, whose functions could not see the probes\' binding', () => {
    const r = run(`
      const vm = require('node:vm'), fs = require('node:fs'), path = require('node:path')
      const ctx = vm.createContext({ module: { exports: {} } })
      vm.runInContext(fs.readFileSync('${shapes}', 'utf8'), ctx, { filename: path.resolve('./fixtures/live/in-vm.cjs') })
      const { calls } = require('recon-trace')
      try { calls('./fixtures/live/in-vm.cjs:hidden', 10, { scope: 'local' }) } catch (e) { console.error(e.message) }
      console.error('still', vm.runInContext('module.exports.viaHidden(20)', ctx))
    `)
    expect(r.stderr).toContain('in-vm.cjs does not exist')
    expect(r.stderr).toContain('still big')
  })
})

describeLive('live edit, busy functions', () => {
  it('an async function suspended at an await is probed once it has returned, after a notice', () => {
    const r = run(`
      const { calls } = require('recon-trace')
      const b = require('./fixtures/live/busy.cjs')
      const pending = b.handler(1) // suspended at its await
      console.error('hooked', calls('./fixtures/live/busy.cjs:handler -> return', 10, { scope: 'local', ${IO} }))
      setTimeout(async () => { b.release(); await pending; setTimeout(() => b.handler(2), 50) }, 100)
    `)
    expect(r.stderr).toContain('hooked 1')
    expect(r.lines).toEqual([
      'recon-trace: waiting to probe busy:handler: a call of it is suspended (an async function waiting at an await, or a generator at a yield); retrying for 2 s',
      'recon-trace: probes in busy:handler',
      '<0> busy:handler(2)',
      '<0> busy:handler/1 ~> 2',
    ])
  })

  it('a function that stays busy and is exported falls back to a runtime wrapper after the bounded retry, saying so', () => {
    const r = run(`${CHECK}
      const { calls } = require('recon-trace')
      const b = require('./fixtures/live/busy.cjs')
      b.handler(1) // never released
      calls(['./fixtures/live/busy.cjs:handler', './fixtures/live/busy.cjs:helper'], 10, { scope: 'local', ${IO} })
      b.helper(1) // not probed yet: all edits or none
      setTimeout(() => { b.helper(2); b.handler(3); check('./fixtures/live/busy.cjs') }, 2300)
    `)
    expect(r.lines[0]).toMatch(/^recon-trace: waiting to probe busy:handler, busy:helper: a call of it is suspended/)
    expect(r.lines[1]).toMatch(
      /^recon-trace: busy:handler, busy:helper: a call of it is suspended .* for 2 s \(live edit cannot change a function while it runs\); traced through their exports instead \(runtime wrappers\): calls from inside the module are not seen$/,
    )
    expect(r.lines.slice(2)).toEqual(['<0> busy:helper(2)', '<0> busy:handler(3)'])
    expect(checks(r)).toEqual([{ original: true, bindings: [], open: false }])
  })

  it('a function that stays busy and is not exported ends the trace, naming it, why, and the options; the file is untouched', () => {
    const r = run(`${CHECK}
      const { calls } = require('recon-trace')
      const b = require('./fixtures/live/busy.cjs')
      b.startInside() // suspended for ever
      calls('./fixtures/live/busy.cjs:waitInside', 10, { scope: 'local', ${IO} })
      setTimeout(() => check('./fixtures/live/busy.cjs'), 2300)
    `)
    expect(r.lines[0]).toMatch(/^recon-trace: waiting to probe busy:waitInside: a call of it is suspended/)
    expect(r.lines[1]).toMatch(/^recon-trace: could not probe busy:waitInside: a call of it is suspended .* for 2 s .*Try again when it is idle, trace it in global scope if it is exported.*node --import recon-trace\/register/)
    expect(r.lines[1]).toMatch(/tracing stopped\.$/)
    expect(r.lines).toHaveLength(2)
    expect(checks(r)).toEqual([{ original: true, bindings: [], open: false }])
  })


  it('a generator suspended at a yield is probed once it is closed', () => {
    const r = run(`
      const { calls } = require('recon-trace')
      const m = require('${shapes}')
      const g = m.count(3); g.next() // suspended at its yield
      calls('${shapes}:count -> return', 10, { scope: 'local', ${IO} })
      setTimeout(() => { g.return(); setTimeout(() => [...m.count(1)], 30) }, 30)
    `)
    expect(r.lines).toEqual([
      'recon-trace: waiting to probe shapes:count: a call of it is suspended (an async function waiting at an await, or a generator at a yield); retrying for 2 s',
      'recon-trace: probes in shapes:count',
      '<0> shapes:count(1)',
      '<0> shapes:count/1 --> undefined',
    ])
  })

  it('all files or none: a file edited before a busy one is put back in the same turn', () => {
    const r = run(`${CHECK}
      const { calls } = require('recon-trace')
      const m = require('${shapes}')
      const b = require('./fixtures/live/busy.cjs')
      const pending = b.handler(1)
      calls(['${shapes}:hidden', './fixtures/live/busy.cjs:handler'], 10, { scope: 'local', ${IO} })
      check('${shapes}')
      m.viaHidden(1) // not probed while the trace waits
      setTimeout(async () => { b.release(); await pending; setTimeout(() => { m.viaHidden(2); b.handler(3) }, 30) }, 50)
    `)
    expect(checks(r)).toEqual([{ original: true, bindings: [], open: true }])
    expect(r.lines).toEqual([
      'recon-trace: waiting to probe busy:handler: a call of it is suspended (an async function waiting at an await, or a generator at a yield); retrying for 2 s',
      'recon-trace: probes in busy:handler',
      '<0> shapes:hidden(2)',
      '<0> busy:handler(3)',
    ])
  })

  it('a function on the stack of the caller of calls() is probed at the next turn', () => {
    const r = run(`
      const { calls } = require('recon-trace')
      const b = require('./fixtures/live/busy.cjs')
      b.callWith(() => console.error('hooked', calls('./fixtures/live/busy.cjs:callWith', 10, { scope: 'local', ${IO} })))
      setTimeout(() => b.callWith(() => 0), 30)
    `)
    expect(r.stderr).toContain('hooked 1')
    expect(r.lines).toEqual([
      'recon-trace: waiting to probe busy:callWith: it is running (on the stack); retrying for 2 s',
      'recon-trace: probes in busy:callWith',
      '<0> busy:callWith([Function (anonymous)])',
    ])
  })
})

describeLive('live edit, again and again', () => {
  it('a second and third trace of the same file edit the running script, not the copies V8 keeps of the replaced ones', () => {
    const r = run(`
      const { calls, clear } = require('recon-trace')
      const m = require('${shapes}')
      ;(async () => {
        for (let i = 0; i < 3; i++) {
          calls('${shapes}:hidden/1', 1, { scope: 'local', ${IO} })
          m.viaHidden(i)
          await new Promise((ok) => setTimeout(ok, 20))
        }
      })()
    `)
    expect(r.lines).toEqual([
      '<0> shapes:hidden(0)',
      'recon-trace: rate limit tripped after 1 messages; tracing stopped.',
      '<0> shapes:hidden(1)',
      'recon-trace: rate limit tripped after 1 messages; tracing stopped.',
      '<0> shapes:hidden(2)',
      'recon-trace: rate limit tripped after 1 messages; tracing stopped.',
    ])
  })

  it('another debugger session of the program keeps working, before, during and after the trace', () => {
    const r = run(`
      const inspector = require('node:inspector')
      const other = new inspector.Session(); other.connect()
      let parsed = 0; other.on('Debugger.scriptParsed', () => parsed++)
      other.post('Debugger.enable', () => {})
      const { calls, clear } = require('recon-trace')
      const m = require('${shapes}')
      calls('${shapes}:hidden -> return', 10, { scope: 'local', ${IO} })
      m.viaHidden(1)
      let ok; other.post('Runtime.evaluate', { expression: '6 * 7' }, (e, res) => { ok = res.result.value })
      clear()
      setTimeout(() => {
        let after; other.post('Runtime.evaluate', { expression: '1 + 1' }, (e, res) => { after = res.result.value })
        m.viaHidden(2)
        console.error(JSON.stringify({ ok, after, parsed: parsed > 0 }))
      }, 30)
    `)
    expect(r.status).toBe(0)
    expect(JSON.parse(r.stderr.trim())).toEqual({ ok: 42, after: 2, parsed: true })
    expect(r.lines).toEqual(['<0> shapes:hidden(1)', "<0> shapes:hidden/1 --> 'small'"])
  })
})

describeLive('live edit, ES modules', () => {
  it('traces exports by export name in global scope, and internals in local scope', () => {
    const r = run(
      `
      import { calls, clear } from 'recon-trace'
      const m = await import('./fixtures/live/shapes.mjs')
      calls(['./fixtures/live/shapes.mjs:exported -> return', './fixtures/live/shapes.mjs:default'], 10, { ${IO} })
      m.exported(2); m.default(5)
      clear()
      await new Promise((ok) => setTimeout(ok, 20))
      calls(['./fixtures/live/shapes.mjs:internal -> return', './fixtures/live/shapes.mjs:arrow'], 10, { scope: 'local', ${IO} })
      m.arrow(4)
    `,
      { esm: true },
    )
    expect(r.stderr).toBe('')
    expect(r.lines).toEqual(['<0> shapes:exported(2)', '<0> shapes:exported/1 --> 7', '<0> shapes:default(5)', '<0> shapes:arrow(4)', '<0> shapes:internal(4)', '<0> shapes:internal/1 --> 12'])
  })
})

describeLive('live edit, a worker thread', () => {
  it('a worker probes its own copy of a module in its own isolate; the main thread is untouched', () => {
    const r = run(`
      const { Worker } = require('node:worker_threads')
      const m = require('${shapes}')
      const w = new Worker('./fixtures/live/worker.cjs')
      w.on('message', (lines) => { console.log(lines.join('\\n')); console.error('main', m.viaHidden(1)) ; w.terminate() })
    `)
    expect(r.lines).toEqual(['<1> shapes:hidden(11)', "<1> shapes:hidden/1 --> 'big'"])
    expect(r.stderr).toContain('main small')
  })
})

describeLive('live edit, TypeScript with a source map', () => {
  it('traces a function of tsc output; an error thrown while it is probed names the same .ts line and column', async () => {
    const ts = (await import('typescript')).default
    const tsFile = join(root, 'fixtures/ts/orders.ts')
    const out = ts.transpileModule(readFileSync(tsFile, 'utf8'), { fileName: tsFile, compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, sourceMap: true } })
    const dir = mkdtempSync(join(tmpdir(), 'recon-trace-live-'))
    try {
      const js = join(dir, 'orders.cjs')
      const map = JSON.parse(out.sourceMapText!)
      map.sources = [tsFile]
      writeFileSync(js, out.outputText.replace(/\/\/# sourceMappingURL=.*/, '//# sourceMappingURL=orders.cjs.map'))
      writeFileSync(`${js}.map`, JSON.stringify(map))
      const r = run(
        `
        const { calls } = require('recon-trace')
        const o = require(${JSON.stringify(js)})
        const frame = (e) => e.stack.split('\\n').find((l) => l.includes('at lineTotal'))
        let before; try { o.orderTotal([{ sku: 'b', qty: -1, price: 1 }]) } catch (e) { before = frame(e) }
        calls(${JSON.stringify(`${js}:lineTotal -> return`)}, 10, { scope: 'local', ${IO} })
        let during; try { o.orderTotal([{ sku: 'b', qty: -1, price: 1 }]) } catch (e) { during = frame(e) }
        console.error(JSON.stringify({ before, during }))
      `,
        { flags: ['--enable-source-maps'] },
      )
      const { before, during } = JSON.parse(r.stderr.trim().split('\n').pop()!)
      expect(before).toContain(`${tsFile}:10:`)
      expect(during).toBe(before)
      expect(r.lines).toEqual(["<0> orders:lineTotal({ sku: 'b', qty: -1, price: 1 })", '<0> orders:lineTotal/1 !! RangeError: negative quantity for b'])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

describeLive('livediff: the port of V8\'s text diff', () => {
  it('predicts, for every function lodash exports, whether V8 gives it the probe: checked by calling it', () => {
    const r = run(`
      const inspector = require('node:inspector')
      const { instrument } = require('./dist/cjs/instrument.js')
      const { unpatched, unrestored } = require('./dist/cjs/installers/livediff.js')
      const file = require.resolve('lodash')
      const lib = require(file)
      const s = new inspector.Session(); s.connect()
      const post = (m, p) => { let out; s.post(m, p, (e, r) => { out = e ? { error: e.message } : r }); return out }
      const ids = new Map(); s.on('Debugger.scriptParsed', (e) => { if (!ids.has(e.params.url)) ids.set(e.params.url, e.params.scriptId) })
      post('Debugger.enable')
      const id = ids.get(require('node:url').pathToFileURL(file).href)
      const src = post('Debugger.getScriptSource', { scriptId: id }).scriptSource
      const table = instrument(src, { filename: file, runtime: 'global', key: '1', map: false, stableIds: true, tableOnly: true })
      const stats = { tried: 0, patched: 0, wrong: [] }
      let hits = 0
      const keys = Object.keys(lib).filter((k) => typeof lib[k] === 'function').slice(0, 50)
      // V8 13: a function that first runs after an edit of its script can crash it (see the
      // runtime gate below): there, every function runs once before any edit.
      if (${V8_MAJOR === 13}) for (const k of Object.keys(lib)) try { lib[k]([1, 2, 3], (x) => x) } catch {}
      for (const k of keys) {
        const probe = table.probes.find((p) => p.name === 'runInContext.' + k)
        if (!probe) continue
        for (const closeAt of ['statement', 'brace']) {
          const r = instrument(src, { filename: file, runtime: 'global', key: '1', select: (f) => f.name === probe.name, map: false, closeAt })
          globalThis[r.binding] = { s: [1], e: () => (hits++, 0), r: (t, v) => v, x: (t, e) => e }
          const predicted = unpatched(src, r.code, r.insertions, r.spans).length === 0
          const back = unrestored(r.code, src, r.insertions, r.spans).length === 0
          hits = 0
          post('Debugger.setScriptSource', { scriptId: id, scriptSource: r.code })
          try { lib[k]([1, 2, 3], (x) => x) } catch {}
          const during = hits
          post('Debugger.setScriptSource', { scriptId: id, scriptSource: src })
          hits = 0
          try { lib[k]([1, 2, 3], (x) => x) } catch {}
          stats.tried++
          if (during > 0) stats.patched++
          if ((during > 0) !== predicted || (predicted && back && hits > 0)) stats.wrong.push([k, closeAt, during, predicted, back, hits])
        }
      }
      console.error(JSON.stringify(stats))
    `, { timeout: 100_000 })
    // Each edit of lodash's script costs V8 60-125 ms here (two per try, about 100 tries): 15-31 s,
    // past the 30 s a program gets by default on a slow day.
    expect(r.signal).toBeNull()
    const stats = JSON.parse(r.stderr.trim())
    expect(stats.tried).toBeGreaterThan(40)
    expect(stats.wrong).toEqual([])
    expect(stats.patched).toBeGreaterThan(stats.tried / 3) // both forms are tried: some of each are not mapped, and the port must say which
  }, 120_000)
})

describe('the runtime gate', () => {
  const repro = `
    const inspector = require('node:inspector')
    const file = require.resolve('lodash'); const lib = require(file)
    const s = new inspector.Session(); s.connect()
    const post = (m, p) => { let out; s.post(m, p, (e, r) => { out = e ? { error: e.message } : r }); return out }
    const ids = new Map(); s.on('Debugger.scriptParsed', (e) => { if (!ids.has(e.params.url)) ids.set(e.params.url, e.params.scriptId) })
    post('Debugger.enable')
    const id = ids.get(require('node:url').pathToFileURL(file).href)
    const src = post('Debugger.getScriptSource', { scriptId: id }).scriptSource
    const edit = post('Debugger.setScriptSource', { scriptId: id, scriptSource: src.replace('return baseConforms(baseClone(source, CLONE_DEEP_FLAG));', 'return baseConforms(baseClone(source, CLONE_DEEP_FLAG)); ') })
    if (edit && edit.error) console.log(edit.error)
    lib.conforms({ a: 1 })
    console.log('survived')
  `

  it('pins the reason: V8 14 (Node 26) has no live edit; on V8 13 (Node 24) one blank added to a lodash function, then its first call, crashes the process; V8 11 and 12 survive it', () => {
    const r = spawnSync(process.execPath, ['-e', repro], { cwd: root, encoding: 'utf8', timeout: 30_000 })
    if (V8_MAJOR >= 14) expect(r.stdout.trim().split('\n')).toEqual(['Inspector error -32000: setScriptSource functionality no longer available', 'survived'])
    else if (V8_MAJOR === 13) expect(r.signal).toBe('SIGSEGV')
    else expect(r.stdout.trim()).toBe('survived')
  })

  const program = `
    const { calls } = require('recon-trace')
    require('${shapes}')
    try { console.error('hooked', calls('${shapes}:hidden', 10, { scope: 'local' })) } catch (e) { console.error(e.message) }
  `

  it('is not used by default: binding swaps serve local scope (on V8 11, where they are off, live edit does)', () => {
    const byDefault = run(program, { env: { RECON_TRACE_LIVE_EDIT: '' } })
    expect(byDefault.stderr).toContain('hooked 1')
    if (V8_MAJOR <= 11) expect(byDefault.stderr).not.toContain('armed: waiting')
    else expect(byDefault.stderr).toContain('recon-trace: armed: waiting for the first call into shapes to swap its bindings')
  })

  const explained = program.replace(`{ scope: 'local' }`, `{ scope: 'local', explain: true, io: (l) => console.error(l) }`)

  it('says the truth per runtime when asked for: gone on V8 14, off where it crashed (V8 13), on before; binding swaps serve the spec where it cannot', () => {
    const asked = run(explained, { env: { RECON_TRACE_LIVE_EDIT: 'on' } })
    if (V8_MAJOR >= 14) {
      expect(asked.stderr).toContain(`live edit was asked for, but live edit does not exist on this runtime: V8 ${process.versions.v8} (Node ${process.versions.node}) removed it`)
      expect(asked.stderr).toContain('through binding swaps')
    } else if (V8_MAJOR === 13) {
      expect(asked.stderr).toContain(`live edit was asked for, but live edit is off on this runtime: V8 ${process.versions.v8}`)
      expect(asked.stderr).toContain('RECON_TRACE_LIVE_EDIT=force turns it on anyway')
      expect(asked.stderr).toContain('through binding swaps')
    } else expect(asked.stderr).toContain('shapes:hidden through live edit (local scope: live edit was asked for (RECON_TRACE_LIVE_EDIT), it probes the running code)')
  })

  it('RECON_TRACE_LIVE_EDIT=off never uses it; =force cannot bring it back where V8 removed it', () => {
    const off = run(explained, { env: { RECON_TRACE_LIVE_EDIT: 'off' } })
    // On V8 11 binding swaps are off too (installers/debugger.ts): then the spec is refused.
    expect(off.stderr).toContain(V8_MAJOR <= 11 ? 'needs binding swaps or live edit' : 'through binding swaps')
    expect(off.stderr).not.toContain('through live edit')
    const forced = run(explained, { env: { RECON_TRACE_LIVE_EDIT: 'force' } })
    if (V8_MAJOR >= 14) expect(forced.stderr).toContain('live edit was asked for, but live edit does not exist on this runtime')
    else expect(forced.stderr).toContain('through live edit')
  })

  itUnless(V8_MAJOR >= 13 && `live edit is off on V8 ${V8_MAJOR} unless forced, before the pause limit applies`)(
    'does not use live edit when the pause it would cause (V8 walks the whole heap) exceeds RECON_TRACE_LIVE_EDIT_MAX_PAUSE, saying so; force lifts it',
    () => {
      const r = run(explained, { env: { RECON_TRACE_LIVE_EDIT_MAX_PAUSE: '5' } })
      expect(r.stderr).toMatch(
        /live edit would stop this thread for about \d+ ms at the edit and again at the restore: V8 walks the whole heap for each edit \(here \d+ MB live; measured about 4 ms per MB\), over the limit of 5 ms/,
      )
      // On V8 11 binding swaps are off too: then the spec is refused, with both reasons.
      expect(r.stderr).toContain(V8_MAJOR <= 11 ? 'needs binding swaps or live edit' : 'through binding swaps')
      expect(run(explained, { env: { RECON_TRACE_LIVE_EDIT_MAX_PAUSE: '5', RECON_TRACE_LIVE_EDIT: 'force' } }).stderr).toContain('through live edit')
    },
  )
})

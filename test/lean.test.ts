// The preload's lean form (RECON_TRACE_PROBES=lean): functions a binding holds, and the file only
// calls through it, get no probe and are served by binding swaps at trace time; the rest keep
// their probes. The rewrite itself, the
// header the binding side reads back, and real processes started with the preload.
import { describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { instrument } from '../src/instrument.js'
import { preloadHeader } from '../src/installers/binding-plan.js'
import { reachOf } from '../src/installers/reach.js'
import { bundleServer, runProgram, type Run } from './helpers.js'
import { BINDING_ON, V8_MAJOR, itUnless } from './runtime.js'

const root = resolve(import.meta.dirname, '..')
const IO = `io: (l) => process.stdout.write(l + '\\n')`
const LEAN = './fixtures/local/lean.cjs'
const leanFile = resolve(root, 'fixtures/local/lean.cjs')

/** Run `program` with the preload in its lean form (binding swaps turned on where a runtime has them off). */
function run(program: string, opts: { esm?: boolean; env?: Record<string, string> } = {}): Run {
  return runProgram(program, {
    esm: opts.esm,
    flags: ['--import', 'recon-trace/register'],
    env: { RECON_TRACE_CACHE: '0', RECON_TRACE_PROBES: 'lean', ...BINDING_ON, ...opts.env },
  })
}

/** The trace's events, without its notices and with the call in flight at the arming left in. */
const events = (r: Run) => r.lines.filter((l) => !l.startsWith('recon-trace:'))
const notices = (r: Run) => r.lines.filter((l) => l.startsWith('recon-trace:'))

describe('the rewrite', () => {
  const source = readFileSync(leanFile, 'utf8')
  const lean = instrument(source, { filename: leanFile, bind: true })
  const full = instrument(source, { filename: leanFile })

  it('leaves a function a binding holds and the file only calls without a probe, marked bound, and probes the rest', () => {
    const bound = lean.probes.filter((p) => p.bound === true).map((p) => p.name)
    const probed = lean.probes.filter((p) => p.bound !== true).map((p) => p.name)
    expect(bound).toEqual(['price', 'tax', 'rounded', 'Cart#add'])
    // Nested functions; exported ones (a caller may hold them from before a trace); the class,
    // exported too (its constructor).
    expect(probed).toEqual(['total', 'total.@6', 'rounded.round', 'Cart#constructor', 'cart', 'discount', 'discount.apply'])
    for (const name of bound) expect(lean.code).not.toMatch(new RegExp(`\\$rtS\\[${lean.probes.find((p) => p.name === name)!.id}\\]`))
    for (const p of lean.probes.filter((x) => x.bound !== true)) expect(lean.code).toContain(`$rtS[${p.id}]!==0`)
  })

  it('keeps the full rewrite ids and names, with a slot for every function', () => {
    expect(lean.probes.map((p) => [p.id, p.name])).toEqual(full.probes.map((p) => [p.id, p.name]))
    expect(lean.code).toContain(`.file(${JSON.stringify(leanFile)},${full.probes.length},`)
  })

  it('leaves the text of a bound function as it was', () => {
    const text = (code: string, name: string) => code.slice(code.indexOf(`function ${name}(`), code.indexOf('}', code.indexOf(`function ${name}(`)) + 1)
    expect(text(lean.code, 'price')).toBe(text(source, 'price'))
    expect(text(full.code, 'price')).not.toBe(text(source, 'price'))
    expect(text(lean.code, 'total')).not.toBe(text(source, 'total'))
  })

  it('keeps a probe in a function the file reads as a value: passed, kept, exported, extended, a method handed on', () => {
    const src = [
      'function a() {}', 'function b() {}', 'function c() {}', 'class D {}', 'class E extends D { m() {} n() {} }',
      'function only() { a(); f.call(null); e.m.apply(e, []); return new E().m() }', 'function f() {}',
      'const api = { get() {}, put() {} }', 'api.get()', 'const { put } = api',
      'setTimeout(b)', 'const kept = { c }', 'const e = new E()', 'const handed = e.n',
    ].join('\n')
    const r = instrument(src, { filename: '/app/values.js', bind: true })
    // Called through its own call or apply, a function is still called through its holder.
    expect(r.probes.filter((p) => p.bound === true).map((p) => p.name)).toEqual(['a', 'E#m', 'only', 'f', 'api.get'])
  })

  it('takes an ES module export for the live binding it is, and a default export of a name for a value', () => {
    const src = 'export function f() {}\nfunction g() {}\nexport { g as h }\nfunction k() {}\nexport default k\n'
    const r = instrument(src, { filename: '/app/m.mjs', format: 'module', bind: true })
    expect(r.probes.map((p) => [p.name, p.bound === true])).toEqual([
      ['f', true],
      ['g', true],
      ['k', false],
    ])
  })

  it('registers a file whose functions all have a binding, with no probe in it', () => {
    const r = instrument('function a(x) { return x }\nconst b = () => a(1)\nb()\n', { filename: '/app/all-bound.js', bind: true })
    expect(r.probes.map((p) => [p.name, p.bound])).toEqual([
      ['a', true],
      ['b', true],
    ])
    expect(r.code).toMatch(/^const \$rtP=.*\.file\("\/app\/all-bound\.js",2,/)
    expect(r.code).not.toContain('$rtS[0]')
  })

  it('reaches into the top scope of a UMD factory, and through an alias of a prototype', () => {
    const file = resolve(root, 'fixtures/local/umd.cjs')
    const r = instrument(readFileSync(file, 'utf8'), { filename: file, bind: true })
    expect(r.probes.filter((p) => p.bound === true).map((p) => p.name)).toEqual(['pp.next', 'pp.all'])
    // The wrapper and the factory themselves are not held by any binding; Reader and read are exported.
    expect(r.probes.filter((p) => p.bound !== true).map((p) => p.name)).toEqual(['@3', '@5', 'Reader', 'read'])
    const holders = reachOf(readFileSync(file, 'utf8'), false).map((x) => [x.name, x.holder])
    expect(holders).toContainEqual(['pp.next', { kind: 'member', base: 'Reader', path: ['prototype'], key: 'next', slot: 'value' }])
    expect(holders).toContainEqual(['read', { kind: 'binding', name: 'read' }])
    // Inside the factory, its own names are the top-level bindings a condition reads, not shadows.
    expect([...reachOf(readFileSync(file, 'utf8'), false).find((x) => x.name === 'pp.all')!.shadows]).not.toContain('Reader')
  })

  it('takes no alias of a binding the file assigns again', () => {
    const src = 'var pp = A.prototype\npp.f = function () { return 1 }\npp = B.prototype\n'
    const reach = reachOf(src, false)
    expect(reach.map((x) => [x.name, x.holder])).toEqual([['pp.f', { kind: 'member', base: 'pp', path: [], key: 'f', slot: 'value' }]])
  })

  it('decides by the names the file runs with, where an input map gives the original ones', () => {
    // An esbuild bundle of two modules that each define findUser: the bundler renames one
    // (findUser2), the map names both findUser. The swap reads the running name.
    const { code, map } = bundleServer()
    expect(code).toMatch(/function findUser2\(/)
    const lean = instrument(code, { filename: '/out/server.js', bind: true, inputMap: map })
    const finds = lean.probes.filter((p) => p.name === 'findUser')
    expect(finds.map((p) => p.bound)).toEqual([true, true])
  })

  it('gives the binding side the header back from the running text: its span and the table', () => {
    const h = preloadHeader(lean.code, leanFile)!
    expect(h).toBeDefined()
    expect(lean.code.slice(h.start, h.start + 10)).toBe('const $rtP')
    expect(lean.code.slice(h.end, h.end + 12)).toBe(',$rtS=$rtP.s')
    expect(h.probes.map((p) => [p.name, p.bound === true])).toEqual(lean.probes.map((p) => [p.name, p.bound === true]))
  })

  it('finds no header in a file the preload did not rewrite, or one that registers another file', () => {
    expect(preloadHeader(source, leanFile)).toBeUndefined()
    expect(preloadHeader(lean.code, '/elsewhere/lean.cjs')).toBeUndefined()
  })
})

describe('a trace on a file rewritten in the lean form', () => {
  it('serves a top-level function and a method through binding swaps, with returns, and a nested one through its probe', () => {
    const r = run(`
      const { calls } = require('recon-trace')
      const L = require('${LEAN}')
      calls(['${LEAN}:price -> return', '${LEAN}:discount.apply -> return', '${LEAN}:Cart#add -> return'], 20, { scope: 'local', explain: true, ${IO} })
      L.total([{ cost: 4, kind: 'food' }])
      L.total([{ cost: 8, kind: 'tool' }])
      L.cart().add('x')
      L.discount(0.5)(10)
    `)
    expect(r.status).toBe(0)
    // The call in flight when the file is armed is reported by its entry breakpoint: its call only.
    expect(events(r)).toEqual([
      "<0> lean:price({ cost: 4, kind: 'food' })",
      "<0> lean:price({ cost: 8, kind: 'tool' })",
      '<0> lean:price/1 --> 10',
      "<0> lean:Cart#add('x')",
      '<0> lean:Cart#add/1 --> 1',
      '<0> lean:discount.apply(10)',
      '<0> lean:discount.apply/1 --> 5',
    ])
    expect(notices(r)).toContain(
      "recon-trace: lean:discount.apply through the preload's probes (local scope: the preload instrumented lean, its probes see every call)",
    )
    expect(notices(r)).toContain(
      "recon-trace: lean:price, lean:Cart#add through binding swaps (lean: the preload's lean form left the functions a binding holds " +
        'without probes; their bindings are swapped at the first call)',
    )
  })

  it('puts back every binding, export and method it swapped when the trace ends', () => {
    const r = run(`
      const { calls, clear } = require('recon-trace')
      const L = require('${LEAN}')
      const price = L.priceBinding()
      const add = Object.getOwnPropertyDescriptor(L.Cart.prototype, 'add')
      calls(['${LEAN}:price', '${LEAN}:Cart#add'], 100, { scope: 'local', io: () => {} })
      L.total([{ cost: 4 }, { cost: 5 }])
      L.cart().add(1)
      const during = [L.priceBinding() !== price, Object.getOwnPropertyDescriptor(L.Cart.prototype, 'add').value !== add.value]
      clear()
      const d = Object.getOwnPropertyDescriptor(L.Cart.prototype, 'add')
      console.log(JSON.stringify({ during, binding: L.priceBinding() === price,
        method: d.value === add.value && d.writable === add.writable && d.enumerable === add.enumerable && d.configurable === add.configurable }))
    `)
    expect(r.status).toBe(0)
    expect(JSON.parse(r.stdout.trim().split('\n').pop()!)).toEqual({ during: [true, true], binding: true, method: true })
  })

  it('hooks the functions of a file that loads after the trace started, from the next turn on', () => {
    // The Debugger tells of a new script after the turn that loaded it (as without the preload:
    // docs/binding.md); the call in that turn is not seen.
    const r = run(`
      const { calls } = require('recon-trace')
      calls('${LEAN}:price -> return', 10, { scope: 'local', ${IO} })
      const L = require('${LEAN}')
      L.total([{ cost: 1, kind: 'food' }])
      setTimeout(() => L.total([{ cost: 2, kind: 'food' }, { cost: 3, kind: 'food' }]), 10)
    `)
    expect(r.status).toBe(0)
    expect(notices(r)[0]).toBe('recon-trace: lean is not loaded yet: its functions are hooked when it loads')
    expect(events(r)).toEqual(["<0> lean:price({ cost: 2, kind: 'food' })", "<0> lean:price({ cost: 3, kind: 'food' })", '<0> lean:price/1 --> 3'])
  })

  it('serves each function of a spec that selects both kinds once: bound ones by their binding, nested ones by their probe', () => {
    const r = run(`
      const { calls } = require('recon-trace')
      const L = require('${LEAN}')
      calls('${LEAN}:rounded* -> return', 20, { scope: 'local', explain: true, ${IO} })
      L.total([{ cost: 4, kind: 'food' }])
      L.total([{ cost: 8, kind: 'tool' }])
    `)
    expect(r.status).toBe(0)
    expect(events(r)).toEqual([
      // The call in flight when the file is armed: its call only.
      '<0> lean:rounded(4)',
      // A probe passes the parameters it declares (map's index and array are not among them).
      '<0> lean:rounded.round(4)',
      '<0> lean:rounded.round/1 --> 4',
      '<0> lean:rounded(10)',
      '<0> lean:rounded.round(10)',
      '<0> lean:rounded.round/1 --> 10',
      '<0> lean:rounded/1 --> 10',
    ])
    expect(notices(r).filter((l) => / through (the preload|binding swaps)/.test(l))).toEqual([
      expect.stringContaining('recon-trace: lean:rounded.round through the preload'),
      expect.stringContaining('recon-trace: lean:rounded through binding swaps'),
    ])
  })

  it('swaps a method of a UMD build through the prototype its alias names, with returns', () => {
    const r = run(`
      const { calls, clear } = require('recon-trace')
      const U = require('./fixtures/local/umd.cjs')
      const next = U.Reader.prototype.next
      calls('./fixtures/local/umd.cjs:pp.next -> return', 20, { scope: 'local', ${IO} })
      U.read('ab')
      U.read('xy')
      clear()
      console.log('restored ' + (U.Reader.prototype.next === next))
    `)
    expect(r.status).toBe(0)
    expect(r.stdout).toContain('restored true')
    // The module's exports hold Reader: its prototype's method is swapped when the trace starts,
    // and every call goes through the wrapper, the first one too.
    expect(events(r).filter((l) => !l.startsWith('restored'))).toEqual([
      '<0> umd:pp.next()',
      "<0> umd:pp.next/0 --> 'a'",
      '<0> umd:pp.next()',
      "<0> umd:pp.next/0 --> 'b'",
      '<0> umd:pp.next()',
      '<0> umd:pp.next/0 --> undefined',
      '<0> umd:pp.next()',
      "<0> umd:pp.next/0 --> 'x'",
      '<0> umd:pp.next()',
      "<0> umd:pp.next/0 --> 'y'",
      '<0> umd:pp.next()',
      '<0> umd:pp.next/0 --> undefined',
    ])
  })

  it('opens no Debugger session for a spec whose functions all have probes', () => {
    const r = run(`
      const { calls } = require('recon-trace')
      const L = require('${LEAN}')
      calls('${LEAN}:discount.apply -> return', 10, { scope: 'local', ${IO} })
      L.discount(0.25)(8)
      process.stdout.write('debugger ' + (globalThis[Symbol.for('recon-trace.state')].debugSession?.isOpen === true) + '\\n')
    `)
    expect(r.status).toBe(0)
    expect(r.lines).toEqual(['debugger false', '<0> lean:discount.apply(8)', '<0> lean:discount.apply/1 --> 6'])
  })

  it('refuses a spec that names no function, listing the functions with and without probes', () => {
    const r = run(`
      const { calls } = require('recon-trace')
      require('${LEAN}')
      try { calls('${LEAN}:prices', 10, { scope: 'local', io: () => {} }) } catch (e) { console.log(e.message) }
    `)
    expect(r.stdout).toContain("./fixtures/local/lean.cjs:prices: no function 'prices' in")
    expect(r.stdout).toMatch(/its functions are: price, /)
    expect(r.stdout).toContain('rounded.round')
    expect(r.stdout.match(/no function/g)).toHaveLength(1)
  })

  it('serves an ES module alike', () => {
    const r = run(
      `
      import { calls } from 'recon-trace'
      import * as k from './fixtures/local/kinds.mjs'
      calls(['./fixtures/local/kinds.mjs:circle -> return', './fixtures/local/kinds.mjs:Shape#describe -> return'], 20, { scope: 'local', ${IO} })
      k.area({ kind: 'circle', r: 2 })
      k.area({ kind: 'circle', r: 3 })
      k.Shape.of('square').describe()
    `,
      { esm: true },
    )
    expect(r.status).toBe(0)
    expect(events(r)).toEqual(['<0> kinds:circle(2)', '<0> kinds:circle(3)', '<0> kinds:circle/1 --> 28', '<0> kinds:Shape#describe()', "<0> kinds:Shape#describe/0 --> 'a square'"])
  })
})

describe('where binding swaps are off', () => {
  itUnless(V8_MAJOR > 11 && `binding swaps run on V8 ${V8_MAJOR}: the lean form stays lean`)('the lean form is the full one: every function keeps its probe', () => {
    const r = run(
      `
      const { calls } = require('recon-trace')
      const L = require('${LEAN}')
      const reg = globalThis[Symbol.for('recon-trace.state')].registry
      const file = [...reg.files.values()].find((f) => f.filename.endsWith('lean.cjs'))
      console.log('lean ' + reg.lean + ', bound ' + file.probes.filter((p) => p.bound).length)
      calls('${LEAN}:price -> return', 10, { scope: 'local', ${IO} })
      L.total([{ cost: 4, kind: 'food' }])
    `,
      { env: { RECON_TRACE_BINDING: '' } },
    )
    expect(r.lines).toEqual(['lean false, bound 0', "<0> lean:price({ cost: 4, kind: 'food' })", '<0> lean:price/1 --> 4'])
  })
})

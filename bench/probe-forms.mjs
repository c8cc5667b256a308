// Where a dormant probe's cost goes on a call-heavy workload: acorn (every function probed)
// parsing the 1.35 MB input of probe-workload.mjs, with the probe cut down piece by piece.
// A diagnostic for the next attempt at issue 14's dormant goal, not a figure of recon-trace as
// shipped (that is probe-workload.mjs). The forms, written to a temporary directory from acorn's
// dist/acorn.js by instrument() and a few textual cuts:
//   plain     acorn as published, no preload
//   full      the preload's probes (the try block, a capture per return, the entry check and call)
//   notry     full without the try block
//   noret     full without the branch and call of each return's capture
//   check     the entry check and a call of `e` only (no argument array, no try, no capture)
//   flag      full with a per-file global flag checked first (`$rtFLAG!==0&&$rtS[i]!==0`): a
//             global property cell V8 keeps constant and folds in optimized code, inlined or not
//   top       full probes only in functions defined inside another function (other than an
//             immediately invoked one or a UMD factory): those defined at the top of the file or
//             of acorn's factory (355 of its 360) left as they are. An upper bound of issue 14's
//             direction, functions a binding reaches served by binding swaps at trace time
//   lean      what RECON_TRACE_PROBES=lean writes (instrument's `bind`): no probe in the functions
//             a binding holds and acorn only calls through it (308 of 360: most of the factory's
//             top scope, `pp$8.parseStatement` through `Parser.prototype` among them), full probes
//             in the other 52 (its exports, such as isIdentifierChar, and methods handed on)
// Every form but plain runs in a process with the preload (so that the slots are the registry's)
// and is not rewritten again (RECON_TRACE_EXCLUDE). Processes interleaved; per process, the
// median of PARSES parses after WARM warm-up ones; per form, the median over the processes and
// the mean of the lowest three (this shared machine's speed moves by up to 2x between minutes:
// the lowest are the comparable ones). V8 flags for all processes: FORM_FLAGS (for example
// `--max-inlined-bytecode-size-cumulative=4000`, to see what V8's inlining budget does).
//
//   npm run build && node bench/probe-forms.mjs        (PAIRS=7 WARM=20 PARSES=9; FORMS=plain,full,lean for some)
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT, header, result, median, fmt, pad, lpad, require } from './common.mjs'

const PAIRS = Number(process.env.PAIRS ?? 7)
const WARM = Number(process.env.WARM ?? 20)
const PARSES = Number(process.env.PARSES ?? 9)
const FLAGS = (process.env.FORM_FLAGS ?? '').split(/\s+/).filter(Boolean)
const FORMS = (process.env.FORMS ?? 'plain,full,notry,noret,check,flag,top,lean').split(',')
if (!FORMS.includes('plain')) throw new Error('FORMS must include plain, the baseline')
const FLAG = '$rtFLAG'

if (process.env.BENCH_FORM) {
  const { parse } = require(process.env.BENCH_FORM)
  // The form as written: probed unless plain, and not rewritten again by the preload.
  const form = process.env.BENCH_FORM
  const probed = form.endsWith('top.js') || form.endsWith('lean.js') ? readFileSync(form, 'utf8').includes('$rtS[') && !parse.toString().includes('$rtS[') : parse.toString().includes('$rtS[')
  if (probed !== !form.endsWith('plain.js') || parse.toString().split('$rtS[').length > 2) throw new Error(`${form}: not the form written`)
  const parts = ['lodash/lodash.js', 'acorn/dist/acorn.js', 'yaml/dist/compose/composer.js'].map((f) => readFileSync(join(ROOT, 'node_modules', f), 'utf8'))
  let text = ''
  for (let i = 0; text.length < 1_000_000; i++) text += `\n;(function () {\n${parts[i % parts.length]}\n})();\n`
  const o = { ecmaVersion: 'latest' }
  for (let i = 0; i < WARM; i++) parse(text, o)
  const ms = []
  for (let i = 0; i < PARSES; i++) {
    const t = process.hrtime.bigint()
    parse(text, o)
    ms.push(Number(process.hrtime.bigint() - t) / 1e6)
  }
  console.log(JSON.stringify({ ms: median(ms) }))
} else {
  header(`probe-forms: acorn parsing 1.35 MB, ms per parse (median of ${PARSES} after ${WARM} warm-up), ${PAIRS} processes per form${FLAGS.length ? `, flags ${FLAGS.join(' ')}` : ''}`)
  const { instrument } = require('../dist/cjs/instrument.js')
  const src = readFileSync(join(ROOT, 'node_modules/acorn/dist/acorn.js'), 'utf8')
  const dir = mkdtempSync(join(tmpdir(), 'recon-trace-forms-'))
  try {
    const full = instrument(src, { filename: join(dir, 'full.js'), format: 'commonjs', map: false }).code
    const calls = instrument(src, { filename: join(dir, 'calls.js'), format: 'commonjs', map: false, capture: 'calls' }).code
    if (!full.includes('$rtS[') || !full.includes('catch($rte){throw $rtP.x($rtt,$rte)}')) throw new Error('the probe text changed: update the cuts of bench/probe-forms.mjs')
    const cut = (text, re, by, form) => {
      const out = text.replace(re, by)
      if (out === text) throw new Error(`the cut for ${form} matched nothing: update bench/probe-forms.mjs`)
      return out
    }
    // The functions defined outside any function, an immediately invoked one or a UMD factory
    // aside (the factory is handed to a call at the top), by their line and column.
    const { Parser } = require('acorn')
    const atTop = new Set()
    const walk = (n, depth, opensNoScope) => {
      if (n === null || typeof n !== 'object' || typeof n.type !== 'string') return
      const fn = n.type === 'FunctionDeclaration' || n.type === 'FunctionExpression' || n.type === 'ArrowFunctionExpression'
      if (fn && depth === 0) atTop.add(`${n.loc.start.line}:${n.loc.start.column}`)
      const inner = fn && !opensNoScope ? depth + 1 : depth
      const call = n.type === 'CallExpression' && depth === 0
      for (const k of Object.keys(n)) {
        if (k === 'loc') continue
        const v = n[k]
        const through = call && (k === 'callee' || k === 'arguments')
        if (Array.isArray(v)) for (const c of v) walk(c, inner, through)
        else walk(v, inner, through)
      }
    }
    walk(Parser.parse(src, { ecmaVersion: 'latest', locations: true }), 0, false)
    const top = instrument(src, { filename: join(dir, 'top.js'), format: 'commonjs', map: false, select: (f) => !atTop.has(`${f.line}:${f.column}`) })
    if (top.probes.length === 0 || top.probes.length > 20) throw new Error(`top: ${top.probes.length} functions probed, expected a few`)
    const lean = instrument(src, { filename: join(dir, 'lean.js'), format: 'commonjs', map: false, bind: true })
    const leanProbed = lean.probes.filter((p) => p.bound !== true).length
    if (leanProbed === 0 || leanProbed > 60) throw new Error(`lean: ${leanProbed} functions probed, expected about 52`)
    const files = {
      top: top.code,
      lean: lean.code,
      plain: src,
      full,
      notry: cut(cut(full, /(\$rtt=\$rtP\.e\(\d+,(?:\[[^\]]*\]|arguments)\);)try\{/g, '$1', 'notry'), /\}catch\(\$rte\)\{throw \$rtP\.x\(\$rtt,\$rte\)\}/g, '', 'notry'),
      noret: cut(full, /\),\$rtt===0\?\$rtr:\$rtP\.r\(\$rtt,\$rtr\)\)/g, '))', 'noret'),
      check: cut(calls, /\$rtP\.e\((\d+),(?:\[[^\]]*\]|arguments)\)/g, '$rtP.e($1)', 'check'),
      flag: `Object.defineProperty(globalThis, ${JSON.stringify(FLAG)}, { value: 0, writable: true, configurable: true });` + cut(full, /if\(\$rtS\[/g, `if(${FLAG}!==0&&$rtS[`, 'flag'),
    }
    for (const [form, code] of Object.entries(files)) writeFileSync(join(dir, `${form}.js`), code)
    const runs = Object.fromEntries(FORMS.map((f) => [f, []]))
    for (let p = 0; p < PAIRS; p++) {
      for (const form of FORMS) {
        const preload = form === 'plain' ? [] : ['--require', join(ROOT, 'dist/cjs/preload.js')]
        const r = spawnSync(process.execPath, [...FLAGS, ...preload, new URL(import.meta.url).pathname], {
          cwd: ROOT,
          encoding: 'utf8',
          env: { ...process.env, BENCH_FORM: join(dir, `${form}.js`), RECON_TRACE_EXCLUDE: `${dir}/**`, RECON_TRACE_CACHE: '0', BENCH_CHILD: '1' },
        })
        if (r.status !== 0) throw new Error(`${form}: ${r.stderr}`)
        runs[form].push(JSON.parse(r.stdout.trim().split('\n').pop()).ms)
      }
    }
    const low3 = (xs) => [...xs].sort((a, b) => a - b).slice(0, 3).reduce((a, b) => a + b, 0) / Math.min(3, xs.length)
    const base = low3(runs.plain)
    const baseMedian = median(runs.plain)
    console.log(`${pad('form', 8)}${lpad('median', 9)}${lpad('ratio', 8)}${lpad('lowest 3', 10)}${lpad('ratio', 8)}`)
    for (const form of FORMS) {
      const m = median(runs[form])
      const l = low3(runs[form])
      console.log(`${pad(form, 8)}${lpad(fmt(m, 1), 9)}${lpad(fmt(m / baseMedian, 3), 8)}${lpad(fmt(l, 1), 10)}${lpad(fmt(l / base, 3), 8)}`)
      result({ scenario: 'probe-forms', form, ms: l, ratio: l / base, flags: FLAGS.join(' ') })
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

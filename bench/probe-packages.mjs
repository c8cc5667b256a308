// Load-time probes on real packages' hot paths: marked rendering Markdown, yaml parsing and
// stringifying documents, handlebars compiling and rendering templates, with every function of
// the package probed (--import recon-trace/register, RECON_TRACE_INCLUDE=<package>) and no trace:
// the dormant cost a preloaded service pays in a library it leans on. Issue 14's goal: <= 1.02
// on every runtime (its own measurement, outside bench/: x1.13 Node 20, x1.10 Node 24, x1.02
// Node 26).
//
//   npm run build && node bench/probe-packages.mjs [package...]     (PAIRS=7 by default)
//
// Modes: plain (no preload), dormant (every function probed), lean (RECON_TRACE_PROBES=lean: no
// probe in the functions a binding holds, full probes in the rest; Node 22+, full on Node 20).
//
// Each package runs in processes of its own, the modes interleaved (PAIRS of each); in
// a process, the work is done WARMUP times, then timed ROUNDS times (median). The inputs are
// generated from a fixed seed, the same in every process; each process checks the result of
// its work against the plain one's digest, so a probed package that computed something else
// fails the run.
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createRequire } from 'node:module'
import { ROOT, header, result, median, fmt, pad, lpad } from './common.mjs'

// The seeded generator and words of the transparency workloads (fixtures/workloads).
const { rng, WORDS } = createRequire(import.meta.url)('../fixtures/workloads/_harness.cjs')

const PAIRS = Number(process.env.PAIRS ?? 7)
const ROUNDS = Number(process.env.ROUNDS ?? 15)
const WARMUP = Number(process.env.WARMUP ?? 5)
const PACKAGES = ['marked', 'yaml', 'handlebars']
const mode = process.env.BENCH_MODE
const which = process.env.BENCH_PACKAGE

/** The work of each package: `prepare()` builds the input once, `run(input)` returns a string to digest. */
const WORK = {
  async marked() {
    const { marked } = await import('marked')
    const r = rng(1)
    const words = (n) => Array.from({ length: n }, () => r.pick(WORDS)).join(' ')
    const inline = () => r.pick([`**${r.pick(WORDS)}**`, `_${r.pick(WORDS)}_`, `\`${r.pick(WORDS)}\``, `[${r.pick(WORDS)}](https://x.org/${r.int(99)})`, r.pick(WORDS)])
    const para = () => Array.from({ length: 10 + r.int(30) }, inline).join(' ')
    const blocks = []
    while (blocks.join('\n\n').length < 200_000) {
      const k = r.int(5)
      if (k === 0) blocks.push(`${'#'.repeat(1 + r.int(4))} ${words(3)}`)
      else if (k === 1) blocks.push(Array.from({ length: 3 + r.int(5) }, () => `- ${para()}`).join('\n'))
      else if (k === 2) blocks.push('```js\n' + Array.from({ length: 3 }, () => `const ${r.pick(WORDS)} = ${r.int(99)}`).join('\n') + '\n```')
      else if (k === 3) blocks.push(`> ${para()}`)
      else blocks.push(para())
    }
    const input = blocks.join('\n\n')
    return () => marked.parse(input)
  },
  async yaml() {
    const YAML = (await import('yaml')).default
    const r = rng(2)
    const value = (d) =>
      d > 3 || r.int(3) === 0
        ? r.pick([r.int(1000), r.pick(WORDS), `${r.pick(WORDS)} ${r.pick(WORDS)}`, r.int(2) === 0, null])
        : r.int(2) === 0
          ? Array.from({ length: 1 + r.int(6) }, () => value(d + 1))
          : Object.fromEntries(Array.from({ length: 1 + r.int(6) }, (_, i) => [`${r.pick(WORDS)}${i}`, value(d + 1)]))
    const text = YAML.stringify(Array.from({ length: 300 }, () => value(0)))
    return () => YAML.stringify(YAML.parse(text))
  },
  async handlebars() {
    const Handlebars = createRequire(import.meta.url)('handlebars')
    const r = rng(3)
    const templates = Array.from(
      { length: 40 },
      (_, i) =>
        `<h1>{{title}} ${i}</h1>{{#each items}}<li class="{{#if @first}}first{{else}}n{{/if}}">{{name}}: {{#with detail}}{{a}} / {{b}}{{/with}} {{lookup ../labels @index}}</li>{{/each}}{{> footer}}`,
    )
    const data = {
      title: 'Report',
      labels: WORDS,
      items: Array.from({ length: 60 }, () => ({ name: r.pick(WORDS), detail: { a: r.int(100), b: r.pick(WORDS) } })),
    }
    return () => {
      const hb = Handlebars.create()
      hb.registerPartial('footer', '<footer>{{title}} - {{items.length}} items</footer>')
      let out = ''
      for (const t of templates) out += hb.compile(t)(data)
      return out
    }
  },
}

if (mode) {
  const reg = globalThis[Symbol.for('recon-trace.state')]?.registry
  const work = await WORK[which]()
  let digest
  for (let i = 0; i < WARMUP; i++) digest = createHash('sha256').update(work()).digest('hex')
  const ms = []
  for (let i = 0; i < ROUNDS; i++) {
    const t = process.hrtime.bigint()
    work()
    ms.push(Number(process.hrtime.bigint() - t) / 1e6)
  }
  const files = reg ? [...reg.files.values()].filter((f) => f.filename.includes(`/node_modules/${which}/`)) : []
  if ((mode === 'plain') !== (files.length === 0)) throw new Error(`mode ${mode}: ${files.length} probed ${which} files`)
  const bound = files.reduce((a, f) => a + f.probes.filter((p) => p.bound === true).length, 0)
  console.log(JSON.stringify({ ms: median(ms), digest, files: files.length, probes: files.reduce((a, f) => a + f.n, 0) - bound, bound }))
} else {
  header(`probe-packages: every function of a package probed, no trace; ms per unit of work (median of ${ROUNDS} in a process), ${PAIRS} processes per mode, interleaved`)
  const wanted = process.argv.slice(2)
  const unknown = wanted.filter((p) => !PACKAGES.includes(p))
  if (unknown.length) throw new Error(`unknown package ${unknown.join(', ')}; packages: ${PACKAGES.join(', ')}`)
  console.log(`${pad('package', 12)}${pad('mode', 9)}${lpad('ms', 9)}${lpad('ratio', 8)}  ratio min..max  probed`)
  for (const pkg of wanted.length ? wanted : PACKAGES) {
    const run = (m) => {
      const preload = m === 'plain' ? [] : ['--import', 'recon-trace/register']
      const r = spawnSync(process.execPath, [...preload, new URL(import.meta.url).pathname], {
        cwd: ROOT,
        encoding: 'utf8',
        env: {
          ...process.env,
          BENCH_MODE: m,
          BENCH_PACKAGE: pkg,
          RECON_TRACE_INCLUDE: pkg,
          RECON_TRACE_EXCLUDE: 'bench/*.mjs',
          RECON_TRACE_CACHE: '0',
          RECON_TRACE_PROBES: m === 'lean' ? 'lean' : 'full',
        },
      })
      if (r.status !== 0) throw new Error(`${pkg} ${m}: ${r.stderr}`)
      return JSON.parse(r.stdout.trim().split('\n').pop())
    }
    const modes = (process.env.MODES ?? 'plain,dormant,lean').split(',')
    if (modes[0] !== 'plain') throw new Error('MODES must start with plain, the baseline')
    const ms = Object.fromEntries(modes.map((m) => [m, []]))
    const probed = {}
    let digest
    for (let p = 0; p < PAIRS; p++) {
      for (const m of modes) {
        const r = run(m)
        digest ??= r.digest
        if (r.digest !== digest) throw new Error(`${pkg} ${m}: another result (${r.digest}, plain ${digest})`)
        if (m !== 'plain') probed[m] = `${r.probes} functions probed in ${r.files} files${r.bound > 0 ? `, ${r.bound} left to bindings` : ''}`
        ms[m].push(r.ms)
      }
    }
    console.log(`${pad(pkg, 12)}${pad('plain', 9)}${lpad(fmt(median(ms.plain), 2), 9)}${lpad('1.000', 8)}`)
    for (const m of modes.slice(1)) {
      const ratios = ms[m].map((x, i) => x / ms.plain[i])
      console.log(`${pad('', 12)}${pad(m, 9)}${lpad(fmt(median(ms[m]), 2), 9)}${lpad(fmt(median(ratios), 3), 8)}  ${fmt(Math.min(...ratios), 3)}..${fmt(Math.max(...ratios), 3)}    ${probed[m]}`)
      result({ scenario: 'probe-packages', case: m === 'dormant' ? pkg : `${pkg} ${m}`, ms: median(ms[m]), base_ms: median(ms.plain), ratio: median(ratios) })
    }
  }
}

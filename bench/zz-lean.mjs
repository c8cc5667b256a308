const { createRequire } = await import('node:module')
const require = createRequire(import.meta.url)
require('../fixtures/local/fact.cjs') // the rewriter (and its acorn) loads for this file, not for acorn
const acorn = require('acorn')
const reg = globalThis[Symbol.for('recon-trace.state')].registry
const f = [...reg.files.values()].find((f) => f.filename.includes('acorn'))
console.log('bound', f.probes.filter((p) => p.bound).length, 'probed', f.probes.filter((p) => !p.bound).map(p=>p.name).join(','))
const { calls, clear } = await import('recon-trace')
const io = (l) => process.stdout.write(l + '\n')
calls(['acorn:pp$8.parseStatement/3 -> return'], 6, { scope: 'local', io, explain: true })
acorn.parse('let x = 1; if (x) { x++ }', { ecmaVersion: 'latest' })
acorn.parse('let y = 2', { ecmaVersion: 'latest' })
acorn.parse('let z = 2', { ecmaVersion: 'latest' })

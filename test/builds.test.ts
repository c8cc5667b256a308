// Both builds in one process: the documented set-up for a CommonJS program is the ESM preload
// (`node --import recon-trace/register app.cjs`) with `require('recon-trace')` in the program, so
// the ESM build's probes serve the CommonJS build's trace. Every guarantee that rests on the
// re-entry guard (src/state.ts) must hold across them: the user's predicate, formatter and io
// function may call traced code, and those calls are neither traced nor re-entered.
import { describe, expect, it } from 'vitest'
import { runProgram, type Run } from './helpers.js'

const FACT = './fixtures/local/fact.cjs'

/** Run a CommonJS program (`-e`, require) with the ESM preload, or an ES module with the CommonJS preload. */
function mixed(program: string, which: 'esm preload, cjs api' | 'cjs preload, esm api'): Run {
  const esm = which === 'cjs preload, esm api'
  return runProgram(program, { esm, flags: [esm ? '--require' : '--import', 'recon-trace/register'], env: { RECON_TRACE_CACHE: '0' } })
}

/** The program's prelude: the API of the build the test names, and the fixture. */
const prelude = (which: 'esm preload, cjs api' | 'cjs preload, esm api') =>
  which === 'esm preload, cjs api'
    ? `const { calls, clear } = require('recon-trace'); const { fact } = require('${FACT}')`
    : `import { calls, clear } from 'recon-trace'; import { createRequire } from 'node:module'; const { fact } = createRequire(process.cwd() + '/')('${FACT}')`

describe.each(['esm preload, cjs api', 'cjs preload, esm api'] as const)('one re-entry guard for both builds (%s)', (which) => {
  it('a predicate that calls the traced function runs once per call, and its own calls are not traced', () => {
    const r = mixed(
      `${prelude(which)}
      let runs = 0
      calls(['${FACT}', 'fact', (args) => { runs++; fact(2); return args[0] === 3 }], 10, { scope: 'local', io: (l) => process.stdout.write(l + '\\n') })
      const result = fact(4)
      clear()
      console.error('result', result, 'predicate runs', runs)
    `,
      which,
    )
    expect(r.stderr.trim()).toBe('result 24 predicate runs 4')
    expect(r.lines).toEqual(['<0> fact:fact(3)'])
  })

  it("a formatter that calls the traced function prints each event once, and its calls are not traced", () => {
    const r = mixed(
      `${prelude(which)}
      let formatted = 0
      calls('${FACT}:fact/1', 10, { scope: 'local', formatter: (e) => { formatted++; return 'f ' + e.function + ' ' + fact(3) }, io: (l) => process.stdout.write(l + '\\n') })
      fact(3)
      // The lines are formatted at the next turns, while the trace still runs.
      setTimeout(() => { clear(); console.error('formatted', formatted) }, 50)
    `,
      which,
    )
    expect(r.lines).toEqual(['f fact 6', 'f fact 6', 'f fact 6'])
    expect(r.stderr.trim()).toBe('formatted 3')
  })

  it('an io function that calls the traced function writes each line once, and its calls are not traced', () => {
    const r = mixed(
      `${prelude(which)}
      let written = 0
      calls('${FACT}:fact/1', 10, { scope: 'local', args: 'arity', io: (l) => { written++; fact(5); process.stdout.write(l + '\\n') } })
      fact(2)
      setTimeout(() => { clear(); console.error('written', written) }, 50)
    `,
      which,
    )
    expect(r.lines).toEqual(['<0> fact:fact/1', '<0> fact:fact/1'])
    expect(r.stderr.trim()).toBe('written 2')
  })

  it("clear() from the program's build ends the trace that the other build's probes serve", () => {
    const r = mixed(
      `${prelude(which)}
      calls('${FACT}:fact/1', 100, { scope: 'local', args: 'arity', io: (l) => process.stdout.write(l + '\\n') })
      fact(1)
      clear()
      fact(1)
    `,
      which,
    )
    expect(r.lines).toEqual(['<0> fact:fact/1'])
  })
})

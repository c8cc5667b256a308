// The `stack` action in a real process: frames point at the TypeScript source when the program
// runs with source maps.
import { describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import ts from 'typescript'
import { SourceMapConsumer } from 'source-map'
import { tempDirs } from './helpers.js'

const root = resolve(import.meta.dirname, '..')
const source = readFileSync(join(root, 'fixtures/ts/checkout.ts'), 'utf8')
const queuePath = join(root, 'fixtures/queue.cjs')
/** A directory for the compiled program, removed after the file (it was left behind before). */
const tempDir = tempDirs('stack')
const callLine = source.split('\n').findIndex((l) => l.includes('// CALL SITE')) + 1

function compile(dir: string) {
  const out = ts.transpileModule(source, {
    fileName: join(root, 'fixtures/ts/checkout.ts'),
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, sourceMap: true, sourceRoot: '' },
  })
  const js = join(dir, 'checkout.cjs')
  const map = JSON.parse(out.sourceMapText!)
  map.sources = [join(root, 'fixtures/ts/checkout.ts')]
  // The compiled file lives in a temporary directory: point its require at the fixture (same length
  // of line is not needed, the call is on the next line).
  const text = out.outputText.replace("'../queue.cjs'", JSON.stringify(queuePath))
  writeFileSync(js, text.replace(/\/\/# sourceMappingURL=.*/, '//# sourceMappingURL=checkout.cjs.map'))
  writeFileSync(`${js}.map`, JSON.stringify(map))
  return { js, map }
}

describe('stack action', () => {
  it('prints the caller frame at its TypeScript line with --enable-source-maps', async () => {
    const dir = tempDir()
    const { js, map } = compile(dir)
    const program = `
      const { calls } = require('recon-trace')
      calls(${JSON.stringify(`${queuePath}:in/2 -> stack`)}, 1, { io: (l) => process.stdout.write(l + '\\n') })
      require(${JSON.stringify(js)}).enqueue({ id: 7, items: [] })
    `
    const r = spawnSync(process.execPath, ['--enable-source-maps', '-e', program], { cwd: root, encoding: 'utf8', timeout: 10_000 })
    expect(r.stderr).toBe('')
    const frame = r.stdout.split('\n').find((l) => l.includes('checkout'))
    expect(frame).toMatch(new RegExp(`at enqueue \\(.*fixtures/ts/checkout\\.ts:${callLine}:\\d+\\)`))

    // The same position, found independently in the compiled file and mapped back.
    const compiled = readFileSync(js, 'utf8').split('\n')
    const jsLine = compiled.findIndex((l) => l.includes('queue.in(order.id')) + 1
    const column = compiled[jsLine - 1].indexOf('queue.in')
    const consumer = await new SourceMapConsumer(map)
    const original = consumer.originalPositionFor({ line: jsLine, column })
    consumer.destroy?.()
    expect(original.line).toBe(callLine)
  })

  it('without source maps, the frame names the compiled file', () => {
    const dir = tempDir()
    const { js } = compile(dir)
    const program = `
      const { calls } = require('recon-trace')
      calls(${JSON.stringify(`${queuePath}:in/2 -> stack`)}, 1, { io: (l) => process.stdout.write(l + '\\n') })
      require(${JSON.stringify(js)}).enqueue({ id: 7, items: [] })
    `
    const r = spawnSync(process.execPath, ['-e', program], { cwd: root, encoding: 'utf8', timeout: 10_000 })
    expect(r.stdout).toMatch(/at enqueue \(.*checkout\.cjs:\d+:\d+\)/)
  })
})

// The sources read as one hand wrote them: formatted by prettier (npm run format; checked by
// npm run typecheck), and no line longer than prettier's width, which it cannot break in strings
// and comments.
import { describe, expect, it } from 'vitest'
import { readdirSync, readFileSync } from 'node:fs'
import { join, resolve } from 'node:path'

const src = resolve(import.meta.dirname, '..', 'src')
const files = (readdirSync(src, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts')).map((f) => join(src, f))
const WIDTH = (JSON.parse(readFileSync(resolve(src, '..', '.prettierrc.json'), 'utf8')) as { printWidth: number }).printWidth

describe('the sources', () => {
  it(`have no line over ${WIDTH} characters`, () => {
    const long = files.flatMap((f) =>
      readFileSync(f, 'utf8')
        .split('\n')
        .map((l, i) => [l, i] as const)
        .filter(([l]) => l.length > WIDTH)
        .map(([l, i]) => `${f.slice(src.length + 1)}:${i + 1} (${l.length})`),
    )
    expect(long).toEqual([])
  })
})

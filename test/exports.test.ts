import { describe, expect, it } from 'vitest'
import * as api from '../src/index.js'

describe('public API', () => {
  it('exports exactly calls, clear, register and TraceError', () => {
    expect(Object.keys(api).sort()).toEqual(['TraceError', 'calls', 'clear', 'register'])
  })
})

// Which installer serves a spec, and why (src/installers/choose.ts): one function, from facts.
import { describe, expect, it } from 'vitest'
import { chooseInstaller, type ChoiceFacts } from '../src/installers/choose.js'

const facts = (over: Partial<ChoiceFacts>): ChoiceFacts => ({
  scope: 'global',
  esm: false,
  preloadCovers: false,
  liveEditRefusal: () => undefined,
  label: 'db',
  ...over,
})
const never = () => {
  throw new Error('live edit was asked about, but the choice did not need it')
}

describe('chooseInstaller', () => {
  it('global scope on a CommonJS module: runtime wrappers, without asking about live edit', () => {
    expect(chooseInstaller(facts({ liveEditRefusal: never }))).toEqual({ installer: 'wrapper', why: "global scope on db: the function is replaced where its module's exports hold it" })
  })

  it('global scope on a CommonJS module the preload instrumented: still runtime wrappers (they see every call through the export)', () => {
    expect(chooseInstaller(facts({ preloadCovers: true, liveEditRefusal: never }))).toMatchObject({ installer: 'wrapper' })
  })

  it("local scope in a file the preload instrumented: the preload's probes, without asking about live edit", () => {
    expect(chooseInstaller(facts({ scope: 'local', preloadCovers: true, liveEditRefusal: never }))).toEqual({ installer: 'preload', why: 'local scope: the preload instrumented db, its probes see every call' })
  })

  it("an ES module in global scope the preload instrumented: the preload's probes (its exports cannot be replaced)", () => {
    expect(chooseInstaller(facts({ esm: true, preloadCovers: true, liveEditRefusal: never }))).toEqual({ installer: 'preload', why: 'an ES module: the preload instrumented db, its probes see every call' })
  })

  it('local scope or an ES module without the preload: live edit, where the runtime has it', () => {
    expect(chooseInstaller(facts({ scope: 'local' }))).toEqual({ installer: 'live edit', why: 'local scope: the preload did not instrument db, live edit probes the running code' })
    expect(chooseInstaller(facts({ esm: true }))).toMatchObject({ installer: 'live edit' })
  })

  it('refused where neither the preload nor live edit can serve it, with live edit\'s reason', () => {
    const refusal = () => 'live edit does not exist on this runtime'
    expect(chooseInstaller(facts({ scope: 'local', liveEditRefusal: refusal }))).toEqual({
      refused: "scope 'local' needs probes: the preload's, put in as modules load, or live edit's, put into a running program; live edit does not exist on this runtime",
    })
    expect(chooseInstaller(facts({ esm: true, liveEditRefusal: refusal }))).toMatchObject({ refused: expect.stringMatching(/^an ES module needs probes/) })
  })
})

// Which installer serves a spec, and why (src/installers/choose.ts): one function, from facts.
import { describe, expect, it } from 'vitest'
import { chooseInstaller, type ChoiceFacts } from '../src/installers/choose.js'

const never = () => {
  throw new Error('a fact was asked about that the choice did not need')
}
const facts = (over: Partial<ChoiceFacts>): ChoiceFacts => ({
  scope: 'global',
  esm: false,
  preloadCovers: false,
  liveEditAsked: false,
  liveEditRefusal: never,
  bindingRefusal: () => undefined,
  label: 'db',
  ...over,
})

describe('chooseInstaller', () => {
  it('global scope on a CommonJS module: runtime wrappers, without asking about live edit or the inspector', () => {
    expect(chooseInstaller(facts({ bindingRefusal: never }))).toEqual({ installer: 'wrapper', why: "global scope on db: the function is replaced where its module's exports hold it" })
  })

  it('global scope on a CommonJS module the preload instrumented: still runtime wrappers (they see every call through the export)', () => {
    expect(chooseInstaller(facts({ preloadCovers: true, bindingRefusal: never }))).toMatchObject({ installer: 'wrapper' })
  })

  it("local scope in a file the preload instrumented: the preload's probes, without asking about the inspector", () => {
    expect(chooseInstaller(facts({ scope: 'local', preloadCovers: true, bindingRefusal: never }))).toEqual({ installer: 'preload', why: 'local scope: the preload instrumented db, its probes see every call' })
  })

  it("an ES module in global scope the preload instrumented: the preload's probes (its exports cannot be replaced)", () => {
    expect(chooseInstaller(facts({ esm: true, preloadCovers: true, bindingRefusal: never }))).toEqual({ installer: 'preload', why: 'an ES module: the preload instrumented db, its probes see every call' })
  })

  it('local scope or an ES module without the preload: binding swaps and entry breakpoints, live edit not asked about', () => {
    expect(chooseInstaller(facts({ scope: 'local' }))).toEqual({
      installer: 'binding',
      why: 'local scope: the preload did not instrument db; its bindings are swapped at the first call, and entry breakpoints see calls through other references',
    })
    expect(chooseInstaller(facts({ esm: true }))).toMatchObject({ installer: 'binding' })
  })

  it('live edit only when asked for, where it runs', () => {
    expect(chooseInstaller(facts({ scope: 'local', liveEditAsked: true, liveEditRefusal: () => undefined }))).toEqual({
      installer: 'live edit',
      why: 'local scope: live edit was asked for (RECON_TRACE_LIVE_EDIT), it probes the running code',
    })
  })

  it('live edit asked for where it cannot run: binding swaps, with live edit\'s reason', () => {
    const c = chooseInstaller(facts({ scope: 'local', liveEditAsked: true, liveEditRefusal: () => 'live edit does not exist on this runtime' }))
    expect(c).toMatchObject({ installer: 'binding', why: expect.stringContaining('(live edit was asked for, but live edit does not exist on this runtime)') })
  })

  it('where binding swaps cannot run (Node 20), live edit serves, saying why', () => {
    expect(chooseInstaller(facts({ scope: 'local', bindingRefusal: () => 'V8 11 crashed', liveEditRefusal: () => undefined }))).toEqual({
      installer: 'live edit',
      why: 'local scope: the preload did not instrument db; binding swaps are off here (V8 11 crashed), live edit probes the running code',
    })
  })

  it('refused where neither binding swaps nor live edit can run, with both reasons', () => {
    expect(chooseInstaller(facts({ scope: 'local', bindingRefusal: () => 'no inspector', liveEditRefusal: () => 'live edit needs it too' }))).toEqual({
      refused: 'local scope without the preload needs binding swaps or live edit: binding swaps are off here (no inspector); live edit needs it too',
    })
    expect(
      chooseInstaller(facts({ scope: 'local', liveEditAsked: true, bindingRefusal: () => 'no inspector', liveEditRefusal: () => 'live edit needs it too' })),
    ).toEqual({
      refused: 'local scope without the preload needs binding swaps or live edit: binding swaps are off here (no inspector); live edit needs it too',
    })
  })
})

/**
 * Map support: stack traces that source-map-support maps read the map of the code that runs.
 *
 * Node's own `--enable-source-maps` reads the map the rewrite writes into each file it compiles
 * (register.ts), composed with the file's own map, so a frame names the line and column the user
 * wrote. ts-node installs `@cspotcode/source-map-support` instead, which maps frames with the
 * map of ts-node's output: in a probed file, a frame on a line a probe wrote on then names the
 * right line but a column moved by the probe's text.
 *
 * That library keeps its handlers and caches in one object that every copy of it in the process
 * shares, `globalThis[Symbol.for('source-map-support/sharedData')]`. For each file the compile
 * step probed, `shareMap` puts one handler of ours first among its `retrieveMapHandlers`, which
 * answers with the rewrite's map for the files we probed and with `null` (the next handler) for
 * every other file, and drops that file's cached map. Nothing else of it is read or changed; a
 * process without it pays nothing, and keeps nothing.
 */
import { fileURLToPath } from 'node:url'
import { findMapReference, readMap } from './origin.js'

interface SharedData {
  retrieveMapHandlers?: unknown
  sourceMapCache?: unknown
}

/** The map reference of each probed file, by path, while source-map-support is in the process. */
const refs = new Map<string, string>()

function handler(source: unknown): { url: string; map: unknown } | null {
  try {
    if (typeof source !== 'string') return null
    const file = source.startsWith('file:') ? fileURLToPath(source) : source
    const ref = refs.get(file)
    const found = ref === undefined ? undefined : readMap<unknown>(ref, file)
    return found === undefined ? null : { url: found.url, map: found.map }
  } catch {
    return null
  }
}

/** source-map-support's shared handlers, when a copy of it is in the process. */
function sharedData(): SharedData | undefined {
  const shared = (globalThis as Record<symbol, SharedData | undefined>)[Symbol.for('source-map-support/sharedData')]
  return Array.isArray(shared?.retrieveMapHandlers) ? shared : undefined
}

/** Whether source-map-support maps this process's frames: then the rewrite writes its map even with Node's own source maps off. */
export function mapSupported(): boolean {
  return sharedData() !== undefined
}

/** Offer source-map-support, if the process has it, the map of a file the compile step probed (`code`, as compiled). */
export function shareMap(filename: string, code: string): void {
  try {
    const shared = sharedData()
    const handlers = shared?.retrieveMapHandlers
    if (!Array.isArray(handlers)) return
    const ref = findMapReference(code)
    if (ref === undefined) return
    refs.set(filename, ref.url)
    // First, and again if an install() cleared the list since.
    if (handlers[0] !== handler) {
      const at = handlers.indexOf(handler)
      if (at >= 0) handlers.splice(at, 1)
      handlers.unshift(handler)
    }
    const cache = shared!.sourceMapCache
    if (typeof cache === 'object' && cache !== null) delete (cache as Record<string, unknown>)[filename]
  } catch {
    /* the frames keep the loader's map */
  }
}

/**
 * Origin: the file a user wrote, behind the file that runs.
 *
 * A program may run compiled output (`dist/db.js` from tsc, with `dist/db.js.map`) or a bundle
 * (`dist/server.js` from esbuild, one file made of many) rather than the TypeScript it was written
 * in. Specs name the file the user knows: `./src/db.ts:findUser`. This module answers, through
 * source maps, which running file holds the functions of an original file:
 *
 * - `originalSources(map, mapURL)`: the original files a map names, as absolute paths (the
 *   rewrite records, per function, the one it comes from: registry.ts `FunctionInfo.source`);
 * - `sourcesOf(filename)`: the original files of a file on disk, read through its
 *   `//# sourceMappingURL` (a file beside it, or inline), once per file;
 * - `runningFilesOf(original, candidates)`: the candidates that run code of `original`.
 *
 * Nothing here runs on a call: only when a trace starts and a spec names a file that is not
 * loaded itself. It reads files and never throws: a map that cannot be read names nothing.
 */
import { readFileSync } from 'node:fs'
import { isAbsolute } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

/** The part of a source map this module reads. */
export interface MapSources {
  readonly sources: readonly (string | null)[]
  readonly sourceRoot?: string
}

/** A source of a map as an absolute path (a `file:` source), or as the URL it is (`webpack://...`). */
function absolute(source: string, base: string, root: string | undefined): string {
  const s = root ? root.replace(/\/?$/, '/') + source : source
  try {
    const url = new URL(s, base)
    return url.protocol === 'file:' ? fileURLToPath(url) : url.href
  } catch {
    return s
  }
}

/**
 * The original files a map names, in its order, as absolute paths; `mapURL` is where the map was
 * found (a file's URL or path for an inline map), which relative sources are resolved against.
 */
export function originalSources(map: MapSources, mapURL: string): string[] {
  const base = /^[a-z][a-z0-9+.-]*:/i.test(mapURL) && !/^[a-z]:[\\/]/i.test(mapURL) ? mapURL : pathToFileURL(mapURL).href
  return (Array.isArray(map.sources) ? map.sources : []).map((s) => (typeof s === 'string' ? absolute(s, base, map.sourceRoot) : ''))
}

/** The file's own map reference: the last `//# sourceMappingURL=` comment, if any (the last one wins). */
export function findMapReference(source: string): { url: string; start: number } | undefined {
  const re = /(?:\/\/[#@]\s*sourceMappingURL=([^\s'"]+)\s*$)|(?:\/\*[#@]\s*sourceMappingURL=([^\s*'"]+)\s*\*\/\s*$)/gm
  let last: { url: string; start: number } | undefined
  for (let m = re.exec(source); m; m = re.exec(source)) last = { url: m[1] ?? m[2], start: m.index }
  return last
}

/**
 * The map a file names (`ref`, from its comment): inline (a data: URL) or a file relative to it,
 * parsed, with the URL its sources are relative to; undefined when it cannot be read.
 */
export function readMap<M = MapSources>(ref: string, filename: string): { map: M; url: string } | undefined {
  try {
    const fileURL = pathToFileURL(filename).href
    if (ref.startsWith('data:')) {
      const comma = ref.indexOf(',')
      const meta = ref.slice(5, comma)
      const body = ref.slice(comma + 1)
      const text = meta.endsWith(';base64') ? Buffer.from(body, 'base64').toString('utf8') : decodeURIComponent(body)
      return { map: JSON.parse(text) as M, url: fileURL }
    }
    const url = new URL(ref, fileURL)
    if (url.protocol !== 'file:') return undefined
    return { map: JSON.parse(readFileSync(fileURLToPath(url), 'utf8')) as M, url: url.href }
  } catch {
    return undefined
  }
}

const known = new Map<string, readonly string[]>()

/**
 * The original files a file on disk was made from, through its source map; none when it has no
 * map (or one that cannot be read). Read once per file.
 */
export function sourcesOf(filename: string): readonly string[] {
  let s = known.get(filename)
  if (s === undefined) {
    s = readSources(filename)
    known.set(filename, s)
  }
  return s
}

function readSources(filename: string): readonly string[] {
  try {
    if (!isAbsolute(filename)) return []
    const ref = findMapReference(readFileSync(filename, 'utf8'))
    const found = ref === undefined ? undefined : readMap(ref.url, filename)
    return found === undefined ? [] : originalSources(found.map, found.url)
  } catch {
    return []
  }
}

const IN_PACKAGE = /[\\/]node_modules[\\/]/

/**
 * The candidates (running files) whose source maps name `original`. Files of installed packages
 * are read only for an original that is one too: an application's own code is not compiled into
 * them, and a large program loads thousands.
 */
export function runningFilesOf(original: string, candidates: Iterable<string>): string[] {
  const out: string[] = []
  const packaged = IN_PACKAGE.test(original)
  for (const c of candidates) if (c !== original && (packaged || !IN_PACKAGE.test(c)) && sourcesOf(c).includes(original)) out.push(c)
  return out
}

/**
 * Installation: where this copy of recon-trace's files are, for what loads them by path: the
 * CommonJS preload that worker threads and `recon-trace --run` start with, the agent an attach
 * loads into a process through its inspector, the loader thread's hooks (Node 20), and the
 * rewrite's own files and the package's version, which key the rewrite cache.
 *
 * The package ships two builds side by side, `dist/esm/` and `dist/cjs/`, with the same file
 * names; this module finds its own file (there is no `import.meta` in a build that is also
 * CommonJS) and names the others from it.
 */
import { fileURLToPath, pathToFileURL } from 'node:url'

/** This file's own URL. */
function ownURL(): string {
  const prep = Error.prepareStackTrace
  try {
    Error.prepareStackTrace = (_e, sites) => sites
    const holder: { stack?: NodeJS.CallSite[] } = {}
    Error.captureStackTrace(holder, ownURL)
    const file = holder.stack?.[0]?.getFileName() ?? ''
    return file.startsWith('file:') ? file : pathToFileURL(file).href
  } finally {
    Error.prepareStackTrace = prep
  }
}

/** A file of this build (`loader.js`, `instrument.js`), as a URL. */
export function ownFileURL(name: string): URL {
  return new URL(`./${name}`, ownURL())
}

/** A file of the CommonJS build (`preload.js`, `agent.js`), as a path. */
export function commonJsFile(name: string): string {
  return fileURLToPath(new URL(`../cjs/${name}`, ownURL()))
}

/**
 * Stack: the caller's stack for the `stack` action, captured cheaply on the call and mapped
 * to original sources later, off the hot path.
 *
 * Capture runs no code of the program: `Error.prepareStackTrace` is swapped for ours for the
 * duration of one `captureStackTrace` (a user-installed formatter is put back untouched), and
 * the frames are copied to plain data at once. Mapping uses Node's own source maps
 * (`module.findSourceMap`), which exist when the program runs with `--enable-source-maps` or
 * `process.setSourceMapsEnabled(true)`.
 */
import { findSourceMap } from 'node:module'
import { fileURLToPath } from 'node:url'
import type { StackFrame } from './format.js'

/** Default and hard cap of frames per captured stack. */
export const DEFAULT_FRAMES = 10
export const MAX_FRAMES = 100

const captureStackTrace = Error.captureStackTrace
const toFrames = (_e: Error, sites: NodeJS.CallSite[]): StackFrame[] =>
  sites.map((s) => ({
    function: (s.getFunctionName() ?? s.getMethodName() ?? '<anonymous>') || '<anonymous>',
    file: s.getFileName() ?? s.getEvalOrigin() ?? '<unknown>',
    line: s.getLineNumber() ?? 0,
    column: s.getColumnNumber() ?? 0,
  }))

/**
 * The frames above `above` (the wrapper, so the first frame is the traced function's caller),
 * less `skip` more (a probe is called from inside the traced function: its frame is skipped).
 */
export function captureStack(frames: number, above: Function, skip = 0): StackFrame[] {
  const prep = Error.prepareStackTrace
  const limit = Error.stackTraceLimit
  try {
    Error.prepareStackTrace = toFrames
    Error.stackTraceLimit = frames + skip
    const holder: { stack?: unknown } = {}
    captureStackTrace(holder, above)
    const all = (holder.stack as StackFrame[] | undefined) ?? []
    return skip === 0 ? all : all.slice(skip)
  } catch {
    return []
  } finally {
    Error.prepareStackTrace = prep
    Error.stackTraceLimit = limit
  }
}

/** Map frames to their original sources where a source map is known. */
export function mapFrames(frames: readonly StackFrame[]): StackFrame[] {
  return frames.map((f) => {
    try {
      const path = f.file.startsWith('file:') ? fileURLToPath(f.file) : f.file
      const map = f.line > 0 ? findSourceMap(path) : undefined
      if (!map) return f
      const o = map.findOrigin(f.line, f.column) as { fileName?: string; lineNumber?: number; columnNumber?: number; name?: string }
      if (!o || o.fileName === undefined || o.lineNumber === undefined) return f
      return { function: f.function, file: o.fileName, line: o.lineNumber, column: o.columnNumber ?? f.column }
    } catch {
      return f
    }
  })
}

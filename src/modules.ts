/**
 * Modules: what a file or a spec's module is, and where it resolves. One home for module
 * identity, used by every installer, the preload and the session:
 *
 * - `resolveFromCwd(request)`: resolve a module request the way the program's own `require`
 *   from its working directory would (paths relative to the working directory, package names
 *   through its `node_modules`).
 * - `resolveModule(spec module)`: a spec's module as the runtime wrapper needs it (a builtin, a
 *   CommonJS file, any module, an object given directly), with the refusals (recon-trace
 *   itself, `console`, `node:inspector`, `node:module`, ES modules) explained.
 * - A file's package (`packageNameOf`), display label (`labelOfFile`), module type
 *   (`isEsmFile`, `isEsmModule`), and whether it is recon-trace's own (`isOwnFile`: never
 *   traced, never instrumented). package.json files are read once per directory.
 */
import Module from 'node:module'
import { basename, dirname, extname, isAbsolute, join, sep } from 'node:path'
import { readFileSync } from 'node:fs'
import { types } from 'node:util'
import { preloadLine, show } from './error.js'

const getOwnDescriptor = Reflect.getOwnPropertyDescriptor
const getPrototypeOf = Reflect.getPrototypeOf
const isProxy = types.isProxy

const ModuleApi = Module as unknown as {
  createRequire: typeof Module.createRequire
  isBuiltin: (s: string) => boolean
}

/**
 * Resolve `request` as a `require` in the working directory would: a path starting with `.` is
 * relative to `cwd`, anything else a package name, a builtin or an absolute path. Throws as
 * `require.resolve` does.
 */
export function resolveFromCwd(request: string, cwd = process.cwd()): string {
  const req = ModuleApi.createRequire(join(cwd, '[recon-trace]'))
  return req.resolve(request.startsWith('.') && !isAbsolute(request) ? join(cwd, request) : request)
}

/** Load a module as a `require` in the working directory would (a builtin, for the runtime wrapper). */
export function requireFromCwd(request: string, cwd = process.cwd()): unknown {
  return ModuleApi.createRequire(join(cwd, '[recon-trace]'))(request)
}

/** Whether `name` resolves from the working directory (a package installed there). */
export function resolvesFromCwd(name: string, cwd = process.cwd()): boolean {
  for (const request of [`${name}/package.json`, name]) {
    try {
      resolveFromCwd(request, cwd)
      return true
    } catch {
      /* try the next */
    }
  }
  return false
}

const ownDirCache = new Map<string, boolean>()

/**
 * The nearest package.json above `dir` (as Node finds it for the module type), or with
 * `named`, the nearest that has a name (a build's `dist/cjs/package.json` has none).
 */
function packageOf(dir: string, named = false): { root: string; name?: unknown; type?: unknown } | undefined {
  for (let d = dir; ; d = dirname(d)) {
    const pkg = packageJson(d)
    if (pkg && (!named || typeof pkg.name === 'string')) return { root: d, name: pkg.name, type: pkg.type }
    if (dirname(d) === d) return undefined
  }
}

/**
 * The package.json of a directory, if it has one, read once: the preload asks for the module
 * type of every file it loads, and most share their directories' package.json.
 */
const packageJsons = new Map<string, { name?: unknown; type?: unknown } | null>()
function packageJson(dir: string): { name?: unknown; type?: unknown } | undefined {
  let pkg = packageJsons.get(dir)
  if (pkg === undefined) {
    try {
      pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; type?: unknown }
    } catch {
      pkg = null // none here (or unreadable): look further up
    }
    packageJsons.set(dir, pkg)
  }
  return pkg ?? undefined
}

/** A file of recon-trace itself (its src/ or dist/, wherever this copy is installed). */
export function isOwnFile(file: string): boolean {
  const dir = dirname(file)
  let own = ownDirCache.get(dir)
  if (own === undefined) {
    const pkg = packageOf(dir, true)
    own = pkg !== undefined && pkg.name === 'recon-trace' && /^(src|dist)([\\/]|$)/.test(dir.slice(pkg.root.length + 1))
    ownDirCache.set(dir, own)
  }
  return own
}

/** Builtins that recon-trace itself stands on: tracing them could recurse or blind the tracer. */
const REFUSED_BUILTINS = new Set(['console', 'inspector', 'inspector/promises', 'module'])

export type Resolved =
  | { kind: 'builtin'; id: string; label: string }
  | { kind: 'file'; filename: string; label: string }
  | { kind: 'any' }
  | { kind: 'object'; target: object; label: string }

/** The name of the package a file of `node_modules` belongs to (`lodash`, `@scope/pkg`). */
export function packageNameOf(file: string): string | undefined {
  const i = file.lastIndexOf(`${sep}node_modules${sep}`)
  if (i < 0) return undefined
  const parts = file.slice(i + 14).split(sep)
  return parts[0].startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]
}

/** The display name of a module file: its package's name, else its base name without extension. */
export function labelOfFile(file: string): string {
  return packageNameOf(file) ?? basename(file, extname(file))
}

function labelOfObject(o: object): string {
  if (isProxy(o)) return 'Proxy'
  if (typeof o === 'function') {
    const d = getOwnDescriptor(o, 'name')
    return d && typeof d.value === 'string' && d.value ? d.value : 'function'
  }
  let p: object | null = o
  for (let i = 0; p !== null && i < 32; i++) {
    const c = getOwnDescriptor(p, 'constructor')
    if (c && typeof c.value === 'function') {
      const n = getOwnDescriptor(c.value, 'name')
      if (n && typeof n.value === 'string' && n.value) return n.value
    }
    p = getPrototypeOf(p)
  }
  return 'object'
}

/** Whether a spec's module is a path (`./lib/x.js`, `/abs/x.ts`), not a package, a builtin or an object. */
export function isPath(module: unknown): module is string {
  return typeof module === 'string' && (module.startsWith('.') || isAbsolute(module))
}

/** Whether a file name is TypeScript's (`.ts`, `.mts`, `.cts`, `.tsx`; not a `.d.ts` declaration). */
export function isTypeScriptFile(file: string): boolean {
  return /(?<!\.d)\.(c|m)?ts$|\.tsx$/.test(file)
}

/**
 * Whether Node loads a file as an ES module: `.mjs` or `.mts`, or `.js` (`.ts` under type
 * stripping, `.jsx`/`.tsx` under a loader) in a `"type": "module"` package.
 */
export function isEsmFile(file: string): boolean {
  if (file.endsWith('.mjs') || file.endsWith('.mts')) return true
  if (!/\.(js|ts|jsx|tsx)$/.test(file) || file.endsWith('.d.ts')) return false
  return packageOf(dirname(file))?.type === 'module'
}

/**
 * Whether a spec's module is an ES module (a `.mjs` file, a `.js` file of a `"type": "module"`
 * package, or a package that only exports to `import`): such specs go to probes.
 */
export function isEsmModule(module: string | object, cwd = process.cwd()): boolean {
  if (typeof module !== 'string' || module === '_' || ModuleApi.isBuiltin(module)) return false
  try {
    return isEsmFile(resolveFromCwd(module, cwd))
  } catch (err) {
    const code = (err as { code?: string }).code
    return code === 'ERR_PACKAGE_PATH_NOT_EXPORTED' || code === 'ERR_REQUIRE_ESM'
  }
}

/** Resolve a module as written in a spec, from the working directory. */
export function resolveModule(module: string | object, where: string, problems: string[], cwd = process.cwd()): Resolved | undefined {
  if (typeof module !== 'string') {
    if (module === console) {
      problems.push(`${where}: tracing console is refused: recon-trace and the program both write through it`)
      return undefined
    }
    return { kind: 'object', target: module, label: labelOfObject(module) }
  }
  if (module === '_') return { kind: 'any' }
  if (ModuleApi.isBuiltin(module)) {
    const id = module.startsWith('node:') ? module.slice(5) : module
    if (REFUSED_BUILTINS.has(id)) {
      problems.push(`${where}: tracing node:${id} is refused: recon-trace itself relies on it`)
      return undefined
    }
    return { kind: 'builtin', id, label: module.startsWith('node:') ? module : `node:${module}` }
  }
  let filename: string
  try {
    filename = resolveFromCwd(module, cwd)
  } catch (err) {
    const code = (err as { code?: string }).code
    problems.push(
      `${where}: cannot resolve the module ${show(module)} from ${cwd}` +
        (code === 'ERR_PACKAGE_PATH_NOT_EXPORTED' || code === 'ERR_REQUIRE_ESM'
          ? ` (an ES module: start the program with the preload to trace ES modules: ${preloadLine()})`
          : ': give a package name, a node: builtin, a path relative to the working directory (./lib/x.js) or an absolute path'),
    )
    return undefined
  }
  if (isOwnFile(filename)) {
    problems.push(`${where}: tracing recon-trace itself is refused`)
    return undefined
  }
  if (isEsmFile(filename)) {
    problems.push(
      `${where}: ${show(module)} is an ES module (${filename}); its exports cannot be replaced at run time. ` +
        `Start the program with the preload to trace ES modules: ${preloadLine()}`,
    )
    return undefined
  }
  return { kind: 'file', filename, label: isPath(module) ? basename(filename, extname(filename)) : module }
}

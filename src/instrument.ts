/**
 * Instrument: the load-time rewrite that gives functions a dormant probe.
 *
 * Contract: `instrument(source, options)` parses a CommonJS or ES module with acorn, puts a
 * probe into every function it can handle safely (or only into the ones `select` picks), and
 * returns the probed source, a source map composed with the file's own input map, the table of
 * probes and the functions it left alone, with the reason. It never changes the line structure
 * of the file: every insertion goes on the line of the code it sits next to, so line numbers
 * stay exact even without source maps (the live-edit installer relies on that), and columns are
 * exact through the map.
 *
 * A probe, for the function with id 7 of a file:
 *
 *     function fact(n) {let $t=0,$r;if($S[7]!==0)$t=$P.e(7,[n]);try{
 *       if (n <= 1) return ($r=(1),$t===0?$r:$P.r($t,$r))
 *       return ($r=(n * fact(n - 1)),$t===0?$r:$P.r($t,$r))
 *     ;$t!==0&&$P.r($t,void 0)}catch($e){throw $P.x($t,$e)}}
 *
 * Dormant, that is one load of a small-integer array slot and one branch on entry, a store and a
 * branch on each return, and a try block (free in V8 until something throws). Nothing is
 * allocated: the argument list `[n]` is built only when the slot is on, and the function's own
 * `arguments` is passed only if its body already uses it (a reference to `arguments` makes V8
 * create the object on every call). Why a plain array and not a Uint8Array: V8 folds the check
 * of an untouched packed small-integer literal away, not a typed-array load (bench/probe-dormant.mjs).
 *
 * What stays as it was: `this`, `arguments`, `new.target`, `super` (none is touched), parameters
 * and their defaults (the parameter list is never changed, so `length` and strictness stay),
 * the directive prologue (the probe goes after it), hoisting (function declarations of the body
 * stay in the same block as every use of them), the very thrown object (caught and rethrown),
 * `yield` and `await`, class fields, getters and setters. A function that uses direct `eval` or
 * sits inside `with` is left untouched (its scope is not ours to add names to) and reported.
 *
 * Names: every function gets the name a spec uses for it: `fact`, `outer.inner`, `Queue#push`,
 * `Queue.from`, `Queue#constructor`, `Queue##grow` (a private method), `Queue#size` (a getter or
 * setter, kind 'get' / 'set'), `api.get` (a property of an object bound to `api`), `default`, and
 * `outer.@12` for an anonymous function that starts on line 12.
 */
import { Parser, type Node, type Options as AcornOptions } from 'acorn'
import MagicString from 'magic-string'
import { decode, type SourceMapMappings } from '@jridgewell/sourcemap-codec'
import { STATE_KEY } from './state.js'
import { encodeTable, type FunctionInfo, type FunctionKind, type ProbeInfo, type SkippedInfo } from './registry.js'

export type { FunctionInfo, FunctionKind, ProbeInfo, SkippedInfo }
export { encodeTable, decodeTable } from './registry.js'

/** A source map in its JSON form (version 3). */
export interface RawSourceMap {
  version: number
  file?: string
  sources: (string | null)[]
  sourcesContent?: (string | null)[]
  names: string[]
  mappings: string
  sourceRoot?: string
}

export interface InstrumentOptions {
  /** Absolute path or URL of the file: named in the map and in parse errors. */
  filename: string
  /** `'module'` (ESM) or `'commonjs'`. Default `'commonjs'`. */
  format?: 'module' | 'commonjs'
  /**
   * The file's own source map (from tsc, esbuild, tsx...), already parsed, which the output map
   * is composed with so that positions go back to the original source. `undefined`: none.
   * Its `sources` are resolved against `inputMapURL` (default: the file itself).
   */
  inputMap?: RawSourceMap
  inputMapURL?: string
  /** Which functions get a probe (with `stableIds`, it is given the function's id too). Default: all that can be probed safely. */
  select?: (fn: FunctionInfo) => boolean
  /**
   * How probes reach the runtime. `'header'` (default) adds one statement after the shebang and
   * directive prologue, on the first line of code, that registers the file and binds the slot
   * array (an `import` of a data: URL for ES modules, so that hoisted functions called through
   * an import cycle before the module body runs still find it). `'global'` adds no header: the
   * probes reach the registry through `globalThis` (for code compiled into an already running
   * script, where a header would never run).
   */
  runtime?: 'header' | 'global'
  /**
   * What a probe sees. `'full'` (default): the call, and the return value or exception (the
   * body in a try block, each return captured). `'calls'`: the call only, the smallest probe
   * (one load and one branch, nothing else in the function's bytecode): for hot code where the
   * full form's extra bytecode makes V8 inline less (bench/probe-workload.mjs).
   */
  capture?: 'full' | 'calls'
  /** Build the source map. Default true; the preload skips it while source maps are off (Node reads no map for a module compiled then). */
  map?: boolean
  /**
   * The key under which the file registers (default: `filename`). With `runtime: 'global'`, a
   * short run of letters and digits: the probes read the global binding `<prefix>$<key>`.
   */
  key?: string
  /**
   * Number every function that could be probed, selected or not (default false: the selected
   * ones only). Then the ids of a rewrite that selects a few match the table of a full one,
   * which is how the live-edit installer reuses one table for every trace of a file.
   */
  stableIds?: boolean
  /** Return the table only (`code` is the source): no text is generated. Default false. */
  tableOnly?: boolean
  /**
   * Where the text that closes a probe's `try` goes in a block body (`runtime: 'global'`
   * only): `'statement'` (default) right after the last statement, `'brace'` right before the
   * closing brace. The live-edit installer tries both: V8 matches edited functions by a text
   * diff, and which placement it maps depends on the text around it (see livediff.ts).
   */
  closeAt?: 'statement' | 'brace'
}

/** Where a probed function sits, for the live-edit check (`runtime: 'global'` only). */
export interface ProbeSpan {
  /** The probe's id. */
  id: number
  /**
   * Where V8 starts the function (the `(` of its parameters; an arrow at its first character), and
   * where its body starts (`{`, or a concise arrow after `=>`).
   */
  start: number
  head: number
  /** Just after its last character. */
  end: number
  /** Characters the rewrite added right at `end` that belong to the function (a concise arrow's closing text). */
  close: number
}

export interface Instrumented {
  code: string
  /** The composed map, or undefined when nothing was probed (then `code === source`). */
  /** The composed map; undefined when nothing was probed (then `code === source`) or `map: false`. */
  map: RawSourceMap | undefined
  probes: ProbeInfo[]
  skipped: SkippedInfo[]
  /** The names bound by the rewrite: all start with this prefix, which the source never contains. */
  prefix: string
  /** `runtime: 'global'`: the global binding the probes read (define it before the code runs). */
  binding?: string
  /** `runtime: 'global'`: every insertion as [position, length] pairs, sorted, and each probe's span. */
  insertions?: number[]
  spans?: ProbeSpan[]
}

/** A file that cannot be parsed: the caller loads it unchanged and warns once. */
export class ParseFailure extends Error {
  constructor(
    readonly filename: string,
    override readonly cause: string,
  ) {
    super(`${filename}: ${cause}`)
  }
}

// ---------------------------------------------------------------------------------------------

/** An acorn node with its type-specific fields (acorn's own types do not narrow by `type`). */
type N = Node & Record<string, any>

interface FnRecord {
  node: N
  name: string
  kind: FunctionKind
  isArrow: boolean
  usesArguments: boolean
  unsafe: 'eval' | 'with' | 'redeclares' | undefined
  returns: N[]
  /** Names declared with `var` in the function (not in nested functions). */
  vars: Set<string> | undefined
  /** Top-level binding whose export names apply to this function's name (ESM). */
  topBinding: string | undefined
}

const FUNCTION_TYPES = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression'])

/** A prefix for our names that appears nowhere in the source, so no user name is ever shadowed. */
function pickPrefix(source: string): string {
  for (let i = 0; ; i++) {
    const p = i === 0 ? '$rt' : `$rt${i}`
    if (!source.includes(p)) return p
  }
}

/** Offsets of line starts, for 1-based line / 0-based column of a function. */
function lineStarts(source: string): number[] {
  // Lines as JavaScript counts them (and V8 numbers them in stack traces): \n, \r\n, a lone \r, U+2028, U+2029.
  const starts = [0]
  const re = /\r\n?|\n|\u2028|\u2029/g
  for (let m = re.exec(source); m; m = re.exec(source)) starts.push(m.index + m[0].length)
  return starts
}

function lineOf(starts: number[], pos: number): [number, number] {
  let lo = 0
  let hi = starts.length - 1
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1
    if (starts[mid] <= pos) lo = mid
    else hi = mid - 1
  }
  return [lo + 1, pos - starts[lo]]
}

function keyName(key: N, computed: boolean): string | undefined {
  if (key.type === 'PrivateIdentifier') return `#${key.name}`
  if (!computed && key.type === 'Identifier') return key.name
  if (key.type === 'Literal' && (typeof key.value === 'string' || typeof key.value === 'number')) return String(key.value)
  return undefined
}

/** `a.b.c` of a member chain of plain names, or undefined. */
function memberPath(n: N): string[] | undefined {
  if (n.type === 'Identifier') return [n.name]
  if (n.type === 'ThisExpression') return ['this']
  if (n.type !== 'MemberExpression') return undefined
  const obj = memberPath(n.object)
  const key = keyName(n.property, n.computed)
  return obj && key !== undefined ? [...obj, key] : undefined
}

/** The name an assignment target gives the function assigned to it. */
function assignedName(left: N): string | undefined {
  const path = memberPath(left)
  if (!path) return undefined
  if (path.length === 2 && path[0] === 'module' && path[1] === 'exports') return 'default'
  if (path.length === 3 && path[0] === 'module' && path[1] === 'exports') return path[2]
  if (path.length === 2 && (path[0] === 'exports' || path[0] === 'this')) return path[1]
  const proto = path.indexOf('prototype')
  if (proto > 0 && proto === path.length - 2) return `${path.slice(0, proto).join('.')}#${path[proto + 1]}`
  return path.join('.')
}

/** Names bound by a parameter pattern, in order. */
function boundNames(p: N, out: string[]): string[] {
  switch (p.type) {
    case 'Identifier':
      out.push(p.name)
      break
    case 'AssignmentPattern':
      boundNames(p.left, out)
      break
    case 'RestElement':
      boundNames(p.argument, out)
      break
    case 'ArrayPattern':
      for (const e of p.elements) if (e) boundNames(e, out)
      break
    case 'ObjectPattern':
      for (const prop of p.properties) boundNames(prop.type === 'RestElement' ? prop : prop.value, out)
      break
  }
  return out
}

/** The argument list a probe passes: the parameters as the function sees them. */
function argsExpression(params: N[]): string {
  const parts: string[] = []
  for (const p of params) {
    const q = p.type === 'AssignmentPattern' ? p.left : p
    if (q.type === 'Identifier') parts.push(q.name)
    else if (q.type === 'RestElement' && q.argument.type === 'Identifier') parts.push(`...${q.argument.name}`)
    else if (q.type === 'ArrayPattern' || (q.type === 'RestElement' && q.argument.type === 'ArrayPattern')) parts.push(`[${boundNames(q, []).join(',')}]`)
    else parts.push(`{${boundNames(q, []).join(',')}}`)
  }
  return `[${parts.join(',')}]`
}

interface Ctx {
  fn: FnRecord | undefined
  /** Name prefix for functions defined here: '' at top level, 'outer.' inside outer. */
  prefix: string
  inWith: boolean
  /** Top-level binding name of the outermost named thing we are in (for ESM exports). */
  top: string | undefined
}

/**
 * The keys that hold child nodes, per ESTree node type (as acorn produces them): walking them
 * from a table measured a third faster than enumerating every key of every node. The types that
 * the walker handles itself are not listed.
 */
const CHILDREN: Record<string, readonly string[] | undefined> = {
  Program: ['body'],
  ExpressionStatement: ['expression'],
  BlockStatement: ['body'],
  StaticBlock: ['body'],
  EmptyStatement: [],
  DebuggerStatement: [],
  IfStatement: ['test', 'consequent', 'alternate'],
  SwitchStatement: ['discriminant', 'cases'],
  SwitchCase: ['test', 'consequent'],
  ReturnStatement: ['argument'],
  ThrowStatement: ['argument'],
  TryStatement: ['block', 'handler', 'finalizer'],
  CatchClause: ['param', 'body'],
  WhileStatement: ['test', 'body'],
  DoWhileStatement: ['body', 'test'],
  ForStatement: ['init', 'test', 'update', 'body'],
  ForInStatement: ['left', 'right', 'body'],
  ForOfStatement: ['left', 'right', 'body'],
  VariableDeclaration: ['declarations'],
  ArrayExpression: ['elements'],
  ArrayPattern: ['elements'],
  ObjectPattern: ['properties'],
  RestElement: ['argument'],
  SpreadElement: ['argument'],
  UnaryExpression: ['argument'],
  UpdateExpression: ['argument'],
  BinaryExpression: ['left', 'right'],
  LogicalExpression: ['left', 'right'],
  ConditionalExpression: ['test', 'consequent', 'alternate'],
  CallExpression: ['callee', 'arguments'],
  NewExpression: ['callee', 'arguments'],
  SequenceExpression: ['expressions'],
  YieldExpression: ['argument'],
  AwaitExpression: ['argument'],
  TemplateLiteral: ['quasis', 'expressions'],
  TaggedTemplateExpression: ['tag', 'quasi'],
  ChainExpression: ['expression'],
  ParenthesizedExpression: ['expression'],
  ImportExpression: ['source', 'options'],
  ExportNamedDeclaration: ['declaration'],
  ExportDefaultDeclaration: ['declaration'],
}

function childKeysOf(n: N): string[] {
  const keys: string[] = []
  for (const key in n) {
    if (key === 'type' || key === 'start' || key === 'end' || key === 'loc' || key === 'range') continue
    const v = n[key]
    if (Array.isArray(v) || (v !== null && typeof v === 'object' && typeof v.type === 'string')) keys.push(key)
  }
  return keys
}

/**
 * Walk the AST once: name every function, collect returns per function, find `arguments`,
 * direct `eval` and `with`, and the ESM export table.
 */
class Collector {
  readonly fns: FnRecord[] = []
  /** local top-level binding -> exported names (ESM). */
  readonly exported = new Map<string, string[]>()
  private readonly starts: number[]
  constructor(
    source: string,
    readonly module: boolean,
    /** The input map, decoded: lines and columns are then the original source's (TypeScript...). */
    private readonly inLines: SourceMapMappings | undefined,
  ) {
    this.starts = lineStarts(source)
  }

  /** 1-based line and 0-based column of a position: in the original source when there is a map. */
  line(pos: number): [number, number] {
    const [line, column] = lineOf(this.starts, pos)
    const segs = this.inLines?.[line - 1]
    if (segs) {
      let best: SourceMapMappings[number][number] | undefined
      for (const seg of segs) {
        if (seg[0] > column) break
        best = seg
      }
      if (best && best.length >= 4) return [best[2]! + 1, best[3]!]
    }
    return [line, column]
  }

  private anonymous(node: N): string {
    return `@${this.line(node.start)[0]}`
  }

  private addExport(local: string, exported: string): void {
    const list = this.exported.get(local)
    if (list) list.push(exported)
    else this.exported.set(local, [exported])
  }

  program(ast: N): void {
    const ctx: Ctx = { fn: undefined, prefix: '', inWith: false, top: undefined }
    for (const stmt of ast.body as N[]) this.statement(stmt, ctx)
  }

  private statement(s: N, ctx: Ctx): void {
    if (this.module && ctx.fn === undefined) {
      if (s.type === 'ExportNamedDeclaration') {
        if (s.declaration) {
          const d = s.declaration as N
          if (d.type === 'VariableDeclaration') for (const decl of d.declarations) for (const n of boundNames(decl.id, [])) this.addExport(n, n)
          else if (d.id) this.addExport(d.id.name, d.id.name)
          this.visit(d, ctx, undefined)
        } else if (!s.source) {
          for (const sp of s.specifiers as N[]) {
            const local = keyName(sp.local, false)
            const exp = keyName(sp.exported, false)
            if (local !== undefined && exp !== undefined) this.addExport(local, exp)
          }
        }
        return
      }
      if (s.type === 'ExportDefaultDeclaration') {
        const d = s.declaration as N
        if ((d.type === 'FunctionDeclaration' || d.type === 'ClassDeclaration') && d.id) {
          this.addExport(d.id.name, 'default')
          this.visit(d, ctx, undefined)
        } else {
          this.addExport('default', 'default')
          this.visit(d, { ...ctx, top: 'default' }, 'default')
        }
        return
      }
    }
    this.visit(s, ctx, undefined)
  }

  /** Visit any node; `hint` names the function, class or object that `n` is, if it is one. */
  private visit(n: N | null | undefined, ctx: Ctx, hint: string | undefined): void {
    if (!n) return
    const type = n.type
    // The commonest nodes first, out of the switch below (a switch on strings compares case by case).
    if (type === 'Identifier') {
      if (n.name === 'arguments') {
        // An arrow's `arguments` is its enclosing function's.
        const owner = this.argumentsOwner(ctx)
        if (owner) owner.usesArguments = true
      }
      return
    }
    if (type === 'Literal' || type === 'ThisExpression') return
    if (type === 'MemberExpression') {
      this.visit(n.object, ctx, undefined)
      if (n.computed) this.visit(n.property, ctx, undefined)
      return
    }
    switch (type) {
      case 'FunctionDeclaration':
      case 'FunctionExpression':
      case 'ArrowFunctionExpression':
        this.fn(n, ctx, hint, 'function')
        return
      case 'ClassDeclaration':
      case 'ClassExpression':
        this.klass(n, ctx, hint)
        return
      case 'VariableDeclarator': {
        const name = n.id.type === 'Identifier' ? n.id.name : undefined
        this.visit(n.id, ctx, undefined)
        this.visit(n.init, ctx.fn === undefined && name ? { ...ctx, top: name } : ctx, name)
        return
      }
      case 'AssignmentExpression': {
        const name = n.operator === '=' || n.operator === '||=' || n.operator === '??=' ? assignedName(n.left) : undefined
        this.visit(n.left, ctx, undefined)
        this.visit(n.right, ctx, name)
        return
      }
      case 'AssignmentPattern': {
        this.visit(n.left, ctx, undefined)
        this.visit(n.right, ctx, n.left.type === 'Identifier' ? n.left.name : undefined)
        return
      }
      case 'ObjectExpression': {
        // Members of a named object are named through it; `module.exports = {...}` is the module.
        const base = hint === undefined ? ctx.prefix : hint === 'default' && !this.module ? ctx.prefix : `${ctx.prefix}${hint}.`
        for (const p of n.properties as N[]) {
          if (p.type === 'SpreadElement') {
            this.visit(p.argument, ctx, undefined)
            continue
          }
          if (p.computed) this.visit(p.key, ctx, undefined)
          const key = keyName(p.key, p.computed)
          const v = p.value as N
          if (FUNCTION_TYPES.has(v.type)) {
            const kind: FunctionKind = p.kind === 'get' ? 'get' : p.kind === 'set' ? 'set' : p.method ? 'method' : 'function'
            this.fn(v, { ...ctx, prefix: base }, key ?? this.anonymous(v), kind)
          } else if (key !== undefined && (v.type === 'ObjectExpression' || v.type === 'ClassExpression')) {
            this.visit(v, { ...ctx, prefix: base }, key)
          } else this.visit(v, ctx, undefined)
        }
        return
      }
      case 'VariableDeclaration':
        if (n.kind === 'var' && ctx.fn) {
          const vars = (ctx.fn.vars ??= new Set())
          for (const d of n.declarations as N[]) for (const b of boundNames(d.id, [])) vars.add(b)
        }
        break
      case 'WithStatement': {
        if (ctx.fn) ctx.fn.unsafe = 'with'
        this.visit(n.object, ctx, undefined)
        this.visit(n.body, { ...ctx, inWith: true }, undefined)
        return
      }
      case 'CallExpression': {
        if (n.callee.type === 'Identifier' && n.callee.name === 'eval' && ctx.fn) ctx.fn.unsafe ??= 'eval'
        // An immediately invoked function (a module wrapper, UMD): its inner functions are named
        // as if it were not there (`runInContext.chunk`, not `@9.runInContext.chunk`).
        const c = n.callee as N
        if (FUNCTION_TYPES.has(c.type)) this.iife.add(c)
        else if (c.type === 'MemberExpression' && !c.computed && FUNCTION_TYPES.has(c.object.type) && /^(call|apply)$/.test(c.property.name))
          this.iife.add(c.object)
        // A UMD factory: an anonymous function handed to a call at the top of the file.
        if (ctx.prefix === '') for (const a of n.arguments as N[]) if (a.type === 'FunctionExpression' && !a.id) this.iife.add(a)
        break
      }
      case 'ReturnStatement':
        if (ctx.fn) ctx.fn.returns.push(n)
        break
      case 'Property':
        // Inside patterns (ObjectPattern): keys are not references.
        if (n.computed) this.visit(n.key, ctx, undefined)
        this.visit(n.value, ctx, undefined)
        return
      case 'LabeledStatement':
        this.visit(n.body, ctx, undefined)
        return
      case 'BreakStatement':
      case 'ContinueStatement':
      case 'Literal':
      case 'PrivateIdentifier':
      case 'MetaProperty':
      case 'ThisExpression':
      case 'Super':
      case 'TemplateElement':
        return
      case 'ImportDeclaration':
      case 'ExportAllDeclaration':
        return
    }
    const keys = CHILDREN[type] ?? childKeysOf(n)
    for (let i = 0; i < keys.length; i++) {
      const v = n[keys[i]]
      if (v === null || v === undefined) continue
      if (Array.isArray(v)) {
        for (let j = 0; j < v.length; j++) {
          const c = v[j]
          if (c !== null && typeof c.type === 'string') this.visit(c, ctx, undefined)
        }
      } else if (typeof v.type === 'string') this.visit(v, ctx, undefined)
    }
  }

  private argumentsOwner(ctx: Ctx): FnRecord | undefined {
    // The nearest non-arrow function: walk our records from the innermost outward.
    let f = ctx.fn
    while (f && f.isArrow) f = this.parentOf.get(f)
    return f
  }
  private readonly parentOf = new Map<FnRecord, FnRecord | undefined>()
  private readonly iife = new Set<N>()

  private fn(n: N, ctx: Ctx, hint: string | undefined, kind: FunctionKind, className?: string): FnRecord {
    const own = n.id && n.type !== 'ArrowFunctionExpression' ? (n.id.name as string) : undefined
    const base = hint ?? own ?? this.anonymous(n)
    const name = className === undefined ? `${ctx.prefix}${base}` : base
    const rec: FnRecord = {
      node: n,
      name,
      kind: n.type === 'ArrowFunctionExpression' ? 'arrow' : kind,
      isArrow: n.type === 'ArrowFunctionExpression',
      usesArguments: false,
      unsafe: ctx.inWith ? 'with' : undefined,
      returns: [],
      vars: undefined,
      topBinding: ctx.fn === undefined ? (ctx.top ?? (n.type === 'FunctionDeclaration' ? own : undefined)) : ctx.top,
    }
    this.parentOf.set(rec, ctx.fn)
    this.fns.push(rec)
    const inner: Ctx = { fn: rec, prefix: this.iife.has(n) && hint === undefined ? ctx.prefix : `${name}.`, inWith: ctx.inWith, top: rec.topBinding }
    for (const p of n.params as N[]) this.visit(p, inner, undefined)
    this.visit(n.body, inner, undefined)
    // The probe puts the body in a block, where a function declared at the body's top level is
    // lexical: a `var` of the same name, or a second declaration of it, would not compile there.
    if (rec.unsafe === undefined && n.body.type === 'BlockStatement') {
      const seen = new Set<string>()
      for (const st of n.body.body as N[]) {
        if (st.type !== 'FunctionDeclaration' || !st.id) continue
        const name = st.id.name as string
        if (seen.has(name) || rec.vars?.has(name)) rec.unsafe = 'redeclares'
        seen.add(name)
      }
    }
    return rec
  }

  private klass(n: N, ctx: Ctx, hint: string | undefined): void {
    const own = n.id ? (n.id.name as string) : undefined
    const cls = `${ctx.prefix}${hint ?? own ?? this.anonymous(n)}`
    const top = ctx.fn === undefined ? (ctx.top ?? own) : ctx.top
    const inner: Ctx = { ...ctx, top }
    if (n.id) this.visit(n.id, ctx, undefined)
    this.visit(n.superClass, ctx, undefined)
    for (const m of n.body.body as N[]) {
      if (m.type === 'StaticBlock') {
        for (const s of m.body) this.visit(s, { ...inner, prefix: `${cls}.` }, undefined)
        continue
      }
      if (m.computed) this.visit(m.key, inner, undefined)
      const key = keyName(m.key, m.computed) ?? this.anonymous(m)
      const member = m.static ? `${cls}.${key}` : `${cls}#${key}`
      if (m.type === 'MethodDefinition') {
        const kind: FunctionKind = m.kind === 'constructor' ? 'constructor' : m.kind === 'get' ? 'get' : m.kind === 'set' ? 'set' : 'method'
        this.fn(m.value, inner, member, kind, cls)
      } else if (m.type === 'PropertyDefinition' && m.value) {
        const v = m.value as N
        if (FUNCTION_TYPES.has(v.type)) this.fn(v, inner, member, 'function', cls)
        else this.visit(v, { ...inner, fn: inner.fn, prefix: `${member}.` }, undefined)
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------

/** Parse (no token callback: acorn would allocate a token object for each, 10% of the rewrite). */
function parse(source: string, module: boolean, filename: string): N {
  const opts: AcornOptions = {
    ecmaVersion: 'latest',
    sourceType: module ? 'module' : 'script',
    allowHashBang: true,
    allowReturnOutsideFunction: !module,
    allowAwaitOutsideFunction: module,
  }
  try {
    return Parser.parse(source, opts) as N
  } catch (err) {
    throw new ParseFailure(filename, err instanceof Error ? err.message : String(err))
  }
}

/**
 * The first place in [from, end) where `found` says yes, outside comments (`end` if none): a scan
 * of the few characters of a function's head, between its name or parameters and its body.
 */
function scanHead(source: string, from: number, end: number, found: (c: number, p: number) => boolean): number {
  let p = from
  while (p < end) {
    const c = source.charCodeAt(p)
    if (found(c, p)) return p
    if (c === 47 && source.charCodeAt(p + 1) === 47) {
      const nl = source.indexOf('\n', p)
      p = nl === -1 ? end : nl
    } else if (c === 47 && source.charCodeAt(p + 1) === 42) {
      const close = source.indexOf('*/', p + 2)
      p = close === -1 ? end : close + 2
    } else p++
  }
  return end
}

/** The `(` that opens a (non-arrow) function's parameters: where V8 starts the function. */
function paramsOpen(source: string, n: N): number {
  const end = (n.body as N).start as number
  const p = scanHead(source, n.id ? (n.id.end as number) : (n.start as number), end, (c) => c === 40)
  return p === end ? (n.start as number) : p
}

/**
 * The end of an arrow's `=>`: scanning forward from its last parameter (or its start), where only
 * parentheses, `async`, whitespace and comments can come before the `=>`.
 */
function arrowEnd(source: string, n: N): number {
  const params = n.params as N[]
  const end = n.body.start as number
  const p = scanHead(source, params.length > 0 ? params[params.length - 1].end : n.start, end, (c, q) => c === 61 && source.charCodeAt(q + 1) === 62)
  return p === end ? end : p + 2
}

/**
 * Where a probe goes in a block body: after its directive prologue ('use strict' stays first).
 * A directive may end without its semicolon: `directive` says the probe must start with one.
 */
function bodyStart(body: N): { at: number; directive: boolean } {
  let at = body.start + 1
  let directive = false
  for (const s of body.body as N[]) {
    if (s.type === 'ExpressionStatement' && typeof s.directive === 'string') {
      at = s.end
      directive = true
    } else break
  }
  return { at, directive }
}

/** Where the header goes: after a shebang line and the program's directive prologue. */
function headerPosition(source: string, ast: N): { pos: number; needsNewline: boolean; afterDirective: boolean } {
  let pos = 0
  let needsNewline = false
  let afterDirective = false
  if (source.startsWith('#!')) {
    const nl = source.indexOf('\n')
    if (nl === -1) {
      pos = source.length
      needsNewline = true
    } else pos = nl + 1
  }
  for (const s of ast.body as N[]) {
    if (s.type === 'ExpressionStatement' && typeof s.directive === 'string') {
      pos = s.end
      afterDirective = true
    } else break
  }
  return { pos, needsNewline, afterDirective }
}

/** The function name with its first segment replaced by each name it is exported under. */
function exportNames(rec: FnRecord, exported: Map<string, string[]>): string[] {
  if (rec.topBinding === undefined) return []
  const names = exported.get(rec.topBinding)
  if (!names) return []
  const rest = rec.name.startsWith(rec.topBinding) ? rec.name.slice(rec.topBinding.length) : undefined
  if (rest === undefined || (rest !== '' && !/^[.#]/.test(rest))) return []
  return names.map((e) => e + rest)
}

/**
 * Instrument one file. Throws `ParseFailure` if the source does not parse; otherwise returns
 * (with `map` undefined and the code unchanged when no function was probed).
 */
export function instrument(source: string, options: InstrumentOptions): Instrumented {
  const module = options.format === 'module'
  const ast = parse(source, module, options.filename)
  const inLines = options.inputMap ? decodeInput(options.inputMap) : undefined
  const collector = new Collector(source, module, inLines)
  collector.program(ast)
  const prefix = pickPrefix(source)
  const S = `${prefix}S`
  const P = `${prefix}P`
  const T = `${prefix}t`
  const R = `${prefix}r`
  const E = `${prefix}e`
  const global = options.runtime === 'global'
  // A global binding rather than a lookup through globalThis: one load the IC keeps constant,
  // and a short text (V8's live edit matches functions by diffing texts: the less inserted, the
  // fewer ways the diff can go astray; see livediff.ts).
  const binding = global ? `${prefix}$${options.key ?? '0'}` : undefined
  if (binding !== undefined && !/^\$[A-Za-z0-9$]+$/.test(binding))
    throw new TypeError(`instrument: key must be letters and digits, got ${JSON.stringify(options.key)}`)
  const slots = global ? `${binding}.s` : S
  const probeObj = global ? binding! : P
  const spans: ProbeSpan[] = []
  let candidates = 0

  const probes: ProbeInfo[] = []
  const skipped: SkippedInfo[] = []
  const ms = new MagicString(source)
  // Every insertion, by position, for the map: a char at p moves right by all that is inserted
  // at positions <= p on its line.
  const inserted: number[] = []
  const left = (pos: number, text: string) => {
    ms.appendLeft(pos, text)
    inserted.push(pos, text.length)
  }
  const right = (pos: number, text: string) => {
    ms.prependRight(pos, text)
    inserted.push(pos, text.length)
  }
  for (const rec of collector.fns) {
    const [line, column] = collector.line(rec.node.start)
    const info: FunctionInfo = {
      name: rec.name,
      kind: rec.kind,
      async: rec.node.async === true,
      generator: rec.node.generator === true,
      line,
      column,
      exports: module ? exportNames(rec, collector.exported) : [],
      exactArgs: rec.usesArguments && !rec.isArrow,
      // Live edit (runtime 'global') can give a concise arrow only a calls probe: the text
      // that captures its value would follow its last character, and V8 then maps the edited
      // arrow to nothing (livediff.ts).
      callsOnly: options.capture === 'calls' || (global && rec.isArrow && (rec.node.body as N).type !== 'BlockStatement'),
    }
    if (rec.unsafe !== undefined) {
      skipped.push({ name: rec.name, line, reason: rec.unsafe })
      continue
    }
    const candidate = candidates++
    if (options.select && !options.select(options.stableIds ? ({ ...info, id: candidate } as FunctionInfo) : info)) {
      skipped.push({ name: rec.name, line, reason: 'not selected' })
      continue
    }
    const id = options.stableIds ? candidate : probes.length
    probes.push({ ...info, id })
    if (options.tableOnly) continue
    const n = rec.node
    const args = info.exactArgs ? 'arguments' : argsExpression(n.params)
    const enter = `let ${T}=0,${R};if(${slots}[${id}]!==0)${T}=${probeObj}.e(${id},${args});try{`
    // No blank in the live-edit form's closing text: V8's diff then cannot pair the blank
    // before a function's last `}` with one of ours (see livediff.ts).
    const fallOff = rec.kind === 'constructor' ? 'this' : global ? 'void(0)' : 'void 0'
    // `x` reports the exception (when the call is live) and returns it: one throw, the same object.
    const leave = global
      ? `;${T}!==0&&${probeObj}.r(${T},${fallOff})}catch(${E}){throw(${probeObj}.x(${T},${E}))}`
      : `;${T}!==0&&${probeObj}.r(${T},${fallOff})}catch(${E}){throw ${probeObj}.x(${T},${E})}`
    const body = n.body as N
    if (global)
      spans.push({
        id,
        start: n.type === 'ArrowFunctionExpression' ? n.start : paramsOpen(source, n),
        head: body.type === 'BlockStatement' ? body.start : arrowEnd(source, n),
        end: n.end,
        close: 0,
      })
    if (info.callsOnly) {
      const probe = `if(${slots}[${id}]!==0)${probeObj}.e(${id},${args});`
      if (body.type === 'BlockStatement') {
        const { at, directive } = bodyStart(body)
        left(at, directive ? `;${probe}` : probe)
      } else {
        if (global) left(arrowEnd(source, n), `(${slots}[${id}]!==0&&${probeObj}.e(${id},${args}),0)?0:`)
        else {
          left(arrowEnd(source, n), `(${slots}[${id}]!==0&&${probeObj}.e(${id},${args}),`)
          right(n.end, ')')
        }
      }
      continue
    }
    if (body.type === 'BlockStatement') {
      const { at, directive } = bodyStart(body)
      left(at, directive ? `;${enter}` : enter)
      // After the body's last statement, not just before its `}`: the text that ends the
      // function (the line break and brace after its last statement) stays as it was, which V8's
      // live edit needs to match the edited function with the running one (measured: inserted
      // just before a `}` that ends a line, the edit reports Ok and applies to nothing).
      const stmts = body.body as N[]
      right(options.closeAt === 'brace' && global ? body.end - 1 : stmts.length > 0 ? stmts[stmts.length - 1].end : at, leave)
    } else {
      // An arrow's expression body, from just after `=>` (so parentheses around it are kept).
      const from = arrowEnd(source, n)
      left(from, `{${enter}return(${R}=(`)
      const close = global
        ? `),${T}===0?${R}:${probeObj}.r(${T},${R}))}catch(${E}){throw(${probeObj}.x(${T},${E}))}}`
        : `),${T}===0?${R}:${probeObj}.r(${T},${R}))}catch(${E}){throw ${probeObj}.x(${T},${E})}}`
      right(n.end, close)
      if (global) spans[spans.length - 1].close = close.length
    }
    for (const r of rec.returns) {
      if (r.argument) {
        left(r.argument.start, `(${R}=(`)
        right(r.argument.end, `),${T}===0?${R}:${probeObj}.r(${T},${R}))`)
      } else {
        // A bare `return` may end at a newline (ASI): our expression ends with its own `;` so
        // that the next line does not continue it.
        const semi = source.charCodeAt(r.end - 1) === 59 ? '' : ';'
        left(r.start + 6, ` ${T}===0?${global ? 'void(0)' : 'void 0'}:${probeObj}.r(${T},${fallOff})${semi}`)
      }
    }
  }

  if (probes.length === 0 || options.tableOnly) return { code: source, map: undefined, probes, skipped, prefix }

  if (!global) {
    const key = JSON.stringify(options.key ?? options.filename)
    const table = JSON.stringify(encodeTable(probes, skipped))
    const { pos, needsNewline, afterDirective } = headerPosition(source, ast)
    // The registry in the process-wide state, or (no preload in this thread) an inert stand-in.
    const inert = '{file:(k,n)=>({s:Array(n).fill(0),e(){return 0},r(t,v){return v},x(t,e){return e}})}'
    const slots = `[${'0,'.repeat(probes.length).slice(0, -1)}]`
    const register = `(globalThis[Symbol.for(${JSON.stringify(STATE_KEY)})]?.registry||${inert}).file(${key},${probes.length},${table},${slots})`
    let header: string
    if (module) {
      const data = `const p=${register};export const s=p.s;export{p};`
      header = `import{s as ${S},p as ${P}}from${JSON.stringify(`data:text/javascript,${encodeURIComponent(data)}`)};`
    } else {
      // Line breaks to JavaScript: escaped, so the header stays on its line.
      header = `const ${P}=${register},${S}=${P}.s;`.replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029')
    }
    if (needsNewline) ms.appendLeft(pos, '\n') // a lone shebang line: the header goes on a line of its own, after all the code
    left(pos, (afterDirective ? ';' : '') + header)
  }

  const code = ms.toString()
  const map = options.map === false ? undefined : buildMap(source, inserted, options, inLines)
  if (!global) return { code, map, probes, skipped, prefix }
  const pairs: [number, number][] = []
  for (let i = 0; i < inserted.length; i += 2) pairs.push([inserted[i], inserted[i + 1]])
  pairs.sort((a, b) => a[0] - b[0])
  return { code, map, probes, skipped, prefix, binding, insertions: pairs.flat(), spans }
}

// ---------------------------------------------------------------------------------------------
// Source maps.

function resolveSource(source: string, base: string, root: string | undefined): string {
  const s = root ? root.replace(/\/?$/, '/') + source : source
  try {
    return new URL(s, base).href
  } catch {
    return s
  }
}

function toURL(filename: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(filename) && !/^[a-z]:[\\/]/i.test(filename)) return filename
  return new URL(`file://${filename.startsWith('/') ? '' : '/'}${filename.replace(/\\/g, '/')}`).href
}

const B64 = new Uint8Array(64)
'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.split('').forEach((c, i) => (B64[i] = c.charCodeAt(0)))

/** Base64 VLQ written straight into a byte buffer: no array per segment (those cost a third of the rewrite's time in GC). */
class MappingsWriter {
  private buf = new Uint8Array(1 << 16)
  private n = 0
  private byte(b: number): void {
    if (this.n === this.buf.length) {
      const next = new Uint8Array(this.buf.length * 2)
      next.set(this.buf)
      this.buf = next
    }
    this.buf[this.n++] = b
  }
  vlq(v: number): void {
    let x = v < 0 ? (-v << 1) | 1 : v << 1
    do {
      let d = x & 31
      x >>>= 5
      if (x > 0) d |= 32
      this.byte(B64[d])
    } while (x > 0)
  }
  comma(): void {
    this.byte(44)
  }
  semicolon(): void {
    this.byte(59)
  }
  toString(): string {
    return Buffer.from(this.buf.buffer, 0, this.n).toString('latin1')
  }
}

const enum Cls {
  Space,
  Word,
  Punct,
}
const ASCII_CLASS = new Uint8Array(128)
for (let c = 0; c < 128; c++) {
  ASCII_CLASS[c] =
    c === 32 || c === 9 || c === 10 || c === 13 || c === 11 || c === 12
      ? Cls.Space
      : (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 36 || c === 95
        ? Cls.Word
        : Cls.Punct
}
function classOf(c: number): Cls {
  if (c < 128) return ASCII_CLASS[c] as Cls
  return c === 0xa0 || c === 0xfeff || c === 0x2028 || c === 0x2029 ? Cls.Space : Cls.Word
}

/**
 * The map of the rewrite, composed with the input map when there is one.
 *
 * The rewrite only inserts, never on a new line, so a char at column c of a line lands at column
 * c + (all that was inserted on that line at or before it). A segment is written at every token
 * boundary of the source (where whitespace, word and punctuation alternate, and at each
 * punctuation char), which is every position V8 names in a stack trace (a call's callee or
 * property, `new`, `throw`, an operator). With an input map, each of those positions is looked
 * up there (the segment at or before it on its line, as a consumer does) and the result written
 * instead, so the map goes straight from the output to the original source (TypeScript...).
 */
function decodeInput(map: RawSourceMap): SourceMapMappings | undefined {
  try {
    return decode(map.mappings)
  } catch {
    return undefined
  }
}

function buildMap(source: string, inserted: number[], options: InstrumentOptions, inLines: SourceMapMappings | undefined): RawSourceMap {
  // Insertions sorted by position.
  const count = inserted.length >> 1
  const order = new Int32Array(count)
  for (let i = 0; i < count; i++) order[i] = i
  order.sort((a, b) => inserted[2 * a] - inserted[2 * b])
  // Positions and lengths in that order, and one past the end as a sentinel: the loop below
  // compares each char's position with the next insertion's, a single compare per char.
  const at = new Float64Array(count + 1)
  const size = new Float64Array(count + 1)
  for (let i = 0; i < count; i++) {
    at[i] = inserted[2 * order[i]]
    size[i] = inserted[2 * order[i] + 1]
  }
  at[count] = Infinity
  const fileURL = toURL(options.filename)
  const input = inLines === undefined ? undefined : options.inputMap
  const w = new MappingsWriter()
  let k = 0 // next insertion (in `order`)
  let line = 0
  let lineStart = 0
  let shift = 0
  let prevGenCol = 0
  let first = true // first segment of the line
  // Relative fields across the whole map.
  let pSource = 0
  let pLine = 0
  let pCol = 0
  let pName = 0
  let prevCls = Cls.Space
  const len = source.length
  let nextAt = at[0]
  for (let p = 0; p < len; p++) {
    // Insertions at p come before the char at p.
    if (nextAt <= p) {
      while (at[k] <= p) shift += size[k++]
      nextAt = at[k]
    }
    const c = source.charCodeAt(p)
    // A line ends as JavaScript ends it: \n (also of \r\n), a lone \r, U+2028, U+2029.
    if (c === 10 || c === 0x2028 || c === 0x2029 || (c === 13 && source.charCodeAt(p + 1) !== 10)) {
      w.semicolon()
      line++
      lineStart = p + 1
      shift = 0
      prevGenCol = 0
      first = true
      prevCls = Cls.Space
      continue
    }
    const cls = c < 128 ? (ASCII_CLASS[c] as Cls) : classOf(c)
    if (cls === Cls.Space || (cls === prevCls && cls === Cls.Word)) {
      prevCls = cls
      continue
    }
    prevCls = cls
    const col = p - lineStart
    const genCol = col + shift
    if (inLines === undefined) {
      if (!first) w.comma()
      w.vlq(genCol - prevGenCol)
      w.vlq(0)
      w.vlq(line - pLine)
      w.vlq(col - pCol)
      pLine = line
      pCol = col
    } else {
      const segs = inLines[line]
      if (segs === undefined || segs.length === 0) continue
      let lo = 0
      let hi = segs.length - 1
      let found = -1
      while (lo <= hi) {
        const mid = (lo + hi) >> 1
        if (segs[mid][0] <= col) {
          found = mid
          lo = mid + 1
        } else hi = mid - 1
      }
      if (found === -1) continue
      const seg = segs[found]
      if (seg.length < 4) continue
      if (!first) w.comma()
      w.vlq(genCol - prevGenCol)
      w.vlq(seg[1]! - pSource)
      w.vlq(seg[2]! - pLine)
      w.vlq(seg[3]! - pCol)
      pSource = seg[1]!
      pLine = seg[2]!
      pCol = seg[3]!
      if (seg.length === 5) {
        w.vlq(seg[4]! - pName)
        pName = seg[4]!
      }
    }
    prevGenCol = genCol
    first = false
  }
  const file = fileURL.slice(fileURL.lastIndexOf('/') + 1)
  if (!input) return { version: 3, file, sources: [fileURL], names: [], mappings: w.toString() }
  const base = options.inputMapURL ?? fileURL
  const sources = input.sources.map((s) => (s === null ? '' : resolveSource(s, base, input.sourceRoot)))
  const map: RawSourceMap = { version: 3, file, sources, names: input.names ?? [], mappings: w.toString() }
  if (input.sourcesContent) map.sourcesContent = input.sourcesContent
  return map
}

/** A map as an inline `//# sourceMappingURL` comment (what Node reads with source maps on). */
export function inlineMapComment(map: RawSourceMap): string {
  return `\n//# sourceMappingURL=data:application/json;charset=utf-8;base64,${Buffer.from(JSON.stringify(map)).toString('base64')}\n`
}

/** The file's own map reference: the last `//# sourceMappingURL=` comment, if any. */
export function findMapReference(source: string): { url: string; start: number } | undefined {
  const re = /(?:\/\/[#@]\s*sourceMappingURL=([^\s'"]+)\s*$)|(?:\/\*[#@]\s*sourceMappingURL=([^\s*'"]+)\s*\*\/\s*$)/gm
  let last: { url: string; start: number } | undefined
  for (let m = re.exec(source); m; m = re.exec(source)) last = { url: m[1] ?? m[2], start: m.index }
  return last
}

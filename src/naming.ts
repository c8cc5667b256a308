/**
 * Naming: the name a spec uses for each function of a file, found in one walk of its syntax tree.
 *
 * `fact`, `outer.inner`, `Queue#push`, `Queue.from`, `Queue#constructor`, `Queue##grow` (a
 * private method), `Queue#size` (a getter or setter), `api.get` (a property of an object bound
 * to `api`), `default`, and `outer.@12` for an anonymous function that starts on line 12. IIFE
 * and UMD wrappers add nothing to names. The collector also records what the rewrite needs to
 * know of each function (its kind, its body, whether it uses `arguments`, direct `eval` or sits
 * in a `with`, its export names) and the functions it must leave alone.
 */
import type { Node } from 'acorn'
import type { SourceMapMappings } from '@jridgewell/sourcemap-codec'
import type { FunctionKind } from './registry.js'

/** An acorn node with its type-specific fields (acorn's own types do not narrow by `type`). */
export type N = Node & Record<string, any>

export interface FnRecord {
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
  /** Defined outside any function: at the top of its file, or a method of a class or object there. */
  top: boolean
  /**
   * Defined in a top scope: the file's, or the body of an immediately invoked function or a UMD
   * factory at the top of the file (acorn's `function Parser`, `pp$8.parseTopLevel = function`),
   * or a method of a class or object there. A binding of that scope may hold it (holder.ts).
   */
  scopeTop: boolean
  /** In a top scope: the binding of that scope that holds it or the object it is a member of (`pp$8`, `Queue`, `api`). */
  hold: string | undefined
  /** Where that top scope starts (0: the file's): the key of its aliases (`Collector.aliasOf`). */
  scope: number
  /** Its body is a top scope (an immediately invoked function or UMD factory in one): its names are top-level bindings. */
  bodyTop: boolean
}

const FUNCTION_TYPES = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression'])

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

/** The name an assignment target (its `memberPath`) gives the function assigned to it. */
function assignedName(path: string[] | undefined): string | undefined {
  if (!path) return undefined
  if (path.length === 2 && path[0] === 'module' && path[1] === 'exports') return 'default'
  if (path.length === 3 && path[0] === 'module' && path[1] === 'exports') return path[2]
  if (path.length === 2 && (path[0] === 'exports' || path[0] === 'this')) return path[1]
  const proto = path.indexOf('prototype')
  if (proto > 0 && proto === path.length - 2) return `${path.slice(0, proto).join('.')}#${path[proto + 1]}`
  return path.join('.')
}

/** Names bound by a parameter pattern, in order. */
export function boundNames(p: N, out: string[]): string[] {
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

interface Ctx {
  fn: FnRecord | undefined
  /** Name prefix for functions defined here: '' at top level, 'outer.' inside outer. */
  prefix: string
  inWith: boolean
  /** Top-level binding name of the outermost named thing we are in (for ESM exports). */
  top: string | undefined
  /** In a top scope (the file's, or an immediately invoked function's body there): see `FnRecord.scopeTop`. */
  atTop: boolean
  /** In a top scope: the binding that holds what is defined here (`FnRecord.hold`). */
  hold: string | undefined
  /** Where the top scope we are in starts (`FnRecord.scope`). */
  scope: number
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
export class Collector {
  readonly fns: FnRecord[] = []
  /** local top-level binding -> exported names (ESM). */
  readonly exported = new Map<string, string[]>()
  /**
   * Record how names and property keys are used (`valueNames`, `valueKeys`): set before
   * `program()` by the lean form's rewrite, which leaves a function without a probe only if its
   * holder is all the file ever calls it through. Off by default: it costs a set insertion per
   * identifier.
   */
  values = false
  /** Names read somewhere other than as a call's callee (passed, exported, kept, compared, assigned), wherever they are bound. */
  readonly valueNames = new Set<string>()
  /** Property keys read other than as a method call's callee or an assignment's target (`this.next` passed as a callback). */
  readonly valueKeys = new Set<string>()
  /** `var pp = Parser.prototype` in a top scope, by `${scope} ${name}`: the member path it was given. */
  private readonly aliases = new Map<string, string[]>()
  private readonly reassigned = new Set<string>()

  /**
   * The member path a top-scope binding was declared with and never assigned again
   * (`['Parser', 'prototype']` for `var pp = Parser.prototype`), when there is one: the object it
   * holds is reachable through that path too, from a binding a closure is more likely to keep.
   */
  aliasOf(scope: number, name: string): readonly string[] | undefined {
    const path = this.aliases.get(`${scope} ${name}`)
    return path === undefined || this.reassigned.has(name) || this.reassigned.has(path[0]) ? undefined : path
  }
  private readonly starts: number[]
  constructor(
    source: string,
    readonly module: boolean,
    /** The input map, decoded: lines and columns are then the original source's (TypeScript...). */
    private readonly inLines: SourceMapMappings | undefined,
    /** The input map's `names`: a bundler's renamed bindings (`findUser2`) get their own name back. */
    private readonly inNames: readonly string[] = [],
  ) {
    this.starts = lineStarts(source)
  }

  /** The input map's segment at or before a position, as a consumer looks it up. */
  private segment(pos: number): SourceMapMappings[number][number] | undefined {
    const [line, column] = lineOf(this.starts, pos)
    const segs = this.inLines?.[line - 1]
    let best: SourceMapMappings[number][number] | undefined
    if (segs) {
      for (const seg of segs) {
        if (seg[0] > column) break
        best = seg
      }
    }
    return best
  }

  /** The index, in the input map's `sources`, of the original file a position comes from. */
  origin(pos: number): number | undefined {
    const seg = this.segment(pos)
    return seg !== undefined && seg.length >= 4 ? seg[1] : undefined
  }

  /**
   * The original file of a function: where its start maps, or else the first position of its
   * head (up to its body) that a map covers on the same line (a compiler that maps the name and
   * not the `function` keyword); undefined when its head maps nowhere (code the compiler added).
   */
  originOf(fn: N): number | undefined {
    const at = this.origin(fn.start)
    if (at !== undefined || this.inLines === undefined) return at
    const [line, column] = lineOf(this.starts, fn.start)
    const [bodyLine, bodyColumn] = lineOf(this.starts, (fn.body as N).start)
    const until = bodyLine === line ? bodyColumn : Infinity
    for (const seg of this.inLines[line - 1] ?? []) if (seg[0] >= column && seg[0] <= until && seg.length >= 4) return seg[1]
    return undefined
  }

  /** The name the input map gives the identifier at `pos` (only a segment that starts there). */
  private originalName(pos: number): string | undefined {
    const seg = this.segment(pos)
    if (seg === undefined || seg.length !== 5 || seg[0] !== lineOf(this.starts, pos)[1]) return undefined
    const name = this.inNames[seg[4]]
    return typeof name === 'string' && /^[\p{L}\p{Nl}$_][\p{L}\p{Nl}\p{Mn}\p{Mc}\p{Nd}\p{Pc}$\u200c\u200d]*$/u.test(name) ? name : undefined
  }

  /** Top-level bindings a bundler renamed (`findUser2` for a second `findUser`), to their original names. */
  private readonly renamed = new Map<string, string>()
  private noteRename(id: N | null | undefined): void {
    if (this.inLines === undefined || this.inNames.length === 0 || !id || id.type !== 'Identifier') return
    const original = this.originalName(id.start)
    if (original !== undefined && original !== id.name) this.renamed.set(id.name, original)
  }
  /** A top-level name as its original file has it. */
  private own(name: string, ctx: Ctx): string {
    return ctx.prefix === '' ? (this.renamed.get(name) ?? name) : name
  }

  /** 1-based line and 0-based column of a position: in the original source when there is a map. */
  line(pos: number): [number, number] {
    const best = this.segment(pos)
    if (best && best.length >= 4) return [best[2]! + 1, best[3]!]
    return lineOf(this.starts, pos)
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
    const ctx: Ctx = { fn: undefined, prefix: '', inWith: false, top: undefined, atTop: true, hold: undefined, scope: 0 }
    for (const stmt of ast.body as N[]) {
      const d = stmt.type === 'ExportNamedDeclaration' || stmt.type === 'ExportDefaultDeclaration' ? (stmt.declaration as N | null) : stmt
      if (d?.type === 'FunctionDeclaration' || d?.type === 'ClassDeclaration') this.noteRename(d.id)
      else if (d?.type === 'VariableDeclaration') for (const decl of d.declarations as N[]) this.noteRename(decl.id)
    }
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
      if (this.values) this.valueNames.add(n.name as string)
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
      else if (this.values) this.valueKeys.add(n.property.name as string)
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
        // A declared name is not read (a pattern's defaults are).
        if (name === undefined) this.visit(n.id, ctx, undefined)
        // `var pp = Parser.prototype` in a top scope: `pp.parse` is also `Parser#parse`.
        if (ctx.atTop && name && n.init) {
          const path = memberPath(n.init as N)
          if (path !== undefined && path.length >= 2 && path[0] !== 'this') this.aliases.set(`${ctx.scope} ${name}`, path)
        }
        const top = ctx.fn === undefined && name ? name : ctx.top
        const hold = ctx.atTop && name ? name : ctx.hold
        this.visit(n.init, top === ctx.top && hold === ctx.hold ? ctx : { ...ctx, top, hold }, name)
        return
      }
      case 'AssignmentExpression': {
        const path = n.operator === '=' || n.operator === '||=' || n.operator === '??=' ? memberPath(n.left) : undefined
        const name = assignedName(path)
        // A name assigned anywhere is no alias: it may hold something else by the time of a trace.
        if (n.left.type === 'Identifier') this.reassigned.add(n.left.name as string)
        // `pp.parse = function`: the key is set, not read.
        if (n.left.type === 'MemberExpression' && !n.left.computed) this.visit(n.left.object, ctx, undefined)
        else this.visit(n.left, ctx, undefined)
        // In a top scope, `pp.parse = function` is held by the object `pp` holds (not `this`'s,
        // nor CommonJS's `module` or `exports`, which name the function without them).
        const root = ctx.atTop && path !== undefined && path.length >= 2 ? path[0] : undefined
        const held = root !== undefined && root !== 'this' && root !== 'module' && root !== 'exports'
        this.visit(n.right, held ? { ...ctx, hold: root } : ctx, name)
        return
      }
      case 'AssignmentPattern': {
        this.visit(n.left, ctx, undefined)
        this.visit(n.right, ctx, n.left.type === 'Identifier' ? n.left.name : undefined)
        return
      }
      case 'ObjectExpression': {
        // Members of a named object are named through it; `module.exports = {...}` is the module.
        const base = hint === undefined ? ctx.prefix : hint === 'default' && !this.module ? ctx.prefix : `${ctx.prefix}${this.own(hint, ctx)}.`
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
        // esbuild's keepNames (tsx compiles with it): `const add = __name((a, b) => a + b, "add")`
        // names the function as if it stood alone.
        const [fn, label] = n.arguments as N[]
        if (
          n.callee.type === 'Identifier' &&
          n.callee.name === '__name' &&
          n.arguments.length === 2 &&
          FUNCTION_TYPES.has(fn.type) &&
          label.type === 'Literal' &&
          typeof label.value === 'string'
        ) {
          this.visit(fn, ctx, hint ?? label.value)
          return
        }
        // esbuild's CommonJS exports (tsx, bundles): `__export(exports, { add: () => add })`. The
        // getters are not the program's functions: a spec naming `add` means the function.
        const [, table] = n.arguments as N[]
        if (n.callee.type === 'Identifier' && n.callee.name === '__export' && n.arguments.length === 2 && table.type === 'ObjectExpression') {
          this.visit(n.arguments[0], ctx, undefined)
          for (const p of table.properties as N[]) {
            const v = p.type === 'Property' ? (p.value as N) : undefined
            if (v?.type === 'ArrowFunctionExpression' && v.body.type === 'Identifier' && v.params.length === 0) continue
            this.visit(p, ctx, undefined)
          }
          return
        }
        // An immediately invoked function (a module wrapper, UMD): its inner functions are named
        // as if it were not there (`runInContext.chunk`, not `@9.runInContext.chunk`).
        const c = n.callee as N
        if (FUNCTION_TYPES.has(c.type)) this.iife.add(c)
        else if (c.type === 'MemberExpression' && !c.computed && FUNCTION_TYPES.has(c.object.type) && /^(call|apply)$/.test(c.property.name))
          this.iife.add(c.object)
        // A UMD factory: an anonymous function handed to a call at the top of the file.
        if (ctx.prefix === '') for (const a of n.arguments as N[]) if (a.type === 'FunctionExpression' && !a.id) this.iife.add(a)
        this.callee(c, ctx)
        for (const a of n.arguments as N[]) this.visit(a, ctx, undefined)
        return
      }
      case 'NewExpression':
        this.callee(n.callee as N, ctx)
        for (const a of n.arguments as N[]) this.visit(a, ctx, undefined)
        return
      case 'ReturnStatement':
        if (ctx.fn) ctx.fn.returns.push(n)
        break
      case 'Property': {
        // Inside patterns (ObjectPattern): keys are not references, but each is a property read
        // as a value (`const { get } = api` takes the method off its object).
        if (n.computed) this.visit(n.key, ctx, undefined)
        else if (this.values) {
          const key = keyName(n.key as N, false)
          if (key !== undefined) this.valueKeys.add(key)
        }
        this.visit(n.value, ctx, undefined)
        return
      }
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

  /**
   * A call's callee: a name or a method called is not read as a value (`valueNames`,
   * `valueKeys`), nor is one called through its own `call` or `apply` (`finishNodeAt.call(this,
   * ...)` reads the binding at the call, as a plain call does).
   */
  private callee(c: N, ctx: Ctx): void {
    if (c.type === 'MemberExpression' && !c.computed && (c.property.name === 'call' || c.property.name === 'apply')) c = c.object as N
    if (c.type === 'Identifier' && c.name !== 'arguments') return
    if (c.type === 'MemberExpression' && !c.computed) this.visit(c.object, ctx, undefined)
    else this.visit(c, ctx, undefined)
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
    const base = this.own(hint ?? own ?? this.anonymous(n), ctx)
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
      top: ctx.fn === undefined,
      scopeTop: ctx.atTop,
      hold: ctx.atTop ? (ctx.hold ?? (n.type === 'FunctionDeclaration' ? own : undefined)) : undefined,
      scope: ctx.scope,
      bodyTop: false,
    }
    this.parentOf.set(rec, ctx.fn)
    this.fns.push(rec)
    const transparent = this.iife.has(n) && hint === undefined
    rec.bodyTop = transparent && ctx.atTop
    const inner: Ctx = {
      fn: rec,
      prefix: transparent ? ctx.prefix : `${name}.`,
      inWith: ctx.inWith,
      top: rec.topBinding,
      atTop: rec.bodyTop,
      hold: undefined,
      scope: rec.bodyTop ? (n.start as number) : -1,
    }
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
    const cls = `${ctx.prefix}${this.own(hint ?? own ?? this.anonymous(n), ctx)}`
    const top = ctx.fn === undefined ? (ctx.top ?? own) : ctx.top
    const inner: Ctx = { ...ctx, top, hold: ctx.atTop ? (ctx.hold ?? own) : undefined }
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

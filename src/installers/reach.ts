/**
 * Reach: how each function of a loaded file can be hooked without changing its code, found in
 * its syntax tree (the text V8 runs, read through the Debugger).
 *
 * - Its **holder**: where the program reads the function when it calls it by name. A top-level
 *   binding (`function fact`, `const helper = () => ...`, `class Queue`, an ES module's own
 *   bindings, exported or not), or a property of an object such a binding holds (`Queue#push`
 *   on `Queue.prototype`, `Queue.from` on `Queue`, `api.get` on `api`). The binding installer
 *   (binding.ts) swaps the holder's value for a wrapper. A function with no holder (nested in
 *   another function: a new closure at each call; a private method; an anonymous callback) is
 *   reached by a breakpoint only.
 * - Its **entry**: the position of its body, where a breakpoint stops before any of its
 *   statements runs (V8 moves it to the first break location at or after it), and the
 *   expression a breakpoint condition evaluates there for its arguments: `arguments` in a
 *   function, the parameters by name in an arrow function (which has no `arguments` of its own).
 *
 * Ids are the ones the preload's table gives (instrument.ts with `stableIds`: every function
 * that could be probed, in source order), so that one table names the functions for every
 * installer.
 */
import { Parser, type Options as AcornOptions } from 'acorn'
import { Collector, boundNames, type FnRecord, type N } from '../naming.js'
import { holderOf, type Holder } from '../holder.js'

export type { Holder }

/** One function of a file, as the binding and breakpoint installers reach it. */
export interface Reach {
  /** Its id in the file's table. */
  readonly id: number
  readonly name: string
  readonly holder: Holder | undefined
  /** Where its code starts and ends in the source (`start` .. `end`), and where its body starts. */
  readonly start: number
  readonly body: number
  readonly end: number
  /** The entry's 0-based line and column in the script, for `Debugger.setBreakpoint`. */
  readonly line: number
  readonly column: number
  /** The function's start, 0-based line and column: V8's `[[FunctionLocation]]` falls between it and the entry. */
  readonly startLine: number
  readonly startColumn: number
  /** Its last character's 0-based line and column: a breakpoint V8 moved past it is another function's. */
  readonly endLine: number
  readonly endColumn: number
  /** What a breakpoint condition at the entry passes as the call's arguments. */
  readonly args: string
  /** Whether `args` is the call's own `arguments` (then the arity is exact). */
  readonly exactArgs: boolean
  /**
   * The names in scope at its entry that are not the file's top-level bindings: its parameters
   * and declarations, and those of the functions around it. A condition evaluated there cannot
   * reach a top-level binding of one of these names.
   */
  readonly shadows: ReadonlySet<string>
}

const isFunction = (n: N) => n.type === 'FunctionDeclaration' || n.type === 'FunctionExpression' || n.type === 'ArrowFunctionExpression'

/**
 * The names a function binds in its own scope at its entry: parameters, its own name (an
 * expression's), var and function declarations, and its body's top-level let, const and class.
 */
function ownNames(fn: N): Set<string> {
  const names = new Set<string>()
  for (const p of fn.params as N[]) for (const b of boundNames(p, [])) names.add(b)
  if (fn.type === 'FunctionExpression' && fn.id) names.add(fn.id.name as string)
  if (!fn.expression && fn.type !== 'ArrowFunctionExpression') names.add('arguments')
  const body = fn.body as N
  if (body.type !== 'BlockStatement') return names
  for (const st of body.body as N[]) {
    if (st.type === 'VariableDeclaration' && st.kind !== 'var') for (const d of st.declarations as N[]) for (const b of boundNames(d.id, [])) names.add(b)
    if (st.type === 'ClassDeclaration' && st.id) names.add(st.id.name as string)
  }
  // var and function declarations anywhere in the body, outside nested functions (hoisted).
  const stack: unknown[] = [body]
  while (stack.length > 0) {
    const n = stack.pop()
    if (n === null || typeof n !== 'object') continue
    if (Array.isArray(n)) {
      for (const x of n) stack.push(x)
      continue
    }
    const node = n as N
    if (typeof node.type !== 'string') continue
    if (node.type === 'FunctionDeclaration') {
      if (node.id) names.add(node.id.name as string)
      continue
    }
    if (isFunction(node) || node.type === 'ClassExpression' || node.type === 'ClassDeclaration') continue
    if (node.type === 'VariableDeclaration' && node.kind === 'var') for (const d of node.declarations as N[]) for (const b of boundNames(d.id, [])) names.add(b)
    for (const key in node) if (key !== 'type' && key !== 'start' && key !== 'end' && key !== 'loc') stack.push(node[key])
  }
  return names
}

function parse(source: string, module: boolean): N {
  const opts: AcornOptions = {
    ecmaVersion: 'latest',
    sourceType: module ? 'module' : 'script',
    allowHashBang: true,
    allowReturnOutsideFunction: !module,
    allowAwaitOutsideFunction: module,
  }
  return Parser.parse(source, opts) as N
}

/** The parameters of an arrow function as an array expression: `[a, b, ...rest]`; a pattern is `void 0`. */
function arrowArgs(params: readonly N[]): string {
  const parts: string[] = []
  for (const p of params) {
    if (p.type === 'Identifier') parts.push(p.name as string)
    else if (p.type === 'AssignmentPattern' && p.left.type === 'Identifier') parts.push(p.left.name as string)
    else if (p.type === 'RestElement' && p.argument.type === 'Identifier') parts.push(`...${p.argument.name as string}`)
    else parts.push('void 0')
  }
  return `[${parts.join(', ')}]`
}

/** Every function of `source` that could be probed, with its holder and entry; ids as the preload's table. */
export function reachOf(source: string, module: boolean): Reach[] {
  const ast = parse(source, module)
  const collector = new Collector(source, module, undefined)
  collector.program(ast)
  // The functions around each one, for the names they shadow (records come in source order of
  // their start, and a container starts before what it contains).
  const out: Reach[] = []
  const open: { rec: FnRecord; shadows: Set<string> }[] = []
  let id = 0
  for (const rec of collector.fns) {
    while (open.length > 0 && open[open.length - 1].rec.node.end <= rec.node.start) open.pop()
    const shadows = new Set(open.length > 0 ? open[open.length - 1].shadows : [])
    // The body of an immediately invoked function or UMD factory at the top is a top scope: its
    // names are the bindings that hold the functions defined there, not shadows.
    if (!rec.bodyTop) for (const name of ownNames(rec.node)) shadows.add(name)
    open.push({ rec, shadows })
    if (rec.unsafe !== undefined) continue
    const n = rec.node
    const body = n.body as N
    const [line, column] = collector.line(body.start)
    const [startLine, startColumn] = collector.line(n.start)
    const [endLine, endColumn] = collector.line(Math.max(n.start, n.end - 1))
    out.push({
      id: id++,
      name: rec.name,
      holder: holderOf(rec, (scope, name) => collector.aliasOf(scope, name)),
      start: n.start,
      body: body.start,
      end: n.end,
      line: line - 1,
      column,
      startLine: startLine - 1,
      startColumn,
      endLine: endLine - 1,
      endColumn,
      args: rec.isArrow ? arrowArgs(n.params as N[]) : 'arguments',
      exactArgs: !rec.isArrow,
      shadows,
    })
  }
  return out
}

/** Whether V8's location of a function (0-based line and column) is this function's: from its start to its entry. */
export function locatedIn(r: Reach, line: number, column: number): boolean {
  const after = line > r.startLine || (line === r.startLine && column >= r.startColumn)
  const before = line < r.line || (line === r.line && column <= r.column)
  return after && before
}

/** Whether a position (0-based line and column) is inside the function's body: where its entry breakpoint may land. */
export function inBody(r: Reach, line: number, column: number): boolean {
  const after = line > r.line || (line === r.line && column >= r.column)
  const before = line < r.endLine || (line === r.endLine && column <= r.endColumn)
  return after && before
}

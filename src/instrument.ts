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
 * The lean form (`bind`, `RECON_TRACE_PROBES=lean`) writes no probe at all into a function that a
 * binding holds and the file only calls through it (`boundBy`): its text stays the file's own,
 * and the table marks it `bound` for the binding installer, which swaps the binding when a trace
 * selects it. Dormant, such a function costs nothing (bench/probe-lean.mjs).
 *
 * Names: every function gets the name a spec uses for it: `fact`, `outer.inner`, `Queue#push`,
 * `Queue.from`, `Queue#constructor`, `Queue##grow` (a private method), `Queue#size` (a getter or
 * setter, kind 'get' / 'set'), `api.get` (a property of an object bound to `api`), `default`, and
 * `outer.@12` for an anonymous function that starts on line 12.
 */
import { Parser, type Options as AcornOptions } from 'acorn'
import MagicString from 'magic-string'
import { buildMap, decodeInput, type RawSourceMap } from './sourcemap.js'
import { Collector, boundNames, type FnRecord, type N } from './naming.js'
import { holderOf, type Holder } from './holder.js'
import { originalSources } from './origin.js'
import { REGISTRY_LOOKUP, encodeTable, type FunctionInfo, type FunctionKind, type ProbeInfo, type SkippedInfo } from './registry.js'

export type { FunctionInfo, FunctionKind, ProbeInfo, SkippedInfo, RawSourceMap }
export { inlineMapComment } from './sourcemap.js'
export { encodeTable, decodeTable } from './registry.js'

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
   * directive prologue, on the first line of code, that registers the file and binds the slots
   * (a `const` in both formats; in an ES module, a function that can run before the module body,
   * through an import cycle, reads it in a `try` and finds its probe dormant). `'global'` adds no header: the
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
  /**
   * The lean form (`RECON_TRACE_PROBES=lean`): leave without a probe every function that a
   * top-level binding holds, or a property of an object one holds (holder.ts), and that the file
   * only ever calls through it (`boundBy`), for the binding installer to serve at trace time;
   * probe the rest (nested functions, anonymous callbacks, functions passed or exported as values).
   * Such a function stays in the table, marked `bound`, with an id of its own: the ids are then
   * the same as a full rewrite's, and a file whose functions all have holders still registers.
   * Header runtime only. Default false.
   */
  bind?: boolean
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

// ---------------------------------------------------------------------------------------------

/** Parse (no token callback: acorn would allocate a token object for each, 10% of the rewrite). */
/** A prefix for our names that appears nowhere in the source, so no user name is ever shadowed. */
function pickPrefix(source: string): string {
  for (let i = 0; ; i++) {
    const p = i === 0 ? '$rt' : `$rt${i}`
    if (!source.includes(p)) return p
  }
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

/** The original file of a function (an index in the map's sources), unless it is the file itself. */
function sourceOf(sources: readonly string[], index: number | undefined, filename: string): string | undefined {
  const s = index === undefined ? undefined : sources[index]
  return s === undefined || s === '' || s === filename ? undefined : s
}

/**
 * Whether a function of an ES module can run before the module body, through an import cycle:
 * a top-level function declaration (`export` and `export default` ones too), which exists from
 * the module's instantiation, or any function inside one.
 */
function runsEarly(ast: N): (n: N) => boolean {
  // Starts and ends, in source order, never overlapping: a binary search per function.
  const spans: number[] = []
  for (const st of ast.body as N[]) {
    const d = st.type === 'ExportNamedDeclaration' || st.type === 'ExportDefaultDeclaration' ? (st.declaration as N | null) : st
    if (d !== null && d.type === 'FunctionDeclaration') spans.push(d.start, d.end)
  }
  return (n) => {
    let lo = 0
    let hi = spans.length / 2 - 1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      if (n.start < spans[2 * mid]) hi = mid - 1
      else if (n.start >= spans[2 * mid + 1]) lo = mid + 1
      else return n.end <= spans[2 * mid + 1]
    }
    return false
  }
}

/**
 * Whether the lean form leaves a function without a probe: a binding holds it (holder.ts), and
 * the file only ever calls it through that holder. A name read as a value anywhere (passed,
 * exported, kept: `module.exports = { price }`, `app.get('/', handler)`, `Base` of `extends
 * Base`) or a method key read other than as a call (`this.next` handed on) means a reference the
 * program may keep from before a trace, which a binding swap would not reach: that function
 * keeps its probe. An ES module's `export` is a live binding, which the swap reaches: not a value.
 * Conservative by name: any read of the name or key counts, in whatever scope.
 */
function boundBy(h: Holder | undefined, c: Collector): boolean {
  if (h === undefined) return false
  if (h.kind === 'binding') return !c.valueNames.has(h.name)
  return h.slot !== 'value' || !c.valueKeys.has(h.key)
}

/**
 * Instrument one file. Throws `ParseFailure` if the source does not parse; otherwise returns
 * (with `map` undefined and the code unchanged when no function was probed).
 */
export function instrument(source: string, options: InstrumentOptions): Instrumented {
  const module = options.format === 'module'
  const ast = parse(source, module, options.filename)
  const inLines = options.inputMap ? decodeInput(options.inputMap) : undefined
  const collector = new Collector(source, module, inLines, options.inputMap?.names)
  // The original files the input map names (absolute paths): each function says which it is from.
  const sources = options.inputMap && inLines ? originalSources(options.inputMap, options.inputMapURL ?? options.filename) : []
  const global = options.runtime === 'global'
  const bind = options.bind === true && !global
  collector.values = bind && inLines === undefined
  collector.program(ast)
  // The lean form decides by the names the file runs with (a binding swap reads and writes those),
  // which an input map may have replaced by the original ones (a bundler's `G` is `_Lexer` in
  // marked's map): one more walk of the same tree without the map, its records in the same order.
  let running = collector
  if (bind && inLines !== undefined) {
    running = new Collector(source, module, undefined)
    running.values = true
    running.program(ast)
  }
  const prefix = pickPrefix(source)
  const S = `${prefix}S`
  const P = `${prefix}P`
  const T = `${prefix}t`
  const R = `${prefix}r`
  const E = `${prefix}e`
  // A global binding rather than a lookup through globalThis: one load the IC keeps constant,
  // and a short text (V8's live edit matches functions by diffing texts: the less inserted, the
  // fewer ways the diff can go astray; see livediff.ts).
  const binding = global ? `${prefix}$${options.key ?? '0'}` : undefined
  if (binding !== undefined && !/^\$[A-Za-z0-9$]+$/.test(binding))
    throw new TypeError(`instrument: key must be letters and digits, got ${JSON.stringify(options.key)}`)
  const slots = global ? `${binding}.s` : S
  const probeObj = global ? binding! : P
  const live = '!==0'
  // An ES module's slots are a `const` of the module, as CommonJS's are (V8 folds the dormant
  // check of a const holding an untouched literal; a `var` or a hoisted function's elements cost
  // +1.5-1.9 ns per call, PROBE_FORMAT=module node bench/probe-dormant.mjs). A function that can
  // run before the module body (a top-level function declaration, called through an import
  // cycle, and any function inside one) would meet the const in its temporal dead zone: it reads
  // the slot in a try block, which optimized code drops once the const is known (+0.0 ns on Node
  // 22-26, +0.2 ns on Node 20, the same bench), and finds its probe dormant before the header ran.
  const isEarly = module && !global ? runsEarly(ast) : () => false
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
  for (let index = 0; index < collector.fns.length; index++) {
    const rec = collector.fns[index]
    const [line, column] = collector.line(rec.node.start)
    const origin = inLines === undefined ? undefined : collector.originOf(rec.node)
    const info: FunctionInfo = {
      name: rec.name,
      kind: rec.kind,
      async: rec.node.async === true,
      generator: rec.node.generator === true,
      line,
      column,
      exports: module ? exportNames(rec, collector.exported) : [],
      source: sourceOf(sources, origin, options.filename),
      top: rec.top,
      generated: inLines !== undefined && origin === undefined,
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
    if (
      bind &&
      boundBy(
        holderOf(running.fns[index], (scope, name) => running.aliasOf(scope, name)),
        running,
      )
    ) {
      probes.push({ ...info, id, bound: true })
      continue
    }
    probes.push({ ...info, id })
    if (options.tableOnly) continue
    const n = rec.node
    const args = info.exactArgs ? 'arguments' : argsExpression(n.params)
    const early = isEarly(n)
    const check = early ? (then: string) => `try{if(${slots}[${id}]${live})${then}}catch{}` : (then: string) => `if(${slots}[${id}]${live})${then};`
    const enter = `let ${T}=0,${R};${check(`${T}=${probeObj}.e(${id},${args})`)}try{`
    // No blank in the live-edit form's closing text: V8's diff then cannot pair the blank
    // before a function's last `}` with one of ours (see livediff.ts).
    const fallOff = rec.kind === 'constructor' ? 'this' : global ? 'void(0)' : 'void 0'
    // `x` reports the exception (when the call is live) and returns it: one throw, the same object.
    // In an ES module, a call that was never live rethrows without reading the header's const,
    // which a call before the module body would meet in its temporal dead zone.
    const rethrow = module && !global ? `throw ${T}===0?${E}:${probeObj}.x(${T},${E})` : `throw ${probeObj}.x(${T},${E})`
    const leave = global
      ? `;${T}!==0&&${probeObj}.r(${T},${fallOff})}catch(${E}){throw(${probeObj}.x(${T},${E}))}`
      : `;${T}!==0&&${probeObj}.r(${T},${fallOff})}catch(${E}){${rethrow}}`
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
      const probe = check(`${probeObj}.e(${id},${args})`)
      if (body.type === 'BlockStatement') {
        const { at, directive } = bodyStart(body)
        left(at, directive ? `;${probe}` : probe)
      } else {
        if (global) left(arrowEnd(source, n), `(${slots}[${id}]${live}&&${probeObj}.e(${id},${args}),0)?0:`)
        else if (early) {
          // A try block needs a body of statements.
          left(arrowEnd(source, n), `{${probe}return(`)
          right(n.end, ')}')
        } else {
          left(arrowEnd(source, n), `(${slots}[${id}]${live}&&${probeObj}.e(${id},${args}),`)
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
        : `),${T}===0?${R}:${probeObj}.r(${T},${R}))}catch(${E}){${rethrow}}}`
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
    const register = (t: string, holder: string) => `${REGISTRY_LOOKUP}${inert}).file(${key},${probes.length},${t},${holder})`
    // The same header in both formats: the file registers in the body's first statement (an ES
    // module's too: not a data: module that registers it first, one more module record per file
    // cost x1.60 -> x1.42 of a plain start of 200 ES modules on Node 24, bench/esm-header.mjs),
    // its slots an array literal held by a const. Line breaks to JavaScript: escaped, so the
    // header stays on its line.
    const literal = `[${'0,'.repeat(probes.length).slice(0, -1)}]`
    const header = `const ${P}=${register(table, literal)},${S}=${P}.s;`.replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029')
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

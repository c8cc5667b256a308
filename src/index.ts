/**
 * recon-trace: production-safe tracing of live Node.js processes, after Erlang's recon_trace.
 *
 * Name the functions to watch, say for which arguments and in which threads or async contexts,
 * set a limit. recon-trace prints each matching call (and, when asked, what it returned, threw,
 * or what its promise settled to), then stops by itself when the limit trips, leaving the
 * process exactly as it found it.
 *
 *     import { calls, clear } from 'recon-trace'
 *     calls('./lib/queue.js:in/2', 10)                       // module:function/arity, 10 messages
 *     calls(['./lib/queue.js', 'in', (args) => 'return'], 3) // recon's {M, F, fun(_) -> return_trace() end}
 *     calls('pg:Client#query(sql, _) when sql.startsWith("SELECT") -> return', [50, 1000])
 *     calls([server, 'emit', '_'], 10)                       // an object given directly (REPL)
 *     clear()
 *
 * ## A session (the fixture `fixtures/queue.cjs`, as in Erlang in Anger, ch. 9)
 *
 *     > calls(['./fixtures/queue.cjs', 'in', (args) => 'return'], 3)
 *     1
 *     13:15:27.655132 <4242.0> queue:in('a', Queue { front: [], back: [] })
 *     13:15:27.655467 <4242.0> queue:in/2 --> Queue { front: [ 'a' ], back: [] }
 *     13:15:27.757921 <4242.0> queue:in('b', Queue { front: [ 'a' ], back: [] })
 *     recon-trace: rate limit tripped after 3 messages; tracing stopped.
 *
 * ## Specs
 *
 * `module:function[/arity | (arg patterns)] [when guard] [-> return, stack]`, or the tuple
 * `[module, function, arity | '_' | 'return' | predicate]`, or `{ module, function, arity?,
 * args?, when?, return?, stack? }`, or a list of these. A module is a package name, a `node:`
 * builtin, a path relative to the working directory, an absolute path, `'_'`, or an object.
 * A function is an exported name, `default`, `a.b.c`, `Class#method`, `Class.static`, `'_'` or
 * a glob. See `spec.ts` for the grammar and `guard.ts` for the guard language.
 *
 * ## Local scope and ES modules: the preload
 *
 * A runtime wrapper only sees calls that go through a module's exports. To see every call of a
 * function, internal and recursive ones too, and functions that are never exported, and to trace
 * ES modules at all, start the program with the preload:
 *
 *     node --import recon-trace/register app.mjs          (or --require, or in NODE_OPTIONS)
 *
 * It rewrites each of the application's own files once as it loads (packages from node_modules
 * only when RECON_TRACE_INCLUDE names them), giving every function a dormant probe: one load and
 * one branch per call until a trace selects it. Then, in the program:
 *
 *     > calls('./lib/math.js:fact/1', 5, { scope: 'local' })
 *     1
 *     13:16:02.118337 <4242.0> math:fact(7)
 *     13:16:02.118391 <4242.0> math:fact(6)
 *     13:16:02.118402 <4242.0> math:fact(5)
 *     13:16:02.118410 <4242.0> math:fact(4)
 *     13:16:02.118417 <4242.0> math:fact(3)
 *     recon-trace: rate limit tripped after 5 messages; tracing stopped.
 *
 * In scope 'global' (the default) a spec on an ES module reaches its exported functions through
 * the same probes. Stack traces keep their lines; the rewrite's source maps (composed with the
 * file's own, e.g. from tsc) keep every column under `--enable-source-maps`. `register()` does
 * the same from code, for modules loaded after it. See register.ts, instrument.ts and
 * installers/probes.ts.
 *
 * ## Local scope without the preload: binding swaps and entry breakpoints
 *
 * In a program started with plain `node` (or a file the preload left out), the same specs on a
 * file it has loaded work on Node 22, 24 and 26 (Node 20: live edit, or RECON_TRACE_BINDING=force),
 * and no line of its code changes. Each selected
 * function gets a conditional breakpoint at its entry, through an in-process inspector session;
 * the condition reports the call and says no, so the thread never stops. At the first call into
 * the file, the condition also swaps the file's top-level bindings that hold selected functions
 * (`function fact`, `let`, classes' methods, objects' methods, a CommonJS module's exports, an
 * ES module's own bindings, which importers see) for faithful wrappers: from then on a call
 * through the name costs a few nanoseconds and reports its return, exception or promise. A
 * `const` can only be set at a pause (about 1 ms), taken only while no inspector server is open.
 *
 *     > calls('./lib/math.js:fact/1 -> return', 5, { scope: 'local' })
 *     1
 *     recon-trace: armed: waiting for the first call into math to swap its bindings
 *     13:16:02.118337 <4242.0> math:fact(7)
 *     recon-trace: swapped the bindings of math:fact (no pause)
 *     13:16:02.118391 <4242.0> math:fact(6)
 *     ...
 *
 * The call that armed the file, calls through references taken before the trace (a route
 * handler a router holds, a listener) and functions no binding holds (nested, anonymous) are
 * seen by their entry breakpoint: their calls, not their returns, at 50-150 µs each. The
 * overhead budget (`budget`, 5 % of a core by default) ends a trace whose breakpoints cost more;
 * a function hot through its name loses its breakpoint instead, saying so. Ending the trace puts
 * every binding and property back, and turns the Debugger off. See installers/binding.ts and
 * docs/local-scope.md. Live edit (docs/live-edit.md) is used only when
 * `RECON_TRACE_LIVE_EDIT=on` asks for it, on Node 20 and 22.
 *
 * ## Which way of hooking serves a spec
 *
 * recon-trace chooses per spec (installers/choose.ts): runtime wrappers for global scope on
 * CommonJS modules, builtins and objects; the preload's probes for local scope and ES modules in
 * the files it instrumented; binding swaps and entry breakpoints for the others, decided per
 * function. With `{ explain: true }` a notice says which serves which function, and why; the
 * CLI always says it.
 *
 * ## How long, and how often
 *
 * Every line that ends a call says how long it took (for a promise, until it settled):
 * `db:load/1 ~> { id: 42 } (31.2 ms)`, `"duration": 31.2` in JSON Lines. Stats mode prints no
 * line per call; it counts calls and errors and times them, per function or per value of an
 * argument, and prints a table and a histogram per function when the trace ends (refreshed
 * every second on a terminal):
 *
 *     > calls('./src/db.js:findUser(id)', 100_000, { stats: true, by: 'id', time: 10_000 })
 *     function     id    calls  errors      p50      p90      p99      max
 *     db:findUser  slow      8       0  29.7 ms  34.4 ms  34.4 ms  34.4 ms
 *     db:findUser  a        60       0  2.18 ms  5.89 ms  7.91 ms  7.91 ms
 *     ...
 *
 * See stats.ts, report.ts and docs/stats.md.
 *
 * ## Limits
 *
 * A count `N` (at most N messages; every line counts, a return line too) or a rate
 * `[N, ms]` (more than N messages within one window of `ms` trips), and optionally
 * `{ time: ms }`. Whatever trips removes every hook at once, on the call that tripped it. In
 * stats mode the limit counts calls.
 *
 * ## Safety model
 *
 * 1. Every trace has a limit; when it trips every hook is removed synchronously, originals are
 *    restored exactly (identity, descriptor, name, length, prototype) and one line says why.
 * 2. Over-broad specs are refused before anything is hooked: a wildcard module with a wildcard
 *    function, recon-trace itself, `console`, `node:inspector`, `node:module`, and the stream
 *    the output goes to.
 * 3. The traced call only matches, counts, snapshots within bounds and enqueues. Formatting and
 *    writing happen at the next turn of the event loop, behind a bounded queue that drops (and
 *    says how many) rather than grow or block.
 * 4. Tracing runs no code of the program but the user's own predicate: no getters, Proxy traps,
 *    `toJSON`, `toString`, `valueOf` or custom inspect; guards run in a restricted evaluator.
 *    A predicate, formatter or io function that throws counts as no match, is reported once,
 *    and never reaches the traced program.
 * 5. The program behaves as without tracing: same values, same exceptions (the same objects),
 *    same `this`, `new.target`, `arguments`, the same promise objects, and an unhandled
 *    rejection still reaches `unhandledRejection` (promises are observed through the
 *    in-process inspector, never with `.then`).
 *
 * ## Pipeline
 *
 * spec (parse, check) -> session (the one active trace) -> hook (runtime wrappers, loader
 * patch for modules loaded later) or probe (the preload's probes: register -> instrument at
 * load time) -> where (threads, async context) -> match (arity, patterns, guard, predicate) ->
 * limit -> snapshot (bounded, on the call) -> output (queue, off the call) -> format (text,
 * color, JSON Lines); in stats mode limit -> stats (count, time) -> report -> table at the end.
 */
export { calls, clear } from './session.js'
export { register } from './register.js'
export type { RegisterOptions } from './register.js'
export { TraceError } from './error.js'
export type { Specs, SpecInput, SpecTuple, SpecObject, Predicate } from './spec.js'
export type { Limit } from './limit.js'
export type { TraceOptions, FormatLimits } from './options.js'
export type { PidSpec, PidSelector, ContextSelector } from './where.js'
export type { TraceEvent, StackFrame } from './format.js'

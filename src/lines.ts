/**
 * Lines: the text of recon-trace's own lines in a trace's output, made here and nowhere else.
 *
 * - A notice, a diagnostic line that is not a trace message: `recon-trace: <message>`, or in
 *   JSON Lines `{"type":"notice","message":"<message>"}`.
 * - The end of a trace that a limit or its time stopped: `recon-trace: <reason>; tracing
 *   stopped.`, or `{"type":"end","message":"<reason>; tracing stopped."}`.
 *
 * Reasons come from the limiter (`Limiter.why()`, limit.ts) and from `timeLimitReason`. The
 * in-process output (output.ts), the agent and the CLI all render through these functions, and
 * the wire carries kinds and reasons, never sentences to be recognised (protocol.ts).
 */

export const PREFIX = 'recon-trace: '

/** A notice, as text or as a JSON Lines object. */
export function noticeLine(message: string, json: boolean): string {
  return json ? JSON.stringify({ type: 'notice', message }) : `${PREFIX}${message}`
}

/** The line that says a trace stopped, and why. */
export function tripLine(reason: string, json: boolean): string {
  const message = `${reason}; tracing stopped.`
  return json ? JSON.stringify({ type: 'end', message }) : `${PREFIX}${message}`
}

/** Why a trace with a `time` option ended. */
export function timeLimitReason(ms: number, counted: number, unit: 'messages' | 'calls' = 'messages'): string {
  return `time limit of ${ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`} reached after ${counted} ${unit}`
}

/** Which installer serves which functions: `work:add, work:greet through runtime wrappers (why)`. */
export function explainLine(r: { readonly name: string; readonly why: readonly string[]; readonly functions: readonly string[] }): string {
  const fns = r.functions.length > 8 ? `${r.functions.slice(0, 8).join(', ')} and ${r.functions.length - 8} more` : r.functions.join(', ')
  return `${fns} through ${r.name} (${r.why.join('; ')})`
}

/** The notice for messages dropped because `who` (the output, the client) could not keep up. */
export function droppedNotice(n: number, who: string, detail = ''): string {
  return `${n} message${n === 1 ? '' : 's'} dropped: ${who} could not keep up${detail}`
}

/**
 * Why a trace ended over its overhead budget: `hits` breakpoint hits in a window of a second, at
 * `cost` ms each (measured in this thread), came to `share` of a core, over `budget`.
 */
export function budgetReason(budget: number, hits: number, cost: number, share: number): string {
  const pct = (x: number) => `${Math.round(x * 1000) / 10}%`
  return (
    `overhead budget of ${pct(budget)} of a core exceeded: ${hits} breakpoint hits in a second at ${Math.round(cost * 1000)} µs each ` +
    `cost the program ${pct(share)} (raise it with the budget option, --budget on the command line)`
  )
}

import { createRequire } from 'node:module'

/** Load a fixture the way a CommonJS user does: through Node's own require. */
export const requireFixture = createRequire(new URL('../fixtures/', import.meta.url))

/** Collect output lines through the `io` function option. */
export function collector() {
  const lines: string[] = []
  return { lines, io: (line: string) => void lines.push(line) }
}

/** Let the output queue drain (it writes at the next turns of the event loop). */
export async function drain(turns = 3): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((r) => setImmediate(r))
}

/** Every own property descriptor of an object, for before/after comparisons. */
export function descriptors(o: object): Record<string | symbol, PropertyDescriptor> {
  return Object.getOwnPropertyDescriptors(o)
}

/** Lines without their leading timestamp: `<pid.0> queue:in(...)`. */
export function untimed(lines: readonly string[]): string[] {
  return lines.map((l) => l.replace(/^\d\d:\d\d:\d\d\.\d{6} /, ''))
}

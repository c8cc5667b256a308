// calls() inside a worker thread traces that thread's modules, labelled <pid.threadId>, and
// follows its promises through the worker's own inspector session.
import { describe, expect, it } from 'vitest'
import { Worker } from 'node:worker_threads'
import { resolve } from 'node:path'
import { undurated } from './helpers.js'

describe('in a worker thread', () => {
  it('labels lines with the worker thread and follows its promises', async () => {
    const worker = new Worker(resolve('fixtures/programs/worker-trace.cjs'))
    const { threadId, lines } = await new Promise<{ threadId: number; lines: string[] }>((ok, fail) => {
      worker.once('message', ok)
      worker.once('error', fail)
    })
    await worker.terminate()
    const label = `<${process.pid}.${threadId}>`
    expect(threadId).toBeGreaterThan(0)
    expect(lines.map((l) => undurated(l.replace(/^\d\d:\d\d:\d\d\.\d{6} /, '')))).toEqual([
      `${label} queue:in('w', Queue { front: [], back: [] })`,
      `${label} db:findUser(42)`,
      `${label} db:findUser/1 ~> { id: 42, name: 'x' }`,
      'recon-trace: rate limit tripped after 3 messages; tracing stopped.',
    ])
  })
})

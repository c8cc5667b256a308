// The CLI's time to the first event: from starting `recon-trace <pid> <spec>` to its first traced
// line on stdout. Through the socket: against a preloaded service (fixtures/service/ticker.cjs,
// which calls the traced function every 5 ms). Through the inspector: against a fresh service
// started without the preload each time (fixtures/service/plain.cjs), which the CLI attaches to
// (SIGUSR1, CDP, the agent loaded) before tracing. Median of RUNS starts.
//
//   npm run build && node bench/cli-first-event.mjs
//
// Includes starting Node for the CLI itself; for reference, the time to start `node -e 0` is
// measured in the same run. Goal: report.
import { fork, spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT, header, result, median, fmt } from './common.mjs'

const RUNS = Number(process.env.RUNS ?? 15)
header(`cli-first-event: ms from starting the CLI to its first traced line, median of ${RUNS}`)

const service = fork(join(ROOT, 'fixtures/service/ticker.cjs'), [], {
  cwd: ROOT,
  execArgv: ['--import', 'recon-trace/register'],
  env: { ...process.env, RECON_TRACE_CACHE: '0', NODE_OPTIONS: '' },
  stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
})
await new Promise((ok) => service.stdout.once('data', ok))
const sock = join(tmpdir(), `recon-trace-${process.getuid()}`, `${service.pid}.sock`)
while (!existsSync(sock)) await new Promise((r) => setTimeout(r, 10))

function once(pid = service.pid, scope = ['--scope', 'local']) {
  return new Promise((resolve, reject) => {
    const t = process.hrtime.bigint()
    const c = spawn(process.execPath, [join(ROOT, 'dist/cjs/bin.js'), String(pid), './fixtures/service/work.cjs:greet', '-n', '1', ...scope], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let first = 0
    c.stdout.on('data', () => {
      if (first === 0) first = Number(process.hrtime.bigint() - t) / 1e6
    })
    c.on('exit', (code) => (code === 0 && first > 0 ? resolve(first) : reject(new Error(`cli exited ${code}`))))
  })
}

const node = []
const first = []
for (let i = 0; i < RUNS; i++) {
  const t = process.hrtime.bigint()
  spawnSync(process.execPath, ['-e', '0'])
  node.push(Number(process.hrtime.bigint() - t) / 1e6)
  first.push(await once())
}
service.send('stop')
const viaInspector = []
for (let i = 0; i < Math.min(RUNS, 7); i++) {
  const plain = fork(join(ROOT, 'fixtures/service/plain.cjs'), [], { cwd: ROOT, execArgv: [], env: { ...process.env, NODE_OPTIONS: '' }, stdio: ['ignore', 'pipe', 'ignore', 'ipc'] })
  await new Promise((ok) => plain.stdout.once('data', ok))
  viaInspector.push(await once(plain.pid, []))
  plain.kill()
  await new Promise((ok) => plain.once('exit', ok))
  await new Promise((ok) => setTimeout(ok, 200)) // the inspector port is free again
}
console.log(`node -e 0 (the floor):               ${fmt(median(node), 1)} ms`)
console.log(`CLI start to first event (socket):    ${fmt(median(first), 1)} ms (min ${fmt(Math.min(...first), 1)}, max ${fmt(Math.max(...first), 1)})`)
console.log(`CLI start to first event (inspector): ${fmt(median(viaInspector), 1)} ms (min ${fmt(Math.min(...viaInspector), 1)}, max ${fmt(Math.max(...viaInspector), 1)})`)
result({ scenario: 'cli-first-event', case: 'socket', ms: median(first), node_ms: median(node) })
result({ scenario: 'cli-first-event', case: 'inspector', ms: median(viaInspector), node_ms: median(node) })

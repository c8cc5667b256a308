// A service's throughput under recon-trace: requests per second of fixtures/service/http.cjs
// under a loopback load (keep-alive, CONCURRENCY requests in flight, for SECONDS), in three ways
// per round, rounds interleaved:
//   plain     started with plain node
//   preload   started with --import recon-trace/register, nothing traced
//   traced    preloaded, and the CLI tracing the hot function with a guard that matches nothing
//             (`work.cjs:greet(who) when who === "nobody"`, scope local) for the whole run
// Goals: preload within 2 % of plain, traced within 5 %. The load generator shares the machine's
// two cores with the service: ratios, not absolute figures, are the point.
//
//   npm run build && node bench/service-throughput.mjs
import { fork, spawn } from 'node:child_process'
import { Agent, request } from 'node:http'
import { join } from 'node:path'
import { ROOT, header, result, median, fmt } from './common.mjs'

const ROUNDS = Number(process.env.ROUNDS ?? 3)
const SECONDS = Number(process.env.SECONDS ?? 3)
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16)
header(`service-throughput: requests/s of a small HTTP service, ${CONCURRENCY} in flight for ${SECONDS} s, median of ${ROUNDS} rounds`)

async function start(preload) {
  const s = fork(join(ROOT, 'fixtures/service/http.cjs'), [], {
    cwd: ROOT,
    execArgv: preload ? ['--import', 'recon-trace/register'] : [],
    env: { ...process.env, RECON_TRACE_CACHE: '0', NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
  })
  const port = await new Promise((ok) => s.stdout.once('data', (d) => ok(Number(/port (\d+)/.exec(String(d))[1]))))
  return { s, port }
}

function load(port) {
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY })
  let done = 0
  let stop = false
  const one = () =>
    new Promise((ok) => {
      const req = request({ host: '127.0.0.1', port, path: `/?name=user${done % 50}&n=${done}`, agent }, (res) => {
        res.resume()
        res.on('end', ok)
      })
      req.on('error', ok)
      req.end()
    })
  const worker = async () => {
    while (!stop) {
      await one()
      done++
    }
  }
  const t = process.hrtime.bigint()
  const workers = Array.from({ length: CONCURRENCY }, worker)
  return new Promise((ok) =>
    setTimeout(async () => {
      stop = true
      await Promise.all(workers)
      agent.destroy()
      ok(done / (Number(process.hrtime.bigint() - t) / 1e9))
    }, SECONDS * 1000),
  )
}

const rps = { plain: [], preload: [], traced: [] }
for (let r = 0; r < ROUNDS; r++) {
  for (const mode of ['plain', 'preload', 'traced']) {
    const { s, port } = await start(mode !== 'plain')
    await load(port) // warm-up, half a run
    let cli
    if (mode === 'traced') {
      cli = spawn(process.execPath, [join(ROOT, 'dist/cjs/bin.js'), String(s.pid), './fixtures/service/work.cjs:greet(who) when who === "nobody"', '--scope', 'local', '-n', '10', '--time', '600s'], { cwd: ROOT, stdio: 'ignore' })
      await new Promise((ok) => setTimeout(ok, 500))
    }
    rps[mode].push(await load(port))
    cli?.kill('SIGINT')
    s.send('stop')
    await new Promise((ok) => s.once('exit', ok))
  }
}
const base = median(rps.plain)
for (const mode of ['plain', 'preload', 'traced']) {
  const ratios = rps[mode].map((x, i) => x / rps.plain[i])
  console.log(`${mode.padEnd(8)} ${fmt(median(rps[mode]), 0).padStart(8)} req/s  ratio ${fmt(median(ratios), 3)} (${fmt(Math.min(...ratios), 3)}..${fmt(Math.max(...ratios), 3)})`)
  result({ scenario: 'service-throughput', case: mode, rps: median(rps[mode]), ratio: median(ratios), base })
}

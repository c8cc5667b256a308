#!/usr/bin/env node
// The soak: the whole suite, again and again, the way a new user gets it. A fresh clone of this
// repository's HEAD in a private temporary directory (mode 0700, as `mktemp -d` makes it),
// `npm ci`, then `npm test` N times in a row on each runtime (Node 20 = the machine's node, 22,
// 24 and 26 from the devDependencies), as the user running it or, from root, as another user.
// A flaky test is a bug: any failure is listed with its test names, and the exit code is 1.
//
//   npm run test:soak                                  5 runs on each runtime, as this user
//   npm run test:soak -- --runs 2 --runtimes 22,26     fewer
//   npm run test:soak -- --user nobody                 from root: as an unprivileged user
//
// Not part of CI (it takes about 10 minutes per runtime for 5 runs on 2 cores).
import { spawnSync } from 'node:child_process'
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    runtimes: { type: 'string', default: '20,22,24,26' },
    user: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
})
const runs = Number(opts.runs)
const runtimes = opts.runtimes.split(',').map((r) => r.trim())
const root = join(dirname(fileURLToPath(import.meta.url)), '..')

/** uid and gid of a user name or number, from /etc/passwd. */
function userOf(name) {
  for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const [n, , uid, gid] = line.split(':')
    if (n === name || uid === name) return { name: n, uid: Number(uid), gid: Number(gid) }
  }
  throw new Error(`no user ${name} in /etc/passwd`)
}
const as = opts.user === undefined ? undefined : userOf(opts.user)
if (as && process.getuid?.() !== 0) throw new Error('--user needs root')

const work = mkdtempSync(join(tmpdir(), 'recon-trace-soak-'))
const clone = join(work, 'recon-trace')
const home = join(work, 'home')
mkdirSync(home)
/** Run a command in the clone (as the soak's user), output to the terminal or captured. */
function sh(cmd, args, env = {}, capture = false) {
  return spawnSync(cmd, args, {
    cwd: clone,
    stdio: capture ? ['ignore', 'pipe', 'pipe'] : 'inherit',
    encoding: 'utf8',
    maxBuffer: 1 << 28,
    env: { ...process.env, HOME: home, npm_config_cache: join(home, '.npm'), npm_config_update_notifier: 'false', ...env },
    ...(as ? { uid: as.uid, gid: as.gid } : {}),
  })
}

const gitClone = spawnSync('git', ['clone', '--quiet', '--no-hardlinks', root, clone], { stdio: 'inherit' })
if (gitClone.status !== 0) process.exit(1)
if (as) {
  const chown = spawnSync('chown', ['-R', `${as.uid}:${as.gid}`, work], { stdio: 'inherit' })
  if (chown.status !== 0) process.exit(1)
  chownSync(work, as.uid, as.gid)
}
chmodSync(work, 0o700)
const who = as ? `${as.name} (uid ${as.uid})` : `uid ${process.getuid?.()}`
console.log(`soak: ${runs} run(s) on ${runtimes.map((r) => `Node ${r}`).join(', ')}, as ${who}, in ${work} (mode 0700), HEAD ${spawnSync('git', ['-C', root, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim()}`)

const ci = sh('npm', ['ci', '--no-audit', '--no-fund'], {}, true)
if (ci.status !== 0) {
  console.log(ci.stdout, ci.stderr)
  process.exit(1)
}

const system = dirname(process.execPath)
const binOf = (r) => (r === '20' ? system : join(clone, 'node_modules', r === '24' ? 'node' : `node${r}`, 'bin'))
const rows = []
let bad = 0
for (const r of runtimes) {
  const bin = binOf(r)
  const version = spawnSync(join(bin, 'node'), ['--version'], { encoding: 'utf8' }).stdout.trim()
  for (let i = 1; i <= runs; i++) {
    const started = Date.now()
    rmSync(join(clone, '.vitest-report.json'), { force: true })
    const t = sh('npm', ['test'], { PATH: `${bin}:${process.env.PATH}`, RECON_TRACE_CI_NODE: version }, true)
    const seconds = Math.round((Date.now() - started) / 1000)
    let report
    try {
      report = JSON.parse(readFileSync(join(clone, '.vitest-report.json'), 'utf8'))
    } catch {
      report = undefined
    }
    const failedNames = report ? report.testResults.flatMap((f) => f.assertionResults.filter((a) => a.status === 'failed').map((a) => `${f.name.slice(clone.length + 1)} > ${a.fullName}`)) : ['(no report: the build or type check failed)']
    const row = { version, run: i, status: t.status, passed: report?.numPassedTests ?? 0, failed: report?.numFailedTests ?? 1, skipped: report ? report.numPendingTests + report.numTodoTests : 0, seconds, failedNames }
    if (t.status !== 0 || row.failed > 0) {
      bad++
      if (!report) console.log(t.stdout.slice(-4000), t.stderr.slice(-4000))
    }
    rows.push(row)
    console.log(`${version} run ${i}: ${row.passed} passed, ${row.failed} failed, ${row.skipped} skipped, ${seconds} s${row.failed > 0 ? `\n  ${failedNames.join('\n  ')}` : ''}`)
  }
}

console.log('\nruntime    runs  green  passed/run  skipped/run  seconds (min-max)')
for (const version of [...new Set(rows.map((r) => r.version))]) {
  const mine = rows.filter((r) => r.version === version)
  const green = mine.filter((r) => r.status === 0 && r.failed === 0).length
  const secs = mine.map((r) => r.seconds)
  console.log(`${version.padEnd(10)} ${String(mine.length).padStart(4)}  ${String(green).padStart(5)}  ${String(mine[0].passed).padStart(10)}  ${String(mine[0].skipped).padStart(11)}  ${Math.min(...secs)}-${Math.max(...secs)}`)
}
if (!opts.keep) rmSync(work, { recursive: true, force: true })
console.log(bad === 0 ? `soak: all ${rows.length} runs green` : `soak: ${bad} of ${rows.length} runs failed`)
process.exit(bad === 0 ? 0 : 1)

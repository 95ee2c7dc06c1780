/**
 * Delivery throughput with three coordinators vs one (issue 4): the same
 * fleet of SSE clients and the same pushes, in the same run, (a) through one
 * coordinator process holding every client, (b) through three coordinator
 * processes on the same Redis, each holding a third of the clients.
 *
 * Every run starts from nothing: a private redis-server (one for the whole
 * bench), a fresh fleet name, the coordinators as users run them
 * (`node dist/cli/main.js serve --redis URL --port 0 --config FILE`), one
 * raw-socket client process per coordinator (sse-clients.ts, `?clientId=…`
 * on `/v1/stream`, counting `event: change` frames). Before pushing, the
 * bench waits until one replica says `"role":"leader"` at /readyz and the
 * leader's engine knows every client (a dry run's plan reaches them all);
 * then a warm-up batch of pushes, then the timed batch. The pushes are
 * distinct invalidations (`{ kind: 'invalidate', target: { keys: ['k<i>'] } }`),
 * POSTed 8 in flight, round-robin over the replicas (a follower forwards to
 * the leader); a third setup sends them to the leader only, to show what
 * forwarding costs. A run's time is from the first timed push to the last
 * frame counted at the clients. The order of the setups rotates each round.
 * CPU comes from /proc for every process; SLEW_BENCH_REPLICAS_PROF=DIR adds
 * `--cpu-prof` to the coordinators.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { epochMs, median, sleep, spawnChild } from './proc.js'
import { type PrivateRedis, procCpuMs, startPrivateRedis } from './redis-server.js'

const CLIENTS = Number(process.env.SLEW_BENCH_REPLICAS_CLIENTS ?? 600)
const PUSHES = Number(process.env.SLEW_BENCH_REPLICAS_PUSHES ?? 100)
const WARM_PUSHES = 20
const REPS = Number(process.env.SLEW_BENCH_REPS ?? 5)
const IN_FLIGHT = 8
const CLI = join(import.meta.dirname, '..', 'dist', 'cli', 'main.js')
/** Set to a folder to write a V8 CPU profile of every coordinator process there (`--cpu-prof`). */
const PROF_DIR = process.env.SLEW_BENCH_REPLICAS_PROF

interface Coordinator {
  readonly proc: ChildProcess
  readonly url: string
  readonly port: number
}

/** `slew serve` as a user runs it; resolves once it prints where it listens. */
const startCoordinator = (configFile: string, redisUrl: string): Promise<Coordinator> =>
  new Promise((resolve, reject) => {
    const env = { ...process.env }
    for (const k of Object.keys(env)) if (k.startsWith('SLEW_')) delete env[k]
    const proc = spawn(
      process.execPath,
      [
        ...(PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${PROF_DIR}`] : []),
        CLI,
        'serve',
        '--redis',
        redisUrl,
        '--port',
        '0',
        '--config',
        configFile,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], env },
    )
    let out = ''
    let err = ''
    const timer = setTimeout(() => {
      proc.kill('SIGKILL')
      reject(new Error(`slew serve did not start within 30 s: ${out}${err}`))
    }, 30_000)
    proc.stderr!.on('data', (b: Buffer) => {
      err = (err + b.toString()).slice(-4000)
    })
    proc.stdout!.on('data', (b: Buffer) => {
      out += b.toString()
      const m = /listening on (http:\/\/[^\s]+)/.exec(out)
      if (m) {
        clearTimeout(timer)
        resolve({ proc, url: m[1]!, port: Number(new URL(m[1]!).port) })
      }
    })
    proc.once('exit', (code) => {
      clearTimeout(timer)
      reject(new Error(`slew serve exited (${code}): ${out}${err}`))
    })
  })

const stopProcess = async (proc: ChildProcess) => {
  if (proc.exitCode !== null || proc.signalCode !== null) return
  const exited = new Promise<void>((r) => proc.once('exit', () => r()))
  proc.kill('SIGTERM')
  const t = setTimeout(() => proc.kill('SIGKILL'), 3000)
  await exited
  clearTimeout(t)
}

const getJson = async (url: string, init?: RequestInit) => {
  const res = await fetch(url, init)
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

const post = (url: string, body: unknown) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })

const until = async (what: string, check: () => Promise<boolean>, timeoutMs = 30_000) => {
  const end = Date.now() + timeoutMs
  for (;;) {
    try {
      if (await check()) return
    } catch {}
    if (Date.now() > end) throw new Error(`replicas bench: timed out waiting for ${what}`)
    await sleep(50)
  }
}

let nextKey = 1
let runNo = 0

type Setup = { readonly n: 1 | 3; readonly pushTo: 'any' | 'leader'; readonly label: string }
const SETUPS: readonly Setup[] = [
  { n: 1, pushTo: 'any', label: '1 (baseline)' },
  { n: 3, pushTo: 'any', label: '3, pushes round-robin over the replicas' },
  { n: 3, pushTo: 'leader', label: '3, pushes to the leader only' },
]

/** One run: n coordinators sharing CLIENTS clients, PUSHES timed pushes. */
const run = async (redis: PrivateRedis, admin: Redis, dir: string, { n, pushTo }: Setup) => {
  const fleet = `bench-replicas-${process.pid}-${Date.now()}-${++runNo}`
  const configFile = join(dir, `${fleet}.json`)
  writeFileSync(
    configFile,
    JSON.stringify({
      fleet,
      store: { kind: 'redis', url: redis.url },
      budgets: { invalidate: { ratePerSec: 1e9, burst: 1e9 } },
      waves: { steps: [1], bakeMs: 0 },
      confirmAbove: 1,
      admission: { ratePerSec: 1e6, burst: 1e6 },
    }),
  )
  const coordinators: Coordinator[] = []
  const clientProcs: ReturnType<typeof spawnChild>[] = []
  try {
    for (let i = 0; i < n; i++) coordinators.push(await startCoordinator(configFile, redis.url))
    let leader: Coordinator | undefined
    await until('a leader', async () => {
      for (const c of coordinators) {
        const r = await getJson(`${c.url}/readyz`)
        if (r.body.role === 'leader') leader = c
      }
      return leader !== undefined
    })
    const per = CLIENTS / n
    for (const [i, c] of coordinators.entries())
      clientProcs.push(
        spawnChild('sse-clients.ts', [
          String(c.port),
          '/v1/stream?entries=100',
          String(per),
          `${fleet}-r${i}-c`,
        ]),
      )
    const conns = await Promise.all(
      clientProcs.map((p) => p.next<{ type: 'connected'; ok: number }>('connected', 60_000)),
    )
    const ok = conns.reduce((s, c) => s + c.ok, 0)
    if (ok !== CLIENTS) throw new Error(`replicas bench: only ${ok} of ${CLIENTS} streams opened`)
    // The leader's engine must know every client before a push can reach them all.
    await until('the leader to know every client', async () => {
      const r = await getJson(`${leader!.url}/v1/changes?dryRun=1`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ kind: 'invalidate', target: { keys: ['probe'] } }),
      })
      return (r.body.plan as { clients: number } | undefined)?.clients === CLIENTS
    })

    const push = async (count: number) => {
      const from = nextKey
      nextKey += count
      const done = Promise.all(
        clientProcs.map((p) =>
          p.next<{ type: 'done'; count: number; lastAt: number }>('done', 120_000),
        ),
      )
      for (const p of clientProcs) p.send({ type: 'expect', total: count * per })
      await sleep(20)
      const startAt = epochMs()
      let i = 0
      let rr = 0
      const worker = async () => {
        while (i < count) {
          const c = pushTo === 'leader' ? leader! : coordinators[rr++ % coordinators.length]!
          const res = await post(`${c.url}/v1/changes`, {
            kind: 'invalidate',
            target: { keys: [`k${from + i++}`] },
          })
          await res.text()
          if (res.status !== 202) throw new Error(`replicas bench: POST answered ${res.status}`)
        }
      }
      await Promise.all(Array.from({ length: IN_FLIGHT }, worker))
      const pushedAt = epochMs()
      const d = await done
      const lastAt = Math.max(...d.map((x) => x.lastAt))
      return {
        deliveries: d.reduce((s, x) => s + x.count, 0),
        ms: lastAt - startAt,
        pushMs: pushedAt - startAt,
      }
    }

    await push(WARM_PUSHES)
    await sleep(200)
    const pids = coordinators.map((c) => c.proc.pid!)
    const cpu = () => ({
      coordinators: pids.map(procCpuMs),
      redis: procCpuMs(redis.process.pid!),
      clients: clientProcs.map((p) => procCpuMs(p.proc.pid!)),
      bench: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
    })
    // Count what the timed batch asks of Redis (our own server: only counters are reset).
    await admin.config('RESETSTAT')
    const c0 = cpu()
    const r = await push(PUSHES)
    const c1 = cpu()
    const stats = await admin.info('commandstats')
    const calls = (cmd: string) =>
      Number(new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(stats)?.[1] ?? 0)
    // Anything beyond the expected frames would be a duplicate delivery.
    await sleep(300)
    const statuses = await Promise.all(
      clientProcs.map((p) =>
        p.ask<{ type: 'status'; count: number }>({ type: 'status' }, 'status'),
      ),
    )
    const extra = statuses.reduce((s, x) => s + x.count, 0) - PUSHES * CLIENTS
    const cores = (a: number, b: number) => (b - a) / r.ms
    const leaderIdx = coordinators.indexOf(leader!)
    const coordinatorCpuMs = c1.coordinators.reduce((s, x, i) => s + x - c0.coordinators[i]!, 0)
    return {
      n,
      perSec: (r.deliveries / r.ms) * 1000,
      coordinatorUsPerDelivery: (coordinatorCpuMs * 1000) / r.deliveries,
      /** Lua script calls (commits, plus the odd lease renewal) and log appends, per push. */
      scriptsPerPush: calls('evalsha') / PUSHES,
      xaddsPerPush: calls('xadd') / PUSHES,
      ms: r.ms,
      pushMs: r.pushMs,
      extra,
      leaderCores: cores(c0.coordinators[leaderIdx]!, c1.coordinators[leaderIdx]!),
      followerCores: c0.coordinators.reduce(
        (s, x, i) => (i === leaderIdx ? s : s + cores(x, c1.coordinators[i]!)),
        0,
      ),
      redisCores: cores(c0.redis, c1.redis),
      clientCores: c0.clients.reduce((s, x, i) => s + cores(x, c1.clients[i]!), 0),
      benchCores: cores(c0.bench, c1.bench),
    }
  } finally {
    await Promise.all(clientProcs.map((p) => p.kill()))
    await Promise.all(coordinators.map((c) => stopProcess(c.proc)))
  }
}

type RunResult = Awaited<ReturnType<typeof run>>

export const replicas = async () => {
  const redis = await startPrivateRedis()
  const dir = mkdtempSync(join(tmpdir(), 'slew-bench-replicas-'))
  const admin = new Redis(redis.url, { lazyConnect: true })
  try {
    await admin.connect()
    const results = new Map<Setup, RunResult[]>(SETUPS.map((s) => [s, []]))
    for (let rep = -1; rep < REPS; rep++) {
      // Rotate the order each round; rep -1 is the warm-up, not kept.
      const k = ((rep % SETUPS.length) + SETUPS.length) % SETUPS.length
      for (const setup of [...SETUPS.slice(k), ...SETUPS.slice(0, k)]) {
        const r = await run(redis, admin, dir, setup)
        if (rep >= 0) results.get(setup)!.push(r)
      }
    }
    const m = (s: Setup, f: (r: RunResult) => number) => median(results.get(s)!.map(f))
    const one = m(SETUPS[0]!, (r) => r.perSec)
    const ratios = SETUPS.map((s) => m(s, (r) => r.perSec) / one)
    const rows = SETUPS.map((s, i) => [
      s.label,
      `${CLIENTS / s.n}`,
      Math.round(m(s, (r) => r.perSec)).toLocaleString('en-US'),
      `${Math.round(m(s, (r) => r.ms))} ms`,
      `${Math.round(m(s, (r) => r.pushMs))} ms`,
      results
        .get(s)!
        .map((r) => (r.perSec / 1000).toFixed(1))
        .join(', '),
      m(s, (r) => r.leaderCores).toFixed(2),
      s.n === 1 ? '—' : m(s, (r) => r.followerCores).toFixed(2),
      m(s, (r) => r.redisCores).toFixed(2),
      m(s, (r) => r.clientCores).toFixed(2),
      m(s, (r) => r.benchCores).toFixed(2),
      m(s, (r) => r.coordinatorUsPerDelivery).toFixed(1),
      `${m(s, (r) => r.scriptsPerPush).toFixed(2)} / ${m(s, (r) => r.xaddsPerPush).toFixed(2)}`,
      i === 0 ? '1.00' : `**${ratios[i]!.toFixed(2)}**`,
    ])
    const extra = [...results.values()].flat().reduce((s, r) => s + r.extra, 0)
    return {
      name: `delivery throughput, three coordinators vs one, on one Redis: ${CLIENTS} SSE clients`,
      header: [
        'coordinators',
        'clients each',
        'deliveries/s (median)',
        'first push → last frame',
        'pushes answered',
        'runs (k/s)',
        'leader CPU (cores)',
        'followers CPU (cores)',
        'redis CPU (cores)',
        'client procs CPU (cores)',
        'bench CPU (cores)',
        'coordinator CPU µs / delivery',
        'Redis scripts / log appends per push',
        '÷ one',
      ],
      rows,
      notes: [
        `${CLIENTS} clients × ${PUSHES} pushes = ${(CLIENTS * PUSHES).toLocaleString('en-US')} deliveries per run, after ${WARM_PUSHES} warm-up pushes in the same processes; median of ${REPS} runs after a warm-up run of each, the order of the setups rotating each round; every run: new coordinator processes, a new fleet name, the same private redis-server`,
        'coordinators: `node dist/cli/main.js serve --redis URL --port 0 --config FILE` (budgets.invalidate 1e9/s, waves [1] bake 0, confirmAbove 1, admission 1e6/s); pushes POSTed 8 in flight, round-robin over the replicas (a follower forwards to the leader) or to the leader only',
        'CPU: each process over the timed batch ÷ its wall time (/proc, 10 ms ticks); coordinator CPU per delivery: all coordinator processes together; "pushes answered": first push → last 202',
        'Redis scripts per push: EVALSHA calls in the timed batch (`INFO commandstats`) ÷ pushes — nearly all are the leader’s fenced commits (one per event-loop turn that changed something); log appends: XADDs (inside the commits) ÷ pushes',
        `frames beyond the expected ones (duplicates) over all runs: ${extra}`,
        `three ÷ one: ${ratios[1]!.toFixed(2)} pushing through any replica, ${ratios[2]!.toFixed(2)} pushing to the leader (no target; see BENCHMARKS.md for what limits it)`,
      ],
    }
  } finally {
    admin.disconnect()
    rmSync(dir, { recursive: true, force: true })
    await redis.stop()
  }
}

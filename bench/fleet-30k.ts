/**
 * 30,000 app servers on one coordinator (issue 18, item 1): four figures,
 * each against a baseline or a budget of the same run.
 *
 *  1. memory: RSS per stream of a coordinator holding N SSE streams ÷ a bare
 *     node:http SSE server holding N (target ≤ 1.2). Measured as
 *     stream-memory does (fresh server process, 100 streams opened and closed
 *     first, RSS after a full GC before and once all N are held), and once
 *     more on the coordinator after every client has heartbeated (the health
 *     it keeps per client).
 *  2. heartbeats: every client heartbeats at the SDK's default interval
 *     (10 s, from a random phase: heartbeat-senders.ts), N ÷ 10 per second;
 *     the coordinator's CPU per heartbeat (less what holding the streams
 *     costs with no heartbeats) ÷ a bare hono JSON handler's under the same
 *     senders (target ≤ 2).
 *  3. one invalidate-all (`target: { all: true }`) to all N, heartbeats
 *     going on: from the push to the last `change` frame read by a client,
 *     ÷ the plan's `estimatedMs` in the push's answer (target ≤ 1.1).
 *  4. a restart: the coordinator process killed (SIGKILL; or shut down,
 *     SLEW_BENCH_30K_RESTART=shutdown) and a new one listening on the same
 *     port, the N clients reconnecting as the SDK does (fleet-clients.ts:
 *     backoff, Retry-After, goaway; at each hello a heartbeat, and the
 *     recall of the old epoch): from the new process listening to the last
 *     client's hello of the new epoch, ÷ N ÷ the admission rate (target ≤ 1.1).
 *
 * Processes: the server (fleet-30k-server.ts), PROCS client processes
 * (fleet-clients.ts: raw sockets, each client from a loopback address of its
 * own), SENDERS heartbeat processes, and this one. Every process shares the
 * machine's cores. Descriptors: children are started through `sh -c 'ulimit
 * -n …; exec node …'`; where the hard limit is below what N streams need,
 * N is lowered to fit and the report says so.
 *
 * Env: SLEW_BENCH_30K_CLIENTS (30000), _PROCS (4), _SENDERS (2), _WINDOW_MS
 * (30000: two ping periods), _ADMISSION (the restarted coordinator's admission rate, 200/s, the
 * default), _INVALIDATE_RATE (150000 entries/s), _RESTART (kill | shutdown),
 * _SERVER_FLAGS (extra Node flags for the coordinator processes, e.g.
 * `--max-semi-space-size=64`; none by default),
 * _PROF (a folder: a V8 CPU profile of the first coordinator), _PHASES (a
 * comma list of mem, hb, inv, restart: the parts to run; all by default).
 */
import { readFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { type Child, descriptorLimits, epochMs, median, sleep, spawnChild } from './proc.js'

const WANT = Number(process.env.SLEW_BENCH_30K_CLIENTS ?? 30_000)
const PROCS = Number(process.env.SLEW_BENCH_30K_PROCS ?? 4)
const SENDERS = Number(process.env.SLEW_BENCH_30K_SENDERS ?? 2)
/**
 * The coordinator pings every stream every 15 s (stream.pingMs): the idle window is one ping
 * period and the heartbeat window two, so each holds its share of pings, and the idle cost
 * taken off the heartbeats' is the pings' own.
 */
const PING_MS = 15_000
const WINDOW_MS = Number(process.env.SLEW_BENCH_30K_WINDOW_MS ?? 2 * PING_MS)
const ADMISSION = Number(process.env.SLEW_BENCH_30K_ADMISSION ?? 200)
const ADMISSION_BURST = 100
const INVALIDATE_RATE = Number(process.env.SLEW_BENCH_30K_INVALIDATE_RATE ?? 150_000)
const RESTART = process.env.SLEW_BENCH_30K_RESTART === 'shutdown' ? 'shutdown' : 'kill'
const PROF_DIR = process.env.SLEW_BENCH_30K_PROF
/** Extra Node flags for the coordinator processes (e.g. `--max-semi-space-size=64`); none by default. */
const SERVER_FLAGS = (process.env.SLEW_BENCH_30K_SERVER_FLAGS ?? '').split(' ').filter(Boolean)
/** Which parts to run (all by default): mem, hb, inv, restart. */
const PHASES = new Set(
  (process.env.SLEW_BENCH_30K_PHASES ?? 'mem,hb,inv,restart').split(',').map((x) => x.trim()),
)
/** The SDK's default heartbeatMs (src/sdk/options.ts). */
const HEARTBEAT_MS = 10_000
/** Rounds of the memory figure (bare, then slew, each in a fresh process): the median is reported. */
const MEM_REPS = Number(process.env.SLEW_BENCH_30K_MEM_REPS ?? 2)
/** Admission for the fill: opened up (the restart measures the real rate). */
const OPEN = { ratePerSec: 1e6, burst: 1e6 }
/** Heartbeat windows of each server, in turns. */
const HB_PAIRS = Number(process.env.SLEW_BENCH_30K_HB_PAIRS ?? 2)
const IDLE_MS = PING_MS
const WARM = 100
/** Descriptors the coordinator needs besides the streams: its own 64, the heartbeat connections. */
const EXTRA_FDS = 64 + SENDERS * 48 + PROCS * 16 + 200

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })

/** N: what was asked, or as many as the descriptor limit lets one process hold. */
const plan = () => {
  const limits = descriptorLimits()
  const hard = limits?.hard ?? Number.POSITIVE_INFINITY
  const fits = Math.floor((hard - EXTRA_FDS) / 100) * 100
  const clients = Math.min(WANT, fits)
  return { clients, hard, soft: limits?.soft, capped: clients < WANT, nofile: clients + EXTRA_FDS }
}

const configOf = (clients: number, admission: { ratePerSec: number; burst: number }) => ({
  admission,
  limits: { connections: clients + EXTRA_FDS },
  budgets: { invalidate: { ratePerSec: INVALIDATE_RATE, burst: INVALIDATE_RATE } },
})

type Mem = { rss: number; heapUsed: number; heapTotal: number; external: number }
type Status = {
  type: 'status'
  count: number
  open: number
  changes: number
  back: number
  lastBackAt: number
  backPerSec: [number, number][]
  attempts: number
  refusals: number
  refusedAgain: number
  connectErrors: number
  cut: number
  hbSent: number
  hbFailed: number
  recalls: number
  recallsFailed: number
  waiting: number
  stuck: { id: string; phase: number; waitedMs: number; got: string }[]
}

const all = <T>(cs: Child[], f: (c: Child) => Promise<T>) => Promise.all(cs.map(f))
const cpuMs = async (c: Child) =>
  (await c.ask<{ type: 'cpu'; ms: number }>({ type: 'cpu' }, 'cpu')).ms
const streamsOf = async (c: Child) =>
  (await c.ask<{ type: 'streams'; n: number }>({ type: 'streams' }, 'streams')).n
const memOf = (c: Child) => c.ask<Mem & { type: 'mem' }>({ type: 'mem' }, 'mem', 60_000)
const statusOf = async (cs: Child[]) => {
  const parts = await all(cs, (c) => c.ask<Status>({ type: 'status' }, 'status'))
  const sum = (k: keyof Status) => parts.reduce((n, p) => n + (p[k] as number), 0)
  const perSec = new Map<number, number>()
  for (const p of parts) for (const [s, n] of p.backPerSec) perSec.set(s, (perSec.get(s) ?? 0) + n)
  return {
    open: sum('open'),
    back: sum('back'),
    lastBackAt: Math.max(...parts.map((p) => p.lastBackAt)),
    backPerSec: perSec,
    attempts: sum('attempts'),
    refusals: sum('refusals'),
    refusedAgain: sum('refusedAgain'),
    connectErrors: sum('connectErrors'),
    cut: sum('cut'),
    hbSent: sum('hbSent'),
    hbFailed: sum('hbFailed'),
    recalls: sum('recalls'),
    recallsFailed: sum('recallsFailed'),
    /** Attempts waiting 20 s or more for an answer, and a few of them. */
    waiting: sum('waiting'),
    stuck: parts.flatMap((p) => p.stuck).slice(0, 5),
  }
}

/** Until `ok()` or `ms` pass; polls every `every` ms. */
const until = async (ok: () => Promise<boolean>, ms: number, every = 250, what = 'condition') => {
  const end = epochMs() + ms
  for (;;) {
    if (await ok()) return
    if (epochMs() > end) throw new Error(`fleet-30k: no ${what} within ${ms} ms`)
    await sleep(every)
  }
}

/** Client processes for ids c0…c(n-1), PROCS of them. */
const spawnClients = (port: number, n: number, reconnect: boolean) => {
  const per = Math.ceil(n / PROCS)
  const out: { child: Child; count: number }[] = []
  for (let k = 0; k < PROCS && k * per < n; k++) {
    const count = Math.min(per, n - k * per)
    out.push({
      child: spawnChild(
        'fleet-clients.ts',
        [String(port), String(count), String(k * per), 'c', reconnect ? '1' : '0'],
        [],
        { nofile: count + 500 },
      ),
      count,
    })
  }
  return out
}

/**
 * A server and N streams on it: warm-up (100 opened and closed), RSS before,
 * N clients, RSS once the server holds all N. The clients stay (slew) or
 * are stopped with the server (bare).
 */
const fill = async (server: Child, port: number, n: number, reconnect: boolean) => {
  const warm = spawnChild('fleet-clients.ts', [String(port), String(WARM), '0', 'warm', '0'])
  await until(async () => (await statusOf([warm])).open === WARM, 60_000, 100, 'warm-up streams')
  await warm.kill()
  await until(async () => (await streamsOf(server)) === 0, 30_000, 100, 'warm-up close')
  const before = await memOf(server)
  const t0 = epochMs()
  const clients = spawnClients(port, n, reconnect)
  const children = clients.map((c) => c.child)
  await until(async () => (await statusOf(children)).open === n, 240_000, 250, 'full fleet')
  const fillMs = epochMs() - t0
  await until(async () => (await streamsOf(server)) === n, 60_000, 250, 'streams held')
  await sleep(500)
  const after = await memOf(server)
  return { before, after, children, counts: clients.map((c) => c.count), fillMs }
}

const perStreamKb = (before: Mem, after: Mem, n: number, k: keyof Mem = 'rss') =>
  (after[k] - before[k]) / n / 1024

type Take = { type: 'take'; hist: [number, number][]; answers: number; errors: number }
const percentile = (pairs: [number, number][], q: number) => {
  const h = new Map<number, number>()
  for (const [k, n] of pairs) h.set(k, (h.get(k) ?? 0) + n)
  const keys = [...h.keys()].sort((a, b) => a - b)
  const total = [...h.values()].reduce((a, b) => a + b, 0)
  let seen = 0
  for (const k of keys) {
    seen += h.get(k)!
    if (seen >= q * total) return k / 100
  }
  return Number.NaN
}

/** Heartbeats for `ms` against `server`: its CPU per heartbeat (less `idleCores`), latency. */
const heartbeatWindow = async (server: Child, senders: Child[], ms: number, idleCores: number) => {
  await all(senders, (s) => s.ask({ type: 'reset' }, 'reset'))
  const count = async () =>
    (await server.ask<{ type: 'count'; n: number }>({ type: 'count' }, 'count')).n
  await server.ask({ type: 'loop' }, 'loop')
  const [c0, n0, s0] = await Promise.all([cpuMs(server), count(), all(senders, cpuMs)])
  const t0 = epochMs()
  await sleep(ms)
  const [c1, n1, s1] = await Promise.all([cpuMs(server), count(), all(senders, cpuMs)])
  const t1 = epochMs()
  const loop = await server.ask<{ type: 'loop'; p99: number; max: number }>(
    { type: 'loop' },
    'loop',
  )
  const takes = await all(senders, (s) => s.ask<Take>({ type: 'take' }, 'take'))
  const hist = takes.flatMap((t) => t.hist)
  const span = t1 - t0
  const hbs = n1 - n0
  const cpu = c1 - c0
  return {
    ms: span,
    perSec: (hbs / span) * 1000,
    cores: cpu / span,
    senderCores: s1.reduce((n, x, k) => n + x - s0[k]!, 0) / span,
    usPerHb: (cpu * 1000) / hbs,
    netUsPerHb: ((cpu - idleCores * span) * 1000) / hbs,
    p50: percentile(hist, 0.5),
    p99: percentile(hist, 0.99),
    errors: takes.reduce((n, t) => n + t.errors, 0),
    loopP99: loop.p99,
    loopMax: loop.max,
  }
}

/** The kernel's TCP counters of connections dropped at a full accept queue (Linux; else zeros). */
const listenDrops = () => {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n')
    const i = lines.findIndex((l) => l.startsWith('TcpExt:'))
    const names = lines[i]!.split(/\s+/)
    const values = lines[i + 1]!.split(/\s+/).map(Number)
    const of = (n: string) => values[names.indexOf(n)] ?? 0
    return { overflows: of('ListenOverflows'), cookies: of('SyncookiesSent') }
  } catch {
    return { overflows: 0, cookies: 0 }
  }
}
/** net.core.somaxconn: the longest accept queue any listener gets (Linux). */
const somaxconn = () => {
  try {
    return Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'))
  } catch {
    return undefined
  }
}

type Restart = Awaited<ReturnType<typeof restart>>

/** Kill (or shut down) `old`, a new coordinator on `port`: until every client is back on its epoch. */
const restart = async (
  old: Child,
  clients: Child[],
  port: number,
  n: number,
  nofile: number,
  track: (c: Child) => Child,
) => {
  const next = track(
    spawnChild(
      'fleet-30k-server.ts',
      [
        'slew',
        JSON.stringify(configOf(n, { ratePerSec: ADMISSION, burst: ADMISSION_BURST })),
        String(port),
        'wait',
      ],
      SERVER_FLAGS,
      { nofile },
    ),
  )
  await next.next('ready', 60_000)
  await all(clients, (c) => c.ask({ type: 'mark' }, 'mark'))
  const drops0 = listenDrops()
  const stopAt = epochMs()
  if (RESTART === 'shutdown') {
    old.send({ type: 'shutdown' })
    await old.next('never', 30_000).catch(() => {})
  }
  if (PROF_DIR) {
    old.send({ type: 'exit' })
    await old.next('never', 15_000).catch(() => {})
  }
  await old.kill()
  const listenAt = (
    await next.ask<{ type: 'listening'; at: number }>({ type: 'listen' }, 'listening', 30_000)
  ).at
  const boundMs = (n / ADMISSION) * 1000
  const r0 = await cpuMs(next)
  let st = await statusOf(clients)
  let timedOut: string | undefined
  try {
    await until(
      async () => {
        st = await statusOf(clients)
        return st.back >= n
      },
      3 * boundMs + 60_000,
      250,
      'return of every client',
    )
  } catch (error) {
    timedOut = `${(error as Error).message}: ${fmt(st.back)} of ${fmt(n)} back`
  }
  const cores = ((await cpuMs(next)) - r0) / (epochMs() - listenAt)
  const drops1 = listenDrops()
  const adm = await next.ask<{
    type: 'admissions'
    admitted: number
    refused: number
    admittedPerSec: [number, number][]
    refusedPerSec: [number, number][]
  }>({ type: 'admissions' }, 'admissions')
  // Per 10 s from the listen: admitted, refused (server), back (clients).
  const buckets = new Map<number, { admitted: number; refused: number; back: number }>()
  const into = (pairs: Iterable<[number, number]>, k: 'admitted' | 'refused' | 'back') => {
    for (const [sec, count] of pairs) {
      const b = Math.floor((sec * 1000 - Math.floor(listenAt / 1000) * 1000) / 10_000)
      const row = buckets.get(b) ?? { admitted: 0, refused: 0, back: 0 }
      row[k] += count
      buckets.set(b, row)
    }
  }
  into(adm.admittedPerSec, 'admitted')
  into(adm.refusedPerSec, 'refused')
  into(st.backPerSec, 'back')
  return {
    next,
    report: {
      mode: RESTART,
      admission: ADMISSION,
      boundMs,
      allBack: st.back >= n,
      timedOut,
      stopToListenMs: listenAt - stopAt,
      somaxconn: somaxconn(),
      listenOverflows: drops1.overflows - drops0.overflows,
      syncookies: drops1.cookies - drops0.cookies,
      backMs: st.lastBackAt - listenAt,
      backFromStopMs: st.lastBackAt - stopAt,
      back: st.back,
      attempts: st.attempts,
      refusals: st.refusals,
      refusedAgain: st.refusedAgain,
      connectErrors: st.connectErrors,
      helloHeartbeats: st.hbSent,
      helloHeartbeatsFailed: st.hbFailed,
      recalls: st.recalls,
      recallsFailed: st.recallsFailed,
      waiting: st.waiting,
      stuck: st.stuck,
      admitted: adm.admitted,
      refused: adm.refused,
      cores,
      per10s: [...buckets].sort((a, b) => a[0] - b[0]),
    },
  }
}

/** One invalidate-all pushed to the coordinator on `port`: push → the last client's change frame. */
const invalidateAll = async (slew: Child, clients: Child[], counts: number[], port: number) => {
  const dones = clients.map((c) =>
    c.next<{ type: 'done'; count: number; lastAt: number }>('done', 600_000),
  )
  for (const [k, c] of clients.entries()) c.send({ type: 'expect', total: counts[k] })
  await sleep(50)
  const cpu0 = await cpuMs(slew)
  const pushAt = epochMs()
  const res = await fetch(`http://127.0.0.1:${port}/v1/changes`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      kind: 'invalidate',
      target: { all: true },
      reason: 'bench: invalidate-all',
      confirm: true,
    }),
  })
  const pushed = (await res.json()) as {
    id?: string
    plan?: { estimatedMs: number; waves: { clients: number; cost: number }[] }
  }
  if (res.status !== 202 || !pushed.id || !pushed.plan)
    throw new Error(`POST /v1/changes answered ${res.status}: ${JSON.stringify(pushed)}`)
  const answeredMs = epochMs() - pushAt
  const budgetMs = pushed.plan.estimatedMs
  const done = await Promise.race([
    Promise.all(dones),
    sleep(3 * budgetMs + 60_000).then(() => undefined),
  ])
  const endAt = epochMs()
  const cores = ((await cpuMs(slew)) - cpu0) / (endAt - pushAt)
  const rollout = (await (
    await fetch(`http://127.0.0.1:${port}/v1/changes/${pushed.id}`)
  ).json()) as {
    state: string
    delivered: number
    waves: { queued: number; delivered: number; startedAt?: number; deliveredAt?: number }[]
    createdAt: number
  }
  const lastFrameAt = done ? Math.max(...done.map((d) => d.lastAt)) : Number.NaN
  return {
    budgetMs,
    answeredMs,
    ms: lastFrameAt - pushAt,
    waitedMs: endAt - pushAt,
    deliveredAll: done !== undefined,
    cores,
    state: rollout.state,
    delivered: rollout.delivered,
    waves: rollout.waves.map((w) => ({
      queued: w.queued,
      delivered: w.delivered,
      startMs: w.startedAt === undefined ? undefined : w.startedAt - rollout.createdAt,
      endMs: w.deliveredAt === undefined ? undefined : w.deliveredAt - rollout.createdAt,
    })),
    planned: pushed.plan,
  }
}

export const fleet30k = async () => {
  const started = epochMs()
  const load = loadavg()
  const p = plan()
  const N = p.clients
  if (p.capped)
    console.error(
      `fleet-30k: the descriptor limit is ${p.hard} (ulimit -Hn) and cannot be raised here: ${fmt(N)} streams, not ${fmt(WANT)}`,
    )
  const kids: Child[] = []
  const track = <T extends Child>(c: T) => {
    kids.push(c)
    return c
  }
  const mb = (x: number) => (x / 2 ** 20).toFixed(0)
  try {
    // 1a. Memory: MEM_REPS rounds of the bare node:http SSE server and a coordinator, each
    // in a fresh process (the last round's coordinator stays for the rest).
    const memRounds: { bare: number; slew: number; bareHeap: number; slewHeap: number }[] = []
    const fillFresh = async (kind: 'sse' | 'slew') => {
      const server = track(
        spawnChild(
          'fleet-30k-server.ts',
          kind === 'sse' ? ['sse'] : ['slew', JSON.stringify(configOf(N, OPEN))],
          kind === 'sse' ? [] : SERVER_FLAGS,
          { nofile: p.nofile },
        ),
      )
      const at = (await server.next<{ type: 'ready'; port: number }>('ready', 60_000)).port
      const f = await fill(server, at, N, kind === 'slew')
      await server.kill()
      await all(f.children, (c) => c.kill())
      return f
    }
    let bare: Awaited<ReturnType<typeof fill>> | undefined
    if (PHASES.has('mem'))
      for (let r = 0; r < MEM_REPS; r++) {
        bare = await fillFresh('sse')
        const b = bare
        if (r === MEM_REPS - 1) break
        const sl = await fillFresh('slew')
        memRounds.push({
          bare: perStreamKb(b.before, b.after, N),
          slew: perStreamKb(sl.before, sl.after, N),
          bareHeap: perStreamKb(b.before, b.after, N, 'heapUsed'),
          slewHeap: perStreamKb(sl.before, sl.after, N, 'heapUsed'),
        })
      }

    // 1b. The coordinator (admission opened up for the fill; the restart below uses the real rate).
    const slew = track(
      spawnChild(
        'fleet-30k-server.ts',
        ['slew', JSON.stringify(configOf(N, OPEN))],
        [...SERVER_FLAGS, ...(PROF_DIR ? ['--cpu-prof', '--cpu-prof-dir', PROF_DIR] : [])],
        { nofile: p.nofile },
      ),
    )
    const port = (await slew.next<{ type: 'ready'; port: number }>('ready', 60_000)).port
    const s = await fill(slew, port, N, true)
    for (const c of s.children) track(c)
    if (bare)
      memRounds.push({
        bare: perStreamKb(bare.before, bare.after, N),
        slew: perStreamKb(s.before, s.after, N),
        bareHeap: perStreamKb(bare.before, bare.after, N, 'heapUsed'),
        slewHeap: perStreamKb(s.before, s.after, N, 'heapUsed'),
      })
    // From here on, each hello brings what the SDK sends then (a heartbeat; a recall on a new epoch).
    await all(s.children, (c) => c.ask({ type: 'hello-calls', on: true }, 'hello-calls'))

    // 2. Idle (streams and pings only), then heartbeats at the SDK's interval.
    const i0 = await cpuMs(slew)
    const it0 = epochMs()
    await sleep(IDLE_MS)
    const idleCores = ((await cpuMs(slew)) - i0) / (epochMs() - it0)
    const per = Math.ceil(N / SENDERS)
    const senders = Array.from({ length: SENDERS }, (_, k) =>
      track(
        spawnChild('heartbeat-senders.ts', [
          String(port),
          'c',
          String(k * per),
          String(Math.min(per, N - k * per)),
          String(HEARTBEAT_MS),
        ]),
      ),
    )
    await all(senders, (x) => x.ask({ type: 'start', port }, 'started'))
    // One whole interval and a little: every client has heartbeated.
    await sleep(HEARTBEAT_MS + 1000)
    const withHealth = PHASES.has('mem') ? await memOf(slew) : undefined
    // Heartbeat windows, the coordinator's and the bare handler's in turns (HB_PAIRS of each), the
    // same senders switching between them, so load from elsewhere on the machine falls on both.
    const hbs: Awaited<ReturnType<typeof heartbeatWindow>>[] = []
    const bareHbs: Awaited<ReturnType<typeof heartbeatWindow>>[] = []
    if (PHASES.has('hb')) {
      const json = track(spawnChild('fleet-30k-server.ts', ['json']))
      const jsonPort = (await json.next<{ type: 'ready'; port: number }>('ready', 30_000)).port
      for (let k = 0; k < HB_PAIRS; k++) {
        if (k > 0) {
          await all(senders, (x) => x.ask({ type: 'start', port }, 'started'))
          await sleep(HEARTBEAT_MS + 1000)
        }
        hbs.push(await heartbeatWindow(slew, senders, WINDOW_MS, idleCores))
        await all(senders, (x) => x.ask({ type: 'start', port: jsonPort }, 'started'))
        await sleep(5_000)
        bareHbs.push(await heartbeatWindow(json, senders, WINDOW_MS, 0))
      }
      await all(senders, (x) => x.ask({ type: 'start', port }, 'started'))
      await json.kill()
      await sleep(HEARTBEAT_MS + 1000)
    }
    /** The window of median CPU per heartbeat (of an odd count; the lower middle of an even one). */
    const mid = <T extends { netUsPerHb: number }>(ws: T[]) =>
      [...ws].sort((a, b) => a.netUsPerHb - b.netUsPerHb)[(ws.length - 1) >> 1]
    const hb = hbs.length ? mid(hbs) : undefined
    const bareHb = bareHbs.length ? mid(bareHbs) : undefined

    // 3. One invalidate-all, heartbeats going on.
    const inv = PHASES.has('inv')
      ? await invalidateAll(slew, s.children, s.counts, port)
      : undefined

    // 4. The restart: a new coordinator process on the same port, the clients reconnecting.
    let rs: Restart | undefined
    if (PHASES.has('restart')) rs = await restart(slew, s.children, port, N, p.nofile, track)
    await all(senders, (x) => x.ask({ type: 'stop' }, 'stopped', 30_000))
    await all(s.children, (c) => c.kill())
    if (PROF_DIR && !rs) {
      slew.send({ type: 'exit' })
      await slew.next('never', 15_000).catch(() => {})
    }
    await slew.kill()
    await rs?.next.kill()

    const bareKb = bare && perStreamKb(bare.before, bare.after, N)
    const slewKb = perStreamKb(s.before, s.after, N)
    const slewHealthKb = withHealth && perStreamKb(s.before, withHealth, N)
    const r = rs?.report
    const ratios = {
      mem: memRounds.length ? median(memRounds.map((r) => r.slew / r.bare)) : undefined,
      memHealth: bareKb && slewHealthKb && slewHealthKb / bareKb,
      hb:
        hbs.length && bareHbs.length
          ? median(hbs.map((h, k) => h.netUsPerHb / bareHbs[k]!.usPerHb))
          : undefined,
      inv: inv?.deliveredAll ? inv.ms / inv.budgetMs : undefined,
      restart: r?.allBack ? r.backMs / r.boundMs : undefined,
    }
    const wallS = (epochMs() - started) / 1000
    const summary = {
      clients: N,
      asked: WANT,
      descriptorLimit: { soft: p.soft, hard: p.hard },
      capped: p.capped,
      loadAverageAtStart: load,
      fill: { bareMs: bare?.fillMs, slewMs: s.fillMs },
      memory: {
        rounds: memRounds,
        bare: bare && { before: bare.before, after: bare.after, kbPerStream: bareKb },
        slew: { before: s.before, after: s.after, kbPerStream: slewKb },
        slewWithHealth: withHealth && { after: withHealth, kbPerStream: slewHealthKb },
        heapKbPerStream: {
          bare: bare && perStreamKb(bare.before, bare.after, N, 'heapUsed'),
          slew: perStreamKb(s.before, s.after, N, 'heapUsed'),
          slewWithHealth: withHealth && perStreamKb(s.before, withHealth, N, 'heapUsed'),
        },
      },
      idleCores,
      heartbeats: { slew: hbs, bare: bareHbs },
      invalidateAll: inv,
      restart: r,
      ratios,
      wallS,
    }
    console.log(JSON.stringify(summary))
    const met = (x: number | undefined, target: number) =>
      x === undefined ? '—' : x <= target ? 'met' : '**not met**'
    const ratio = (x: number | undefined) => (x === undefined ? '—' : x.toFixed(2))
    const rows: string[][] = []
    if (bareKb !== undefined) {
      rows.push([
        `RSS per stream, streams only (${memRounds.length} rounds, median ratio)`,
        `bare node:http SSE: ${memRounds.map((r) => r.bare.toFixed(1)).join(', ')} KB`,
        `${memRounds.map((r) => r.slew.toFixed(1)).join(', ')} KB`,
        ratio(ratios.mem),
        '≤ 1.2',
        met(ratios.mem, 1.2),
      ])
      if (slewHealthKb !== undefined)
        rows.push([
          'RSS per stream, after every client heartbeated (last round)',
          `bare node:http SSE: ${bareKb.toFixed(1)} KB`,
          `${slewHealthKb.toFixed(1)} KB`,
          ratio(ratios.memHealth),
          '≤ 1.2',
          met(ratios.memHealth, 1.2),
        ])
    }
    if (hb && bareHb)
      rows.push([
        `CPU per heartbeat, ${fmt(hb.perSec)}/s (${hbs.length} windows each, in turns)`,
        `bare hono JSON: ${bareHbs.map((w) => w.usPerHb.toFixed(0)).join(', ')} µs`,
        `${hbs.map((w) => w.netUsPerHb.toFixed(0)).join(', ')} µs net (${hbs.map((w) => w.usPerHb.toFixed(0)).join(', ')} gross)`,
        ratio(ratios.hb),
        '≤ 2',
        met(ratios.hb, 2),
      ])
    if (inv)
      rows.push([
        'invalidate-all, push → last frame',
        `plan: ${fmt(inv.budgetMs)} ms`,
        inv.deliveredAll ? `${fmt(inv.ms)} ms` : `not all delivered in ${fmt(inv.waitedMs)} ms`,
        ratio(ratios.inv),
        '≤ 1.1',
        inv.deliveredAll ? met(ratios.inv, 1.1) : '**not met**',
      ])
    if (r)
      rows.push([
        `restart (${r.mode}), listen → all back`,
        `${fmt(N)} ÷ ${ADMISSION}/s = ${fmt(r.boundMs)} ms`,
        r.allBack ? `${fmt(r.backMs)} ms` : `${fmt(r.back)} of ${fmt(N)} back`,
        ratio(ratios.restart),
        '≤ 1.1',
        r.allBack ? met(ratios.restart, 1.1) : '**not met**',
      ])
    const notes: string[] = [
      `fill: ${fmt(N)} streams in ${(s.fillMs / 1000).toFixed(1)} s${bare ? ` (bare ${(bare.fillMs / 1000).toFixed(1)} s)` : ''}; RSS ${mb(s.before.rss)} → ${mb(s.after.rss)}${withHealth ? ` → ${mb(withHealth.rss)}` : ''} MB${bare ? ` (bare ${mb(bare.before.rss)} → ${mb(bare.after.rss)} MB)` : ''}; heap KB/stream slew ${memRounds.length ? memRounds.map((r) => r.slewHeap.toFixed(1)).join(', ') : summary.memory.heapKbPerStream.slew.toFixed(1)}${withHealth ? ` (${summary.memory.heapKbPerStream.slewWithHealth!.toFixed(1)} with health)` : ''}${bare ? `, bare ${memRounds.map((r) => r.bareHeap.toFixed(1)).join(', ')}` : ''}`,
    ]
    if (hb && bareHb)
      notes.push(
        `heartbeats: slew ${fmt(hb.perSec)}/s, ${(hb.cores * 100).toFixed(0)} % of a core (idle with the streams: ${(idleCores * 100).toFixed(1)} %), answers p50 ${hb.p50.toFixed(1)} ms / p99 ${hb.p99.toFixed(0)} ms, loop p99 ${hb.loopP99.toFixed(0)} ms max ${hb.loopMax.toFixed(0)} ms, ${hb.errors} errors; bare ${fmt(bareHb.perSec)}/s, ${(bareHb.cores * 100).toFixed(0)} %, p50 ${bareHb.p50.toFixed(1)} / p99 ${bareHb.p99.toFixed(0)} ms; senders ${(hb.senderCores * 100).toFixed(0)} % / ${(bareHb.senderCores * 100).toFixed(0)} %`,
      )
    if (inv)
      notes.push(
        `invalidate-all: ${fmt(inv.delivered)} delivered, state ${inv.state}, budget ${fmt(INVALIDATE_RATE)} entries/s (100 entries per client), waves (clients @ ms from the push) ${inv.waves.map((w) => `${w.delivered} @ ${w.endMs === undefined ? '?' : fmt(w.endMs)}`).join(', ')}; coordinator ${(inv.cores * 100).toFixed(0)} % of a core; the push answered in ${inv.answeredMs.toFixed(0)} ms`,
      )
    if (r)
      notes.push(
        `restart: ${fmt(r.stopToListenMs)} ms from the stop to the new listen; accept queue (somaxconn ${r.somaxconn}) overflowed ${fmt(r.listenOverflows)} times (the machine's count), ${fmt(r.syncookies)} SYN cookies; ${fmt(r.attempts)} attempts, ${fmt(r.refusals)} refused (${fmt(r.refusedAgain)} of them a second time or more), ${fmt(r.connectErrors)} connect errors; ${fmt(r.recalls)} recalls and ${fmt(r.helloHeartbeats)} hello heartbeats (${r.recallsFailed} / ${r.helloHeartbeatsFailed} failed); coordinator ${(r.cores * 100).toFixed(0)} % of a core; per 10 s from the listen (admitted / refused / back): ${r.per10s.map(([b, x]) => `${b * 10} s ${x.admitted} / ${x.refused} / ${x.back}`).join('; ')}${r.timedOut ? `; ${r.timedOut}` : ''}${r.waiting ? `; ${r.waiting} attempts unanswered for 20 s or more, e.g. ${JSON.stringify(r.stuck)}` : ''}`,
      )
    notes.push(
      `descriptor limit ${p.soft}/${p.hard} (soft/hard); servers started with ulimit -n ${p.nofile}${SERVER_FLAGS.length ? `, coordinator flags ${SERVER_FLAGS.join(' ')}` : ''}; load average at start ${load.map((x) => x.toFixed(2)).join(' ')}; wall ${wallS.toFixed(0)} s`,
    )
    return [
      {
        name: `${fmt(N)} app servers on one coordinator${p.capped ? ` (${fmt(WANT)} asked; the descriptor limit, ${fmt(p.hard)}, fits ${fmt(N)})` : ''}`,
        header: ['figure', 'baseline or budget (same run)', 'slew', 'ratio', 'target', 'met'],
        rows,
        notes,
      },
    ]
  } finally {
    await Promise.all(kids.map((k) => k.kill()))
  }
}

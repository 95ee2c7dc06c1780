/**
 * Heartbeat load during a gated rollout, 10,000 clients: what the gates'
 * pacing costs the coordinator, against the bound it states.
 *
 * While a config change rolls or bakes, the clients its gate compares (the
 * treated clients of the waves so far and a control sample of equal size)
 * are asked, in their heartbeat answers, to heartbeat every
 * `gates.heartbeatMs` (1 s); at most `gates.maxPaced` (2,000) at once. So:
 *
 *   heartbeats/s ≤ maxPaced ÷ gates.heartbeatMs + (clients − maxPaced) ÷ SDK heartbeatMs
 *               = 2,000 + 800 = 2,800 /s at 10,000 clients (1,000 /s with no rollout).
 *
 * Processes (all on this one machine, sharing its cores with the load):
 *  - the coordinator (heartbeat-load-server.ts: createCoordinator from src/,
 *    memory store, 127.0.0.1:0, the config below);
 *  - 10,000 raw-socket SSE streams (sse-clients.ts, `clientId=c0…c9999`):
 *    each stream registers its client with the engine, so waves reach it;
 *  - SENDERS heartbeat processes (heartbeat-senders.ts), each the heartbeats
 *    of a share of the same 10,000 ids, timed as the SDK times them (10 s
 *    from a random phase; the asked `heartbeatMs` while the answers ask);
 *  - this one: the windows, the push, the polling.
 * Windows, in one run:
 *  0. idle: the streams held, no heartbeats (what holding them costs: pings);
 *  a. steady: heartbeats, no rollout;
 *  b. rollout: `POST /v1/changes` of a config change, until it completes
 *     (or ROLLOUT_MAX_MS); per second: heartbeats sent and answered, clients
 *     told to pace, paces started and ended, the gate's cohorts, the
 *     coordinator's CPU and event-loop stalls;
 *  c. the 12 s after it (the paced clients go back to 10 s);
 *  then the baseline, the same sender processes against a bare hono JSON
 *  handler (parses the body, answers `{ ok: true }`): steady, then with
 *  `heartbeatMs: 1000` in the answers of maxPaced of the clients (the
 *  bound's load). CPU is the server process's own (process.cpuUsage over
 *  IPC), answer latency as the senders see it (from the request to the
 *  parsed answer, queueing included) and as the server spends it ('request'
 *  event to 'finish').
 *
 * About 2½ minutes on the 2-core machine, which every process here shares
 * (and whatever else runs on it): the figures are one run, noisy.
 * Env: SLEW_BENCH_HB_CLIENTS, _SENDERS, _WINDOW_MS, _ROLLOUT_MS, _BAKE_MS,
 * _PROF (a folder: a V8 CPU profile of the coordinator).
 */
import { loadavg } from 'node:os'
import { epochMs, sleep, spawnChild } from './proc.js'

const CLIENTS = Number(process.env.SLEW_BENCH_HB_CLIENTS ?? 10_000)
const SENDERS = Number(process.env.SLEW_BENCH_HB_SENDERS ?? 2)
const WINDOW_MS = Number(process.env.SLEW_BENCH_HB_WINDOW_MS ?? 20_000)
const WARM_MS = 5_000
const IDLE_MS = 5_000
const ROLLOUT_MAX_MS = Number(process.env.SLEW_BENCH_HB_ROLLOUT_MS ?? 60_000)
/** The SDK's default heartbeat interval (src/sdk/options.ts). */
const SDK_HEARTBEAT_MS = 10_000
/** gates.heartbeatMs and gates.maxPaced: the defaults (src/gates/options.ts). */
const GATE_HEARTBEAT_MS = 1_000
const MAX_PACED = 2_000
/** stream.pingMs, the default: the coordinator pings every stream this often. */
const PING_MS = 15_000
/** Watched after the rollout ends: one SDK interval and a little. */
const AFTER_MS = SDK_HEARTBEAT_MS + 2_000
/** Set to a folder to write a V8 CPU profile of the coordinator there (`--cpu-prof`). */
const PROF_DIR = process.env.SLEW_BENCH_HB_PROF

/**
 * Bakes of 10 s: long enough that the clients a gate compares hear their pace
 * (each on its next 10 s heartbeat) while it still compares them. With 2 s
 * bakes the rollout is over about 14 s after the push, before most of them
 * have (SLEW_BENCH_HB_BAKE_MS=2000 shows it).
 */
const BAKE_MS = Number(process.env.SLEW_BENCH_HB_BAKE_MS ?? 10_000)

const CONFIG = {
  admission: { ratePerSec: 1e6, burst: 1e6 },
  waves: { steps: [0.01, 0.05, 0.25, 1], bakeMs: BAKE_MS },
  confirmAbove: 1,
  gates: { minSamples: 20 },
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })

type Hist = Map<number, number>
const percentile = (h: Hist, q: number): number => {
  const keys = [...h.keys()].sort((a, b) => a - b)
  let total = 0
  for (const k of keys) total += h.get(k)!
  let seen = 0
  for (const k of keys) {
    seen += h.get(k)!
    if (seen >= q * total) return k / 100
  }
  return Number.NaN
}

type Child = ReturnType<typeof spawnChild>
type Take = {
  type: 'take'
  hist: [number, number][]
  answers: number
  errors: number
  told: number
  pacedDistinct: number
  pacedNow: number
}

const cpuMs = async (c: Child) =>
  (await c.ask<{ type: 'cpu'; ms: number }>({ type: 'cpu' }, 'cpu')).ms

const slewHeartbeats = async (port: number): Promise<number> => {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  const m = /^slew_heartbeats_total (\d+)/m.exec(text)
  if (!m) throw new Error('no slew_heartbeats_total in /metrics')
  return Number(m[1])
}

const all = <T>(senders: Child[], f: (s: Child) => Promise<T>) => Promise.all(senders.map(f))

const takeAll = async (senders: Child[]) => {
  const parts = await all(senders, (s) => s.ask<Take>({ type: 'take' }, 'take'))
  const hist: Hist = new Map()
  for (const p of parts) for (const [k, n] of p.hist) hist.set(k, (hist.get(k) ?? 0) + n)
  const sum = (k: 'answers' | 'errors' | 'told' | 'pacedDistinct' | 'pacedNow') =>
    parts.reduce((n, p) => n + p[k], 0)
  return {
    hist,
    answers: sum('answers'),
    errors: sum('errors'),
    told: sum('told'),
    pacedDistinct: sum('pacedDistinct'),
  }
}

/** Per epoch second, over every sender: heartbeats sent, answered, and clients paced at its end. */
const secondsAll = async (senders: Child[]) => {
  type Pairs = [number, number][]
  const parts = await all(senders, (s) =>
    s.ask<{
      type: 'seconds'
      sent: Pairs
      sentPaced: Pairs
      answers: Pairs
      up: Pairs
      down: Pairs
      paced: Pairs
    }>({ type: 'seconds' }, 'seconds'),
  )
  const merge = (k: 'sent' | 'sentPaced' | 'answers' | 'up' | 'down' | 'paced') => {
    const m = new Map<number, number>()
    for (const p of parts) for (const [s, n] of p[k]) m.set(s, (m.get(s) ?? 0) + n)
    return m
  }
  return {
    sent: merge('sent'),
    sentPaced: merge('sentPaced'),
    answers: merge('answers'),
    up: merge('up'),
    down: merge('down'),
    paced: merge('paced'),
  }
}

/** One second of a window (an epoch second): what the senders and the server saw. */
interface Second {
  /** Seconds since the window began (its end). */
  t: number
  sent: number
  /** Of them, by clients paced when they sent. */
  sentPaced: number
  answered: number
  /** Answers that started, and that ended, a client's pacing. */
  up: number
  down: number
  paced: number
  /** The server's 15 s ping to every stream fell in this second. */
  ping: boolean
  /** The server's CPU over the second, cores. */
  cores: number
  /** The longest the server's event loop was held up in the second, ms. */
  loopMaxMs: number
  /** The rollout's, from `GET /v1/changes/:id` (rollout window only). */
  state?: string
  wave?: number
  verdict?: string
  compared?: number
}

interface Window {
  name: string
  server: 'slew' | 'bare'
  ms: number
  /** Heartbeats the server counted, per second. */
  serverPerSec: number
  /** Heartbeats the senders sent, per second: the busiest whole second. */
  peakSentPerSec: number
  /** Answers the senders got: the busiest whole second. */
  peakAnsweredPerSec: number
  /** Clients whose answers asked them to pace: the most at once (end of a second), and distinct. */
  pacedPeak: number
  pacedDistinct: number
  cpuCores: number
  /** The heartbeat senders' CPU, all of them, cores. */
  senderCores: number
  /** The busiest second's CPU, cores. */
  peakCores: number
  cpuUsPerHb: number
  /** Less what holding the streams costs with no heartbeats (window 0). */
  netUsPerHb: number
  p50: number
  p99: number
  max: number
  /** Time in the server (request event → response handed to the kernel), ms. */
  serverP50: number
  serverP99: number
  /** The longest event-loop hold-up in the window, ms, and the seconds with one over 100 ms. */
  loopMaxMs: number
  stalledSeconds: number
  errors: number
  timeline: Second[]
}

type Extra = Pick<Second, 'state' | 'wave' | 'verdict' | 'compared'>

const servedOf = async (c: Child): Promise<Hist> =>
  new Map(
    (await c.ask<{ type: 'served'; hist: [number, number][] }>({ type: 'served' }, 'served')).hist,
  )

const loopOf = (c: Child) => c.ask<{ type: 'loop'; max: number }>({ type: 'loop' }, 'loop')

/**
 * Heartbeats against `server` for `ms` (or until `poll` says done, at most
 * ROLLOUT_MAX_MS), looked at every epoch second.
 */
const measure = async (o: {
  name: string
  server: 'slew' | 'bare'
  child: Child
  counted: () => Promise<number>
  senders: Child[]
  idleCores: number
  ms?: number
  /** When the server's ping timer started (epoch ms): its pings fall every PING_MS after. */
  pingAt?: number
  begin?: () => Promise<void>
  poll?: () => Promise<Extra & { done: boolean }>
}): Promise<Window> => {
  const { child, senders } = o
  await all(senders, (s) => s.ask({ type: 'reset' }, 'reset'))
  await loopOf(child)
  await servedOf(child)
  const [cpu0, n0, senders0] = await Promise.all([cpuMs(child), o.counted(), all(senders, cpuMs)])
  const t0 = epochMs()
  await o.begin?.()
  const rows: (Second & { sec: number })[] = []
  let cpuPrev = cpu0
  let tPrev = t0
  for (;;) {
    await sleep(1000 - (epochMs() % 1000) + 5)
    // The second that just ended (the answers below may come late if the server is held up).
    const at = epochMs()
    const [cpu, loop] = await Promise.all([cpuMs(child), loopOf(child)])
    const now = epochMs()
    const extra = o.poll ? await o.poll() : undefined
    rows.push({
      sec: Math.floor(at / 1000) - 1,
      t: Math.round((at - t0) / 1000),
      sent: 0,
      sentPaced: 0,
      answered: 0,
      up: 0,
      down: 0,
      paced: 0,
      ping: false,
      cores: (cpu - cpuPrev) / (now - tPrev),
      loopMaxMs: loop.max,
      ...(extra && {
        state: extra.state,
        wave: extra.wave,
        verdict: extra.verdict,
        compared: extra.compared,
      }),
    })
    cpuPrev = cpu
    tPrev = now
    if (o.ms !== undefined && now - t0 >= o.ms) break
    if (extra?.done || now - t0 > ROLLOUT_MAX_MS) break
  }
  const t1 = epochMs()
  const [cpu1, n1, senders1] = await Promise.all([cpuMs(child), o.counted(), all(senders, cpuMs)])
  const take = await takeAll(senders)
  const secs = await secondsAll(senders)
  const inServer = await servedOf(child)
  for (const r of rows) {
    r.sent = secs.sent.get(r.sec) ?? 0
    r.sentPaced = secs.sentPaced.get(r.sec) ?? 0
    r.answered = secs.answers.get(r.sec) ?? 0
    r.up = secs.up.get(r.sec) ?? 0
    r.down = secs.down.get(r.sec) ?? 0
    r.paced = secs.paced.get(r.sec) ?? 0
    if (o.pingAt !== undefined) {
      // The next ping from the second's start falls within it.
      const since = (((r.sec * 1000 - o.pingAt) % PING_MS) + PING_MS) % PING_MS
      r.ping = (PING_MS - since) % PING_MS < 1000
    }
  }
  // The first second may have begun before the window: leave it out of the peaks.
  const whole = rows.filter((r) => r.sec * 1000 >= t0)
  const ms = t1 - t0
  const hbs = n1 - n0
  const cpu = cpu1 - cpu0
  const most = (f: (r: Second) => number) => Math.max(0, ...whole.map(f))
  return {
    name: o.name,
    server: o.server,
    ms,
    serverPerSec: (hbs / ms) * 1000,
    peakSentPerSec: most((r) => r.sent),
    peakAnsweredPerSec: most((r) => r.answered),
    pacedPeak: most((r) => r.paced),
    pacedDistinct: take.pacedDistinct,
    cpuCores: cpu / ms,
    senderCores: senders1.reduce((n, x, k) => n + x - senders0[k]!, 0) / ms,
    peakCores: most((r) => r.cores),
    cpuUsPerHb: (cpu * 1000) / hbs,
    netUsPerHb: ((cpu - o.idleCores * ms) * 1000) / hbs,
    p50: percentile(take.hist, 0.5),
    p99: percentile(take.hist, 0.99),
    max: percentile(take.hist, 1),
    serverP50: percentile(inServer, 0.5),
    serverP99: percentile(inServer, 0.99),
    loopMaxMs: Math.max(0, ...rows.map((r) => r.loopMaxMs)),
    stalledSeconds: rows.filter((r) => r.loopMaxMs > 100).length,
    errors: take.errors,
    timeline: rows.map(({ sec: _, ...r }) => r),
  }
}

export const heartbeatLoad = async () => {
  const paced = Math.min(MAX_PACED, CLIENTS)
  const bound = (paced * 1000) / GATE_HEARTBEAT_MS + ((CLIENTS - paced) * 1000) / SDK_HEARTBEAT_MS
  const noRollout = (CLIENTS * 1000) / SDK_HEARTBEAT_MS
  const started = epochMs()
  const load = loadavg()

  const slew = spawnChild(
    'heartbeat-load-server.ts',
    ['slew', JSON.stringify(CONFIG)],
    PROF_DIR ? ['--cpu-prof', '--cpu-prof-dir', PROF_DIR] : [],
  )
  const { port, pingAt } = await slew.next<{ type: 'ready'; port: number; pingAt: number }>(
    'ready',
    60_000,
  )
  const streams = spawnChild('sse-clients.ts', [
    String(port),
    '/v1/stream?entries=100',
    String(CLIENTS),
    'c',
  ])
  const per = Math.ceil(CLIENTS / SENDERS)
  const senders = Array.from({ length: SENDERS }, (_, k) =>
    spawnChild('heartbeat-senders.ts', [
      String(port),
      'c',
      String(k * per),
      String(Math.min(per, CLIENTS - k * per)),
      String(SDK_HEARTBEAT_MS),
    ]),
  )
  let bare: Child | undefined
  try {
    const conn = await streams.next<{ type: 'connected'; ok: number; failed: number; ms: number }>(
      'connected',
      180_000,
    )
    if (conn.ok !== CLIENTS)
      throw new Error(`only ${conn.ok} of ${CLIENTS} streams opened (${conn.failed} failed)`)
    let live = 0
    for (let i = 0; i < 200; i++) {
      live = (await slew.ask<{ type: 'streams'; n: number }>({ type: 'streams' }, 'streams')).n
      if (live >= CLIENTS) break
      await sleep(100)
    }
    if (live < CLIENTS) throw new Error(`the engine holds ${live} of ${CLIENTS} clients`)
    await sleep(1000)

    // 0. Idle: the streams alone (a ping to each every 15 s).
    const i0 = await cpuMs(slew)
    const it0 = epochMs()
    await sleep(IDLE_MS)
    const idleCores = ((await cpuMs(slew)) - i0) / (epochMs() - it0)

    // a. Steady: every client heartbeats every 10 s, no rollout.
    await all(senders, (s) => s.ask({ type: 'start', port }, 'started'))
    await sleep(WARM_MS)
    const common = {
      server: 'slew' as const,
      child: slew,
      counted: () => slewHeartbeats(port),
      senders,
      idleCores,
      pingAt,
    }
    const steady = await measure({ ...common, name: 'steady, no rollout', ms: WINDOW_MS })

    // b. A gated config change, pushed and watched until it ends.
    let id = ''
    let final: { state?: string; wave?: number; gate?: { verdict?: string; action?: unknown } } = {}
    const rollout = await measure({
      ...common,
      name: 'gated config rollout',
      begin: async () => {
        const res = await fetch(`http://127.0.0.1:${port}/v1/changes`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            kind: 'config',
            values: { checkout: { newFlow: true, retries: 3 } },
            reason: 'bench',
            confirm: true,
          }),
        })
        const pushed = (await res.json()) as { id?: string }
        if (res.status !== 202 || !pushed.id)
          throw new Error(`POST /v1/changes answered ${res.status}: ${JSON.stringify(pushed)}`)
        id = pushed.id
      },
      poll: async () => {
        const r = (await (await fetch(`http://127.0.0.1:${port}/v1/changes/${id}`)).json()) as {
          state: string
          wave: number
          gate?: {
            verdict: string
            action?: unknown
            checks: { treated: { clients: number }; control: { clients: number } }[]
          }
        }
        final = r
        const check = r.gate?.checks[0]
        return {
          state: r.state,
          wave: r.wave,
          verdict: r.gate?.verdict ?? '-',
          compared: check ? check.treated.clients + check.control.clients : 0,
          done: r.state !== 'rolling' && r.state !== 'planned',
        }
      },
    })

    // c. After: the paced clients go back to 10 s as their answers stop asking, each
    // from its own answer, so they come back together 10 s later.
    const after = await measure({
      ...common,
      name: `the ${(AFTER_MS / 1000).toFixed(0)} s after it`,
      ms: AFTER_MS,
    })

    await all(senders, (s) => s.ask({ type: 'stop' }, 'stopped', 30_000))
    await streams.kill()
    if (PROF_DIR) {
      slew.send({ type: 'exit' })
      await slew.next('never', 10_000).catch(() => {})
    }
    await slew.kill()

    // The baseline: the same senders against a bare hono JSON handler.
    const b = spawnChild('heartbeat-load-server.ts', ['bare'])
    bare = b
    const { port: barePort } = await b.next<{ type: 'ready'; port: number }>('ready', 30_000)
    const bareCommon = {
      server: 'bare' as const,
      child: b,
      counted: async () =>
        (await b.ask<{ type: 'count'; n: number }>({ type: 'count' }, 'count')).n,
      senders,
      idleCores: 0,
      ms: WINDOW_MS,
    }
    await all(senders, (s) => s.ask({ type: 'start', port: barePort }, 'started'))
    await sleep(WARM_MS)
    const bareSteady = await measure({ ...bareCommon, name: 'steady' })
    await b.ask({ type: 'pace', share: paced / CLIENTS }, 'pace')
    // Every client hears it within one 10 s interval.
    await sleep(SDK_HEARTBEAT_MS + 1000)
    const barePaced = await measure({
      ...bareCommon,
      name: `${((paced / CLIENTS) * 100).toFixed(0)} % of ids told heartbeatMs: 1000`,
    })
    await all(senders, (s) => s.ask({ type: 'stop' }, 'stopped', 30_000))

    const wallS = (epochMs() - started) / 1000
    const ratioSteady = steady.netUsPerHb / bareSteady.cpuUsPerHb
    const ratioRollout = rollout.netUsPerHb / barePaced.cpuUsPerHb
    const comparedPeak = Math.max(0, ...rollout.timeline.map((r) => r.compared ?? 0))
    const slewSeconds = [...steady.timeline, ...rollout.timeline, ...after.timeline]
    const stalls = slewSeconds.filter((r) => r.loopMaxMs > 100)
    const pingStalls = stalls.filter((r) => r.ping).length
    const pingSeconds = slewSeconds.filter((r) => r.ping)
    const gate = final.gate
    const summary = {
      clients: CLIENTS,
      config: CONFIG,
      sdkHeartbeatMs: SDK_HEARTBEAT_MS,
      gates: { heartbeatMs: GATE_HEARTBEAT_MS, maxPaced: MAX_PACED },
      boundPerSec: bound,
      noRolloutPerSec: noRollout,
      streamsOpenedMs: conn.ms,
      idleCores,
      loadAverageAtStart: load,
      stalls: { over100ms: stalls.length, inPingSeconds: pingStalls, seconds: slewSeconds.length },
      rollout: {
        state: final.state,
        wave: final.wave,
        gateVerdict: gate?.verdict,
        gateAction: gate?.action,
        ms: rollout.ms,
        peakSentPerSec: rollout.peakSentPerSec,
        peakOverBound: rollout.peakSentPerSec / bound,
        peakAnsweredPerSec: rollout.peakAnsweredPerSec,
        pacedPeak: rollout.pacedPeak,
        pacedPeakOverMaxPaced: rollout.pacedPeak / MAX_PACED,
        comparedPeak,
        cpuCores: rollout.cpuCores,
        peakCores: rollout.peakCores,
        p99Ms: rollout.p99,
      },
      after: {
        ms: after.ms,
        peakSentPerSec: after.peakSentPerSec,
        peakOverBound: after.peakSentPerSec / bound,
        peakOverNoRollout: after.peakSentPerSec / noRollout,
      },
      cpuPerHbRatio: { steady: ratioSteady, rollout: ratioRollout },
      wallS,
      windows: [steady, rollout, after, bareSteady, barePaced],
    }
    console.log(JSON.stringify(summary))
    const pct = (x: number) => `${(x * 100).toFixed(0)} %`
    console.log(
      `heartbeat load, ${fmt(CLIENTS)} clients: bound ${fmt(bound)}/s (no rollout ${fmt(noRollout)}/s); ` +
        `rollout ${final.state} ${(rollout.ms / 1000).toFixed(0)} s after the push; busiest second ${fmt(rollout.peakSentPerSec)} heartbeats sent ` +
        `(${pct(rollout.peakSentPerSec / bound)} of the bound; ${fmt(after.peakSentPerSec)} in the ${(after.ms / 1000).toFixed(0)} s after), at most ${fmt(rollout.pacedPeak)} clients paced (maxPaced ${fmt(MAX_PACED)}); ` +
        `coordinator CPU ${pct(rollout.cpuCores)} of a core (busiest second ${pct(rollout.peakCores)}), ` +
        `${rollout.netUsPerHb.toFixed(0)} µs per heartbeat = ${ratioRollout.toFixed(2)} × bare hono; ` +
        `answer p99 ${rollout.p99.toFixed(0)} ms (bare ${barePaced.p99.toFixed(0)} ms)`,
    )

    const row = (w: Window, ratio: string) => [
      w.name,
      w.server === 'slew' ? 'slew coordinator' : 'bare hono (baseline)',
      fmt(w.serverPerSec),
      fmt(w.peakSentPerSec),
      fmt(w.pacedPeak),
      pct(w.cpuCores),
      pct(w.peakCores),
      w.cpuUsPerHb.toFixed(0),
      w.server === 'slew' ? w.netUsPerHb.toFixed(0) : '—',
      `${w.p50.toFixed(1)} / ${w.p99.toFixed(0)} / ${w.max.toFixed(0)}`,
      `${w.serverP50.toFixed(2)} / ${w.serverP99.toFixed(1)}`,
      `${w.loopMaxMs.toFixed(0)} (${w.stalledSeconds})`,
      ratio,
    ]
    return [
      {
        name: `heartbeat load, ${fmt(CLIENTS)} clients: a gated config rollout`,
        header: [
          'window',
          'server',
          'heartbeats/s (server count)',
          'busiest 1 s (sent)',
          'clients paced (most at once)',
          'server CPU (one core)',
          'busiest 1 s CPU',
          'CPU µs / heartbeat',
          'less idle streams',
          'answer ms p50 / p99 / max (senders)',
          'in the server ms p50 / p99',
          'longest loop stall ms (s > 100 ms)',
          'CPU/hb ÷ baseline',
        ],
        rows: [
          row(steady, ratioSteady.toFixed(2)),
          row(rollout, ratioRollout.toFixed(2)),
          row(after, (after.netUsPerHb / bareSteady.cpuUsPerHb).toFixed(2)),
          row(bareSteady, '1.00'),
          row(barePaced, '1.00'),
        ],
        notes: [
          `stated bound: ${fmt(paced)} ÷ ${GATE_HEARTBEAT_MS / 1000} s + ${fmt(CLIENTS - paced)} ÷ ${SDK_HEARTBEAT_MS / 1000} s = ${fmt(bound)} heartbeats/s (no rollout: ${fmt(noRollout)}/s); busiest second of the rollout ${fmt(rollout.peakSentPerSec)} sent (${fmt(rollout.peakAnsweredPerSec)} answered) = ${pct(rollout.peakSentPerSec / bound)} of it: ${rollout.peakSentPerSec <= bound ? 'within' : 'OVER'}`,
          `after the rollout (${(after.ms / 1000).toFixed(0)} s): busiest second ${fmt(after.peakSentPerSec)} sent = ${pct(after.peakSentPerSec / noRollout)} of the no-rollout rate, ${pct(after.peakSentPerSec / bound)} of the bound`,
          `most clients told to pace at once ${fmt(rollout.pacedPeak)} (maxPaced ${fmt(MAX_PACED)}: ${rollout.pacedPeak <= MAX_PACED ? 'within' : 'OVER'}); ${fmt(rollout.pacedDistinct)} distinct clients were told during the rollout; most compared by the gate at once ${fmt(comparedPeak)}`,
          `rollout: ${final.state} (wave ${final.wave}, gate ${gate?.verdict ?? '-'}${gate?.action ? `, acted: ${JSON.stringify(gate.action)}` : ''}) ${(rollout.ms / 1000).toFixed(1)} s after the push; config ${JSON.stringify(CONFIG)}`,
          `event-loop stalls over 100 ms in the coordinator: ${stalls.length} seconds of ${slewSeconds.length}, ${pingStalls} of them in a second with its 15 s ping to all ${fmt(CLIENTS)} streams (longest stall in a ping second: ${Math.max(0, ...pingSeconds.map((r) => r.loopMaxMs)).toFixed(0)} ms)`,
          `holding the ${fmt(CLIENTS)} streams with no heartbeats: ${pct(idleCores)} of a core (a ping to each every 15 s); "less idle streams" takes it off, and the ratios use that`,
          `${SENDERS} sender processes (node:http keep-alive), the SDK's timing, using ${[steady, rollout, after, bareSteady, barePaced].map((w) => pct(w.senderCores)).join(' / ')} of a core in the five windows; streams opened in ${fmt(conn.ms)} ms; wall ${wallS.toFixed(0)} s; load average at start ${load.map((x) => x.toFixed(2)).join(', ')}; every process on this machine's cores`,
        ],
      },
      {
        name: 'heartbeat load: the rollout, second by second',
        header: [
          's',
          'state',
          'wave',
          'gate',
          'compared',
          'paced',
          'paces started / ended',
          'sent (by paced clients)',
          'answered',
          'coordinator CPU',
          'loop stall ms',
        ],
        rows: [
          ...rollout.timeline,
          ...after.timeline.map((r) => ({
            ...r,
            t: r.t + Math.round(rollout.ms / 1000),
            state: 'after',
          })),
        ].map((r) => [
          String(r.t),
          r.state ?? '',
          String(r.wave ?? ''),
          r.verdict ?? '',
          fmt(r.compared ?? 0),
          fmt(r.paced),
          `${fmt(r.up)} / ${fmt(r.down)}`,
          `${fmt(r.sent)} (${fmt(r.sentPaced)})`,
          fmt(r.answered),
          pct(r.cores),
          `${r.loopMaxMs.toFixed(0)}${r.ping ? ' (ping)' : ''}`,
        ]),
        notes: [
          "paced: clients whose latest answer asked for heartbeatMs, at the end of the second; paces started / ended: answers in the second that made a client's interval 1 s / 10 s again; sent and answered: heartbeats in the second; compared: from the gate record (treated + control clients); loop stall: the longest event-loop delay in the second, (ping) where the coordinator's 15 s ping to every stream fell in it",
        ],
      },
    ]
  } finally {
    await all(senders, (s) => s.kill())
    await streams.kill()
    await slew.kill()
    await bare?.kill()
  }
}

/**
 * Catalog-rate invalidation (issue 18, item 2): single-key pushes at RATE
 * per second, sustained for WINDOW_MS, to N app servers each holding a
 * SHARE of the catalog's keys, through one coordinator. Two modes in the
 * same run, each on a fresh coordinator process, everything else the same:
 *
 *  - `sketch`: each client's first heartbeat (once its stream is open)
 *    carries a Bloom filter of its keys (fpr FPR, in the shape the SDK
 *    builds: ladderSize), later ones `sketch: { added: [] }` every HB_MS from a
 *    random phase (which keeps the sketch fresh: sketches.staleMs is 30 s);
 *    a single-key change goes to the clients whose filter may hold its key;
 *  - `baseline`: the same heartbeats without a sketch: every single-key
 *    change goes to every client (today's per-change frames).
 *
 * Keys: `sku:0` … `sku:<KEYS-1>`; client j holds a deterministic SHARE of
 * them (seeded hash, catalog-keys.ts), so every key's holders are known.
 * The pusher (its own process, catalog-pusher.ts) POSTs
 * `{ kind: 'invalidate', target: { keys: [k] } }` open loop at RATE/s over
 * keep-alive HTTP (at most 64 in flight), keys in a seeded shuffle (none
 * twice: the key names the push). Clients (catalog-clients.ts: raw
 * sockets, PROCS processes, each client from a loopback address of its own)
 * read every `change` frame and record, per key, the holders that got it and
 * when the last one did, and the frames to clients not holding it (false
 * positives).
 *
 * Per mode: pushes accepted (202) per second; change frames per second
 * (the coordinator's slew_stream_frames_total over the window, pings
 * included, and the frames the clients read); the coordinator's CPU per
 * push over the window and the drain after it (gross, and net of what
 * holding the streams and answering the heartbeats costs, measured for one
 * heartbeat interval before the pushes); from each push's send (the
 * pusher's clock) to the last holder reading its frame, p50 / p99 / max
 * (a push not at every holder by the end counts as never: it is in the
 * percentiles as infinite and counted apart); the false-positive share;
 * writes per frame. The drain: after the window, until no rollout is still
 * rolling, at most DRAIN_MS. The notes add, per sixth of the window (by
 * send time), pushes, frames per push, false positives and the median
 * latency, and the heartbeats answered per second: a coordinator too busy
 * to answer heartbeats lets sketches go stale (staleMs), and a client with
 * a stale sketch gets every change again.
 *
 * Coordinator config (both modes): `waves: { steps: [1], bakeMs: 0 }` (one
 * wave, no bake: this measures delivery, not bakes), `confirmAbove: 1`,
 * `sketches: { staleMs: 30000, windowMs: 120000 }`, admission opened up for
 * the fill, limits.connections N + margin, and an invalidate budget that
 * limits neither mode: BUDGET units/s (default 2 × RATE × N, at least
 * 200,000: what the baseline would need twice over, as a single-key change
 * costs 1 unit per client), burst BUDGET ÷ 10 (at least 20,000). Gates as by
 * default. A budget sized for the sketch run alone (200,000/s) would hold
 * the baseline to 20 pushes/s by design: that would measure the budget.
 *
 * Env: SLEW_BENCH_CATALOG_CLIENTS (10000), _RATE (500 pushes/s), _WINDOW_MS
 * (30000), _DRAIN_MS (30000), _KEYS (100000), _SHARE (0.01 of the keys per
 * client), _FPR (0.01), _HB_MS (10000), _HB_SOCKETS (16 heartbeat connections
 * per client process), _PROCS (4 client processes), _SEED
 * (1), _BUDGET (invalidate units/s), _MODES (`baseline,sketch`: which, in
 * that order), _SERVER_FLAGS (extra Node flags for the coordinators), _PROF
 * (a folder: a V8 CPU profile of each coordinator), _DUMP (a path prefix: each mode's
 * pushes as JSON, `<prefix>-<mode>.json`).
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { ladderSize, sketchFpr } from '../dist/invalidation/sketch.js'
import { holderCounts } from './catalog-keys.js'
import { type Child, descriptorLimits, epochMs, sleep, spawnChild } from './proc.js'

const env = (name: string, fallback: number) =>
  Number(process.env[`SLEW_BENCH_CATALOG_${name}`] ?? fallback)
const WANT = env('CLIENTS', 10_000)
const RATE = env('RATE', 500)
const WINDOW_MS = env('WINDOW_MS', 30_000)
const DRAIN_MS = env('DRAIN_MS', 30_000)
const KEYS = env('KEYS', 100_000)
const SHARE = env('SHARE', 0.01)
const FPR = env('FPR', 0.01)
const HB_MS = env('HB_MS', 10_000)
const PROCS = env('PROCS', 4)
const SEED = env('SEED', 1)
const PER_CLIENT = Math.max(1, Math.round(KEYS * SHARE))
const SHAPE = ladderSize(PER_CLIENT, FPR)
const MODES = (process.env.SLEW_BENCH_CATALOG_MODES ?? 'baseline,sketch')
  .split(',')
  .map((x) => x.trim())
  .filter((x): x is Mode => x === 'baseline' || x === 'sketch')
const SERVER_FLAGS = (process.env.SLEW_BENCH_CATALOG_SERVER_FLAGS ?? '').split(' ').filter(Boolean)
const PROF_DIR = process.env.SLEW_BENCH_CATALOG_PROF
/**
 * A path prefix: each mode's accepted pushes as `<prefix>-<mode>.json`, one
 * [key, socket connected after the send (ms), sent (ms into the window),
 * answered after the send (ms), holders, holders reached, false positives,
 * last holder after the send (ms)] each.
 */
const DUMP = process.env.SLEW_BENCH_CATALOG_DUMP
/** Descriptors the coordinator needs besides the streams: its own, heartbeats, the pusher. */
/** Heartbeat connections per client process (catalog-clients.ts reads the same variable). */
const HB_SOCKETS = env('HB_SOCKETS', 16)
const EXTRA_FDS = 64 + PROCS * HB_SOCKETS + 64 + 200
/** Time after the fill before the idle measure (heartbeats settle into their phases). */
const SETTLE_MS = 3000
/** The window's slices, by send time, in the per-mode notes. */
const SLICES = 6

type Mode = 'baseline' | 'sketch'

const fmt = (n: number, digits = 0) =>
  Number.isFinite(n)
    ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : '—'

const plan = () => {
  const hard = descriptorLimits()?.hard ?? Number.POSITIVE_INFINITY
  const fits = Math.floor((hard - EXTRA_FDS) / 100) * 100
  const clients = Math.min(WANT, fits)
  return { clients, hard, capped: clients < WANT, nofile: clients + EXTRA_FDS }
}

const budgetOf = (n: number) => env('BUDGET', Math.max(200_000, 2 * RATE * n))

const configOf = (n: number) => {
  const ratePerSec = budgetOf(n)
  return {
    admission: { ratePerSec: 1e6, burst: 1e6 },
    limits: { connections: n + EXTRA_FDS },
    budgets: { invalidate: { ratePerSec, burst: Math.max(20_000, Math.round(ratePerSec / 10)) } },
    waves: { steps: [1], bakeMs: 0 },
    confirmAbove: 1,
    sketches: { staleMs: 30_000, windowMs: 120_000 },
  }
}

type Status = {
  type: 'status'
  count: number
  open: number
  cuts: number
  resets: number
  hbSent: number
  hbAnswered: number
  hbFailed: number
  firstAnswered: number
  filtersSent: number
  wants: number
  changeFrames: number
  falsePositives: number
}
type Take = {
  type: 'take'
  perKey: [number, number, number, number][]
  changeFrames: number
  falsePositives: number
  cuts: number
  resets: number
  wants: number
  hbSent: number
  hbFailed: number
}
type Pushed = {
  type: 'done'
  t0: number
  end: number
  planned: number
  sent: number
  answered: number
  notSent: number
  firstError?: string
  pushes: [number, number, number, number, number, number][]
}
type State = {
  type: 'state'
  rss: number
  heapUsed: number
  rolling: number
  queued: number
  loopP50: number
  loopP99: number
  loopMax: number
}

const all = <T>(cs: Child[], f: (c: Child) => Promise<T>) => Promise.all(cs.map(f))
const cpuMs = async (c: Child) =>
  (await c.ask<{ type: 'cpu'; ms: number }>({ type: 'cpu' }, 'cpu', 60_000)).ms
const stateOf = (c: Child) => c.ask<State>({ type: 'state' }, 'state', 60_000)
const statusOf = async (cs: Child[]) => {
  const parts = await all(cs, (c) => c.ask<Status>({ type: 'status' }, 'status', 60_000))
  const sum = (k: keyof Status) => parts.reduce((n, p) => n + (p[k] as number), 0)
  return {
    open: sum('open'),
    firstAnswered: sum('firstAnswered'),
    hbSent: sum('hbSent'),
    hbFailed: sum('hbFailed'),
    filtersSent: sum('filtersSent'),
    wants: sum('wants'),
    changeFrames: sum('changeFrames'),
    falsePositives: sum('falsePositives'),
    cuts: sum('cuts'),
  }
}

/** The coordinator's /metrics, as name{labels} → value. */
const scrape = async (port: number): Promise<Map<string, number>> => {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  const out = new Map<string, number>()
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue
    const sp = line.lastIndexOf(' ')
    out.set(line.slice(0, sp), Number(line.slice(sp + 1)))
  }
  return out
}
const metric = (m: Map<string, number>, name: string) => m.get(name) ?? 0

/** The machine's count of connections dropped at a full accept queue (Linux; else 0). */
const listenOverflows = () => {
  try {
    const lines = readFileSync('/proc/net/netstat', 'utf8').split('\n')
    const i = lines.findIndex((l) => l.startsWith('TcpExt:'))
    const names = lines[i]!.split(/\s+/)
    return Number(lines[i + 1]!.split(/\s+/)[names.indexOf('ListenOverflows')] ?? 0)
  } catch {
    return 0
  }
}

const until = async (ok: () => Promise<boolean>, ms: number, every: number, what: string) => {
  const end = epochMs() + ms
  for (;;) {
    if (await ok()) return
    if (epochMs() > end) throw new Error(`catalog: no ${what} within ${ms} ms`)
    await sleep(every)
  }
}

/** q-quantile of a sorted list (nearest rank). */
const quantile = (sorted: readonly number[], q: number) =>
  sorted.length
    ? sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!
    : Number.NaN

type ModeResult = Awaited<ReturnType<typeof runMode>>

const runMode = async (
  mode: Mode,
  n: number,
  nofile: number,
  holders: Uint32Array,
  track: <T extends Child>(c: T) => T,
) => {
  const server = track(
    spawnChild(
      'catalog-server.ts',
      [JSON.stringify(configOf(n))],
      [
        ...SERVER_FLAGS,
        // One profile per thread (tsx's loader has one of its own): the largest is the coordinator's.
        ...(PROF_DIR ? ['--cpu-prof', '--cpu-prof-dir', `${PROF_DIR}/${mode}`] : []),
      ],
      { nofile },
    ),
  )
  const port = (await server.next<{ type: 'ready'; port: number }>('ready', 60_000)).port
  const pusher = track(
    spawnChild('catalog-pusher.ts', [
      String(port),
      String(RATE),
      String(WINDOW_MS),
      String(KEYS),
      String(SEED),
    ]),
  )
  const fillAt = epochMs()
  const per = Math.ceil(n / PROCS)
  const clients: Child[] = []
  for (let k = 0; k < PROCS && k * per < n; k++) {
    const count = Math.min(per, n - k * per)
    clients.push(
      track(
        spawnChild(
          'catalog-clients.ts',
          [port, count, k * per, mode, KEYS, PER_CLIENT, SEED, HB_MS, FPR].map(String),
          [],
          { nofile: count + 500 },
        ),
      ),
    )
  }
  // Every stream open and every client's first heartbeat answered (its filter, in sketch mode).
  await until(
    async () => {
      const s = await statusOf(clients)
      return s.open === n && s.firstAnswered === n
    },
    300_000,
    250,
    `${mode}: ${n} streams and first heartbeats`,
  )
  const fillMs = epochMs() - fillAt
  await cpuMs(pusher)
  await sleep(SETTLE_MS)
  // Idle: streams, pings, heartbeats, no pushes; one heartbeat interval.
  const i0 = await cpuMs(server)
  const it0 = epochMs()
  await sleep(HB_MS)
  const idleCores = ((await cpuMs(server)) - i0) / (epochMs() - it0)
  const idleState = await stateOf(server)
  const before = await statusOf(clients)

  // The window.
  await all(clients, (c) => c.ask({ type: 'mark' }, 'mark'))
  const m0 = await scrape(port)
  const drops0 = listenOverflows()
  const cpu0 = await cpuMs(server)
  const t0 = epochMs()
  const pushed = pusher.ask<Pushed>({ type: 'start' }, 'done', WINDOW_MS + 180_000)
  await sleep(WINDOW_MS)
  const [cpu1, st1, state1] = await Promise.all([cpuMs(server), statusOf(clients), stateOf(server)])
  const t1 = epochMs()
  const m1 = await scrape(port)
  const p = await pushed
  // The drain: until nothing is rolling, at most DRAIN_MS after the window.
  let state2 = await stateOf(server)
  while (state2.rolling > 0 && epochMs() < t1 + DRAIN_MS) {
    await sleep(500)
    state2 = await stateOf(server)
  }
  const drained = state2.rolling === 0
  // Frames written just now reach the clients' reads.
  await sleep(500)
  const cpu2 = await cpuMs(server)
  const t2 = epochMs()
  const m2 = await scrape(port)
  const drops = listenOverflows() - drops0
  const takes = await all(clients, (c) => c.ask<Take>({ type: 'take' }, 'take', 60_000))
  if (PROF_DIR) {
    server.send({ type: 'exit' })
    await server.next('never', 30_000).catch(() => {})
  }
  await all([...clients, pusher, server], (c) => c.kill())

  // Per key: holders that got it, the last one's time, non-holders that got it.
  const got = new Map<number, { got: number; last: number; fp: number }>()
  for (const t of takes)
    for (const [k, g, last, fp] of t.perKey) {
      const e = got.get(k)
      if (e) {
        e.got += g
        e.last = Math.max(e.last, last)
        e.fp += fp
      } else got.set(k, { got: g, last, fp })
    }
  const accepted = p.pushes.filter((x) => x[4] === 202)
  const lat: number[] = []
  let notReached = 0
  let holderFrames = 0
  let holderFramesDue = 0
  let nonHolders = 0
  let noHolders = 0
  for (const [k, , sentAt] of accepted) {
    const h = holders[k]!
    const e = got.get(k)
    holderFramesDue += h
    holderFrames += Math.min(h, e?.got ?? 0)
    nonHolders += n - h
    if (h === 0) {
      noHolders++
      continue
    }
    if (e && e.got >= h) lat.push(e.last - sentAt)
    else {
      notReached++
      lat.push(Number.POSITIVE_INFINITY)
    }
  }
  // By send time, in SLICES slices of the window: pushes, frames per push, false positives among
  // the non-holders, median latency (a sketch gone stale sends its client everything).
  const slices = Array.from({ length: SLICES }, () => ({
    pushes: 0,
    frames: 0,
    fp: 0,
    non: 0,
    lat: [] as number[],
  }))
  for (const [k, , sentAt] of accepted) {
    const sl =
      slices[Math.min(SLICES - 1, Math.max(0, Math.floor(((sentAt - p.t0) / WINDOW_MS) * SLICES)))]!
    const e = got.get(k)
    const h = holders[k]!
    sl.pushes++
    sl.frames += (e?.got ?? 0) + (e?.fp ?? 0)
    sl.fp += e?.fp ?? 0
    sl.non += n - h
    sl.lat.push(e && e.got >= h ? e.last - sentAt : Number.POSITIVE_INFINITY)
  }
  const bySlice = slices.map((sl) => ({
    pushes: sl.pushes,
    framesPerPush: sl.frames / sl.pushes,
    fpRate: sl.fp / sl.non,
    p50: quantile(
      sl.lat.sort((a, b) => a - b),
      0.5,
    ),
  }))
  if (DUMP)
    writeFileSync(
      `${DUMP}-${mode}.json`,
      JSON.stringify(
        accepted.map(([k, , sentAt, answeredAt, , connectedAt]) => {
          const e = got.get(k)
          return [
            k,
            connectedAt - sentAt,
            sentAt - p.t0,
            answeredAt - sentAt,
            holders[k],
            e?.got ?? 0,
            e?.fp ?? 0,
            e ? e.last - sentAt : null,
          ]
        }),
      ),
    )
  lat.sort((a, b) => a - b)
  const reached = lat.filter(Number.isFinite)
  const sentSpan = p.pushes.length ? p.pushes[p.pushes.length - 1]![2] - p.t0 : 0
  const changeFrames = takes.reduce((x, t) => x + t.changeFrames, 0)
  const falsePositives = takes.reduce((x, t) => x + t.falsePositives, 0)
  const windowS = (t1 - t0) / 1000
  const allS = (t2 - t0) / 1000
  const d = (a: Map<string, number>, b: Map<string, number>, name: string) =>
    metric(b, name) - metric(a, name)
  const cpuAll = cpu2 - cpu0
  const lag = p.pushes.map((x) => x[2] - x[1]).sort((a, b) => a - b)
  const answer = accepted.map((x) => x[3] - x[2]).sort((a, b) => a - b)
  return {
    mode,
    fillMs,
    idleCores,
    idleLoopP99: idleState.loopP99,
    idleRssMb: idleState.rss / 2 ** 20,
    before,
    planned: p.planned,
    sent: p.sent,
    notSent: p.notSent,
    accepted: accepted.length,
    refused: p.pushes.length - accepted.length,
    firstError: p.firstError,
    acceptedPerSec: accepted.length / (WINDOW_MS / 1000),
    sendLagP99: quantile(lag, 0.99),
    sendLagMax: lag.at(-1) ?? Number.NaN,
    answerP50: quantile(answer, 0.5),
    answerP99: quantile(answer, 0.99),
    sentSpanMs: sentSpan,
    windowS,
    allS,
    drained,
    drainMs: t2 - t1,
    coordFramesPerSec: d(m0, m1, 'slew_stream_frames_total') / windowS,
    coordFramesAll: d(m0, m2, 'slew_stream_frames_total'),
    coordWritesAll: d(m0, m2, 'slew_stream_writes_total'),
    deliveriesWindow: d(m0, m1, 'slew_deliveries_total{class="invalidate"}'),
    deliveriesAll: d(m0, m2, 'slew_deliveries_total{class="invalidate"}'),
    skipped: d(m0, m2, 'slew_sketch_skipped_total'),
    replayed: d(m0, m2, 'slew_sketch_replayed_total'),
    heartbeats: d(m0, m2, 'slew_heartbeats_total'),
    heartbeatsPerSec: d(m0, m1, 'slew_heartbeats_total') / windowS,
    bySlice,
    drops,
    clientFramesPerSec: st1.changeFrames / windowS,
    clientFramesWindow: st1.changeFrames,
    changeFrames,
    falsePositives,
    holderFrames,
    holderFramesDue,
    nonHolders,
    noHolders,
    framesPerPush: changeFrames / accepted.length,
    cores: (cpu1 - cpu0) / (t1 - t0),
    coresAll: cpuAll / (t2 - t0),
    cpuMsPerPush: cpuAll / accepted.length,
    netCpuMsPerPush: (cpuAll - idleCores * (t2 - t0)) / accepted.length,
    /** Per 1,000 change frames the clients read (work done, whether or not every push finished). */
    netCpuMsPerKFrames: ((cpuAll - idleCores * (t2 - t0)) / changeFrames) * 1000,
    p50: quantile(lat, 0.5),
    p99: quantile(lat, 0.99),
    max: lat.at(-1) ?? Number.NaN,
    maxReached: reached.at(-1) ?? Number.NaN,
    p50Reached: quantile(reached, 0.5),
    notReached,
    atWindowEnd: { rolling: state1.rolling, queued: state1.queued },
    atEnd: { rolling: state2.rolling, queued: state2.queued },
    rssMb: state1.rss / 2 ** 20,
    loopP99: state1.loopP99,
    loopMax: state1.loopMax,
    cuts: takes.reduce((x, t) => x + t.cuts, 0),
    resets: takes.reduce((x, t) => x + t.resets, 0),
    wants: takes.reduce((x, t) => x + t.wants, 0),
    hbFailed: takes.reduce((x, t) => x + t.hbFailed, 0) - before.hbFailed,
  }
}

export const catalog = async () => {
  const started = epochMs()
  const load = loadavg()
  const pl = plan()
  const N = pl.clients
  if (pl.capped)
    console.error(
      `catalog: the descriptor limit is ${pl.hard} (ulimit -Hn): ${fmt(N)} clients, not ${fmt(WANT)}`,
    )
  if (RATE * (WINDOW_MS / 1000) > KEYS)
    throw new Error(
      `catalog: ${fmt(RATE * (WINDOW_MS / 1000))} pushes would repeat keys of a ${fmt(KEYS)}-key universe: raise SLEW_BENCH_CATALOG_KEYS`,
    )
  const holders = holderCounts(N, PER_CLIENT, KEYS, SEED)
  let sumH = 0
  for (const h of holders) sumH += h
  const kids: Child[] = []
  const track = <T extends Child>(c: T) => {
    kids.push(c)
    return c
  }
  const results = new Map<Mode, ModeResult>()
  const failures = new Map<Mode, string>()
  try {
    for (const mode of MODES) {
      try {
        results.set(mode, await runMode(mode, N, pl.nofile, holders, track))
      } catch (error) {
        failures.set(mode, String((error as Error)?.message ?? error))
      } finally {
        await Promise.all(kids.splice(0).map((k) => k.kill()))
      }
    }
  } finally {
    await Promise.all(kids.map((k) => k.kill()))
  }
  const wallS = (epochMs() - started) / 1000
  const b = results.get('baseline')
  const s = results.get('sketch')
  console.log(
    JSON.stringify({
      clients: N,
      rate: RATE,
      windowMs: WINDOW_MS,
      results: [...results.values()],
      failures: [...failures],
      wallS,
    }),
  )

  const ms = (x: number) => (Number.isFinite(x) ? `${fmt(x, x < 100 ? 1 : 0)} ms` : 'never')
  /** A latency quantile, or that more than that share of pushes never reached every holder. */
  const latency = (r: ModeResult | undefined, k: 'p50' | 'p99' | 'max') => {
    if (!r) return '—'
    const x = r[k]
    if (Number.isFinite(x)) return ms(x)
    return `not reached (${fmt(r.notReached)} of ${fmt(r.accepted)} pushes never at every holder)`
  }
  const ratio = (sv: number | undefined, bv: number | undefined) =>
    sv === undefined || bv === undefined || !Number.isFinite(sv) || !Number.isFinite(bv) || bv === 0
      ? '—'
      : sv / bv >= 0.01
        ? (sv / bv).toFixed(2)
        : (sv / bv).toExponential(1)
  const rows: string[][] = []
  const row = (
    figure: string,
    get: (r: ModeResult) => number,
    show: (x: number, r: ModeResult) => string,
    note: string,
  ) => {
    const bv = b && get(b)
    const sv = s && get(s)
    rows.push([figure, b ? show(bv!, b) : '—', s ? show(sv!, s) : '—', ratio(sv, bv), note])
  }
  row(
    'pushes accepted (202) per second',
    (r) => r.acceptedPerSec,
    (x, r) => `${fmt(x, 1)}/s (${fmt(r.accepted)} of ${fmt(r.planned)})`,
    `asked: ${RATE}/s for ${WINDOW_MS / 1000} s, open loop, ≤ 64 in flight`,
  )
  row(
    'change frames per second, window (clients read)',
    (r) => r.clientFramesPerSec,
    (x) => `${fmt(x)}/s`,
    `every push to every client: ${fmt(RATE * N)}/s`,
  )
  row(
    'frames per second, window (slew_stream_frames_total)',
    (r) => r.coordFramesPerSec,
    (x) => `${fmt(x)}/s`,
    'pings and hellos included',
  )
  row(
    'change frames per push (clients read, window + drain)',
    (r) => r.framesPerPush,
    (x) => fmt(x, 1),
    `holders per key: ${fmt(sumH / KEYS, 1)} on average`,
  )
  row(
    'coordinator CPU per push, net of idle (window + drain)',
    (r) => r.netCpuMsPerPush,
    (x, r) =>
      `${fmt(x, 2)} ms (${fmt(r.cpuMsPerPush, 2)} gross)${r.notReached > 0 ? ', work left undone' : ''}`,
    'idle (streams, pings, heartbeats) measured first; heartbeats starved by pushes cost less than idle ones, so an overloaded run lies between net and gross',
  )
  row(
    'coordinator CPU per 1,000 change frames, net',
    (r) => r.netCpuMsPerKFrames,
    (x) => `${fmt(x, 1)} ms`,
    'work done, finished or not',
  )
  row(
    'coordinator CPU in the window',
    (r) => r.cores,
    (x, r) => `${fmt(x * 100)} % of a core (idle ${fmt(r.idleCores * 100, 1)} %)`,
    '2 cores shared by every process',
  )
  row(
    'push → last holder, p50',
    (r) => r.p50,
    (_, r) => latency(r, 'p50'),
    'from the pusher sending it',
  )
  row(
    'push → last holder, p99',
    (r) => r.p99,
    (_, r) => latency(r, 'p99'),
    '',
  )
  row(
    'push → last holder, max',
    (r) => r.max,
    (_, r) => latency(r, 'max'),
    '',
  )
  row(
    'pushes not at every holder by the end',
    (r) => r.notReached,
    (x, r) =>
      `${fmt(x)} of ${fmt(r.accepted)}${r.drained ? '' : ` (drain cut at ${fmt(DRAIN_MS / 1000)} s: ${fmt(r.atEnd.rolling)} still rolling, ${fmt(r.atEnd.queued)} deliveries queued)`}`,
    `end: nothing rolling, or ${DRAIN_MS / 1000} s after the window`,
  )
  row(
    'false-positive frames (to clients not holding the key)',
    (r) => r.falsePositives / r.changeFrames,
    (x, r) =>
      `${fmt(x * 100, 1)} % of frames; ${fmt((r.falsePositives / Math.max(1, r.nonHolders)) * 100, 2)} % of non-holders`,
    `the filter is sized for ${fmt(FPR * 100, 1)} % (${fmt(sketchFpr(SHAPE.m, SHAPE.k, PER_CLIENT) * 100, 2)} % in the SDK's power-of-two size)`,
  )
  row(
    'stream writes per frame',
    (r) => r.coordWritesAll / r.coordFramesAll,
    (x) => fmt(x, 3),
    'a write carries every frame a stream got in one turn',
  )

  const line = (r: ModeResult) =>
    `${r.mode}: fill ${fmt(r.fillMs / 1000, 1)} s; ${fmt(r.sent)} sent (${fmt(r.notSent)} not sent by the window's end: 64 in flight), send lag behind schedule p99 ${ms(r.sendLagP99)} max ${ms(r.sendLagMax)}; POST answered p50 ${ms(r.answerP50)} p99 ${ms(r.answerP99)}${r.refused ? `; ${fmt(r.refused)} not accepted (refused or no answer; the first: ${r.firstError})` : ''}; deliveries ${fmt(r.deliveriesWindow)} in the window, ${fmt(r.deliveriesAll)} with the drain (${fmt(r.drainMs / 1000, 1)} s${r.drained ? ', all drained' : ''}); at the window's end ${fmt(r.atWindowEnd.rolling)} rollouts rolling, ${fmt(r.atWindowEnd.queued)} deliveries queued; holder frames ${fmt(r.holderFrames)} of ${fmt(r.holderFramesDue)} due; skipped ${fmt(r.skipped)}, replayed ${fmt(r.replayed)}; coordinator ${fmt(r.cores * 100)} % of a core in the window (${fmt(r.coresAll * 100)} % with the drain), event loop p99 ${ms(r.loopP99)} max ${ms(r.loopMax)} (idle p99 ${ms(r.idleLoopP99)}), RSS ${fmt(r.idleRssMb)} MB idle → ${fmt(r.rssMb)} MB at the window's end; heartbeats ${fmt(r.heartbeats)} (${fmt(r.hbFailed)} failed, ${fmt(r.wants)} answered 'want'); heartbeats answered in the window ${fmt(r.heartbeatsPerSec)}/s (${fmt(N / (HB_MS / 1000))}/s due); by send time, per ${fmt(WINDOW_MS / SLICES / 1000)} s of the window (pushes, frames per push, false positives among non-holders, p50 push → last holder): ${r.bySlice.map((x) => `${fmt(x.pushes)} / ${fmt(x.framesPerPush)} / ${fmt(x.fpRate * 100, 1)} % / ${ms(x.p50)}`).join('; ')}; accept-queue overflows (the machine's count) ${fmt(r.drops)}; streams cut ${fmt(r.cuts)}, resets ${fmt(r.resets)}; latency among pushes that reached every holder: p50 ${ms(r.p50Reached)}, max ${ms(r.maxReached)}`
  const notes: string[] = [
    `${fmt(N)} clients (${PROCS} processes, raw sockets, one loopback address each), each holding ${fmt(PER_CLIENT)} of ${fmt(KEYS)} keys (${fmt(SHARE * 100, 1)} %); single-key invalidations at ${RATE}/s for ${WINDOW_MS / 1000} s, then a drain of at most ${DRAIN_MS / 1000} s; a fresh coordinator process per mode, modes in the order ${MODES.join(', ')}`,
    `coordinator: waves { steps: [1], bakeMs: 0 } (one wave, no bake: this measures delivery, not bakes), confirmAbove 1, invalidate budget ${fmt(budgetOf(N))} units/s (burst ${fmt(configOf(N).budgets.invalidate.burst)}; limits neither mode: a single-key change costs 1 unit per client, so the baseline needs ${fmt(RATE * N)}/s${budgetOf(N) < RATE * N ? ' — NOTE: below that, the budget binds the baseline' : ''}), sketches { staleMs: 30000, windowMs: 120000 }, gates as by default`,
    `heartbeats every ${HB_MS / 1000} s from a random phase in both modes; sketch: the first carries a Bloom filter (fpr ${FPR}, in the SDK's shape: ${fmt(SHAPE.m / 8)} bytes, ${SHAPE.k} probes, ${fmt(sketchFpr(SHAPE.m, SHAPE.k, PER_CLIENT) * 100, 2)} % at ${fmt(PER_CLIENT)} keys), later ones \`sketch: { added: [] }\``,
  ]
  for (const r of [b, s]) if (r) notes.push(line(r))
  for (const [mode, why] of failures) notes.push(`${mode}: **failed**: ${why}`)
  notes.push(
    `load average at start ${load.map((x) => x.toFixed(2)).join(' ')}; descriptor limit ${pl.hard}; wall ${wallS.toFixed(0)} s`,
  )
  return [
    {
      name: `Catalog-rate invalidation: ${RATE} single-key pushes/s to ${fmt(N)} clients${pl.capped ? ` (${fmt(WANT)} asked; the descriptor limit fits ${fmt(N)})` : ''}`,
      header: [
        'figure',
        'baseline (same run)',
        'slew with sketches',
        'ratio (sketch ÷ baseline)',
        'notes',
      ],
      rows,
      notes,
    },
  ]
}

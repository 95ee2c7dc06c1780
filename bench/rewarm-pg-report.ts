/**
 * The rewarm-pg bench's tables: the origin's capacity level by level, slew
 * against naive with the targets and where slew's time went, and
 * slew's run second by second (what the fleet fetched, the latency it and the
 * probe saw, what the coordinator's rewarm loop saw and set).
 */
import { STAGE_MS, type Stage } from './rewarm-pg-capacity.js'
import type { UnitCosts } from './rewarm-pg-costs.js'
import { fmt, overShare, type Second, unused } from './rewarm-pg-figures.js'
import type { coresBetween } from './rewarm-pg-procs.js'

export type Cores = ReturnType<typeof coresBetween>

export interface Run {
  readonly completionMs: number
  /** Origin calls as the fleet measured them (around `load`), per second of the run. */
  readonly seconds: Second[]
  /** The probe's (PostgreSQL's own latency), per second of the run. */
  readonly probe: Second[]
  readonly calls: number
  readonly p99: number
  readonly probeP99: number
  /** Most origin calls started in any 1 s. */
  readonly peak: number
  readonly cores: Cores
}

/** The coordinator's rewarm loop from its /metrics: the rate it set, the p50 and p99 it saw (ms), tokens granted so far. */
export interface LoopView {
  readonly rate: number
  readonly p50: number
  readonly p99: number
  readonly granted: number
}

export interface SlewRun extends Run {
  /** Every key fetched before the run's time was up (else it was stopped). */
  readonly done: boolean
  readonly budget: number
  /** The rewarm loop, by second of the run (the last sample in each). */
  readonly loop: Map<number, LoopView>
  /** When each client took up the change, ms after the push. */
  readonly changedAt: number[]
  readonly progress: { keysDone: number; keysFailed: number; keysTotal: number }
  /** Keys left without a row from the database on the clients. */
  readonly stale: number
  readonly failed: number
  /** The fleet's requests to the coordinator over the run (its counters). */
  readonly requests: { leases: number; leasesEmpty: number; tokens: number; heartbeats: number }
  /** One lease call's and one query's CPU, measured after the run. */
  readonly costs: UnitCosts
}

export interface Report {
  readonly databaseUrl: string
  readonly clients: number
  readonly procs: number
  readonly keys: number
  readonly pool: number
  readonly rows: number
  readonly targetMs: number
  readonly mode: string
  readonly capacity: { stages: Stage[]; best: Stage }
  readonly slew: SlewRun
  readonly naive: Run
}

/** The targets. */
const IDEAL_X = 1.25
const OVER_SHARE = 0.02

const cores = (c: Cores, coordinator = true) =>
  [c.postgres, c.fleet, ...(coordinator ? [c.coordinator] : []), c.other]
    .map((x) => fmt(x, 2))
    .join(' / ')
const ms = (x: number) => fmt(x, 1)
/** The median of the finite values (NaN if none). */
const median = (xs: number[]) => {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b)
  return v.length === 0 ? Number.NaN : v[(v.length - 1) >> 1]!
}
const pct = (x: number) => `${fmt(x * 100, 1)} %`
const verdict = (ok: boolean) => (ok ? 'met' : '**NOT met**')

const capacityTable = (r: Report) => ({
  name: `rewarm against PostgreSQL (issue 17): the origin's capacity, p99 target ${r.targetMs} ms`,
  header: [
    'calls in flight',
    'calls/s',
    'p50 ms',
    'p99 ms',
    'probe p99 ms',
    'under target',
    'cores: postgres / fleet / other',
  ],
  rows: r.capacity.stages.map((st) => [
    String(st.concurrency),
    fmt(st.perSec),
    ms(st.p50),
    ms(st.p99),
    ms(st.probeP99),
    st.p99 > r.targetMs ? 'no' : st === r.capacity.best ? '**yes (best)**' : 'yes',
    cores(st.cores, false),
  ]),
  notes: [
    `the app server's own \`load\` (examples/pg-origin.ts: \`SELECT … FROM products WHERE id = $1\`, prepared) on random products of ${fmt(r.rows)}, in loops from the ${r.procs} fleet processes (${r.pool} pooled connections each: past ${r.procs * r.pool} in flight a call waits for one, as an app server's would), ${fmt(STAGE_MS / 1000, 1)} s a level after a warm-up; p50, p99 around each call; a level over the target is run once more (both rows shown)`,
    `probe: one query at a time every 5 ms from an otherwise idle process (PostgreSQL's own latency, without a busy event loop's)`,
    `capacity: **${fmt(r.capacity.best.perSec)} calls/s** (${r.capacity.best.concurrency} in flight, p99 ${ms(r.capacity.best.p99)} ms); database ${r.databaseUrl}, created and seeded by examples/pg-origin.ts if missing`,
  ],
})

const costsNote = (c: UnitCosts) =>
  `a lease call costs ${fmt(c.lease.client)} µs of CPU in the app server's process and ${fmt(c.lease.coordinator)} µs in the coordinator (the same over node:http keep-alive, no abort signals: ${fmt(c.bareLease.client)} µs and ${fmt(c.bareLease.coordinator)} µs); a query ${fmt(c.query.client)} µs in the app server's process and ${fmt(c.query.postgres)} µs in PostgreSQL`

/** Where slew's time went: the waves, the capacity it left unused before and after, the lease traffic. */
const whereTheTimeWent = (r: Report, capacity: number): string[] => {
  const s = r.slew
  const first = s.changedAt[0] ?? Number.NaN
  const last = s.changedAt.at(-1) ?? Number.NaN
  const idle = unused(s.seconds, capacity, 0, last)
  // Whole seconds once every client had the change (the run's last second is partial).
  const steady = s.seconds.filter((sec) => sec.t * 1000 >= last + 1000).slice(0, -1)
  const steadyRate = steady.reduce((a, sec) => a + sec.calls, 0) / Math.max(1, steady.length)
  const q = s.requests
  const leases = q.leases + q.leasesEmpty
  const fleetUs = (s.cores.fleet * s.completionMs * 1000) / Math.max(1, s.calls)
  const coordinatorUs = (s.cores.coordinator * s.completionMs * 1000) / Math.max(1, s.calls)
  const c = s.costs
  const naiveUs = (r.naive.cores.fleet * r.naive.completionMs * 1000) / Math.max(1, r.naive.calls)
  return [
    `waves: the first client had the change ${ms(first / 1000)} s after the push, the last ${ms(last / 1000)} s (the default plan: 1 %, 5 %, 25 %, 100 % of 100 shards, 2 s bakes); capacity left unused: ${fmt(idle.before, 1)} s of it until then, ${fmt(idle.after, 1)} s after`,
    `once every client had it: ${fmt(steadyRate)} calls/s on average over ${steady.length} whole seconds, ${fmt((steadyRate / capacity) * 100)} % of capacity`,
    `lease traffic: ${fmt(leases)} lease calls (${fmt(q.leasesEmpty)} of them granted nothing) for ${fmt(s.calls)} origin calls, ${fmt(leases / Math.max(1, s.calls), 2)} per call, ${fmt(q.tokens / Math.max(1, q.leases), 1)} tokens per granted lease; ${fmt(q.heartbeats)} heartbeats`,
    `latency: the median second's p99 was ${ms(median(s.seconds.map((x) => x.p99)))} ms in \`load\` against ${ms(median(s.probe.map((x) => x.p99)))} ms for the probe (PostgreSQL's own), and the fleet's worst event-loop delay ${ms(median(s.seconds.map((x) => x.loopMs)))} ms: what the clients measure is mostly their own event loops, whose lag their heartbeats carry beside it and the rewarm loop takes out (the column "the loop saw" below)`,
    `CPU per origin call: the fleet ${fmt(fleetUs)} µs (naive: ${fmt(naiveUs)} µs), the coordinator ${fmt(coordinatorUs)} µs`,
    `one at a time, after the run (${costsNote(s.costs)}): at ${fmt(leases / Math.max(1, s.calls), 2)} lease calls per origin call, leasing costs ${fmt(((leases / Math.max(1, s.calls)) * (c.lease.client + c.lease.coordinator)) / (c.query.client + c.query.postgres), 1)} × the query itself`,
  ]
}

const compareTable = (r: Report) => {
  const work = r.clients * r.keys
  const capacity = r.capacity.best.perSec
  const idealMs = (work / capacity) * 1000
  const x = (run: Run) => run.completionMs / idealMs
  const s = r.slew
  const overs = (secs: Second[]) =>
    `${pct(overShare(secs, r.targetMs))} (${secs.filter((sec) => sec.p99 > r.targetMs).length} of ${secs.length} s)`
  const stopped = !s.done
  // Stopped before the end: how long it would have taken at its last 30 s' pace.
  const last30 = s.seconds.slice(-31, -1).reduce((a, sec) => a + sec.calls, 0) / 30
  const estimateMs = s.completionMs + ((work - s.calls) / Math.max(1, last30)) * 1000
  const row = (name: string, run: Run, budget?: number) => [
    name,
    budget && stopped
      ? `> ${fmt(run.completionMs / 1000, 1)} s (stopped: ${fmt(run.calls)} of ${fmt(work)} calls; at its last 30 s' pace, ~${fmt(estimateMs / 1000)} s)`
      : `${fmt(run.completionMs / 1000, 1)} s`,
    budget && stopped
      ? `**> ${fmt(x(run), 2)}** (~${fmt(estimateMs / idealMs, 1)})`
      : `**${fmt(x(run), 2)}**`,
    overs(run.seconds),
    overs(run.probe),
    `${ms(run.p99)} / ${ms(run.probeP99)}`,
    budget ? `${fmt(run.peak)} ÷ ${fmt(budget)} = ${fmt(run.peak / budget, 2)}` : fmt(run.peak),
    cores(run.cores, budget !== undefined),
  ]
  const over = overShare(s.seconds, r.targetMs)
  const how =
    r.mode === 'listed'
      ? `each holding its own ${fmt(r.keys)} products (an old value), one NDJSON rewarm listing all ${fmt(work)}: each client refetches those it holds`
      : `each starting empty with its own ${fmt(r.keys)} products as \`hotKeys\`, one \`target: { hotSet: true }\` rewarm: each client refills its own`
  return {
    name: `rewarm against PostgreSQL: ${fmt(work)} keys on ${r.clients} clients, slew vs naive`,
    header: [
      'run',
      'completion',
      '÷ ideal (work ÷ capacity)',
      `seconds with p99 > ${r.targetMs} ms, in \`load\``,
      'the same, probe',
      'p99 of all calls, `load` / probe, ms',
      'peak calls in any 1 s ÷ budget',
      'cores: postgres / fleet / coordinator / other',
    ],
    rows: [row('slew', s, s.budget), row('naive', r.naive)],
    notes: [
      `ideal: ${fmt(work)} calls ÷ ${fmt(capacity)}/s = ${fmt(idealMs / 1000, 1)} s. Targets: ≤ ${IDEAL_X} × ideal: slew ${stopped ? '> ' : ''}${fmt(x(s), 2)}, ${verdict(!stopped && x(s) <= IDEAL_X)}; ≤ ${pct(OVER_SHARE)} of the run's seconds with p99 (in \`load\`) over ${r.targetMs} ms: slew ${pct(over)}, ${verdict(over <= OVER_SHARE)}; peak ≤ budget: ${verdict(s.peak <= s.budget)}`,
      `slew: a real coordinator (\`node dist/cli/main.js serve\`, memory store), config defaults but \`budgets.rewarm\` ${fmt(s.budget)}/s (3 × capacity, burst ${fmt(s.budget / 10)}), \`rewarm.targetLatencyMs\` ${r.targetMs}, \`rewarm.maxKeys\` ${fmt(work)}; ${r.clients} SDK clients (dist/, SDK defaults) in ${r.procs} processes, \`cache.max\` ${fmt(r.keys)}, ${how}, under leased rewarm tokens`,
      `naive: the same keys, each client fetching its own at 8 at once (the SDK's refetch.concurrency) straight from \`load\`, no coordinator`,
      `checked: the coordinator's progress ${fmt(s.progress.keysDone)} done, ${fmt(s.progress.keysFailed)} failed of ${fmt(s.progress.keysTotal)}; ${fmt(s.calls)} origin calls (${fmt(s.failed)} failed); ${fmt(s.stale)} keys left without a row on the clients; naive ${fmt(r.naive.calls)} calls`,
      ...whereTheTimeWent(r, capacity),
      `latency in \`load\`: around each call in the fleet (the pool's wait and the process's event-loop delay included), per second of its end; probe: PostgreSQL's own. "cores": CPU ÷ wall time from /proc: every \`postgres\` process, the fleet's and the probe's processes, the coordinator, and the rest of the machine (others' work: the machine is shared). The fleet, the coordinator and PostgreSQL share this machine`,
    ],
  }
}

const perSecondTable = (r: Report) => {
  const s = r.slew
  const bold = (v: number) => (v > r.targetMs ? `**${ms(v)}**` : ms(v))
  return {
    name: 'slew, second by second',
    header: [
      's',
      'calls',
      'p50 / p99 in `load`, ms',
      'probe p99 ms',
      'fleet event-loop delay, worst ms',
      'rate set /s',
      'tokens granted (÷ rate)',
      'p50 / p99 the loop saw, ms',
      'clients with the change',
    ],
    rows: s.seconds.map((sec, i) => {
      const v = s.loop.get(sec.t)
      const granted = v ? v.granted - (s.loop.get(sec.t - 1)?.granted ?? 0) : Number.NaN
      return [
        String(sec.t),
        fmt(sec.calls),
        `${ms(sec.p50)} / ${bold(sec.p99)}`,
        bold(s.probe[i]?.p99 ?? Number.NaN),
        ms(sec.loopMs),
        fmt(v?.rate ?? Number.NaN),
        `${fmt(granted)} (${fmt(granted / (v?.rate ?? Number.NaN), 2)})`,
        v ? `${ms(v.p50)} / ${bold(v.p99)}` : '–',
        String(s.changedAt.filter((t) => t < (sec.t + 1) * 1000).length),
      ]
    }),
    notes: [
      "calls, p50 / p99: origin calls that ended in the second, measured in the fleet around `load`; probe p99: PostgreSQL's own; event-loop delay: the worst of the fleet processes' (`monitorEventLoopDelay`), which a call's latency measured in `load` includes",
      "rate set, tokens granted, p50 / p99 the loop saw: the coordinator's `slew_rewarm_rate_per_second`, `slew_budget_tokens_granted_total{class=\"rewarm\"}` (its increase) and `slew_origin_latency_seconds` (the origin as the clients' heartbeats reported it, each client's event-loop lag taken out), sampled every 250 ms, the last sample in the second; bold: over the target",
    ],
  }
}

export const report = (r: Report) => [capacityTable(r), compareTable(r), perSecondTable(r)]

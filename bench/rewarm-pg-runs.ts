/**
 * The rewarm-pg bench's two rewarms over the same fleet and keys: slew (a
 * real coordinator process, the fleet's SDK clients fetching under its
 * leased rewarm tokens) and naive (every client fetching its keys as fast as
 * it can). Each returns what the fleet and the probe recorded, the CPU each
 * part used, and for slew what the coordinator's rewarm loop did.
 */
import { burstOf } from '../dist/invalidation/budgets.js'
import { type Child, epochMs, sleep } from './proc.js'
import { unitCosts } from './rewarm-pg-costs.js'
import {
  count,
  fmt,
  keyOf,
  merge,
  peakStarts,
  pooled,
  quantile,
  type Recorded,
  series,
  type Take,
} from './rewarm-pg-figures.js'
import { type CpuMark, coresBetween, cpuMark, startCoordinatorProcess } from './rewarm-pg-procs.js'
import type { LoopView, Run, SlewRun } from './rewarm-pg-report.js'

export interface Bench {
  readonly databaseUrl: string
  readonly fleet: Child[]
  /** PostgreSQL's own latency, from an idle process (rewarm-pg-probe.ts). */
  readonly probe: Child
  /** The fleet's and the probe's processes, for their CPU. */
  readonly pids: number[]
  readonly work: number
  readonly rows: number
  readonly targetMs: number
  /** 'hotset': each client refills its own keys; 'listed': one push lists every key. */
  readonly mode: string
  readonly budgetX: number
  readonly timeoutMs: number
  readonly log: (line: string) => void
}

export const ask = async <T>(
  fleet: Child[],
  type: string,
  extra: Record<string, unknown> = {},
  timeoutMs = 240_000,
) => (await Promise.all(fleet.map((c) => c.ask({ type, ...extra }, type, timeoutMs)))) as T[]

export const take = async (children: Child[]) => merge(await ask<Take>(children, 'take'))

/** A run's figures from what was recorded between `from` and `end` (epoch ms). */
const runOf = (rec: Recorded, probe: Recorded, from: number, end: number, cpu: CpuMark[]): Run => ({
  completionMs: end - from,
  seconds: series(rec, from, end),
  probe: series(probe, from, end),
  calls: count(pooled(rec)),
  p99: quantile(pooled(rec), 0.99),
  probeP99: quantile(pooled(probe), 0.99),
  peak: peakStarts(rec.starts, 1000),
  cores: coresBetween(cpu[0]!, cpu[1]!),
})

interface Fetched {
  readonly calls: number
  readonly failed: number
  readonly lastEnd: number
  readonly changedAt: number[]
}

interface Progress {
  readonly state: string
  readonly rewarm: { keysDone: number; keysFailed: number; keysTotal: number }
}

/** The push: each client's hot set, or every key of the fleet listed (each client refetches those it holds). */
const push = async (b: Bench, url: string): Promise<string> => {
  const reason = `bench: ${b.work} products`
  const res =
    b.mode === 'listed'
      ? await fetch(`${url}/v1/changes`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-ndjson' },
          body: [
            JSON.stringify({ kind: 'rewarm', reason, confirm: true }),
            ...Array.from({ length: b.work }, (_, i) => JSON.stringify(keyOf(i, b.rows))),
          ].join('\n'),
        })
      : await fetch(`${url}/v1/changes`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ kind: 'rewarm', target: { hotSet: true }, reason, confirm: true }),
        })
  if (res.status !== 202) throw new Error(`push refused: ${res.status} ${await res.text()}`)
  return ((await res.json()) as { id: string }).id
}

const gauge = (metrics: string, re: RegExp) => Number(re.exec(metrics)?.[1] ?? Number.NaN)

/** What the coordinator's rewarm loop set and saw (its /metrics gauges, latency in ms), and the tokens granted so far. */
const loopView = (metrics: string): LoopView => ({
  rate: gauge(metrics, /^slew_rewarm_rate_per_second (\S+)$/m),
  p50: gauge(metrics, /^slew_origin_latency_seconds\{quantile="0.5"\} (\S+)$/m) * 1000,
  p99: gauge(metrics, /^slew_origin_latency_seconds\{quantile="0.99"\} (\S+)$/m) * 1000,
  granted: gauge(metrics, /^slew_budget_tokens_granted_total\{class="rewarm"\} (\S+)$/m) || 0,
})

/** The fleet's requests to the coordinator, from its counters. */
const requestsOf = (metrics: string) => {
  const counter = (re: RegExp) => gauge(metrics, re) || 0
  return {
    leases: counter(/^slew_lease_requests_total\{class="rewarm",granted="yes"\} (\S+)$/m),
    leasesEmpty: counter(/^slew_lease_requests_total\{class="rewarm",granted="no"\} (\S+)$/m),
    tokens: counter(/^slew_budget_tokens_granted_total\{class="rewarm"\} (\S+)$/m),
    heartbeats: counter(/^slew_heartbeats_total (\S+)$/m),
  }
}

export const slewRun = async (b: Bench, capacity: number): Promise<SlewRun> => {
  const budget = Math.round(b.budgetX * capacity)
  const co = await startCoordinatorProcess({
    budgets: { rewarm: { ratePerSec: budget, burst: burstOf(budget) } },
    rewarm: { targetLatencyMs: b.targetMs, maxKeys: b.work },
  })
  try {
    await ask(b.fleet, 'start', { url: co.url })
    await take([...b.fleet, b.probe]) // start clean
    const before = cpuMark(co.pid, b.pids)
    const from = epochMs()
    const id = await push(b, co.url)
    /** The coordinator's rewarm loop, by second of the run (the last sample in each). */
    const loop = new Map<number, LoopView>()
    let fetched: Fetched[] = []
    let progress: Progress | undefined
    let done = false
    for (const until = from + b.timeoutMs; ; ) {
      await sleep(250)
      const view = loopView(await (await fetch(`${co.url}/metrics`)).text())
      loop.set(Math.floor((epochMs() - from) / 1000), view)
      fetched = await ask<Fetched>(b.fleet, 'fetched')
      const calls = fetched.reduce((s, f) => s + f.calls, 0)
      progress = (await (await fetch(`${co.url}/v1/changes/${id}`)).json()) as Progress
      const r = progress.rewarm
      b.log(
        `slew ${fmt((epochMs() - from) / 1000, 1)} s: ${progress.state}, ${calls} calls, rate ${fmt(view.rate)}/s (p50 ${fmt(view.p50, 1)} ms, p99 ${fmt(view.p99, 1)} ms as heartbeats said), keys ${r.keysDone}/${r.keysTotal}, ${fetched.reduce((s, f) => s + f.changedAt.length, 0)} clients with the change`,
      )
      const settled = r.keysDone + r.keysFailed >= r.keysTotal
      done = calls >= b.work && progress.state === 'completed' && settled
      // Not done in time: stopped here, reported as such (the bench must end).
      if (done || epochMs() > until) break
    }
    const end = done ? Math.max(...fetched.map((f) => f.lastEnd)) : epochMs()
    const after = cpuMark(co.pid, b.pids)
    const metrics = await (await fetch(`${co.url}/metrics`)).text()
    const rec = await take(b.fleet)
    const probe = await take([b.probe])
    const verified = await ask<{ stale: number }>(b.fleet, 'verify')
    await ask(b.fleet, 'stop')
    const costs = await unitCosts({
      url: co.url,
      pid: co.pid,
      databaseUrl: b.databaseUrl,
      rows: b.rows,
    })
    return {
      ...runOf(rec, probe, from, end, [before, after]),
      done,
      budget,
      loop,
      changedAt: fetched.flatMap((f) => f.changedAt.map((t) => t - from)).sort((x, y) => x - y),
      progress: progress!.rewarm,
      stale: verified.reduce((s, v) => s + v.stale, 0),
      failed: fetched.reduce((s, f) => s + f.failed, 0),
      requests: requestsOf(metrics),
      costs,
    }
  } finally {
    await ask(b.fleet, 'stop') // again, if the run failed: closing twice is a no-op
    await co.stop()
  }
}

export const naiveRun = async (b: Bench): Promise<Run> => {
  await take([...b.fleet, b.probe])
  const before = cpuMark(undefined, b.pids)
  const from = epochMs()
  const ends = await ask<{ endAt: number }>(b.fleet, 'naive')
  const end = Math.max(...ends.map((e) => e.endAt))
  const after = cpuMark(undefined, b.pids)
  return runOf(await take(b.fleet), await take([b.probe]), from, end, [before, after])
}

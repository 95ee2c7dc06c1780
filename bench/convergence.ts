/**
 * `npm run bench -- convergence` (issue 17, item 5): push → every client
 * serves the new value, against the ideal (total cost ÷ rate + the bakes
 * between waves), on a real fleet: a coordinator started as users start one
 * (`slew serve`, memory store), and `SLEW_BENCH_CONV_CLIENTS` SDK clients in
 * `SLEW_BENCH_CONV_PROCS` processes, each caching `…_ENTRIES` keys and
 * reading them at `…_RPS` while one invalidate-all rolls under
 * `budgets.invalidate` at `…_RATE`/s with the default waves.
 *
 * Figures, per run: the push complete (the rollout's last delivery) ÷ ideal;
 * the last client serving only the new value ÷ ideal (the issue's figure);
 * and where the tail between them goes: per wave, from the wave's delivery to
 * its last client converged, and the origin calls the push caused.
 */
import { type Child, epochMs, median, sleep, spawnChild } from './proc.js'
import { startCoordinatorProcess } from './rewarm-pg-procs.js'

const env = (name: string, fallback: number): number => {
  const v = process.env[name]
  return v === undefined || v === '' ? fallback : Number(v)
}
const CLIENTS = env('SLEW_BENCH_CONV_CLIENTS', 240)
const PROCS = env('SLEW_BENCH_CONV_PROCS', 4)
const RPS = env('SLEW_BENCH_CONV_RPS', 2)
const RUNS = env('SLEW_BENCH_CONV_RUNS', 2)
const BAKE_MS = 2000
const STEPS = [0.01, 0.05, 0.25, 1]

/** A fleet to push to: cache sizes, the budget, the origin's latency. */
interface Fleet {
  readonly name: string
  /** Entries per client (the mean, when skewed). */
  readonly entries: number
  /** 0: all alike; s: sizes ∝ u^s, the largest s + 1 times the mean (convergence-fleet.ts). */
  readonly skew: number
  readonly rate: number
  readonly latencyMs: number
}

/**
 * The issue's fleet (8,880 entries, 450/s), and one where an app server's
 * own pace binds: skewed caches (the largest 500 entries), a slower origin
 * (150 ms a call), so the largest client needs 9.4 s at its
 * `refetch.concurrency` of 8 however many tokens it is given. Both keep
 * the fleet's CPU (SDK, leases, coordinator) well inside 2 cores: at
 * 4,500 refetches/s this machine's CPU, not slew, set the tail.
 * `SLEW_BENCH_CONV_ENTRIES`, `…_SKEW`, `…_RATE`, `…_LATENCY_MS` run one
 * fleet of your own instead.
 */
const FLEETS: readonly Fleet[] = process.env.SLEW_BENCH_CONV_ENTRIES
  ? [
      {
        name: 'custom',
        entries: env('SLEW_BENCH_CONV_ENTRIES', 37),
        skew: env('SLEW_BENCH_CONV_SKEW', 0),
        rate: env('SLEW_BENCH_CONV_RATE', 450),
        latencyMs: env('SLEW_BENCH_CONV_LATENCY_MS', 20),
      },
    ]
  : [
      { name: 'even caches', entries: 37, skew: 0, rate: 450, latencyMs: 20 },
      { name: 'skewed caches, client-bound', entries: 125, skew: 3, rate: 1500, latencyMs: 150 },
    ]

interface Wave {
  index: number
  fraction: number
  clients: number
  cost: number
}
type Converged = {
  changedAt: number[]
  servedAt: number[]
  calls: number
  reads: number
} & Record<string, unknown>

const fmt = (x: number, d = 2) => x.toFixed(d)

const one = async (f: Fleet, run: number) => {
  const co = await startCoordinatorProcess({
    budgets: { invalidate: { ratePerSec: f.rate, burst: f.rate } },
    waves: { steps: STEPS, bakeMs: BAKE_MS },
    admission: { ratePerSec: 1000, burst: 1000 },
  })
  const per = Math.ceil(CLIENTS / PROCS)
  const fleet: Child[] = []
  try {
    for (let p = 0; p < PROCS; p++) {
      const count = Math.min(per, CLIENTS - p * per)
      if (count <= 0) break
      const child = spawnChild('convergence-fleet.ts', [
        String(p),
        String(count),
        String(f.entries),
        String(RPS),
        String(f.latencyMs),
        String(f.skew),
      ])
      await child.next('ready')
      fleet.push(child)
    }
    await Promise.all(fleet.map((c) => c.ask({ type: 'start', url: co.url }, 'start')))
    // Steady demand for a moment before the push.
    await sleep(2000)
    await Promise.all(fleet.map((c) => c.ask({ type: 'bump', version: run + 1 }, 'bump')))
    const t0 = epochMs()
    const res = await fetch(`${co.url}/v1/changes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        kind: 'invalidate',
        target: { all: true },
        confirm: true,
        reason: 'bench: convergence',
      }),
    })
    if (res.status !== 202) throw new Error(`push: ${res.status} ${await res.text()}`)
    const pushed = (await res.json()) as {
      id: string
      plan: { waves: Wave[]; estimatedMs: number }
    }
    const waves = pushed.plan.waves
    const bakesMs = Math.max(0, waves.length - 1) * BAKE_MS
    let deliveredCost = 0
    let completeMs = 0
    let last: Converged[] = []
    for (;;) {
      await sleep(50)
      if (completeMs === 0) {
        const r = (await (await fetch(`${co.url}/v1/changes/${pushed.id}`)).json()) as {
          state: string
          deliveredCost: number
        }
        if (r.state === 'completed') {
          completeMs = epochMs() - t0
          deliveredCost = r.deliveredCost
        } else if (r.state !== 'rolling') throw new Error(`the rollout is ${r.state}`)
      }
      last = await Promise.all(
        fleet.map((c) => c.ask<Converged & { type: string }>({ type: 'converged' }, 'converged')),
      )
      const served = last.flatMap((c) => c.servedAt)
      if (completeMs > 0 && served.every((t) => t > 0)) break
      if (epochMs() - t0 > 300_000) throw new Error('no convergence within 300 s')
    }
    // The cost paced (B1), as the rollout counted it when done: the refetching it asked for.
    const cost = deliveredCost
    const idealMs = (cost / f.rate) * 1000 + bakesMs
    const changed = last.flatMap((c) => c.changedAt).map((t) => t - t0)
    const served = last.flatMap((c) => c.servedAt).map((t) => t - t0)
    const lag = served.map((s, i) => s - changed[i]!)
    const calls = last.reduce((s, c) => s + c.calls, 0)
    const lastServed = Math.max(...served)
    // Per wave, as the fleet saw it: clients by when they took the change up, in wave sizes.
    const order = changed.map((c, i) => ({ c, s: served[i]! })).sort((a, b) => a.c - b.c)
    let from = 0
    const perWave = waves.map((w) => {
      const xs = order.slice(from, from + w.clients)
      from += w.clients
      return {
        index: w.index,
        clients: w.clients,
        deliveredMs: xs.length ? Math.max(...xs.map((x) => x.c)) : 0,
        servedMs: xs.length ? Math.max(...xs.map((x) => x.s)) : 0,
      }
    })
    return {
      fleet: f,
      run,
      planned: waves.reduce((s, w) => s + w.clients, 0),
      plannedCost: waves.reduce((s, w) => s + w.cost, 0),
      cost,
      idealMs,
      estimatedMs: pushed.plan.estimatedMs,
      completeMs,
      lastServedMs: lastServed,
      medianLagMs: median(lag),
      maxLagMs: Math.max(...lag),
      calls,
      perWave,
    }
  } finally {
    await Promise.all(fleet.map((c) => c.ask({ type: 'close' }, 'close', 30_000).catch(() => {})))
    await Promise.all(fleet.map((c) => c.kill()))
    await co.stop()
  }
}

export const convergence = async () => {
  const runs = []
  for (const f of FLEETS) {
    for (let r = 0; r < RUNS; r++) {
      const x = await one(f, r)
      console.error(
        `convergence ${f.name} run ${r + 1}: ideal ${fmt(x.idealMs / 1000)} s, complete ${fmt(x.completeMs / x.idealMs, 3)}, last served ${fmt(x.lastServedMs / x.idealMs, 3)}; cost planned ${x.plannedCost}, paced ${x.cost}`,
      )
      runs.push(x)
    }
  }
  return {
    name: `Convergence: ${CLIENTS} SDK clients reading ${RPS}/s each, one invalidate-all`,
    header: [
      'fleet',
      'run',
      'clients in the plan',
      'cost',
      'ideal (s)',
      'push complete ÷ ideal',
      'last client serves new ÷ ideal',
      'delivery → served, median / max (ms)',
      'origin calls ÷ cost',
    ],
    rows: runs.map((x) => [
      `${x.fleet.name} (${x.fleet.entries}${x.fleet.skew > 0 ? ' mean' : ''} entries, ${x.fleet.rate}/s, ${x.fleet.latencyMs} ms)`,
      String(x.run + 1),
      String(x.planned),
      String(x.cost),
      fmt(x.idealMs / 1000),
      fmt(x.completeMs / x.idealMs, 3),
      `**${fmt(x.lastServedMs / x.idealMs, 3)}**`,
      `${Math.round(x.medianLagMs)} / ${Math.round(x.maxLagMs)}`,
      fmt(x.calls / x.cost, 3),
    ]),
    notes: [
      `ideal = cost ÷ rate + ${STEPS.length - 1} bakes of ${BAKE_MS} ms (waves ${STEPS.join(', ')}); target: last client ≤ 1.15 × ideal`,
      ...runs.map(
        (x) =>
          `${x.fleet.name}, run ${x.run + 1}, per wave (clients: delivered → last served, s): ${x.perWave.map((w) => `${w.clients}: ${fmt(w.deliveredMs / 1000)} → ${fmt(w.servedMs / 1000)}`).join('; ')}`,
      ),
    ],
  }
}

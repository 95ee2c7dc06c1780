/**
 * The origin's capacity, as the rewarm-pg bench measures it before the
 * rewarms: the fleet processes call the app server's own `load` (the same
 * primary-key query, through the same pools) in loops on random products, at
 * rising total concurrency spread over the processes, STAGE_MS per level,
 * until a level's p99 passes the target (a level over it is run once more:
 * the machine is shared, one noisy level must not end the search). Capacity:
 * the best throughput of a level under the target.
 */
import type { Child } from './proc.js'
import { count, pooled, quantile } from './rewarm-pg-figures.js'
import { coresBetween, cpuMark } from './rewarm-pg-procs.js'
import { type Bench, take } from './rewarm-pg-runs.js'

export const STAGE_MS = Number(process.env.SLEW_BENCH_PG_STAGE_MS ?? 3000)
/** Total origin calls in flight, level by level (past the pools' connections, calls wait for one). */
export const LEVELS = [1, 2, 4, 8, 16, 32, 64, 128, 256] as const

export interface Stage {
  readonly concurrency: number
  readonly perSec: number
  readonly p50: number
  readonly p99: number
  /** The probe's p99 meanwhile: PostgreSQL's own latency. */
  readonly probeP99: number
  readonly cores: ReturnType<typeof coresBetween>
}

/** `total` loops over `n` processes, as evenly as they go. */
const spread = (total: number, n: number): number[] =>
  Array.from({ length: n }, (_, i) => Math.floor(total / n) + (i < total % n ? 1 : 0))

const stage = async (b: Bench, concurrency: number, ms: number): Promise<Stage> => {
  const per = spread(concurrency, b.fleet.length)
  await take([...b.fleet, b.probe])
  const before = cpuMark(undefined, b.pids)
  const t0 = performance.now()
  await Promise.all(
    b.fleet.map((c: Child, i) =>
      c.ask({ type: 'capacity', concurrency: per[i], ms }, 'capacity', ms + 60_000),
    ),
  )
  const wall = performance.now() - t0
  const cores = coresBetween(before, cpuMark(undefined, b.pids))
  const h = pooled(await take(b.fleet))
  return {
    concurrency,
    perSec: (count(h) * 1000) / wall,
    p50: quantile(h, 0.5),
    p99: quantile(h, 0.99),
    probeP99: quantile(pooled(await take([b.probe])), 0.99),
    cores,
  }
}

/** `connections`: the pools' total, opened (and the statement prepared on each) by a warm-up not kept. */
export const measureCapacity = async (b: Bench, o: { connections: number; given?: number }) => {
  const warm = await stage(b, o.connections, 1000)
  // Told (a diagnostic run, SLEW_BENCH_PG_CAPACITY): not measured.
  if (o.given !== undefined) {
    const best = { ...warm, perSec: o.given }
    return { stages: [best], best }
  }
  const stages: Stage[] = []
  for (const c of LEVELS) {
    let s = await stage(b, c, STAGE_MS)
    if (s.p99 > b.targetMs) {
      stages.push(s)
      s = await stage(b, c, STAGE_MS)
    }
    stages.push(s)
    b.log(`capacity: ${c} in flight, ${Math.round(s.perSec)}/s, p99 ${s.p99} ms`)
    if (s.p99 > b.targetMs) break
  }
  const under = stages.filter((s) => s.p99 <= b.targetMs)
  const best = under.reduce<Stage | undefined>(
    (x, s) => (x && x.perSec >= s.perSec ? x : s),
    undefined,
  )
  if (!best)
    throw new Error(
      `no level had its p99 under ${b.targetMs} ms: the origin is over its target idle`,
    )
  return { stages, best }
}

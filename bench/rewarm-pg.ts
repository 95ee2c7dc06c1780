/**
 * Rewarm against a real PostgreSQL (issue 17): the simulator's rewarm
 * scenario, off the simulator. In one run:
 *
 * 1. The origin's capacity: the app server's own `load` (examples/pg-origin.ts,
 *    one prepared primary-key query on a seeded table of 1,000,000 products)
 *    called in loops from the fleet's processes, at rising concurrency, until
 *    p99 passes the target; capacity = the best throughput under it.
 * 2. slew: a real coordinator process (`slew serve`, defaults but for the
 *    rewarm budget, 3 × capacity as in the simulator, so the adaptive rate and
 *    not the budget has to find the capacity, and `rewarm.targetLatencyMs` =
 *    the target) and 50 real SDK clients in 5 processes, 4,000 products each:
 *    200,000 origin calls of 200,000 rows. By default a hot-set rewarm (each
 *    client starts empty and refills its own keys, its `hotKeys`, as after a
 *    restart); SLEW_BENCH_PG_MODE=listed: each client holds its keys and one
 *    NDJSON push lists all 200,000 (each client refetches those it holds).
 * 3. naive: the same clients' keys, every client fetching its own as fast as
 *    it can (the SDK's refetch.concurrency, 8 at once), no coordinator.
 *
 * Latency is measured where the app server sees the origin, around each
 * `load` call (pool wait and the app's own event-loop delay included), and
 * apart from the app servers by a probe (one query at a time from an idle
 * process: PostgreSQL's own latency). The fleet, the coordinator and
 * PostgreSQL share this machine (2 cores on CI).
 *
 * Environment (all optional): SLEW_BENCH_PG_URL (default
 * postgres://postgres@127.0.0.1:5432/slew_bench: created and seeded if
 * missing, a database of its own), SLEW_BENCH_PG_CLIENTS (50),
 * SLEW_BENCH_PG_PROCS (5), SLEW_BENCH_PG_KEYS (4000 per client),
 * SLEW_BENCH_PG_TARGET_MS (20), SLEW_BENCH_PG_POOL (12 connections per
 * process), SLEW_BENCH_PG_MODE (hotset), SLEW_BENCH_PG_STAGE_MS (3000 per
 * capacity level), SLEW_BENCH_PG_SLEW_MS (150000: slew's run is stopped
 * there, and reported as not done, so the bench ends in about 5 minutes); diagnostics: SLEW_BENCH_PG_CAPACITY (skip measuring it),
 * SLEW_BENCH_PG_PROF (a folder: the fleet's CPU profiles of the slew run).
 */
import { DEFAULT_ROWS, ensureDatabase, redact, seed } from '../examples/pg-origin.js'
import { type Child, spawnChild } from './proc.js'
import { measureCapacity } from './rewarm-pg-capacity.js'
import { report } from './rewarm-pg-report.js'
import { type Bench, naiveRun, slewRun } from './rewarm-pg-runs.js'

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback)
const DATABASE_URL =
  process.env.SLEW_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/slew_bench'
const CLIENTS = env('SLEW_BENCH_PG_CLIENTS', 50)
const PROCS = env('SLEW_BENCH_PG_PROCS', 5)
const KEYS = env('SLEW_BENCH_PG_KEYS', 4000)
const TARGET_MS = env('SLEW_BENCH_PG_TARGET_MS', 20)
/** Connections per fleet process: 5 × 12 (+ 1 for the probe) of the server's default max_connections of 100. */
const POOL = env('SLEW_BENCH_PG_POOL', 12)
const MODE = process.env.SLEW_BENCH_PG_MODE ?? 'hotset'
const PROF = process.env.SLEW_BENCH_PG_PROF
const ROWS = DEFAULT_ROWS

/** Progress on stderr, about every 2 s (the tables go to stdout). */
let logged = 0
const log = (line: string) => {
  if (performance.now() - logged < 2000) return
  logged = performance.now()
  process.stderr.write(`rewarm-pg: ${line}\n`)
}

export const rewarmPg = async () => {
  if (CLIENTS % PROCS !== 0)
    throw new Error('SLEW_BENCH_PG_CLIENTS must be a multiple of SLEW_BENCH_PG_PROCS')
  await ensureDatabase(DATABASE_URL)
  await seed(DATABASE_URL, ROWS)
  const fleet = Array.from({ length: PROCS }, (_, i) =>
    spawnChild('rewarm-pg-fleet.ts', [
      DATABASE_URL,
      String(i),
      String(CLIENTS / PROCS),
      String(KEYS),
      String(POOL),
      String(ROWS),
      MODE,
      ...(PROF ? [PROF] : []),
    ]),
  )
  const probe = spawnChild('rewarm-pg-probe.ts', [DATABASE_URL, String(ROWS), '5'])
  const all: Child[] = [...fleet, probe]
  try {
    await Promise.all(all.map((c) => c.next('ready')))
    const b: Bench = {
      databaseUrl: DATABASE_URL,
      fleet,
      probe,
      pids: all.map((c) => c.proc.pid!),
      work: CLIENTS * KEYS,
      rows: ROWS,
      targetMs: TARGET_MS,
      mode: MODE,
      budgetX: 3,
      timeoutMs: env('SLEW_BENCH_PG_SLEW_MS', 150_000),
      log,
    }
    const given = process.env.SLEW_BENCH_PG_CAPACITY
    const capacity = await measureCapacity(b, {
      connections: POOL * PROCS,
      ...(given && { given: Number(given) }),
    })
    const slew = await slewRun(b, capacity.best.perSec)
    const naive = await naiveRun(b)
    return report({
      databaseUrl: redact(DATABASE_URL),
      clients: CLIENTS,
      procs: PROCS,
      keys: KEYS,
      pool: POOL,
      rows: ROWS,
      targetMs: TARGET_MS,
      mode: MODE,
      capacity,
      slew,
      naive,
    })
  } finally {
    await Promise.all(fleet.map((c) => c.ask({ type: 'close' }, 'close', 30_000).catch(() => {})))
    await Promise.all(all.map((c) => c.kill()))
  }
}

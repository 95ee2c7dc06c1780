/**
 * Budget decisions per second through the Redis store (issue 4): slew's
 * batched lease grant — `RedisStore.grant(bucket, { ratePerSec, burst },
 * want, now)` from dist/, one Lua script call that grants up to `want`
 * tokens, each granted token counted as one decision — against
 * rate-limiter-flexible's `RateLimiterRedis.consume(key)` (one decision per
 * call, its own ioredis client), on the same private Redis, in the same
 * process and run, at the same number of calls in flight (1 and 100).
 *
 * The budgets are opened up so that neither refuses (this measures
 * throughput, not refusals): slew `ratePerSec: 1e9, burst: 1e9`, RLF
 * `points: 1e9, duration: 1`; refusals are counted and printed anyway.
 * slew is measured with `want` = 50 (the coordinator's leases.maxBatch
 * default), 20 (the SDK's refetch.maxBatch default) and 1 (one token per
 * call: the per-call cost of the two scripts, like for like). A reference
 * row, not the target's baseline: RLF `consume(key, 50)`, which also counts
 * 50 in one call (all or nothing, where slew's grant is partial).
 *
 * Each sample runs one variant for SAMPLE_MS; a round runs every variant
 * once, in an order that rotates from round to round; a warm-up round is
 * not kept; the table gives medians over the rounds. CPU per call is split
 * into this process (ioredis, the bench loop) and the redis-server process
 * (/proc, 10 ms resolution).
 *
 * A second table is a deterministic check, not a timing: the most decisions
 * in any window of 2 ms, 100 ms and 1 s that each limiter lets through, with
 * time passed in explicitly (slew: the real RedisStore on the same Redis;
 * the fixed window: RLF's RateLimiterMemory under a fake `Date.now`, which
 * has RateLimiterRedis's semantics), plus RateLimiterRedis itself on the real
 * clock across one of its window edges.
 */
import { Redis } from 'ioredis'
import { RateLimiterMemory, RateLimiterRedis, type RateLimiterRes } from 'rate-limiter-flexible'
import { RedisStore } from '../dist/store/redis.js'
import { median, sleep } from './proc.js'
import { type PrivateRedis, procCpuMs, startPrivateRedis } from './redis-server.js'

const SAMPLE_MS = Number(process.env.SLEW_BENCH_REDIS_MS ?? 1500)
const REPS = Number(process.env.SLEW_BENCH_REPS ?? 7)
const IN_FLIGHT = [1, 100] as const
const OPEN = { ratePerSec: 1e9, burst: 1e9 }

interface Variant {
  readonly name: string
  readonly perCall: string
  /** The baseline, a slew row (ratio in bold), or a reference row (not the target's baseline). */
  readonly role: 'baseline' | 'slew' | 'reference'
  /** One call; resolves to the decisions it made (0 when refused). */
  readonly op: () => Promise<number>
}

interface Sample {
  decisionsPerSec: number
  callsPerSec: number
  refused: number
  benchUsPerCall: number
  redisUsPerCall: number
  scriptUsPerCall: number
}

/** Redis's own count of time spent in EVALSHA, µs per call, since the last CONFIG RESETSTAT. */
const scriptUs = async (admin: Redis): Promise<number> => {
  const info = await admin.info('commandstats')
  return Number(/cmdstat_evalsha:calls=\d+,usec=\d+,usec_per_call=([\d.]+)/.exec(info)?.[1] ?? NaN)
}

const drive = async (v: Variant, inFlight: number, ms: number, redisPid: number, admin: Redis) => {
  // Only on the bench's own private server: resets counters, touches no data.
  await admin.config('RESETSTAT')
  let decisions = 0
  let calls = 0
  let refused = 0
  const cpu0 = process.cpuUsage()
  const r0 = procCpuMs(redisPid)
  const t0 = performance.now()
  const end = t0 + ms
  const worker = async () => {
    while (performance.now() < end) {
      const n = await v.op()
      calls++
      if (n === 0) refused++
      decisions += n
    }
  }
  await Promise.all(Array.from({ length: inFlight }, worker))
  const elapsed = performance.now() - t0
  const cpu = process.cpuUsage(cpu0)
  const redisMs = procCpuMs(redisPid) - r0
  const script = await scriptUs(admin)
  return {
    decisionsPerSec: (decisions / elapsed) * 1000,
    callsPerSec: (calls / elapsed) * 1000,
    refused,
    benchUsPerCall: (cpu.user + cpu.system) / calls,
    redisUsPerCall: (redisMs * 1000) / calls,
    scriptUsPerCall: script,
  } satisfies Sample
}

const fmtInt = (x: number) => Math.round(x).toLocaleString('en-US')

// ---- the throughput figure ----------------------------------------------------

const throughput = async (redis: PrivateRedis) => {
  const store = await new RedisStore({
    fleet: `bench-budget-${Date.now()}`,
    url: redis.url,
  }).connect()
  const rlfClient = new Redis(redis.url, { lazyConnect: true })
  await rlfClient.connect()
  const admin = new Redis(redis.url, { lazyConnect: true })
  await admin.connect()
  const rlf = new RateLimiterRedis({
    storeClient: rlfClient,
    points: 1e9,
    duration: 1,
    keyPrefix: `bench-rlf-${Date.now()}`,
  })
  /** RLF refuses by rejecting with a RateLimiterRes (not an Error): 0 decisions. */
  const consumed = (key: string, points: number) =>
    rlf.consume(key, points).then(
      () => points,
      (e: unknown) => {
        if (e instanceof Error) throw e
        return 0
      },
    )
  const slewVariant = (want: number): Variant => ({
    name: `slew \`RedisStore.grant\`, want ${want}`,
    perCall: `up to ${want}`,
    role: 'slew',
    op: async () => (await store.grant('invalidate:tokens', OPEN, want, Date.now())).granted,
  })
  const variants: Variant[] = [
    {
      name: 'rate-limiter-flexible `RateLimiterRedis.consume` (baseline)',
      perCall: '1',
      role: 'baseline',
      op: () => consumed('k', 1),
    },
    slewVariant(50),
    slewVariant(20),
    slewVariant(1),
    {
      name: 'reference: RLF `consume(key, 50)` (50 points per call, all or nothing)',
      perCall: '50',
      role: 'reference',
      op: () => consumed('k50', 50),
    },
  ]
  const rows: string[][] = []
  const ratios: Record<string, number> = {}
  try {
    for (const inFlight of IN_FLIGHT) {
      const samples = new Map<Variant, Sample[]>(variants.map((v) => [v, []]))
      for (let rep = -1; rep < REPS; rep++) {
        // Rotate the order each round; rep -1 is the warm-up, not kept.
        const k = ((rep % variants.length) + variants.length) % variants.length
        const order = [...variants.slice(k), ...variants.slice(0, k)]
        for (const v of order) {
          const s = await drive(v, inFlight, rep < 0 ? 500 : SAMPLE_MS, redis.process.pid!, admin)
          if (rep >= 0) samples.get(v)!.push(s)
        }
      }
      const base = median(samples.get(variants[0]!)!.map((s) => s.decisionsPerSec))
      for (const v of variants) {
        const ss = samples.get(v)!
        const d = median(ss.map((s) => s.decisionsPerSec))
        ratios[`${inFlight}:${v.name}`] = d / base
        rows.push([
          String(inFlight),
          v.name,
          v.perCall,
          fmtInt(median(ss.map((s) => s.callsPerSec))),
          fmtInt(d),
          ss.map((s) => Math.round(s.decisionsPerSec / 1000)).join(', '),
          median(ss.map((s) => s.benchUsPerCall)).toFixed(1),
          median(ss.map((s) => s.redisUsPerCall)).toFixed(1),
          median(ss.map((s) => s.scriptUsPerCall)).toFixed(1),
          String(ss.reduce((n, s) => n + s.refused, 0)),
          v.role === 'slew'
            ? `**${(d / base).toFixed(2)}**`
            : v.role === 'reference'
              ? (d / base).toFixed(2)
              : '1.00',
        ])
      }
    }
  } finally {
    await store.close()
    rlfClient.disconnect()
    admin.disconnect()
  }
  const r = (inFlight: number, want: number) =>
    ratios[`${inFlight}:slew \`RedisStore.grant\`, want ${want}`]!
  const ref = (inFlight: number) =>
    ratios[`${inFlight}:reference: RLF \`consume(key, 50)\` (50 points per call, all or nothing)`]!
  const verdict = (x: number) => `${x.toFixed(2)} (${x >= 1 ? 'met' : 'NOT met'})`
  return {
    name: 'budget decisions per second through Redis: slew lease grants vs rate-limiter-flexible',
    header: [
      'in flight',
      'limiter',
      'decisions / call',
      'calls/s (median)',
      'decisions/s (median)',
      'runs (k decisions/s)',
      'bench CPU µs / call',
      'redis CPU µs / call',
      'script µs / call',
      'refused',
      '÷ baseline',
    ],
    rows,
    notes: [
      `median of ${REPS} samples of ${SAMPLE_MS} ms per row after a warm-up round, the order of the ${variants.length} rotating each round; one private redis-server ${redis.url}, one ioredis connection per limiter, both in this process`,
      'slew: `ratePerSec: 1e9, burst: 1e9` (bucket `invalidate:tokens`, `now` = Date.now()); RLF: `points: 1e9, duration: 1`; each granted token is one decision',
      'bench CPU: this process (ioredis, the loop), per call; redis CPU: the whole redis-server process per call (/proc, 10 ms ticks: network I/O, parsing, the script); script: the time Redis itself counts inside EVALSHA (`INFO commandstats` usec_per_call, counters reset before each sample)',
      `target: slew ÷ RLF ≥ 1.0 at the same concurrency — 100 in flight: want 50 ${verdict(r(100, 50))}, want 20 ${verdict(r(100, 20))}; 1 in flight: want 50 ${verdict(r(1, 50))}, want 20 ${verdict(r(1, 20))}`,
      `like for like, one token per call (want 1): ${r(100, 1).toFixed(2)} at 100 in flight, ${r(1, 1).toFixed(2)} at 1 in flight; slew want 50 ÷ RLF \`consume(key, 50)\` (both 50 per call; RLF's is all or nothing, slew's grant is partial): ${(r(100, 50) / ref(100)).toFixed(2)} at 100 in flight, ${(r(1, 50) / ref(1)).toFixed(2)} at 1 in flight`,
    ],
  }
}

// ---- the sliding-bound check (deterministic: time is passed in) -----------------

const RATE = 100
const BURST = 100
const WINDOWS = [2, 100, 1000] as const

type Schedule = { name: string; steps: { at: number; want: number }[] }
const ALL = 1_000_000 // "as many as allowed"
const schedules: Schedule[] = [
  {
    name: 'edge: 1 at t=0 ms, then as many as allowed at t=999 and at t=1001',
    steps: [
      { at: 0, want: 1 },
      { at: 999, want: ALL },
      { at: 1001, want: ALL },
    ],
  },
  {
    name: 'greedy: as many as allowed at every 1 ms, t=0…3000',
    steps: Array.from({ length: 3001 }, (_, at) => ({ at, want: ALL })),
  },
]

/** Most decisions in any window [s, s+T] (closed: both ends count, as for the bound). */
const peakIn = (events: { at: number; n: number }[], T: number) => {
  let best = 0
  for (const e of events) {
    let sum = 0
    for (const f of events) if (f.at >= e.at && f.at <= e.at + T) sum += f.n
    best = Math.max(best, sum)
  }
  return best
}

const describe = (events: { at: number; n: number }[]) =>
  events.length <= 4
    ? events.map((e) => `t=${e.at}: ${e.n}`).join(', ')
    : `${events.length} grants, ${events.reduce((n, e) => n + e.n, 0)} decisions`

const slidingCheck = async (redis: PrivateRedis) => {
  const store = await new RedisStore({
    fleet: `bench-window-${Date.now()}`,
    url: redis.url,
  }).connect()
  const rows: string[][] = []
  let slewOk = true
  let fixedPeak2ms = 0
  const T0 = 1_000_000 // an arbitrary origin for the explicit times
  try {
    for (const [i, sch] of schedules.entries()) {
      // slew: the real Lua script on the same Redis, time passed in.
      const slew: { at: number; n: number }[] = []
      for (const s of sch.steps) {
        const g = await store.grant(
          `check-${i}`,
          { ratePerSec: RATE, burst: BURST },
          s.want,
          T0 + s.at,
        )
        if (g.granted > 0) slew.push({ at: s.at, n: g.granted })
      }
      // Fixed window: RLF's memory limiter, same semantics as RateLimiterRedis
      // (the window opens at a key's first consume and lasts `duration`), under a fake clock.
      const fixed: { at: number; n: number }[] = []
      const rlf = new RateLimiterMemory({ points: RATE, duration: 1, keyPrefix: `check-${i}` })
      const realNow = Date.now
      try {
        for (const s of sch.steps) {
          Date.now = () => T0 + s.at
          let n = 0
          for (; n < s.want; n++) {
            const ok = await rlf.consume('k').then(
              () => true,
              () => false,
            )
            if (!ok) break
          }
          if (n > 0) fixed.push({ at: s.at, n })
        }
      } finally {
        Date.now = realNow
        await rlf.delete('k')
      }
      const peaks = (ev: { at: number; n: number }[]) => WINDOWS.map((T) => peakIn(ev, T))
      const sp = peaks(slew)
      const fp = peaks(fixed)
      WINDOWS.forEach((T, j) => {
        if (sp[j]! > BURST + (RATE * T) / 1000 + 1e-9) slewOk = false
      })
      fixedPeak2ms = Math.max(fixedPeak2ms, fp[0]!)
      rows.push(
        [sch.name, `slew (rate ${RATE}/s, burst ${BURST})`, describe(slew), ...sp.map(String)],
        [sch.name, `fixed window (RLF, ${RATE} points / 1 s)`, describe(fixed), ...fp.map(String)],
      )
    }
    rows.push([
      'bound',
      'slew: burst + rate·T',
      '',
      ...WINDOWS.map((T) => String(BURST + (RATE * T) / 1000)),
    ])
    rows.push([
      'bound',
      'fixed window: 2·points for any T ≤ duration',
      '',
      ...WINDOWS.map(() => '200'),
    ])
  } finally {
    await store.close()
  }

  // RateLimiterRedis itself, real clock, across one of its window edges.
  const client = new Redis(redis.url, { lazyConnect: true })
  await client.connect()
  let real = ''
  try {
    const rlf = new RateLimiterRedis({
      storeClient: client,
      points: RATE,
      duration: 1,
      keyPrefix: `edge-${Date.now()}`,
    })
    const takeAll = async () => {
      let n = 0
      for (;;) {
        try {
          await rlf.consume('k')
          n++
        } catch (e) {
          if (e instanceof Error) throw e
          return n
        }
      }
    }
    const opened = (await rlf.consume('k')) as RateLimiterRes
    await sleep(Math.max(0, opened.msBeforeNext - 60))
    const a0 = performance.now()
    const first = await takeAll()
    // Wait for Redis to expire the window (its own clock), then take again.
    while ((await rlf.get('k')) !== null) await sleep(2)
    const second = await takeAll()
    const span = performance.now() - a0
    real = `RateLimiterRedis on the real clock (same Redis): 1 consume opens the window; ~60 ms before it ends ${first} more are granted, and right after it ends ${second}: ${first + second} decisions within ${span.toFixed(0)} ms`
  } finally {
    client.disconnect()
  }

  return {
    name: `sliding bound vs fixed window: most decisions in any window (rate ${RATE}/s, burst ${BURST}; deterministic, time passed in)`,
    header: ['schedule', 'limiter', 'granted', 'any 2 ms', 'any 100 ms', 'any 1 s'],
    rows,
    notes: [
      'slew: the real `RedisStore.grant` Lua script on the bench Redis, `now` passed in explicitly; fixed window: rate-limiter-flexible `RateLimiterMemory` (same fixed-window semantics as `RateLimiterRedis`: a window opens at the key’s first consume and lasts `duration`) under a fake `Date.now`; "as many as allowed" = one grant of up to 1,000,000 for slew, consumes of 1 until the first refusal for RLF',
      `slew within burst + rate·T in every window: ${slewOk ? 'yes' : 'NO'}; fixed window's most in any 2 ms: ${fixedPeak2ms} (≈ 2 × its ${RATE} points)`,
      'with burst = rate the two worst cases over a whole 1 s window are the same (200): the difference is that slew’s bound holds for every window length T (≤ burst + rate·T, so ≤ 100.2 in 2 ms), while a fixed window lets 2 × points through in any short span across its edge',
      real,
    ],
  }
}

export const redisBudget = async () => {
  const redis = await startPrivateRedis()
  try {
    const check = await slidingCheck(redis)
    const fig = await throughput(redis)
    return [fig, check]
  } finally {
    await redis.stop()
  }
}

/**
 * The rewarm-pg bench's arithmetic: which keys a client holds, the origin
 * calls the fleet processes recorded merged into one record, latency
 * quantiles, the busiest window, and the per-second series a run is judged
 * on. Pure functions of what was recorded.
 */

/** Latency histogram: ms × 10 (0.1 ms buckets) → calls. */
export type Hist = Map<number, number>

/** Origin calls as recorded: starts per 10 ms bucket (epoch ms ÷ 10), latencies per epoch second of their end. */
export interface Recorded {
  readonly starts: Map<number, number>
  readonly seconds: Map<number, Hist>
  /** The fleet processes' worst event-loop delay per epoch second, ms. */
  readonly loopDelay: Map<number, number>
}

/** What a fleet process sends back for `take`. */
export interface Take {
  readonly starts: [number, number][]
  readonly seconds: [number, [number, number][]][]
  readonly loopDelay: [number, number][]
}

/**
 * The product key at position `i` of the push: spread over the table (7919 is
 * prime, so positions below `rows` never repeat a product when `rows` is a
 * power of ten).
 */
export const keyOf = (i: number, rows: number): string => `product:${1 + ((i * 7919) % rows)}`

const add = (into: Map<number, number>, k: number, n: number) => into.set(k, (into.get(k) ?? 0) + n)

export const merge = (takes: readonly Take[]): Recorded => {
  const starts = new Map<number, number>()
  const seconds = new Map<number, Hist>()
  const loopDelay = new Map<number, number>()
  for (const t of takes) {
    for (const [s, ms] of t.loopDelay) loopDelay.set(s, Math.max(ms, loopDelay.get(s) ?? 0))
    for (const [b, n] of t.starts) add(starts, b, n)
    for (const [s, h] of t.seconds) {
      const into: Hist = seconds.get(s) ?? new Map()
      seconds.set(s, into)
      for (const [b, n] of h) add(into, b, n)
    }
  }
  return { starts, seconds, loopDelay }
}

/** Every second's latencies in one histogram. */
export const pooled = (r: Recorded): Hist => {
  const out: Hist = new Map()
  for (const h of r.seconds.values()) for (const [b, n] of h) add(out, b, n)
  return out
}

export const count = (h: Hist): number => {
  let n = 0
  for (const c of h.values()) n += c
  return n
}

/** The `q` quantile of a histogram, ms (NaN if empty). */
export const quantile = (h: Hist, q: number): number => {
  const total = count(h)
  if (total === 0) return Number.NaN
  const rank = Math.ceil(q * total)
  let seen = 0
  for (const b of [...h.keys()].sort((a, b) => a - b)) {
    seen += h.get(b)!
    if (seen >= rank) return b / 10
  }
  return Number.NaN
}

/** Most calls started in any window of `windowMs` (a multiple of the 10 ms buckets). */
export const peakStarts = (starts: Map<number, number>, windowMs = 1000): number => {
  const width = windowMs / 10
  const buckets = [...starts.keys()].sort((a, b) => a - b)
  let peak = 0
  let sum = 0
  let j = 0
  for (const b of buckets) {
    sum += starts.get(b)!
    while (buckets[j]! <= b - width) sum -= starts.get(buckets[j++]!)!
    peak = Math.max(peak, sum)
  }
  return peak
}

export interface Second {
  /** Seconds since the run began. */
  readonly t: number
  readonly calls: number
  readonly p50: number
  readonly p99: number
  /** The fleet processes' worst event-loop delay in it, ms. */
  readonly loopMs: number
}

/** The run's seconds, from the one it began in to the one it ended in: calls ended in each, p50, p99. */
export const series = (r: Recorded, fromMs: number, toMs: number): Second[] => {
  const first = Math.floor(fromMs / 1000)
  const last = Math.floor(toMs / 1000)
  const out: Second[] = []
  for (let s = first; s <= last; s++) {
    const h = r.seconds.get(s) ?? new Map()
    out.push({
      t: s - first,
      calls: count(h),
      p50: quantile(h, 0.5),
      p99: quantile(h, 0.99),
      loopMs: r.loopDelay.get(s) ?? Number.NaN,
    })
  }
  return out
}

/** Share of the run's seconds whose p99 (of the calls that ended in them) was over `targetMs`. */
export const overShare = (seconds: readonly Second[], targetMs: number): number =>
  seconds.length === 0 ? 0 : seconds.filter((s) => s.p99 > targetMs).length / seconds.length

/**
 * Capacity the run left unused, in seconds of full capacity: Σ (capacity −
 * calls) ÷ capacity over its seconds (a second above capacity counts 0),
 * split at `splitMs` (e.g. when the last client got the change).
 */
export const unused = (
  seconds: readonly Second[],
  capacity: number,
  fromMs: number,
  splitMs: number,
): { before: number; after: number } => {
  const split = Math.floor(splitMs / 1000) - Math.floor(fromMs / 1000)
  let before = 0
  let after = 0
  for (const s of seconds) {
    const idle = Math.max(0, capacity - s.calls) / capacity
    if (s.t < split) before += idle
    else after += idle
  }
  return { before, after }
}

export const fmt = (x: number, digits = 0): string =>
  Number.isFinite(x)
    ? x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
    : '–'

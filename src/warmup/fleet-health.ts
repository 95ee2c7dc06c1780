/**
 * The fleet's health as its heartbeats report it: each client's last report
 * and, across the fleet, the origin's latency and error rate lately — what
 * the rewarm loop sets its rate from. The coordinator keeps more per client
 * (see coordinator/fleet.ts); the simulator only this.
 */

/** What a heartbeat says of the origin calls since the previous one (the SDK's OriginStats). */
export interface HealthReport {
  /** Origin calls made. */
  readonly calls?: number | undefined
  readonly latencyP50?: number | undefined
  readonly latencyP99?: number | undefined
  /** The client's event-loop lag over the interval (its own CPU's share of the latency). */
  readonly loopDelayP50?: number | undefined
  readonly loopDelayP99?: number | undefined
  readonly errorRate?: number | undefined
  /** The interval the figures cover, ms (the SDK's heartbeats say). */
  readonly intervalMs?: number | undefined
}

/**
 * One client's origin latency with its own event loop's lag taken out: each
 * percentile less the lag's, the p99 never below the median. Subtracting
 * percentiles of two independent delays reads the origin's somewhat low
 * when the lag is as large as the origin's own; the lag of a busy app
 * server (or of many on one machine) is the larger, by far, and without
 * this the rewarm rate backs off an idle origin for the fleet's CPU.
 */
export const originLatency = (h: HealthReport): { p50: number; p99: number } => {
  const p50 = Math.max(0, (h.latencyP50 ?? 0) - (h.loopDelayP50 ?? 0))
  const p99 = Math.max(p50, (h.latencyP99 ?? 0) - (h.loopDelayP99 ?? 0))
  return { p50, p99 }
}

export type ClientHealth<H extends HealthReport = HealthReport> = H & {
  readonly at: number
  /** Which heartbeat this was, counting every client's (see `beats`). */
  readonly n: number
}

/** The origin as the fleet saw it; undefined figures: no calls reported. */
export interface OriginHealthFigures {
  readonly p50?: number
  readonly p99?: number
  readonly errorRate?: number
  readonly samples: number
  /**
   * Origin calls a second the fleet makes now: each client's last report's
   * calls over the interval it covers, summed over the clients whose report
   * is current (undefined: none says its interval). Unlike the calls
   * reported within one control step, it does not depend on which clients'
   * heartbeats fell in the step: clients that got a change together beat in
   * phase, and steps alternate between most of the fleet's and little of it.
   */
  readonly throughput?: number
}

/** A report counts towards the throughput until its interval and this much more have passed. */
const CURRENT_SLACK_MS = 1000

/** The throughput a report adds while current, calls/s (undefined: its interval is not said). */
const rateOf = (h: HealthReport): number | undefined =>
  h.intervalMs ? ((h.calls ?? 0) * 1000) / h.intervalMs : undefined

/** Until when a report is current (see CURRENT_SLACK_MS). */
const currentUntil = (h: { readonly at: number }, intervalMs: number): number =>
  h.at + intervalMs + CURRENT_SLACK_MS

/**
 * A client's report as kept: which heartbeat it was, the report while it is
 * the client's last (let go once replaced or forgotten: a superseded entry
 * waits in the log for the next compaction, and should not hold the whole
 * report meanwhile), and what it adds to the throughput.
 */
interface Kept<H extends HealthReport> {
  readonly n: number
  h: ClientHealth<H> | undefined
  /** Calls/s it adds to the throughput while counted (see rateOf). */
  readonly rate: number | undefined
  /** Counted in the throughput now: the client's last, its interval not over. */
  counted: boolean
  /** When it stops being current, ms (see currentUntil; counted ones only). */
  readonly until: number
}

/**
 * Each client's last report, and what `originHealth` asks of them kept as
 * they come, so a control step costs the heartbeats since the last one,
 * not a pass over the fleet (every 500 ms, at 100,000 clients, that pass
 * would be 40 ms of the coordinator's loop):
 *
 * - the reports in the order they came (superseded ones dropped in
 *   batches), so the ones after a mark are the log's tail;
 * - the current throughput as a running sum, each report taken off when a
 *   newer one replaces it or its interval ends (a heap by that time).
 */
export class FleetHealth<H extends HealthReport = HealthReport> {
  readonly #health = new Map<string, Kept<H>>()
  #beats = 0
  /** Every client's last report, and superseded ones not dropped yet, oldest first. */
  #log: Kept<H>[] = []
  /** The throughput: the reports counted, and the sum of their calls/s. */
  #counted = 0
  #throughput = 0
  /** When each counted report stops being current (entries of uncounted ones are skipped). */
  #ends = new MinHeap<Kept<H>>()
  /** The latest `now` reports were taken off the throughput for (an earlier one: a full pass). */
  #endedUpTo = Number.NEGATIVE_INFINITY

  /** Keep `clientId`'s report, received at `at`. */
  heartbeat(clientId: string, hb: H, at: number): void {
    // Object.assign, not `{ ...hb, at, n }`: V8 takes a slow path for properties after a spread.
    const h: ClientHealth<H> = Object.assign({}, hb, { at, n: ++this.#beats })
    this.#drop(this.#health.get(clientId))
    const rate = rateOf(h)
    const until = rate === undefined ? 0 : currentUntil(h, h.intervalMs!)
    const kept: Kept<H> = { n: h.n, h, rate, counted: rate !== undefined, until }
    this.#health.set(clientId, kept)
    this.#log.push(kept)
    if (rate !== undefined) {
      this.#counted++
      this.#throughput += rate
      this.#ends.push(until, kept)
    }
    if (this.#log.length > 2 * this.#health.size + 64) this.#compact()
  }

  health(clientId: string): ClientHealth<H> | undefined {
    return this.#health.get(clientId)?.h
  }

  /** Every client's last report. */
  *reports(): IterableIterator<[clientId: string, health: ClientHealth<H>]> {
    for (const [id, kept] of this.#health) yield [id, kept.h!]
  }

  /** Heartbeats received so far: a mark for `originHealth`. */
  get beats(): number {
    return this.#beats
  }

  /**
   * The origin as the fleet saw it lately: from the heartbeats received after
   * mark `after` (a `beats` value) and not before time `since`, the median and
   * p99 latency (each client's own loop lag taken out: originLatency) and
   * the error rate, each weighted by the calls behind it; given `now`, the
   * fleet's current throughput too (each client's last report, while its
   * interval and a second more have not passed).
   */
  originHealth(since: number, after = 0, now?: number): OriginHealthFigures {
    let calls = 0
    let p50 = 0
    let p99 = 0
    let errors = 0
    // The reports after the mark are the log's tail; superseded and forgotten ones are skipped.
    for (let i = this.#log.length - 1; i >= 0; i--) {
      const { n, h } = this.#log[i]!
      if (n <= after) break
      if (h === undefined || h.at < since || !h.calls) continue
      calls += h.calls
      const origin = originLatency(h)
      p50 += origin.p50 * h.calls
      p99 += origin.p99 * h.calls
      errors += (h.errorRate ?? 0) * h.calls
    }
    const throughput = now === undefined ? undefined : this.#throughputAt(now)
    const current = throughput === undefined ? {} : { throughput }
    if (calls === 0) return { samples: 0, ...current }
    return {
      p50: p50 / calls,
      p99: p99 / calls,
      errorRate: errors / calls,
      samples: calls,
      ...current,
    }
  }

  forget(clientId: string): void {
    this.#drop(this.#health.get(clientId))
    this.#health.delete(clientId)
  }

  /** The summed calls/s of the reports current at `now` (undefined: none says its interval). */
  #throughputAt(now: number): number | undefined {
    if (now < this.#endedUpTo) {
      // Asked about an earlier time than before (reports taken off since may count): a pass.
      let sum: number | undefined
      for (const { rate, until } of this.#health.values())
        if (rate !== undefined && until >= now) sum = (sum ?? 0) + rate
      return sum
    }
    this.#endedUpTo = now
    while (this.#ends.size > 0 && this.#ends.peek()! < now) this.#uncount(this.#ends.pop()!)
    return this.#counted === 0 ? undefined : this.#throughput
  }

  /** A report that is no longer its client's last. */
  #drop(kept: Kept<H> | undefined): void {
    if (kept === undefined) return
    kept.h = undefined
    this.#uncount(kept)
  }

  #uncount(kept: Kept<H>): void {
    if (!kept.counted) return
    kept.counted = false
    this.#counted--
    // None left: exactly none (a running sum of many additions and removals drifts).
    this.#throughput = this.#counted === 0 ? 0 : this.#throughput - kept.rate!
  }

  /**
   * Drops superseded and forgotten reports from the log and the ended-by
   * heap, and sums the throughput afresh (the running sum's rounding goes).
   */
  #compact(): void {
    this.#log = this.#log.filter((kept) => kept.h !== undefined)
    this.#ends = new MinHeap()
    this.#throughput = 0
    for (const kept of this.#log) {
      if (!kept.counted) continue
      this.#throughput += kept.rate!
      this.#ends.push(kept.until, kept)
    }
  }
}

/** A binary min-heap of values by a numeric key. */
class MinHeap<T> {
  readonly #keys: number[] = []
  readonly #values: T[] = []

  get size(): number {
    return this.#keys.length
  }

  /** The least key (undefined: empty). */
  peek(): number | undefined {
    return this.#keys[0]
  }

  push(key: number, value: T): void {
    const keys = this.#keys
    const values = this.#values
    let i = keys.length
    keys.push(key)
    values.push(value)
    while (i > 0) {
      const up = (i - 1) >> 1
      if (keys[up]! <= key) break
      keys[i] = keys[up]!
      values[i] = values[up]!
      i = up
    }
    keys[i] = key
    values[i] = value
  }

  /** Takes out the value of the least key. */
  pop(): T | undefined {
    const keys = this.#keys
    const values = this.#values
    if (keys.length === 0) return undefined
    const top = values[0]
    const key = keys.pop()!
    const value = values.pop()!
    const n = keys.length
    if (n > 0) {
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        if (l >= n) break
        const r = l + 1
        const c = r < n && keys[r]! < keys[l]! ? r : l
        if (keys[c]! >= key) break
        keys[i] = keys[c]!
        values[i] = values[c]!
        i = c
      }
      keys[i] = key
      values[i] = value
    }
    return top
  }
}

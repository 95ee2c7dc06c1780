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

export class FleetHealth<H extends HealthReport = HealthReport> {
  readonly #health = new Map<string, ClientHealth<H>>()
  #beats = 0

  /** Keep `clientId`'s report, received at `at`. */
  heartbeat(clientId: string, hb: H, at: number): void {
    this.#health.set(clientId, { ...hb, at, n: ++this.#beats })
  }

  health(clientId: string): ClientHealth<H> | undefined {
    return this.#health.get(clientId)
  }

  /** Every client's last report. */
  reports(): IterableIterator<[clientId: string, health: ClientHealth<H>]> {
    return this.#health.entries()
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
   * fleet's current throughput too.
   */
  originHealth(since: number, after = 0, now?: number): OriginHealthFigures {
    let calls = 0
    let p50 = 0
    let p99 = 0
    let errors = 0
    let throughput: number | undefined
    for (const h of this.#health.values()) {
      if (now !== undefined && h.intervalMs && h.at >= now - h.intervalMs - CURRENT_SLACK_MS)
        throughput = (throughput ?? 0) + ((h.calls ?? 0) * 1000) / h.intervalMs
      if (h.at < since || h.n <= after || !h.calls) continue
      calls += h.calls
      const origin = originLatency(h)
      p50 += origin.p50 * h.calls
      p99 += origin.p99 * h.calls
      errors += (h.errorRate ?? 0) * h.calls
    }
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
    this.#health.delete(clientId)
  }
}

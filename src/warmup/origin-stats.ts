/** What a heartbeat may carry (the coordinator refuses more). */
const MAX_LATENCY_MS = 3_600_000
const MAX_CALLS = 1e9

/** Origin call figures for heartbeats: latency percentiles and error rate since the last one. */
export class OriginStats {
  readonly #window: number[] = []
  #ok = 0
  #failed = 0

  constructor(private readonly size = 512) {}

  observe(ms: number, ok: boolean): void {
    // Within what a heartbeat may carry (an hour): one call that hung must not void the heartbeat.
    this.#window.push(Math.min(Math.max(0, ms), MAX_LATENCY_MS))
    if (this.#window.length > this.size) this.#window.shift()
    if (ok) this.#ok++
    else this.#failed++
  }

  /** Figures since the last call, then start over. */
  take(): { latencyP50?: number; latencyP99?: number; errorRate?: number; calls?: number } {
    const sorted = [...this.#window].sort((a, b) => a - b)
    const total = Math.min(this.#ok + this.#failed, MAX_CALLS)
    const out = {
      ...(sorted.length > 0 && {
        latencyP50: sorted[Math.floor(0.5 * (sorted.length - 1))]!,
        latencyP99: sorted[Math.floor(0.99 * (sorted.length - 1))]!,
      }),
      ...(total > 0 && {
        errorRate: Math.min(1, this.#failed / (this.#ok + this.#failed)),
        calls: total,
      }),
    }
    this.#window.length = 0
    this.#ok = 0
    this.#failed = 0
    return out
  }
}

/** Origin call figures for heartbeats: latency percentiles and error rate since the last one. */
export class OriginStats {
  readonly #window: number[] = []
  #ok = 0
  #failed = 0

  constructor(private readonly size = 512) {}

  observe(ms: number, ok: boolean): void {
    this.#window.push(ms)
    if (this.#window.length > this.size) this.#window.shift()
    if (ok) this.#ok++
    else this.#failed++
  }

  /** Figures since the last call, then start over. */
  take(): { latencyP50?: number; latencyP99?: number; errorRate?: number; calls?: number } {
    const sorted = [...this.#window].sort((a, b) => a - b)
    const total = this.#ok + this.#failed
    const out = {
      ...(sorted.length > 0 && {
        latencyP50: sorted[Math.floor(0.5 * (sorted.length - 1))]!,
        latencyP99: sorted[Math.floor(0.99 * (sorted.length - 1))]!,
      }),
      ...(total > 0 && { errorRate: this.#failed / total, calls: total }),
    }
    this.#window.length = 0
    this.#ok = 0
    this.#failed = 0
    return out
  }
}

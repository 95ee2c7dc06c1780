/**
 * How late this process's event loop runs callbacks: what an app server's own
 * CPU adds to the origin latency it measures. An origin call's latency, timed
 * around `load`, is the origin's own plus the time its answer waited for the
 * app's event loop; on a busy app server (or many on one machine) the second
 * can dwarf the first, and a rewarm controller steering by it would back off
 * an idle origin. Heartbeats carry this lag beside the latency, so the
 * coordinator can take it out (see FleetHealth.originHealth).
 *
 * A timer every SAMPLE_MS measures how late it fires: a sample at a random
 * moment of a busy stretch, as an origin answer arriving then would wait.
 * One sampler per process, shared by the clients in it (they share one
 * loop), running only while a client reads it; each reader takes the
 * samples since its own last take.
 */

/** Sampling interval, ms (as monitorEventLoopDelay's default resolution). */
export const SAMPLE_MS = 10
/** Samples kept (about 80 s at SAMPLE_MS): a heartbeat interval longer than that reads the latest. */
const RING = 8192

const samples = new Float64Array(RING)
/** Samples taken since the process started; the ring holds the last RING. */
let taken = 0
let readers = 0
let timer: NodeJS.Timeout | undefined

const arm = (): void => {
  const due = performance.now() + SAMPLE_MS
  timer = setTimeout(() => {
    samples[taken % RING] = Math.max(0, performance.now() - due)
    taken++
    if (readers > 0) arm()
    else timer = undefined
  }, SAMPLE_MS)
  timer.unref()
}

/** The loop's lag over an interval, ms: its median and p99 (none: no sample in it). */
export interface LoopLagFigures {
  loopDelayP50?: number
  loopDelayP99?: number
}

/** One client's view of the process's loop lag. */
export class LoopLag {
  #from = taken
  #closed = false

  constructor() {
    readers++
    if (timer === undefined) arm()
  }

  /** The lag's median and p99 since the last take (or since this reader began). */
  take(): LoopLagFigures {
    const from = Math.max(this.#from, taken - RING)
    const n = taken - from
    this.#from = taken
    if (n <= 0) return {}
    const window = new Float64Array(n)
    for (let i = 0; i < n; i++) window[i] = samples[(from + i) % RING]!
    window.sort()
    // Nearest rank: of a few samples (a short interval), the p99 is the latest one.
    return {
      loopDelayP50: round(window[Math.ceil(0.5 * n) - 1]!),
      loopDelayP99: round(window[Math.ceil(0.99 * n) - 1]!),
    }
  }

  /** Stop reading; the sampler stops with its last reader. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    readers--
  }
}

/** Microsecond precision is all a heartbeat needs. */
const round = (ms: number): number => Math.round(ms * 1000) / 1000

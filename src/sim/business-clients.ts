/**
 * The clients of the business scenario while a window's rollouts are in
 * flight: each heartbeats every HEARTBEAT_MS at its own phase with the
 * count of its events over the interval, Poisson at its share of the rate
 * (less its loss once the culprit has reached it, while the incident
 * lasts). Each event is placed in the second it falls in, so the seconds
 * the watch judges are the sums of what the heartbeats carry: the same
 * Poisson process as the per-second counts outside the windows.
 */
import type { Window } from './business-plan.js'
import { poissonFrom, SECOND_MS } from './business-series.js'
import { clientId } from './fleet.js'
import { mulberry32 } from './rng.js'

/** Each client heartbeats this often. */
export const HEARTBEAT_MS = 10_000

export interface ClientsInput {
  readonly seed: number
  /** Each client's traffic share. */
  readonly weights: Float64Array
  /** The fleet's mean rate each second: without incidents, and with them. */
  readonly base: Float64Array
  readonly level: Float64Array
}

/** One heartbeat: a client's count over `intervalMs` ending at `at`. */
export type Heartbeat = (clientId: string, count: number, intervalMs: number, at: number) => void

export class SimulatedClients {
  /** Counts per second drawn from the clients, and which seconds they cover. */
  readonly series: Float64Array
  readonly drawn: Uint8Array
  readonly #o: ClientsInput
  readonly #ids: readonly string[]
  readonly #random: () => number
  readonly #poisson: (mean: number) => number
  /** Each interval's running sums per second (at most one heartbeat and two partial seconds). */
  readonly #pieces = new Float64Array(HEARTBEAT_MS / SECOND_MS + 2)
  #window: Window | undefined
  #next = new Float64Array(0)
  #last = new Float64Array(0)
  /** Clients by the second of their phase, each in phase order. */
  #slots: number[][] = []

  constructor(o: ClientsInput) {
    this.#o = o
    this.series = new Float64Array(o.base.length)
    this.drawn = new Uint8Array(o.base.length)
    this.#ids = Array.from(o.weights, (_, i) => clientId(i))
    this.#random = mulberry32(o.seed)
    this.#poisson = poissonFrom(this.#random)
  }

  /** The window whose clients are simulated now. */
  get window(): Window | undefined {
    return this.#window
  }

  /** From `w.from`, every client heartbeats, each at its own phase. */
  start(w: Window): void {
    const n = this.#ids.length
    const phase = Array.from(
      { length: n },
      () => 1 + Math.floor(this.#random() * (HEARTBEAT_MS - 1)),
    )
    this.#slots = Array.from({ length: HEARTBEAT_MS / SECOND_MS }, () => [])
    for (const i of [...phase.keys()].sort((a, b) => phase[a]! - phase[b]!))
      this.#slots[Math.floor(phase[i]! / SECOND_MS)]!.push(i)
    this.#next = Float64Array.from(phase, (p) => w.from + p)
    this.#last = new Float64Array(n).fill(w.from)
    this.#window = w
  }

  /** The second from `now` is the clients'; the heartbeats of the second that just ended go to `beat`. */
  tick(now: number, beat: Heartbeat): void {
    const w = this.#window
    if (!w) return
    if (now / SECOND_MS < this.drawn.length) this.drawn[now / SECOND_MS] = 1
    if (now <= w.from) return
    for (const i of this.#slots[((now - w.from) / SECOND_MS - 1) % this.#slots.length]!) {
      const at = this.#next[i]!
      const from = this.#last[i]!
      beat(this.#ids[i]!, this.#events(w, i, from, at), at - from, at)
      this.#last[i] = at
      this.#next[i] = at + HEARTBEAT_MS
    }
  }

  /** The clients stop at `now`: their last, partial intervals' events still belong in the series. */
  stop(now: number): void {
    const w = this.#window
    if (!w) return
    for (let i = 0; i < this.#ids.length; i++) this.#events(w, i, this.#last[i]!, now)
    this.#window = undefined
  }

  /** Client i's events over [a, b), each placed in the second it falls in; their count. */
  #events(w: Window, i: number, a: number, b: number): number {
    const { base, level, weights } = this.#o
    const pieces = this.#pieces
    const first = Math.floor(a / SECOND_MS)
    const last = Math.ceil(b / SECOND_MS) - 1
    const inc = w.incident
    const kept = inc?.culprit && w.harmed?.[i] === 1 ? 1 - inc.culprit.loss : 1
    let total = 0
    for (let k = first; k <= last; k++) {
      const span = Math.min(b, (k + 1) * SECOND_MS) - Math.max(a, k * SECOND_MS)
      // While a rollout-caused incident lasts, only the culprit's clients lose (level is the sum).
      const rate =
        inc?.culprit && k * SECOND_MS >= inc.start && k * SECOND_MS < inc.end
          ? base[k]! * kept
          : level[k]!
      total += (weights[i]! * rate * span) / SECOND_MS
      pieces[k - first] = total
    }
    const n = this.#poisson(total)
    for (let e = 0; e < n; e++) {
      const u = this.#random() * total
      let k = 0
      while (k < last - first && pieces[k]! <= u) k++
      this.series[first + k] = this.series[first + k]! + 1
    }
    return n
  }
}

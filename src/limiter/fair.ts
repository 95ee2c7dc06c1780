/**
 * Fair shares of one GCRA bucket among the clients asking it. Each client
 * has a bucket of its own at its share, `rate / n` with a burst of
 * `max(1, burst / n)` (n: the clients that asked within the last
 * FAIR_WINDOW_MS), which counts every token it gets. While its own bucket
 * has them, a client takes from the shared bucket down to empty; beyond
 * that, only from above a reserve of one share burst, kept for the clients
 * within their share. Every token still comes from the shared bucket, so its
 * bound is unchanged; one client alone (n = 1) leaves no reserve and gets
 * exactly what the shared bucket alone would grant.
 *
 * Guarantee: a client that keeps asking, at most at its share, gets it,
 * whatever the clients beyond theirs ask; what a client leaves of its share
 * goes to whoever asks beyond theirs (the budget is not wasted). Pure
 * functions of (state, now), so the Redis Lua twin (gcraGrantShare-3.lua)
 * mirrors them line by line.
 */
import {
  EPSILON_MS,
  type GcraParams,
  type GrantResult,
  gcraAvailable,
  gcraTake,
  intervalMs,
} from './gcra.js'

/** A client counts as asking for this long after its last ask, ms. */
export const FAIR_WINDOW_MS = 1000

/** One client's share of a budget: rate and burst split n ways, the burst at least one whole token. */
export const fairShare = (budget: GcraParams, clients: number): GcraParams => {
  const n = Math.max(1, clients)
  return { ratePerSec: budget.ratePerSec / n, burst: Math.max(1, budget.burst / n) }
}

/**
 * Units kept back for a client refused within its share, until a time (ms):
 * what its next ask needs, on top of the reserve.
 */
export interface Hold {
  readonly until: number
  readonly units: number
}

export const NO_HOLD: Hold = Object.freeze({ until: Number.NEGATIVE_INFINITY, units: 0 })

export interface ShareGrantResult extends GrantResult {
  /** The client's own bucket after the grant. */
  readonly clientTat: number
  /** Of `granted`, how many were within the client's share. */
  readonly fair: number
  readonly hold: Hold
}

/**
 * Grant up to `want` whole units of the shared bucket (`tat`, params `p`) to
 * one of `asking` clients (it included), whose own bucket is `clientTat`.
 *
 * Within its share (its own bucket has them) a client takes down to empty.
 * Beyond it, only from above the reserve: one share burst (room for the next
 * ask of a client within its share), and while `hold` lasts, what a client
 * refused within its share was short of, for one of its share's intervals.
 * Its own bucket counts everything it got, beyond its share too (a debt of at
 * most `windowMs`): a client that takes more than its share has none left
 * to spend below the reserve.
 *
 * `inBursts`: grant a share's burst at a time (all of `want`, if less) or
 * none, and say when that many will be there. For background work (rewarm)
 * whose clients share a rate thinly: each lease is a round trip costing
 * more CPU than an origin call, and unbatched the fleet turns the rate over
 * a token or two per lease. A client's share is unchanged; it comes in
 * fewer, larger grants.
 */
export const gcraGrantShare = (
  tat: number,
  clientTat: number,
  asking: number,
  now: number,
  want: number,
  p: GcraParams,
  windowMs = FAIR_WINDOW_MS,
  hold: Hold = NO_HOLD,
  inBursts = false,
): ShareGrantResult => {
  const share = fairShare(p, asking)
  const interval = intervalMs(share)
  // Kept for a client within its share (none for a client alone), and for one refused lately.
  const held = now < hold.until ? hold.units : 0
  const reserve = Math.min(Math.min(share.burst, p.burst - share.burst) + held, p.burst - 1)
  // Units in the shared bucket, not rounded down (gcraAvailable's whole units are its floor).
  const level = (now + p.burst * intervalMs(p) - Math.max(tat, now) + EPSILON_MS) / intervalMs(p)
  const available = gcraAvailable(tat, now, p)
  const own = gcraAvailable(clientTat, now, share)
  const fair = Math.min(want, own, available)
  const extra = Math.min(want - fair, Math.max(0, Math.floor(level - fair - reserve)))
  // In bursts: a share's burst at a time (all it asks for, if less), or none.
  const least = inBursts ? Math.min(want, Math.max(1, Math.floor(share.burst))) : 1
  const granted = fair + extra >= least ? fair + extra : 0
  const after = granted > 0 ? Math.max(tat, now) + granted * intervalMs(p) : tat
  const clientAfter =
    granted > 0
      ? Math.min(
          Math.max(clientTat, now) + granted * interval,
          now + share.burst * interval + windowMs,
        )
      : clientTat
  // Refused within its share (its own bucket had more): kept back for its next ask.
  const short = Math.min(want, own) - fair
  const next = short > 0 ? { until: now + interval, units: Math.max(held, short) } : hold
  const done = {
    granted,
    fair: granted > 0 ? fair : 0,
    tat: after,
    clientTat: clientAfter,
    hold: next,
  }
  if (granted >= want) return { ...done, retryAfterMs: 0 }
  // When would more be there, if nobody else takes: the rest within its share (at most one share
  // burst), or above the reserve (at most what is above it), whichever comes first.
  const rest = Math.min(want - granted, Math.max(1, Math.floor(share.burst)))
  const within = Math.max(
    gcraTake(clientAfter, now, rest, share).retryAfterMs,
    gcraTake(after, now, rest, p).retryAfterMs,
  )
  const above = Math.min(want - granted, Math.max(1, Math.floor(p.burst - reserve)))
  const beyond = gcraTake(after, now, reserve + above, p).retryAfterMs
  return { ...done, retryAfterMs: Math.max(Math.min(within, beyond), 0) }
}

/**
 * Who asked a bucket lately, and each one's own bucket: a client is
 * forgotten FAIR_WINDOW_MS after its last ask (its state with it), so what
 * is kept is bounded by the clients that asked within the window.
 */
export class Asking {
  /** By last ask, oldest first (an ask moves its client to the end). */
  readonly #clients = new Map<string, { at: number; tat: number }>()
  /** Units kept back for a client refused within its share (see gcraGrantShare). */
  hold: Hold = NO_HOLD

  constructor(readonly windowMs = FAIR_WINDOW_MS) {}

  /** Clients kept now (asked within the window at the last ask). */
  get size(): number {
    return this.#clients.size
  }

  /** `clientId` asks at `now`: the clients asking (it included) and its own bucket's state. */
  ask(clientId: string, now: number): { asking: number; clientTat: number } {
    for (const [id, c] of this.#clients) {
      if (c.at > now - this.windowMs) break
      this.#clients.delete(id)
    }
    const tat = this.#clients.get(clientId)?.tat ?? Number.NEGATIVE_INFINITY
    this.#clients.delete(clientId)
    this.#clients.set(clientId, { at: now, tat })
    return { asking: this.#clients.size, clientTat: tat }
  }

  /** The client's own bucket after a grant (it asked just before). */
  set(clientId: string, tat: number): void {
    const c = this.#clients.get(clientId)
    if (c) c.tat = tat
  }
}

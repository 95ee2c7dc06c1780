/**
 * A refused lease waits at the coordinator for its tokens instead of
 * answering "none, retry in 2 ms". Many clients sharing a busy rate
 * otherwise turn each token over through several HTTP round trips: measured
 * on the PostgreSQL rewarm bench, 62 % of lease calls came back empty and
 * leasing cost the app servers more CPU than their origin calls. A parked
 * lease asks the budget again when its answer said more would be there, or
 * after PARK_RETRY_MS doubling with each ask up to PARK_RETRY_MAX_MS if that
 * is later (jittered as the SDK's retries are): a dozen asks of the store at
 * most, each a Lua call on Redis, however many clients wait and however
 * small their retryAfterMs; and a token that comes while it waits is taken
 * within 50 ms (doubling alone left the last 200 ms unasked, and 14 % of
 * the bench's leases came back empty instead of 4 %). It answers with the
 * first grant, or with the last refusal once PARK_MAX_MS have passed. What
 * it gets is what the client's own retry would have got: the budget decides
 * as before.
 *
 * Rewarm leases only: a client refetching for its readers (invalidate,
 * urgent) races the others for the tokens above their reserve by asking
 * again when it is told, and a parked lease asks less often: measured, the
 * convergence bench's client-bound tail (its largest caches' own refetches)
 * grew from 1.05 to 1.12-1.16 × ideal with every class parked. Rewarm is
 * background work whose throughput, not any one key, matters, and where
 * the empty answers were (its share comes in bursts: `inBursts`).
 *
 * A grant after a wait carries the wait in its TTL: the SDK counts a
 * lease's TTL from when it asked (it cannot know the coordinator's clock),
 * so the tokens still have a whole TTL from when they were granted; they
 * are spent within a TTL of their grant, as the B2 bound counts them.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { TokenClass } from '../model/budget.js'
import type { LeaseResponse } from '../protocol/messages.js'
import type { Runtime } from './runtime.js'

/** Which classes' leases wait here: rewarm's. */
export const parks = (cls: TokenClass): boolean => cls === 'rewarm'

/** The longest a lease waits here, ms: well within the SDK's lease timeout (1 s). */
export const PARK_MAX_MS = 400
const PARK_RETRY_MS = 5
const PARK_RETRY_MAX_MS = 50

export const parkedLease = async (
  runtime: Pick<Runtime, 'lease'>,
  clientId: string,
  want: number,
  cls: TokenClass,
  maxMs = PARK_MAX_MS,
): Promise<LeaseResponse> => {
  if (!parks(cls)) return runtime.lease(clientId, want, cls)
  const start = performance.now()
  for (let asks = 0; ; asks++) {
    const grant = await runtime.lease(clientId, want, cls)
    const waited = performance.now() - start
    if (grant.granted > 0) return asks > 0 ? { ...grant, ttlMs: grant.ttlMs + waited } : grant
    const spacing = Math.min(PARK_RETRY_MS * 2 ** asks, PARK_RETRY_MAX_MS)
    const wait = Math.max(spacing, grant.retryAfterMs) * (1 + 0.5 * Math.random())
    if (waited + wait > maxMs) return grant
    await sleep(wait)
  }
}

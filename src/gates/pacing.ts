/**
 * Which clients a gate paces (asks to heartbeat every `gates.heartbeatMs`),
 * as a rule any replica can apply to any client in O(rollouts): the leader
 * that runs the gates publishes it, the replicas that take the heartbeats
 * answer with it. Who is treated follows from the waves (the shards started
 * so far); the control from the last wave's shards and the rank of its
 * draw (controlSample takes the lowest ranks, so the rule's bound is the
 * highest rank drawn). A client that joined since may match too: it only
 * heartbeats sooner. When more clients are compared than `gates.maxPaced`,
 * a fixed share of them is paced (the same clients across rollouts, by
 * paceRank): the load stays at most maxPaced ÷ heartbeatMs.
 */
import { fnv1a32, shardOf } from '../invalidation/shard.js'
import { controlRank } from './cohorts.js'

export interface PaceRule {
  /** The rollout (its id salts the shards and the control draw). */
  readonly id: string
  readonly shards: number
  /** Shards [0, reached) are in waves started so far. */
  readonly reached: number
  /** The control: clients in shards [lo, hi) ranked at most maxRank. */
  readonly control?: { readonly lo: number; readonly hi: number; readonly maxRank: number }
  /** Only clients whose paceRank is below this are paced (absent: all compared). */
  readonly share?: number
}

/**
 * Where a client ranks for being paced, in [0, 1): the same for every
 * rollout. FNV-1a alone barely mixes its last characters, so ids that
 * differ at the end (app-1, app-2, …) would rank alongside their shards and
 * control ranks; a finalizer (MurmurHash3's fmix32) decorrelates them, so a
 * share of the compared clients is that share of them, whichever they are.
 */
export const paceRank = (clientId: string): number => fmix32(fnv1a32(`pace:${clientId}`)) / 2 ** 32

const fmix32 = (h: number): number => {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/**
 * The share of `compared` clients to pace so that at most `maxPaced` are:
 * each is paced by its rank alone, so the count is binomial around the
 * target; aiming three standard deviations below maxPaced keeps it under.
 */
export const paceShare = (maxPaced: number, compared: number): number => {
  const target = Math.max(0, maxPaced - 3 * Math.sqrt(maxPaced))
  return compared <= maxPaced ? 1 : Math.min(1, target / compared)
}

/** Does any rule pace this client? */
export const pacedBy = (rules: readonly PaceRule[], clientId: string): boolean => {
  for (const r of rules) {
    if (r.share !== undefined && paceRank(clientId) >= r.share) continue
    const shard = shardOf(clientId, r.id, r.shards)
    if (shard < r.reached) return true
    const c = r.control
    if (c && shard >= c.lo && shard < c.hi && controlRank(clientId, r.id) <= c.maxRank) return true
  }
  return false
}

/** The control part of a rule: the highest rank among the drawn clients (none drawn: none). */
export const controlRule = (
  lo: number,
  hi: number,
  control: Iterable<string>,
  salt: string,
): PaceRule['control'] => {
  let maxRank = -1
  for (const id of control) maxRank = Math.max(maxRank, controlRank(id, salt))
  return maxRank < 0 ? undefined : { lo, hi, maxRank }
}

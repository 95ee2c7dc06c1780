/**
 * Every Redis key of a fleet, built here and nowhere else (one function or
 * field per kind of key). They all share the hash tag `{slew:<fleet>}`, so on
 * Redis Cluster a fleet lives in one slot and every Lua script touches keys of
 * one slot only. test/store/keys.test.ts checks that what the store writes is
 * exactly what this file builds.
 */
import type { BucketName } from './store.js'

/** The hash tag every key of `fleet` starts with. */
export const hashTag = (fleet: string): string => `{slew:${fleet}}`

export const fleetKeys = (fleet: string) => {
  const tag = hashTag(fleet)
  return Object.freeze({
    tag,
    /**
     * GCRA state (tat, ms) of one budget: `<class>:delivery` (B1),
     * `<class>:tokens` (B2) or `admission` (B3, fleet-wide across replicas).
     */
    bucket: (name: BucketName) => `${tag}:bucket:${name}`,
    /**
     * Who asked one budget for tokens lately (a sorted set: clientId → last
     * ask, ms) and each one's own fair-share bucket (a hash: clientId →
     * tat): forgotten FAIR_WINDOW_MS after the last ask, both with an expiry.
     */
    asking: (name: BucketName) => `${tag}:asking:${name}`,
    shares: (name: BucketName) => `${tag}:shares:${name}`,
    /** The leader lease: "<replica>|<fence>", with a PX expiry. */
    leader: `${tag}:leader`,
    /** The latest fencing token handed out; every state write checks it. */
    fence: `${tag}:fence`,
    /**
     * The lease's terms, newest first, capped: "<fence>|<acquiredAt>|<renewedAt>|<replica>",
     * times from the leaders' clocks (what a failover check reads).
     */
    terms: `${tag}:terms`,
    /** The change log: a Stream whose ids are "<seq>-0". */
    log: `${tag}:log`,
    /** The engine's state, as the leader last committed it. */
    state: `${tag}:state`,
    /** A set written by commit's `add` ops (e.g. a rollout's delivered clients). */
    set: (name: string) => `${tag}:set:${name}`,
    /** The fleet's epoch: the lineage of its state (a new one once the state is lost). */
    epoch: `${tag}:epoch`,
    /** Connected clients, fleet-wide: clientId → JSON {replica, entries, firstSeq}. */
    presence: `${tag}:presence`,
    /** One rewarm's checkpoints: clientId → JSON progress, with an expiry. */
    rewarm: (changeId: string) => `${tag}:rewarm:${changeId}`,
    /** What replicas tell the leader (joins, leaves, cache sizes): a Stream. */
    events: `${tag}:events`,
    /** Replicas alive: id → lease expiry (ms). */
    replicas: `${tag}:replicas`,
  })
}

export type FleetKeys = ReturnType<typeof fleetKeys>

/**
 * Every Redis key of a fleet, built in one place. They all share the hash tag
 * `{slew:<fleet>}`, so on Redis Cluster a fleet lives in one slot and every
 * Lua script touches keys of one slot only.
 */
export const fleetKeys = (fleet: string) => {
  const tag = `{slew:${fleet}}`
  return Object.freeze({
    tag,
    /** GCRA state (tat, ms) of one class's delivery (B1) or token (B2) bucket. */
    bucket: (cls: string, kind: 'delivery' | 'tokens') => `${tag}:bucket:${cls}:${kind}`,
    /** GCRA state of stream admission (B3), fleet-wide across replicas. */
    admission: `${tag}:admission`,
    /** The leader lease: "<replica>|<fence>", with a PX expiry. */
    leader: `${tag}:leader`,
    /** The latest fencing token handed out; every state write checks it. */
    fence: `${tag}:fence`,
    /** The change log: a Stream whose ids are "<seq>-0". */
    log: `${tag}:log`,
    /** The engine's state, as the leader last committed it. */
    state: `${tag}:state`,
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

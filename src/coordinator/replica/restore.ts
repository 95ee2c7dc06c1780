/**
 * A new leader's engine state, from what the store holds: rollout summaries,
 * delivered sets, buckets and counters (all committed by earlier leaders under
 * their fencing tokens), the registry, and who is connected now (presence).
 * Queues are recomputed: every connected client a rolling change has reached,
 * or a completed one it missed, and not delivered. Each client is priced at
 * the entries its record holds (see client-records.ts); one without, or
 * connected but not in the registry yet, at `defaultEntries`.
 */

import { shardOf } from '../../invalidation/shard.js'
import {
  type EngineSnapshot,
  type RolloutSnapshot,
  SNAPSHOT_VERSION,
} from '../../invalidation/snapshot.js'
import type { Store } from '../../store/store.js'
import type { ClientRecord } from './client-records.js'
import { presenceOf } from './presence.js'

export const STATE = {
  head: 'head',
  leaderUrl: 'leaderUrl',
  config: 'config',
  rewarmRate: 'rewarmRate',
  /** configDigest() of the stable config values in `head`: replicas re-read them only when it changes. */
  stableDigest: 'stableDigest',
  rollout: (id: string) => `rollout:${id}`,
  client: (id: string) => `client:${id}`,
  delivered: (id: string) => `delivered:${id}`,
  /** A rollout's gate (GateState JSON): a new leader goes on with it. */
  gate: (id: string) => `gate:${id}`,
  /** A watched metric's history (WatchHistory JSON): a new leader's model goes on from it. */
  watch: (metric: string) => `watch:${metric}`,
  /** Which clients the gates pace now (PaceRule[] JSON): the replicas answer heartbeats with it. */
  pacing: 'pacing',
  /** Config keys whose ramps stand still (a paused rollout ramps them), JSON: followers answer with it. */
  heldRamps: 'heldRamps',
  /** The business watch's incidents (IncidentView[] JSON, oldest first): open ones stay open. */
  incidents: 'incidents',
} as const

export interface PresenceRecord {
  /** The replica holding its stream. */
  readonly r: string
  readonly e?: number
  readonly at: number
}

export const loadSnapshot = async (
  store: Store,
  fleet: string,
  now: number,
): Promise<{
  snapshot: EngineSnapshot
  records: Map<string, ClientRecord>
  /** Each rollout's gate as the last leader kept it (GateState JSON). */
  gates: Map<string, string>
  /** Each watched metric's history as the last leader kept it (WatchHistory JSON). */
  watch: Map<string, string>
  /** The business watch's incidents as the last leader kept them (JSON), if any. */
  incidents: string | undefined
}> => {
  const [state, presence, replicas] = await Promise.all([
    store.state(),
    store.presence(),
    store.replicas(),
  ])
  const headJson = state[STATE.head]
  const head = headJson ? (JSON.parse(headJson) as Partial<EngineSnapshot>) : {}
  const live = new Set(
    presenceOf(presence, replicas, now)
      .filter((p) => p.alive)
      .map((p) => p.clientId),
  )
  const clients: EngineSnapshot['clients'] = []
  const records = new Map<string, ClientRecord>()
  for (const [field, raw] of Object.entries(state)) {
    if (!field.startsWith('client:')) continue
    const id = field.slice('client:'.length)
    const c = JSON.parse(raw) as ClientRecord
    clients.push([id, c.n ?? null, live.has(id), c.f])
    records.set(id, c)
  }
  // Connected but not yet in the registry (the join event is still on its way): new since now.
  for (const id of live) if (!records.has(id)) clients.push([id, null, true, head.seq ?? 0])
  const rollouts: RolloutSnapshot[] = []
  for (const [field, raw] of Object.entries(state)) {
    if (!field.startsWith('rollout:')) continue
    const r = JSON.parse(raw) as RolloutSnapshot
    const delivered = await store.members(STATE.delivered(r.change.id))
    const have = new Set(delivered)
    const audience = r.audience ? new Set(r.audience) : undefined
    const queue: string[] = []
    const active = r.state === 'rolling' || r.state === 'paused'
    const reached = r.waveIndex >= 0 ? r.waves[r.waveIndex]!.hi : 0
    for (const [id, , isLive, firstSeq] of clients) {
      if (!isLive || have.has(id) || (audience && !audience.has(id))) continue
      const due = active && shardOf(id, r.change.id, r.shards) < reached
      const missed = r.state === 'completed' && firstSeq < r.change.seq
      if (due || missed) queue.push(id)
    }
    rollouts.push({ ...r, delivered, queue })
  }
  rollouts.sort((a, b) => a.change.seq - b.change.seq)
  const snapshot: EngineSnapshot = {
    v: SNAPSHOT_VERSION,
    fleet,
    at: now,
    seq: head.seq ?? 0,
    buckets: head.buckets ?? {},
    clients,
    rollouts,
    idempotency: head.idempotency ?? [],
    configValues: head.configValues ?? {},
    stableConfigValues: head.stableConfigValues ?? {},
    ...(head.stableConfigSeqs && { stableConfigSeqs: head.stableConfigSeqs }),
  }
  const gates = new Map<string, string>()
  for (const [field, raw] of Object.entries(state))
    if (field.startsWith('gate:')) gates.set(field.slice('gate:'.length), raw)
  const watch = new Map<string, string>()
  for (const [field, raw] of Object.entries(state))
    if (field.startsWith('watch:')) watch.set(field.slice('watch:'.length), raw)
  return { snapshot, records, gates, watch, incidents: state[STATE.incidents] }
}

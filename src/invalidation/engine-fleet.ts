/**
 * The engine's side facing the clients: who joins (and what it is owed),
 * what each reports, the refetch tokens each leases (B2), and which rewarms
 * each was sent. Functions over EngineCore; Engine names them.
 */
import { InvalidOptionError } from '../errors.js'
import type { BudgetClass } from '../model/budget.js'
import type { EngineCore } from './engine-core.js'
import type { LeaseGrant } from './engine-options.js'
import type { Pacer } from './pacer.js'
import { shardOf } from './shard.js'
import type { SketchUpdate } from './sketches.js'

/** What a sketch update did: changes queued again for the client, or that it is lost. */
export interface SketchAnswer {
  /** Skipped changes to a key it reports added since, queued for it now. */
  readonly replayed: number
  /** Silent past the window: changes it may hold keys of were forgotten; mark its cache stale. */
  readonly lost: boolean
}

/** The firstSeq of a client that was in the fleet before this engine's state began: before every change. */
export const PREDATES = -1

const checkClientId = (id: unknown): void => {
  if (typeof id !== 'string' || id.length === 0 || id.length > 200) {
    throw new InvalidOptionError('clientId', 'a string of 1 to 200 characters', id)
  }
}

const checkEntries = (n: unknown): void => {
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) {
    throw new InvalidOptionError('entries', 'an integer >= 0', n)
  }
}

/** See Engine.join. */
export const join = (
  core: EngineCore,
  clientId: string,
  info: { entries?: number; since?: number; predates?: boolean },
): void => {
  core.open()
  checkClientId(clientId)
  if (info.entries !== undefined) checkEntries(info.entries)
  core.registry.join(clientId, info.entries, info.predates ? PREDATES : core.seq)
  const firstSeq = core.registry.get(clientId)!.firstSeq
  const kicked = new Set<Pacer>()
  for (const r of core.rollouts.values()) {
    if (!r.wants(clientId)) continue
    if (info.since !== undefined && r.change.seq <= info.since) continue
    const missed = r.state === 'completed' && firstSeq < r.change.seq
    const due =
      (r.state === 'rolling' || r.state === 'paused') &&
      shardOf(clientId, r.id, r.shards) < r.reachedHi
    if (!missed && !due) continue
    // Replayed if a later update says it cached one of the keys.
    if (core.sketches.skips(r, clientId)) continue
    r.queue.push(clientId)
    const pacer = core.budget(r).pacer
    if (r.state === 'completed') pacer.add(r)
    kicked.add(pacer)
  }
  for (const pacer of kicked) pacer.kick()
}

/** See Engine.report. */
export const report = (
  core: EngineCore,
  clientId: string,
  entries: number,
  capacity?: number,
): void => {
  checkClientId(clientId)
  checkEntries(entries)
  if (capacity !== undefined && !(Number.isSafeInteger(capacity) && capacity >= 1))
    throw new InvalidOptionError('capacity', 'an integer >= 1', capacity)
  core.registry.report(clientId, entries, core.seq, capacity)
}

/** See Engine.sketch. */
export const sketch = (core: EngineCore, clientId: string, update: SketchUpdate): SketchAnswer => {
  core.open()
  checkClientId(clientId)
  const { replay, lost } = core.sketches.update(clientId, update)
  const client = core.registry.get(clientId)
  const kicked = new Set<Pacer>()
  let replayed = 0
  for (const r of replay) {
    // Skipped means: it wanted it, its wave came (or it joined after), and it was not sent.
    if (!client || !r.wants(clientId) || client.firstSeq >= r.change.seq) continue
    const reached =
      r.state === 'completed' ||
      ((r.state === 'rolling' || r.state === 'paused') &&
        shardOf(clientId, r.id, r.shards) < r.reachedHi)
    if (!reached) continue
    r.queue.push(clientId)
    replayed++
    const pacer = core.budget(r).pacer
    if (r.state === 'completed') pacer.add(r)
    kicked.add(pacer)
  }
  core.sketches.replayed += replayed
  for (const pacer of kicked) pacer.kick()
  return { replayed, lost }
}

/** See Engine.lease. */
export const lease = (
  core: EngineCore,
  clientId: string,
  want: number,
  budgetClass: BudgetClass,
): LeaseGrant => {
  core.open()
  checkClientId(clientId)
  if (!Number.isInteger(want) || want < 1) {
    throw new InvalidOptionError('want', 'an integer >= 1', want)
  }
  const grant = core.budgets.grant(
    budgetClass,
    Math.min(want, core.settings.leases.maxBatch),
    clientId,
  )
  return {
    granted: grant.granted,
    ttlMs: core.settings.leases.ttlMs,
    retryAfterMs: grant.retryAfterMs,
  }
}

/** See Engine.sentRewarm. */
export const sentRewarm = (
  core: EngineCore,
  changeId: string,
  clientId: string,
  maxAgeMs: number,
): boolean => {
  const r = core.rollouts.get(changeId)
  if (r?.change.kind !== 'rewarm' || !r.delivered.has(clientId)) return false
  return r.endedAt === undefined || core.clock.now() - r.endedAt <= maxAgeMs
}

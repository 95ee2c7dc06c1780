/**
 * Engine state as plain JSON: what a restarted coordinator needs to resume
 * without repeating or skipping a delivery. Taken between events (deliveries
 * are recorded in the same synchronous step that emits them), so it is always
 * consistent.
 */

import { z } from 'zod'
import { SnapshotError } from '../errors.js'
import type { ChangeGate } from '../gates/options.js'
import type { Change } from '../model/change.js'
import type { WaveRange } from './planner.js'
import { Rollout, type WaveStats } from './rollout.js'
import type { IdempotencyEntry } from './rollout-book.js'
import { rolloutStates } from './states.js'

export const SNAPSHOT_VERSION = 1

export interface RolloutSnapshot {
  change: Change
  budgetClass: Rollout['budgetClass']
  state: Rollout['state']
  phase: Rollout['phase']
  reason?: string
  waveIndex: number
  waves: WaveRange[]
  bakeMs: number
  shards: number
  identity: string
  createdAt: number
  bakeUntil?: number
  endedAt?: number
  delivered: string[]
  deliveredCost: number
  queue: string[]
  stats: WaveStats[]
  coalesced: number
  audience?: string[]
  undo?: { values: Record<string, unknown>; unset: string[] }
  /** Config changes: keys later changes took over, left out of `change` (absent: none). */
  superseded?: string[]
  /** The change's own gate (absent: the gates section). */
  gate?: ChangeGate
}

export interface EngineSnapshot {
  v: typeof SNAPSHOT_VERSION
  fleet: string
  /** The lineage of state (change ids are made from it); absent for an engine without one. */
  epoch?: string
  at: number
  seq: number
  /**
   * Per class: the GCRA state of the delivery and token buckets (null: full),
   * and when its pacer was due to wake (null: idle), so a restored engine
   * keeps the very same timeline.
   */
  buckets: Record<string, { delivery: number | null; tokens: number | null; wakeAt: number | null }>
  /** [id, entries (null: unknown), live, firstSeq] */
  clients: [string, number | null, boolean, number][]
  rollouts: RolloutSnapshot[]
  /** [key, rollout id, digest of the request that took the key (absent in older snapshots)] */
  idempotency: IdempotencyEntry[]
  configValues: Record<string, unknown>
  stableConfigValues: Record<string, unknown>
  /**
   * The change (seq) that set each stable key, or unset it (a key here
   * without a value): an older change completing later must not overwrite
   * it. Absent in snapshots from before issue 12.
   */
  stableConfigSeqs?: Record<string, number>
}

const snapshotShape = z.object({
  v: z.literal(SNAPSHOT_VERSION),
  fleet: z.string(),
  epoch: z.string().optional(),
  at: z.number(),
  seq: z.number().int().nonnegative(),
  buckets: z.record(
    z.string(),
    z.object({
      delivery: z.number().nullable(),
      tokens: z.number().nullable(),
      wakeAt: z.number().nullable(),
    }),
  ),
  clients: z.array(z.tuple([z.string(), z.number().nullable(), z.boolean(), z.number()])),
  rollouts: z.array(
    z.looseObject({
      change: z.looseObject({ id: z.string(), seq: z.number(), kind: z.string() }),
      state: z.enum(rolloutStates),
      waves: z.array(
        z.object({ index: z.number(), lo: z.number(), hi: z.number(), fraction: z.number() }),
      ),
      delivered: z.array(z.string()),
      queue: z.array(z.string()),
    }),
  ),
  idempotency: z.array(z.tuple([z.string(), z.string()], z.string())),
  configValues: z.record(z.string(), z.unknown()),
  stableConfigValues: z.record(z.string(), z.unknown()),
  stableConfigSeqs: z.record(z.string(), z.number()).optional(),
})

export const checkSnapshot = (input: unknown, fleet: string): EngineSnapshot => {
  const parsed = snapshotShape.safeParse(input)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new SnapshotError(
      `${issue?.path.join('.') || 'snapshot'}: ${issue?.message ?? 'invalid'}`,
    )
  }
  if (parsed.data.fleet !== fleet) {
    throw new SnapshotError(`it is of fleet \`${parsed.data.fleet}\`, not \`${fleet}\``)
  }
  return input as EngineSnapshot
}

export const bucketState = (tat: number): number | null => (Number.isFinite(tat) ? tat : null)

/** The whole rollout; with `sets: false`, without the delivered set and the queue (a summary). */
export const rolloutToSnapshot = (r: Rollout, { sets = true } = {}): RolloutSnapshot => ({
  change: r.change,
  budgetClass: r.budgetClass,
  state: r.state,
  phase: r.phase,
  ...(r.reason !== undefined && { reason: r.reason }),
  waveIndex: r.waveIndex,
  waves: [...r.waves],
  bakeMs: r.bakeMs,
  shards: r.shards,
  identity: r.identity,
  createdAt: r.createdAt,
  ...(r.bakeUntil !== undefined && { bakeUntil: r.bakeUntil }),
  ...(r.endedAt !== undefined && { endedAt: r.endedAt }),
  delivered: sets ? [...r.delivered] : [],
  deliveredCost: r.deliveredCost,
  queue: sets ? r.queue.toArray() : [],
  stats: r.stats.map((s) => ({ ...s })),
  coalesced: r.coalesced,
  ...(r.audience && { audience: [...r.audience] }),
  // Copies: a rollout trims its undo as later changes take its keys over.
  ...(r.undo && { undo: { values: { ...r.undo.values }, unset: [...r.undo.unset] } }),
  ...(r.superseded.size > 0 && { superseded: [...r.superseded] }),
  ...(r.gate !== undefined && { gate: r.gate }),
})

export const rolloutFromSnapshot = (s: RolloutSnapshot): Rollout => {
  const r = new Rollout(
    s.change,
    s.budgetClass,
    s.waves,
    s.bakeMs,
    s.shards,
    s.identity,
    s.createdAt,
    s.audience ? new Set(s.audience) : undefined,
  )
  r.state = s.state
  r.phase = s.phase
  r.reason = s.reason
  r.waveIndex = s.waveIndex
  r.bakeUntil = s.bakeUntil
  r.endedAt = s.endedAt
  for (const id of s.delivered) r.delivered.add(id)
  r.deliveredCost = s.deliveredCost
  for (const id of s.queue) r.queue.push(id)
  r.stats.push(...s.stats.map((x) => ({ ...x })))
  r.coalesced = s.coalesced
  r.undo = s.undo && { values: { ...s.undo.values }, unset: [...s.undo.unset] }
  for (const k of s.superseded ?? []) r.superseded.add(k)
  r.gate = s.gate
  return r
}

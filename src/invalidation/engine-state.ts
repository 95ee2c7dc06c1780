/**
 * The engine's state in and out of a snapshot: the fleet, the rollouts,
 * each budget's buckets and pacer wake-up, and the config values.
 */

import type { BudgetClass } from '../model/budget.js'
import type { Clock } from '../model/clock.js'
import type { ClassBudget } from './budgets.js'
import type { ConfigState } from './config-state.js'
import type { Lifecycle } from './lifecycle.js'
import type { Registry } from './registry.js'
import type { RolloutBook } from './rollout-book.js'
import {
  bucketState,
  type EngineSnapshot,
  rolloutFromSnapshot,
  rolloutToSnapshot,
  SNAPSHOT_VERSION,
} from './snapshot.js'
import { isActive } from './states.js'

export interface EngineParts {
  readonly fleet: string
  readonly epoch: string | undefined
  readonly clock: Clock
  readonly registry: Registry
  readonly rollouts: RolloutBook
  readonly budgets: ReadonlyMap<BudgetClass, ClassBudget>
  /** Config values as pushed, and as of completed rollouts only. */
  readonly config: ConfigState
}

/** The state as JSON; `full: false` leaves out the clients and the rollouts. */
export const takeSnapshot = (p: EngineParts, seq: number, full: boolean): EngineSnapshot => {
  const buckets: EngineSnapshot['buckets'] = {}
  for (const [cls, b] of p.budgets) {
    buckets[cls] = {
      delivery: bucketState(b.pacer.bucket.tat),
      tokens: bucketState(b.tokens.tat),
      wakeAt: b.pacer.wakeAt ?? null,
    }
  }
  return {
    v: SNAPSHOT_VERSION,
    fleet: p.fleet,
    ...(p.epoch !== undefined && { epoch: p.epoch }),
    at: p.clock.now(),
    seq,
    buckets,
    clients: full
      ? [...p.registry.all()].map((c) => [c.id, c.entries ?? null, c.live, c.firstSeq])
      : [],
    rollouts: full ? [...p.rollouts.values()].map((r) => rolloutToSnapshot(r)) : [],
    idempotency: p.rollouts.keys(),
    configValues: p.config.pushed.toJSON(),
    stableConfigValues: p.config.stable.toJSON(),
    stableConfigSeqs: p.config.stable.seqs(),
  }
}

/** Put a snapshot's state back (into an engine just made, its buckets already restored). */
export const restoreSnapshot = (p: EngineParts & { life: Lifecycle }, snap: EngineSnapshot) => {
  for (const [id, entries, live, firstSeq] of snap.clients) {
    p.registry.restore({ id, entries: entries ?? undefined, live, firstSeq })
  }
  p.config.pushed.restore(snap.configValues)
  p.config.stable.restore(snap.stableConfigValues, snap.stableConfigSeqs)
  for (const [key, id, digest] of snap.idempotency) p.rollouts.remember(key, id, digest)
  for (const s of snap.rollouts) {
    const r = rolloutFromSnapshot(s)
    p.rollouts.add(r)
    // Paused rollouts too: resume() only kicks the pacer, it does not re-add.
    if (isActive(r.state) || (r.state === 'completed' && r.queue.length > 0)) {
      p.budgets.get(r.budgetClass)!.pacer.add(r)
    }
  }
  p.config.restored(p.rollouts.values())
  for (const r of p.rollouts.values()) p.life.rearm(r)
  // Wake each pacer when the old engine would have; an idle one has nothing deliverable.
  for (const [cls, b] of p.budgets) {
    const wakeAt = snap.buckets[cls]?.wakeAt
    if (wakeAt != null) b.pacer.wakeAtTime(wakeAt)
  }
}

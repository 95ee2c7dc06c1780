/**
 * The budget classes, each with its two GCRA buckets: deliveries paced by
 * cost (B1) and refetch tokens granted (B2). Never one bucket for both: that
 * would count each fetch twice.
 */

import { InvalidOptionError } from '../errors.js'
import { Bucket } from '../limiter/bucket.js'
import { Asking } from '../limiter/fair.js'
import { type GcraParams, intervalMs } from '../limiter/gcra.js'
import { type BudgetClass, budgetClasses } from '../model/budget.js'
import type { Clock } from '../model/clock.js'
import { Pacer, type PacerHooks } from './pacer.js'
import type { EngineSnapshot } from './snapshot.js'

/** One budget class: deliveries paced by cost (B1), refetch tokens granted (B2) in fair shares. */
export interface ClassBudget {
  readonly pacer: Pacer
  readonly tokens: Bucket
  /** The clients asking for tokens lately, each with its own share's bucket. */
  readonly asking: Asking
}

/**
 * The burst that goes with a token rate: a tenth of a second's worth, at
 * least one token. The adaptive rewarm rate's burst shrinks with it, so a
 * rate cut is not undone by a burst; the simulator's budgets start from it.
 */
export const burstOf = (ratePerSec: number): number => Math.max(1, ratePerSec / 10)

/**
 * The bucket parameters for granting tokens at `ratePerSec` under a class's
 * configured `budget`: never above its rate nor its burst, and the burst at
 * most `burstOf` the rate in force.
 */
export const tokenParams = (budget: GcraParams, ratePerSec: number): GcraParams => {
  const rate = Math.min(budget.ratePerSec, Math.max(1e-3, ratePerSec))
  return { ratePerSec: rate, burst: Math.min(budget.burst, burstOf(rate)) }
}

export class Budgets {
  readonly byClass = new Map<BudgetClass, ClassBudget>()

  /**
   * `saved`: the buckets as a snapshot left them. A class without saved state
   * starts full, or with `cold`, empty: a coordinator that lost its state does not know
   * what it spent just before, so it assumes its burst is gone and earns
   * from zero (no second burst on top of one it may have just sent).
   */
  constructor(
    params: Readonly<Record<BudgetClass, GcraParams>>,
    clock: Clock,
    hooks: PacerHooks,
    saved?: EngineSnapshot['buckets'],
    cold = false,
  ) {
    for (const cls of budgetClasses) {
      const s = saved?.[cls]
      // An empty bucket: the most debt a class can be in (no delivery costs more than its burst).
      const emptyAt = clock.now() + params[cls].burst * intervalMs(params[cls])
      const empty = cold && !s ? emptyAt : undefined
      // Saved deeper in debt than that (a store written before deliveries were capped at the
      // burst): empty, no more, so one old oversize delivery cannot hold the class for ever.
      const delivery = s?.delivery == null ? empty : Math.min(s.delivery, emptyAt)
      const tokens = s?.tokens == null ? empty : Math.min(s.tokens, emptyAt)
      const pacer = new Pacer(new Bucket(params[cls], clock, delivery), clock, hooks)
      this.byClass.set(cls, {
        pacer,
        tokens: new Bucket(params[cls], clock, tokens),
        asking: new Asking(),
      })
    }
  }

  get(cls: BudgetClass): ClassBudget {
    return this.byClass.get(cls)!
  }

  /** New rates and bursts, at once: buckets keep their state, waiting deliveries are looked at again. */
  set params(params: Readonly<Record<BudgetClass, GcraParams>>) {
    for (const [cls, b] of this.byClass) {
      b.pacer.bucket.params = params[cls]
      b.tokens.params = params[cls]
      b.pacer.kick()
    }
  }

  /**
   * Grant `cls` refetch tokens at `ratePerSec` from now on, never above its
   * configured `budget` (the adaptive rewarm rate sets this). The burst shrinks
   * with the rate (at most 100 ms worth), so a rate cut is not undone by a
   * burst. Returns the rate in force.
   */
  setTokenRate(cls: BudgetClass, budget: GcraParams, ratePerSec: number): number {
    const params = tokenParams(budget, ratePerSec)
    this.get(cls).tokens.params = params
    return params.ratePerSec
  }

  /** Stop every pacer's timer. */
  close(): void {
    for (const b of this.byClass.values()) b.pacer.close()
  }

  /**
   * Up to `n` whole refetch tokens of `cls` (B2) for `clientId`, at most its
   * fair share while others ask too (see gcraGrantShare); refusing a class
   * that does not exist. Rewarm tokens come a share's burst at a time
   * (REWARM_IN_BURSTS).
   */
  grant(cls: BudgetClass, n: number, clientId: string) {
    const budget = this.byClass.get(cls)
    if (!budget) throw new InvalidOptionError('class', `one of ${budgetClasses.join(', ')}`, cls)
    return budget.tokens.grantShare(budget.asking, clientId, n, inBursts(cls))
  }
}

/**
 * Which classes' leases come a share's burst at a time (see gcraGrantShare):
 * rewarm, background work whose throughput matters and whose clients share
 * its rate thinly; not invalidate, whose one waiting reader wants its token now.
 */
export const inBursts = (cls: BudgetClass): boolean => cls === 'rewarm'

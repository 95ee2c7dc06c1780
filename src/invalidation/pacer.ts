/**
 * Paces one budget class's deliveries (B1). Each wake delivers, round-robin
 * across the class's rollouts, every queued client the bucket can pay for
 * now, then sleeps exactly until the next one fits. A wave bigger than the
 * budget therefore goes out in paced batches, and no window ever carries
 * more than `burst + ratePerSec·T` units (no delivery costs more than the
 * burst: see deliveryCost).
 */
import type { Bucket } from '../limiter/bucket.js'
import type { Change } from '../model/change.js'
import type { Clock, Timer } from '../model/clock.js'
import type { Rollout } from './rollout.js'

/** One batch: the clients that got one change at one instant. */
export interface Delivery {
  readonly change: Change
  readonly wave: number
  readonly at: number
  readonly clientIds: readonly string[]
  /** Cost charged per client, in the order of clientIds. */
  readonly costs: readonly number[]
  readonly cost: number
}

export interface PacerHooks {
  /** Budget units to deliver `rollout` to `clientId` now. */
  cost(rollout: Rollout, clientId: string): number
  /** May `clientId` receive `rollout` now (live, not yet delivered, in its audience)? */
  eligible(rollout: Rollout, clientId: string): boolean
  deliver(delivery: Delivery): void
  /** Called after a wake for every rollout whose queue it emptied. */
  drained(rollout: Rollout): void
}

interface Batch {
  rollout: Rollout
  ids: string[]
  costs: number[]
  cost: number
}

export class Pacer {
  readonly #rollouts: Rollout[] = []
  #cursor = 0
  #timer: Timer | undefined
  #wakeAt: number | undefined
  #draining = false
  #again = false

  constructor(
    readonly bucket: Bucket,
    private readonly clock: Clock,
    private readonly hooks: PacerHooks,
  ) {}

  add(rollout: Rollout): void {
    if (!this.#rollouts.includes(rollout)) this.#rollouts.push(rollout)
  }

  remove(rollout: Rollout): void {
    const i = this.#rollouts.indexOf(rollout)
    if (i < 0) return
    this.#rollouts.splice(i, 1)
    if (this.#cursor > i) this.#cursor--
  }

  /** When the pacer will next wake on its own (undefined: idle). Snapshots keep it. */
  get wakeAt(): number | undefined {
    return this.#wakeAt
  }

  /**
   * Restore a wake-up at absolute time `at`, as a snapshot recorded it: no
   * later than the bucket empties (a delivery never waits longer than that).
   */
  wakeAtTime(at: number): void {
    const now = this.clock.now()
    this.#arm(Math.min(at, Math.max(this.bucket.tat, now)) - now)
  }

  /** Something was queued or resumed: deliver what fits now. */
  kick(): void {
    if (this.#draining) {
      this.#again = true
      return
    }
    this.#cancel()
    this.#draining = true
    try {
      do {
        this.#again = false
        this.#drain()
      } while (this.#again)
    } finally {
      this.#draining = false
    }
  }

  close(): void {
    this.#cancel()
    this.#rollouts.length = 0
  }

  #cancel(): void {
    this.#timer?.cancel()
    this.#timer = undefined
    this.#wakeAt = undefined
  }

  #arm(delayMs: number): void {
    this.#cancel()
    this.#wakeAt = this.clock.now() + Math.max(0, delayMs)
    this.#timer = this.clock.setTimer(delayMs, () => this.kick())
  }

  /** The next rollout (round-robin) with a deliverable client at the head of its queue. */
  #next(): Rollout | undefined {
    const n = this.#rollouts.length
    for (let k = 0; k < n; k++) {
      const i = (this.#cursor + k) % n
      const r = this.#rollouts[i]!
      if (!r.servable) continue
      while (r.queue.length > 0 && !this.hooks.eligible(r, r.queue.peek()!)) r.queue.shift()
      if (r.queue.length > 0) {
        this.#cursor = i
        return r
      }
    }
    return undefined
  }

  #drain(): void {
    const batches = new Map<Rollout, Batch>()
    let wait: number | undefined
    // One instant for the whole wake: every take is charged at the time the deliveries
    // are stamped with, so B1 holds exactly in their recorded times (stamped after the
    // takes, a slow wake looked up to its own duration too fast), and never looser.
    const at = this.clock.now()
    for (;;) {
      const r = this.#next()
      if (!r) break
      const id = r.queue.peek()!
      const cost = this.hooks.cost(r, id)
      const taken = this.bucket.take(cost, at)
      if (!taken.ok) {
        wait = taken.retryAfterMs
        break
      }
      r.queue.shift()
      r.delivered.add(id)
      r.deliveredCost += cost
      let batch = batches.get(r)
      if (!batch) {
        batch = { rollout: r, ids: [], costs: [], cost: 0 }
        batches.set(r, batch)
      }
      batch.ids.push(id)
      batch.costs.push(cost)
      batch.cost += cost
      this.#cursor = (this.#cursor + 1) % this.#rollouts.length
    }
    for (const b of batches.values()) {
      const stats = b.rollout.stats[b.rollout.waveIndex]
      if (stats) {
        stats.delivered += b.ids.length
        stats.cost += b.cost
      }
      this.hooks.deliver({
        change: b.rollout.change,
        wave: b.rollout.waveIndex,
        at,
        clientIds: b.ids,
        costs: b.costs,
        cost: b.cost,
      })
    }
    for (const r of [...this.#rollouts]) if (r.queue.length === 0) this.hooks.drained(r)
    if (wait !== undefined) this.#arm(wait)
  }
}

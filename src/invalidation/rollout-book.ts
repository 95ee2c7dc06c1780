/**
 * The engine's rollouts and the two ways a push finds an earlier one: by its
 * idempotency key (any rollout still kept), and by its target's identity
 * (an active rollout, which a duplicate joins). Finished rollouts are kept up
 * to a limit, oldest dropped first.
 */
import type { Rollout } from './rollout.js'
import { isActive } from './states.js'

export class RolloutBook {
  readonly #rollouts = new Map<string, Rollout>()
  readonly #byIdentity = new Map<string, Rollout>()
  readonly #byKey = new Map<string, string>()

  get(id: string): Rollout | undefined {
    return this.#rollouts.get(id)
  }

  values(): IterableIterator<Rollout> {
    return this.#rollouts.values()
  }

  /** The rollout a push with this idempotency key was folded into, if still kept. */
  byKey(key: string | undefined): Rollout | undefined {
    const id = key === undefined ? undefined : this.#byKey.get(key)
    return id === undefined ? undefined : this.#rollouts.get(id)
  }

  /** The active rollout of this target identity, if any. */
  active(identity: string): Rollout | undefined {
    const r = this.#byIdentity.get(identity)
    return r && isActive(r.state) ? r : undefined
  }

  /** Idempotency key → rollout id, for snapshots. */
  keys(): [string, string][] {
    return [...this.#byKey]
  }

  add(r: Rollout): void {
    this.#rollouts.set(r.id, r)
    if (isActive(r.state)) this.#byIdentity.set(r.identity, r)
  }

  /** Remember that pushes with `key` go to `r` (the first rollout named by a key keeps it). */
  remember(key: string | undefined, id: string): void {
    if (key !== undefined && !this.#byKey.has(key)) this.#byKey.set(key, id)
  }

  /** `r` finished: a new push of its target starts a new rollout. */
  finished(r: Rollout): void {
    if (this.#byIdentity.get(r.identity) === r) this.#byIdentity.delete(r.identity)
  }

  /** Keep at most `retain` finished rollouts (oldest go first), and their keys. */
  prune(retain: number): void {
    let finished = 0
    for (const r of this.#rollouts.values()) if (!isActive(r.state)) finished++
    if (finished <= retain) return
    for (const [id, r] of this.#rollouts) {
      if (finished <= retain) break
      if (isActive(r.state) || r.queue.length > 0) continue
      this.#rollouts.delete(id)
      finished--
    }
    for (const [key, id] of this.#byKey) if (!this.#rollouts.has(id)) this.#byKey.delete(key)
  }
}

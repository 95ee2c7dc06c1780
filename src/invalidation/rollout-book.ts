/**
 * The engine's rollouts and the two ways a push finds an earlier one: by its
 * idempotency key (any rollout still kept), and by its target's identity
 * (an active rollout, which a duplicate joins). Finished rollouts are kept up
 * to a limit, oldest dropped first.
 */
import type { Rollout } from './rollout.js'
import { isActive } from './states.js'

/** An idempotency key as snapshots keep it: key, rollout id and (since issue 12) the request's digest. */
export type IdempotencyEntry = [key: string, rolloutId: string, digest?: string]

export class RolloutBook {
  readonly #rollouts = new Map<string, Rollout>()
  readonly #byIdentity = new Map<string, Rollout>()
  /** Idempotency key → the rollout it names, and the digest of the request that took it (requestDigest). */
  readonly #byKey = new Map<string, { id: string; digest?: string }>()

  get(id: string): Rollout | undefined {
    return this.#rollouts.get(id)
  }

  values(): IterableIterator<Rollout> {
    return this.#rollouts.values()
  }

  /**
   * The rollout a push with this idempotency key was folded into, if still
   * kept, and the digest of the request that took the key (undefined: from a
   * snapshot older than digests).
   */
  byKey(key: string | undefined): { rollout: Rollout; digest?: string } | undefined {
    const held = key === undefined ? undefined : this.#byKey.get(key)
    const rollout = held && this.#rollouts.get(held.id)
    if (!rollout) return undefined
    return held.digest === undefined ? { rollout } : { rollout, digest: held.digest }
  }

  /** The active rollout of this target identity, if any. */
  active(identity: string): Rollout | undefined {
    const r = this.#byIdentity.get(identity)
    return r && isActive(r.state) ? r : undefined
  }

  /** [idempotency key, rollout id, request digest], for snapshots. */
  keys(): IdempotencyEntry[] {
    return [...this.#byKey].map(([key, { id, digest }]) =>
      digest === undefined ? [key, id] : [key, id, digest],
    )
  }

  add(r: Rollout): void {
    this.#rollouts.set(r.id, r)
    if (isActive(r.state)) this.#byIdentity.set(r.identity, r)
  }

  /**
   * Remember that pushes with `key` go to `id`, asked for by a request of
   * `digest` (the first rollout named by a key keeps it).
   */
  remember(key: string | undefined, id: string, digest?: string): void {
    if (key === undefined || this.#byKey.has(key)) return
    this.#byKey.set(key, digest === undefined ? { id } : { id, digest })
  }

  /** `r` finished: a new push of its target starts a new rollout. */
  finished(r: Rollout): void {
    if (this.#byIdentity.get(r.identity) === r) this.#byIdentity.delete(r.identity)
  }

  /** Keep at most `retain` finished rollouts (oldest go first), and their keys; returns those dropped. */
  prune(retain: number): Rollout[] {
    const dropped: Rollout[] = []
    let finished = 0
    for (const r of this.#rollouts.values()) if (!isActive(r.state)) finished++
    if (finished <= retain) return dropped
    for (const [id, r] of this.#rollouts) {
      if (finished <= retain) break
      if (isActive(r.state) || r.queue.length > 0) continue
      this.#rollouts.delete(id)
      dropped.push(r)
      finished--
    }
    for (const [key, { id }] of this.#byKey) if (!this.#rollouts.has(id)) this.#byKey.delete(key)
    return dropped
  }
}

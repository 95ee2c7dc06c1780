/**
 * The fleet's config as the engine keeps it: state, not history. Two sets
 * of values — as pushed (what the fleet converges to) and as of completed
 * changes (what a new client starts from) — and, per key, the config
 * rollout that governs it: the latest to set or unset it. A rollout keeps
 * in its undo only the keys it governs (a rollback leaves later changes'
 * keys alone), and once finished only those in its change, so a superseded
 * value is freed however long the rollout is kept for status. The pushed
 * values are bounded by `configBytes`.
 */
import { ConfigTooLargeError } from '../errors.js'
import type { Change } from '../model/change.js'
import { ConfigValues, keysOf } from './config-values.js'
import type { Rollout } from './rollout.js'
import { isActive } from './states.js'

export class ConfigState {
  /** As pushed: every config change's values as it is made. */
  readonly pushed = new ConfigValues()
  /** As of completed config changes, the newest of each key winning. */
  readonly stable = new ConfigValues(true)
  readonly #governor = new Map<string, Rollout>()

  /**
   * Refuse `change` (ConfigTooLargeError) if it would take the pushed values
   * over `limit` bytes. One that does not grow them passes even over the
   * limit (a config restored or adopted bigger, or a lowered limit), so an
   * oversize config can always be shrunk.
   */
  check(change: Pick<Change, 'values' | 'unset'>, limit: number): void {
    const bytes = this.pushed.bytesAfter(change)
    if (bytes > limit && bytes > this.pushed.bytes)
      throw new ConfigTooLargeError(bytes, limit, this.pushed.bytes)
  }

  /**
   * A config rollout was made: its values are pushed (its undo is what they
   * replaced), and it takes its keys over from the rollouts that governed
   * them; `superseded` is told of each of those.
   */
  created(r: Rollout, superseded: (earlier: Rollout, keys: string[]) => void): void {
    r.undo = this.pushed.apply(r.change)
    const taken = new Map<Rollout, string[]>()
    for (const k of keysOf(r.change)) {
      const earlier = this.#governor.get(k)
      if (earlier && earlier !== r) {
        const keys = taken.get(earlier)
        if (keys) keys.push(k)
        else taken.set(earlier, [k])
      }
      this.#governor.set(k, r)
    }
    for (const [earlier, keys] of taken) {
      earlier.supersede(keys, !isActive(earlier.state))
      superseded(earlier, keys)
    }
  }

  /**
   * A config rollout left the active states. Completed, its values become
   * stable (where no newer completed change set the key); either way it keeps
   * only the keys it still governs. `rollouts`: every rollout kept, to know
   * how old a config change may still complete.
   */
  finished(r: Rollout, rollouts: Iterable<Rollout>): void {
    if (r.state === 'completed') this.stable.apply(r.change)
    r.supersede(
      keysOf(r.change).filter((k) => this.#governor.get(k) !== r),
      true,
    )
    let oldest = Number.POSITIVE_INFINITY
    for (const x of rollouts)
      if (x.change.kind === 'config' && isActive(x.state)) oldest = Math.min(oldest, x.change.seq)
    this.stable.forgetUnsetBefore(oldest)
  }

  /** A rollout is no longer kept: it governs nothing any more. */
  forget(r: Rollout): void {
    for (const k of keysOf(r.change)) if (this.#governor.get(k) === r) this.#governor.delete(k)
  }

  /**
   * After a restore: who governs what, from the config rollouts kept (the
   * latest of each key), and each rollout trimmed to the keys it governs (a
   * snapshot from before issue 12 kept every value of every change).
   */
  restored(rollouts: Iterable<Rollout>): void {
    const config = [...rollouts]
      .filter((r) => r.change.kind === 'config')
      .sort((a, b) => a.change.seq - b.change.seq)
    for (const r of config) for (const k of keysOf(r.change)) this.#governor.set(k, r)
    for (const r of config)
      r.supersede(
        keysOf(r.change).filter((k) => this.#governor.get(k) !== r),
        !isActive(r.state),
      )
  }

  /** Take values as both pushed and stable (adopted from the fleet after a cold start). */
  adopt(values: Record<string, unknown>): void {
    this.pushed.restore(values)
    this.stable.restore(values)
  }
}

/**
 * The SDK's exactly-once memory, apart from signatures: which coordinator
 * epoch the client follows, the last sequence number it applied in it, and
 * the change ids it applied (the last 10,000). A message of another epoch is
 * none of ours; an older one is a replay; a change applied before is a
 * duplicate (nothing to do). A hello of a new epoch starts the count afresh
 * and keeps the ids: they are unique for good, so one never applied is never
 * refused. The property tests drive this very class across cold restarts.
 */

/** Change ids remembered for exactly-once apply. */
const REMEMBER = 10_000

export type Order = 'apply' | 'duplicate' | 'wrong-epoch' | 'replayed'

export class ApplyMemory {
  /** The coordinator epoch followed: sequence numbers count within it. */
  epoch: string | undefined
  /** The last sequence number applied in it (the resume point). */
  lastSeq: number | undefined
  readonly #applied = new Set<string>()

  /**
   * Where a sequenced message of `epoch` stands; `changeId` for a change. A
   * reset is taken whatever its number (in our epoch): it sets a new resume
   * point, and replayed it can only make the cache stale, never apply a change.
   */
  check(epoch: string, seq: number, changeId?: string, reset = false): Order {
    if (epoch !== this.epoch) return 'wrong-epoch'
    if (!reset && this.lastSeq !== undefined && seq <= this.lastSeq) return 'replayed'
    if (changeId !== undefined && this.#applied.has(changeId)) return 'duplicate'
    return 'apply'
  }

  /**
   * The coordinator said hello: a new epoch starts the count afresh. A
   * resume point whose epoch was not known (an app server restarted with
   * only a sequence number) is kept: the coordinator judged it, and sends
   * the gap or a reset.
   */
  hello(epoch: string): void {
    if (epoch === this.epoch) return
    if (this.epoch !== undefined) this.lastSeq = undefined
    this.epoch = epoch
  }

  /** A message applied (or a duplicate passed over): its seq is the resume point. */
  applied(seq: number, changeId?: string): void {
    this.lastSeq = seq
    if (changeId !== undefined) this.remember(changeId)
  }

  has(changeId: string): boolean {
    return this.#applied.has(changeId)
  }

  /** A change id applied by other means (a reset naming it): never applied again. */
  remember(changeId: string): void {
    this.#applied.add(changeId)
    if (this.#applied.size > REMEMBER) this.#applied.delete(this.#applied.values().next().value!)
  }
}

/**
 * One client's progress on one rewarm, and its checkpoint: which keys of the
 * change's list are settled (fetched or found fresh, or given up on). The
 * checkpoint is a cursor (every index before it settled) plus the few
 * settled indexes past it, so it stays small however long the list. Keys
 * skipped because the cache could not hold them are only counted: whether a
 * key fits is decided again by each run (a restarted client's cache is not
 * the one it had).
 */
import { keysLeft, MAX_AHEAD, type RewarmReport } from '../model/rewarm.js'

/** How a key settled: fetched (or already fresh), given up on, or not worth fetching here. */
export type Outcome = 'done' | 'failed' | 'skipped'

export class RewarmProgress {
  done = 0
  failed = 0
  skipped = 0
  /** Per key: 0 to do, 1 settled, 2 skipped. */
  readonly #settled: Uint8Array
  #cursor = 0
  #begun = false

  /** `listed`: the keys are the change's own list, in its order (a checkpoint applies). */
  constructor(
    readonly total: number,
    readonly listed: boolean,
  ) {
    this.#settled = new Uint8Array(total)
  }

  /**
   * Whether it started (from scratch, or from a checkpoint): until then it
   * has nothing to report, and a report of nothing done would overwrite the
   * checkpoint it is about to continue from.
   */
  get begun(): boolean {
    return this.#begun
  }

  begin(): void {
    this.#begun = true
  }

  get finished(): boolean {
    return keysLeft(this) <= 0
  }

  /** Whether key `i` is settled (fetched, found fresh, or given up on). */
  settled(i: number): boolean {
    return this.#settled[i] === 1
  }

  /** Key `i` settled or skipped; a second settle of the same key counts nothing. */
  settle(i: number, outcome: Outcome): void {
    if (this.#settled[i]) return
    this[outcome]++
    if (outcome === 'skipped') {
      this.#settled[i] = 2
      return
    }
    this.#settled[i] = 1
    this.#advance()
  }

  /**
   * Take a checkpoint from before a restart: the indexes it names count as
   * settled, and only they (a report names at most MAX_AHEAD past its cursor;
   * the keys it settled beyond those are fetched again, and counted once).
   * Its failed keys are among them; its skipped ones are left to do (the
   * cache decides again). Returns whether key `i` is left to do.
   */
  resume(from: RewarmReport): (i: number) => boolean {
    const cursor = Math.min(from.cursor ?? 0, this.total)
    this.#settled.fill(1, 0, cursor)
    let named = cursor
    for (const i of from.ahead ?? []) {
      if (i < this.total && !this.#settled[i]) {
        this.#settled[i] = 1
        named++
      }
    }
    this.failed = Math.min(from.failed ?? 0, named)
    this.done = named - this.failed
    this.skipped = 0
    this.#advance()
    this.#begun = true
    return (i) => this.#settled[i] === 0
  }

  report(): RewarmReport {
    const r: { -readonly [K in keyof RewarmReport]: RewarmReport[K] } = {
      done: this.done,
      total: this.total,
    }
    if (this.failed > 0) r.failed = this.failed
    if (this.skipped > 0) r.skipped = this.skipped
    if (this.listed) {
      r.cursor = this.#cursor
      const ahead: number[] = []
      for (let i = this.#cursor + 1; i < this.total && ahead.length < MAX_AHEAD; i++) {
        if (this.#settled[i] === 1) ahead.push(i)
      }
      if (ahead.length > 0) r.ahead = ahead
    }
    return r
  }

  #advance(): void {
    while (this.#cursor < this.total && this.#settled[this.#cursor] === 1) this.#cursor++
  }
}

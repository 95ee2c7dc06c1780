/**
 * The SDK's rewarms: each rewarm change a client takes up, run hottest first
 * with every fetch under a rewarm token, its progress reported in heartbeats
 * and checkpointed in the coordinator's store; a restarted client continues
 * the ones it left unfinished from their checkpoints.
 */
import type { Change } from '../model/change.js'
import { keysLeft, type RewarmReport } from '../model/rewarm.js'
import { RewarmProgress } from '../warmup/progress.js'
import type { L1 } from './cache.js'
import type { Resume } from './guard.js'

/** Rewarm reports a heartbeat carries at most (the coordinator refuses more). */
export const MAX_REPORTS = 100

/** Failed checkpoint reads (about 15 s of them) after which waiting rewarms start without. */
const WAIT_ATTEMPTS = 4

/** Rewarm change ids remembered as taken up. */
const REMEMBER = 10_000

/** Attempts at a key the origin fails on, then it is given up on (1 s, then 2 s apart). */
const ATTEMPTS = 3

/** A rewarm's keys queued for refetch at a time (beyond what a lease batch and the slots use). */
export const QUEUED_AT_ONCE = 256

export interface RewarmsOptions<V> {
  readonly l1: L1<V>
  /** Most entries the cache holds: a rewarm never fetches more keys than fit. */
  readonly cacheMax: number
  /** Keys for a hotSet rewarm beyond those held (e.g. saved before a restart). */
  readonly hotKeys: (() => Iterable<string>) | undefined
  /** Heartbeat interval while a rewarm runs, ms. */
  readonly heartbeatMs: number
  /** Send a heartbeat (the client's, one at a time). */
  readonly beat: () => void
}

/** What one heartbeat carries of the rewarms, and what to do once it got through. */
export interface RewarmReports {
  readonly reports: Record<string, RewarmReport>
  /** Call when the heartbeat got through: finished rewarms are dropped, the rest rotate. */
  readonly delivered: () => void
}

export class Rewarms<V> {
  /** Rewarms in progress (and finished since the last heartbeat), by change id, longest unreported first. */
  readonly #running = new Map<string, RewarmProgress>()
  /**
   * This client's unfinished rewarms by change id, with their checkpoints, as
   * the coordinator kept them; undefined until asked for (or after a failed read).
   */
  #checkpoints: Promise<ReadonlyMap<string, RewarmReport>> | undefined
  #timer: NodeJS.Timeout | undefined
  #retry: NodeJS.Timeout | undefined
  readonly #abort = new AbortController()
  /** Change ids taken up (bounded): a rewarm runs once, however often its change comes. */
  readonly #taken = new Set<string>()
  #closed = false

  constructor(private readonly o: RewarmsOptions<V>) {}

  get size(): number {
    return this.#running.size
  }

  /**
   * Read this client's checkpoints (signed and checked by `read`) and
   * continue the unfinished rewarms. A rewarm that arrives on the stream
   * meanwhile waits for them, reporting nothing, so it starts from its own
   * checkpoint too (or knows it finished). A failed read is tried again,
   * 1 s, 2 s, 4 s … up to 30 s apart, until it works or the client closes;
   * after WAIT_ATTEMPTS failures the waiting rewarms start without their
   * checkpoints (a coordinator that cannot answer must not stop every rewarm),
   * and a read that works later still continues the others.
   */
  resume(read: (signal: AbortSignal) => Promise<readonly Resume[]>): void {
    if (this.#checkpoints || this.#closed) return
    this.#checkpoints = new Promise((resolve) => {
      const attempt = (n: number) => {
        if (this.#closed) return
        read(this.#abort.signal).then(
          (resumes) => {
            if (this.#closed) return
            for (const r of resumes)
              if (r.change && keysLeft(r.checkpoint) > 0) this.start(r.change, r.checkpoint)
            resolve(new Map(resumes.map((r) => [r.changeId, r.checkpoint])))
          },
          () => {
            if (this.#closed) return
            if (n + 1 === WAIT_ATTEMPTS) resolve(new Map())
            this.#retry = setTimeout(() => attempt(n + 1), Math.min(30_000, 1000 * 2 ** n))
            this.#retry.unref()
          },
        )
      }
      attempt(0)
    })
  }

  /**
   * Take up a rewarm change (once per change id): a listed rewarm (the keys'
   * content changed) refetches the keys held too, serving their old values
   * meanwhile; a hotSet rewarm refetches what is not fresh. `from`: its
   * checkpoint, to continue from.
   */
  start(c: Change, from?: RewarmReport): void {
    if (this.#closed || this.#taken.has(c.id)) return
    this.#taken.add(c.id)
    if (this.#taken.size > REMEMBER) this.#taken.delete(this.#taken.values().next().value!)
    const listed = !c.target?.hotSet
    const lru = this.o.l1.lru
    let keys: string[]
    if (!listed) {
      // Most recently used first; what is fresh needs nothing.
      keys = [...lru.keys()].filter((k) => lru.peek(k)?.state !== 'fresh')
      if (this.o.hotKeys) for (const k of this.o.hotKeys()) if (!lru.has(k)) keys.push(k)
    } else keys = [...(c.target?.keys ?? [])]
    const progress = new RewarmProgress(keys.length, listed)
    this.#running.set(c.id, progress)
    this.#timer ??= setInterval(() => this.o.beat(), this.o.heartbeatMs)
    this.#timer.unref()

    const attempt = (i: number, n: number, release?: () => void) =>
      this.o.l1.rewarm([keys[i]!], (ok) => {
        release?.()
        if (this.#closed) return // cut short by close(): not settled, a restart does it
        if (ok) progress.settle(i, 'done')
        // An origin error: try that key again later, a few times, then give up on it.
        else if (n < ATTEMPTS) setTimeout(() => attempt(i, n + 1), 1000 * n).unref()
        else progress.settle(i, 'failed')
      })
    const go = (left: (i: number) => boolean) => {
      if (this.#closed) return
      progress.begin()
      const todo = this.#fitting(keys, listed, left, progress)
      // The content changed: what is held is served stale until its refetch.
      if (listed)
        this.o.l1.markStale(
          todo.map((i) => keys[i]!),
          c.id,
          'rewarm',
        )
      // In the list's order (the job lists the hottest first); a held key a reader asks
      // for moves up on its own (served stale, its refetch queued ahead of the rewarm).
      // QUEUED_AT_ONCE keys are queued at a time, the next as each settles (its retries
      // apart): queuing thousands at once, a task, a promise and closures each, stalled
      // the app's event loop for over a second (ten clients of 4,000 hot keys, measured).
      let next = 0
      let queued = 0
      let pumping = false
      const pump = () => {
        if (pumping) return
        pumping = true
        try {
          while (queued < QUEUED_AT_ONCE && next < todo.length && !this.#closed) {
            queued++
            attempt(todo[next++]!, 1, () => {
              queued--
              pump()
            })
          }
        } finally {
          pumping = false
        }
      }
      pump()
    }
    const begin = (checkpoint?: RewarmReport) =>
      go(checkpoint ? progress.resume(checkpoint) : () => true)
    // A listed rewarm replayed to a restarted client while its checkpoints are being read
    // continues from its own; a hot set's keys are this process's own, nothing to continue.
    if (listed && !from && this.#checkpoints) void this.#checkpoints.then((m) => begin(m.get(c.id)))
    else begin(listed ? from : undefined)
  }

  /**
   * Of the keys `left` to do, those worth fetching, in order: every key held
   * (its content changed, or it is stale), and the first keys not held while
   * the cache has room for them — a listed rewarm's keys may take the whole
   * cache (the job lists hot keys; those it holds take their slots first), a
   * hot set only its free slots. The rest would evict hotter keys fetched
   * before them: skipped.
   */
  #fitting(
    keys: readonly string[],
    listed: boolean,
    left: (i: number) => boolean,
    progress: RewarmProgress,
  ): number[] {
    const lru = this.o.l1.lru
    let room = this.o.cacheMax - lru.size
    if (listed) {
      room = this.o.cacheMax
      for (let i = 0; i < keys.length; i++) if (lru.has(keys[i]!)) room--
    }
    const todo: number[] = []
    for (let i = 0; i < keys.length; i++) {
      if (!left(i)) continue
      if (lru.has(keys[i]!)) todo.push(i)
      else if (room > 0) {
        room--
        todo.push(i)
      } else progress.settle(i, 'skipped')
    }
    return todo
  }

  /** Reports for the next heartbeat: at most MAX_REPORTS, those reported longest ago first. */
  take(): RewarmReports | undefined {
    const reports: Record<string, RewarmReport> = {}
    const sent: [string, RewarmProgress][] = []
    for (const [id, p] of this.#running) {
      if (sent.length === MAX_REPORTS) break
      if (!p.begun) continue // waiting for its checkpoint: nothing to say yet
      reports[id] = p.report()
      sent.push([id, p])
    }
    if (sent.length === 0) return undefined
    const finished = new Set(sent.filter(([, p]) => p.finished).map(([id]) => id))
    return {
      reports,
      delivered: () => {
        // A finished rewarm is reported until a heartbeat carrying it got through;
        // the others sent go to the back of the line.
        for (const [id, p] of sent) {
          if (this.#running.get(id) !== p) continue
          this.#running.delete(id)
          if (!finished.has(id)) this.#running.set(id, p)
        }
        if (this.#running.size === 0) this.#stopTimer()
      },
    }
  }

  close(): void {
    this.#closed = true
    this.#abort.abort()
    clearTimeout(this.#retry)
    this.#stopTimer()
  }

  #stopTimer(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }
}

/**
 * Heartbeats: what the client tells the coordinator (acked sequence, epoch,
 * cache size and capacity, origin figures, refusals, rewarm checkpoints) and
 * what it learns back (the terms to refetch under in degraded mode). One at
 * a time, so the coordinator never gets an older checkpoint after a newer one.
 */

import type { OriginStats } from '../warmup/origin-stats.js'
import type { Guard } from './guard.js'
import { postJson, type Remote } from './http.js'
import type { KeySketcher } from './key-sketch.js'
import type { Leases } from './leases.js'
import type { LoopLag } from './loop-lag.js'
import type { ParsedClientOptions } from './options.js'
import type { RewarmReports } from './rewarms.js'
import type { Signals } from './signals.js'
import type { Witness } from './witness.js'

/** The longest interval a heartbeat's figures may say they cover (a day). */
const MAX_INTERVAL_MS = 86_400_000

/** The heartbeat interval a coordinator's answer asks for (a gate compares this client), if any. */
const askedPace = (answer: unknown): number | undefined => {
  const ms = (answer as { heartbeatMs?: unknown } | null)?.heartbeatMs
  return typeof ms === 'number' && Number.isFinite(ms) && ms >= 100 ? ms : undefined
}

/** Config keys whose ramps the coordinator says stand still (their rollout is paused). */
const heldRamps = (answer: unknown): Set<string> => {
  const keys = (answer as { holdRamps?: unknown } | null)?.holdRamps
  return new Set(Array.isArray(keys) ? keys.filter((k) => typeof k === 'string') : [])
}

export interface HeartbeatParts {
  readonly options: Readonly<ParsedClientOptions>
  readonly remote: Remote
  readonly guard: Guard
  readonly witness: Witness
  readonly stats: OriginStats
  /** The process's event-loop lag, reported beside the origin latency it inflates. */
  readonly loop: LoopLag
  readonly signals: Signals
  readonly leases: Leases
  /** Rewarm checkpoints to report, if any (see Rewarms.take). */
  readonly rewarms: () => RewarmReports | undefined
  /** The coordinator asked for heartbeats this often (undefined: the configured pace). */
  readonly pace: (heartbeatMs: number | undefined) => void
  /** Hold these config keys' ramps where they are; let the rest go on. */
  readonly hold: (keys: ReadonlySet<string>) => void
  /** Entries in the cache now. */
  readonly entries: () => number
  /** Key sketches, if on. */
  readonly sketch?: KeySketcher | undefined
  readonly closed: () => boolean
  readonly report: (error: unknown) => void
}

export class Heartbeats {
  /** The heartbeat in flight, and the one queued behind it. */
  #beating: Promise<void> | undefined
  #nextBeat: Promise<void> | undefined
  /** When the figures now being gathered began (monotonic ms). */
  #since = performance.now()

  constructor(private readonly p: HeartbeatParts) {}

  /**
   * One heartbeat at a time: a later one waits for the one in flight (and
   * callers meanwhile share the one queued), so the coordinator never gets
   * an older checkpoint after a newer one.
   */
  send(timeoutMs?: number): Promise<void> {
    if (!this.#beating) {
      this.#beating = this.#beat(timeoutMs).finally(() => {
        this.#beating = undefined
      })
      return this.#beating
    }
    this.#nextBeat ??= this.#beating.then(() => {
      this.#nextBeat = undefined
      return this.send(timeoutMs)
    })
    return this.#nextBeat
  }

  /** `timeoutMs`: from when it is sent (a queued one does not spend it waiting). */
  async #beat(timeoutMs?: number): Promise<void> {
    const p = this.p
    const rewarm = p.rewarms()
    const rejected = p.guard.takeUnreported()
    const now = performance.now()
    const intervalMs = Math.min(MAX_INTERVAL_MS, Math.max(1, Math.round(now - this.#since)))
    this.#since = now
    const { counts, observed } = p.signals.take()
    const sketch = p.sketch?.take()
    const origin = p.stats.take()
    // The loop's lag over the same interval: only beside latency figures, which it is part of.
    const loop = p.loop.take()
    try {
      const answer = await postJson<unknown>(
        p.remote,
        `/v1/clients/${encodeURIComponent(p.options.clientId)}/heartbeat`,
        {
          ...(p.guard.lastSeq !== undefined && { ackedSeq: p.guard.lastSeq }),
          ...(p.guard.epoch !== undefined && { epoch: p.guard.epoch }),
          ...(p.guard.refusing && { refusing: p.guard.refusing }),
          configDigest: p.witness.digest,
          entries: p.entries(),
          capacity: p.options.cache.max,
          ...origin,
          ...(origin.latencyP99 !== undefined && loop),
          ...(counts && { metrics: counts }),
          ...(observed && { observed }),
          intervalMs,
          rejected,
          ...(rewarm && { rewarm: rewarm.reports }),
          ...(sketch && { sketch: sketch.update }),
        },
        timeoutMs === undefined ? undefined : { timeoutMs },
      )
      rewarm?.delivered()
      // The budgets and fleet size to refetch under if leases cannot be had (degraded mode).
      p.leases.learn(answer)
      p.pace(askedPace(answer))
      p.hold(heldRamps(answer))
      p.sketch?.answer(answer)
    } catch (error) {
      // Refusal counts are totals the coordinator's metrics add up: none is lost to a failed
      // heartbeat. Origin figures and app signals are not kept: they describe a moment that has passed.
      p.guard.giveBack(rejected)
      sketch?.restore()
      if (!p.closed()) p.report(error)
    }
  }
}

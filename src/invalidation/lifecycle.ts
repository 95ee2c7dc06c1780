/**
 * A rollout's life after it is accepted: start, queue each wave's clients,
 * end the wave when its queue drains, bake, ask the gate, go on — or stop.
 * Every state change goes through `move`, which enforces the state machine.
 */
import type { Clock } from '../model/clock.js'
import type { EngineEvent, GateContext, GateResult } from './events.js'
import type { Pacer } from './pacer.js'
import type { Registry } from './registry.js'
import type { Rollout } from './rollout.js'
import { shardsOf } from './shard.js'
import type { SketchPick } from './sketches.js'
import { assertTransition, isActive, type RolloutState } from './states.js'

export interface LifecycleHooks {
  readonly clock: Clock
  readonly registry: Registry
  pacer(r: Rollout): Pacer
  /** Budget units to deliver `r` to `clientId` (its refetch work, for a cache change). */
  cost(r: Rollout, clientId: string): number
  /**
   * For a keys-only change: the clients whose fresh key sketch may hold its
   * keys (the registry's plain live clients get it regardless; the other
   * live clients are skipped). Undefined: every client gets it.
   */
  sketched?(r: Rollout): SketchPick | undefined
  emit(event: EngineEvent): void
  gate?: (ctx: GateContext) => GateResult
  /** The gate said fail after a bake. */
  gateFailed(r: Rollout, reason: string): void
  /** The rollout left the active states. */
  finished(r: Rollout): void
  closed(): boolean
}

export class Lifecycle {
  constructor(private readonly h: LifecycleHooks) {}

  move(r: Rollout, to: RolloutState, reason?: string): void {
    const from = r.state
    assertTransition(r.id, from, to)
    const at = this.h.clock.now()
    r.state = to
    r.reason = reason
    // Over once: leaving the active states (rolling_back → rolled_back is not a second end).
    if (!isActive(to) && isActive(from)) {
      r.endedAt = at
      this.h.finished(r)
    }
    this.h.emit({ type: 'state', rolloutId: r.id, from, to, at, ...(reason && { reason }) })
  }

  start(r: Rollout): void {
    this.move(r, 'rolling')
    this.h.pacer(r).add(r)
    this.#startWave(r, 0)
  }

  pause(r: Rollout, reason?: string): void {
    this.move(r, 'paused', reason)
    r.cancelTimer()
  }

  resume(r: Rollout): void {
    this.move(r, 'rolling')
    if (r.phase === 'baking') this.#armBake(r)
    else this.h.pacer(r).kick()
    this.drained(r)
  }

  stop(r: Rollout, to: 'aborted' | 'failed' | 'rolling_back', reason?: string): void {
    this.move(r, to, reason)
    r.cancelTimer()
    r.queue.clear()
    r.phase = 'done'
    this.h.pacer(r).remove(r)
  }

  /** After a restore: put a baking rollout's timer back. */
  rearm(r: Rollout): void {
    if (r.state === 'rolling' && r.phase === 'baking') this.#armBake(r)
  }

  /** The queue is empty: end the wave (bake, then gate) or the rollout. */
  drained(r: Rollout): void {
    if (r.queue.length > 0) return
    if (r.state === 'completed') {
      this.h.pacer(r).remove(r)
      return
    }
    if (r.state !== 'rolling' || r.phase !== 'delivering') return
    const now = this.h.clock.now()
    const stats = r.stats[r.waveIndex]
    if (stats) stats.deliveredAt = now
    this.h.emit({ type: 'wave', rolloutId: r.id, wave: r.waveIndex, phase: 'delivered', at: now })
    if (r.waveIndex === r.waves.length - 1) {
      r.phase = 'done'
      this.move(r, 'completed')
      this.h.pacer(r).remove(r)
      return
    }
    r.phase = 'baking'
    r.bakeUntil = now + r.bakeMs
    this.#armBake(r)
  }

  #startWave(r: Rollout, index: number): void {
    const wave = r.waves[index]!
    const now = this.h.clock.now()
    r.waveIndex = index
    r.phase = 'delivering'
    r.bakeUntil = undefined
    // A wave of every shard (a one-wave change) needs no hashing.
    const shardOfClient =
      wave.lo === 0 && wave.hi >= r.shards ? undefined : shardsOf(r.id, r.shards)
    const due = (id: string): boolean => {
      if (!r.wants(id)) return false
      if (!shardOfClient) return true
      const shard = shardOfClient(id)
      return shard >= wave.lo && shard < wave.hi
    }
    const registry = this.h.registry
    const pick = this.h.sketched?.(r)
    const ids: string[] = []
    let skipped = 0
    if (!pick) {
      for (const c of registry.live()) if (due(c.id)) ids.push(c.id)
    } else {
      // Only the clients that may hold a key, and those whose sketch is not in use: no pass over
      // the fleet. The likely holders first: under a tight budget they are the ones it is for.
      const plain = registry.plainLive()
      const sent = new Set<string>()
      for (const id of pick.holders) {
        if (plain.has(id) || !registry.isLive(id) || !due(id)) continue
        ids.push(id)
        sent.add(id)
      }
      for (const id of plain) if (due(id)) ids.push(id)
      // Every live sketched client is due in a first wave of all shards with no audience.
      if (!shardOfClient && !r.audience && r.delivered.size === 0) {
        skipped = registry.sketchedLiveCount - sent.size
      } else {
        for (const id of registry.sketched()) {
          if (!sent.has(id) && !plain.has(id) && registry.isLive(id) && due(id)) skipped++
        }
      }
      pick.skipped(skipped)
    }
    for (const id of this.#largestFirst(r, ids)) r.queue.push(id)
    r.stats[index] = {
      queued: ids.length,
      ...(skipped > 0 && { skipped }),
      delivered: 0,
      cost: 0,
      startedAt: now,
    }
    this.h.emit({ type: 'wave', rolloutId: r.id, wave: index, phase: 'started', at: now })
    this.h.pacer(r).kick()
    this.drained(r)
  }

  /**
   * A wave's clients, the costliest first (ties in the order found: the
   * registry's, or for a keys-only change those whose sketch may hold a
   * key before those without a sketch in use): a
   * client's cost is the refetching it starts, and a client refetches at
   * its own pace (its concurrency, its share of the tokens), so the one
   * that needs longest gets the whole wave's time and the wave ends on
   * the quick ones. Delivered in registry order, a large cache reached
   * last in the last wave was the fleet's tail.
   */
  #largestFirst(r: Rollout, ids: string[]): string[] {
    if (ids.length < 2) return ids
    const costs = ids.map((id) => this.h.cost(r, id))
    const first = costs[0]!
    if (costs.every((c) => c === first)) return ids
    const order = ids.map((_, i) => i)
    order.sort((a, b) => costs[b]! - costs[a]! || a - b)
    return order.map((i) => ids[i]!)
  }

  #armBake(r: Rollout): void {
    r.cancelTimer()
    r.timer = this.h.clock.setTimer((r.bakeUntil ?? 0) - this.h.clock.now(), () => this.#baked(r))
  }

  #baked(r: Rollout): void {
    r.timer = undefined
    if (this.h.closed() || r.state !== 'rolling' || r.phase !== 'baking') return
    const now = this.h.clock.now()
    const verdict = this.h.gate?.({ rollout: r.view(), wave: r.waveIndex, now }) ?? 'pass'
    if (verdict === 'pass') this.#startWave(r, r.waveIndex + 1)
    else if (verdict === 'fail') this.h.gateFailed(r, `gate failed after wave ${r.waveIndex}`)
    else {
      r.bakeUntil = now + Math.max(0, verdict.retryInMs)
      this.#armBake(r)
    }
  }
}

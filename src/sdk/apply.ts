/**
 * Applying one signed stream message the guard let through: config values
 * (ramps resolved on read), a reset (everything stale, softly; the hard
 * invalidations it names dead), or a change (invalidate under the stale cap,
 * start a rewarm, set config). The witness keeps what proves it applied.
 */
import type { EventEmitter } from 'node:events'
import { budgetClassOf } from '../model/budget.js'
import type { HelloMessage, SignedStreamMessage } from '../protocol/messages.js'
import type { L1 } from './cache.js'
import type { Guard } from './guard.js'
import type { SlewClientEvents } from './options.js'
import type { RampedConfig } from './ramped-config.js'
import type { Rewarms } from './rewarms.js'
import type { StaleCap } from './stale-cap.js'
import type { Witness } from './witness.js'

export interface ApplyParts<V> {
  readonly guard: Guard
  readonly l1: L1<V>
  readonly staleCap: StaleCap
  readonly rewarms: Rewarms<V>
  readonly witness: Witness
  /** The config values in force: a new object at each change (never mutated). */
  readonly config: RampedConfig
  readonly events: EventEmitter<SlewClientEvents>
}

export const applyMessage = <V>(
  p: ApplyParts<V>,
  m: Exclude<SignedStreamMessage, HelloMessage>,
  signed: unknown,
): void => {
  p.guard.applied(m)
  if (m.type === 'config') {
    p.config.set({ ...m.values })
    p.events.emit('config', p.config.all())
  } else if (m.type === 'reset') {
    // The gap is gone from the log: mark everything stale (softly), never drop it; the hard
    // invalidations it names (recovered after a restart) go dead, never served again.
    for (const h of m.hard ?? []) {
      if (p.guard.memory.has(h.id)) continue
      p.guard.memory.remember(h.id)
      p.l1.invalidate(p.l1.matching({ target: h.target }), h.id, 'hard', 'invalidate')
    }
    const keys = [...p.l1.lru.keys()]
    p.staleCap.submit(keys, (ks) =>
      p.l1.invalidate(ks, `reset-${m.epoch}-${m.seq}`, 'soft', 'invalidate'),
    )
    p.events.emit('reset', m.reason)
  } else {
    const c = m.change
    if (c.kind === 'config') {
      const next = { ...p.config.raw, ...c.values }
      for (const k of c.unset ?? []) delete next[k]
      p.config.set(next)
      p.events.emit('config', p.config.all())
    } else if (c.kind === 'rewarm') {
      p.rewarms.start(c)
    } else {
      const cls = budgetClassOf({ kind: c.kind, priority: c.priority })
      p.staleCap.submit(p.l1.matching(c), (ks) => p.l1.invalidate(ks, c.id, c.mode, cls))
    }
    p.events.emit('change', c)
  }
  p.witness.applied(m, signed, p.config.raw)
}

import {
  type Delivery,
  Engine,
  type EngineEvent,
  type EngineOptions,
} from '../../src/invalidation/engine.js'
import type { EngineConfigInput } from '../../src/invalidation/options.js'
import { VirtualClock } from '../../src/limiter/virtual-clock.js'

/** An engine on a virtual clock that records what it does. */
export const harness = (
  config: EngineConfigInput = {},
  opts: { clients?: number; entries?: number; gate?: EngineOptions['gate'] } = {},
) => {
  const clock = new VirtualClock(0)
  const deliveries: Delivery[] = []
  const events: EngineEvent[] = []
  const make = (snapshot?: ReturnType<Engine['snapshot']>) =>
    new Engine({
      clock,
      config,
      deliver: (d) => deliveries.push(d),
      onEvent: (e) => events.push(e),
      ...(opts.gate && { gate: opts.gate }),
      ...(snapshot && { snapshot }),
    })
  const h = {
    clock,
    deliveries,
    events,
    engine: make(),
    /** Restart from a snapshot that went through JSON, as it would on disk. */
    restart() {
      const snap = JSON.parse(JSON.stringify(h.engine.snapshot()))
      h.engine.close()
      h.engine = make(snap)
    },
    /** How many times each client got change `id`. */
    received(id: string) {
      const counts = new Map<string, number>()
      for (const d of deliveries) {
        if (d.change.id !== id) continue
        for (const c of d.clientIds) counts.set(c, (counts.get(c) ?? 0) + 1)
      }
      return counts
    },
  }
  for (let i = 0; i < (opts.clients ?? 0); i++)
    h.engine.join(`c${i}`, { entries: opts.entries ?? 10 })
  return h
}

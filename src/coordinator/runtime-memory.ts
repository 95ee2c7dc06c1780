/** The embedded runtime: one process, the engine here, the log and the fleet in memory. */

import type { Engine } from '../invalidation/engine.js'
import type { Heartbeat } from '../protocol/messages.js'
import type { Admission } from './admission.js'
import type { FleetTracker } from './fleet.js'
import type { StreamHub } from './hub.js'
import type { DeliveryLog } from './log.js'
import type { FleetMember, Runtime, TokenClass } from './runtime.js'

export const memoryRuntime = (p: {
  engine: Engine
  log: DeliveryLog
  hub: StreamHub
  admission: Admission
  fleet: FleetTracker
  now: () => number
}): Runtime => ({
  kind: 'memory',
  leading: true,
  leaderUrl: async () => undefined,
  admit: async () => p.admission.decide(),
  async connected(clientId, since, entries) {
    if (since === undefined) {
      p.hub.write(
        clientId,
        p.log.frame({ type: 'config', seq: p.log.seq, values: p.engine.stableConfigValues }),
      )
    } else {
      const missed = since > p.log.seq ? 'gap' : p.log.after(since, clientId)
      if (missed === 'gap') {
        p.hub.write(
          clientId,
          p.log.frame({
            type: 'reset',
            seq: p.log.seq,
            reason: `resume point ${since} is no longer in the log`,
          }),
        )
      } else {
        for (const e of missed) p.hub.write(clientId, e.frame)
      }
    }
    p.engine.join(clientId, entries === undefined ? {} : { entries })
  },
  disconnected(clientId) {
    p.engine.leave(clientId)
  },
  lease: async (clientId, want, cls: TokenClass) => p.engine.lease(clientId, want, cls),
  async heartbeat(clientId, hb: Heartbeat) {
    if (hb.entries !== undefined) p.engine.report(clientId, hb.entries, hb.capacity)
    p.fleet.heartbeat(clientId, hb, p.now())
  },
  tokenBudget: (cls) => p.engine.tokenParams(cls),
  fleet: async (): Promise<FleetMember[]> =>
    [...p.hub.connections()].map((c) => ({ clientId: c.clientId, connectedAt: c.connectedAt })),
  fleetSize: async () => p.hub.size,
  setRewarmRate: (rate) => {
    p.engine.setTokenRate('rewarm', rate)
  },
  durable: async () => {},
  seq: () => p.log.seq,
  close: async () => {},
})

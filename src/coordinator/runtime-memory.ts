/** The embedded runtime: one process, the engine here, the log and the fleet in memory. */

import type { Engine } from '../invalidation/engine.js'
import type { TokenClass } from '../model/budget.js'
import type { Heartbeat, ResetMessage } from '../protocol/messages.js'
import type { Admission } from './admission.js'
import { catchUp, predates } from './catch-up.js'
import { ConfigFrames } from './config-frame.js'
import type { FleetTracker } from './fleet.js'
import type { StreamHub } from './hub.js'
import { type DeliveryLog, helloFrame } from './log.js'
import type { FleetMember, Runtime } from './runtime.js'

export const memoryRuntime = (
  p: {
    engine: Engine
    log: DeliveryLog
    hub: StreamHub
    admission: Admission
    fleet: FleetTracker
    /** Hard invalidations recovered after the state was lost: a reset names them. */
    recovered: () => { id: string; target: NonNullable<ResetMessage['hard']>[number]['target'] }[]
    now: () => number
  },
  /** A new client's config frame, signed once per config version. */
  configFrames = new ConfigFrames(),
): Runtime => ({
  kind: 'memory',
  leading: true,
  leaderUrl: async () => undefined,
  admit: async () => p.admission.decide(),
  async connected(open) {
    const { clientId } = open
    const at = { epoch: p.log.signer.epoch, last: p.log.seq, floor: p.log.oldest - 1 }
    p.hub.write(clientId, helloFrame(p.log.signer, { seq: at.last, clientId, nonce: open.nonce }))
    const next = catchUp(open, at)
    if (next.kind === 'config') {
      // Signed once per version of the stable config (its values object), not per client.
      const values = p.engine.stableConfigValues
      p.hub.write(
        clientId,
        configFrames.frame(values, at, (seq) => p.log.frame({ type: 'config', seq, values })),
      )
    } else if (next.kind === 'reset') {
      const hard = p.recovered()
      p.hub.write(
        clientId,
        p.log.frame({
          type: 'reset',
          seq: at.last,
          reason: next.reason,
          ...(hard.length > 0 && { hard }),
        }),
      )
    } else {
      const missed = p.log.after(next.after, clientId)
      for (const e of missed === 'gap' ? [] : missed) p.hub.write(clientId, e.frame)
    }
    p.engine.join(clientId, {
      ...(open.entries !== undefined && { entries: open.entries }),
      predates: predates(open, at),
    })
  },
  disconnected(clientId) {
    p.engine.leave(clientId)
  },
  lease: async (clientId, want, cls: TokenClass) => p.engine.lease(clientId, want, cls),
  async heartbeat(clientId, hb: Heartbeat) {
    if (hb.entries !== undefined) p.engine.report(clientId, hb.entries, hb.capacity)
    p.fleet.heartbeat(clientId, hb, p.now())
  },
  sentRewarm: async (changeId, clientId, maxAgeMs) =>
    p.engine.sentRewarm(changeId, clientId, maxAgeMs),
  tokenBudget: (cls) => p.engine.tokenParams(cls),
  fleet: async (): Promise<FleetMember[]> =>
    [...p.hub.connections()].map((c) => ({ clientId: c.clientId, connectedAt: c.connectedAt })),
  fleetSize: async () => p.hub.size,
  setRewarmRate: (rate) => {
    p.engine.setTokenRate('rewarm', rate)
  },
  durable: async () => {},
  seq: () => p.log.seq,
  readiness: async () => ({ ready: true }),
  close: async () => {},
})

/** The embedded runtime: one process, the engine here, the log and the fleet in memory. */

import { Engine } from '../invalidation/engine.js'
import { decodeSketch } from '../invalidation/sketch.js'
import type { TokenClass } from '../model/budget.js'
import type { Heartbeat } from '../protocol/messages.js'
import { MemoryStore } from '../store/memory.js'
import { catchUp, predates } from './catch-up.js'
import { ConfigFrames } from './config-frame.js'
import { onDelivered } from './delivered.js'
import { runtimeGates } from './gates.js'
import { DeliveryLog, helloFrame } from './log.js'
import {
  businessWatch,
  engineConfigOf,
  type FleetMember,
  heldRampsOf,
  type Runtime,
  type RuntimeParts,
} from './runtime.js'

/** The reason of a reset sent to a client silent past the sketch window. */
const SKETCH_LOST = 'sketch-lost: silent past sketches.windowMs'

export const memoryRuntime = (o: RuntimeParts): Runtime => {
  const { clock, hub, fleet } = o
  // Sequence numbers count within this process's epoch (clients reset their count at a new
  // epoch, so a clock that went back is harmless); from the clock, for readable numbers.
  const log = new DeliveryLog(
    o.signer,
    o.config.log.maxEntries,
    Math.floor(clock.now()) * 1000,
    o.config.log.maxBytes,
  )
  const delivered = onDelivered(fleet, o.metrics)
  const gates = runtimeGates(
    o,
    () => engine,
    function* () {
      for (const c of hub.connections()) yield c.clientId
    },
  )
  // Ramps that stand still (a paused rollout ramps them), told with every heartbeat's answer.
  const held = heldRampsOf(() => engine, clock)
  const engine: Engine = new Engine({
    clock,
    epoch: o.signer.epoch,
    // A memory store starts with nothing: it may have spent its burst just before it died.
    coldStart: true,
    config: engineConfigOf(o.config),
    gate: gates.gate,
    onEvent: (e) => {
      // Only a paused config change holds a ramp: other moves leave the answer as it was.
      if (e.type === 'state' && (e.from === 'paused' || e.to === 'paused')) held.invalidate()
      gates.onEvent(e)
    },
    deliver: (d) => {
      const entry = log.append({ type: 'change', change: d.change }, d.clientIds)
      hub.send(d.clientIds, entry.frame)
      delivered(d, entry.seq)
      gates.delivered(d.change.id, d.clientIds)
    },
  })
  const business = businessWatch(o, () => engine)
  // Clients silent past the sketch window while away: a reset (cache marked stale) when back.
  const owesReset = new Set<string>()
  const resetFrame = (reason: string) => log.frame({ type: 'reset', seq: log.seq, reason })
  // A new client's config frame, signed once per config version.
  const configFrames = new ConfigFrames()
  return {
    kind: 'memory',
    leading: true,
    engine,
    store: new MemoryStore(() => clock.now()),
    start: async () => {},
    configure: (next) => engine.reconfigure(engineConfigOf(next)),
    leaderUrl: async () => undefined,
    admit: async (clientId) => o.admission.decide(clientId),
    async connected(open) {
      const { clientId } = open
      const at = { epoch: log.signer.epoch, last: log.seq, floor: log.oldest - 1 }
      hub.write(clientId, helloFrame(log.signer, { seq: at.last, clientId, nonce: open.nonce }))
      const next = catchUp(open, at)
      if (next.kind === 'config') {
        // Signed once per version of the stable config (its values object), not per client.
        const values = engine.stableConfigValues
        hub.write(
          clientId,
          configFrames.frame(values, at, (seq) => log.frame({ type: 'config', seq, values })),
        )
      } else if (next.kind === 'reset') {
        const hard = o.recall.hard()
        hub.write(
          clientId,
          log.frame({
            type: 'reset',
            seq: at.last,
            reason: next.reason,
            ...(hard.length > 0 && { hard }),
          }),
        )
      } else {
        const missed = log.after(next.after, clientId)
        for (const e of missed === 'gap' ? [] : missed) hub.write(clientId, e.frame)
      }
      if (owesReset.delete(clientId) && next.kind !== 'reset') {
        hub.write(clientId, resetFrame(SKETCH_LOST))
      }
      engine.join(clientId, {
        ...(open.entries !== undefined && { entries: open.entries }),
        predates: predates(open, at),
      })
    },
    disconnected(clientId) {
      engine.leave(clientId)
    },
    lease: async (clientId, want, cls: TokenClass) => engine.lease(clientId, want, cls),
    async heartbeat(clientId, hb: Heartbeat) {
      if (hb.entries !== undefined) engine.report(clientId, hb.entries, hb.capacity)
      if (hb.sketch) {
        const { filter, added } = hb.sketch
        const { lost } = engine.sketch(clientId, {
          ...(filter && { filter: decodeSketch(filter) }),
          ...(added && { added }),
        })
        // Skips it may have missed are forgotten: its whole cache goes stale (softly).
        if (lost && !hub.write(clientId, resetFrame(SKETCH_LOST))) owesReset.add(clientId)
      }
      fleet.heartbeat(clientId, hb, clock.now())
      gates.heartbeat(clientId, hb)
      business?.heartbeat(clientId, hb, clock.now())
    },
    sentRewarm: async (changeId, clientId, maxAgeMs) =>
      engine.sentRewarm(changeId, clientId, maxAgeMs),
    tokenBudget: (cls) => engine.tokenParams(cls),
    fleet: async (): Promise<FleetMember[]> =>
      [...hub.connections()].map((c) => ({ clientId: c.clientId, connectedAt: c.connectedAt })),
    fleetSize: async () => hub.size,
    setRewarmRate: (rate) => {
      engine.setTokenRate('rewarm', rate)
    },
    durable: async () => {},
    seq: () => log.seq,
    gateRecord: (id) => gates.record(id),
    heartbeatMs: (clientId) => gates.heartbeatMs(clientId),
    sketchAnswer: (clientId) => (engine.sketchKnown(clientId) ? 'ok' : 'want'),
    heldRamps: held,
    business,
    readiness: async () => ({ ready: true }),
    close: async () => {
      business?.close()
      gates.close()
      engine.close()
    },
  }
}

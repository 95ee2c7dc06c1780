/**
 * I: each client gets each change at most once, across restarts, leaves and
 * rejoins; and every client that is live at the end and was in the fleet
 * before a completed change was made has it (a rollback only where the
 * original went). Across cold restarts too (the coordinator loses all its
 * state, the clients keep theirs), through the SDK's own exactly-once
 * memory: it never refuses a change it has not applied, whatever the new
 * coordinator's sequence numbers (here, always lower: a clock gone back).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ApplyMemory } from '../../src/sdk/apply-memory.js'
import { clientId, clientIndex } from '../../src/sim/fleet.js'
import type { FleetSim } from '../../src/sim/fleet-sim.js'
import { coldScenarioArb, type Scenario, scenarioArb } from './arbitraries.js'
import { play } from './play.js'
import { params } from './runs.js'

/** Every completed change of the engine running now reached every live client that predates it. */
const everyLiveClientHasEveryCompletedChange = (sim: FleetSim, size: number) => {
  const views = new Map(sim.engine.list().map((r) => [r.id, r]))
  for (const r of views.values()) {
    if (r.state !== 'completed' && !r.change.rollbackOf) continue
    const seen = sim.received.get(r.id) ?? new Uint8Array(size)
    const original = r.change.rollbackOf ? sim.received.get(r.change.rollbackOf) : undefined
    for (let i = 0; i < size; i++) {
      // R: a rollback goes only where the original went, whatever its state.
      if (r.change.rollbackOf && seen[i] === 1 && !original?.[i])
        throw new Error(`${clientId(i)} got ${r.id}, a rollback of a change it never got`)
      if (!sim.live[i] || !(sim.firstSeq[i]! < r.change.seq)) continue
      if (r.state !== 'completed' || (r.change.rollbackOf && !original?.[i])) continue
      if (seen[i] !== 1) {
        throw new Error(
          `${clientId(i)} is live, predates ${r.id} (seq ${r.change.seq}) and never got it`,
        )
      }
    }
  }
}

/**
 * The deliveries as the clients' SDKs take them: each coordinator epoch has
 * its own log (a cold one starts below the last: its clock went back), each
 * client hears its hello and a reset on reconnecting, then every delivery in
 * log order. Returns what each client applied, by (incarnation, change id).
 */
const throughTheSdk = (sim: FleetSim, size: number) => {
  const memory = Array.from({ length: size }, () => new ApplyMemory())
  const applied = Array.from({ length: size }, () => new Map<string, number>())
  let epoch = 'first'
  let seq = 1_000_000
  for (const m of memory) m.hello(epoch)
  const colds = [...sim.coldRestarts]
  for (const [k, d] of sim.deliveries.entries()) {
    while (colds.length > 0 && colds[0]!.deliveries === k) {
      epoch = colds.shift()!.epoch
      seq -= 1000
      for (const m of memory) {
        m.hello(epoch)
        expect(m.check(epoch, seq)).toBe('apply') // the reset is taken
        m.applied(seq)
      }
    }
    seq++
    // Which engine made it: change ids must not be taken for one another across them.
    const incarnation = `${sim.coldRestarts.length - colds.length}:${d.change.id}`
    for (const id of d.clientIds) {
      const i = clientIndex(id)
      const order = memory[i]!.check(epoch, seq, d.change.id)
      if (order === 'duplicate') {
        // Only ever a change this client applied: never one it has not.
        expect(applied[i]!.has(incarnation), `${id} refused ${d.change.id} as applied`).toBe(true)
        memory[i]!.applied(seq)
        continue
      }
      expect(order, `${id}: ${d.change.id} at seq ${seq} of ${epoch}`).toBe('apply')
      memory[i]!.applied(seq, d.change.id)
      applied[i]!.set(incarnation, (applied[i]!.get(incarnation) ?? 0) + 1)
    }
  }
  return applied
}

describe('exactly-once effect', () => {
  it('I: at most once to anyone; every live client gets every completed change', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const { sim, fleet } = play(s)
        for (const [, seen] of sim.received) expect(Math.max(0, ...seen)).toBeLessThanOrEqual(1)
        everyLiveClientHasEveryCompletedChange(sim, fleet.size)
      }),
      params(),
    )
  })

  it('I across cold restarts: applied at most once, never refused unapplied, every change after reaches everyone', () => {
    fc.assert(
      fc.property(coldScenarioArb, (s) => {
        const { sim, fleet } = play(s as Scenario)
        const applied = throughTheSdk(sim, fleet.size)
        for (const perClient of applied) for (const n of perClient.values()) expect(n).toBe(1)
        // Change ids are unique for good: no two engines made the same one.
        const ids = new Set(sim.deliveries.map((d) => d.change.id))
        const made = new Set(sim.deliveries.map((d) => `${d.change.id}|${d.change.submittedAt}`))
        expect(made.size).toBe(ids.size)
        everyLiveClientHasEveryCompletedChange(sim, fleet.size)
      }),
      params(),
    )
  })
})

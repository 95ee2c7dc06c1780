/**
 * I: each client gets each change at most once, across restarts, leaves and
 * rejoins; and every client that is live at the end and was in the fleet
 * before a completed change was made has it (a rollback only where the
 * original went).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { clientId } from '../../src/sim/fleet.js'
import { scenarioArb } from './arbitraries.js'
import { play } from './play.js'
import { params } from './runs.js'

describe('exactly-once effect', () => {
  it('I: at most once to anyone; every live client gets every completed change', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => {
        const { sim, fleet } = play(s)
        for (const [, seen] of sim.received) expect(Math.max(0, ...seen)).toBeLessThanOrEqual(1)
        const views = new Map(sim.engine.list().map((r) => [r.id, r]))
        for (const r of views.values()) {
          if (r.state !== 'completed') continue
          const seen = sim.received.get(r.id) ?? new Uint8Array(fleet.size)
          const original = r.change.rollbackOf ? sim.received.get(r.change.rollbackOf) : undefined
          for (let i = 0; i < fleet.size; i++) {
            if (!sim.live[i] || !(sim.firstSeq[i]! < r.change.seq)) continue
            if (r.change.rollbackOf && !original?.[i]) continue
            if (seen[i] !== 1) {
              throw new Error(
                `${clientId(i)} is live, predates ${r.id} (seq ${r.change.seq}) and never got it`,
              )
            }
          }
        }
      }),
      params(),
    )
  })
})

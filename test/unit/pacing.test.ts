/**
 * The rule a leader publishes for which clients heartbeat at the gates'
 * pace, as a follower applies it: every client a gate compares (treated by
 * shard, the control as drawn) is paced, and no other client of the fleet
 * the control was drawn from is.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { controlSample } from '../../src/gates/cohorts.js'
import { controlRule, type PaceRule, pacedBy, paceRank, paceShare } from '../../src/gates/pacing.js'
import { shardOf } from '../../src/invalidation/shard.js'

describe('pace rules', () => {
  it('pace exactly the treated shards and the drawn control', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12 }), {
          minLength: 1,
          maxLength: 300,
        }),
        fc.string({ minLength: 1, maxLength: 20 }),
        fc.integer({ min: 1, max: 1000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 0, max: 300 }),
        (clients, id, shards, a, b, size) => {
          const reached = Math.floor(Math.min(a, b) * shards)
          const lo = Math.max(reached, Math.floor(Math.max(a, b) * shards))
          const shard = (c: string) => shardOf(c, id, shards)
          const drawn = new Set(
            controlSample(
              clients.filter((c) => shard(c) >= lo),
              size,
              id,
            ),
          )
          const control = controlRule(lo, shards, drawn, id)
          const rules: PaceRule[] = [{ id, shards, reached, ...(control && { control }) }]
          for (const c of clients) {
            const compared = shard(c) < reached || drawn.has(c)
            expect(pacedBy(rules, c)).toBe(compared)
          }
        },
      ),
    )
  })

  it('pace no one without rules', () => {
    expect(pacedBy([], 'app-1')).toBe(false)
  })
})

describe('the paced share', () => {
  it('paces at most maxPaced of the compared clients, for any rollout, with ids of either shape', () => {
    const clients = 10_000
    const shapes = [
      Array.from({ length: clients }, (_, i) => `app-${i}`),
      Array.from({ length: clients }, (_, i) => `web-${String(i).padStart(5, '0')}.prod`),
    ]
    for (const maxPaced of [100, 2_000]) {
      for (const ids of shapes) {
        for (let r = 0; r < 40; r++) {
          const id = `chg-test-${r}`
          // The third wave of [0.01, 0.05, 0.25, 1] on 100 shards, with its control.
          const treated = ids.filter((c) => shardOf(c, id, 100) < 25)
          const control = controlSample(
            ids.filter((c) => shardOf(c, id, 100) >= 25),
            treated.length,
            id,
          )
          const compared = [...treated, ...control]
          const share = paceShare(maxPaced, compared.length)
          const paced = compared.filter((c) => paceRank(c) < share).length
          expect(paced).toBeLessThanOrEqual(maxPaced)
          expect(paced).toBeGreaterThan(maxPaced * 0.4)
        }
      }
    }
    expect(paceShare(2_000, 1_500)).toBe(1)
  })
})

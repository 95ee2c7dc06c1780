/**
 * The rule a leader publishes for which clients heartbeat at the gates'
 * pace, as a follower applies it: every client a gate compares (treated by
 * shard, the control as drawn) is paced, and no other client of the fleet
 * the control was drawn from is.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { controlSample } from '../../src/gates/cohorts.js'
import { controlRule, type PaceRule, pacedBy } from '../../src/gates/pacing.js'
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

/** shardsOf hashes the salt once and each id alone: the same shard as shardOf, for any strings. */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { shardOf, shardsOf } from '../../src/invalidation/shard.js'

describe('shardsOf', () => {
  it('gives every client the shard shardOf gives it', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary' }),
        fc.array(fc.string({ unit: 'binary' }), { maxLength: 20 }),
        fc.integer({ min: 1, max: 100_000 }),
        (salt, ids, shards) => {
          const of = shardsOf(salt, shards)
          for (const id of ids) expect(of(id)).toBe(shardOf(id, salt, shards))
        },
      ),
    )
  })
})

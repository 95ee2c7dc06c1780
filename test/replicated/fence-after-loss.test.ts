/**
 * Fencing after Redis lost its state: an empty store hands out fencing
 * tokens from 1 again, so the token of a leader from before the loss can be
 * current again. Its commits name its state's epoch too, and the store
 * refuses them: nothing of the lost state is written into the new one.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { RedisStore } from '../../src/store/redis.js'
import { waitFor } from '../helpers/coordinator.js'
import { type RedisServer, startRedis } from '../helpers/redis.js'

describe('a leader from before the loss', () => {
  let redis: RedisServer
  const stores: RedisStore[] = []
  afterAll(async () => {
    for (const s of stores) await s.close()
    await redis?.stop()
  })

  it('cannot commit into the new state, though fencing tokens start again at its own', {
    timeout: 30_000,
  }, async () => {
    redis = await startRedis()
    const open = async () => {
      const s = await new RedisStore({ fleet: 'zombie', url: redis.url }).connect()
      stores.push(s)
      return s
    }
    const zombie = await open()
    const old = await zombie.epoch('epochold')
    const fence = await zombie.acquireLeader('old', 60_000, Date.now())
    await zombie.commit(fence, [{ op: 'set', field: 'head', value: '{}' }], 100, old)

    await redis.kill()
    await redis.restart()
    const leader = await open()
    const now = await leader.epoch('epochnew')
    expect(now).toBe('epochnew')
    const next = await leader.acquireLeader('new', 60_000, Date.now())
    expect(next, 'the new store hands out the old leader’s token again').toBe(fence)

    // The old leader, back on the new store, with its token and its state's epoch: refused.
    await waitFor('the old leader reconnected', () => zombie.reachable, 10_000)
    const stale = await zombie
      .commit(
        fence,
        [
          { op: 'log', seq: 1, to: [], message: '{"stale":true}' },
          { op: 'set', field: 'head', value: '{"stale":true}' },
        ],
        100,
        old,
      )
      .catch((e: unknown) => e)
    expect(stale).toMatchObject({ code: 'E_FENCED' })
    expect(await leader.state()).toEqual({})
    expect((await leader.bounds()).last).toBe(0)
    // The new leader commits.
    await leader.commit(next, [{ op: 'log', seq: 1, to: [], message: '{}' }], 100, now)
    expect((await leader.bounds()).last).toBe(1)
  })
})

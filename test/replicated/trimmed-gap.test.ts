/**
 * S on Redis: a client whose gap was trimmed from the change log (it was away
 * while the log rolled over) gets a signed reset and marks its cache stale,
 * softly: it keeps serving every entry and refetches them under tokens.
 */
import { afterAll, describe, expect, it } from 'vitest'
import type { Coordinator } from '../../src/coordinator/coordinator.js'
import { createClient, devSigningKeys, type SlewClient } from '../../src/sdk/index.js'
import { post, startCoordinator, waitFor } from '../helpers/coordinator.js'
import { type RedisServer, startRedis } from '../helpers/redis.js'

describe('a trimmed gap', () => {
  let redis: RedisServer
  let co: Coordinator | undefined
  const clients: SlewClient<string>[] = []
  afterAll(async () => {
    for (const c of clients) await c.close()
    await co?.close()
    await redis?.stop()
  })

  it('gets a reset: everything stale, nothing dropped', { timeout: 30_000 }, async () => {
    redis = await startRedis()
    const started = await startCoordinator({
      fleet: 'trim',
      store: { kind: 'redis', url: redis.url },
      log: { maxEntries: 3 },
      waves: { steps: [1], bakeMs: 0 },
      confirmAbove: 1,
    })
    co = started.co
    const { url } = started
    let version = 1
    const loadsLog: string[] = []
    const make = (id: string) =>
      createClient<string>({
        url,
        clientId: id,
        fleet: 'trim',
        signingKeys: devSigningKeys,
        load: async (k) => {
          loadsLog.push(`${id}:${k}`)
          return `${k}@${version}`
        },
      })
    const away = make('away')
    const stay = make('stay')
    clients.push(away, stay)
    await away.start()
    await stay.start()
    for (const k of ['a', 'b', 'c']) await away.get(k)
    await stay.get('a')
    const resets: string[] = []
    await waitFor(
      'the config snapshot (its first resume point)',
      () => away.stats().lastSeq !== undefined,
    )
    // Away: it closes its stream; six changes go to the one that stays, trimming the log past `away`'s point.
    await away.close()
    const resumeFrom = away.stats().lastSeq
    version = 2
    for (let i = 0; i < 6; i++) {
      expect(
        (await post(`${url}/v1/changes`, { kind: 'invalidate', target: { keys: [`x${i}`] } }))
          .status,
      ).toBe(202)
    }
    await waitFor('six deliveries to the one that stayed', () => stay.stats().applied >= 7)
    // Back, with its kept cache and its old resume point (a restarted app server that kept both).
    const back = make('away')
    clients.push(back)
    for (const k of ['a', 'b', 'c']) back.set(k, `${k}@1`)
    back.on('reset', (r) => resets.push(r))
    await back.start({ since: resumeFrom! })
    await waitFor('the reset', () => resets.length === 1)
    expect(resets[0]).toMatch(/no longer in the log/)
    // Nothing dropped: every entry still served; all refetched in the background under tokens.
    for (const k of ['a', 'b', 'c']) expect(await back.get(k)).toMatch(new RegExp(`^${k}@`))
    await waitFor('the refetches', () => ['a', 'b', 'c'].every((k) => back.peek(k) === `${k}@2`))
    // Each entry refetched once, under one token each (a reader meanwhile does not add a second).
    expect(back.stats().refetchTokensUsed).toBe(3)
    expect(loadsLog.slice(4).sort()).toEqual(['away:a', 'away:b', 'away:c'])
  })
})

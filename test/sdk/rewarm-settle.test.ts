/**
 * A rewarm key is done only when its new content is in the cache. When the
 * rewarm reaches a key whose refetch another change already started, it
 * waits for that refetch: if it fails, the key is fetched again (not counted
 * done on the strength of a fetch that never landed).
 */
import { describe, expect, it } from 'vitest'
import { createClient, devSigningKeys, type SlewClient } from '../../src/sdk/index.js'
import { closeAfterAll, post, startCoordinator, waitFor } from '../helpers/coordinator.js'

describe('a rewarm key another refetch holds', () => {
  const closers = closeAfterAll()

  it('is done once that refetch lands, and fetched again if it fails', {
    timeout: 30_000,
  }, async () => {
    const { co, url } = await startCoordinator({
      waves: { steps: [1], bakeMs: 0 },
      confirmAbove: 1,
    })
    closers.push(() => co.close())
    let version = 1
    const loads: string[] = []
    // The invalidation's refetch of `a` hangs until the rewarm has reached the client, then fails.
    let rewarmArrived!: () => void
    const arrived = new Promise<void>((r) => {
      rewarmArrived = r
    })
    let failNextA = false
    const client: SlewClient<string> = createClient<string>({
      url,
      clientId: 'app-0',
      signingKeys: devSigningKeys,
      heartbeatMs: 60_000,
      rewarmHeartbeatMs: 100,
      load: async (key) => {
        loads.push(`${key}@v${version}`)
        if (key === 'a' && failNextA) {
          failNextA = false
          await arrived
          await new Promise((r) => setTimeout(r, 50))
          throw new Error('origin timeout')
        }
        return `${key}@v${version}`
      },
    })
    closers.push(() => client.close())
    client.on('change', (c) => {
      if (c.kind === 'rewarm') rewarmArrived()
    })
    await client.start()
    await client.get('a')
    await client.get('b')
    expect(client.peek('a')).toBe('a@v1')

    version = 2
    failNextA = true
    const inv = await post(`${url}/v1/changes`, { kind: 'invalidate', target: { keys: ['a'] } })
    expect(inv.status).toBe(202)
    await waitFor('the refetch of a to start', () => loads.includes('a@v2'))
    // Each client rewarms what it holds that is not fresh: `a`, whose refetch is in flight.
    const pushed = await post(`${url}/v1/changes`, { kind: 'rewarm', target: { hotSet: true } })
    expect(pushed.status).toBe(202)
    const { id } = (await pushed.json()) as { id: string }

    const progress = async () =>
      (
        (await (await fetch(`${url}/v1/changes/${id}`)).json()) as {
          rewarm: { keysDone: number; keysFailed: number; keysTotal: number }
        }
      ).rewarm
    await waitFor('the key done', async () => (await progress()).keysDone === 1, 20_000, 50)
    expect(await progress()).toMatchObject({ keysDone: 1, keysFailed: 0, keysTotal: 1 })
    // Done means the new content is held: `a` was fetched again after the failed refetch.
    expect(client.peek('a')).toBe('a@v2')
    expect(loads.filter((l) => l === 'a@v2')).toHaveLength(2)
  })
})

/**
 * The Keyv store adapter: Keyv's own compliance suite on a real client's L1,
 * then slew's invalidations seen through Keyv on a real coordinator.
 */
import keyvTestSuite from '@keyv/test-suite'
import Keyv, { type KeyvStoreAdapter } from 'keyv'
import * as test from 'vitest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Change, createClient, devSigningKeys, slewKeyvStore } from '../../src/sdk/index.js'
import { closeAfterAll, post, startCoordinator, waitFor } from '../helpers/coordinator.js'

describe('@keyv/test-suite on slewKeyvStore', () => {
  // Not started: the suite needs no coordinator (nothing is invalidated).
  const client = createClient<unknown>({
    url: 'http://127.0.0.1:1',
    clientId: 'k',
    signingKeys: devSigningKeys,
    load: async (key) => ({ value: `loaded ${key}` }),
  })
  afterAll(() => client.close())

  it('is a KeyvStoreAdapter', () => {
    const store: KeyvStoreAdapter = slewKeyvStore(client)
    expect(store.opts).toBeTypeOf('object')
  })

  keyvTestSuite(test, Keyv, () => slewKeyvStore(client))
})

describe('slewKeyvStore on a slew client', () => {
  const closers = closeAfterAll()

  let url = ''
  let version = 1
  const loads: string[] = []
  /** What the origin answers: a Keyv record, which Keyv reads as already deserialized. */
  const load = async (key: string) => {
    loads.push(key)
    return { value: `${key}@v${version}` }
  }
  const start = async (clientId: string, background: boolean) => {
    const client = createClient<unknown>({
      url,
      clientId,
      signingKeys: devSigningKeys,
      load,
      heartbeatMs: 60_000,
      refetch: { background },
    })
    closers.push(() => client.close())
    const seen: string[] = []
    client.on('change', (c: Change) => seen.push(c.id))
    await client.start()
    return { client, seen }
  }
  const push = async (
    client: { seen: string[] },
    target: Record<string, unknown>,
    mode: 'soft' | 'hard',
  ) => {
    const r = await post(`${url}/v1/changes`, { kind: 'invalidate', target, mode })
    expect(r.status).toBe(202)
    const { id } = (await r.json()) as { id: string }
    await waitFor(`change ${id} to arrive`, () => client.seen.includes(id))
  }

  beforeAll(async () => {
    const { co, url: u } = await startCoordinator({
      waves: { steps: [1], bakeMs: 0 },
      confirmAbove: 1,
    })
    url = u
    closers.push(() => co.close())
  })

  it('soft: Keyv still reads the stale value, and that read queues a refetch by load', async () => {
    // No background refetch: only a read may queue one.
    const c = await start('soft', false)
    const keyv = new Keyv({ store: slewKeyvStore(c.client) })
    await keyv.set('user:1', 'old')
    await keyv.set('user:2', 'kept')
    await push(c, { keys: ['keyv:user:1'] }, 'soft')

    expect(c.client.cache.lru.get('keyv:user:1')?.state).toBe('stale')
    expect(loads).not.toContain('keyv:user:1')
    expect(await keyv.get('user:1')).toBe('old')
    await waitFor('the refetch', () => c.client.cache.lru.get('keyv:user:1')?.state === 'fresh')
    expect(loads.filter((k) => k === 'keyv:user:1')).toHaveLength(1)
    expect(await keyv.get('user:1')).toBe('keyv:user:1@v1')
    expect(await keyv.get('user:2')).toBe('kept')
    expect(c.client.stats().refetchTokensUsed).toBe(1)
  })

  it('hard: the key reads as undefined, has() says false, other keys stay', async () => {
    const c = await start('hard', false)
    const keyv = new Keyv({ store: slewKeyvStore(c.client), namespace: 'app' })
    await keyv.set('a', 1)
    await keyv.set('b', 2)
    await push(c, { keys: ['app:a'] }, 'hard')

    expect(await keyv.get('a')).toBeUndefined()
    expect(await keyv.has('a')).toBe(false)
    expect(await keyv.get(['a', 'b'])).toEqual([undefined, 2])
    expect(loads).not.toContain('app:a')
    // A new write makes it fresh again.
    await keyv.set('a', 3)
    expect(await keyv.get('a')).toBe(3)
  })

  it('a prefix invalidation reaches a whole namespace, and tags reach tagged entries', async () => {
    version = 2
    const c = await start('prefix', true)
    const tagsOf = (key: string) => (key === 'b:y' ? ['catalog'] : [])
    const a = new Keyv({ store: slewKeyvStore(c.client, { tagsOf }), namespace: 'a' })
    const b = new Keyv({ store: slewKeyvStore(c.client, { tagsOf }), namespace: 'b' })
    await a.set('x', 'a-x')
    await b.set('x', 'b-x')
    await b.set('y', 'b-y')
    await push(c, { prefixes: ['a:'] }, 'soft')
    // Background refetch (the default): the new value arrives without a read.
    await waitFor('the refetch of a:x', () => loads.includes('a:x'))
    await c.client.idle()
    expect(await a.get('x')).toBe('a:x@v2')
    expect(await b.get('x')).toBe('b-x')

    await push(c, { tags: ['catalog'] }, 'hard')
    // Gone at once; back only as what load answers (refetched in the background).
    expect(await b.get('y')).not.toBe('b-y')
    expect(await b.get('x')).toBe('b-x')
    await c.client.idle()
    expect(await b.get('y')).toBe('b:y@v2')
  })

  it('expires entries by their ttl in the store itself, and clear() keeps other namespaces', async () => {
    const c = await start('ttl', false)
    const store = slewKeyvStore(c.client)
    const keyv = new Keyv({ store, namespace: 'ns' })
    c.client.set('not-keyv', 'mine')
    await keyv.set('short', 'v', 40)
    await keyv.set('long', 'v')
    expect(await store.get('ns:short')).toBeTypeOf('string')
    await new Promise((r) => setTimeout(r, 80))
    expect(await store.get('ns:short')).toBeUndefined()
    expect(await store.has('ns:short')).toBe(false)
    expect(await keyv.get('long')).toBe('v')

    await keyv.clear()
    expect(await keyv.get('long')).toBeUndefined()
    expect(c.client.cache.peek('not-keyv')?.value).toBe('mine')
  })
})

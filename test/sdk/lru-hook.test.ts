/**
 * attachLruCache on a real client and coordinator: the changes the client
 * receives reach an app's own lru-cache (soft: stale but servable where the
 * cache allows it; hard: gone), and a lost log gap marks it all stale.
 */
import { LRUCache } from 'lru-cache'
import { beforeAll, describe, expect, it } from 'vitest'
import { type Coordinator, createCoordinator } from '../../src/coordinator/coordinator.js'
import {
  attachLruCache,
  type Change,
  createClient,
  devSigningKeys,
  type SlewClient,
} from '../../src/sdk/index.js'
import { closeAfterAll, post, startCoordinator, waitFor } from '../helpers/coordinator.js'

const config = { waves: { steps: [1], bakeMs: 0 }, confirmAbove: 1 }

describe('attachLruCache', () => {
  let co: Coordinator
  let url = ''
  let client: SlewClient<string>
  const seen: Change[] = []
  const resets: string[] = []
  const closers = closeAfterAll()

  beforeAll(async () => {
    ;({ co, url } = await startCoordinator(config))
    closers.push(() => co.close())
    client = createClient<string>({
      url,
      clientId: 'lru',
      signingKeys: devSigningKeys,
      load: async (key) => `slew ${key}`,
      heartbeatMs: 60_000,
      reconnect: { baseMs: 20, capMs: 100 },
    })
    closers.push(() => client.close())
    client.on('change', (c: Change) => seen.push(c))
    client.on('reset', (reason: string) => resets.push(reason))
    await client.start()
  })

  /** Push a change and wait until the client has applied it. */
  const push = async (change: Record<string, unknown>) => {
    const r = await post(`${url}/v1/changes`, change)
    expect(r.status).toBe(202)
    const { id } = (await r.json()) as { id: string }
    await waitFor(`change ${id} to arrive`, () => seen.some((c) => c.id === id))
  }

  /** An app's cache: stale-while-revalidate through its own fetchMethod, which counts calls. */
  const swrCache = () => {
    const fetched: string[] = []
    let version = 1
    const cache = new LRUCache<string, string>({
      max: 100,
      allowStale: true,
      fetchMethod: async (key) => {
        fetched.push(key)
        return `${key}@v${version}`
      },
    })
    return { cache, fetched, bump: () => version++ }
  }

  it('soft: entries go stale but keep serving; fetch() refetches them', async () => {
    const { cache, fetched, bump } = swrCache()
    const detach = attachLruCache(client, cache)
    for (const k of ['page:1', 'page:2', 'sku:1']) await cache.fetch(k)
    bump()
    await push({ kind: 'invalidate', target: { prefixes: ['page:'] }, mode: 'soft' })

    expect(cache.has('page:1')).toBe(false) // stale
    expect(cache.peek('page:1')).toBe('page:1@v1') // …but servable
    expect(cache.has('sku:1')).toBe(true) // untouched
    expect(cache.size).toBe(3)
    expect(fetched).toEqual(['page:1', 'page:2', 'sku:1'])

    // Stale-while-revalidate: the read gets the old value at once and starts a refetch.
    expect(await cache.fetch('page:1')).toBe('page:1@v1')
    await waitFor('the refetch', () => cache.has('page:1'))
    expect(cache.get('page:1')).toBe('page:1@v2')
    expect(await cache.fetch('sku:1')).toBe('sku:1@v1')
    expect(fetched).toEqual(['page:1', 'page:2', 'sku:1', 'page:1'])
    detach()
  })

  it('hard: matching entries are deleted; tags come from tagsOf', async () => {
    const cache = new LRUCache<string, { v: number; tags: string[] }>({ max: 100 })
    const detach = attachLruCache(client, cache, { tagsOf: (_k, value) => value.tags })
    cache.set('a', { v: 1, tags: ['catalog'] })
    cache.set('b', { v: 2, tags: ['other'] })
    cache.set('c', { v: 3, tags: [] })
    await push({ kind: 'invalidate', target: { tags: ['catalog'], keys: ['c'] }, mode: 'hard' })
    expect([...cache.keys()]).toEqual(['b'])
    detach()
  })

  it('soft on a cache that cannot serve stale deletes instead', async () => {
    const cache = new LRUCache<string, string>({ max: 100 })
    const detach = attachLruCache(client, cache)
    cache.set('x', '1')
    cache.set('y', '2')
    await push({ kind: 'invalidate', target: { keys: ['x'] }, mode: 'soft' })
    expect(cache.peek('x', { allowStale: true })).toBeUndefined()
    expect(cache.get('y')).toBe('2')
    detach()
  })

  it('rewarm refetches the named keys through fetchMethod; config changes and detached caches are left alone', async () => {
    const { cache, fetched, bump } = swrCache()
    const detach = attachLruCache(client, cache)
    await cache.fetch('hot')
    bump()
    await push({ kind: 'rewarm', target: { keys: ['hot', 'cold'] } })
    await waitFor('the rewarm', () => fetched.length === 3)
    expect(cache.get('hot')).toBe('hot@v2')
    expect(cache.get('cold')).toBe('cold@v2')

    await push({ kind: 'config', values: { 'feature.x': true }, confirm: true, reason: 'test' })
    expect(cache.has('hot')).toBe(true)

    detach()
    await push({ kind: 'invalidate', target: { all: true }, mode: 'hard' })
    expect(cache.size).toBe(2)
    expect(fetched).toHaveLength(3)
  })

  it('a reset (gap lost from the log) marks every entry stale, and flushes no cache', async () => {
    const { cache } = swrCache()
    const plain = new LRUCache<string, string>({ max: 100 })
    const detach = attachLruCache(client, cache)
    const detachPlain = attachLruCache(client, plain)
    for (const k of ['r1', 'r2']) await cache.fetch(k)
    plain.set('p', '1')
    // A new coordinator on the same port has a new log: the client's resume point is gone.
    const port = Number(new URL(url).port)
    await co.close()
    co = createCoordinator({ config, log: () => {}, processMetrics: false })
    await co.listen({ host: '127.0.0.1', port })
    await waitFor('the reset', () => resets.length === 1)

    expect(cache.size).toBe(2)
    expect(cache.has('r1')).toBe(false)
    expect(cache.peek('r1')).toBe('r1@v1')
    expect(cache.has('r2')).toBe(false)
    // A cache that cannot serve stale keeps its entries rather than lose them all.
    expect(plain.get('p')).toBe('1')
    detach()
    detachPlain()
  })
})

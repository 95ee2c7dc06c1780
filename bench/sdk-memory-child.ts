/**
 * One measured run of the SDK memory bench, in a fresh process (--expose-gc):
 * fills one cache of ENTRIES small values and prints { variant, entries,
 * bytesPerEntry } as JSON: the heap used after a full GC, minus before, ÷ entries.
 * The keys and values are made inside the measured span, the same way in
 * every variant, so each figure is what an app holds per cached entry. See sdk-memory.ts.
 *
 * Variants: `bare` lru-cache v11 `set`; slew `client.set(k, v)` (`set`); the
 * same, then each key read once through `client.get` (`setGet`); each
 * key loaded by a `client.get` miss (`load`, the app server's usual way in); and
 * `client.set(k, v, { tags: [`tenant:${i % 100}`] })`, a new tags array per
 * call (`tagged`). The client is created, not started (no coordinator).
 */
import { LRUCache } from 'lru-cache'
import { createClient, devSigningKeys } from '../dist/sdk/index.js'

const ENTRIES = Number(process.argv[3] ?? 200_000)
const variant = process.argv[2] ?? 'bare'

type Value = { key: string; n: number }
const value = (key: string): Value => ({ key, n: key.length })

const gc = (globalThis as { gc?: () => void }).gc
if (!gc) throw new Error('run with --expose-gc')
const heap = () => {
  for (let i = 0; i < 4; i++) gc()
  return process.memoryUsage().heapUsed
}

// Warm up what the variants share (module code, the client's one-off objects), off the books.
{
  const warm = createClient<Value>({
    url: 'http://127.0.0.1:9',
    clientId: 'bench',
    signingKeys: devSigningKeys,
    load: async (key) => value(key),
  })
  warm.set('k', value('k'), { tags: ['t'] })
  await warm.get('k')
  await warm.close()
  new LRUCache<string, Value>({ max: 10 }).set('k', value('k'))
}

/** What was filled (kept alive until measured) and how many entries it holds. */
const fill = async (): Promise<{ held: unknown; size: number }> => {
  if (variant === 'bare') {
    const lru = new LRUCache<string, Value>({ max: ENTRIES })
    for (let i = 0; i < ENTRIES; i++) {
      const k = `user:${i}`
      lru.set(k, value(k))
    }
    return { held: lru, size: lru.size }
  }
  const client = createClient<Value>({
    url: 'http://127.0.0.1:9',
    clientId: 'bench',
    signingKeys: devSigningKeys,
    cache: { max: ENTRIES },
    load: async (key) => value(key),
  })
  for (let i = 0; i < ENTRIES; i++) {
    const k = `user:${i}`
    if (variant === 'load') await client.get(k)
    else if (variant === 'tagged') client.set(k, value(k), { tags: [`tenant:${i % 100}`] })
    else client.set(k, value(k))
  }
  if (variant === 'setGet')
    for (let i = 0; i < ENTRIES; i++) {
      const k = `user:${i}`
      if ((await client.get(k)).key !== k) throw new Error('not cached')
    }
  return { held: client, size: client.cache.size }
}

const before = heap()
const filled = await fill()
const after = heap()
if (filled.size !== ENTRIES || !filled.held)
  throw new Error(`${variant}: ${filled.size} entries, not ${ENTRIES}`)
console.log(
  JSON.stringify({ variant, entries: ENTRIES, bytesPerEntry: (after - before) / ENTRIES }),
)

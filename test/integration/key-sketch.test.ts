/**
 * Key sketches end to end: SDK clients with `keySketch` on a real
 * coordinator. A change to one key reaches only the clients that hold it; a
 * key cached after the client's filter still gets the change, when the next
 * heartbeat says it was cached; a client without sketches gets everything;
 * a bad sketch is a 400 that changes nothing.
 */

import { LRUCache } from 'lru-cache'
import { describe, expect, it } from 'vitest'
import { buildSketch, encodeSketch } from '../../src/invalidation/sketch.js'
import type { Change } from '../../src/model/change.js'
import {
  attachLruCache,
  createClient,
  devSigningKeys,
  type SlewClient,
} from '../../src/sdk/index.js'
import {
  closeAfterAll,
  openStream,
  post,
  startCoordinator,
  waitFor,
} from '../helpers/coordinator.js'

const closers = closeAfterAll()

describe('key sketches', () => {
  it('send a change to keys only to the clients that may hold one, and never leave a holder behind', {
    timeout: 60_000,
  }, async () => {
    const { co, url } = await startCoordinator({
      waves: { steps: [1], bakeMs: 0 },
      sketches: { staleMs: 10_000, windowMs: 60_000 },
      confirmAbove: 1,
    })
    closers.push(() => co.close())
    const seen = new Map<string, string[]>()
    const make = (clientId: string, keySketch: boolean): SlewClient<string> => {
      const c = createClient<string>({
        url,
        clientId,
        signingKeys: devSigningKeys,
        load: async (k) => `${k}@${Date.now()}`,
        heartbeatMs: 1000,
        ...(keySketch && { keySketch: { fpr: 0.001 } }),
      })
      seen.set(clientId, [])
      c.on('change', (ch: Change) => seen.get(clientId)!.push(...(ch.target?.keys ?? ['*'])))
      closers.push(() => c.close())
      return c
    }
    const a = make('a', true)
    const b = make('b', true)
    const plain = make('plain', false)
    await Promise.all([a.start(), b.start(), plain.start()])
    await a.get('k1')
    await b.get('k2')
    // Each sketching client has sent a filter that is in use; the plain one never does.
    await waitFor('filters', () => co.engine.sketchKnown('a') && co.engine.sketchKnown('b'))
    await new Promise((r) => setTimeout(r, 1500))
    expect(co.engine.sketchKnown('plain')).toBe(false)

    const push = async (key: string) => {
      const res = await post(`${url}/v1/changes`, { kind: 'invalidate', target: { keys: [key] } })
      expect(res.status).toBe(202)
      return ((await res.json()) as { id: string }).id
    }
    const r1 = await push('k1')
    await waitFor(
      'k1 to a and plain',
      () => co.engine.get(r1).state === 'completed' && seen.get('plain')!.includes('k1'),
    )
    await waitFor('k1 applied by a', () => seen.get('a')!.includes('k1'))
    expect(seen.get('b')).not.toContain('k1')
    expect(co.engine.get(r1).waves[0]!.skipped).toBe(1)
    const shown = (await (await fetch(`${url}/v1/changes/${r1}`)).json()) as {
      waves: { skipped?: number; delivered: number }[]
    }
    expect(shown.waves[0]).toMatchObject({ skipped: 1, delivered: 2 })

    // b caches k3 and a change to k3 comes before b's next heartbeat can tell: skipped, then sent.
    await b.get('k3')
    const r3 = await push('k3')
    await waitFor('k3 reaches b after all', () => seen.get('b')!.includes('k3'))
    expect(seen.get('a')).not.toContain('k3')
    expect(co.engine.get(r3).delivered).toBeGreaterThanOrEqual(2) // plain, b
    // Unless a heartbeat came between the get and the push (a second apart), b was skipped and
    // the next one had it sent after all.
    if (co.engine.get(r3).waves[0]!.skipped === 2) {
      expect(co.engine.sketchCounts.replayed).toBeGreaterThanOrEqual(1)
    }
    // The metric says what was skipped and replayed.
    const metrics = await (await fetch(`${url}/metrics`)).text()
    expect(metrics).toMatch(/slew_sketch_skipped_total \d+/)

    // A bad sketch: a clear 400, and nothing changes.
    const before = co.engine.sketchKnown('a')
    const bad = await post(`${url}/v1/clients/a/heartbeat`, {
      sketch: { filter: { m: 64, k: 3, bits: 'AAAA' } },
    })
    expect(bad.status).toBe(400)
    expect(bad.headers.get('content-type')).toMatch(/problem\+json/)
    expect(co.engine.sketchKnown('a')).toBe(before)
  })
  it('marks the cache of a client silent past the window stale, when it is back', {
    timeout: 30_000,
  }, async () => {
    const { co, url } = await startCoordinator({ sketches: { staleMs: 1000, windowMs: 1000 } })
    closers.push(() => co.close())
    const beat = (sketch: unknown) => post(`${url}/v1/clients/gone/heartbeat`, { sketch })
    const first = await beat({ filter: encodeSketch(buildSketch(['k1'], 0.01)), added: [] })
    expect(((await first.json()) as { sketch: string }).sketch).toBe('ok')
    await new Promise((r) => setTimeout(r, 1200))
    // Silent longer than the window: skips it may have missed are forgotten. Away, it is owed a
    // reset; it gets one when its stream opens.
    expect((await beat({ added: ['k2'] })).status).toBe(200)
    const stream = await openStream(url, 'gone')
    closers.push(() => stream.close())
    await waitFor('a reset', () => stream.of('reset').length > 0)
    expect(JSON.parse(stream.of('reset')[0]!.data).reason).toMatch(/^sketch-lost/)
  })

  it("refuses to sketch a client whose changes go to a cache of the app's own", async () => {
    const c = createClient<string>({
      url: 'http://127.0.0.1:9',
      clientId: 'x',
      signingKeys: devSigningKeys,
      load: async (k) => k,
      keySketch: {},
    })
    closers.push(() => c.close())
    expect(() => attachLruCache(c, new LRUCache<string, string>({ max: 10 }))).toThrow(/keySketch/)
  })
})

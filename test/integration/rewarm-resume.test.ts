/**
 * A client restarted mid-rewarm continues from its checkpoint in the
 * coordinator's store, however it comes back: with its kept cache and the
 * resume point it saved (stats().lastSeq when it stopped, or an older one,
 * so the rewarm is replayed to it), or with nothing at all. It refetches
 * exactly the keys it had not settled, none of those it had, and the change
 * reports every key done. A client that stays connected but stops reporting
 * counts as gone after rewarm.staleAfterMs.
 */
import { describe, expect, it } from 'vitest'
import type { Change } from '../../src/model/change.js'
import { changeDigest } from '../../src/protocol/messages.js'
import { verifyMessage } from '../../src/protocol/sign.js'
import { createClient, devSigningKeys, type SlewClient } from '../../src/sdk/index.js'
import {
  closeAfterAll,
  openStream,
  post,
  pushKeys,
  startCoordinator,
  waitFor,
} from '../helpers/coordinator.js'
import { startMitm } from '../helpers/mitm.js'

// Hottest first, as the job lists them (not sorted: a rewarm keeps its order).
const NONCE = 'test-nonce-1'
const KEYS = Array.from({ length: 200 }, (_, i) => `page:${i}`)

type Progress = {
  state: string
  rewarm: {
    keysDone: number
    keysTotal: number
    keysOrphaned: number
    clientsGone: number
    etaMs: number
  }
}

type Restart = 'since before the push' | 'since when it stopped' | 'nothing kept'

describe('a client restarted in the middle of a rewarm', () => {
  const closers = closeAfterAll()
  /** One life of an app server: the same client id each time, closed after the tests. */
  const lifeOf = (
    url: string,
    clientId: string,
    load: (key: string) => Promise<string>,
  ): SlewClient<string> => {
    const c = createClient<string>({
      url,
      clientId,
      signingKeys: devSigningKeys,
      heartbeatMs: 60_000,
      rewarmHeartbeatMs: 50,
      load,
    })
    closers.push(() => c.close())
    return c
  }

  it.each<Restart>(['since before the push', 'since when it stopped', 'nothing kept'])(
    'continues from its checkpoint without refetching what it had done (%s)',
    {
      timeout: 60_000,
    },
    async (restart) => {
      const { co, url } = await startCoordinator({
        budgets: { rewarm: { ratePerSec: 60, burst: 5 } },
        leases: { ttlMs: 250, maxBatch: 5 },
        waves: { steps: [1], bakeMs: 0 },
        rewarm: { intervalMs: 200, start: 0.5 },
      })
      closers.push(() => co.close())
      let version = 1
      const loads: { life: number; key: string }[] = []
      // The second life's first read of its checkpoints fails, the next is slow: the rewarm,
      // replayed meanwhile, must wait for them and report nothing until then (a report of
      // nothing done would overwrite them), and must not start over when a read fails.
      let reads = 0
      const read = (method: string, path: string) => method === 'GET' && /\/rewarms\?/.test(path)
      const slow = await startMitm(url, {
        refuse: (method, path) => (read(method, path) && ++reads === 1 ? 503 : undefined),
        delayMs: (method, path) => (read(method, path) ? 400 : 0),
      })
      closers.push(() => slow.close())
      const make = (life: number) =>
        lifeOf(life === 2 ? slow.url : url, 'app-0', async (key) => {
          loads.push({ life, key })
          await new Promise((r) => setTimeout(r, 2))
          return `${key}@v${version}`
        })
      const first = make(1)
      await first.start()
      for (const k of KEYS.slice(0, 20)) await first.get(k) // held before the push: old content
      await waitFor('a resume point', () => first.stats().lastSeq !== undefined)
      const beforePush = first.stats().lastSeq!

      version = 2
      const pushed = await pushKeys(url, KEYS)
      expect(pushed.status).toBe(202)
      const { id } = (await pushed.json()) as { id: string }
      const change = (await (await fetch(`${url}/v1/changes/${id}`)).json()) as {
        change: { target: { keys: string[] } }
      }
      expect(change.change.target.keys).toEqual(KEYS)
      const progress = async () =>
        (await (await fetch(`${url}/v1/changes/${id}`)).json()) as Progress
      await waitFor('a third of the keys', async () => (await progress()).rewarm.keysDone >= 60)

      // Stop it (its cache kept, as an app server that saves it would) and read its checkpoint.
      const kept = new Map<string, string>()
      for (const k of KEYS) {
        const v = first.peek(k)
        if (v !== undefined) kept.set(k, v)
      }
      const stoppedAt = first.stats().lastSeq!
      expect(stoppedAt).toBeGreaterThan(beforePush) // the rewarm itself was applied
      await first.close()
      const checkpoint = (await (await fetch(`${url}/v1/clients/app-0/rewarm/${id}`)).json()) as {
        done: number
        total: number
        cursor: number
        ahead?: number[]
      }
      expect(checkpoint.total).toBe(200)
      expect(checkpoint.done).toBeGreaterThanOrEqual(60)
      expect(checkpoint.done).toBeLessThan(200)
      const settled = new Set([
        ...KEYS.slice(0, checkpoint.cursor),
        ...(checkpoint.ahead ?? []).map((i) => KEYS[i]!),
      ])
      expect(settled.size).toBe(checkpoint.done)
      // While it is away, what it had left is orphaned: nothing left to wait for.
      await waitFor(
        'the client to be gone',
        async () => (await progress()).rewarm.clientsGone === 1,
      )
      expect((await progress()).rewarm).toMatchObject({
        keysDone: checkpoint.done,
        keysOrphaned: 200 - checkpoint.done,
        etaMs: 0,
      })
      // What it settled, it fetched in its first life, after the push.
      const firstLife = new Set(
        loads
          .slice(20)
          .filter((l) => l.life === 1)
          .map((l) => l.key),
      )
      for (const k of settled) expect(firstLife.has(k)).toBe(true)

      const second = make(2)
      if (restart === 'nothing kept') await second.start()
      else {
        for (const [k, v] of kept) second.set(k, v)
        await second.start({ since: restart === 'since before the push' ? beforePush : stoppedAt })
      }
      await waitFor('every key', async () => (await progress()).rewarm.keysDone === 200, 30_000, 50)
      expect((await progress()).rewarm).toMatchObject({
        keysDone: 200,
        keysTotal: 200,
        keysOrphaned: 0,
        clientsGone: 0,
      })

      expect(reads).toBeGreaterThanOrEqual(2) // the failed read was tried again
      // It refetched exactly what it had not settled: each once, none of the rest.
      const secondLife = loads.filter((l) => l.life === 2).map((l) => l.key)
      expect([...secondLife].sort()).toEqual(KEYS.filter((k) => !settled.has(k)).sort())
      for (const k of KEYS) {
        if (restart !== 'nothing kept' || !settled.has(k)) expect(second.peek(k)).toBe(`${k}@v2`)
      }
      // Nothing is left for it to continue.
      const left = (await (
        await fetch(`${url}/v1/clients/app-0/rewarms?nonce=${NONCE}`)
      ).json()) as { rewarms: { change?: unknown }[] }
      expect(left.rewarms).toHaveLength(1)
      expect(left.rewarms[0]!.change).toBeUndefined()
    },
  )

  it('fills the cache it has after a restart, skipping only what does not fit', {
    timeout: 30_000,
  }, async () => {
    const { co, url } = await startCoordinator({
      budgets: { rewarm: { ratePerSec: 40, burst: 2 } },
      leases: { ttlMs: 250, maxBatch: 2 },
      waves: { steps: [1], bakeMs: 0 },
      rewarm: { start: 0.9 },
    })
    closers.push(() => co.close())
    const loads: { life: number; key: string }[] = []
    const make = (life: number) =>
      createClient<string>({
        url,
        clientId: 'app-s',
        signingKeys: devSigningKeys,
        cache: { max: 40 },
        heartbeatMs: 60_000,
        rewarmHeartbeatMs: 50,
        load: async (key) => {
          loads.push({ life, key })
          return `${key}@v1`
        },
      })
    const first = make(1)
    closers.push(() => first.close())
    await first.start()
    const keys = KEYS.slice(0, 100)
    const pushed = await pushKeys(url, keys)
    const { id } = (await pushed.json()) as { id: string }
    type Skipping = Progress & { rewarm: { keysSkipped: number } }
    const progress = async () => (await (await fetch(`${url}/v1/changes/${id}`)).json()) as Skipping
    await waitFor('some keys', async () => (await progress()).rewarm.keysDone >= 10)
    const kept = [...keys].flatMap((k) => {
      const v = first.peek(k)
      return v === undefined ? [] : [[k, v] as const]
    })
    await first.close()
    const second = make(2)
    closers.push(() => second.close())
    for (const [k, v] of kept) second.set(k, v)
    await second.start()
    await waitFor('the cache full', async () => (await progress()).rewarm.keysDone === 40)
    expect((await progress()).rewarm).toMatchObject({
      keysDone: 40,
      keysTotal: 40,
      keysSkipped: 60,
    })
    // The 40 hottest are held, each fetched once over both lives; nothing colder was fetched.
    const fetched = loads.map((l) => l.key)
    expect([...fetched].sort()).toEqual(keys.slice(0, 40).sort())
    for (const k of keys.slice(0, 40)) expect(second.peek(k)).toBe(`${k}@v1`)
  })

  it('does nothing for a finished rewarm replayed to it after a restart', {
    timeout: 30_000,
  }, async () => {
    const { co, url } = await startCoordinator({ waves: { steps: [1], bakeMs: 0 } })
    closers.push(() => co.close())
    const loads: { life: number; key: string }[] = []
    const make = (life: number) =>
      lifeOf(url, 'app-f', async (key) => {
        loads.push({ life, key })
        return `${key}@v1`
      })
    const first = make(1)
    await first.start()
    await waitFor('a resume point', () => first.stats().lastSeq !== undefined)
    const beforePush = first.stats().lastSeq!
    const pushed = await pushKeys(url, KEYS.slice(0, 30))
    const { id } = (await pushed.json()) as { id: string }
    const progress = async () => (await (await fetch(`${url}/v1/changes/${id}`)).json()) as Progress
    await waitFor('the rewarm done', async () => (await progress()).rewarm.keysDone === 30)
    await first.close()

    // Back with a resume point from before the push: the change is replayed to it.
    const second = make(2)
    const applied: string[] = []
    second.on('change', (c) => applied.push(c.id))
    await second.start({ since: beforePush })
    await waitFor('the replay', () => applied.includes(id))
    await new Promise((r) => setTimeout(r, 500))
    expect(loads.filter((l) => l.life === 2)).toEqual([])
    expect((await progress()).rewarm).toMatchObject({ keysDone: 30, keysTotal: 30 })
  })

  it('hands a client its unfinished rewarms signed, and counts a silent one as gone', {
    timeout: 30_000,
  }, async () => {
    const { co, url } = await startCoordinator({
      waves: { steps: [1], bakeMs: 0 },
      rewarm: { staleAfterMs: 500 },
    })
    closers.push(() => co.close())
    // A client connected to the stream that reports once, then nothing.
    const stream = await openStream(url, 'quiet')
    closers.push(() => stream.close())
    expect(stream.status).toBe(200)
    const pushed = await pushKeys(url, ['a', 'b', 'c', 'd'])
    const { id } = (await pushed.json()) as { id: string }
    // Progress only on a rewarm it was sent: a checkpoint of any other is not kept.
    await waitFor('the rewarm to reach the client', () => stream.of('change').length === 1)
    const beat = await post(`${url}/v1/clients/quiet/heartbeat`, {
      rewarm: { [id]: { done: 1, total: 4, cursor: 1 } },
    })
    expect(beat.status).toBe(200)
    const progress = async () => (await (await fetch(`${url}/v1/changes/${id}`)).json()) as Progress
    expect((await progress()).rewarm).toMatchObject({
      keysDone: 1,
      keysOrphaned: 0,
      clientsGone: 0,
    })
    await waitFor('the silent client to count as gone', async () => {
      return (await progress()).rewarm.clientsGone === 1
    })
    expect((await progress()).rewarm).toMatchObject({ keysDone: 1, keysOrphaned: 3, etaMs: 0 })

    // What it would get back at a restart: its checkpoint signed for it and the nonce it
    // asked with, bound to the change beside it by its digest.
    const res = (await (await fetch(`${url}/v1/clients/quiet/rewarms?nonce=${NONCE}`)).json()) as {
      rewarms: { signed: unknown; change: Change }[]
    }
    expect(res.rewarms).toHaveLength(1)
    const { signed, change } = res.rewarms[0]!
    const v = verifyMessage<{ digest: string }>(signed, devSigningKeys)
    expect(v.ok).toBe(true)
    expect(v.ok && v.message).toMatchObject({
      type: 'rewarm-resume',
      fleet: 'default',
      clientId: 'quiet',
      nonce: NONCE,
      changeId: id,
      digest: changeDigest(change),
      checkpoint: { done: 1, total: 4, cursor: 1 },
    })
    expect(change).toMatchObject({ id, kind: 'rewarm', target: { keys: ['a', 'b', 'c', 'd'] } })
    // A report that is not of the change's list is not handed back.
    await post(`${url}/v1/clients/other/heartbeat`, {
      rewarm: { [id]: { done: 1, total: 9, cursor: 1 } },
    })
    const wrong = (await (
      await fetch(`${url}/v1/clients/other/rewarms?nonce=${NONCE}`)
    ).json()) as {
      rewarms: unknown[]
    }
    expect(wrong.rewarms).toEqual([])
    // Another client's id has none; a bad id or nonce is refused.
    const none = (await (await fetch(`${url}/v1/clients/loud/rewarms?nonce=${NONCE}`)).json()) as {
      rewarms: unknown[]
    }
    expect(none.rewarms).toEqual([])
    expect(
      (await fetch(`${url}/v1/clients/${'x'.repeat(300)}/rewarms?nonce=${NONCE}`)).status,
    ).toBe(400)
    const noNonce = await fetch(`${url}/v1/clients/quiet/rewarms`)
    expect(noNonce.status).toBe(400)
    expect(await noNonce.json()).toMatchObject({ code: 'E_INVALID_OPTION', field: 'nonce' })
  })
})

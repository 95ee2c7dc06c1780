/**
 * The app's signals reach the coordinator (issue 14, item 1): what
 * count() and observe() gathered goes out with the next heartbeat as counts
 * and a summary, with the interval it covers, and starts over after; a
 * bad name is a typed error at the call, never a refused heartbeat. And
 * config.get() answers a ramped value with the number it is at now.
 */
import { describe, expect, it } from 'vitest'
import { InvalidOptionError } from '../../src/errors.js'
import { createClient, devSigningKeys } from '../../src/sdk/index.js'
import { closeAfterAll, post, startCoordinator, waitFor } from '../helpers/coordinator.js'

describe('app signals', () => {
  const closers = closeAfterAll()

  it('go out with the next heartbeat, once, with their interval', { timeout: 30_000 }, async () => {
    const { co, url } = await startCoordinator({ waves: { steps: [1], bakeMs: 0 } })
    closers.push(() => co.close())
    const client = createClient<string>({
      url,
      clientId: 'app-1',
      signingKeys: devSigningKeys,
      heartbeatMs: 60_000,
      load: async (key) => key,
    })
    closers.push(() => client.close())
    await client.start()
    await client.heartbeat()
    client.count('orders', 3)
    client.count('orders')
    client.observe('checkout.ms', 40)
    client.observe('checkout.ms', 60)
    expect(() => client.count('no spaces')).toThrow(InvalidOptionError)
    await client.heartbeat()
    const health = () =>
      co.inspect().then((s) => s.fleet.health['app-1']) as Promise<Record<string, unknown>>
    const first = await health()
    expect(first.metrics).toEqual({ orders: 4 })
    expect(first.observed).toEqual({ 'checkout.ms': { n: 2, sum: 100, max: 60 } })
    expect(first.intervalMs).toBeGreaterThan(0)
    await client.heartbeat()
    const second = await health()
    expect(second.metrics).toBeUndefined()
    expect(second.observed).toBeUndefined()
  })

  it('config.get() gives a ramped value as the number it is at now', {
    timeout: 30_000,
  }, async () => {
    const { co, url } = await startCoordinator({
      waves: { steps: [1], bakeMs: 0 },
      confirmAbove: 1,
    })
    closers.push(() => co.close())
    const client = createClient<string>({
      url,
      clientId: 'app-2',
      signingKeys: devSigningKeys,
      load: async (key) => key,
    })
    closers.push(() => client.close())
    await client.start()
    const push = async (values: Record<string, unknown>) =>
      expect((await post(`${url}/v1/changes`, { kind: 'config', values })).status).toBe(202)
    await push({ rate: 100 })
    await waitFor('rate 100', () => client.config.get('rate') === 100)
    // A minute-long ramp of 6,000 per minute: about 100 per second.
    await push({ rate: { ramp: { to: 6_100, stepPerMinute: 6_000 } } })
    await waitFor(
      'the ramp to start',
      () =>
        typeof client.config.get('rate') === 'number' &&
        (client.config.get('rate') as number) > 100,
    )
    const a = client.config.get('rate') as number
    await new Promise((r) => setTimeout(r, 300))
    const b = client.config.get('rate') as number
    expect(b).toBeGreaterThan(a)
    expect(b).toBeLessThan(6_100)
    expect(client.config.all().rate).toBeGreaterThanOrEqual(b)
  })

  it('a paused rollout holds its ramp where each client is, and resumed it goes on', {
    timeout: 30_000,
  }, async () => {
    const { co, url } = await startCoordinator({
      // The first wave reaches 99 % of the shards (so a client, whatever the change's salt), and
      // the rollout stays rolling for the minute-long bake before the last 1 %.
      waves: { steps: [0.99, 1], bakeMs: 60_000 },
      confirmAbove: 1,
      gates: { enabled: false },
    })
    closers.push(() => co.close())
    const fleet = ['app-3', 'app-4'].map((clientId) =>
      createClient<string>({
        url,
        clientId,
        signingKeys: devSigningKeys,
        heartbeatMs: 60_000,
        load: async (key) => key,
      }),
    )
    for (const c of fleet) closers.push(() => c.close())
    await Promise.all(fleet.map((c) => c.start()))
    const rate = (c: (typeof fleet)[number]) => c.config.get('rate') as number
    const res = await post(`${url}/v1/changes`, {
      kind: 'config',
      values: { rate: 100 },
      waves: { steps: [1], bakeMs: 0 },
    })
    expect(res.status).toBe(202)
    await waitFor('rate 100', () => fleet.every((c) => rate(c) === 100))
    // The first wave's clients take the ramp; the rest wait for a bake of a minute.
    const pushed = await post(`${url}/v1/changes`, {
      kind: 'config',
      values: { rate: { ramp: { to: 6_100, stepPerMinute: 6_000 } } },
    })
    expect(pushed.status).toBe(202)
    const id = ((await pushed.json()) as { id: string }).id
    await waitFor('the ramp to start', () => fleet.some((c) => rate(c) > 100))
    const ramping = fleet.find((c) => rate(c) > 100)!
    expect((await post(`${url}/v1/changes/${id}/pause`, { reason: 'hold it' })).status).toBe(200)
    await ramping.heartbeat()
    const held = rate(ramping)
    await new Promise((r) => setTimeout(r, 300))
    expect(rate(ramping)).toBe(held)
    expect((await post(`${url}/v1/changes/${id}/resume`, {})).status).toBe(200)
    await ramping.heartbeat()
    await new Promise((r) => setTimeout(r, 300))
    expect(rate(ramping)).toBeGreaterThan(held)
    // It goes on from where it stood: about 30 in 300 ms, not the 300 ms of the pause too.
    expect(rate(ramping) - held).toBeLessThan(100)
  })
})

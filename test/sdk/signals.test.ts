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
})

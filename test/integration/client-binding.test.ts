/**
 * A token bound to client ids (`auth.tokens[].clientIds`) acts only as those
 * clients: one app server's token cannot heartbeat, lease, stream or read
 * checkpoints as another. Refused with 403 problem+json, changing nothing.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import type { Coordinator } from '../../src/coordinator/coordinator.js'
import { createClient, devSigningKeys } from '../../src/sdk/index.js'
import { closeAfterAll, startCoordinator, testOrigin } from '../helpers/coordinator.js'

const EU = 'eu-apps-secret-0123456789'
const ANY = 'any-apps-secret-0123456789'

describe('tokens bound to client ids', () => {
  const closers = closeAfterAll()
  let co: Coordinator
  let url: string
  beforeAll(async () => {
    ;({ co, url } = await startCoordinator({
      auth: {
        tokens: [
          { name: 'apps-eu', scopes: ['client'], secret: EU, clientIds: ['eu-*', 'canary.1'] },
          { name: 'apps', scopes: ['client'], secret: ANY },
        ],
      },
    }))
    closers.push(() => co.close())
  })

  const as = (token: string, method: string, path: string, body?: unknown) =>
    fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    })
  const requests = (id: string): [string, string, unknown?][] => [
    ['POST', `/v1/clients/${id}/heartbeat`, { entries: 3 }],
    ['POST', '/v1/leases', { clientId: id, want: 1 }],
    ['GET', `/v1/clients/${id}/rewarms?nonce=abcdefgh12`],
    ['GET', `/v1/clients/${id}/rewarm/chg-1`],
    ['GET', `/v1/stream?clientId=${id}`],
  ]

  it('refuses every client route for an id outside the binding, and changes nothing', async () => {
    for (const id of ['us-1', 'xeu-1', 'canary-1', 'canaryx1']) {
      for (const [method, path, body] of requests(id)) {
        const before = await co.inspect()
        const res = await as(EU, method, path, body)
        expect(res.status, `${method} ${path}`).toBe(403)
        expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/)
        const text = await res.text()
        const p = JSON.parse(text) as { code: string; clientId: string }
        expect(p.code).toBe('E_FORBIDDEN')
        expect(p.clientId).toBe(id)
        // The token's name stays with whoever configured it.
        expect(text).not.toContain('apps-eu')
        expect(await co.inspect(), `${method} ${path}`).toEqual(before)
      }
    }
  })

  it('serves the ids inside the binding, and any id to an unbound token', async () => {
    for (const [token, id] of [
      [EU, 'eu-1'],
      [EU, 'canary.1'],
      [ANY, 'us-1'],
    ] as const) {
      const reqs = requests(id)
      const beat = await as(token, ...reqs[0]!)
      expect(beat.status, id).toBe(200)
      const lease = await as(token, ...reqs[1]!)
      expect(lease.status, id).toBe(200)
      expect((await as(token, ...reqs[2]!)).status, id).toBe(200)
      expect((await as(token, ...reqs[3]!)).status, id).toBe(404) // no checkpoint: but allowed
    }
  })

  it('lets an SDK client with a bound token connect as itself, and not as another', {
    timeout: 20_000,
  }, async () => {
    const mine = createClient<string>({
      url,
      token: EU,
      clientId: 'eu-7',
      signingKeys: devSigningKeys,
      load: testOrigin().load,
    })
    closers.push(() => mine.close())
    await mine.start()
    expect(mine.stats().connected).toBe(true)

    const other = createClient<string>({
      url,
      token: EU,
      clientId: 'us-7',
      signingKeys: devSigningKeys,
      load: testOrigin().load,
      startTimeoutMs: 2_000,
    })
    closers.push(() => other.close())
    await expect(other.start()).rejects.toThrow(/may not act as this client|E_FORBIDDEN/)
  })
})

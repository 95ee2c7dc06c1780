/**
 * Loopback only without tokens: asked to bind anywhere else without auth
 * tokens (or while signing with the public dev key), the coordinator refuses
 * with a coded error and nothing listens on the port.
 */
import { connect } from 'node:net'
import { describe, expect, it } from 'vitest'
import { type CoordinatorOptions, createCoordinator } from '../../src/coordinator/coordinator.js'
import { SlewError } from '../../src/errors.js'
import { closeAfterAll } from '../helpers/coordinator.js'
import { freePort } from '../helpers/redis.js'

const closers = closeAfterAll()

/** Does anything accept a TCP connection at host:port? */
const accepts = (host: string, port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const sock = connect({ host, port })
    sock.once('connect', () => {
      sock.destroy()
      resolve(true)
    })
    sock.once('error', () => resolve(false))
  })

const make = (opts: Omit<CoordinatorOptions, 'log' | 'processMetrics'>) => {
  const lines: string[] = []
  const co = createCoordinator({ log: (l) => lines.push(l), processMetrics: false, ...opts })
  closers.push(() => co.close())
  return { co, lines }
}

const TOKENS = [{ name: 'ops', scopes: ['admin' as const], secret: 'admin-token-0123456789abcdef' }]
const SIGNING = { activeKid: 'k1', keys: { k1: 'a-real-signing-key-0123456789' } }

describe('refusal to bind a non-loopback host', () => {
  it.each([
    ['no tokens, host given to listen()', '0.0.0.0', 'arg', { tokens: [] }, 'no auth tokens'],
    ['no tokens, IPv6 any', '::', 'arg', { tokens: [] }, 'no auth tokens'],
    ['no tokens, host from the config', '0.0.0.0', 'config', { tokens: [] }, 'no auth tokens'],
    [
      'tokens but the public dev signing key',
      '0.0.0.0',
      'arg',
      { tokens: TOKENS },
      'public dev key',
    ],
  ] as const)('%s: coded error, nothing listening', async (_name, host, where, secrets, rule) => {
    const port = await freePort('0.0.0.0')
    const { co, lines } = make({
      secrets,
      ...(where === 'config' && { config: { listen: { host, port } } }),
    })
    const error = await co.listen(where === 'arg' ? { host, port } : undefined).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(SlewError)
    expect(error).toMatchObject({
      code: 'E_INVALID_OPTION',
      field: 'listen.host',
      value: host,
      rule: expect.stringContaining(rule),
    })
    // Nothing bound: the port refuses connections, and no "listening" notice was printed.
    expect(await accepts('127.0.0.1', port)).toBe(false)
    expect(lines.filter((l) => /listening/i.test(l))).toEqual([])
  })

  it('binds loopback without tokens, and anywhere with tokens and signing keys (the control)', async () => {
    const loop = make({ secrets: { tokens: [] } })
    const a = await loop.co.listen({ host: '127.0.0.1', port: 0 })
    expect(await accepts('127.0.0.1', a.port)).toBe(true)
    expect(loop.lines.some((l) => l.includes('loopback only'))).toBe(true)

    const port = await freePort('0.0.0.0')
    const { co } = make({ secrets: { tokens: TOKENS, signing: SIGNING } })
    const b = await co.listen({ host: '0.0.0.0', port })
    expect(b.port).toBe(port)
    expect(await accepts('127.0.0.1', port)).toBe(true)
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200)
  })
})

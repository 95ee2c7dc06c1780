/**
 * listen()'s coded refusals: every broken bind rule at once (the rule `slew
 * config check` applies), and a port another process holds as
 * E_ADDRESS_IN_USE, not a bare EADDRINUSE; the HTTP API carries every broken
 * rule of a bad config in its problem+json.
 */
import { createServer, type Server } from 'node:net'
import { describe, expect, it } from 'vitest'
import { createCoordinator } from '../../src/coordinator/coordinator.js'
import { AddressInUseError, InvalidOptionsError } from '../../src/errors.js'
import { closeAfterAll, startCoordinator } from '../helpers/coordinator.js'

const closers = closeAfterAll()

const make = () => {
  const lines: string[] = []
  const co = createCoordinator({
    log: (l) => lines.push(l),
    processMetrics: false,
    secrets: { tokens: [] },
  })
  closers.push(() => co.close())
  return { co, lines }
}

/** A port held by another server (this process's, but not the coordinator's). */
const hold = async (): Promise<{ port: number; server: Server }> => {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  closers.push(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return { port: (server.address() as { port: number }).port, server }
}

describe('listen()', () => {
  it('names every bind rule broken, not only the first', async () => {
    const { co } = make()
    const error = await co.listen({ host: '0.0.0.0', port: 0 }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(InvalidOptionsError)
    expect(error).toMatchObject({
      code: 'E_INVALID_OPTION',
      field: 'listen.host',
      issues: [
        { field: 'listen.host', rule: expect.stringContaining('no auth tokens'), value: '0.0.0.0' },
        { field: 'listen.host', rule: expect.stringContaining('public dev key'), value: '0.0.0.0' },
      ],
    })
    expect((error as Error).message.split('\n')).toHaveLength(3)
  })

  it('rejects a port in use with E_ADDRESS_IN_USE, and can listen elsewhere after', async () => {
    const { port } = await hold()
    const { co, lines } = make()
    const error = await co.listen({ host: '127.0.0.1', port }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(AddressInUseError)
    expect(error).toMatchObject({ code: 'E_ADDRESS_IN_USE', host: '127.0.0.1', port })
    expect((error as Error).message).toContain('--port')
    expect(((error as Error).cause as NodeJS.ErrnoException).code).toBe('EADDRINUSE')
    // Nothing claimed to listen.
    expect(lines.filter((l) => /listening/.test(l))).toEqual([])
    const at = await co.listen({ host: '127.0.0.1', port: 0 })
    expect((await fetch(`${at.url}/healthz`)).status).toBe(200)
  })
})

describe('PUT /v1/config with several broken rules', () => {
  it('answers 400 naming the first (in schema order), with every one in `issues`', async () => {
    const { co, url } = await startCoordinator()
    closers.push(() => co.close())
    const res = await fetch(`${url}/v1/config`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ config: { confirmAbove: 3, defaultEntries: -1 }, reason: 'test' }),
    })
    expect(res.status).toBe(400)
    expect(res.headers.get('content-type')).toContain('application/problem+json')
    const body = (await res.json()) as Record<string, unknown>
    expect(body).toMatchObject({
      code: 'E_INVALID_OPTION',
      field: 'defaultEntries',
      issues: [
        { field: 'defaultEntries', rule: 'an integer in [0, 1000000000]', value: -1 },
        { field: 'confirmAbove', rule: 'a number in [0, 1]', value: 3 },
      ],
    })
  })
})

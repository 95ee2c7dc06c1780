/**
 * Readiness is honest: /readyz answers 503 while this replica cannot reach
 * its store (or knows no leader), so a balancer stops sending clients to a
 * coordinator whose every push, status and new stream would get 503. A
 * coordinator started while Redis is unreachable still binds, says where it
 * listens and that it cannot reach Redis (retrying; no password, no client
 * library internals), answers 503, and connects once Redis appears.
 */
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { Coordinator } from '../../src/coordinator/coordinator.js'
import { post, startCoordinator, waitFor } from '../helpers/coordinator.js'
import { freePort, type RedisServer, startRedis } from '../helpers/redis.js'
import { serveReplica } from '../helpers/replicas.js'

interface Readiness {
  ready: boolean
  reason?: string
  role?: string
}

const readyz = async (url: string): Promise<{ status: number; body: Readiness }> => {
  const r = await fetch(`${url}/readyz`)
  return { status: r.status, body: (await r.json()) as Readiness }
}

describe('/readyz on Redis', () => {
  const servers: RedisServer[] = []
  const cos: Coordinator[] = []
  const procs: ChildProcess[] = []
  afterAll(async () => {
    for (const co of cos) await co.close()
    for (const p of procs) p.kill('SIGKILL')
    for (const s of servers) await s.stop()
  })

  it('is 503 while Redis is down and 200 again once it is back', {
    timeout: 60_000,
  }, async () => {
    const redis = await startRedis()
    servers.push(redis)
    const { co, url } = await startCoordinator({
      fleet: 'ready',
      store: { kind: 'redis', url: redis.url },
      replication: { leaseMs: 600 },
    })
    cos.push(co)
    await waitFor('ready', async () => (await readyz(url)).status === 200)
    expect((await readyz(url)).body).toMatchObject({ ready: true, role: 'leader' })

    await redis.kill()
    let down = await readyz(url)
    await waitFor(
      'not ready while Redis is down',
      async () => {
        down = await readyz(url)
        return down.status === 503
      },
      5_000,
      50,
    ).catch(() => {})
    expect(down.status, `readyz while Redis is down: ${JSON.stringify(down.body)}`).toBe(503)
    expect(down.body.ready).toBe(false)
    expect(down.body.reason).toMatch(/store|redis/i)
    // What the balancer would otherwise send there: refused too.
    expect(
      (await post(`${url}/v1/changes`, { kind: 'invalidate', target: { all: true } })).status,
    ).toBe(503)

    await redis.restart()
    await waitFor('ready again', async () => (await readyz(url)).status === 200, 15_000, 50)
    expect((await readyz(url)).body).toMatchObject({ ready: true })
  })

  it('is 503 for a coordinator started while Redis is unreachable, which says so, then connects', {
    timeout: 60_000,
  }, async () => {
    const port = await freePort()
    const password = 'hunter2-not-printed'
    const url = `redis://:${password}@127.0.0.1:${port}`
    const shown = `redis://127.0.0.1:${port}`
    const dir = mkdtempSync(join(tmpdir(), 'slew-ready-'))
    writeFileSync(
      join(dir, 'slew.config.yaml'),
      'fleet: unreachable\nreplication: { leaseMs: 600 }\n',
    )

    // Nothing listens on the port: serve still binds and says where, and why it is not ready.
    const replica = await serveReplica(dir, url)
    procs.push(replica.p)
    await waitFor('the reason', () => /cannot reach/.test(replica.log()), 10_000)
    expect(replica.log()).toContain(`slew: cannot reach ${shown} (retrying): `)
    expect(replica.log()).toMatch(/ECONNREFUSED/)
    const notReady = await readyz(replica.url)
    expect(notReady.status).toBe(503)
    expect(notReady.body).toMatchObject({ ready: false })
    expect(notReady.body.reason).toContain(shown)
    const push = await post(`${replica.url}/v1/changes`, {
      kind: 'invalidate',
      target: { all: true },
    })
    expect(push.status).toBe(503)
    expect(((await push.json()) as { code: string }).code).toBe('E_STORE_UNAVAILABLE')
    const stream = await fetch(`${replica.url}/v1/stream?clientId=app-1`)
    expect(stream.status).toBe(503)
    await stream.body?.cancel()

    // Redis appears on that port: the coordinator connects, says so, and becomes ready.
    servers.push(await startRedis([], { port, password }))
    await waitFor('connected', () => replica.log().includes(`slew: connected to ${shown}`), 15_000)
    await waitFor('ready', async () => (await readyz(replica.url)).status === 200, 15_000, 50)
    const pushed = await post(`${replica.url}/v1/changes`, {
      kind: 'invalidate',
      target: { keys: ['k'] },
    })
    expect(pushed.status, await pushed.clone().text()).toBe(202)

    const out = replica.log()
    expect(out).not.toContain(password)
    expect(out).not.toMatch(/Connection is closed|enableOfflineQueue|\n\s+at /)
  })
})

/**
 * Issue 12: a fuzz of every route with arbitrary methods, paths, headers,
 * bodies and sizes finds no 5xx, no unhandled rejection and no state change
 * on refusal (see test/helpers/fuzz/probe.ts for everything each answer is
 * held to). One coordinator with a token per scope, on a clock that stands
 * still while a request is checked (so nothing moves on its own between
 * the two snapshots) and moves between requests (so rollouts bake, buckets
 * refill, admission lets streams in again); and one in dev mode (no tokens,
 * where the Origin and content-type guard stands in for auth).
 *
 * Runs: SLEW_PROPERTY_RUNS / 3 per route (83 by default; twice that
 * anywhere, in dev mode and for NDJSON): about 2,200 requests, 20 s. A
 * failure prints the request and fast-check's seed (replay with
 * SLEW_PROPERTY_SEED and SLEW_PROPERTY_PATH; the coordinator's state is
 * the run's, so a replay may need the runs before it).
 */
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { VirtualClock } from '../../src/limiter/virtual-clock.js'
import { closeAfterAll, startCoordinator } from '../helpers/coordinator.js'
import {
  anywhereArb,
  type FuzzLimits,
  ndjsonAndJsonArb,
  requestArb,
  TOKENS,
  tokenConfig,
} from '../helpers/fuzz/arbitraries.js'
import { send } from '../helpers/fuzz/http.js'
import { type FuzzTarget, probe, watchCrashes } from '../helpers/fuzz/probe.js'
import { ROUTES, registeredRoutes, routeName } from '../helpers/fuzz/routes.js'
import { params, RUNS } from '../property/runs.js'

const PER_ROUTE = Math.max(1, Math.round(RUNS / 3))

const limits: FuzzLimits = { fleet: 'fuzz', bodyBytes: 16 * 1024, maxKeys: 500 }
const config = {
  fleet: limits.fleet,
  limits: { bodyBytes: limits.bodyBytes },
  // The rewarm loop runs on real timers: an hour apart, it does not move state under a check.
  rewarm: { maxKeys: limits.maxKeys, maxBodyBytes: 64 * 1024, intervalMs: 3_600_000 },
  watch: [{ metric: 'orders' }],
}

const closers = closeAfterAll()
const crashes = watchCrashes()
afterAll(() => crashes.stop())

/** A coordinator on a still clock, with clients and a rollout of each kind to aim at. */
const start = async (withTokens: boolean): Promise<FuzzTarget> => {
  const clock = new VirtualClock(1_700_000_000_000)
  const { co, url } = await startCoordinator(
    { ...config, ...(withTokens && { auth: { tokens: tokenConfig } }) },
    { clock },
  )
  closers.push(() => co.close())
  for (const id of ['app-0', 'app-1', 'app-2']) co.engine.join(id, { entries: 100 })
  const rollouts = [
    co.engine.submit({ kind: 'invalidate', target: { keys: ['k1', 'k2'] } }),
    co.engine.submit({ kind: 'rewarm', target: { keys: ['k1', 'k2', 'k3'] } }),
    co.engine.submit({ kind: 'config', values: { a: 1 } }),
    co.engine.submit({ kind: 'invalidate', target: { tags: ['t1'] }, mode: 'hard' }),
  ].map((s) => s.rollout.id)
  return { co, port: Number(new URL(url).port), clock, rollouts, snapshot: () => co.inspect() }
}

let authed: FuzzTarget
let dev: FuzzTarget
beforeAll(async () => {
  authed = await start(true)
  dev = await start(false)
})

const advanceArb = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 3000 }))

describe('the fuzz knows every route', () => {
  it('lists exactly the routes the coordinator registers', () => {
    expect(ROUTES.map(routeName).sort()).toEqual(registeredRoutes(authed.co.app))
    expect(ROUTES.map(routeName).sort()).toEqual(registeredRoutes(dev.co.app))
  })

  it('reaches each route: its own method and path are not "No such route"', async () => {
    for (const r of ROUTES) {
      const res = await fetch(
        `http://127.0.0.1:${authed.port}${r.path.replace(/:\w+/g, 'app-1')}`,
        {
          method: r.method,
          headers: { authorization: `Bearer ${tokenConfig[1]!.secret}` },
          ...(r.method !== 'GET' && { body: '{}' }),
        },
      )
      const text = await res.text()
      expect(text, routeName(r)).not.toContain('No such route')
    }
  })
})

describe('fuzz: every route, arbitrary requests', () => {
  for (const route of ROUTES) {
    it(`${routeName(route)}: no 5xx, refusals change nothing, nothing unhandled`, async () => {
      await fc.assert(
        fc.asyncProperty(requestArb(route, limits), advanceArb, async (req, advance) => {
          await probe(authed, req, crashes.seen, advance)
        }),
        params(PER_ROUTE),
      )
    })
  }

  it('anywhere: any method on any path', async () => {
    await fc.assert(
      fc.asyncProperty(anywhereArb(ROUTES, limits), advanceArb, async (req, advance) => {
        await probe(authed, req, crashes.seen, advance)
      }),
      params(PER_ROUTE * 2),
    )
  })

  it('dev mode (no tokens): any method on any path', async () => {
    await fc.assert(
      fc.asyncProperty(anywhereArb(ROUTES, limits), advanceArb, async (req, advance) => {
        await probe(dev, req, crashes.seen, advance)
      }),
      params(PER_ROUTE * 2),
    )
  })
})

describe('NDJSON', () => {
  it('judges a push of key lines as the same change in JSON (a dry run of each)', async () => {
    const push = async (body: string, type: string) => {
      const res = await send(authed.port, {
        method: 'POST',
        path: '/v1/changes?dryRun=1',
        headers: { authorization: `Bearer ${TOKENS.push}`, 'content-type': type },
        body: Buffer.from(body),
        framing: 'length',
      })
      const answer = JSON.parse(res.body) as { code?: string; confirmRequired?: boolean }
      return { status: res.status, code: answer.code, confirm: answer.confirmRequired }
    }
    await fc.assert(
      fc.asyncProperty(ndjsonAndJsonArb, async ({ ndjson, json }) => {
        const asJson = await push(json, 'application/json')
        expect(await push(ndjson, 'application/x-ndjson'), `${ndjson}\nas JSON: ${json}`).toEqual(
          asJson,
        )
      }),
      params(PER_ROUTE * 2),
    )
  })
})

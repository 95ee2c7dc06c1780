/**
 * An idempotency key means one request (issue 12, item 5): the same key with
 * another change is refused, 409 E_IDEMPOTENCY_CONFLICT, and changes nothing;
 * the same change again (a retry, its reason worded anew) gets the first
 * rollout, as before.
 *
 * Before the fix (443d3ba): a config change pushed under an invalidation's
 * key answered 202 with the invalidation's id and `coalesced:
 * "idempotencyKey"` as the only hint; the config change went nowhere.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { CoordinatorState } from '../../src/coordinator/inspect.js'
import { post, startCoordinator } from '../helpers/coordinator.js'

let url = ''
let stop: () => Promise<void> = async () => {}
let inspect: () => Promise<CoordinatorState> = async () => {
  throw new Error('not started')
}
let firstId = ''

const first = {
  kind: 'invalidate',
  target: { keys: ['sku:1'] },
  reason: 'price file 2026-11-26',
  idempotencyKey: 'push-8812',
}

beforeAll(async () => {
  const { co, url: u } = await startCoordinator({ confirmAbove: 1 })
  url = u
  stop = () => co.close()
  inspect = () => co.inspect()
  for (let i = 0; i < 5; i++) co.engine.join(`app-${i}`, { entries: 10 })
  const res = await post(`${url}/v1/changes`, first)
  expect(res.status).toBe(202)
  firstId = ((await res.json()) as { id: string }).id
})
afterAll(() => stop())

describe('an idempotency key reused', () => {
  const others: [string, Record<string, unknown>][] = [
    ['a config change', { kind: 'config', values: { 'feature.x': true } }],
    ['another key set', { kind: 'invalidate', target: { keys: ['sku:2'] } }],
    ['a hard invalidation of the same keys', { ...first, mode: 'hard' }],
    ['the same keys in other waves', { ...first, waves: { steps: [0.5, 1] } }],
  ]
  it.each(others)('with %s: 409 E_IDEMPOTENCY_CONFLICT, nothing changed', async (_name, body) => {
    const before = await inspect()
    const res = await post(`${url}/v1/changes`, { ...body, idempotencyKey: first.idempotencyKey })
    expect(res.status).toBe(409)
    expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/)
    expect(await res.json()).toMatchObject({
      code: 'E_IDEMPOTENCY_CONFLICT',
      status: 409,
      idempotencyKey: first.idempotencyKey,
      rolloutId: firstId,
    })
    expect(await inspect()).toEqual(before)
  })

  it('with the same change (a retry, reworded): the first rollout, coalesced', async () => {
    const res = await post(`${url}/v1/changes`, { ...first, reason: 'retry after a timeout' })
    expect(res.status).toBe(202)
    expect(await res.json()).toMatchObject({ id: firstId, coalesced: 'idempotencyKey' })
    const view = (await (await fetch(`${url}/v1/changes/${firstId}`)).json()) as {
      coalesced: number
    }
    expect(view.coalesced).toBe(1)
  })
})

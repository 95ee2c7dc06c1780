/**
 * `POST /v1/changes?dryRun=1` only plans: it answers with the plan and
 * whether sending the change would need `confirm`, also for a change that
 * would be refused unconfirmed, and changes nothing.
 */
import { describe, expect, it } from 'vitest'
import {
  clients,
  closeAfterAll,
  post,
  startCoordinator,
  testOrigin,
} from '../helpers/coordinator.js'

describe('dry run of a change', () => {
  const closers = closeAfterAll()

  it('plans a fleet-wide change without confirm, says it needs one, and submits nothing', {
    timeout: 20_000,
  }, async () => {
    const { co, url } = await startCoordinator({ waves: { steps: [0.5, 1], bakeMs: 100 } })
    closers.push(() => co.close())
    const fleet = clients<string>(4, { url, load: testOrigin().load })
    for (const c of fleet) {
      closers.push(() => c.close())
      await c.start()
    }
    // Each client heartbeats as it connects: let those land before the state is compared.
    await Promise.all(fleet.map((c) => c.heartbeat()))
    const before = await co.inspect()
    const all = { kind: 'invalidate', target: { all: true } }

    const dry = await post(`${url}/v1/changes?dryRun=1`, all)
    expect(dry.status).toBe(200)
    const plan = (await dry.json()) as {
      dryRun: boolean
      confirmRequired: boolean
      blastRadius: number
      plan: { waves: { clients: number }[] }
    }
    expect(plan).toMatchObject({ dryRun: true, confirmRequired: true, blastRadius: 1 })
    expect(plan.plan.waves.reduce((n, w) => n + w.clients, 0)).toBe(4)

    const confirmed = await post(`${url}/v1/changes?dryRun=1`, {
      ...all,
      confirm: true,
      reason: 'drill',
    })
    expect(((await confirmed.json()) as { confirmRequired: boolean }).confirmRequired).toBe(false)
    expect(await co.inspect()).toEqual(before)

    // Sent for real, the same change is refused without confirm.
    const refused = await post(`${url}/v1/changes`, all)
    expect(refused.status).toBe(422)
    expect(((await refused.json()) as { code: string }).code).toBe('E_CONFIRM_REQUIRED')
    expect(await co.inspect()).toEqual(before)
  })
})

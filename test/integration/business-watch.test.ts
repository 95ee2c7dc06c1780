/**
 * The business watch on a running coordinator (issue 15, items 1 and 3):
 * a series posted to /v1/metrics is judged second by second; when it
 * halves, an incident opens, every rolling rollout is paused with the
 * incident named, the API shows it, and a new push needs confirm and a
 * reason while it is open. Bad points are refused, naming the point, and
 * change nothing.
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { createClient, devSigningKeys } from '../../src/sdk/index.js'
import { bin } from '../helpers/cli.js'
import { closeAfterAll, post, startCoordinator, waitFor } from '../helpers/coordinator.js'

interface IncidentsView {
  incidents: { id: string; metric: string; expected: number; observed: number; paused: string[] }[]
  watching: { metric: string; mode: string; expected?: number }[]
}

describe('the business watch', () => {
  const closers = closeAfterAll()

  it('pauses every rolling rollout when orders halve, and asks for confirm while open', {
    timeout: 60_000,
  }, async () => {
    const { co, url } = await startCoordinator({
      watch: [{ metric: 'orders' }],
      waves: { steps: [0.5, 1], bakeMs: 600_000 },
      confirmAbove: 1,
    })
    closers.push(() => co.close())
    const fleet = ['app-1', 'app-2'].map((clientId) =>
      createClient<string>({ url, clientId, signingKeys: devSigningKeys, load: async (k) => k }),
    )
    for (const c of fleet) closers.push(() => c.close())
    await Promise.all(fleet.map((c) => c.start()))
    const pushed = await post(`${url}/v1/changes`, { kind: 'config', values: { f: 1 } })
    expect(pushed.status).toBe(202)
    const { id } = (await pushed.json()) as { id: string }
    const change = async () =>
      (await (await fetch(`${url}/v1/changes/${id}`)).json()) as { state: string; reason?: string }
    await waitFor('the first wave', async () => (await change()).state === 'rolling')

    // Before any history, the watch says it is learning, not that all is well.
    const first = (await (await fetch(`${url}/v1/incidents`)).json()) as {
      watching: { warmingUp?: string }[]
    }
    expect(first.watching[0]?.warmingUp).toMatch(/learning the series: 600 more seconds/)

    // Bad points change nothing: an unknown metric, a value that is not a number.
    const bad = await post(`${url}/v1/metrics`, {
      series: [
        { name: 'orders', value: 1 },
        { name: 'nope', value: 1 },
      ],
    })
    expect(bad.status).toBe(400)
    expect(await bad.json()).toMatchObject({
      code: 'E_INVALID_OPTION',
      field: 'series.1',
      rule: expect.stringMatching(/not a watched metric/),
    })
    expect(
      (await post(`${url}/v1/metrics`, { series: [{ name: 'orders', value: 'x' }] })).status,
    ).toBe(400)

    // Fifteen minutes of orders at about 100/s, the last 30 s at half that, measured elsewhere.
    const now = Date.now()
    const second = Math.floor(now / 1000) * 1000
    const series = Array.from({ length: 930 }, (_, i) => {
      const at = second - (960 - i) * 1000
      const value = (i < 900 ? 100 : 50) + ((i * 7919) % 21) - 10
      return { name: 'orders', value, at: new Date(at).toISOString() }
    })
    const posted = await post(`${url}/v1/metrics`, { series: series.slice(0, 900) })
    expect(posted.status, await posted.clone().text()).toBe(202)
    expect((await post(`${url}/v1/metrics`, { series: series.slice(900) })).status).toBe(202)

    const incidents = async () =>
      (await (await fetch(`${url}/v1/incidents`)).json()) as IncidentsView
    await waitFor('an incident', async () => (await incidents()).incidents.length > 0, 20_000)
    const seen = await incidents()
    const incident = seen.incidents[0]!
    expect(incident).toMatchObject({ metric: 'orders', paused: [id] })
    expect(incident.observed).toBeLessThan(incident.expected * 0.7)
    expect(seen.watching[0]).toMatchObject({ metric: 'orders', mode: 'level' })
    expect(seen.watching[0]).not.toHaveProperty('warmingUp')
    expect(await change()).toMatchObject({
      state: 'paused',
      reason: expect.stringMatching(/incident inc-1: orders/),
    })
    // slew status leads with it (run beside this process's coordinator, not blocking it).
    const status = await promisify(execFile)(process.execPath, [bin, 'status', '--url', url])
    expect(status.stdout.split('\n')[0]).toMatch(
      new RegExp(
        `^INCIDENT ${incident.id} since \\S+: orders [\\d.]+/s, expected [\\d.]+/s; paused ${id}$`,
      ),
    )
    // A second already judged is refused: the series is not rewritten.
    const late = await post(`${url}/v1/metrics`, { series: [series[0]!] })
    expect(late.status).toBe(400)
    expect(await late.json()).toMatchObject({ rule: 'a second already judged' })

    // While it is open, a push is a person's decision.
    const unconfirmed = await post(`${url}/v1/changes`, { kind: 'config', values: { g: 1 } })
    expect(unconfirmed.status).toBe(422)
    expect(await unconfirmed.json()).toMatchObject({
      code: 'E_CONFIRM_REQUIRED',
      incident: incident.id,
    })
    const confirmed = await post(`${url}/v1/changes`, {
      kind: 'config',
      values: { g: 1 },
      confirm: true,
      reason: 'the fix for the incident',
    })
    expect(confirmed.status).toBe(202)
    const metrics = await (await fetch(`${url}/metrics`)).text()
    expect(metrics).toMatch(/^slew_incidents_open 1$/m)
  })
})

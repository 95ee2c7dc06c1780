/**
 * The business watch fed by a real fleet (issue 15, "done when"): `slew
 * serve` started from the CLI with a `watch` section, twenty SDK clients
 * counting orders with `slew.count`, the series' earlier history posted to
 * /v1/metrics (the model needs ten minutes of it). A config change breaks
 * checkout on the clients that apply it: orders fall, an incident opens,
 * the rolling change is paused, and the incident's ranking names that
 * change first, with its treated clients' orders against its control's —
 * in the API and in `slew status`.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { createClient, devSigningKeys } from '../../src/sdk/index.js'
import { bin, serveIn } from '../helpers/cli.js'
import { closeAfterAll, post, waitFor } from '../helpers/coordinator.js'

interface Suspect {
  rolloutId: string
  wave: number
  line: string
  effect?: { relative: number; z: number; treated: { clients: number } }
}

interface Incidents {
  incidents: {
    id: string
    metric: string
    paused: string[]
    attribution?: { summary: string; suspects: Suspect[] }
  }[]
}

describe('the business watch fed by SDK counters', () => {
  const closers = closeAfterAll()

  it('names the change whose clients stopped taking orders', { timeout: 90_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slew-watch-fleet-'))
    writeFileSync(
      join(dir, 'slew.config.yaml'),
      [
        'waves: { steps: [0.5, 1], bakeMs: 600000 }',
        'watch: [{ metric: orders, worse: lower }]',
      ].join('\n'),
    )
    const { server, url } = await serveIn(dir)
    closers.push(async () => {
      server.kill('SIGKILL')
    })

    // Twenty app servers taking about 5 orders a second each; where flag `checkout.v2` is on,
    // checkout is broken and they take none.
    const fleet = Array.from({ length: 20 }, (_, i) =>
      createClient<string>({
        url,
        clientId: `app-${i}`,
        signingKeys: devSigningKeys,
        heartbeatMs: 2_000,
        load: async (k) => k,
      }),
    )
    for (const c of fleet) closers.push(() => c.close())
    await Promise.all(fleet.map((c) => c.start()))
    const taking = setInterval(() => {
      for (const c of fleet) if (c.config.get('checkout.v2') !== true) c.count('orders', 1)
    }, 200)
    closers.push(async () => clearInterval(taking))

    // Once the clients' counts come in steadily (a few heartbeats), the fifteen minutes before,
    // measured elsewhere: up to the second the clients' counts take over (a second with both
    // is high, never low).
    await new Promise((r) => setTimeout(r, 5_000))
    const start = Math.floor(Date.now() / 1000) * 1000
    const history = Array.from({ length: 900 }, (_, i) => ({
      name: 'orders',
      value: 100 + ((i * 7919) % 21) - 10,
      at: new Date(start - (900 - i) * 1000).toISOString(),
    }))
    const posted = await post(`${url}/v1/metrics`, { series: history })
    expect(posted.status, await posted.clone().text()).toBe(202)
    // A while at the usual rate from the clients themselves, then the change.
    await new Promise((r) => setTimeout(r, 12_000))
    const incidents = async () => (await (await fetch(`${url}/v1/incidents`)).json()) as Incidents
    expect((await incidents()).incidents).toEqual([])

    const pushed = await post(`${url}/v1/changes`, {
      kind: 'config',
      values: { 'checkout.v2': true },
      reason: 'new checkout',
      confirm: true,
    })
    expect(pushed.status).toBe(202)
    const { id } = (await pushed.json()) as { id: string }
    await waitFor('an incident', async () => (await incidents()).incidents.length > 0, 45_000)
    const change = (await (await fetch(`${url}/v1/changes/${id}`)).json()) as {
      state: string
      reason?: string
    }
    expect(change).toMatchObject({ state: 'paused', reason: expect.stringMatching(/^incident/) })
    // The ranking sharpens as evidence comes in: within seconds it names the change.
    await waitFor(
      'the change named',
      async () => (await incidents()).incidents[0]?.attribution?.suspects[0]?.effect !== undefined,
      20_000,
    )
    const incident = (await incidents()).incidents[0]!
    expect(incident).toMatchObject({ metric: 'orders', paused: [id] })
    const top = incident.attribution!.suspects[0]!
    expect(top).toMatchObject({ rolloutId: id, wave: 1 })
    expect(top.effect!.relative).toBeLessThan(-0.5)
    expect(top.effect!.z).toBeGreaterThan(3)
    expect(incident.attribution!.summary).toMatch(new RegExp(`^likely ${id} \\(wave 1\\)`))

    const status = await promisify(execFile)(process.execPath, [bin, 'status', '--url', url])
    const lines = status.stdout.split('\n')
    expect(lines[0]).toMatch(new RegExp(`^INCIDENT ${incident.id} since \\S+: orders `))
    expect(lines[1]).toBe(`  ${incident.attribution!.summary}`)
    expect(lines[2]).toMatch(
      new RegExp(`^ {2}1\\. ${id} wave 1: orders −\\d+\\.\\d % treated vs control \\(95 %`),
    )
  })
})

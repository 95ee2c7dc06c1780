/**
 * Guarded rollouts on a real fleet (issue 14, item 9): `slew serve` from the
 * CLI with gates enabled, 50 SDK clients whose origin calls fail at 2 %.
 * A config change that makes the clients that apply it fail 5× more is
 * rolled back by the gate and every client ends on the old value; the same
 * change without the effect completes; a check whose metric goes silent on
 * the treated clients holds (no-data) instead of rolling back; an invalidation,
 * judged by the origin's health against its baseline, completes.
 */
import { type ChildProcess, spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createClient, devSigningKeys, type SlewClient } from '../../src/sdk/index.js'
import { serveIn } from '../helpers/cli.js'
import { post, waitFor } from '../helpers/coordinator.js'

const bin = join(import.meta.dirname, '..', '..', 'dist', 'cli', 'main.js')
const CLIENTS = 50

interface Rollout {
  state: string
  gate?: {
    mode: string
    verdict: string
    action?: { kind: string; reason: string }
    checks: unknown[]
  }
}

describe('guarded rollouts from slew serve', () => {
  let server: ChildProcess | undefined
  const clients: SlewClient<string>[] = []
  const timers: NodeJS.Timeout[] = []
  afterAll(async () => {
    for (const t of timers) clearInterval(t)
    await Promise.all(clients.map((c) => c.close()))
    server?.kill('SIGKILL')
  })

  it('rolls back a change that hurts, completes one that does not, holds on silence', {
    timeout: 150_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'slew-gates-'))
    writeFileSync(
      join(dir, 'slew.config.json'),
      JSON.stringify({
        waves: { steps: [0.2, 0.6, 1], bakeMs: 2000 },
        confirmAbove: 1,
        gates: {
          enabled: true,
          heartbeatMs: 500,
          watchAfterMs: 0,
          checks: [{ metric: 'errorRate', worse: 'higher', minEffect: 0.03 }],
        },
      }),
    )
    const serving = await serveIn(dir)
    server = serving.server
    const url = serving.url

    // 50 app servers: origin calls fail at 2 %, at 10 % on a client running feature=bad.
    let n = 0
    for (let i = 0; i < CLIENTS; i++) {
      const client = createClient<string>({
        url,
        clientId: `app-${i}`,
        signingKeys: devSigningKeys,
        heartbeatMs: 5_000,
        load: async (key) => {
          const rate = client.config.get('feature') === 'bad' ? 0.1 : 0.02
          if (Math.random() < rate) throw new Error('origin failed')
          return key
        },
      })
      clients.push(client)
      await client.start()
      // Traffic: a miss every 20 ms (an origin call), and an order now and then.
      timers.push(
        setInterval(() => {
          client.get(`k${n++}`).catch(() => {})
          if (client.config.get('quiet') !== 'on') client.count('orders')
        }, 20),
      )
    }
    const push = async (body: Record<string, unknown>) => {
      const res = await post(`${url}/v1/changes`, { kind: 'config', reason: 'test', ...body })
      expect(res.status).toBe(202)
      return ((await res.json()) as { id: string }).id
    }
    const rollout = async (id: string) =>
      (await (await fetch(`${url}/v1/changes/${id}`)).json()) as Rollout
    // Let the fleet report ordinary figures first.
    await new Promise((r) => setTimeout(r, 3_000))

    // 1: the bad change is rolled back by the gate, and everyone ends on the old value.
    const bad = await push({ values: { feature: 'bad' } })
    await waitFor(
      'the gate to roll it back',
      async () => ['rolling_back', 'rolled_back'].includes((await rollout(bad)).state),
      60_000,
    )
    const caught = await rollout(bad)
    expect(caught.gate?.action?.kind).toBe('rollback')
    expect(caught.gate).toMatchObject({ mode: 'cohort', verdict: 'fail' })
    await waitFor(
      'the rollback to complete',
      async () => (await rollout(bad)).state === 'rolled_back',
      30_000,
    )
    await waitFor(
      'every client on the old value',
      () => clients.every((c) => c.config.get('feature') === undefined),
      10_000,
    )
    // slew status prints the evidence: the verdict, each check's cohorts and effect, the action.
    const status = spawnSync(process.execPath, [bin, 'status', bad, '--url', url], {
      encoding: 'utf8',
    })
    expect(status.status, status.stderr).toBe(0)
    expect(status.stdout).toMatch(/gate \(cohort\): fail/)
    expect(status.stdout).toMatch(
      /errorRate: fail \(regression shown\); treated [\d.]+ from \d+ samples of \d+ clients, control/,
    )
    expect(status.stdout).toMatch(/rollback after [\d.]+ m?s: gate failed on errorRate/)
    const metrics = await (await fetch(`${url}/metrics`)).text()
    const failed = metrics
      .split('\n')
      .find((l) => /^slew_gate_verdicts_total\{.*verdict="fail"/.test(l) && l.includes('errorRate'))
    expect(Number(failed?.split(' ').at(-1))).toBeGreaterThanOrEqual(1)

    // 2: the same change without the effect completes.
    const good = await push({ values: { feature: 'good' } })
    await waitFor(
      'the good change to complete',
      async () => (await rollout(good)).state === 'completed',
      90_000,
    )
    expect((await rollout(good)).gate?.action).toBeUndefined()
    expect(clients.every((c) => c.config.get('feature') === 'good')).toBe(true)

    // 3: the treated clients stop reporting orders: the gate holds (no-data), never rolls back.
    const quiet = await push({
      values: { quiet: 'on' },
      gate: { checks: [{ metric: 'orders', worse: 'lower', minEffect: 0.2, relative: true }] },
    })
    await waitFor(
      'the gate to see no data',
      async () => (await rollout(quiet)).gate?.verdict === 'no-data',
      30_000,
    )
    const held = await rollout(quiet)
    expect(held.state).toBe('rolling')
    expect(held.gate?.action).toBeUndefined()

    // 4: an invalidation is judged by the origin's health against its baseline: it completes.
    const res = await post(`${url}/v1/changes`, {
      kind: 'invalidate',
      target: { prefixes: ['k'] },
      confirm: true,
      reason: 'test',
    })
    expect(res.status).toBe(202)
    const inv = ((await res.json()) as { id: string }).id
    await waitFor(
      'the invalidation to complete',
      async () => (await rollout(inv)).state === 'completed',
      60_000,
    )
    const judged = await rollout(inv)
    expect(judged.gate).toMatchObject({ mode: 'baseline', verdict: 'pass' })
    expect(judged.gate?.action).toBeUndefined()
  })
})

/**
 * 1,000 clients connect at once. B3 holds over every window that occurred:
 * new streams admitted in any [t, t+T) ≤ burst + rate·T, counted where the
 * coordinator decides. Whether anyone is refused depends on how fast a busy
 * machine lets the herd arrive, so refusals are not required; each one that
 * happens is a 503 E_OVERLOADED with a Retry-After, the client waits what it
 * was told, and everyone gets in.
 */
import { afterAll, describe, expect, it } from 'vitest'
import type { SlewClient } from '../../src/sdk/index.js'
import { clients, openStream, startCoordinator, waitFor } from '../helpers/coordinator.js'

const RATE = 200
const BURST = 100
const HERD = 1000
/** Raw connections among the herd: a refusal as it goes over the wire (the SDK keeps only its gist). */
const PROBES = 20

/**
 * The window where admissions (times in ms, any order) most exceed B3. The
 * count in [t, t+T) changes only at an admission, so every window is covered
 * by those from one admission t_i to a later one t_j. Each time is read just
 * after its decision and before the next decision, so [t_i, t_j] holds at
 * least the decisions i+1..j: j - i of them (t_i's own may have come earlier).
 */
const worstWindow = (times: readonly number[]) => {
  const t = [...times].sort((a, b) => a - b)
  let worst = { excess: Number.NEGATIVE_INFINITY, admitted: 0, ms: 0 }
  for (let i = 0; i < t.length; i++) {
    for (let j = i + 1; j < t.length; j++) {
      const ms = t[j]! - t[i]!
      const excess = j - i - (BURST + (RATE * ms) / 1000)
      if (excess > worst.excess) worst = { excess, admitted: j - i, ms }
    }
  }
  return worst
}

const append = <T>(m: Map<string, T[]>, key: string, value: T) =>
  m.set(key, [...(m.get(key) ?? []), value])

describe('admission control', () => {
  let fleet: SlewClient<string>[] = []
  let probes: Awaited<ReturnType<typeof openStream>>[] = []
  let stop: () => Promise<void> = async () => {}
  afterAll(async () => {
    await Promise.all([...fleet.map((c) => c.close()), ...probes.map((p) => p.close())])
    await stop()
  })

  it('admits a thundering herd within burst + rate·T, and everyone gets in', {
    timeout: 60_000,
  }, async () => {
    const { co, url } = await startCoordinator({ admission: { ratePerSec: RATE, burst: BURST } })
    stop = () => co.close()
    const admitted: number[] = []
    const who = new Set<string>()
    /** What the coordinator told each refused client to wait, in order. */
    const told = new Map<string, number[]>()
    co.events.on('admitted', (e) => {
      admitted.push(e.at)
      who.add(e.clientId)
    })
    // The probes go at the first refusal, when the bucket is empty (and not at all if none comes).
    let probing: Promise<Awaited<ReturnType<typeof openStream>>[]> | undefined
    co.events.on('refused', (e) => {
      append(told, e.clientId, e.retryAfterMs)
      probing ??= Promise.all(
        Array.from({ length: PROBES }, (_, i) => openStream(url, `probe-${i}`)),
      )
    })
    fleet = clients<string>(HERD, {
      url,
      load: async (k) => k,
      heartbeatMs: 600_000,
      cache: { max: 10 },
      startTimeoutMs: 30_000,
    })
    /** The refusals each client heard, in order. */
    const heard = new Map<string, { reason: string; retryInMs: number }[]>()
    for (const [i, c] of fleet.entries()) {
      c.on('disconnected', (d) => {
        if (d.reason.startsWith('refused')) append(heard, `app-${i}`, d)
      })
    }
    await Promise.all(fleet.map((c) => c.start()))
    probes = (await probing) ?? []
    await waitFor('all connected', () => fleet.every((c) => c.connected))
    // Every client got in (one that lost its stream on a loaded machine may have come back: count clients).
    expect([...who].filter((id) => id.startsWith('app-'))).toHaveLength(HERD)

    // B3 over every window that occurred (up to the GCRA's float tolerance, 2e-4 of an admission).
    const worst = worstWindow(admitted)
    expect(
      worst.excess,
      `${worst.admitted} admitted within ${worst.ms.toFixed(3)} ms, of ${admitted.length}`,
    ).toBeLessThanOrEqual(1e-3)
    // By construction it cannot go faster than the admission rate allows.
    const span = Math.max(...admitted) - Math.min(...admitted)
    expect(span).toBeGreaterThanOrEqual(((HERD - BURST) / RATE) * 1000 * 0.95)

    // Refusals, however many happened (none on a machine too busy to bring the herd in fast).
    for (const [id, waits] of told) for (const ms of waits) expect(ms, id).toBeGreaterThan(0)
    // Each client heard each of its refusals as one, and waited what it was told (+ up to 10 % jitter).
    for (const [id, got] of heard) {
      const sent = told.get(id) ?? []
      expect(got.length, id).toBe(sent.length)
      got.forEach((g, k) => {
        expect(g.reason, id).toMatch(/^refused: 503 E_OVERLOADED: /)
        expect(g.retryInMs, id).toBeGreaterThanOrEqual(sent[k]!)
        expect(g.retryInMs, id).toBeLessThanOrEqual(sent[k]! * 1.1)
      })
    }
    expect([...told.keys()].filter((id) => id.startsWith('app-')).sort()).toEqual(
      [...heard.keys()].sort(),
    )
    // On the wire: 503 problem+json with a Retry-After of what the coordinator decided, in whole seconds.
    probes.forEach((p, i) => {
      expect([200, 503], `probe-${i}`).toContain(p.status)
      if (p.status !== 503) return
      expect(p.headers.get('content-type')).toMatch(/^application\/problem\+json/)
      const body = JSON.parse(p.body!) as { code: string; status: number; retryAfterMs: number }
      expect(body).toMatchObject({ code: 'E_OVERLOADED', status: 503 })
      expect(told.get(`probe-${i}`)).toEqual([body.retryAfterMs])
      expect(p.headers.get('retry-after')).toBe(String(Math.ceil(body.retryAfterMs / 1000)))
      expect(Number(p.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    })
  })
})

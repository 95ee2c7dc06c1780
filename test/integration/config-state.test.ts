/**
 * Config values as state, not history (issue 12, item 4), over real HTTP.
 * The fleet's config is bounded (limits.configBytes; a push beyond it is
 * refused, 413 E_CONFIG_TOO_LARGE, nothing changed), so a new client's first
 * frame is too; that frame is signed once per version of the config, not
 * once per connection; a finished rollout keeps only the values it still
 * governs; and the delivery log holds at most log.maxBytes of frames.
 *
 * Before the fix (443d3ba): every push was taken (the config, and so each
 * new client's first frame, grew by 900 KB a push: 88.8 MB after 100 such
 * pushes, 1.6 s to build, the API blocked meanwhile); each new client cost
 * two signatures (its hello and its own config frame); GET /v1/changes/:id
 * of a superseded change still carried its 900 KB; the log kept every frame.
 */
import { describe, expect, it } from 'vitest'
import {
  closeAfterAll,
  metricValue,
  openStream,
  post,
  scrape,
  startCoordinator,
  waitFor,
} from '../helpers/coordinator.js'

const KB900 = 900 * 1024
const big = (tag: string) => `${tag}:${'x'.repeat(KB900)}`
const quick = { steps: [1], bakeMs: 0 }
const closers = closeAfterAll()

const completed = async (url: string, id: string) =>
  waitFor(`${id} to complete`, async () => {
    const r = (await (await fetch(`${url}/v1/changes/${id}`)).json()) as { state: string }
    return r.state === 'completed'
  })

const pushConfig = async (url: string, values: Record<string, unknown>) => {
  const res = await post(`${url}/v1/changes`, { kind: 'config', values, waves: quick })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

describe('the fleet config is bounded', () => {
  it('refuses a push over limits.configBytes (4 MiB), and a new client starts from at most that', async () => {
    const { co, url } = await startCoordinator({ confirmAbove: 1 })
    closers.push(() => co.close())
    const answers: number[] = []
    for (let i = 0; i < 6; i++) {
      const before = await co.inspect()
      const { status, body } = await pushConfig(url, { [`k${i}`]: big(`v${i}`) })
      answers.push(status)
      if (status === 202) await completed(url, String(body.id))
      else {
        expect(body).toMatchObject({ code: 'E_CONFIG_TOO_LARGE', limitBytes: 4 * 1024 * 1024 })
        expect(await co.inspect()).toEqual(before)
      }
    }
    // 4 values of 900 KB fit in 4 MiB, a 5th does not.
    expect(answers).toEqual([202, 202, 202, 202, 413, 413])
    // Replacing a value with one as big is fine; so is shrinking.
    expect((await pushConfig(url, { k0: big('w0') })).status).toBe(202)
    const fresh = await openStream(url, 'fresh')
    closers.push(() => fresh.close())
    await waitFor('the config frame', () => fresh.of('config').length === 1)
    const frame = fresh.of('config')[0]!.data
    expect(frame.length).toBeLessThanOrEqual(4 * 1024 * 1024 + 1024)
    expect(Object.keys((JSON.parse(frame) as { values: object }).values).sort()).toEqual([
      'k0',
      'k1',
      'k2',
      'k3',
    ])
  })
})

describe('a new client’s config frame', () => {
  it('is signed once per version of the config, not once per connection', async () => {
    const { co, url } = await startCoordinator({ confirmAbove: 1 })
    closers.push(() => co.close())
    const { body } = await pushConfig(url, { big: big('v1') })
    await completed(url, String(body.id))
    const signed = async () => metricValue(await scrape(url), 'slew_events_signed_total') ?? 0
    const before = await signed()
    const frames: string[] = []
    for (let i = 0; i < 5; i++) {
      const s = await openStream(url, `new-${i}`)
      closers.push(() => s.close())
      await waitFor('the config frame', () => s.of('config').length === 1)
      frames.push(s.of('config')[0]!.data)
    }
    // Five hellos and one config frame; before: five of each.
    expect((await signed()) - before).toBe(6)
    expect(new Set(frames).size).toBe(1)
    expect((JSON.parse(frames[0]!) as { values: { big: string } }).values.big).toBe(big('v1'))
    // A new version is signed anew, once.
    const next = await pushConfig(url, { big: big('v2') })
    await completed(url, String(next.body.id))
    const mid = await signed()
    for (let i = 5; i < 8; i++) {
      const s = await openStream(url, `new-${i}`)
      closers.push(() => s.close())
      await waitFor('the config frame', () => s.of('config').length === 1)
      expect((JSON.parse(s.of('config')[0]!.data) as { values: { big: string } }).values.big).toBe(
        big('v2'),
      )
    }
    expect((await signed()) - mid).toBe(3 + 1)
  })
})

describe('a finished rollout', () => {
  it('keeps only the values it still governs', async () => {
    const { co, url } = await startCoordinator({ confirmAbove: 1 })
    closers.push(() => co.close())
    const app = await openStream(url, 'app')
    closers.push(() => app.close())
    const first = await pushConfig(url, { big: big('v1'), flag: true })
    await completed(url, String(first.body.id))
    const second = await pushConfig(url, { big: big('v2') })
    await completed(url, String(second.body.id))
    const res = await fetch(`${url}/v1/changes/${first.body.id}`)
    const text = await res.text()
    expect(JSON.parse(text)).toMatchObject({
      change: { values: { flag: true } },
      superseded: ['big'],
    })
    // Before: 900 KB of a value no client will ever get again.
    expect(text.length).toBeLessThan(10_000)
    const list = await (await fetch(`${url}/v1/changes`)).text()
    expect(list.length).toBeLessThan(KB900 + 20_000)
  })
})

describe('the delivery log', () => {
  it('holds at most log.maxBytes of frames: a client resuming from before them gets a reset', async () => {
    const { co, url } = await startCoordinator({ confirmAbove: 1, log: { maxBytes: 2_000_000 } })
    closers.push(() => co.close())
    const app = await openStream(url, 'app')
    closers.push(() => app.close())
    await waitFor('the config frame', () => app.of('config').length === 1)
    const from = Number(app.of('config')[0]!.id)
    for (let i = 0; i < 3; i++) {
      const { body } = await pushConfig(url, { big: big(`v${i}`) })
      await completed(url, String(body.id))
    }
    await waitFor('three changes', () => app.of('change').length === 3)
    await app.close()
    // Back from before the three (2.7 MB of frames): before, the log replayed them.
    const { epoch } = JSON.parse(app.of('hello')[0]!.data) as { epoch: string }
    const back = await openStream(url, 'app', {
      headers: { 'last-event-id': String(from) },
      query: `&epoch=${epoch}`,
    })
    closers.push(() => back.close())
    await waitFor('a reset', () => back.of('reset').length === 1)
    expect(back.of('change')).toHaveLength(0)
  })
})

/**
 * Config values as state, not history (issue 12, item 4), over real HTTP: a
 * finished rollout keeps only the values it still governs.
 *
 * Before the fix (443d3ba): GET /v1/changes/:id of a superseded change still
 * carried its 900 KB, and every kept rollout held its values twice (the
 * change, and its identity for coalescing).
 */
import { describe, expect, it } from 'vitest'
import {
  closeAfterAll,
  openStream,
  post,
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

/**
 * Dev mode (no tokens configured, loopback only) and web pages: a page open
 * in the developer's browser could change state through it. Before (issue
 * 12, item 9): a cross-site `text/plain` POST, which needs no CORS
 * preflight, aborted a rollout (200). Now a request that changes state must
 * say it is JSON and carry no Origin but a loopback one; nothing changes
 * otherwise, and programs and loopback pages are served as before.
 */
import { describe, expect, it } from 'vitest'
import { closeAfterAll, post, startCoordinator, waitFor } from '../helpers/coordinator.js'

const closers = closeAfterAll()

describe('dev mode (no tokens): requests from web pages', () => {
  const setup = async () => {
    const { co, url } = await startCoordinator()
    closers.push(() => co.close())
    co.engine.join('app-1', { entries: 10 })
    // A bake longer than the test, the first wave out: time alone changes nothing compared.
    const id = co.engine.submit({
      kind: 'invalidate',
      target: { keys: ['x'] },
      waves: { bakeMs: 600_000 },
    }).rollout.id
    await waitFor('the first wave to bake', () => co.engine.get(id).bakeUntil !== undefined)
    return { co, url, id }
  }

  it('refuses a cross-site POST (text/plain, a form, no type; another Origin), and changes nothing', async () => {
    const { co, url, id } = await setup()
    const before = await co.inspect()
    const attempts: [string, Record<string, string>, string | undefined, number][] = [
      // What a page can send without a CORS preflight: text/plain, a form, or nothing.
      ['text/plain, no body', { 'content-type': 'text/plain' }, undefined, 415],
      ['text/plain with a body', { 'content-type': 'text/plain;charset=UTF-8' }, '{}', 415],
      ['a form', { 'content-type': 'application/x-www-form-urlencoded' }, 'reason=x', 415],
      ['no content type', {}, undefined, 415],
      [
        'a page elsewhere, text/plain',
        { origin: 'https://evil.example', 'content-type': 'text/plain' },
        undefined,
        403,
      ],
      [
        'a page elsewhere, JSON',
        { origin: 'https://evil.example', 'content-type': 'application/json' },
        '{}',
        403,
      ],
      ['an opaque origin', { origin: 'null', 'content-type': 'application/json' }, '{}', 403],
      [
        'a look-alike of loopback',
        { origin: 'http://127.0.0.1.evil.example', 'content-type': 'application/json' },
        '{}',
        403,
      ],
    ]
    for (const [what, headers, body, status] of attempts) {
      const res = await fetch(`${url}/v1/changes/${id}/abort`, {
        method: 'POST',
        headers,
        ...(body !== undefined && { body }),
      })
      expect(res.status, what).toBe(status)
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/)
      const p = (await res.json()) as { code: string }
      expect(p.code, what).toBe(status === 403 ? 'E_FORBIDDEN' : 'E_UNSUPPORTED_MEDIA_TYPE')
    }
    const config = await fetch(`${url}/v1/config`, {
      method: 'PUT',
      headers: { origin: 'https://evil.example', 'content-type': 'application/json' },
      body: JSON.stringify({ config: { confirmAbove: 1 }, reason: 'x' }),
    })
    expect(config.status).toBe(403)
    expect(await co.inspect()).toEqual(before)
    expect(co.engine.get(id).state).not.toBe('aborted')
  })

  it('takes JSON from a loopback page or from a program (no Origin)', async () => {
    const { url, id } = await setup()
    const port = new URL(url).port
    const pause = await post(
      `${url}/v1/changes/${id}/pause`,
      {},
      { origin: `http://127.0.0.1:${port}` },
    )
    expect(pause.status).toBe(200)
    const resume = await post(
      `${url}/v1/changes/${id}/resume`,
      {},
      { origin: 'http://localhost:3000' },
    )
    expect(resume.status).toBe(200)
    const abort = await post(`${url}/v1/changes/${id}/abort`, {})
    expect(abort.status).toBe(200)
    expect(((await abort.json()) as { state: string }).state).toBe('aborted')
  })
})

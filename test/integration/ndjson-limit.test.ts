/**
 * The NDJSON rewarm body has its own byte limit (`rewarm.maxBodyBytes`, live
 * from config): a body over it gets 413 problem+json (E_BODY_TOO_LARGE) and
 * changes nothing, whether it announces its length or streams in chunks; a
 * body under it is taken. (The key-count limit is tested in rewarm.test.ts.)
 */
import { describe, expect, it } from 'vitest'
import { closeAfterAll, startCoordinator } from '../helpers/coordinator.js'

const closers = closeAfterAll()

const LIMIT = 4096
/** A rewarm as NDJSON of about `bytes` bytes: the change, then one key per line. */
const body = (bytes: number): string => {
  const lines = [JSON.stringify({ kind: 'rewarm', waves: { steps: [1], bakeMs: 0 } })]
  for (let i = 0; lines.join('\n').length < bytes; i++) lines.push(JSON.stringify(`key-${i}`))
  return lines.join('\n')
}
const send = (url: string, text: string, chunked = false) =>
  fetch(`${url}/v1/changes`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    ...(chunked
      ? {
          // No content-length: the limit must hold while the body streams in.
          body: new ReadableStream<Uint8Array>({
            start(c) {
              const bytes = new TextEncoder().encode(text)
              for (let i = 0; i < bytes.length; i += 512) c.enqueue(bytes.subarray(i, i + 512))
              c.close()
            },
          }),
          duplex: 'half',
        }
      : { body: text }),
  } as RequestInit)

describe('NDJSON body limit', () => {
  it('refuses a body over rewarm.maxBodyBytes with 413 and changes nothing; takes one under it', async () => {
    // A JSON body limit well under the NDJSON one: the NDJSON route has its own.
    const { co, url } = await startCoordinator({
      limits: { bodyBytes: 1024 },
      rewarm: { maxBodyBytes: LIMIT, maxKeys: 100_000 },
    })
    closers.push(() => co.close())

    for (const chunked of [false, true]) {
      const before = await co.inspect()
      const res = await send(url, body(LIMIT + 500), chunked)
      expect(res.status, chunked ? 'chunked' : 'with content-length').toBe(413)
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/)
      const p = (await res.json()) as { code: string; status: number; limitBytes: number }
      expect(p).toMatchObject({ code: 'E_BODY_TOO_LARGE', status: 413, limitBytes: LIMIT })
      expect(await co.inspect()).toEqual(before)
      expect(co.engine.list()).toEqual([])
    }

    // Under the NDJSON limit (though over the JSON one): taken, as a rollout.
    const before = await co.inspect()
    const ok = await send(url, body(LIMIT - 500))
    expect(ok.status).toBe(202)
    expect(co.engine.list()).toHaveLength(1)
    expect(await co.inspect()).not.toEqual(before)
  })

  it('follows a live config change of the limit', async () => {
    const { co, url } = await startCoordinator({ rewarm: { maxBodyBytes: LIMIT } })
    closers.push(() => co.close())
    const text = body(LIMIT * 2)
    expect((await send(url, text)).status).toBe(413)
    const put = await fetch(`${url}/v1/config`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        config: { rewarm: { maxBodyBytes: LIMIT * 4 } },
        reason: 'bigger lists',
      }),
    })
    expect(put.status).toBe(200)
    expect((await send(url, text)).status).toBe(202)
  })
})

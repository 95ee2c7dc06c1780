/** The SDK's calls to the coordinator: JSON in and out, problem+json as typed HttpErrors. */
import { HttpError } from '../errors.js'

export interface Remote {
  readonly url: string
  readonly token?: string
}

export const headers = (
  remote: Remote,
  extra: Record<string, string> = {},
): Record<string, string> => ({
  ...(remote.token && { authorization: `Bearer ${remote.token}` }),
  ...extra,
})

/**
 * A problem+json is a few hundred bytes: past this much an error's body is
 * not read (whatever answers on a wrong URL may send a page without end).
 */
const MAX_ERROR_BYTES = 64 * 1024

/** The body as text if it is at most `maxBytes`, else undefined (and the rest is not read). */
const textWithin = async (res: Response, maxBytes: number): Promise<string | undefined> => {
  const reader = res.body?.getReader()
  if (!reader) return ''
  const chunks: Uint8Array[] = []
  let bytes = 0
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return Buffer.concat(chunks).toString('utf8')
    bytes += value.byteLength
    if (bytes > maxBytes) {
      await reader.cancel()
      return undefined
    }
    chunks.push(value)
  }
}

/** The error a non-2xx response stands for (reads the problem+json body if any). */
export const errorOf = async (res: Response): Promise<HttpError> => {
  let body: Record<string, unknown> = {}
  try {
    const parsed: unknown = JSON.parse((await textWithin(res, MAX_ERROR_BYTES)) ?? '')
    if (parsed !== null && typeof parsed === 'object') body = parsed as Record<string, unknown>
  } catch {
    // not JSON (or too long to be a problem): keep the status alone
  }
  const code = typeof body.code === 'string' ? body.code : `HTTP_${res.status}`
  const title = typeof body.title === 'string' ? body.title : res.statusText
  return new HttpError(res.status, code, `${res.status} ${code}: ${title}`, body)
}

/** No call to the coordinator waits longer than this: a hung one fails and is retried. */
const CALL_TIMEOUT_MS = 10_000

const within = (signal?: AbortSignal): AbortSignal =>
  signal
    ? AbortSignal.any([signal, AbortSignal.timeout(CALL_TIMEOUT_MS)])
    : AbortSignal.timeout(CALL_TIMEOUT_MS)

export const postJson = async <T>(
  remote: Remote,
  path: string,
  body: unknown,
  signal?: AbortSignal,
): Promise<T> => {
  const res = await fetch(`${remote.url}${path}`, {
    method: 'POST',
    headers: headers(remote, { 'content-type': 'application/json' }),
    body: JSON.stringify(body),
    signal: within(signal),
  })
  if (!res.ok) throw await errorOf(res)
  return (await res.json()) as T
}

export const getJson = async <T>(
  remote: Remote,
  path: string,
  signal?: AbortSignal,
): Promise<T> => {
  const res = await fetch(`${remote.url}${path}`, {
    headers: headers(remote),
    signal: within(signal),
  })
  if (!res.ok) throw await errorOf(res)
  return (await res.json()) as T
}

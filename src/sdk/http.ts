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

/** The error a non-2xx response stands for (reads the problem+json body if any). */
export const errorOf = async (res: Response): Promise<HttpError> => {
  let body: Record<string, unknown> = {}
  try {
    body = (await res.json()) as Record<string, unknown>
  } catch {
    // not JSON: keep the status alone
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

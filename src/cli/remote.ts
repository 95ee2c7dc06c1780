/** Talking to a running coordinator from the CLI: where it is, the token, problem+json as exit codes. */
import { HttpError } from '../errors.js'

export interface Target {
  readonly url: string
  readonly token?: string
}

export const DEFAULT_URL = 'http://127.0.0.1:7070'

/** --url / SLEW_URL / the default; --token / SLEW_TOKEN. */
export const targetOf = (flags: {
  url?: string | undefined
  token?: string | undefined
}): Target => {
  const url = (flags.url ?? process.env.SLEW_URL ?? DEFAULT_URL).replace(/\/+$/, '')
  const token = flags.token ?? process.env.SLEW_TOKEN
  return { url, ...(token && { token }) }
}

export const call = async <T>(
  t: Target,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> => {
  let res: Response
  try {
    res = await fetch(`${t.url}${path}`, {
      method,
      headers: {
        ...(t.token && { authorization: `Bearer ${t.token}` }),
        ...(body !== undefined && { 'content-type': 'application/json' }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    })
  } catch (error) {
    throw new Error(
      `cannot reach the coordinator at ${t.url} (${(error as Error).cause ?? (error as Error).message}); is \`slew serve\` running?`,
    )
  }
  const text = await res.text()
  const data = parseJson(text)
  if (data === undefined) {
    // Not a coordinator's answer (a proxy's error page, another server on the port).
    throw new Error(
      `cannot reach the coordinator at ${t.url}: ${method} ${path} answered ${res.status} with no JSON; is --url a slew coordinator?`,
    )
  }
  if (!res.ok) {
    const detail = typeof data.detail === 'string' ? ` (${data.detail})` : ''
    throw new HttpError(
      res.status,
      String(data.code ?? `HTTP_${res.status}`),
      `${data.title ?? res.statusText}${detail}`,
      data,
    )
  }
  return data as T
}

const parseJson = (text: string): Record<string, unknown> | undefined => {
  if (!text) return {}
  try {
    return JSON.parse(text) as Record<string, unknown>
  } catch {
    return undefined
  }
}

/**
 * Exit code for a coordinator's refusal: 2 for bad input (400, 413, 422, and
 * a live config change to a field only a restart changes), 1 otherwise.
 */
export const exitCodeOf = (e: HttpError): number =>
  e.status === 400 ||
  e.status === 422 ||
  e.status === 413 ||
  e.problemCode === 'E_CONFIG_NEEDS_RESTART'
    ? 2
    : 1

/**
 * The SDK's calls to the coordinator: JSON in and out, problem+json as typed
 * HttpErrors. Calls (leases, heartbeats, recalls) go over node:http on a
 * keep-alive agent of the client's own: a lease is a small, frequent call
 * from every app server, and through fetch it cost four times the CPU (the
 * rewarm-pg bench: 1,645 µs of client CPU a lease against 384 µs). The
 * stream stays on fetch (one long response, its body read as a stream).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { HttpError } from '../errors.js'

export interface Remote {
  readonly url: string
  readonly token?: string
  /** Keep-alive agents for calls (one per client; `closeAgents` ends their sockets). */
  readonly agents?: Agents
}

export interface Agents {
  readonly http: HttpAgent
  readonly https: HttpsAgent
}

/**
 * A client's keep-alive agents: a few sockets (calls are small and rarely
 * overlap more than a lease, a heartbeat and a recall), idle ones closed
 * before the coordinator's keep-alive timeout (5 s by default) would.
 */
export const keepAliveAgents = (): Agents => {
  const o = { keepAlive: true, maxSockets: 4, maxFreeSockets: 4, timeout: 4000 }
  return { http: new HttpAgent(o), https: new HttpsAgent(o) }
}

export const closeAgents = (a: Agents | undefined): void => {
  a?.http.destroy()
  a?.https.destroy()
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
export const errorOf = async (res: Response): Promise<HttpError> =>
  problemOf(
    res.status,
    res.statusText,
    await textWithin(res, MAX_ERROR_BYTES).catch(() => undefined),
  )

/** No call to the coordinator waits longer than this: a hung one fails and is retried. */
const CALL_TIMEOUT_MS = 10_000

/** The error a status and body stand for (the body a problem+json, or not). */
const problemOf = (status: number, statusText: string, text: string | undefined): HttpError => {
  let body: Record<string, unknown> = {}
  try {
    const parsed: unknown = JSON.parse(text ?? '')
    if (parsed !== null && typeof parsed === 'object') body = parsed as Record<string, unknown>
  } catch {
    // not JSON (or too long to be a problem): keep the status alone
  }
  const code = typeof body.code === 'string' ? body.code : `HTTP_${status}`
  const title = typeof body.title === 'string' ? body.title : statusText
  return new HttpError(status, code, `${status} ${code}: ${title}`, body)
}

/** A call's own deadline, or the caller's signal, whichever ends it first. */
export interface CallOptions {
  readonly timeoutMs?: number
  readonly signal?: AbortSignal
}

/** Failed for want of an answer in time (like fetch's, a DOMException named TimeoutError). */
const timedOut = (ms: number) =>
  new DOMException(`The call took longer than ${ms} ms`, 'TimeoutError')

/**
 * One call over node:http(s) on the remote's keep-alive agent: the status
 * and the body's text (an error's body read up to MAX_ERROR_BYTES only).
 */
const call = async (
  remote: Remote,
  method: 'GET' | 'POST',
  path: string,
  body: string | undefined,
  opts: CallOptions = {},
): Promise<{ status: number; text: string }> => {
  try {
    return await once(remote, method, path, body, opts, true)
  } catch (error) {
    // A kept-alive socket the server closed as we reused it (its keep-alive timeout, a
    // restart): the request never reached it. The other idle ones are likely closed too:
    // dropped, and this call once more on a new socket.
    if (!(error instanceof StaleSocketError)) throw error
    for (const agent of [remote.agents?.http, remote.agents?.https])
      for (const sockets of Object.values(agent?.freeSockets ?? {}))
        for (const socket of sockets ?? []) socket.destroy()
    return once(remote, method, path, body, opts, false)
  }
}

/** The request went out on a reused keep-alive socket that was already closed at the other end. */
class StaleSocketError extends Error {}

const once = (
  remote: Remote,
  method: 'GET' | 'POST',
  path: string,
  body: string | undefined,
  opts: CallOptions,
  reuse: boolean,
): Promise<{ status: number; text: string }> =>
  new Promise((resolve, reject) => {
    const url = new URL(`${remote.url}${path}`)
    const https = url.protocol === 'https:'
    const agent = reuse ? (https ? remote.agents?.https : remote.agents?.http) : false
    const ms = Math.min(opts.timeoutMs ?? CALL_TIMEOUT_MS, CALL_TIMEOUT_MS)
    let settled = false
    const done = (error: unknown, value?: { status: number; text: string }) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      opts.signal?.removeEventListener('abort', onAbort)
      if (error !== undefined) reject(error)
      else resolve(value!)
    }
    const req = (https ? httpsRequest : httpRequest)(url, {
      method,
      ...(agent !== undefined && { agent }),
      headers: headers(remote, {
        ...(body !== undefined && {
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(body)),
        }),
      }),
    })
    const timer = setTimeout(() => {
      const e = timedOut(ms)
      req.destroy(e)
      done(e)
    }, ms)
    const onAbort = () => {
      const e = opts.signal?.reason ?? new DOMException('The call was aborted', 'AbortError')
      req.destroy(e)
      done(e)
    }
    if (opts.signal?.aborted) return onAbort()
    opts.signal?.addEventListener('abort', onAbort, { once: true })
    req.on('error', (e: NodeJS.ErrnoException) => {
      const stale = req.reusedSocket && (e.code === 'ECONNRESET' || e.code === 'EPIPE')
      done(stale ? new StaleSocketError(e.message, { cause: e }) : e)
    })
    req.on('response', (res: IncomingMessage) => {
      const status = res.statusCode ?? 0
      const ok = status >= 200 && status < 300
      const chunks: Buffer[] = []
      let bytes = 0
      res.on('data', (chunk: Buffer) => {
        bytes += chunk.length
        if (!ok && bytes > MAX_ERROR_BYTES) {
          res.destroy()
          done(problemOf(status, res.statusMessage ?? '', undefined))
          return
        }
        chunks.push(chunk)
      })
      res.on('error', (e) => done(e))
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8')
        if (ok) done(undefined, { status, text })
        else done(problemOf(status, res.statusMessage ?? '', text))
      })
    })
    req.end(body)
  })

export const postJson = async <T>(
  remote: Remote,
  path: string,
  body: unknown,
  opts?: CallOptions,
): Promise<T> =>
  JSON.parse((await call(remote, 'POST', path, JSON.stringify(body), opts)).text) as T

export const getJson = async <T>(remote: Remote, path: string, opts?: CallOptions): Promise<T> =>
  JSON.parse((await call(remote, 'GET', path, undefined, opts)).text) as T

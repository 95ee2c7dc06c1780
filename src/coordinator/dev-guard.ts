/**
 * Dev mode (no tokens configured, loopback only): anything that reaches
 * loopback may change state, and so may a web page open in the
 * developer's browser. A page may send a cross-site POST of `text/plain`,
 * a form, or no body at all without a CORS preflight (a `text/plain` POST
 * aborted a rollout). So, in dev mode, a request that changes state must
 * come from a program or a loopback page (no `Origin`, or a loopback one)
 * and say it is JSON (or NDJSON), which a page elsewhere cannot send
 * without the preflight this server never grants.
 */
import type { MiddlewareHandler } from 'hono'
import { problem } from '../protocol/problem.js'
import { headerOf } from './http.js'
import { problemResponse } from './respond.js'

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS'])
const JSON_TYPE = /^application\/(([\w.+-]+\+)?json|(x-)?ndjson)\b/i

/** An Origin naming a page on this machine: http(s) on localhost, 127.0.0.0/8 or [::1]. */
export const isLoopbackOrigin = (origin: string): boolean => {
  let url: URL
  try {
    url = new URL(origin)
  } catch {
    return false // "null" (a sandboxed or file page) and anything unreadable
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return false
  const host = url.hostname
  return host === 'localhost' || host === '[::1]' || /^127(\.\d{1,3}){3}$/.test(host)
}

export const sameMachineOnly = (): MiddlewareHandler =>
  async function sameMachineOnly(c, next) {
    if (SAFE.has(c.req.method)) return next()
    const origin = headerOf(c, 'origin')
    if (origin !== undefined && !isLoopbackOrigin(origin))
      return problemResponse(
        problem('E_FORBIDDEN', 'Requests from web pages of other sites are refused', {
          detail:
            'with no auth tokens configured, only programs and pages on this machine may change state',
        }),
      )
    const type = headerOf(c, 'content-type') ?? ''
    if (!JSON_TYPE.test(type))
      return problemResponse(
        problem('E_UNSUPPORTED_MEDIA_TYPE', 'The body must be application/json', {
          detail: `got \`${type || 'none'}\`; with no auth tokens configured, a request that changes state must say it is JSON, even with no body`,
        }),
      )
    return next()
  }

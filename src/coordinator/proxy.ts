/**
 * On a follower, the engine's routes (changes, controls, the config) are
 * answered by the leader: the request goes there as it came, the answer
 * comes back as it went. No leader (an election in progress, Redis down):
 * 503 with Retry-After.
 */
import type { MiddlewareHandler } from 'hono'
import { problem } from '../protocol/problem.js'
import { problemResponse } from './respond.js'
import type { Runtime } from './runtime.js'

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'host',
  'content-length',
])

export const toLeader =
  (runtime: Runtime): MiddlewareHandler =>
  async (c, next) => {
    if (runtime.leading) return next()
    const noLeader = (detail: string) =>
      problemResponse(
        problem('E_STORE_UNAVAILABLE', 'No leader to answer this right now', {
          detail,
          retryAfterMs: 1000,
        }),
        {
          'retry-after': '1',
        },
      )
    let leader: string | undefined
    try {
      leader = await runtime.leaderUrl()
    } catch (error) {
      return noLeader((error as Error).message)
    }
    if (!leader) return noLeader('no replica leads the fleet yet')
    const url = new URL(c.req.url)
    const headers = new Headers()
    for (const [k, v] of Object.entries(c.req.header())) if (!HOP_BY_HOP.has(k)) headers.set(k, v)
    headers.set('x-slew-forwarded', '1')
    if (c.req.header('x-slew-forwarded')) return noLeader('the leader moved while forwarding')
    try {
      const body =
        c.req.method === 'GET' || c.req.method === 'HEAD' ? undefined : await c.req.arrayBuffer()
      const res = await fetch(`${leader}${url.pathname}${url.search}`, {
        method: c.req.method,
        headers,
        ...(body && { body }),
      })
      const out = new Headers(res.headers)
      for (const h of HOP_BY_HOP) out.delete(h)
      out.set('x-slew-leader', leader)
      return new Response(await res.arrayBuffer(), { status: res.status, headers: out })
    } catch (error) {
      return noLeader(`the leader at ${leader} did not answer: ${(error as Error).message}`)
    }
  }

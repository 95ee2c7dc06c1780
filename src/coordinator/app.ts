/**
 * The coordinator's HTTP app: body limits, request metrics, the engine's
 * routes proxied to the leader on a Redis follower, every route, and
 * errors as problem+json. Routes parse, call the runtime and present.
 */
import { Hono, type MiddlewareHandler } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { problem } from '../protocol/problem.js'
import type { App, Ctx, Env } from './context.js'
import { sameMachineOnly } from './dev-guard.js'
import { HttpProblem } from './http.js'
import { isNdjson } from './ndjson.js'
import { toLeader } from './proxy.js'
import { errorProblem, problemResponse } from './respond.js'
import { changesRoutes } from './routes/changes.js'
import { clientsRoutes } from './routes/clients.js'
import { configRoutes } from './routes/config.js'
import { metricsRoutes } from './routes/metrics.js'
import { openApiRoutes } from './routes/openapi.js'
import { opsRoutes } from './routes/ops.js'
import { streamRoutes } from './routes/stream.js'

/** Paths whose routes need the engine: on a follower, the leader answers them. */
const LEADER_PATHS = [
  '/v1/metrics',
  '/v1/incidents',
  '/v1/changes',
  '/v1/changes/*',
  '/v1/config',
  '/v1/config/*',
  '/v1/clients/:id/rewarms',
  '/v1/clients/:id/recall',
]

export const createApp = (ctx: Ctx): App => {
  const app: App = new Hono<Env>()
  // With no tokens, web pages elsewhere must not change state through the developer's browser.
  if (!ctx.auth.enabled) app.use('*', sameMachineOnly())
  // Only where a body can come: on @hono/node-server, bodyLimit builds a full Request even
  // for a GET, and an SSE stream would keep it alive for hours (3.5 KB per stream). A body
  // with a Content-Length (and no Transfer-Encoding: Node's parser then reads exactly that
  // many bytes) is judged by the header, read from the Node request: hono's bodyLimit would
  // build the full web Request and its body stream to read the same header, and the handler
  // then could not read the body the fast way (a heartbeat's CPU at 19,500 streams: 346 µs
  // with it, 196 µs without).
  const limitOf = (maxSize: number, what: string): MiddlewareHandler<Env> => {
    const tooLarge = () =>
      problemResponse(
        problem('E_BODY_TOO_LARGE', `The ${what} is too large`, { limitBytes: maxSize }),
      )
    const streamed = bodyLimit({ maxSize, onError: tooLarge })
    return (c, next) => {
      const headers = c.env?.incoming?.headers
      const length = headers?.['content-length']
      if (length !== undefined && headers?.['transfer-encoding'] === undefined)
        return Number.parseInt(length, 10) > maxSize ? Promise.resolve(tooLarge()) : next()
      return streamed(c, next)
    }
  }
  const limitBody = limitOf(ctx.config().limits.bodyBytes, 'request body')
  // NDJSON key lists (POST /v1/changes only) may be larger: their own limit, live from config.
  let ndjson = { bytes: 0, limit: limitBody }
  const limitNdjson = () => {
    const bytes = ctx.config().rewarm.maxBodyBytes
    if (ndjson.bytes !== bytes) ndjson = { bytes, limit: limitOf(bytes, 'NDJSON body') }
    return ndjson.limit
  }
  app.use('*', (c, next) =>
    c.req.method === 'GET' || c.req.method === 'HEAD'
      ? next()
      : c.req.method === 'POST' && c.req.path === '/v1/changes' && isNdjson(c)
        ? limitNdjson()(c, next)
        : limitBody(c, next),
  )
  app.use('*', async (c, next) => {
    await next()
    ctx.metrics.requests.inc({ route: c.req.routePath, status: String(c.res.status) })
  })
  // On a Redis follower, the engine's routes are the leader's to answer.
  for (const path of LEADER_PATHS) app.use(path, toLeader(ctx.runtime))
  changesRoutes(app, ctx)
  clientsRoutes(app, ctx)
  configRoutes(app, ctx)
  metricsRoutes(app, ctx)
  streamRoutes(app, ctx)
  opsRoutes(app, ctx)
  openApiRoutes(app)
  app.notFound(() => problemResponse(problem('E_NOT_FOUND', 'No such route')))
  app.onError((error) => {
    if (error instanceof HttpProblem) return problemResponse(error.problem, error.headers)
    const p = errorProblem(error)
    // Store down: never a bypass of the budget; come back shortly.
    return problemResponse(p, p.status === 503 ? { 'retry-after': '1' } : {})
  })
  return app
}

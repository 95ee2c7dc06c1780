/**
 * GET /v1/stream: one SSE stream per client, written straight to the Node
 * response. New connections pass admission control (B3) first. On connect the
 * client gets a signed `hello` (fleet, epoch, its nonce), then what it missed
 * since its `Last-Event-ID` (or `since`) from the log — or a signed `reset` if
 * that is no longer held or of a lost epoch — or, when new, the fleet's
 * stable config; then the engine queues whatever is due for it. A client that
 * names another fleet is turned away (409 E_WRONG_FLEET): it would refuse
 * everything it got.
 */
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response'
import { MAX_ENTRIES } from '../../protocol/messages.js'
import { problem } from '../../protocol/problem.js'
import type { App, Ctx } from '../context.js'
import { HttpProblem, headerOf, intQuery, nonNegativeIntOf, patternQuery } from '../http.js'
import { problemResponse } from '../respond.js'
import { ownClientId } from './clients.js'

/** What `?epoch=`, `?nonce=` and `?fleet=` must match (a 400 naming the parameter otherwise). */
export const STREAM_QUERY = {
  epoch: { pattern: /^[a-z0-9]{1,64}$/, rule: '1-64 of [a-z0-9]' },
  nonce: { pattern: /^[\w-]{8,64}$/, rule: '8-64 of [A-Za-z0-9_-]' },
  fleet: { pattern: /^[\w.-]{1,64}$/, rule: '1-64 of [A-Za-z0-9_.-]' },
} as const

const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
}

/** `?entries=`: what the client's cache holds, at most MAX_ENTRIES (a 400 beyond: nothing is admitted). */
const entriesQuery = (c: Parameters<typeof intQuery>[0]): number | undefined => {
  const n = intQuery(c, 'entries')
  if (n === undefined || n <= MAX_ENTRIES) return n
  throw new HttpProblem(
    problem(
      'E_INVALID_OPTION',
      `Expected \`entries\` to be an integer in [0, ${MAX_ENTRIES}], got \`${n}\``,
      { field: 'entries', rule: `an integer in [0, ${MAX_ENTRIES}]`, value: n },
    ),
  )
}

/** The resume point: Last-Event-ID wins over ?since=. */
const sinceOf = (header: string | undefined, query: number | undefined): number | undefined =>
  header === undefined || header === '' ? query : nonNegativeIntOf('Last-Event-ID', header)

export const streamRoutes = (app: App, ctx: Ctx): void => {
  app.get('/v1/stream', ctx.auth.require('client'), async (c) => {
    // The stream takes no body: one would lie unread under a stream that lasts hours, and a
    // socket not read to its end never tells that its client has gone (the stream stays open).
    if (headerOf(c, 'transfer-encoding') !== undefined || Number(headerOf(c, 'content-length')))
      return problemResponse(
        problem('E_BODY_TOO_LARGE', 'The stream request takes no body', { limitBytes: 0 }),
      )
    const clientId = ownClientId(c, c.req.query('clientId'))
    const since = sinceOf(headerOf(c, 'last-event-id'), intQuery(c, 'since'))
    const entries = entriesQuery(c)
    const { epoch: e, nonce: n, fleet: f } = STREAM_QUERY
    const epoch = patternQuery(c, 'epoch', e.pattern, e.rule)
    const nonce = patternQuery(c, 'nonce', n.pattern, n.rule)
    const theirs = patternQuery(c, 'fleet', f.pattern, f.rule)
    const fleet = ctx.config().fleet
    if (theirs !== undefined && theirs !== fleet) {
      ctx.metrics.streamsRefused.inc({ reason: 'wrong-fleet' })
      ctx.fleet.turnedAway(clientId, 'wrong-fleet', ctx.clock.now(), theirs)
      return problemResponse(
        problem('E_WRONG_FLEET', `This coordinator serves fleet \`${fleet}\`, not \`${theirs}\``, {
          detail:
            "set the SDK's `fleet` option to this fleet (or leave it out to take the coordinator's), or connect to the coordinator of your fleet",
          fleet,
          clientFleet: theirs,
        }),
      )
    }
    // HEAD (hono runs this handler for it): the headers a GET would get, and no stream: nothing
    // is admitted or joined, and no response is written twice.
    if (c.req.method === 'HEAD') return c.body(null, 200, SSE_HEADERS)
    if (ctx.state.shuttingDown) {
      return problemResponse(
        problem('E_OVERLOADED', 'The coordinator is shutting down', { retryAfterMs: 1000 }),
        {
          'retry-after': '1',
        },
      )
    }
    const decision = await ctx.runtime.admit(clientId)
    if (!decision.admitted) {
      ctx.metrics.admissionsRefused.inc()
      ctx.events.emit('refused', {
        clientId,
        at: ctx.clock.now(),
        retryAfterMs: decision.retryAfterMs,
      })
      return problemResponse(
        problem('E_OVERLOADED', 'Too many new streams; come back later', {
          detail: `admission is limited to ${ctx.config().admission.ratePerSec}/s`,
          retryAfterMs: decision.retryAfterMs,
        }),
        { 'retry-after': String(Math.ceil(decision.retryAfterMs / 1000)) },
      )
    }
    ctx.metrics.admissions.inc()
    ctx.events.emit('admitted', { clientId, at: ctx.clock.now() })
    const res = c.env.outgoing
    res.writeHead(200, SSE_HEADERS)
    // Headers now: a resuming client with nothing to catch up on would otherwise wait for the first ping.
    res.flushHeaders()
    ctx.streamOpened(c.env.incoming.socket)
    ctx.hub.add(clientId, res, nonce)
    await ctx.runtime.connected({ clientId, since, epoch, nonce, entries })
    ctx.metrics.streams.set(ctx.hub.size)
    return RESPONSE_ALREADY_SENT
  })
}

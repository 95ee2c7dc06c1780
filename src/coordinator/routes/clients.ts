/** What clients call besides the stream: heartbeats and refetch-token leases (B2). */
import { shardOf } from '../../invalidation/shard.js'
import { heartbeatSchema, leaseRequestSchema } from '../../protocol/messages.js'
import { problem } from '../../protocol/problem.js'
import type { App, Ctx } from '../context.js'
import { HttpProblem, parseBody, readJson } from '../http.js'

const CLIENT_ID = /^[\w.:@-]{1,200}$/

export const checkClientId = (id: string | undefined): string => {
  if (!id || !CLIENT_ID.test(id)) {
    throw new HttpProblem(
      problem(
        400,
        'E_INVALID_OPTION',
        `Expected \`clientId\` to be 1-200 of [A-Za-z0-9_.:@-], got \`${id ?? ''}\``,
        {
          field: 'clientId',
          rule: '1-200 of [A-Za-z0-9_.:@-]',
          value: id ?? null,
        },
      ),
    )
  }
  return id
}

export const clientsRoutes = (app: App, ctx: Ctx): void => {
  app.post('/v1/clients/:id/heartbeat', ctx.auth.require('client'), async (c) => {
    const id = checkClientId(c.req.param('id'))
    const { rewarm, ...hb } = parseBody(heartbeatSchema, await readJson(c))
    // Rewarm progress goes to the store; the rest is health, kept and shared between replicas.
    await ctx.runtime.heartbeat(id, hb)
    if (rewarm) await ctx.ledger.record(id, rewarm)
    for (const [reason, n] of Object.entries(hb.rejected ?? {})) {
      if (n) ctx.metrics.rejectedMessages.inc({ reason }, n)
    }
    ctx.metrics.heartbeats.inc()
    return c.json({ ok: true, seq: ctx.runtime.seq() })
  })

  // A client's own rewarm checkpoint: a restarted client continues from it.
  app.get('/v1/clients/:id/rewarm/:changeId', ctx.auth.require('client'), async (c) => {
    const id = checkClientId(c.req.param('id'))
    const changeId = c.req.param('changeId')
    if (changeId.length > 200)
      throw new HttpProblem(
        problem(400, 'E_INVALID_OPTION', 'Expected `changeId` to be at most 200 characters', {
          field: 'changeId',
          rule: 'at most 200 characters',
        }),
      )
    const report = await ctx.ledger.of(changeId, id)
    if (!report)
      throw new HttpProblem(
        problem(404, 'E_NOT_FOUND', 'No rewarm checkpoint for this client and change', {
          clientId: id,
          changeId,
        }),
      )
    return c.json(report)
  })

  // A (re)started client's unfinished rewarms, each with its change: it continues them.
  app.get('/v1/clients/:id/rewarms', ctx.auth.require('client'), async (c) => {
    const id = checkClientId(c.req.param('id'))
    const live = new Map(
      ctx.engine
        .list()
        .filter(
          (r) =>
            r.change.kind === 'rewarm' &&
            r.change.target?.keys !== undefined &&
            r.state !== 'aborted' &&
            r.state !== 'failed',
        )
        .map((r) => [r.id, r.change]),
    )
    const open = await ctx.ledger.unfinished(id, [...live.keys()])
    return c.json({
      rewarms: open.map(({ changeId, checkpoint }) =>
        ctx.sign({ type: 'rewarm-resume', clientId: id, change: live.get(changeId)!, checkpoint }),
      ),
    })
  })

  app.post('/v1/leases', ctx.auth.require('client'), async (c) => {
    const req = parseBody(leaseRequestSchema, await readJson(c))
    checkClientId(req.clientId)
    const grant = await ctx.runtime.lease(req.clientId, req.want, req.class)
    ctx.metrics.leaseRequests.inc({ class: req.class, granted: grant.granted > 0 ? 'yes' : 'no' })
    if (grant.granted > 0) ctx.metrics.tokensGranted.inc({ class: req.class }, grant.granted)
    if (req.class === 'rewarm') ctx.rewarm.granted(grant.granted)
    return c.json(grant)
  })

  app.get('/v1/fleet', ctx.auth.require('read'), async (c) => {
    const { fleet, shards } = ctx.config()
    const byShard = new Array<number>(shards).fill(0)
    const limit = Math.min(10_000, Math.max(0, Number(c.req.query('limit') ?? 1000) || 0))
    const members = await ctx.runtime.fleet()
    const clients: unknown[] = []
    for (const m of members) {
      // Shards under the fleet's own salt: a stable picture (each change salts its own).
      byShard[shardOf(m.clientId, fleet, shards)]!++
      if (clients.length < limit) {
        const h = ctx.fleet.health(m.clientId)
        clients.push({
          id: m.clientId,
          ...(m.replica && { replica: m.replica }),
          ...(m.connectedAt && { connectedAt: m.connectedAt }),
          ...(h && {
            heartbeatAt: h.at,
            entries: h.entries,
            ackedSeq: h.ackedSeq,
            errorRate: h.errorRate,
          }),
        })
      }
    }
    return c.json({ connected: members.length, shards, byShard, clients })
  })
}

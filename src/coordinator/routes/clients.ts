/** What clients call besides the stream: heartbeats and refetch-token leases (B2). */

import { shardOf } from '../../invalidation/shard.js'
import type { Change } from '../../model/change.js'
import { keysLeft, type RewarmReport } from '../../model/rewarm.js'
import {
  changeDigest,
  configDigest,
  type Heartbeat,
  heartbeatSchema,
  type LeaseTerms,
  leaseRequestSchema,
  type RewarmResumeEntry,
} from '../../protocol/messages.js'
import { problem } from '../../protocol/problem.js'
import { type Caller, checkActsAs } from '../auth.js'
import type { App, Ctx } from '../context.js'
import { HttpProblem, parseBody, readJson } from '../http.js'
import { parkedLease } from '../lease-park.js'
import { recallSchema } from '../recall.js'
import type { FleetMember } from '../runtime.js'

export const CLIENT_ID = /^[\w.:@-]{1,200}$/
export const NONCE = /^[\w-]{8,64}$/

/** Change digests by change object: a long list is hashed once, not per client asking. */
const digests = new WeakMap<Change, string>()
const digestOf = (change: Change): string => {
  let d = digests.get(change)
  if (d === undefined) {
    d = changeDigest(change)
    digests.set(change, d)
  }
  return d
}

export const checkClientId = (id: string | undefined): string => {
  if (!id || !CLIENT_ID.test(id)) {
    throw new HttpProblem(
      problem(
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

/** A valid client id the request's token may act as (400, else 403). */
export const ownClientId = (c: { get(key: 'caller'): Caller }, id: string | undefined): string => {
  const clientId = checkClientId(id)
  checkActsAs(c.get('caller'), clientId)
  return clientId
}

/**
 * The terms a client falls back on while it cannot lease (degraded mode):
 * it refetches at its share of each class's rate, rate / fleetSize. A fleet
 * size the store could not count is left out (the client keeps its last).
 */
const leaseTerms = async (ctx: Ctx): Promise<LeaseTerms> => {
  const fleetSize = await ctx.runtime.fleetSize().catch(() => undefined)
  return {
    budgets: {
      invalidate: ctx.runtime.tokenBudget('invalidate'),
      rewarm: ctx.runtime.tokenBudget('rewarm'),
      urgent: ctx.runtime.tokenBudget('urgent'),
    },
    ...(fleetSize !== undefined && { fleetSize }),
    leaseTtlMs: ctx.config().leases.ttlMs,
  }
}

/**
 * The checkpoints of a heartbeat the store keeps: of rewarms sent to this
 * client and not over for longer than checkpoints are kept. A client cannot
 * make the store keep one for a change it never got; the rest are counted.
 */
const sentRewarms = async (
  ctx: Ctx,
  clientId: string,
  reports: Readonly<Record<string, RewarmReport>>,
): Promise<Record<string, RewarmReport>> => {
  const maxAgeMs = ctx.config().rewarm.checkpointTtlMs
  const ids = Object.keys(reports)
  const sent = await Promise.all(ids.map((c) => ctx.runtime.sentRewarm(c, clientId, maxAgeMs)))
  const kept: Record<string, RewarmReport> = {}
  ids.forEach((c, i) => {
    if (sent[i]) kept[c] = reports[c]!
  })
  const refused = ids.length - Object.keys(kept).length
  if (refused > 0) ctx.metrics.checkpointsRefused.inc(refused)
  return kept
}

const withoutRewarm = ({ rewarm: _, ...hb }: Heartbeat): Heartbeat => hb

export const clientsRoutes = (app: App, ctx: Ctx): void => {
  app.post('/v1/clients/:id/heartbeat', ctx.auth.require('client'), async (c) => {
    const id = ownClientId(c, c.req.param('id'))
    const body = parseBody(heartbeatSchema, await readJson(c, ctx.config().limits))
    // Rewarm progress goes to the store; the rest is health, kept and shared between replicas.
    // (Copied without it only when it is there: most heartbeats carry none.)
    const { rewarm } = body
    const hb = rewarm === undefined ? body : withoutRewarm(body)
    await ctx.runtime.heartbeat(id, hb)
    if (rewarm) await ctx.ledger.record(id, await sentRewarms(ctx, id, rewarm))
    if (hb.rejected)
      for (const [reason, n] of Object.entries(hb.rejected)) {
        if (n) ctx.metrics.rejectedMessages.inc({ reason }, n)
      }
    ctx.metrics.heartbeats.inc()
    // A client a gate compares is asked to heartbeat faster while it does.
    const heartbeatMs = ctx.runtime.heartbeatMs(id)
    // A paused rollout's ramps stand still on every client until it resumes.
    const holdRamps = ctx.runtime.heldRamps()
    const sketch = ctx.runtime.sketchAnswer?.(id)
    return c.json({
      ok: true,
      seq: ctx.runtime.seq(),
      ...(await leaseTerms(ctx)),
      ...(heartbeatMs !== undefined && { heartbeatMs }),
      ...(holdRamps.length > 0 && { holdRamps }),
      ...(sketch && { sketch }),
    })
  })

  // A client's own rewarm checkpoint: a restarted client continues from it.
  app.get('/v1/clients/:id/rewarm/:changeId', ctx.auth.require('client'), async (c) => {
    const id = ownClientId(c, c.req.param('id'))
    const changeId = c.req.param('changeId')
    if (changeId.length > 200)
      throw new HttpProblem(
        problem('E_INVALID_OPTION', 'Expected `changeId` to be at most 200 characters', {
          field: 'changeId',
          rule: 'at most 200 characters',
        }),
      )
    const report = await ctx.ledger.one(changeId, id)
    if (!report)
      throw new HttpProblem(
        problem('E_NOT_FOUND', 'No rewarm checkpoint for this client and change', {
          clientId: id,
          changeId,
        }),
      )
    return c.json(report)
  })

  // A (re)started client's rewarm checkpoints: it continues the unfinished ones.
  app.get('/v1/clients/:id/rewarms', ctx.auth.require('client'), async (c) => {
    const id = ownClientId(c, c.req.param('id'))
    const nonce = c.req.query('nonce') ?? ''
    if (!NONCE.test(nonce))
      throw new HttpProblem(
        problem('E_INVALID_OPTION', 'Expected `nonce` to be 8-64 of [A-Za-z0-9_-]', {
          field: 'nonce',
          rule: '8-64 of [A-Za-z0-9_-]',
          value: nonce,
        }),
      )
    const live = new Map<string, Change>()
    for (const r of ctx.engine.list()) {
      const keys = r.change.target?.keys
      if (r.change.kind === 'rewarm' && keys && r.state !== 'aborted' && r.state !== 'failed')
        live.set(r.id, r.change)
    }
    const found = await ctx.ledger.of(id, [...live.keys()])
    const rewarms: RewarmResumeEntry[] = []
    for (const { changeId, checkpoint } of found) {
      const change = live.get(changeId)!
      // Only a checkpoint of this change's list (a report for another is not handed on).
      if (checkpoint.total !== change.target?.keys?.length) continue
      rewarms.push({
        signed: ctx.sign({
          type: 'rewarm-resume' as const,
          clientId: id,
          nonce,
          changeId,
          digest: digestOf(change),
          checkpoint,
        }),
        // The list only for a rewarm to continue; a finished one tells a replay to do nothing.
        ...(keysLeft(checkpoint) > 0 && { change }),
      })
    }
    return c.json({ rewarms })
  })

  // After the coordinator lost its state: what this client can prove of the epoch before.
  app.post('/v1/clients/:id/recall', ctx.auth.require('client'), async (c) => {
    const id = ownClientId(c, c.req.param('id'))
    const body = parseBody(recallSchema, await readJson(c, ctx.config().limits))
    const outcome = ctx.recall.receive(ctx.engine, id, body)
    await ctx.runtime.durable()
    return c.json(outcome)
  })

  app.post('/v1/leases', ctx.auth.require('client'), async (c) => {
    const req = parseBody(leaseRequestSchema, await readJson(c, ctx.config().limits))
    ownClientId(c, req.clientId)
    const grant = await parkedLease(ctx.runtime, req.clientId, req.want, req.class)
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
    const { refusing, configSplit } = fleetProblems(ctx, members)
    const refusingIds = new Map<string, string>()
    for (const [reason, ids] of refusing) for (const id of ids) refusingIds.set(id, reason)
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
            epoch: h.epoch,
            errorRate: h.errorRate,
            latencyP50: h.latencyP50,
            latencyP99: h.latencyP99,
            loopDelayP50: h.loopDelayP50,
            loopDelayP99: h.loopDelayP99,
            calls: h.calls,
            ...(h.rejected && { rejected: h.rejected }),
            configDigest: h.configDigest,
            ...(h.refusing && { refusing: h.refusing }),
          }),
        })
      }
    }
    return c.json({
      fleet,
      epoch: ctx.epoch(),
      connected: members.length,
      /** Connected clients that refuse every message they get (nothing applies to them). */
      refusing: [...refusingIds].map(([id, reason]) => ({ id, reason })),
      /** Connected clients running a config that is neither the stable one nor the one last pushed. */
      configSplit,
      /** Streams turned away lately (e.g. another fleet): app servers that are not in the fleet. */
      turnedAway: ctx.fleet.recentlyTurnedAway(),
      shards,
      byShard,
      clients,
    })
  })
}

/** Config digests by values object: the engine hands out one object per version, hashed once. */
const configDigests = new WeakMap<object, string>()
const configDigestOnce = (values: Readonly<Record<string, unknown>>): string => {
  let d = configDigests.get(values)
  if (d === undefined) {
    d = configDigest(values)
    configDigests.set(values, d)
  }
  return d
}

/** Connected clients that refuse everything, and those whose config is split from the coordinator's. */
export const fleetProblems = (ctx: Ctx, members: readonly FleetMember[]) => {
  const configs = new Set<string>()
  // The engine's config is known where the engine runs (the leader, on Redis).
  if (ctx.runtime.leading) {
    configs.add(configDigestOnce(ctx.engine.stableConfigValues))
    configs.add(configDigestOnce(ctx.engine.configValues))
  }
  const found = ctx.fleet.problems(
    members.map((m) => m.clientId),
    configs,
  )
  return configs.size > 0 ? found : { ...found, configSplit: [] }
}

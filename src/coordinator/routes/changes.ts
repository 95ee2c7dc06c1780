/** POST/GET /v1/changes and the controls: pause, resume, abort, rollback. */
import { type ParsedChange, parseChange } from '../../invalidation/change.js'
import { estimateRollout, planChange } from '../../invalidation/plan.js'
import { SMALL_ENTRIES } from '../../invalidation/registry.js'
import type { RolloutView } from '../../invalidation/rollout.js'
import { controlSchema } from '../../protocol/messages.js'
import { problem } from '../../protocol/problem.js'
import type { App, Ctx } from '../context.js'
import { flag, HttpProblem, parseBody, readJson } from '../http.js'
import { configValuesProblem } from '../json-limits.js'
import { checkKeyCount, isNdjson, readNdjsonChange } from '../ndjson.js'

/** Share of the fleet's cached entries a change can touch (config: of the clients). */
const blastRadius = (ctx: Ctx, c: ParsedChange): number => {
  const t = c.target
  if (c.kind === 'config' || !t || t.all || t.hotSet || t.tags?.length || t.prefixes?.length)
    return 1
  const keys = t.keys?.length ?? 0
  const fallback = ctx.engine.config.defaultEntries
  // A few keys (a catalog's push): from the fleet's sums, no pass over the clients.
  if (keys >= 1 && keys <= SMALL_ENTRIES) {
    const { touched, entries } = ctx.engine.fleetSums.keysCost(keys, fallback, Infinity)
    return entries > 0 ? touched / entries : 0
  }
  let touched = 0
  let total = 0
  for (const client of ctx.engine.clients()) {
    if (!client.live) continue
    const e = client.entries ?? fallback
    touched += Math.min(keys, e)
    total += e
  }
  return total > 0 ? touched / total : 0
}

/** The wave plan of a live rollout: who is in each wave now, what it costs, about how long. */
const planOf = (ctx: Ctx, r: RolloutView) =>
  estimateRollout(r, ctx.engine.clients(), ctx.engine.config, ctx.engine.fleetSums)

/** Share of the fleet reached: each started wave counts its slice times the share of it delivered. */
const progressOf = (r: RolloutView): number => {
  if (r.state === 'completed') return 1
  let done = 0
  let before = 0
  for (const w of r.waves) {
    if (w.startedAt === undefined) break
    const share = w.queued ? Math.min(1, (w.delivered ?? 0) / w.queued) : 1
    done += (w.fraction - before) * share
    before = w.fraction
  }
  return done
}

/**
 * What a state alone would hide: a rollout that reached no client, or that
 * clients refused (a completed rollout is done sending, not necessarily applied).
 */
const warningsOf = (
  r: RolloutView,
  acked: number,
  refused: { count: number; reasons: string[] },
): string[] => {
  const out: string[] = []
  if (r.state === 'completed' && r.delivered === 0) out.push('reached no client (none was due)')
  if (refused.count > 0)
    out.push(
      `${refused.count} client${refused.count === 1 ? '' : 's'} it reached refuse every message (${refused.reasons.join(', ')}): not applied there`,
    )
  else if (r.state === 'completed' && acked < r.delivered)
    out.push(`${r.delivered - acked} of ${r.delivered} clients have not acknowledged it yet`)
  return out
}

/** The ids of the clients connected now, fleet-wide: read once per request, when first needed. */
type Connected = () => Promise<ReadonlySet<string>>
const connectedOnce = (ctx: Ctx): Connected => {
  let ids: Promise<ReadonlySet<string>> | undefined
  return () => {
    ids ??= ctx.runtime.fleet().then((ms) => new Set(ms.map((m) => m.clientId)))
    return ids
  }
}

/**
 * A rewarm's keys done and to do (from the clients' checkpoints), the fleet
 * rate and the time left at it. Keys left on a client that is no longer
 * connected, or silent for rewarm.staleAfterMs, are orphaned (if it comes
 * back under its id, it continues and they count again).
 */
const rewarmProgress = async (ctx: Ctx, r: RolloutView, connected: Connected) => {
  const p = await ctx.ledger.progress(r.id, await connected())
  const ratePerSec = ctx.rewarm.rate
  const left = Math.max(0, p.total - p.done - p.failed - p.orphaned)
  return {
    keysDone: p.done,
    keysFailed: p.failed,
    keysSkipped: p.skipped,
    keysOrphaned: p.orphaned,
    keysTotal: p.total,
    clientsReporting: p.clients,
    clientsGone: p.gone,
    ratePerSec,
    etaMs: left === 0 ? 0 : Math.round((left / Math.max(ratePerSec, 1e-9)) * 1000),
  }
}

/** A rollout as the API shows it: the engine's view plus acks and progress. */
/** What the rollout's gate saw and did, where gates run. */
const gateOf = (ctx: Ctx, id: string) => {
  const gate = ctx.runtime.gateRecord(id)
  return gate ? { gate } : {}
}

export const present = async (
  ctx: Ctx,
  r: RolloutView,
  connected: Connected = connectedOnce(ctx),
) => {
  const acked = ctx.fleet.acked(r.id)
  const ackedAll = acked.reduce((n, a) => n + (a ?? 0), 0)
  const refused = ctx.fleet.refusedBy(r.id, await connected())
  return {
    id: r.id,
    state: r.state,
    phase: r.phase,
    ...(r.reason !== undefined && { reason: r.reason }),
    change: r.change,
    budgetClass: r.budgetClass,
    wave: r.wave,
    waves: r.waves.map((w, i) => ({
      index: w.index,
      shards: [w.lo, w.hi],
      fraction: w.fraction,
      queued: w.queued ?? 0,
      ...(w.skipped !== undefined && { skipped: w.skipped }),
      delivered: w.delivered ?? 0,
      acked: acked[i] ?? 0,
      cost: w.cost ?? 0,
      ...(w.startedAt !== undefined && { startedAt: w.startedAt }),
      ...(w.deliveredAt !== undefined && { deliveredAt: w.deliveredAt }),
    })),
    delivered: r.delivered,
    acked: ackedAll,
    /** Clients it reached that refuse every message (their heartbeats say so): it did not apply there. */
    refused: refused.count,
    ...(refused.count > 0 && { refusedFor: refused.reasons }),
    warnings: warningsOf(r, ackedAll, refused),
    deliveredCost: r.deliveredCost,
    progress: progressOf(r),
    coalesced: r.coalesced,
    /** Config changes: keys later changes took over, left out of `change.values` once it finished. */
    ...(r.superseded && { superseded: r.superseded }),
    ...(r.change.kind === 'rewarm' && { rewarm: await rewarmProgress(ctx, r, connected) }),
    ...(r.gate !== undefined && { ownGate: r.gate }),
    ...gateOf(ctx, r.id),
    createdAt: r.createdAt,
    ...(r.bakeUntil !== undefined && { bakeUntil: r.bakeUntil }),
    ...(r.endedAt !== undefined && { endedAt: r.endedAt }),
  }
}

export const changesRoutes = (app: App, ctx: Ctx): void => {
  app.post('/v1/changes', ctx.auth.require('push'), async (c) => {
    const maxKeys = ctx.config().rewarm.maxKeys
    const limits = ctx.config().limits
    const body = isNdjson(c)
      ? await readNdjsonChange(c, maxKeys, limits)
      : await readJson(c, limits)
    // Config values go to every client and stay: their own limits, before anything is stored.
    const tooMuch = configValuesProblem(body, limits)
    if (tooMuch) throw new HttpProblem(tooMuch)
    // A bad change throws InvalidOptionError: a 400 naming the field (see app.onError).
    const parsed = parseChange(body)
    checkKeyCount(parsed, maxKeys)
    const radius = blastRadius(ctx, parsed)
    const limit = ctx.config().confirmAbove
    const needsConfirm = radius > limit
    const confirmed = parsed.confirm === true && Boolean(parsed.reason?.trim())
    if (flag(c, 'dryRun')) {
      const live = [...ctx.engine.clients()].filter((x) => x.live)
      const { budgets, waves, leases, shards, defaultEntries } = ctx.engine.config
      const plan = planChange(
        {
          size: live.length,
          id: (i) => live[i]!.id,
          entries: (i) => live[i]!.entries,
          capacity: (i) => live[i]!.capacity,
        },
        parsed,
        { budgets, waves, leases, shards, defaultEntries },
      )
      // A dry run plans even a change that would need confirming, and says so.
      const confirmRequired = needsConfirm && !confirmed
      return c.json({ dryRun: true, blastRadius: radius, confirmRequired, plan }, 200)
    }
    // While the business watch has an incident open, any push is a decision a person makes.
    const incident = ctx.runtime.business?.open()[0]
    if (incident && !confirmed) {
      throw new HttpProblem(
        problem(
          'E_CONFIRM_REQUIRED',
          'An incident is open: a push needs "confirm": true and a reason',
          {
            detail: `${incident.id}: ${incident.metric} ${incident.observed.toFixed(1)}/s against ${incident.expected.toFixed(1)}/s expected, since ${new Date(incident.since).toISOString()}`,
            incident: incident.id,
          },
        ),
      )
    }
    if (needsConfirm && !confirmed) {
      throw new HttpProblem(
        problem('E_CONFIRM_REQUIRED', 'This change needs "confirm": true and a reason', {
          detail: `it touches ${(radius * 100).toFixed(1)}% of the fleet, over confirmAbove = ${limit * 100}%`,
          blastRadius: radius,
          confirmAbove: limit,
        }),
      )
    }
    const { rollout, coalesced } = ctx.engine.submit(parsed)
    // On Redis: answer only once the change is committed (a 503 if it could not be).
    await ctx.runtime.durable()
    return c.json(
      {
        id: rollout.id,
        state: rollout.state,
        coalesced,
        blastRadius: radius,
        plan: planOf(ctx, rollout),
      },
      202,
    )
  })

  app.get('/v1/changes', ctx.auth.require('read'), async (c) => {
    const state = c.req.query('state')
    const list = ctx.engine.list().filter((r) => !state || r.state === state)
    const connected = connectedOnce(ctx)
    return c.json({
      changes: await Promise.all(list.reverse().map((r) => present(ctx, r, connected))),
    })
  })

  app.get('/v1/changes/:id', ctx.auth.require('read'), async (c) =>
    c.json(await present(ctx, ctx.engine.get(c.req.param('id')))),
  )

  for (const action of ['pause', 'resume', 'abort', 'rollback'] as const) {
    app.post(`/v1/changes/:id/${action}`, ctx.auth.require('admin'), async (c) => {
      const { reason } = parseBody(controlSchema, await readJson(c, ctx.config().limits))
      const id = c.req.param('id')
      const why = reason ?? `${action} by ${c.get('caller').who}`
      const view =
        action === 'resume'
          ? ctx.engine.resume(id)
          : action === 'rollback'
            ? ctx.engine.rollback(id, why)
            : ctx.engine[action](id, why)
      await ctx.runtime.durable()
      return c.json(await present(ctx, view))
    })
  }
}

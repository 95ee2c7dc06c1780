/** For operators and orchestrators: Prometheus metrics, liveness, readiness, the dashboard. */
import { readFileSync } from 'node:fs'
import { budgetClasses, tokenClasses } from '../../model/budget.js'
import type { App, Ctx } from '../context.js'
import { fleetProblems } from './clients.js'

/** The dashboard's files, read once: `src/coordinator/dashboard/` (copied beside the build). */
const asset = (name: string): string =>
  readFileSync(new URL(`../dashboard/${name}`, import.meta.url), 'utf8')
const dashboard = {
  html: asset('index.html'),
  js: asset('app.js'),
  css: asset('style.css'),
}
/** Only its own files and the API: no inline script, nothing from elsewhere. */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

export const opsRoutes = (app: App, ctx: Ctx): void => {
  app.get('/metrics', async (c) => {
    const states = new Map<string, number>()
    // Rollouts are counted where the engine runs (the leader, on Redis).
    if (ctx.runtime.leading)
      for (const r of ctx.engine.list()) states.set(r.state, (states.get(r.state) ?? 0) + 1)
    if (ctx.runtime.leading) {
      // The engine's own counts (monotonic while it runs), copied at each scrape.
      const s = ctx.engine.sketchCounts
      ctx.metrics.sketchSkipped.reset()
      ctx.metrics.sketchSkipped.inc(s.skipped)
      ctx.metrics.sketchReplayed.reset()
      ctx.metrics.sketchReplayed.inc(s.replayed)
      ctx.metrics.sketchClients.set(s.clients)
    }
    ctx.metrics.rollouts.reset()
    for (const [state, n] of states) ctx.metrics.rollouts.set({ state }, n)
    ctx.metrics.streams.set(ctx.hub.size)
    const { frames, writes } = ctx.hub.written
    ctx.metrics.streamFrames.reset()
    ctx.metrics.streamFrames.inc(frames)
    ctx.metrics.streamWrites.reset()
    ctx.metrics.streamWrites.inc(writes)
    ctx.metrics.streamBuffered.set(ctx.hub.buffered)
    const { refusing, configSplit } = fleetProblems(ctx, await ctx.runtime.fleet())
    ctx.metrics.clientsRefusing.reset()
    for (const [reason, ids] of refusing) ctx.metrics.clientsRefusing.set({ reason }, ids.length)
    ctx.metrics.configSplit.set(configSplit.length)
    // The budgets in force beside what is spent of them (the dashboard and Grafana draw both).
    const budgets = ctx.config().budgets
    for (const cls of budgetClasses)
      ctx.metrics.budgetRate.set({ class: cls, budget: 'deliveries' }, budgets[cls].ratePerSec)
    for (const cls of tokenClasses)
      ctx.metrics.budgetRate.set(
        { class: cls, budget: 'tokens' },
        ctx.runtime.tokenBudget(cls).ratePerSec,
      )
    return c.body(await ctx.metrics.registry.metrics(), 200, {
      'content-type': ctx.metrics.registry.contentType,
    })
  })
  app.get('/healthz', (c) => c.json({ ok: true }))
  // Ready only when this replica can do its work: a balancer sends no clients to one whose
  // pushes, status and new streams would all get 503 (its store unreachable, no leader known).
  app.get('/readyz', async (c) => {
    const about = {
      store: ctx.runtime.kind,
      role: ctx.runtime.leading ? 'leader' : 'follower',
      streams: ctx.hub.size,
    }
    if (ctx.state.shuttingDown)
      return c.json({ ready: false, reason: 'shutting down', ...about }, 503)
    const r = await ctx.runtime.readiness()
    return r.ready
      ? c.json({ ready: true, ...about })
      : c.json({ ready: false, reason: r.reason, ...about }, 503)
  })
  app.get('/', (c) => c.html(dashboard.html, 200, { 'content-security-policy': CSP }))
  app.get('/dashboard/app.js', (c) =>
    c.body(dashboard.js, 200, { 'content-type': 'text/javascript; charset=utf-8' }),
  )
  app.get('/dashboard/style.css', (c) =>
    c.body(dashboard.css, 200, { 'content-type': 'text/css; charset=utf-8' }),
  )
}

/** For operators and orchestrators: Prometheus metrics, liveness, readiness, a small dashboard. */
import type { App, Ctx } from '../context.js'
import { fleetProblems } from './clients.js'

const dashboard = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>slew</title>
<style>body{font:14px system-ui,sans-serif;margin:2rem;color:#111}table{border-collapse:collapse}
td,th{padding:.25rem .6rem;border-bottom:1px solid #ddd;text-align:left}th{background:#f4f4f4}
.bar{background:#e8eef8;width:160px;height:10px;display:inline-block}.bar i{background:#1f77b4;height:10px;display:block}</style>
</head><body><h1>slew</h1><p id="fleet">…</p><table><thead><tr><th>id</th><th>kind</th><th>state</th>
<th>wave</th><th>delivered</th><th>acked</th><th>progress</th><th>reason</th></tr></thead><tbody id="rows"></tbody></table>
<p style="color:#666">Refreshes every 2 s. With auth on, pass a read token: <code>/?token=…</code></p>
<script>
const token = new URLSearchParams(location.search).get('token');
const get = (p) => fetch(p, token ? { headers: { authorization: 'Bearer ' + token } } : {}).then((r) => r.json());
const esc = (s) => String(s ?? '').replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
async function tick() {
  try {
    const [f, c] = await Promise.all([get('/v1/fleet?limit=0'), get('/v1/changes')]);
    document.getElementById('fleet').textContent = f.connected + ' clients connected';
    document.getElementById('rows').innerHTML = (c.changes || []).map((r) =>
      '<tr><td>' + esc(r.id) + '</td><td>' + esc(r.change.kind) + '</td><td>' + esc(r.state) + '</td><td>' +
      (r.wave + 1) + '/' + r.waves.length + '</td><td>' + r.delivered + '</td><td>' + r.acked +
      '</td><td><span class="bar"><i style="width:' + Math.round(r.progress * 100) + '%"></i></span></td><td>' +
      esc(r.change.reason) + '</td></tr>').join('');
  } catch (e) { document.getElementById('fleet').textContent = 'cannot reach the API: ' + e; }
}
tick(); setInterval(tick, 2000);
</script></body></html>`

export const opsRoutes = (app: App, ctx: Ctx): void => {
  app.get('/metrics', async (c) => {
    const states = new Map<string, number>()
    // Rollouts are counted where the engine runs (the leader, on Redis).
    if (ctx.runtime.leading)
      for (const r of ctx.engine.list()) states.set(r.state, (states.get(r.state) ?? 0) + 1)
    ctx.metrics.rollouts.reset()
    for (const [state, n] of states) ctx.metrics.rollouts.set({ state }, n)
    ctx.metrics.streams.set(ctx.hub.size)
    const { refusing, configSplit } = fleetProblems(ctx, await ctx.runtime.fleet())
    ctx.metrics.clientsRefusing.reset()
    for (const [reason, ids] of refusing) ctx.metrics.clientsRefusing.set({ reason }, ids.length)
    ctx.metrics.configSplit.set(configSplit.length)
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
  app.get('/', (c) => c.html(dashboard))
}

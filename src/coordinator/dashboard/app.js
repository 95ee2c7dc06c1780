// The coordinator's dashboard: rollouts with their waves, gates and controls,
// incidents, budget use and the fleet, from the same API and /metrics that
// ops use. No framework, no CDN: it works offline. The token is typed into
// the page and kept in session storage, never in a URL.
;(() => {
  const $ = (id) => document.getElementById(id)
  const TOKEN_KEY = 'slew.token'
  const HISTORY_S = 120
  const IN_FLIGHT = ['planned', 'rolling', 'paused', 'rolling_back']
  const state = {
    token: sessionStorage.getItem(TOKEN_KEY) || '',
    admin: false,
    auth: 'unknown',
    connected: 0,
    samples: [],
    pending: undefined,
  }

  const esc = (s) =>
    String(s ?? '').replace(
      /[&<>"']/g,
      (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c],
    )
  const fmt = (x, digits = 1) =>
    x === undefined || x === null || Number.isNaN(x) ? '–' : Number(x).toFixed(digits)
  const ago = (t) => {
    if (!t) return '–'
    const s = Math.max(0, Math.round((Date.now() - t) / 1000))
    return s < 120 ? `${s} s ago` : `${Math.round(s / 60)} min ago`
  }
  const span = (ms) => {
    if (ms === undefined || ms < 0 || !Number.isFinite(ms)) return '–'
    const s = Math.round(ms / 1000)
    return s < 120 ? `${s} s` : `${Math.round(s / 60)} min`
  }

  class HttpError extends Error {
    constructor(status, body) {
      super((body && (body.detail || body.title)) || `HTTP ${status}`)
      this.status = status
      this.body = body
    }
  }

  const api = async (path, init = {}) => {
    const headers = { ...(init.headers || {}) }
    if (state.token) headers.authorization = `Bearer ${state.token}`
    if (init.body) headers['content-type'] = 'application/json'
    const res = await fetch(path, { ...init, headers })
    const text = await res.text()
    let body
    try {
      body = text ? JSON.parse(text) : undefined
    } catch {
      body = text
    }
    if (!res.ok) throw new HttpError(res.status, body)
    return body
  }

  // ---- the token ----
  const setTokenState = (text, bad) => {
    const el = $('token-state')
    el.textContent = text
    el.className = bad ? 'error' : 'muted'
  }

  const probeAdmin = async () => {
    state.admin = false
    if (!state.token) return
    try {
      await api('/v1/config')
      state.admin = true
    } catch {
      state.admin = false
    }
  }

  $('token-form').addEventListener('submit', async (e) => {
    e.preventDefault()
    state.token = $('token').value.trim()
    $('token').value = ''
    if (state.token) sessionStorage.setItem(TOKEN_KEY, state.token)
    else sessionStorage.removeItem(TOKEN_KEY)
    await probeAdmin()
    await tick()
  })
  $('forget').addEventListener('click', async () => {
    state.token = ''
    state.admin = false
    sessionStorage.removeItem(TOKEN_KEY)
    await tick()
  })

  const authMessage = (err) => {
    if (err.status === 401)
      return state.token
        ? 'That token was refused: check it, or ask for one with the read scope.'
        : 'This coordinator needs a token: type one with the read scope above (admin to act).'
    if (err.status === 403) return 'This token lacks the read scope.'
    return `Cannot reach the API: ${err.message}`
  }

  // ---- /metrics ----
  const parseMetrics = (text) => {
    const out = []
    for (const line of text.split('\n')) {
      if (!line || line[0] === '#') continue
      const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line)
      if (!m) continue
      const labels = {}
      for (const l of (m[3] || '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2]
      out.push({ name: m[1], labels, value: Number(m[4]) })
    }
    return out
  }
  const sum = (rows, name, match = {}) =>
    rows
      .filter((r) => r.name === name && Object.entries(match).every(([k, v]) => r.labels[k] === v))
      .reduce((a, r) => a + r.value, 0)
  const find = (rows, name, match) =>
    rows.find((r) => r.name === name && Object.entries(match).every(([k, v]) => r.labels[k] === v))

  const CLASSES = ['invalidate', 'rewarm', 'config', 'urgent']

  const takeSample = (rows) => {
    const t = Date.now() / 1000
    const s = { t, classes: {} }
    for (const cls of CLASSES) {
      s.classes[cls] = {
        cost: sum(rows, 'slew_delivered_cost_total', { class: cls }),
        tokens: sum(rows, 'slew_budget_tokens_granted_total', { class: cls }),
        refused: sum(rows, 'slew_lease_requests_total', { class: cls, granted: 'false' }),
        costBudget: find(rows, 'slew_budget_rate_per_second', { class: cls, budget: 'deliveries' })
          ?.value,
        tokenBudget: find(rows, 'slew_budget_rate_per_second', { class: cls, budget: 'tokens' })
          ?.value,
      }
    }
    state.samples.push(s)
    while (state.samples.length > 0 && t - state.samples[0].t > HISTORY_S) state.samples.shift()
  }

  /** Per-second rates between consecutive samples, for one class and field. */
  const rates = (cls, field) => {
    const out = []
    for (let i = 1; i < state.samples.length; i++) {
      const a = state.samples[i - 1]
      const b = state.samples[i]
      const dt = b.t - a.t
      if (dt <= 0) continue
      out.push([b.t, Math.max(0, (b.classes[cls][field] - a.classes[cls][field]) / dt)])
    }
    return out
  }

  const lineChart = (series, label) => {
    const W = 300
    const H = 90
    const now = Date.now() / 1000
    let max = 1
    for (const s of series) for (const [, v] of s.points) max = Math.max(max, v)
    for (const s of series) if (s.budget !== undefined) max = Math.max(max, s.budget * 1.1)
    const x = (t) => ((t - (now - HISTORY_S)) / HISTORY_S) * W
    const y = (v) => H - (v / max) * (H - 4)
    const parts = []
    for (const s of series) {
      if (s.points.length > 1)
        parts.push(
          `<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${s.points
            .map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`)
            .join(' ')}"/>`,
        )
      if (s.budget !== undefined)
        parts.push(
          `<line x1="0" x2="${W}" y1="${y(s.budget)}" y2="${y(s.budget)}" stroke="${s.color}" stroke-dasharray="5 4"/>`,
        )
    }
    return `<svg role="img" aria-label="${esc(label)}" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}"><rect width="${W}" height="${H}" fill="#fff" stroke="#d0d0d0"/>${parts.join('')}</svg>`
  }

  const renderBudget = () => {
    const last = state.samples[state.samples.length - 1]
    if (!last) return
    $('budget').innerHTML = CLASSES.map((cls) => {
      const c = last.classes[cls]
      const cost = rates(cls, 'cost')
      const tokens = rates(cls, 'tokens')
      const refused = rates(cls, 'refused')
      const now = (r) => (r.length ? r[r.length - 1][1] : 0)
      const label = `${cls}: delivery cost ${fmt(now(cost))}/s of ${fmt(c.costBudget)}/s, refetch tokens ${fmt(now(tokens))}/s of ${fmt(c.tokenBudget)}/s`
      return `<div class="chart"><h3>${esc(cls)}</h3>${lineChart(
        [
          { points: cost, budget: c.costBudget, color: '#0b5cad' },
          { points: tokens, budget: c.tokenBudget, color: '#8a3b00' },
        ],
        label,
      )}<p class="legend"><span style="color:#0b5cad">■</span> delivery cost ${fmt(now(cost))}/s of ${fmt(c.costBudget)}/s · <span style="color:#8a3b00">■</span> tokens ${fmt(now(tokens))}/s${c.tokenBudget === undefined ? '' : ` of ${fmt(c.tokenBudget)}/s`} · lease refusals ${fmt(now(refused))}/s</p></div>`
    }).join('')
  }

  // ---- rollouts ----
  const targetOf = (ch) => {
    if (ch.kind === 'config') {
      const keys = Object.keys(ch.values || {})
      const unset = ch.unset || []
      return `set ${keys.slice(0, 3).join(', ')}${keys.length > 3 ? ` +${keys.length - 3}` : ''}${unset.length ? `; unset ${unset.join(', ')}` : ''}`
    }
    const t = ch.target || {}
    if (t.all) return 'all keys'
    if (t.keys)
      return `${t.keys.length} key${t.keys.length === 1 ? '' : 's'} (${t.keys.slice(0, 3).join(', ')}${t.keys.length > 3 ? ', …' : ''})`
    if (t.tags) return `tags ${t.tags.join(', ')}`
    if (t.prefixes) return `prefixes ${t.prefixes.join(', ')}`
    return ''
  }

  const waveTable = (r) => {
    const total = Math.max(state.connected, r.delivered)
    let prev = 0
    const rows = r.waves.map((w) => {
      const share = w.fraction - prev
      prev = w.fraction
      const planned = Math.round(share * total)
      const current = w.index === r.wave
      const started = w.startedAt ? ago(w.startedAt) : current ? 'starting' : 'not yet'
      const took = w.deliveredAt && w.startedAt ? span(w.deliveredAt - w.startedAt) : '–'
      return `<tr${current ? ' aria-current="step"' : ''}><td>${w.index + 1}${current ? ' ◀' : ''}</td><td>${Math.round(share * 100)} % · ~${planned}</td><td>${w.queued ?? 0}</td><td>${w.delivered ?? 0}</td><td>${w.acked ?? 0}</td><td>${started}</td><td>${took}</td></tr>`
    })
    return `<table><caption>Waves: plan against clients reached</caption><thead><tr><th scope="col">wave</th><th scope="col">planned</th><th scope="col">queued</th><th scope="col">delivered</th><th scope="col">acked</th><th scope="col">started</th><th scope="col">delivered in</th></tr></thead><tbody>${rows.join('')}</tbody></table>`
  }

  /** The next wave's countdown and an estimate of the end, from the plan and the waves so far. */
  const timing = (r) => {
    if (!IN_FLIGHT.includes(r.state)) return ''
    const cur = r.waves[r.wave]
    const bake = r.bakeUntil && cur?.deliveredAt ? r.bakeUntil - cur.deliveredAt : undefined
    const parts = []
    if (r.state === 'paused') parts.push('paused: no wave starts until it is resumed')
    else if (r.phase === 'baking' && r.bakeUntil)
      parts.push(`next wave in ${span(Math.max(0, r.bakeUntil - Date.now()))}`)
    else if (r.phase === 'delivering') parts.push(`wave ${r.wave + 1} going out`)
    if (r.state !== 'paused' && bake !== undefined) {
      const left = r.waves.length - 1 - r.wave
      const deliveries = r.waves.filter((w) => w.deliveredAt && w.startedAt)
      const per = deliveries.length
        ? deliveries.reduce((a, w) => a + (w.deliveredAt - w.startedAt), 0) / deliveries.length
        : 0
      const wait = r.phase === 'baking' && r.bakeUntil ? Math.max(0, r.bakeUntil - Date.now()) : 0
      parts.push(`done in about ${span(wait + left * (per + bake))}`)
    }
    return parts.join(' · ')
  }

  const gateBlock = (g) => {
    if (!g) return ''
    const checks = (g.checks || []).map((c) => {
      const e = c.effect
      let chart = ''
      if (e && Number.isFinite(e.lower) && Number.isFinite(e.upper)) {
        const lo = Math.min(0, e.lower, -(c.threshold || 0))
        const hi = Math.max(0, e.upper, c.threshold || 0)
        const W = 220
        const x = (v) => (hi === lo ? W / 2 : ((v - lo) / (hi - lo)) * (W - 10) + 5)
        const est = e.estimate
        chart = `<svg role="img" aria-label="effect ${fmt(est, 3)} (${fmt(e.lower, 3)} to ${fmt(e.upper, 3)}), threshold ${fmt(c.threshold, 3)}" width="${W}" height="22"><line x1="${x(0)}" x2="${x(0)}" y1="2" y2="20" stroke="#555"/><line x1="${x(c.threshold)}" x2="${x(c.threshold)}" y1="2" y2="20" stroke="#a11d1d" stroke-dasharray="3 2"/><line x1="${x(-c.threshold)}" x2="${x(-c.threshold)}" y1="2" y2="20" stroke="#a11d1d" stroke-dasharray="3 2"/><line x1="${x(e.lower)}" x2="${x(e.upper)}" y1="11" y2="11" stroke="#0b5cad" stroke-width="4"/><circle cx="${x(est)}" cy="11" r="4" fill="#1a1a1a"/></svg>`
      }
      return `<tr><td>${esc(c.metric)}</td><td class="verdict ${esc(c.verdict)}">${esc(c.verdict)}</td><td>${fmt(c.treated?.mean, 3)} (${c.treated?.clients ?? 0})</td><td>${fmt(c.control?.mean, 3)} (${c.control?.clients ?? 0})</td><td>${chart}</td><td class="muted">${esc(c.reason)}</td></tr>`
    })
    const action = g.action
      ? `<p class="reason">Gate ${esc(g.action.kind)}: ${esc(g.action.reason)}</p>`
      : ''
    return `<h3>Gate (${esc(g.mode)}): <span class="verdict ${esc(g.verdict)}">${esc(g.verdict)}</span></h3>${action}${
      checks.length
        ? `<table><caption>Treated against ${g.mode === 'cohort' ? 'control' : 'baseline'} per check: the effect's interval, 0, and the threshold either way (dashed)</caption><thead><tr><th scope="col">check</th><th scope="col">verdict</th><th scope="col">treated (clients)</th><th scope="col">${g.mode === 'cohort' ? 'control' : 'baseline'} (clients)</th><th scope="col">effect</th><th scope="col">why</th></tr></thead><tbody>${checks.join('')}</tbody></table>`
        : ''
    }`
  }

  const ACTIONS = [
    ['pause', 'Pause', (r) => r.state === 'rolling'],
    ['resume', 'Resume', (r) => r.state === 'paused'],
    ['abort', 'Abort', (r) => ['planned', 'rolling', 'paused'].includes(r.state)],
    [
      'rollback',
      'Roll back',
      (r) => r.change.kind === 'config' && ['rolling', 'paused', 'completed'].includes(r.state),
    ],
  ]

  const card = (r) => {
    const total = Math.max(state.connected, r.delivered)
    const reached = total ? Math.min(1, r.delivered / total) : r.progress || 0
    const buttons = ACTIONS.filter(([, , ok]) => ok(r))
      .map(
        ([action, label]) =>
          `<button type="button" data-action="${action}" data-id="${esc(r.id)}"${state.admin ? '' : ' disabled title="needs an admin token"'}>${label}</button>`,
      )
      .join('')
    const who = r.change.who ? ` by ${esc(r.change.who)}` : ''
    const why = r.change.reason ? `: “${esc(r.change.reason)}”` : ''
    return `<article class="card" data-rollout="${esc(r.id)}" aria-label="rollout ${esc(r.id)}">
<div class="head"><span class="id">${esc(r.id)}</span><span>${esc(r.change.kind)} ${esc(targetOf(r.change))}</span><span class="state ${esc(r.state)}">${esc(r.state)}</span><span>wave ${Math.max(0, r.wave) + 1}/${r.waves.length}</span><span class="muted">pushed ${ago(r.createdAt)}${who}${why}</span></div>
${r.reason ? `<p class="reason" data-field="reason">${esc(r.state)}: ${esc(r.reason)}</p>` : ''}
<div class="progress" role="progressbar" aria-label="clients reached" aria-valuemin="0" aria-valuemax="100" aria-valuenow="${Math.round(reached * 100)}"><i style="width:${(reached * 100).toFixed(1)}%"></i></div>
<p>${r.delivered} of ~${total} clients reached (${Math.round(reached * 100)} %), ${r.acked} acked${r.refused ? `, ${r.refused} refused` : ''}. <span data-field="timing">${esc(timing(r))}</span></p>
${waveTable(r)}${gateBlock(r.gate)}
${buttons ? `<div class="actions">${buttons}</div>` : ''}</article>`
  }

  const renderRollouts = (list) => {
    const inFlight = list.filter((r) => IN_FLIGHT.includes(r.state))
    const recent = list
      .filter((r) => !IN_FLIGHT.includes(r.state))
      .sort((a, b) => b.createdAt - a.createdAt)
      .slice(0, 10)
    const all = [...inFlight.sort((a, b) => b.createdAt - a.createdAt), ...recent]
    // Keep the focus where it was across a refresh (a keyboard user mid-way through the buttons).
    const focused = document.activeElement?.dataset?.action
      ? [document.activeElement.dataset.action, document.activeElement.dataset.id]
      : undefined
    $('rollouts').innerHTML = all.length
      ? all.map(card).join('')
      : '<p class="muted">No rollouts yet.</p>'
    if (focused)
      document
        .querySelector(`button[data-action="${focused[0]}"][data-id="${CSS.escape(focused[1])}"]`)
        ?.focus()
  }

  $('rollouts').addEventListener('click', (e) => {
    const b = e.target.closest('button[data-action]')
    if (!b || b.disabled) return
    state.pending = { action: b.dataset.action, id: b.dataset.id }
    $('confirm-h').textContent = `${b.textContent} ${b.dataset.id}?`
    $('confirm-what').textContent =
      b.dataset.action === 'abort'
        ? 'Aborting stops the rollout for good: clients already reached keep the change.'
        : b.dataset.action === 'rollback'
          ? 'Rolling back sends the previous values in waves, under the same budget.'
          : b.dataset.action === 'pause'
            ? 'No new wave starts until someone resumes it.'
            : 'The next wave starts after its bake.'
    $('confirm-error').textContent = ''
    $('reason').value = ''
    $('confirm').showModal()
    $('reason').focus()
  })
  $('confirm-cancel').addEventListener('click', () => $('confirm').close())
  $('confirm-form').addEventListener('submit', async (e) => {
    e.preventDefault()
    const reason = $('reason').value.trim()
    if (!reason) {
      $('confirm-error').textContent = 'Say why: the reason is kept with the rollout.'
      return
    }
    const p = state.pending
    try {
      await api(`/v1/changes/${encodeURIComponent(p.id)}/${p.action}`, {
        method: 'POST',
        body: JSON.stringify({ reason }),
      })
      $('confirm').close()
      await tick()
    } catch (err) {
      $('confirm-error').textContent =
        err.status === 401 || err.status === 403
          ? 'Refused: this needs a token with the admin scope.'
          : `Refused: ${err.message}`
    }
  })

  // ---- incidents ----
  const renderIncidents = (inc) => {
    const list = (inc?.incidents || []).filter((i) => i.closedAt === undefined).slice(0, 5)
    $('incidents').hidden = list.length === 0
    $('incident-list').innerHTML = list
      .map(
        (i) =>
          `<div class="incident"><p><strong>${esc(i.id)}</strong>: ${esc(i.metric)} ${fmt(i.observed)}/s against ${fmt(i.expected)}/s expected, since ${ago(i.since)}; paused ${i.paused.length} rollouts.</p>${
            i.attribution
              ? `<p>${esc(i.attribution.summary)}</p>${i.attribution.suspects
                  .slice(0, 3)
                  .map((s, k) => `<p class="suspect">${k + 1}. ${esc(s.line)}</p>`)
                  .join('')}`
              : ''
          }</div>`,
      )
      .join('')
  }

  // ---- the fleet ----
  const renderFleet = (f) => {
    const problems = []
    if (f.refusing.length)
      problems.push(
        `<p class="error">${f.refusing.length} connected clients refuse every change (${esc([...new Set(f.refusing.map((r) => r.reason))].join(', '))}): changes are not reaching their caches.</p>`,
      )
    if (f.configSplit.length)
      problems.push(
        `<p class="reason">${f.configSplit.length} clients run a config that is neither the stable one nor the last pushed.</p>`,
      )
    if (f.turnedAway?.length)
      problems.push(
        `<p class="muted">${f.turnedAway.length} streams turned away lately (another fleet?).</p>`,
      )
    $('fleet-problems').innerHTML = problems.join('')
    const W = 600
    const H = 60
    const max = Math.max(1, ...f.byShard)
    const bw = W / f.byShard.length
    $('shards').innerHTML =
      `<svg role="img" aria-label="${f.connected} clients over ${f.shards} shards" width="${W}" height="${H}"><rect width="${W}" height="${H}" fill="#fff" stroke="#d0d0d0"/>${f.byShard
        .map((n, i) =>
          n
            ? `<rect x="${(i * bw).toFixed(1)}" y="${H - (n / max) * (H - 4)}" width="${Math.max(1, bw - 1).toFixed(1)}" height="${(n / max) * (H - 4)}" fill="#0b5cad"/>`
            : '',
        )
        .join('')}</svg>`
    const refusing = new Map(f.refusing.map((r) => [r.id, r.reason]))
    const split = new Set(f.configSplit)
    $('clients').querySelector('tbody').innerHTML = f.clients
      .map((c) => {
        const rejected = c.rejected ? Object.values(c.rejected).reduce((a, n) => a + n, 0) : 0
        const applying = refusing.has(c.id)
          ? `<span class="error">no: ${esc(refusing.get(c.id))}</span>`
          : split.has(c.id)
            ? '<span class="reason">config differs</span>'
            : 'yes'
        return `<tr><td>${esc(c.id)}</td><td>${ago(c.heartbeatAt)}</td><td>${c.entries ?? '–'}</td><td>${c.latencyP99 === undefined ? '–' : `${fmt(c.latencyP99, 0)} ms`}</td><td>${c.errorRate === undefined ? '–' : `${fmt(c.errorRate * 100)} %`}</td><td>${rejected}</td><td>${applying}</td></tr>`
      })
      .join('')
  }

  // ---- the loop ----
  const tick = async () => {
    const [ready, fleet, changes, incidents, metrics] = await Promise.allSettled([
      fetch('/readyz').then((r) => r.json()),
      api('/v1/fleet?limit=200'),
      api('/v1/changes'),
      api('/v1/incidents'),
      fetch('/metrics').then((r) => r.text()),
    ])
    const failed = [fleet, changes].find((x) => x.status === 'rejected')
    if (failed) {
      setTokenState(authMessage(failed.reason), true)
      $('summary').textContent = authMessage(failed.reason)
    } else {
      setTokenState(
        state.token
          ? state.admin
            ? 'admin token: actions enabled'
            : 'read token: actions need an admin token'
          : 'no token needed here (read-only without admin)',
        false,
      )
    }
    if (fleet.status === 'fulfilled') {
      const f = fleet.value
      state.connected = f.connected
      $('fleet-name').textContent = `· ${f.fleet}`
      const r = ready.status === 'fulfilled' ? ready.value : undefined
      $('summary').textContent =
        `${f.connected} clients connected${r ? ` · ${r.role}, ${r.store} store${r.ready ? '' : ` · NOT READY: ${r.reason}`}` : ''}`
      renderFleet(f)
    }
    if (changes.status === 'fulfilled') renderRollouts(changes.value.changes || [])
    if (incidents.status === 'fulfilled') renderIncidents(incidents.value)
    if (metrics.status === 'fulfilled') {
      takeSample(parseMetrics(metrics.value))
      renderBudget()
    }
  }

  probeAdmin().then(tick)
  setInterval(tick, 1000)
})()

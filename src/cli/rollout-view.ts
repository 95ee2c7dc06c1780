/** How the CLI shows rollouts. */
import { realClock } from '../limiter/clock.js'
import { clockTime, duration, int, table } from './format.js'

export interface RolloutJson {
  id: string
  state: string
  phase: string
  reason?: string
  change: {
    kind: string
    reason?: string
    target?: Record<string, unknown>
    values?: Record<string, unknown>
    mode?: string
  }
  wave: number
  waves: {
    index: number
    /** Its shards [from, to) and the share of the fleet it takes the change to (absent from an older coordinator). */
    shards?: [number, number]
    fraction?: number
    queued: number
    delivered: number
    acked: number
    startedAt?: number
    deliveredAt?: number
  }[]
  delivered: number
  acked: number
  /** Clients it reached that refuse every message (absent from an older coordinator). */
  refused?: number
  /** What the state alone would hide: reached no client, refused, not acknowledged yet. */
  warnings?: string[]
  progress: number
  rewarm?: {
    keysDone: number
    keysFailed?: number
    keysSkipped?: number
    keysOrphaned?: number
    keysTotal: number
    clientsReporting?: number
    ratePerSec: number
    etaMs: number
  }
  /** What its gate saw and did (gates enabled). */
  gate?: {
    mode: string
    verdict: string
    checks: {
      metric: string
      verdict: string
      reason: string
      treated: { clients: number; samples: number; mean: number }
      control: { clients: number; samples: number; mean: number }
      effect?: { estimate: number; lower: number; upper: number }
      threshold: number
    }[]
    action?: { kind: string; reason: string; at: number }
  }
  createdAt: number
  /** While a wave bakes: when the bake ends. */
  bakeUntil?: number
  endedAt?: number
}

const num = (x: number): string => (Math.abs(x) >= 100 ? x.toFixed(0) : x.toPrecision(3))

/** The gate's evidence, one line per check (and one for what it did). */
const gateLines = (g: NonNullable<RolloutJson['gate']>, createdAt: number): string[] => [
  `  gate (${g.mode}): ${g.verdict}`,
  ...g.checks.map(
    (c) =>
      `    ${c.metric}: ${c.verdict} (${c.reason}); treated ${num(c.treated.mean)} from ${int(c.treated.samples)} samples of ${int(c.treated.clients)} clients, ${g.mode === 'cohort' ? 'control' : 'baseline'} ${num(c.control.mean)} from ${int(c.control.samples)}${
        c.effect
          ? `; effect ${num(c.effect.estimate)} [${num(c.effect.lower)}, ${num(c.effect.upper)}]`
          : ''
      }, matters from ${num(c.threshold)}`,
  ),
  ...(g.action
    ? [`    ${g.action.kind} after ${duration(g.action.at - createdAt)}: ${g.action.reason}`]
    : []),
]

const targetText = (c: RolloutJson['change']): string => {
  if (c.kind === 'config') return `set ${Object.keys(c.values ?? {}).join(',') || '-'}`
  const t = c.target ?? {}
  if (t.all) return 'all'
  if (t.hotSet) return 'hot set'
  const parts: string[] = []
  for (const k of ['keys', 'tags', 'prefixes'] as const) {
    const v = t[k] as string[] | undefined
    if (v?.length)
      parts.push(`${k} ${v.slice(0, 3).join(',')}${v.length > 3 ? `,+${v.length - 3}` : ''}`)
  }
  return parts.join(' ') || '-'
}

export const bar = (fraction: number, width = 24): string => {
  const fill = Math.round(Math.max(0, Math.min(1, fraction)) * width)
  return `[${'#'.repeat(fill)}${'-'.repeat(width - fill)}] ${(fraction * 100).toFixed(0).padStart(3)}%`
}

/** A rewarm's bar follows its keys (done ÷ to do); any other change's, the fleet reached. */
const progressOf = (r: RolloutJson): number =>
  r.rewarm && r.rewarm.keysTotal > 0 ? r.rewarm.keysDone / r.rewarm.keysTotal : r.progress

/**
 * How long after a rewarm's delivery a client that got it and has not
 * reported yet is still waited for: clients report in heartbeats (every 10 s
 * by default), so one that is silent longer than two of them went away.
 */
export const REPORT_GRACE_MS = 30_000

/**
 * Delivered to the fleet, and clients still fetching its keys: keys not yet
 * done, failed or left on clients gone, or (within REPORT_GRACE_MS of the
 * delivery) clients it reached that have not reported their keys yet.
 */
export const rewarming = (r: RolloutJson, now = realClock.now()): boolean => {
  if (r.state !== 'completed' || !r.rewarm) return false
  const w = r.rewarm
  if (w.keysDone + (w.keysFailed ?? 0) + (w.keysOrphaned ?? 0) < w.keysTotal) return true
  const unreported = r.delivered - (w.clientsReporting ?? 0)
  return unreported > 0 && now - (r.endedAt ?? r.createdAt) < REPORT_GRACE_MS
}

/** Nothing to count yet: no client it reached has reported its keys (a bare 0/0 would say none to fetch). */
const unreported = (w: NonNullable<RolloutJson['rewarm']>) =>
  w.keysTotal === 0 && !(w.clientsReporting && w.clientsReporting > 0)

const rewarmText = (r: RolloutJson): string =>
  r.rewarm && unreported(r.rewarm)
    ? '  waiting for clients to report'
    : r.rewarm
      ? `  keys ${int(r.rewarm.keysDone)}/${int(r.rewarm.keysTotal)}${r.rewarm.keysFailed ? `, ${int(r.rewarm.keysFailed)} failed` : ''}${r.rewarm.keysSkipped ? `, ${int(r.rewarm.keysSkipped)} skipped (caches full)` : ''}${r.rewarm.keysOrphaned ? `, ${int(r.rewarm.keysOrphaned)} left on clients gone` : ''} at ${int(r.rewarm.ratePerSec)}/s, ETA ${duration(r.rewarm.etaMs)}`
      : ''

const stateText = (r: RolloutJson): string => {
  if (rewarming(r)) return 'delivered, fetching'
  // Never a bare "completed" over a rollout that applied nowhere.
  if (r.state === 'completed' && r.delivered === 0) return 'completed, reached no client'
  if (r.refused) return `${r.state}, REFUSED by ${int(r.refused)}`
  return r.state
}

export const oneLine = (r: RolloutJson): string =>
  `${r.id}  ${r.change.kind} ${targetText(r.change)}  ${stateText(r)}${r.reason ? ` (${r.reason})` : ''}  wave ${Math.max(0, r.wave) + 1}/${r.waves.length}  ${bar(progressOf(r))}  delivered ${int(r.delivered)}, acked ${int(r.acked)}${rewarmText(r)}`

const active = (r: RolloutJson) => ['planned', 'rolling', 'paused'].includes(r.state)

/** One wave's state: waiting, delivering, baking, delivered, acked; paused or not sent with its rollout. */
const waveState = (r: RolloutJson, w: RolloutJson['waves'][number], now: number): string => {
  if (w.startedAt === undefined) {
    if (!active(r)) return 'not sent'
    return r.state === 'paused' ? 'paused' : 'waiting'
  }
  if (w.deliveredAt === undefined) {
    if (r.state === 'paused') return 'paused'
    return active(r) ? 'delivering' : r.state
  }
  if (w.index === r.wave && r.state === 'rolling' && r.phase === 'baking')
    return r.bakeUntil ? `baking, ${duration(Math.max(0, r.bakeUntil - now))} left` : 'baking'
  if (w.queued === 0 && w.delivered === 0) return 'no clients'
  return w.acked >= w.delivered ? 'acked' : 'delivered'
}

/** The waves as a table: who each reached, when it started, how long it took, where it stands. */
export const waveTable = (r: RolloutJson, now = realClock.now()): string[] => {
  const rows = r.waves.map((w) => {
    const started = w.startedAt !== undefined
    const took =
      w.deliveredAt !== undefined && started
        ? duration(w.deliveredAt - w.startedAt!)
        : started && active(r)
          ? `${duration(now - w.startedAt!)}…`
          : '-'
    return [
      String(w.index),
      w.fraction === undefined ? '-' : `${Math.round(w.fraction * 100)}%`,
      started ? int(w.queued) : '-',
      started ? int(w.delivered) : '-',
      started ? int(w.acked) : '-',
      started ? clockTime(w.startedAt!) : '-',
      took,
      waveState(r, w, now),
    ]
  })
  const head = ['wave', 'fleet', 'clients', 'delivered', 'acked', 'started', 'took', 'state']
  return table([head, ...rows], { left: [5, 7] })
    .split('\n')
    .map((line) => `  ${line}`)
}

export const detail = (r: RolloutJson, now = realClock.now()): string =>
  [
    oneLine(r),
    ...waveTable(r, now),
    ...(r.warnings ?? []).map((w) => `  warning: ${w}`),
    ...(r.gate ? gateLines(r.gate, r.createdAt) : []),
    ...(r.change.reason ? [`  reason: ${r.change.reason}`] : []),
    ...(r.endedAt ? [`  ended after ${duration(r.endedAt - r.createdAt)}`] : []),
  ].join('\n')

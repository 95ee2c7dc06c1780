/** `slew simulate --scenario rewarm | metastable`: reports and plots. */
import { type MetastableResult, simulateMetastable } from '../sim/metastable.js'
import { type RegressionResult, simulateRegression } from '../sim/regression.js'
import { type RewarmResult, simulateRewarm } from '../sim/rewarm.js'
import { plotSvg } from '../sim/svg.js'
import { writeOutput } from './args.js'
import { duration, fixed, int, table } from './format.js'
import { progressBar } from './progress.js'

export const rewarmPlot = (r: RewarmResult): string =>
  plotSvg({
    title: `Rewarm of ${int(r.work)} key fetches: ${int(r.options.clients)} clients, origin capacity ${int(r.capacity)}/s`,
    subtitle: `budget ${int(r.budget)}/s, the adaptive rate finds the capacity: slew done in ${duration(r.slew.completionMs)} (${fixed(r.slew.completionMs / r.slew.idealMs)} × ideal), naive in ${duration(r.naive.completionMs)}`,
    yLabel: 'origin latency, worst per second (ms, log scale)',
    series: [
      {
        label: `naive: everyone at once (over target ${(r.naive.overTargetFraction * 100).toFixed(0)} % of the time)`,
        color: '#d62728',
        perSecond: r.naive.latency,
      },
      {
        label: `slew: adaptive rate (over target ${(r.slew.overTargetFraction * 100).toFixed(2)} %)`,
        color: '#1f77b4',
        perSecond: r.slew.latency,
      },
    ],
    lines: [
      { label: `latency target ${r.options.target} ms`, color: '#2ca02c', value: r.options.target },
    ],
  })

export const metastablePlot = (r: MetastableResult): string =>
  plotSvg({
    title: `Cache lost at a ${(r.warmHitRate * 100).toFixed(0)} % hit rate; origin serves ${int(r.capacity)}/s (${share(r)} of traffic)`,
    subtitle: `slew back to ${(r.warmHitRate * 100).toFixed(0)} % after ${r.slew.recoveredMs === null ? 'never' : duration(r.slew.recoveredMs)} (ideal ${duration(r.slew.idealRecoveryMs)}); naive: ${r.naive.recoveredMs === null ? 'never recovers' : duration(r.naive.recoveredMs)}`,
    yLabel: 'hit rate (%)',
    scale: 'linear',
    yMax: 100,
    series: [
      {
        label: 'naive: every miss to the origin',
        color: '#d62728',
        perSecond: r.naive.hitRate.map((h) => h * 100),
      },
      {
        label: 'slew: budgeted, shed, hottest first',
        color: '#1f77b4',
        perSecond: r.slew.hitRate.map((h) => h * 100),
      },
    ],
    lines: [
      {
        label: `warm hit rate ${(r.warmHitRate * 100).toFixed(0)} %`,
        color: '#2ca02c',
        value: r.warmHitRate * 100,
      },
    ],
  })

/** Seconds without a sample keep the last value (a step plot has no gaps). */
const carried = (xs: readonly number[]): number[] => {
  let last = 0
  return xs.map((v) => {
    if (Number.isFinite(v)) last = v
    return last
  })
}

export const regressionPlot = (r: RegressionResult): string => {
  const o = r.options
  const errors = o.metric === 'errorRate'
  const scale = errors ? 100 : 1
  const t = r.trace
  return plotSvg({
    title: `A ${o.effect === 0 ? 'harmless' : 'bad'} config change over ${int(o.clients)} clients: ${o.metric} by cohort (first run)`,
    subtitle:
      t.actionS !== undefined && t.firstDeliveryS !== undefined
        ? `gate: ${t.action} ${duration((t.actionS - t.firstDeliveryS) * 1000)} after the first delivery; over ${int(o.runs)} runs detection p95 ${r.detectionMs.p95 === undefined ? '-' : duration(r.detectionMs.p95)}`
        : `gate: no action; over ${int(o.runs)} runs false pauses ${(r.falsePauseRate * 100).toFixed(1)} %`,
    yLabel: errors ? 'origin error rate, cohort mean (%)' : 'origin p99 latency, cohort mean (ms)',
    scale: 'linear',
    series: [
      {
        label: 'treated: applied the change',
        color: '#d62728',
        perSecond: carried(t.treated).map((v) => v * scale),
      },
      {
        label: 'control: not yet reached',
        color: '#1f77b4',
        perSecond: carried(t.control).map((v) => v * scale),
      },
    ],
    marks: [
      ...(t.firstDeliveryS !== undefined
        ? [{ label: 'first delivery', color: '#555', atS: t.firstDeliveryS }]
        : []),
      ...(t.actionS !== undefined
        ? [{ label: `gate: ${t.action}`, color: '#d62728', atS: t.actionS }]
        : []),
    ],
  })
}

const regressionReport = (r: RegressionResult, wallMs: number, svg?: string): string => {
  const o = r.options
  const ms = (x: number | undefined) => (x === undefined ? '-' : duration(x))
  const pct = (x: number, digits = 1) => `${(x * 100).toFixed(digits)} %`
  const detection = (d: RegressionResult['detectionMs']) =>
    `${ms(d.p50)} / ${ms(d.p95)} / ${ms(d.p99)}`
  const p = r.peer
  const rows: [string, string, string?][] = [
    ['detection p50 / p95 / p99', detection(r.detectionMs), p && detection(p.detectionMs)],
    ['caught before the last wave (power)', pct(r.power), p && pct(p.power)],
    ['caught in the first wave', pct(r.caughtInFirstWave), p && pct(p.caughtInFirstWave)],
    [
      p ? 'false pauses or rollbacks (noise only)' : 'false pauses (noise only)',
      pct(r.falsePauseRate, 2),
      p && pct(p.falsePauseRate, 2),
    ],
    [
      'exposure, client-seconds ÷ fleet (mean)',
      p ? r.exposure.mean.toPrecision(3) : fixed(r.exposure.mean),
      p?.exposure.mean.toPrecision(3),
    ],
    [
      'rollback p50 (ideal)',
      `${ms(r.rollbackMs.p50)} (${ms(r.idealRollbackMs.p50)})`,
      p && `${ms(p.rollbackMs.p50)} (${ms(p.idealRollbackMs.p50)})`,
    ],
    [
      'peak deliveries in any 1 s (budget)',
      `${int(r.peakPerSec)} (${int(r.budget)}/s)`,
      p && `${int(p.peakPerSec)} (${int(r.budget)}/s)`,
    ],
  ]
  const ratio = (x: number | undefined) =>
    x === undefined ? '-' : `${x.toPrecision(2)}${x > 0 && x < 1 ? ` (1/${fixed(1 / x, 0)})` : ''}`
  return [
    `regression: ${int(o.runs)} rollouts of a config change over ${int(o.clients)} clients; ${o.metric} ${o.effect === 0 ? 'unchanged (noise only)' : `× ${fixed(1 + o.effect)} on the clients that apply it`}`,
    '',
    p
      ? table([['', 'slew gate', 'peer'], ...rows.map(([k, a, b]) => [k, a, b ?? ''])])
      : table(rows.map(([k, a]) => [k, a])),
    ...(p
      ? [
          '',
          `peer: a threshold analysis (Flagger, Argo Rollouts) of the treated clients' mean every ${duration(p.intervalMs)} against ${fixed(p.threshold * (o.metric === 'errorRate' ? 100 : 1))}${o.metric === 'errorRate' ? ' %' : ' ms'}, rolling back after ${int(p.failures)} failed check${p.failures === 1 ? '' : 's'} in a row; the same runs (seeds, fleet, waves, change).`,
          `slew ÷ peer: detection p95 ${ratio(p.detectionRatio)}, exposure ${ratio(p.exposureRatio)}`,
        ]
      : []),
    '',
    `${svg ? `Plot: ${svg}. ` : ''}(${duration(wallMs)} wall)`,
  ].join('\n')
}

/** The origin's capacity as a share of the fleet's requests, e.g. "30 %" (a decimal when needed). */
const share = (r: MetastableResult): string => {
  const pct = (r.capacity / (r.options.clients * r.options.rps)) * 100
  const rounded = Math.round(pct)
  if (Math.abs(pct - rounded) < 0.05 && rounded > 0) return `${rounded} %`
  return `${pct < 1 ? pct.toPrecision(2) : pct.toFixed(1)} %`
}

/** Per-second series are for the plot; the JSON keeps the figures. */
const strip = <T extends { perSecond: number[]; hitRate?: number[]; latency?: number[] }>({
  perSecond: _p,
  hitRate: _h,
  latency: _l,
  ...rest
}: T) => rest

export const runScenario = (
  scenario: 'rewarm' | 'metastable' | 'regression',
  options: Record<string, unknown>,
  flags: { json?: boolean | undefined; svg?: string | undefined },
  out: (s: string) => void,
): number => {
  const started = performance.now()
  if (scenario === 'regression') {
    const bar = progressBar('rollouts')
    const r = simulateRegression(options, { onProgress: (d, t) => bar.update(d, t) })
    bar.done()
    if (flags.svg !== undefined) writeOutput('svg', flags.svg, regressionPlot(r))
    const wallMs = Math.round(performance.now() - started)
    const { runs: _runs, trace: _trace, peer, ...figures } = r
    const peerFigures = peer && (({ runs: _peerRuns, ...rest }) => rest)(peer)
    out(
      flags.json
        ? JSON.stringify({ ...figures, ...(peerFigures && { peer: peerFigures }), wallMs }, null, 2)
        : regressionReport(r, wallMs, flags.svg),
    )
    return 0
  }
  if (scenario === 'rewarm') {
    const r = simulateRewarm(options)
    if (flags.svg !== undefined) writeOutput('svg', flags.svg, rewarmPlot(r))
    const wallMs = Math.round(performance.now() - started)
    if (flags.json) {
      out(JSON.stringify({ ...r, naive: strip(r.naive), slew: strip(r.slew), wallMs }, null, 2))
      return 0
    }
    out(
      [
        `rewarm: ${int(r.work)} key fetches over ${int(r.options.clients)} clients; origin capacity ${int(r.capacity)}/s, latency target ${r.options.target} ms; budget ${int(r.budget)}/s`,
        '',
        table([
          ['', 'naive', 'slew'],
          ['done after', duration(r.naive.completionMs), duration(r.slew.completionMs)],
          ['ideal (work ÷ min(capacity, budget))', '', duration(r.slew.idealMs)],
          [
            'origin over its latency target',
            `${(r.naive.overTargetFraction * 100).toFixed(1)} %`,
            `${(r.slew.overTargetFraction * 100).toFixed(2)} %`,
          ],
          ['peak origin fetches in any 1 s', int(r.naive.peakPerSec), int(r.slew.peakPerSec)],
        ]),
        '',
        `slew: ${fixed(r.slew.completionMs / r.slew.idealMs)} × ideal.${flags.svg ? ` Plot: ${flags.svg}.` : ''} (${duration(wallMs)} wall)`,
      ].join('\n'),
    )
    return 0
  }
  const r = simulateMetastable(options)
  if (flags.svg !== undefined) writeOutput('svg', flags.svg, metastablePlot(r))
  const wallMs = Math.round(performance.now() - started)
  if (flags.json) {
    out(JSON.stringify({ ...r, naive: strip(r.naive), slew: strip(r.slew), wallMs }, null, 2))
    return 0
  }
  out(
    [
      `metastable: ${int(r.options.clients)} clients × ${int(r.options.rps)} req/s at a ${(r.warmHitRate * 100).toFixed(0)} % hit rate lose their caches; origin capacity ${int(r.capacity)}/s; budget ${int(r.budget)}/s`,
      '',
      table([
        ['', 'naive', 'slew'],
        [
          'back to the warm hit rate after',
          r.naive.recoveredMs === null ? 'never (in the horizon)' : duration(r.naive.recoveredMs),
          r.slew.recoveredMs === null ? 'never' : duration(r.slew.recoveredMs),
        ],
        ['ideal (hot-set fetches ÷ capacity)', '', duration(r.slew.idealRecoveryMs)],
        ['peak origin fetches in any 1 s', int(r.naive.peakPerSec), int(r.slew.peakPerSec)],
        [
          'origin over its latency target',
          `${(r.naive.overTargetFraction * 100).toFixed(1)} %`,
          `${(r.slew.overTargetFraction * 100).toFixed(2)} %`,
        ],
        ['requests shed (fallback at once)', '', int(r.slew.shed)],
      ]),
      '',
      `${flags.svg ? `Plot: ${flags.svg}. ` : ''}(${duration(wallMs)} wall, ${duration(r.options.horizon)} simulated)`,
    ].join('\n'),
  )
  return 0
}

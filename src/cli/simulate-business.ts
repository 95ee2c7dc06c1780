/** `slew simulate --scenario business`: the report, the JSON and the plot. */
import { type BusinessResult, simulateBusiness } from '../sim/business.js'
import { plotSvg } from '../sim/svg.js'
import { writeOutput } from './args.js'
import { duration, fixed, int, table } from './format.js'
import { progressBar } from './progress.js'

const pct = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(0)} %`)
const ms = (x: number | undefined) => (x === undefined ? '-' : duration(x))
/** How long after its drop ended an incident closed; negative: before (the model learned the drop). */
const after = (x: number | undefined) =>
  x === undefined ? '-' : x < 0 ? `${duration(-x)} before` : duration(x)

/** The plot area's frame as plotSvg draws it: where the shading goes. */
const FRAME = /<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)" fill="none"/
/** plotSvg draws at most this many points, the maximum of each bucket of seconds. */
const PLOT_POINTS = 1200

/** Each bucket of seconds as plotSvg groups them, replaced by its mean: its maximum is then the mean. */
const means = (xs: readonly number[]): number[] => {
  const size = Math.max(1, Math.ceil(xs.length / PLOT_POINTS))
  const out = [...xs]
  for (let i = 0; i < xs.length; i += size) {
    const bucket = xs.slice(i, i + size)
    const mean = bucket.reduce((s, x) => s + x, 0) / bucket.length
    out.fill(mean, i, i + bucket.length)
  }
  return out
}

/**
 * The first run's series around its first injected incident: what the watch
 * saw, its model's level and baseline, the band (± threshold × noise per
 * second around the lower of the two, what a drop is judged against), the
 * injected drops shaded, the incidents it opened marked.
 */
export const businessPlot = (r: BusinessResult): string => {
  const t = r.trace
  if (!t) return plotSvg({ title: 'No injected incident to plot', yLabel: 'orders/s', series: [] })
  const k = r.watch.threshold
  // A drop is judged against the lower of the level and the baseline (MetricWatch): the band is
  // drawn around that.
  const judged = t.expected.map((e, i) => {
    const b = t.baseline[i]!
    return Number.isFinite(b) ? Math.min(e, b) : e
  })
  const band = (sign: number) =>
    judged.map((e, i) => {
      const n = t.noise[i]!
      return Number.isFinite(n) ? Math.max(0, e + sign * k * n) : e
    })
  const per = Math.max(1, Math.ceil(t.value.length / PLOT_POINTS))
  const first = t.injected[0]
  const detected = first && t.opened.find((s) => s >= first.from)
  const runs = `over ${int(r.runs)} run${r.runs === 1 ? '' : 's'}: detection p95 ${ms(r.detectionMs.p95)}, ${fixed(r.falseIncidentsPerWeek)} false incidents a week`
  const svg = plotSvg({
    title: `Orders at ${int(r.rate)}/s (weekly mean) around the first injected drop of ${fixed(r.drop * 100, 0)} % (seed ${t.seed})`,
    subtitle:
      first && detected !== undefined
        ? `a ${first.cause === 'rollout' ? "rollout's treated clients'" : 'fleet-wide'} drop (shaded), opened ${duration((detected - first.from) * 1000)} after it began; ${runs}`
        : `the drop (shaded) not detected; ${runs}`,
    yLabel: per > 1 ? `orders per second (means over ${per} s)` : 'orders per second',
    scale: 'linear',
    series: [
      { label: 'orders/s, fleet-wide', color: '#1f77b4', perSecond: means(t.value) },
      {
        label: "the model's level",
        color: '#2ca02c',
        perSecond: means(t.expected),
        dash: '6 3',
      },
      { label: 'its baseline', color: '#8c564b', perSecond: means(t.baseline), dash: '1 3' },
      { label: `+ ${k} × noise`, color: '#9467bd', perSecond: means(band(1)), dash: '2 3' },
      {
        label: `− ${k} × noise (the lower of level and baseline)`,
        color: '#9467bd',
        perSecond: means(band(-1)),
        dash: '2 3',
      },
    ],
    marks: t.opened.map((s) => ({ label: 'incident opened', color: '#d62728', atS: s })),
  })
  const frame = FRAME.exec(svg)
  if (!frame) return svg
  const [x, y, w, h] = frame.slice(1).map(Number) as [number, number, number, number]
  const seconds = Math.max(1, t.value.length)
  const shade = t.injected.map((i) => {
    const from = x + (Math.max(0, i.from) / seconds) * w
    const until = x + (Math.min(seconds, i.until) / seconds) * w
    return `<rect x="${from.toFixed(1)}" y="${y}" width="${(until - from).toFixed(1)}" height="${h}" fill="#d62728" fill-opacity="0.1"><title>injected drop (${i.cause === 'rollout' ? 'a rollout' : 'fleet-wide'})</title></rect>`
  })
  const at = svg.indexOf('<path ')
  const shaded = at < 0 ? svg : `${svg.slice(0, at)}${shade.join('\n')}\n${svg.slice(at)}`
  return shaded.replace('time since the change (', 'time from 15 minutes before the first drop (')
}

const report = (r: BusinessResult, wallMs: number, svg?: string): string => {
  const o = r.options
  return [
    `business: ${int(r.runs)} run${r.runs === 1 ? '' : 's'} of ${fixed(r.weeks, 1)} weeks (after ${o.history} day${o.history === 1 ? '' : 's'} learned) of orders at ${int(r.rate)}/s with daily and weekly seasonality and ${fixed(o.promotions, 1)} promotions a week; ${int(r.incidents)} drops of ${fixed(r.drop * 100, 0)} % per run, ${pct(o.rolloutShare)} caused by a rollout, among ${int(o.clients)} clients`,
    '',
    table([
      [
        'injected (rollout / fleet-wide)',
        `${int(r.injected.total)} (${int(r.injected.rollout)} / ${int(r.injected.fleet)})`,
      ],
      [
        'detected / missed (an incident open already)',
        `${int(r.detected)} / ${int(r.missed)} (${int(r.missedWhileOpen)})`,
      ],
      [
        'detection p50 / p95 / max',
        `${ms(r.detectionMs.p50)} / ${ms(r.detectionMs.p95)} / ${ms(r.detectionMs.max)}`,
      ],
      [
        'rollouts paused within p50 / p95',
        `${ms(r.pausedWithinMs.p50)} / ${ms(r.pausedWithinMs.p95)}`,
      ],
      [
        'closed after its drop ended p50 / p95',
        `${after(r.openAfterEndMs.p50)} / ${after(r.openAfterEndMs.p95)}`,
      ],
      [
        'false incidents (after a promotion)',
        `${int(r.falseIncidents)} (${int(r.falseAfterPromotion)})`,
      ],
      ['false incidents per week of noise', fixed(r.falseIncidentsPerWeek)],
      ['judged time a false incident was open', pct(r.falseOpenShare)],
      [
        'culprit ranked first: on opening / 30 s on',
        `${pct(r.attributionAccuracy)} / ${pct(r.attributionAccuracyAfter30s)} of ${int(r.attributionJudged)}`,
      ],
      [
        'fleet-wide drops blamed on a rollout',
        `${pct(r.fleetWideBlamed)} / ${pct(r.fleetWideBlamedAfter30s)}`,
      ],
    ]),
    '',
    `${svg ? `Plot: ${svg}. ` : ''}(${duration(wallMs)} wall)`,
  ].join('\n')
}

export const runBusinessScenario = (
  options: Record<string, unknown>,
  flags: { json?: boolean | undefined; svg?: string | undefined },
  out: (s: string) => void,
): number => {
  const started = performance.now()
  const bar = progressBar('runs')
  const r = simulateBusiness(options, { onProgress: (d, t) => bar.update(d, t) })
  bar.done()
  if (flags.svg !== undefined) writeOutput('svg', flags.svg, businessPlot(r))
  const wallMs = Math.round(performance.now() - started)
  const { trace: _trace, ...figures } = r
  out(flags.json ? JSON.stringify({ ...figures, wallMs }, null, 2) : report(r, wallMs, flags.svg))
  return 0
}

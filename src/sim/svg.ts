/**
 * A self-contained SVG line plot of per-second series, on a log y-axis
 * (origin fetches/s over time, naive vs slew, with the budget drawn as a
 * line) or a linear one (a hit rate). Long series are reduced to ~1,200 points by taking each bucket's
 * maximum, so peaks survive the reduction.
 */

export interface PlotSeries {
  readonly label: string
  readonly color: string
  /** Value for each second from t = 0. */
  readonly perSecond: ArrayLike<number>
  readonly dash?: string
}

export interface PlotLine {
  readonly label: string
  readonly color: string
  readonly value: number
}

/** A moment marked across the plot (a verdict, an action). */
export interface PlotMark {
  readonly label: string
  readonly color: string
  /** Seconds from t = 0. */
  readonly atS: number
}

export interface PlotOptions {
  readonly title: string
  readonly subtitle?: string
  readonly yLabel: string
  readonly series: readonly PlotSeries[]
  readonly lines?: readonly PlotLine[]
  readonly marks?: readonly PlotMark[]
  readonly width?: number
  readonly height?: number
  /** Log (default: origin loads span decades) or linear (e.g. a hit rate in %). */
  readonly scale?: 'log' | 'linear'
  /** Top of a linear axis. @default the data's maximum */
  readonly yMax?: number
}

const MAX_POINTS = 1200

const esc = (s: string) =>
  s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')

const fmt = (n: number): string => {
  if (n >= 1e9) return `${+(n / 1e9).toPrecision(3)}G`
  if (n >= 1e6) return `${+(n / 1e6).toPrecision(3)}M`
  if (n >= 1e3) return `${+(n / 1e3).toPrecision(3)}k`
  return `${+n.toPrecision(3)}`
}

/** A time unit that gives readable tick labels for a span of `seconds`. */
const timeUnit = (seconds: number) =>
  seconds > 7200
    ? { name: 'hours', per: 3600 }
    : seconds > 300
      ? { name: 'minutes', per: 60 }
      : { name: 'seconds', per: 1 }

const niceStep = (span: number, ticks: number): number => {
  const raw = span / ticks
  const mag = 10 ** Math.floor(Math.log10(raw))
  for (const m of [1, 2, 2.5, 5, 10]) if (m * mag >= raw) return m * mag
  return 10 * mag
}

/** Max of each bucket: [second at bucket start, value][] */
const reduce = (values: ArrayLike<number>, seconds: number): [number, number][] => {
  const n = Math.min(values.length, Math.ceil(seconds))
  const size = Math.max(1, Math.ceil(n / MAX_POINTS))
  const out: [number, number][] = []
  for (let i = 0; i < n; i += size) {
    let max = 0
    for (let j = i; j < Math.min(n, i + size); j++) max = Math.max(max, values[j] ?? 0)
    out.push([i, max])
  }
  return out
}

export const plotSvg = (opts: PlotOptions): string => {
  const W = opts.width ?? 960
  const H = opts.height ?? 520
  const m = { top: 64, right: 24, bottom: 64, left: 84 }
  const pw = W - m.left - m.right
  const ph = H - m.top - m.bottom
  const seconds = Math.max(1, ...opts.series.map((s) => s.perSecond.length))
  let top = 1
  for (const s of opts.series)
    for (let i = 0; i < s.perSecond.length; i++) top = Math.max(top, s.perSecond[i]!)
  for (const l of opts.lines ?? []) top = Math.max(top, l.value)
  const linear = opts.scale === 'linear'
  const yMaxExp = Math.ceil(Math.log10(top * 1.2))
  const yTop = opts.yMax ?? top * 1.1
  const x = (sec: number) => m.left + (sec / seconds) * pw
  const y = linear
    ? (v: number) => m.top + ph - (Math.min(v, yTop) / yTop) * ph
    : (v: number) => m.top + ph - (Math.log10(Math.max(1, v)) / yMaxExp) * ph
  // Gridlines: one per decade (log), or at nice steps (linear).
  const grid: number[] = []
  if (linear) {
    const gs = niceStep(yTop, 5)
    for (let v = 0; v <= yTop + 1e-9; v += gs) grid.push(v)
  } else for (let e = 0; e <= yMaxExp; e++) grid.push(10 ** e)
  const unit = timeUnit(seconds)
  const span = seconds / unit.per
  const step = niceStep(span, 8)
  const parts: string[] = []
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif" font-size="13">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${m.left}" y="26" font-size="17" font-weight="600" fill="#111">${esc(opts.title)}</text>`,
  )
  if (opts.subtitle) {
    parts.push(`<text x="${m.left}" y="46" fill="#555">${esc(opts.subtitle)}</text>`)
  }
  for (const v of grid) {
    const yy = y(v).toFixed(1)
    parts.push(
      `<line x1="${m.left}" x2="${m.left + pw}" y1="${yy}" y2="${yy}" stroke="#e5e5e5"/>`,
      `<text x="${m.left - 8}" y="${yy}" text-anchor="end" dominant-baseline="middle" fill="#333">${fmt(v)}</text>`,
    )
  }
  // X ticks.
  for (let t = 0; t <= span + 1e-9; t += step) {
    const xx = x(t * unit.per).toFixed(1)
    parts.push(
      `<line x1="${xx}" x2="${xx}" y1="${m.top + ph}" y2="${m.top + ph + 5}" stroke="#333"/>`,
      `<text x="${xx}" y="${m.top + ph + 20}" text-anchor="middle" fill="#333">${+t.toPrecision(4)}</text>`,
    )
  }
  parts.push(
    `<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`,
    `<text x="${m.left + pw / 2}" y="${H - 16}" text-anchor="middle" fill="#111">time since the change (${unit.name})</text>`,
    `<text transform="translate(22 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle" fill="#111">${esc(opts.yLabel)}</text>`,
  )
  for (const l of opts.lines ?? []) {
    const yy = y(l.value).toFixed(1)
    parts.push(
      `<line x1="${m.left}" x2="${m.left + pw}" y1="${yy}" y2="${yy}" stroke="${l.color}" stroke-width="1.5" stroke-dasharray="6 4"/>`,
    )
  }
  for (const k of opts.marks ?? []) {
    const xx = x(Math.min(seconds, Math.max(0, k.atS))).toFixed(1)
    parts.push(
      `<line x1="${xx}" x2="${xx}" y1="${m.top}" y2="${m.top + ph}" stroke="${k.color}" stroke-width="1.5" stroke-dasharray="3 3"/>`,
      `<text x="${xx}" y="${m.top + ph - 8}" transform="rotate(-90 ${xx} ${m.top + ph - 8})" dx="4" dy="-4" fill="${k.color}">${esc(k.label)}</text>`,
    )
  }
  for (const s of opts.series) {
    const pts = reduce(s.perSecond, seconds)
    if (pts.length === 0) continue
    let d = `M${x(pts[0]![0]).toFixed(1)},${y(pts[0]![1]).toFixed(1)}`
    for (let i = 1; i < pts.length; i++) {
      const [sec, v] = pts[i]!
      d += `H${x(sec).toFixed(1)}V${y(v).toFixed(1)}`
    }
    d += `H${x(Math.min(seconds, s.perSecond.length)).toFixed(1)}`
    parts.push(
      `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.8"${s.dash ? ` stroke-dasharray="${s.dash}"` : ''}/>`,
    )
  }
  // Legend, top right inside the plot.
  const entries = [
    ...opts.series.map((s) => ({ label: s.label, color: s.color, dash: s.dash })),
    ...(opts.lines ?? []).map((l) => ({ label: l.label, color: l.color, dash: '6 4' })),
  ]
  const lw = Math.max(...entries.map((e) => e.label.length)) * 7 + 48
  const lx = m.left + pw - lw - 10
  parts.push(
    `<rect x="${lx}" y="${m.top + 10}" width="${lw}" height="${entries.length * 20 + 10}" fill="#fff" fill-opacity="0.9" stroke="#ccc"/>`,
  )
  entries.forEach((e, i) => {
    const yy = m.top + 25 + i * 20
    parts.push(
      `<line x1="${lx + 10}" x2="${lx + 34}" y1="${yy}" y2="${yy}" stroke="${e.color}" stroke-width="2.5"${e.dash ? ` stroke-dasharray="${e.dash}"` : ''}/>`,
      `<text x="${lx + 40}" y="${yy}" dominant-baseline="middle" fill="#111">${esc(e.label)}</text>`,
    )
  })
  parts.push('</svg>')
  return `${parts.join('\n')}\n`
}

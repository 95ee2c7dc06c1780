/**
 * What one heartbeat contributes to the gates: one sample per metric with
 * activity in the interval. Origin figures count only when the client made
 * origin calls (a quiet client is no evidence either way); app signals count
 * when the client reported them: a count as its rate per second over the
 * interval (intervals differ while a gate watches), an observation as the
 * interval's mean.
 */

/** The heartbeat fields the gates read (structurally the wire heartbeat). */
export interface HeartbeatFigures {
  readonly calls?: number | undefined
  readonly errorRate?: number | undefined
  readonly latencyP50?: number | undefined
  readonly latencyP99?: number | undefined
  /** App counts since the last heartbeat. */
  readonly metrics?: Readonly<Record<string, number>> | undefined
  /** App observations since the last heartbeat: count, sum, largest. */
  readonly observed?:
    | Readonly<Record<string, { readonly n: number; readonly sum: number }>>
    | undefined
  /** The interval the figures cover, ms. */
  readonly intervalMs?: number | undefined
}

/** Metrics measured on origin calls, sampled only when there were calls. */
export const ORIGIN_METRICS = ['errorRate', 'latencyP50', 'latencyP99'] as const

export const samplesOf = (hb: HeartbeatFigures): Record<string, number> => {
  const out: Record<string, number> = {}
  if ((hb.calls ?? 0) > 0) {
    for (const m of ORIGIN_METRICS) {
      const v = hb[m]
      if (v !== undefined && Number.isFinite(v)) out[m] = v
    }
  }
  const origin = ORIGIN_METRICS as readonly string[]
  const perSec = hb.intervalMs && hb.intervalMs > 0 ? 1000 / hb.intervalMs : 1
  for (const [name, v] of Object.entries(hb.metrics ?? {})) {
    if (Number.isFinite(v) && !origin.includes(name)) out[name] = v * perSec
  }
  for (const [name, o] of Object.entries(hb.observed ?? {})) {
    if (o.n > 0 && Number.isFinite(o.sum) && !origin.includes(name)) out[name] = o.sum / o.n
  }
  return out
}

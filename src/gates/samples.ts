/**
 * What one heartbeat contributes to the gates: one sample per metric with
 * activity in the interval. Origin figures count only when the client made
 * origin calls (a quiet client is no evidence either way); app signals count
 * when the client reported them.
 */

/** The heartbeat fields the gates read (structurally the wire heartbeat). */
export interface HeartbeatFigures {
  readonly calls?: number | undefined
  readonly errorRate?: number | undefined
  readonly latencyP50?: number | undefined
  readonly latencyP99?: number | undefined
  readonly metrics?: Readonly<Record<string, number>> | undefined
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
  for (const [name, v] of Object.entries(hb.metrics ?? {})) {
    if (Number.isFinite(v) && !(ORIGIN_METRICS as readonly string[]).includes(name)) out[name] = v
  }
  return out
}

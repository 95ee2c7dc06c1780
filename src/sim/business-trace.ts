/** The business scenario's plot data: the first run's seconds around its first injected incident. */
import type { InjectedIncident } from './business-plan.js'
import { MINUTE_MS, SECOND_MS } from './business-series.js'

/** The plot starts this long before the first injected incident and ends this long after its end + clearMs. */
export const TRACE_MARGIN_MS = 15 * MINUTE_MS

export interface BusinessTrace {
  readonly seed: number
  /** The first second's time, ms from the run's start. */
  readonly from: number
  /** Per second: the series as judged, what the model expected, its baseline, and its noise. */
  readonly value: number[]
  readonly expected: number[]
  readonly baseline: number[]
  readonly noise: number[]
  /** Seconds from `from`: the injected incidents, and the incidents the watch opened. */
  readonly injected: readonly { from: number; until: number; cause: 'rollout' | 'fleet' }[]
  readonly opened: number[]
}

/** A trace to fill, around the first of `injected` (undefined: none). */
export const newTrace = (
  seed: number,
  injected: readonly InjectedIncident[],
  clearMs: number,
): (BusinessTrace & { readonly until: number }) | undefined => {
  const first = injected[0]
  if (!first) return undefined
  const from = first.start - TRACE_MARGIN_MS
  const until = first.end + clearMs + TRACE_MARGIN_MS
  return {
    seed,
    from,
    until,
    value: [],
    expected: [],
    baseline: [],
    noise: [],
    injected: injected
      .filter((i) => i.end > from && i.start < until)
      .map((i) => ({
        from: (i.start - from) / SECOND_MS,
        until: (i.end - from) / SECOND_MS,
        cause: i.cause,
      })),
    opened: [],
  }
}

/** One judged second, if it falls in the trace. */
export const record = (
  t: BusinessTrace & { readonly until: number },
  step: number,
  value: number,
  e: { readonly expected: number; readonly baseline: number; readonly noise: number },
  opened: boolean,
): void => {
  if (step < t.from || step >= t.until) return
  t.value.push(value)
  t.expected.push(e.expected)
  t.baseline.push(e.baseline)
  t.noise.push(e.noise)
  if (opened) t.opened.push((step - t.from) / SECOND_MS)
}

/**
 * The business watch's API: series measured elsewhere come in through
 * `POST /v1/metrics` (its own token scope, `metrics`), and
 * `GET /v1/incidents` shows what the watch saw and did.
 */
import { z } from 'zod'
import type { OptionIssue } from '../../errors.js'
import { MAX_METRIC_VALUE } from '../../protocol/messages.js'
import { problem } from '../../protocol/problem.js'
import type { App, Ctx } from '../context.js'
import { HttpProblem, parseBody, readJson } from '../http.js'

/** Points one request may carry. */
export const MAX_POINTS = 1000

const pointSchema = z.strictObject({
  name: z.string().regex(/^[\w.:-]{1,100}$/, { error: 'a metric name: 1-100 of [A-Za-z0-9_.:-]' }),
  value: z.number().refine((x) => Number.isFinite(x) && Math.abs(x) <= MAX_METRIC_VALUE, {
    error: `a number in [-${MAX_METRIC_VALUE}, ${MAX_METRIC_VALUE}]`,
  }),
  /** When it was measured (ISO 8601); absent: now. */
  at: z.iso.datetime({ offset: true }).optional(),
})

export const metricsBodySchema = z.strictObject({
  series: z
    .array(pointSchema)
    .min(1)
    .max(MAX_POINTS, { error: `at most ${MAX_POINTS} points` }),
})

export const metricsRoutes = (app: App, ctx: Ctx): void => {
  app.post('/v1/metrics', ctx.auth.require('metrics'), async (c) => {
    const { series } = parseBody(metricsBodySchema, await readJson(c, ctx.config().limits))
    const business = ctx.runtime.business
    const now = ctx.clock.now()
    const points = series.map((p) => ({ ...p, at: p.at === undefined ? now : Date.parse(p.at) }))
    // Every point checked before any is kept: a bad one changes nothing.
    const issues: OptionIssue[] = []
    points.forEach((p, i) => {
      const why = business
        ? business.refuses(p.name, p.at)
        : 'not a watched metric (watch: none configured)'
      if (why) issues.push({ field: `series.${i}`, rule: why, value: series[i] })
    })
    const first = issues[0]
    if (first) {
      throw new HttpProblem(
        problem('E_INVALID_OPTION', `series.${first.field.split('.')[1]}: ${first.rule}`, {
          field: first.field,
          rule: first.rule,
          value: first.value,
          issues,
        }),
      )
    }
    for (const p of points) business!.add(p.name, p.at, p.value)
    return c.json({ accepted: points.length }, 202)
  })

  app.get('/v1/incidents', ctx.auth.require('read'), (c) => {
    const business = ctx.runtime.business
    return c.json({
      incidents: business?.incidents() ?? [],
      watching: business?.status() ?? [],
    })
  })
}

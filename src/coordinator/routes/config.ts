/** The coordinator's own config: GET, PUT (?dryRun=1), history, rollback. Admin only. */
import { z } from 'zod'
import { problem } from '../../protocol/problem.js'
import type { App, Ctx } from '../context.js'
import { flag, HttpProblem, parseBody, readJson } from '../http.js'
import { redact } from '../settings.js'

export const putSchema = z.strictObject({
  /** The settings to change (merged over the current config). */
  config: z.record(z.string(), z.unknown()),
  reason: z.string().min(1, { error: 'a non-empty string' }).max(500),
})

export const rollbackSchema = z.strictObject({
  /** The version to return to. @default the one before the current */
  version: z.number().int().positive().optional(),
  reason: z.string().min(1, { error: 'a non-empty string' }).max(500),
})

export const configRoutes = (app: App, ctx: Ctx): void => {
  const show = () => {
    const v = ctx.settings.current
    return { version: v.version, at: v.at, who: v.who, why: v.why, config: redact(v.config) }
  }

  app.get('/v1/config', ctx.auth.require('admin'), (c) => c.json(show()))

  app.put('/v1/config', ctx.auth.require('admin'), async (c) => {
    const body = parseBody(putSchema, await readJson(c, ctx.config().limits))
    const { next, changes } = ctx.settings.plan(body.config)
    if (flag(c, 'dryRun')) return c.json({ dryRun: true, changes })
    if (changes.length > 0)
      ctx.settings.commit(next, c.get('caller').who, body.reason, ctx.clock.now())
    return c.json({ ...show(), changes })
  })

  app.get('/v1/config/history', ctx.auth.require('admin'), (c) =>
    c.json({
      versions: ctx.settings.history().map((v) => ({
        version: v.version,
        at: v.at,
        who: v.who,
        why: v.why,
        config: redact(v.config),
      })),
    }),
  )

  app.post('/v1/config/rollback', ctx.auth.require('admin'), async (c) => {
    const body = parseBody(rollbackSchema, await readJson(c, ctx.config().limits))
    const current = ctx.settings.current.version
    const target = ctx.settings.find(body.version ?? current - 1)
    if (!target) {
      throw new HttpProblem(
        problem('E_NOT_FOUND', `No config version ${body.version ?? current - 1}`, {
          versions: ctx.settings.history().length,
        }),
      )
    }
    const { next, changes } = ctx.settings.plan(target.config)
    ctx.settings.commit(
      next,
      c.get('caller').who,
      `rollback to v${target.version}: ${body.reason}`,
      ctx.clock.now(),
    )
    return c.json({ ...show(), changes })
  })
}

/** Request-body helpers: JSON only, parsed once, bad input as problem+json. */
import type { HttpBindings } from '@hono/node-server'
import type { Context } from 'hono'
import type { z } from 'zod'
import { type Problem, problem } from '../protocol/problem.js'
import { toInvalidOption } from '../validate.js'
import { bodyProblem, type JsonLimits } from './json-limits.js'

/** Thrown inside a handler; the app turns it into its problem+json response. */
export class HttpProblem extends Error {
  constructor(
    readonly problem: Problem,
    readonly headers: Record<string, string> = {},
  ) {
    super(problem.title)
  }
}

/**
 * A request header (`name` in lower case), from the Node request's own
 * parsed headers where there is one (on @hono/node-server): hono's
 * `c.req.header()` builds a web Headers object over them, a cost per
 * heartbeat, and one a stream keeps for its whole life. Repeated headers
 * read as Node joins them (for `authorization` and `content-type`, the
 * first); elsewhere (`app.request()`), hono's.
 */
export const headerOf = (c: Context, name: string): string | undefined => {
  const headers = (c.env as Partial<HttpBindings> | undefined)?.incoming?.headers
  if (!headers) return c.req.header(name)
  const value = headers[name]
  return Array.isArray(value) ? value.join(', ') : value
}

/**
 * The body as JSON (an empty body reads as `{}`), within `limits` (depth,
 * keys, no `__proto__`) before anything reads it; 415 / 400 / 413 on
 * anything else.
 */
export const readJson = async (c: Context, limits: JsonLimits): Promise<unknown> => {
  const text = await c.req.text()
  if (text.trim() === '') return {}
  const type = headerOf(c, 'content-type') ?? ''
  if (!/^application\/([\w.+-]+\+)?json\b/i.test(type)) {
    throw new HttpProblem(
      problem('E_UNSUPPORTED_MEDIA_TYPE', 'The body must be application/json', {
        detail: `got \`${type || 'none'}\``,
      }),
    )
  }
  return parseJson(text, limits, 'The body is not valid JSON')
}

/** `text` parsed (a 400 E_BAD_JSON naming `what` if it is not JSON), within `limits`. */
export const parseJson = (text: string, limits: JsonLimits, what: string): unknown => {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new HttpProblem(problem('E_BAD_JSON', what, { detail: (error as Error).message }))
  }
  const wrong = bodyProblem(value, limits)
  if (wrong) throw new HttpProblem(wrong)
  return value
}

/** Parse with a schema; the first broken rule is a 400 naming the field. */
export const parseBody = <S extends z.ZodType>(schema: S, body: unknown): z.output<S> => {
  const result = schema.safeParse(body)
  if (result.success) return result.data
  const e = toInvalidOption(result.error, body)
  throw new HttpProblem(
    problem(e.code, e.message, { field: e.field, rule: e.rule, value: e.value }),
  )
}

/**
 * `raw` as a non-negative integer written in decimal digits only (so not
 * `1e3`, `0x10`, ` 12`, `1.0` or `+5`, which Number() takes), and safe; a
 * 400 naming `field` otherwise.
 */
export const nonNegativeIntOf = (field: string, raw: string): number => {
  const n = Number(raw)
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n)) {
    throw new HttpProblem(
      problem('E_INVALID_OPTION', `Expected \`${field}\` to be an integer >= 0, got \`${raw}\``, {
        field,
        rule: 'an integer >= 0',
        value: raw,
      }),
    )
  }
  return n
}

/** A non-negative integer query parameter, or undefined; 400 otherwise. */
export const intQuery = (c: Context, name: string): number | undefined => {
  const raw = c.req.query(name)
  return raw === undefined || raw === '' ? undefined : nonNegativeIntOf(name, raw)
}

export const flag = (c: Context, name: string): boolean => {
  const v = c.req.query(name)
  return v !== undefined && v !== '0' && v !== 'false'
}

/** An optional query value matching `rule` (a 400 naming `name` otherwise). */
export const patternQuery = (
  c: Context,
  name: string,
  pattern: RegExp,
  rule: string,
): string | undefined => {
  const raw = c.req.query(name)
  if (raw === undefined || raw === '') return undefined
  if (!pattern.test(raw))
    throw new HttpProblem(
      problem('E_INVALID_OPTION', `Expected \`${name}\` to be ${rule}, got \`${raw}\``, {
        field: name,
        rule,
        value: raw,
      }),
    )
  return raw
}

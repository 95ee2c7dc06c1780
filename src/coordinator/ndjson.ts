/**
 * Large rewarm key sets as NDJSON (`content-type: application/x-ndjson`):
 * the first line is the change (as JSON, without its keys), every further
 * line one key (a JSON string, or the bare text). Limits: the body size and
 * the key count (`rewarm.maxBodyBytes`, `rewarm.maxKeys`).
 */
import type { Context } from 'hono'
import { InvalidOptionError } from '../errors.js'
import { problem } from '../protocol/problem.js'
import { HttpProblem, headerOf, parseJson } from './http.js'
import type { JsonLimits } from './json-limits.js'

export const isNdjson = (c: Context): boolean =>
  /^application\/(x-)?ndjson\b/i.test(headerOf(c, 'content-type') ?? '')

export const readNdjsonChange = async (
  c: Context,
  maxKeys: number,
  limits: JsonLimits,
): Promise<unknown> => {
  const text = await c.req.text()
  const lines = text.split('\n').map((l) => l.trim())
  const head = lines.shift() ?? ''
  const change = parseJson(
    head,
    limits,
    'The first NDJSON line (the change) is not valid JSON',
  ) as Record<string, unknown>
  if (change === null || typeof change !== 'object' || Array.isArray(change)) {
    throw new HttpProblem(problem('E_BAD_JSON', 'The first NDJSON line must be the change object'))
  }
  const keys: string[] = []
  for (const line of lines) {
    if (line === '') continue
    let key: unknown = line
    if (line.startsWith('"')) {
      try {
        key = JSON.parse(line)
      } catch {
        throw new HttpProblem(
          problem('E_BAD_JSON', `A key line is not a valid JSON string: ${line.slice(0, 80)}`),
        )
      }
    }
    if (typeof key !== 'string' || key === '') {
      throw new HttpProblem(
        problem('E_INVALID_OPTION', 'Expected every key line to be a non-empty string', {
          field: 'keys',
        }),
      )
    }
    keys.push(key)
  }
  // The key lines join the change's own target.keys: a target or a list of another shape is
  // refused as it would be in a JSON body, not spread into an object or silently replaced.
  const isObject = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v)
  if (change.target !== undefined && !isObject(change.target))
    throw shapeProblem('target', 'an object', change.target)
  const target = (change.target as Record<string, unknown> | undefined) ?? {}
  if (target.keys !== undefined && !Array.isArray(target.keys))
    throw shapeProblem('target.keys', 'an array of strings', target.keys)
  const given = (target.keys as unknown[] | undefined) ?? []
  const all = [...given, ...keys]
  // Counted as sent, before repeats are dropped: an over-long list is refused, never cut.
  checkKeyCount({ kind: String(change.kind), target: { keys: all as string[] } }, maxKeys)
  return { ...change, target: { ...target, keys: all } }
}

const shapeProblem = (field: string, rule: string, value: unknown) => {
  const e = new InvalidOptionError(field, rule, value)
  return new HttpProblem(problem(e.code, e.message, { field, rule, value }))
}

/** A change listing more keys than allowed (any kind) is refused whole, never cut short. */
export const checkKeyCount = (
  change: { kind: string; target?: { keys?: readonly string[] } },
  maxKeys: number,
): void => {
  const n = change.target?.keys?.length ?? 0
  if (n > maxKeys) {
    throw new HttpProblem(
      problem('E_BODY_TOO_LARGE', `A change may list at most ${maxKeys} keys`, {
        detail: `got more than ${maxKeys}; split it into several changes, or use target.hotSet`,
        field: 'target.keys',
        limit: maxKeys,
      }),
    )
  }
}

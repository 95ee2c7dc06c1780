/**
 * Large rewarm key sets as NDJSON (`content-type: application/x-ndjson`):
 * the first line is the change (as JSON, without its keys), every further
 * line one key (a JSON string, or the bare text). Limits: the body size and
 * the key count (`rewarm.maxBodyBytes`, `rewarm.maxKeys`).
 */
import type { Context } from 'hono'
import { problem } from '../protocol/problem.js'
import { HttpProblem, parseJson } from './http.js'
import type { JsonLimits } from './json-limits.js'

export const isNdjson = (c: Context): boolean =>
  /^application\/(x-)?ndjson\b/i.test(c.req.header('content-type') ?? '')

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
  const target = (change.target as Record<string, unknown> | undefined) ?? {}
  const given = Array.isArray(target.keys) ? (target.keys as unknown[]) : []
  const all = [...given, ...keys]
  // Counted as sent, before repeats are dropped: an over-long list is refused, never cut.
  checkKeyCount({ kind: String(change.kind), target: { keys: all as string[] } }, maxKeys)
  return { ...change, target: { ...target, keys: all } }
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

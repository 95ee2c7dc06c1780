/**
 * The shape a JSON body may have, checked right after it is parsed and
 * before anything reads it: nested at most `limits.jsonDepth` deep, at most
 * `limits.jsonKeys` object keys in all, and no key named `__proto__`,
 * `constructor` or `prototype` (they mean something to JavaScript objects,
 * never anything to slew). Config values, which every client receives and
 * keeps, have tighter limits of their own. The walk is iterative: a body
 * nested a million deep is measured, not a stack overflow.
 */
import type { Config } from '../config/schema.js'
import { InvalidOptionError } from '../errors.js'
import { type Problem, problem } from '../protocol/problem.js'

export type JsonLimits = Pick<Config['limits'], 'jsonDepth' | 'jsonKeys'>
export type ConfigValueLimits = Pick<Config['limits'], 'jsonDepth' | 'configKeys'>

const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype'])

/** One container met on the walk, with the way back to the root (for naming a field). */
interface At {
  readonly value: object
  readonly depth: number
  readonly parent?: At
  readonly key?: string | number
}

const fieldOf = (prefix: string, at: At | undefined, last?: string | number): string => {
  const parts: (string | number)[] = last === undefined ? [] : [last]
  for (let a = at; a?.key !== undefined; a = a.parent) parts.push(a.key)
  let name = prefix
  for (const k of parts.reverse()) name += typeof k === 'number' ? `[${k}]` : name ? `.${k}` : k
  return name || 'body'
}

export type ShapeIssue =
  | { readonly kind: 'depth'; readonly field: string }
  | { readonly kind: 'keys' }
  | { readonly kind: 'forbidden'; readonly field: string; readonly key: string }

/**
 * The first way `value` breaks the limits (containers nested deeper than
 * `depth`, more than `keys` object keys, a forbidden key), or undefined,
 * and the keys it counted. `prefix` names the field the value sits at.
 */
export const shapeOf = (
  value: unknown,
  limits: { depth: number; keys: number },
  prefix = '',
): { issue?: ShapeIssue; keys: number } => {
  let keys = 0
  if (value === null || typeof value !== 'object') return { keys }
  const work: At[] = [{ value, depth: 1 }]
  while (work.length > 0) {
    const at = work.pop()!
    if (at.depth > limits.depth)
      return { issue: { kind: 'depth', field: fieldOf(prefix, at) }, keys }
    if (Array.isArray(at.value)) {
      at.value.forEach((v, i) => {
        if (v !== null && typeof v === 'object')
          work.push({ value: v, depth: at.depth + 1, parent: at, key: i })
      })
      continue
    }
    for (const key of Object.keys(at.value)) {
      if (++keys > limits.keys) return { issue: { kind: 'keys' }, keys }
      if (FORBIDDEN_KEYS.has(key))
        return { issue: { kind: 'forbidden', field: fieldOf(prefix, at, key), key }, keys }
      const v = (at.value as Record<string, unknown>)[key]
      if (v !== null && typeof v === 'object')
        work.push({ value: v, depth: at.depth + 1, parent: at, key })
    }
  }
  return { keys }
}

const forbidden = (field: string, key: string): Problem => {
  const e = new InvalidOptionError(
    field,
    'a key other than __proto__, constructor or prototype',
    key,
  )
  return problem(e.code, e.message, { field, rule: e.rule, value: key })
}

const tooDeep = (field: string, limit: number, setting: string): Problem =>
  problem('E_JSON_TOO_DEEP', `JSON may nest at most ${limit} deep`, {
    detail: `\`${field}\` is nested deeper; the limit is ${setting}`,
    field,
    limit,
  })

const tooLarge = (title: string, field: string, limit: number, setting: string): Problem =>
  problem('E_JSON_TOO_LARGE', title, { detail: `the limit is ${setting}`, field, limit })

/** What is wrong with a parsed body's shape (a 400 / 413 problem), or undefined. */
export const bodyProblem = (body: unknown, limits: JsonLimits): Problem | undefined => {
  const { issue } = shapeOf(body, { depth: limits.jsonDepth, keys: limits.jsonKeys })
  if (issue?.kind === 'depth') return tooDeep(issue.field, limits.jsonDepth, 'limits.jsonDepth')
  if (issue?.kind === 'keys')
    return tooLarge(
      `A JSON body may hold at most ${limits.jsonKeys} keys`,
      'body',
      limits.jsonKeys,
      'limits.jsonKeys',
    )
  if (issue?.kind === 'forbidden') return forbidden(issue.field, issue.key)
  return undefined
}

/**
 * How deep one config value may nest: half of what a body may, so the
 * messages that carry it (a signed change in a stream, a client's proof of
 * its config after a restart) stay well within limits.jsonDepth.
 */
export const configValueDepth = (limits: Pick<ConfigValueLimits, 'jsonDepth'>): number =>
  Math.floor(limits.jsonDepth / 2)

/**
 * What is wrong with a config change's `values` (a 400 / 413 problem), or
 * undefined: each value nested at most configValueDepth() deep,
 * `limits.configKeys` keys in all (the names included). (Their size is
 * bounded with the fleet's whole config, `limits.configBytes`, by the
 * engine.) Anything that is not a values object passes, for the change's own
 * checks.
 */
export const configValuesProblem = (
  change: unknown,
  limits: ConfigValueLimits,
): Problem | undefined => {
  const values = (change as { values?: unknown } | null)?.values
  if (values === null || typeof values !== 'object' || Array.isArray(values)) return undefined
  const depth = configValueDepth(limits)
  // The values object itself is one level: its members may nest `depth` below it.
  const { issue } = shapeOf(values, { depth: depth + 1, keys: limits.configKeys }, 'values')
  if (issue?.kind === 'depth') return tooDeep(issue.field, depth, 'half of limits.jsonDepth')
  if (issue?.kind === 'keys')
    return tooLarge(
      `Config values may hold at most ${limits.configKeys} keys`,
      'values',
      limits.configKeys,
      'limits.configKeys',
    )
  if (issue?.kind === 'forbidden') return forbidden(issue.field, issue.key)
  return undefined
}

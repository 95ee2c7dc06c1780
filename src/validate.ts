/**
 * Options are validated once, at the boundary, by one zod schema each; the
 * first broken rule becomes an InvalidOptionError naming the field, the rule
 * and the value (p-queue style), carrying every other one in `issues`. The
 * parsed result is deep-frozen.
 */
import { z } from 'zod'
import { InvalidOptionError, type OptionIssue } from './errors.js'

/** Rules as they read in an error message: "Expected `budget` to be <rule>". */
export const rules = {
  positive: 'a finite number > 0',
  nonNegative: 'a finite number >= 0',
  positiveInt: 'an integer >= 1',
  nonNegativeInt: 'an integer >= 0',
  fraction: 'a number in (0, 1]',
} as const

const num = (rule: string) => z.number({ error: rule }).refine(Number.isFinite, { error: rule })

export const positive = () => num(rules.positive).refine((n) => n > 0, { error: rules.positive })
export const nonNegative = () =>
  num(rules.nonNegative).refine((n) => n >= 0, { error: rules.nonNegative })
export const positiveInt = () =>
  num(rules.positiveInt).refine((n) => Number.isInteger(n) && n >= 1, {
    error: rules.positiveInt,
  })
export const nonNegativeInt = () =>
  num(rules.nonNegativeInt).refine((n) => Number.isInteger(n) && n >= 0, {
    error: rules.nonNegativeInt,
  })

/**
 * A finite number in [min, max] (`int`: an integer), the rule naming both
 * ends: a range keeps a value from being absurd, not only from being wrong
 * (a rate of 5e-324/s is positive, and makes every delay overflow).
 */
export const between = (min: number, max: number, opts: { int?: boolean } = {}) => {
  const rule = `${opts.int ? 'an integer' : 'a number'} in [${min}, ${max}]`
  return num(rule).refine((n) => n >= min && n <= max && (!opts.int || Number.isInteger(n)), {
    error: rule,
  })
}

const valueAt = (input: unknown, path: readonly PropertyKey[]): unknown => {
  let at: unknown = input
  for (const key of path) {
    if (at == null || typeof at !== 'object') return undefined
    at = (at as Record<PropertyKey, unknown>)[key]
  }
  return at
}

const fieldName = (prefix: string, path: readonly PropertyKey[]): string => {
  let name = prefix
  for (const key of path) {
    if (typeof key === 'number') name += `[${key}]`
    else name += name ? `.${String(key)}` : String(key)
  }
  return name || 'value'
}

/** One zod issue as slew names it: a field path, the rule as it reads in a message, the value. */
const toIssues = (
  issue: z.ZodError['issues'][number],
  input: unknown,
  prefix: string,
): OptionIssue[] => {
  if (issue.code === 'unrecognized_keys') {
    // One zod issue per object; one of ours per unknown key, each with its own path.
    return issue.keys.map((key) => {
      const path = [...issue.path, key]
      return {
        field: fieldName(prefix, path),
        rule: 'not set (unknown field)',
        value: valueAt(input, path),
      }
    })
  }
  let rule = issue.message
  if (issue.code === 'invalid_type' && rule.startsWith('Invalid input'))
    rule = `of type ${issue.expected}`
  if (issue.code === 'invalid_value' && rule.startsWith('Invalid')) {
    rule = `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`
  }
  return [{ field: fieldName(prefix, issue.path), rule, value: valueAt(input, issue.path) }]
}

/** Every broken rule in a zod error, in zod's order, each with its path, rule and value. */
export const optionIssues = (error: z.ZodError, input: unknown, prefix = ''): OptionIssue[] =>
  error.issues.flatMap((issue) => toIssues(issue, input, prefix))

/**
 * The first broken rule as an InvalidOptionError (its message names that one);
 * every other one rides along in its `issues`.
 */
export const toInvalidOption = (error: z.ZodError, input: unknown, prefix = '') => {
  const issues = optionIssues(error, input, prefix)
  const first = issues[0]
  if (!first) return new InvalidOptionError(prefix || 'value', 'valid', input)
  return new InvalidOptionError(first.field, first.rule, first.value, issues)
}

export const deepFreeze = <T>(value: T): T => {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const inner of Object.values(value)) deepFreeze(inner)
  }
  return value
}

/** Parse `input` with `schema`; throw InvalidOptionError naming the first broken rule (all in `issues`). */
export const parseOptions = <S extends z.ZodType>(
  schema: S,
  input: unknown,
  prefix = '',
): z.output<S> => {
  const result = schema.safeParse(input)
  if (!result.success) throw toInvalidOption(result.error, input, prefix)
  return deepFreeze(result.data)
}

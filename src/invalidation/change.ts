/**
 * A change as the engine sees it: validated, normalized (targets sorted and
 * de-duplicated; a rewarm's keys keep their order, hottest first) and classed
 * into a budget. The wire schema in protocol/
 * produces the same shape.
 */
import { createHash } from 'node:crypto'
import { z } from 'zod'
import { canonicalJson } from '../canonical-json.js'
import { changeGateSchema } from '../gates/options.js'
import { type Change, changeKinds, type Target } from '../model/change.js'
import { between, deepFreeze, parseOptions } from '../validate.js'

/** The classing rule lives in model/; named here too for the simulator, which takes it from here. */
export { budgetClassOf } from '../model/budget.js'

const names = z.array(z.string().min(1, { error: 'a non-empty string' }), {
  error: 'an array of strings',
})

export const targetSchema = z
  .strictObject({
    keys: names.optional(),
    tags: names.optional(),
    prefixes: names.optional(),
    all: z.boolean().optional(),
    hotSet: z.boolean().optional(),
  })
  .refine(
    (t) => t.all || t.hotSet || !!t.keys?.length || !!t.tags?.length || !!t.prefixes?.length,
    {
      error: 'an object with at least one of keys, tags, prefixes, all, hotSet',
    },
  ) satisfies z.ZodType<Target>

export const stepsSchema = z
  .array(z.number({ error: 'a number' }), { error: 'an array of fractions' })
  .min(1, { error: 'a non-empty array of fractions' })
  .refine((s) => s.every((x) => Number.isFinite(x) && x > 0 && x <= 1), {
    error: 'fractions in (0, 1]',
  })
  .refine((s) => s.every((x, i) => i === 0 || x > s[i - 1]!), { error: 'strictly increasing' })
  .refine((s) => s[s.length - 1] === 1, { error: 'an array that ends at 1' })

/** A bake of at most a day, ms: longer, its timer would overflow and fire at once. */
export const wavesSchema = z.strictObject({ steps: stepsSchema, bakeMs: between(0, 86_400_000) })
export type WavesOptions = z.infer<typeof wavesSchema>

const json: z.ZodType<unknown> = z.unknown()

export const changeInputSchema = z
  .strictObject({
    kind: z.enum(changeKinds),
    target: targetSchema.optional(),
    values: z.record(z.string(), json).optional(),
    unset: names.optional(),
    mode: z.enum(['soft', 'hard']).default('soft'),
    priority: z.enum(['normal', 'urgent']).default('normal'),
    reason: z.string().max(500, { error: 'a string of at most 500 characters' }).optional(),
    confirm: z.boolean().optional(),
    idempotencyKey: z.string().min(1).max(200).optional(),
    waves: wavesSchema.partial().optional(),
    /** The change's own gate: its checks, or `false` for none (default: the gates section). */
    gate: changeGateSchema.optional(),
  })
  .superRefine((c, ctx) => {
    if (c.kind === 'config') {
      if (!c.values && !c.unset) {
        ctx.addIssue({ code: 'custom', path: ['values'], message: 'an object of key → value' })
      }
      if (c.target)
        ctx.addIssue({ code: 'custom', path: ['target'], message: 'absent for a config change' })
    } else {
      if (!c.target) ctx.addIssue({ code: 'custom', path: ['target'], message: 'an object' })
      if (c.values || c.unset) {
        ctx.addIssue({ code: 'custom', path: ['values'], message: `absent for a ${c.kind} change` })
      }
      if (c.kind === 'invalidate' && c.target?.hotSet) {
        ctx.addIssue({ code: 'custom', path: ['target', 'hotSet'], message: 'used only by rewarm' })
      }
    }
  })

export type ChangeInput = z.input<typeof changeInputSchema>
export type ParsedChange = z.output<typeof changeInputSchema>

const sortedUnique = (xs?: readonly string[]) => (xs?.length ? [...new Set(xs)].sort() : undefined)

/** `ordered`: keep the keys' order (a rewarm fetches them in it), only dropping repeats. */
export const normalizeTarget = (t: Target, ordered = false): Target => {
  const out: { -readonly [K in keyof Target]: Target[K] } = {}
  if (t.all) out.all = true
  if (t.hotSet) out.hotSet = true
  const keys = ordered ? (t.keys?.length ? [...new Set(t.keys)] : undefined) : sortedUnique(t.keys)
  const tags = sortedUnique(t.tags)
  const prefixes = sortedUnique(t.prefixes)
  if (keys) out.keys = keys
  if (tags) out.tags = tags
  if (prefixes) out.prefixes = prefixes
  return out
}

/** Validate a pushed change; throws InvalidOptionError naming the field. */
export const parseChange = (input: unknown): ParsedChange => {
  const parsed = parseOptions(changeInputSchema, input)
  return parsed.target
    ? deepFreeze({ ...parsed, target: normalizeTarget(parsed.target, parsed.kind === 'rewarm') })
    : parsed
}

/** SHA-256 of a value's canonical JSON, base64url: equal values, equal digests. */
export const digestOf = (value: unknown): string =>
  createHash('sha256').update(canonicalJson(value)).digest('base64url')

/**
 * What an idempotency key is held to: the change a push asks for and how it
 * rolls out (its identity and any waves override). A retry may word its
 * `reason` anew or add `confirm`: the same request still.
 */
export const requestDigest = (c: ParsedChange): string =>
  digestOf({
    kind: c.kind,
    target: c.target,
    values: c.values,
    unset: c.unset,
    mode: c.mode,
    priority: c.priority,
    waves: c.waves,
  })

/**
 * What makes two pushes "the same change" for coalescing: a digest, so a
 * rollout kept for status does not keep a second copy of its values in it.
 */
export const identityOf = (
  c: Pick<Change, 'kind' | 'target' | 'values' | 'unset' | 'mode' | 'priority'>,
) =>
  digestOf({
    kind: c.kind,
    target: c.target,
    values: c.values,
    unset: c.unset,
    mode: c.mode,
    priority: c.priority,
  })

/**
 * The keys of an invalidate that names keys and nothing else, if it names
 * at least one and at most `most` (such a change costs a client
 * min(keys, entries), and may be sketched).
 */
export const keysOnly = (
  c: Pick<Change, 'kind' | 'target'>,
  most: number,
): readonly string[] | undefined => {
  const t = c.target
  if (c.kind !== 'invalidate' || !t?.keys?.length || t.keys.length > most) return undefined
  if (t.all || t.hotSet || t.tags?.length || t.prefixes?.length) return undefined
  return t.keys
}

/**
 * Budget units one delivery of `c` costs for a client holding `entries`
 * entries (and holding at most `capacity`, if known): an estimate of the
 * origin fetches it can induce. Never below 1, so that even a delivery to an
 * empty cache is paced; never above `maxCost` (the engine passes the class's
 * burst, rounded down), so that no client, whatever size it reports, puts
 * its class into debt: one delivery spends at most one burst.
 */
export const deliveryCost = (
  c: Pick<Change, 'kind' | 'target'>,
  entries: number,
  capacity?: number,
  maxCost = Number.POSITIVE_INFINITY,
): number => {
  const most = Math.max(1, Math.floor(maxCost))
  if (c.kind === 'config') return 1
  const t = c.target
  if (!t) return 1
  let cost: number
  if (t.all || t.hotSet || t.tags?.length || t.prefixes?.length) cost = entries
  // A rewarm fetches its keys whether or not the client holds them, as many as its cache holds.
  else if (c.kind === 'rewarm') cost = Math.min(t.keys?.length ?? 0, capacity ?? Infinity)
  else cost = Math.min(t.keys?.length ?? 0, entries)
  return cost >= 1 ? Math.min(Math.ceil(cost), most) : 1
}

/** The engine's settings: one zod schema, defaults documented, parsed once and frozen. */
import { z } from 'zod'
import { budgetSchema } from '../model/budget.js'
import { between, parseOptions } from '../validate.js'
import { wavesSchema } from './change.js'

export const defaultBudgets = {
  invalidate: { ratePerSec: 500, burst: 500 },
  rewarm: { ratePerSec: 200, burst: 100 },
  config: { ratePerSec: 1000, burst: 1000 },
  urgent: { ratePerSec: 5000, burst: 5000 },
} as const

export const engineConfigSchema = z.strictObject({
  /**
   * Fleet name; every key of a fleet shares it (in the Redis hash tag
   * `{slew:<fleet>}`, so no braces or other punctuation). @default 'default'
   */
  fleet: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, {
      error: "1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
    })
    .default('default'),
  /** Shards the fleet is hashed into, at most 100,000. @default 100 */
  shards: between(1, 100_000, { int: true }).default(100),
  /** Per behaviour class: deliveries paced by cost (B1) and refetch tokens (B2). */
  budgets: z
    .strictObject({
      invalidate: budgetSchema.default(defaultBudgets.invalidate),
      rewarm: budgetSchema.default(defaultBudgets.rewarm),
      config: budgetSchema.default(defaultBudgets.config),
      urgent: budgetSchema.default(defaultBudgets.urgent),
    })
    .prefault({}),
  /** Default wave plan; a change may override it. Bake runs between waves. */
  waves: wavesSchema.default({ steps: [0.01, 0.05, 0.25, 1], bakeMs: 2000 }),
  leases: z
    .strictObject({
      /** How long a refetch token may wait before use, ms (at most a minute); the only slack in B2. @default 250 */
      ttlMs: between(1, 60_000).default(250),
      /** Most tokens one lease grants (at most a million). @default 50 */
      maxBatch: between(1, 1_000_000, { int: true }).default(50),
    })
    .prefault({}),
  /** Entry count assumed for a client that has not reported one (at most 1e9). @default 1000 */
  defaultEntries: between(0, 1e9, { int: true }).default(1000),
  /** Finished rollouts kept (for status and catch-up of returning clients; at most a million). @default 1000 */
  retainFinished: between(0, 1_000_000, { int: true }).default(1000),
  /**
   * Most bytes the fleet's config values may take as JSON (every key's
   * current value: what a new client's first frame carries); a config change
   * beyond it is refused (E_CONFIG_TOO_LARGE). @default 4 MiB
   */
  configBytes: between(1, 1024 ** 3, { int: true }).default(4 * 1024 * 1024),
  /** Clients' key sketches: a change to keys only skips a client whose fresh sketch holds none. */
  sketches: z
    .strictObject({
      /** A sketch not updated for this long is not used (its client gets every change), ms. @default 30000 */
      staleMs: between(1000, 3_600_000).default(30_000),
      /**
       * Skips kept for replay to a client that reports a key added later, ms (at least
       * staleMs); a client silent longer gets a reset (its cache marked stale). @default 120000
       */
      windowMs: between(1000, 86_400_000).default(120_000),
    })
    .refine((s) => s.windowMs >= s.staleMs, { error: 'windowMs must be at least staleMs' })
    .prefault({}),
})

export type EngineConfigInput = z.input<typeof engineConfigSchema>
export type EngineConfig = z.output<typeof engineConfigSchema>

export const parseEngineConfig = (input: unknown = {}): EngineConfig =>
  parseOptions(engineConfigSchema, input)

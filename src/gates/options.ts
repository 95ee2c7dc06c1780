/**
 * The `gates` config section: what every rollout is watched on and what a
 * verdict does. Every field has a default, so a user who configures nothing
 * is protected (error rate and p99 latency of origin calls).
 */
import { z } from 'zod'
import { between } from '../validate.js'

export const checkSchema = z.strictObject({
  /** `errorRate`, `latencyP50`, `latencyP99` (origin calls), or an app signal's name. */
  metric: z
    .string()
    .regex(/^[\w.:-]{1,100}$/, { error: 'a metric name: 1-100 of [A-Za-z0-9_.:-]' }),
  /** Which direction is a regression. */
  worse: z.enum(['higher', 'lower']),
  /** The smallest regression that matters (absolute, or a fraction with `relative`). */
  minEffect: between(1e-9, 1e12),
  relative: z.boolean().default(false),
})
export type Check = z.output<typeof checkSchema>

const failAction = z.enum(['rollback', 'pause'])

export const defaultChecks: readonly z.input<typeof checkSchema>[] = [
  { metric: 'errorRate', worse: 'higher', minEffect: 0.005 },
  { metric: 'latencyP99', worse: 'higher', minEffect: 0.2, relative: true },
]

export const gatesSchema = z.strictObject({
  /** Watch every rollout (false: waves pass on their bakes alone). @default true */
  enabled: z.boolean().default(true),
  /** False pauses allowed per rollout, over all its checks and looks. @default 0.01 */
  alpha: between(1e-9, 0.5).default(0.01),
  /** Samples per cohort and check before a wave may pass. @default 20 */
  minSamples: between(2, 1_000_000, { int: true }).default(20),
  /** A bake extended while the gate is inconclusive ends after this, ms. @default 60000 */
  maxBakeMs: between(0, 86_400_000).default(60_000),
  /** How often the clients a gate compares send heartbeats while it watches, ms. @default 1000 */
  heartbeatMs: between(100, 600_000).default(1_000),
  /**
   * The most clients asked to heartbeat every `heartbeatMs` at once; when
   * gates compare more, a fixed share of them is. @default 2000
   */
  maxPaced: between(0, 10_000_000, { int: true }).default(2_000),
  /** How long a completed change is still watched (latent bugs), ms. @default 300000 */
  watchAfterMs: between(0, 7 * 86_400_000).default(300_000),
  /** The fleet's figures before a rollout, its baseline: over this long, ms. @default 300000 */
  baselineMs: between(1_000, 86_400_000).default(300_000),
  /** What a `fail` does, per kind of change. */
  onFail: z
    .strictObject({
      config: failAction.default('rollback'),
      invalidate: failAction.default('pause'),
      rewarm: failAction.default('pause'),
    })
    .prefault({}),
  /** What an `inconclusive` gate does once `maxBakeMs` is over. @default pause */
  onInconclusive: z.enum(['pause', 'proceed']).default('pause'),
  /** The budget class a rollback goes out under. @default config */
  rollbackClass: z.enum(['config', 'urgent']).default('config'),
  checks: z
    .array(checkSchema)
    .max(32, { error: 'at most 32 checks' })
    .default(() => defaultChecks.map((c) => checkSchema.parse(c))),
})
export type GatesConfig = z.output<typeof gatesSchema>
export type GatesInput = z.input<typeof gatesSchema>

/** A change's own gate: its checks, or `false` for none. */
export const changeGateSchema = z.union([
  z.literal(false),
  z.strictObject({ checks: z.array(checkSchema).min(1).max(32, { error: 'at most 32 checks' }) }),
])
export type ChangeGate = z.output<typeof changeGateSchema>

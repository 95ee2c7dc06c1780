/**
 * After a coordinator lost its state (a cold start, a store lost) while the
 * fleet kept its own: take the config values the fleet runs (adoptConfig)
 * and roll out again the hard invalidations clients prove they were sent
 * (recover). Functions over EngineCore; Engine names them.
 */
import { InvalidOptionError } from '../errors.js'
import type { Change } from '../model/change.js'
import { parseChange } from './change.js'
import type { EngineCore } from './engine-core.js'
import { PREDATES } from './engine-fleet.js'
import type { RolloutView } from './rollout.js'

/** See Engine.adoptConfig. */
export const adoptConfig = (
  core: EngineCore,
  values: Readonly<Record<string, unknown>>,
  reason: string,
): { rollout?: RolloutView } | undefined => {
  core.open()
  if (core.adopted) return undefined
  for (const r of core.rollouts.values()) if (r.change.kind === 'config') return undefined
  if (Object.keys(core.config.pushed.toJSON()).length > 0) return undefined
  core.adopted = true
  const fresh = [...core.registry.live()].filter((c) => c.firstSeq !== PREDATES).map((c) => c.id)
  if (Object.keys(values).length === 0) return {}
  let rollout: RolloutView | undefined
  if (fresh.length > 0) {
    const change = core.newChange({
      kind: 'config',
      values,
      mode: 'soft',
      priority: 'normal',
      reason,
    })
    const { steps, bakeMs } = core.settings.waves
    const r = core.create(change, `adopt:${change.id}`, steps, bakeMs, new Set(fresh))
    core.life.start(r)
    rollout = r.view()
  }
  core.config.adopt({ ...values })
  return rollout ? { rollout } : {}
}

/** See Engine.recover. */
export const recover = (
  core: EngineCore,
  change: Change,
  reason?: string,
): { rollout: RolloutView; created: boolean } => {
  core.open()
  const known = core.rollouts.get(change.id)
  if (known) return { rollout: known.view(), created: false }
  const parsed = parseChange({
    kind: change.kind,
    target: change.target,
    mode: change.mode,
    priority: change.priority,
    ...(change.reason !== undefined && { reason: change.reason }),
  })
  if (parsed.kind !== 'invalidate' || parsed.mode !== 'hard')
    throw new InvalidOptionError('kind', 'a hard invalidation', `${parsed.kind}/${parsed.mode}`)
  const seq = ++core.seq
  const recovered: Change = Object.freeze({
    id: change.id,
    seq,
    kind: parsed.kind,
    ...(parsed.target && { target: parsed.target }),
    mode: parsed.mode,
    priority: parsed.priority,
    reason:
      reason ?? `recovered after the coordinator lost its state: ${change.reason ?? change.id}`,
    submittedAt: core.clock.now(),
  })
  // It was already going out: one wave, at the pace of its budget.
  const r = core.create(recovered, `recovered:${change.id}`, [1], 0)
  core.life.start(r)
  return { rollout: r.view(), created: true }
}

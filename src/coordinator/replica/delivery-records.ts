/**
 * The deliveries the log holds, as the FleetTracker counts them: a new
 * leader rebuilds its per-wave acked counts from them and from how far each
 * client had acked (its store record), so the counts go on from where the
 * last leader left them. Deliveries trimmed from the log are not counted.
 */
import type { Store } from '../../store/store.js'
import type { DeliveryRecord } from '../fleet.js'
import type { LogMeta } from './persister.js'

const PAGE = 1000

/** Every delivery in the log of the rollouts in `rolloutIds`, oldest first. */
export const loadDeliveries = async (
  store: Store,
  rolloutIds: ReadonlySet<string>,
): Promise<DeliveryRecord[]> => {
  const out: DeliveryRecord[] = []
  for (let after = 0; ; ) {
    const page = await store.read(after, PAGE)
    for (const r of page) {
      if (!r.meta || r.to.length === 0) continue
      const meta = JSON.parse(r.meta) as Partial<LogMeta>
      if (meta.type !== 'change' || meta.wave === undefined) continue
      if (meta.changeId === undefined || !rolloutIds.has(meta.changeId)) continue
      out.push({ seq: r.seq, rolloutId: meta.changeId, wave: meta.wave, clientIds: r.to })
    }
    if (page.length < PAGE) return out
    after = page.at(-1)!.seq
  }
}

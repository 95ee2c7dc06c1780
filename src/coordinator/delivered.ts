/**
 * What the coordinator records of each delivery the engine paces, on either
 * runtime once it is in the log at `seq`: the fleet tracker's pending acks
 * and the delivery metrics (clients and budget units, by budget class).
 */
import { budgetClassOf } from '../invalidation/change.js'
import type { Delivery } from '../invalidation/engine.js'
import type { FleetTracker } from './fleet.js'
import type { Metrics } from './metrics.js'

export const onDelivered =
  (fleet: FleetTracker, metrics: Metrics) =>
  (d: Delivery, seq: number): void => {
    fleet.delivered(d.clientIds, seq, d.change.id, d.wave)
    const cls = budgetClassOf(d.change)
    metrics.deliveries.inc({ class: cls }, d.clientIds.length)
    metrics.deliveredCost.inc({ class: cls }, d.cost)
  }

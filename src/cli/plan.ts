/** `slew plan`: a dry run of a change against a fleet size: waves, duration, peak load. */

import { z } from 'zod'
import { stepsSchema } from '../invalidation/change.js'
import { planChange } from '../invalidation/plan.js'
import { generateFleet } from '../sim/fleet.js'
import { nonNegative, nonNegativeInt, parseOptions, positive, positiveInt } from '../validate.js'
import { defined, num, numList, parseFlags } from './args.js'
import { duration, int, table } from './format.js'

export const planHelp = `slew plan [flags]

Dry-runs one change with the real engine on a virtual clock against a fleet
of the given size and prints the waves, when each starts and ends, and the
peak load. Nothing is sent anywhere.

  --clients N      clients in the fleet                      (10000)
  --entries N      entries per client                        (100)
  --budget R       class budget, units per second            (1000)
  --burst B        budget burst, units                       (= budget)
  --steps LIST     cumulative wave fractions                 (0.01,0.05,0.25,1)
  --bake MS        bake time between waves, ms               (2000)
  --shards N       shards the fleet is hashed into           (100)
  --ttl MS         refetch-token lease TTL, ms               (250)
  --kind K         invalidate | rewarm | config              (invalidate)
  --keys N         target N explicit keys instead of all     (all)
  --mode M         soft | hard                               (soft)
  --spread F       spread of cache sizes, in [0, 1)          (0)
  --seed N         random seed for cache sizes               (1)
  --json           print one JSON object instead of a table
`

const planSchema = z.strictObject({
  clients: positiveInt().default(10_000),
  entries: nonNegativeInt().default(100),
  budget: positive().default(1000),
  burst: positive().optional(),
  steps: stepsSchema.default([0.01, 0.05, 0.25, 1]),
  bake: nonNegative().default(2000),
  shards: positiveInt().default(100),
  ttl: positive().default(250),
  kind: z.enum(['invalidate', 'rewarm', 'config']).default('invalidate'),
  keys: positiveInt().optional(),
  mode: z.enum(['soft', 'hard']).default('soft'),
  spread: nonNegative()
    .refine((x) => x < 1, { error: 'a number in [0, 1)' })
    .default(0),
  seed: z.number({ error: 'an integer' }).int({ error: 'an integer' }).default(1),
})

const spec = {
  clients: { type: 'string' },
  entries: { type: 'string' },
  budget: { type: 'string' },
  burst: { type: 'string' },
  steps: { type: 'string' },
  bake: { type: 'string' },
  shards: { type: 'string' },
  ttl: { type: 'string' },
  kind: { type: 'string' },
  keys: { type: 'string' },
  mode: { type: 'string' },
  spread: { type: 'string' },
  seed: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const

export const planCommand = (argv: string[], out: (s: string) => void): number => {
  const { values: f } = parseFlags(argv, spec)
  if (f.help) {
    out(planHelp)
    return 0
  }
  const o = parseOptions(
    planSchema,
    defined({
      clients: num('clients', f.clients),
      entries: num('entries', f.entries),
      budget: num('budget', f.budget),
      burst: num('burst', f.burst),
      steps: numList('steps', f.steps),
      bake: num('bake', f.bake),
      shards: num('shards', f.shards),
      ttl: num('ttl', f.ttl),
      kind: f.kind,
      keys: num('keys', f.keys),
      mode: f.mode,
      spread: num('spread', f.spread),
      seed: num('seed', f.seed),
    }),
  )
  const fleet = generateFleet({
    clients: o.clients,
    entries: o.entries,
    rps: 1,
    spread: o.spread,
    seed: o.seed,
  })
  const budget = { ratePerSec: o.budget, burst: o.burst ?? o.budget }
  const change =
    o.kind === 'config'
      ? { kind: 'config', values: { 'plan.example': true } }
      : {
          kind: o.kind,
          mode: o.mode,
          target: o.keys
            ? { keys: Array.from({ length: o.keys }, (_, i) => `key:${i}`) }
            : { all: true },
        }
  const plan = planChange(
    { size: fleet.size, id: (i) => `c${i}`, entries: (i) => fleet.entries[i]! },
    change,
    {
      shards: o.shards,
      budgets: { [o.kind]: budget },
      waves: { steps: o.steps, bakeMs: o.bake },
      leases: { ttlMs: o.ttl },
    },
  )
  if (f.json) {
    out(JSON.stringify({ change, ...plan }, null, 2))
    return 0
  }
  out(
    [
      `${o.kind} of ${o.keys ? `${int(o.keys)} keys` : 'everything'} on ${int(o.clients)} clients; budget ${int(budget.ratePerSec)}/s, burst ${int(budget.burst)}`,
      '',
      table([
        ['wave', 'shards', 'fleet', 'clients', 'cost', 'start', 'end'],
        ...plan.waves.map((w) => [
          String(w.index),
          `${w.shards[0]}-${w.shards[1]}`,
          `${Math.round(w.fraction * 100)}%`,
          int(w.clients),
          int(w.cost),
          duration(w.startMs),
          duration(w.endMs),
        ]),
      ]),
      '',
      `takes ${duration(plan.estimatedMs)} (ideal ${duration(plan.idealMs)}); peak ${int(plan.peakUnitsPerSec)} units in any 1 s; origin refetches bounded by ${int(plan.originBoundPerSec)} in any 1 s`,
    ].join('\n'),
  )
  return 0
}

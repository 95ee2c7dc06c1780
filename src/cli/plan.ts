/**
 * `slew plan`: a dry run of a change against a fleet size: waves, duration,
 * peak load. Its settings are the coordinator's: the config `slew serve`
 * reads (--config, or slew.config.yaml here), each overridable by a flag.
 */

import { z } from 'zod'
import { checkConfig, type LoadOptions } from '../config/load.js'
import { invalidOptions } from '../errors.js'
import { stepsSchema } from '../invalidation/change.js'
import { planChange } from '../invalidation/plan.js'
import { budgetClassOf } from '../model/budget.js'
import { generateFleet } from '../sim/fleet.js'
import { nonNegative, nonNegativeInt, parseOptions, positive, positiveInt } from '../validate.js'
import { defined, num, numList, parseFlags } from './args.js'
import { duration, int, table } from './format.js'

export const planHelp = `slew plan [flags]

Dry-runs one change with the real engine on a virtual clock against a fleet
of the given size and prints the waves, when each starts and ends, and the
peak load. Nothing is sent anywhere. The settings are the ones \`slew serve\`
would run with: the config file it reads (--config FILE, or
slew.config.yaml / .yml / .json here), or its defaults; a flag overrides one.

  --config FILE    config file (YAML or JSON), as for slew serve
  --clients N      clients in the fleet                      (10000)
  --entries N      entries per client                        (config defaultEntries: 1000)
  --budget R       class budget, units per second            (config budgets.<class>)
  --burst B        budget burst, units                       (= --budget, else config)
  --steps LIST     cumulative wave fractions                 (config waves.steps)
  --bake MS        bake time between waves, ms               (config waves.bakeMs)
  --shards N       shards the fleet is hashed into           (config shards)
  --ttl MS         refetch-token lease TTL, ms               (config leases.ttlMs)
  --kind K         invalidate | rewarm | config              (invalidate)
  --keys N         target N explicit keys instead of all     (all)
  --mode M         soft | hard                               (soft)
  --spread F       spread of cache sizes, in [0, 1)          (0)
  --seed N         random seed for cache sizes               (1)
  --json           print one JSON object instead of a table
`

/** The flags; a setting left out is the config's. */
const planSchema = z.strictObject({
  clients: positiveInt().default(10_000),
  entries: nonNegativeInt().optional(),
  budget: positive().optional(),
  burst: positive().optional(),
  steps: stepsSchema.optional(),
  bake: nonNegative().optional(),
  shards: positiveInt().optional(),
  ttl: positive().optional(),
  kind: z.enum(['invalidate', 'rewarm', 'config']).default('invalidate'),
  keys: positiveInt().optional(),
  mode: z.enum(['soft', 'hard']).default('soft'),
  spread: nonNegative()
    .refine((x) => x < 1, { error: 'a number in [0, 1)' })
    .default(0),
  seed: z.number({ error: 'an integer' }).int({ error: 'an integer' }).default(1),
})

const spec = {
  config: { type: 'string' },
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

/**
 * The config `slew serve` would start with, from the same file and
 * environment. A plan needs no secrets and listens nowhere: a secret
 * variable left unset (or short) is filled in for the read, and the host is
 * loopback; every other problem refuses the plan, as it would refuse serve.
 */
const servedConfig = (file: string | undefined) => {
  const opts: LoadOptions = {
    ...(file !== undefined && { file }),
    overrides: { listen: { host: '127.0.0.1' } },
  }
  let report = checkConfig(opts)
  const unset = report.issues
    .filter((i) => i.field.endsWith('.secretEnv'))
    .map((i) => String(i.value).split(' ')[0]!)
  if (!report.loaded && unset.length > 0) {
    const stand = Object.fromEntries(unset.map((name) => [name, 'x'.repeat(32)]))
    report = checkConfig({ ...opts, env: { ...process.env, ...stand } })
  }
  if (!report.loaded) throw invalidOptions(report.issues)
  return { config: report.loaded.config, source: report.source }
}

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
  const { config, source } = servedConfig(f.config)
  const entries = o.entries ?? config.defaultEntries
  const fleet = generateFleet({
    clients: o.clients,
    entries,
    rps: 1,
    spread: o.spread,
    seed: o.seed,
  })
  const budgetClass = budgetClassOf({ kind: o.kind, priority: 'normal' })
  const configured = config.budgets[budgetClass]
  const budget = {
    ratePerSec: o.budget ?? configured.ratePerSec,
    burst: o.burst ?? o.budget ?? configured.burst,
  }
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
      shards: o.shards ?? config.shards,
      budgets: { ...config.budgets, [budgetClass]: budget },
      waves: { steps: o.steps ?? config.waves.steps, bakeMs: o.bake ?? config.waves.bakeMs },
      leases: { ...config.leases, ...(o.ttl !== undefined && { ttlMs: o.ttl }) },
      defaultEntries: config.defaultEntries,
    },
  )
  if (f.json) {
    out(JSON.stringify({ change, config: source ?? null, ...plan }, null, 2))
    return 0
  }
  out(
    [
      `${o.kind} of ${o.keys ? `${int(o.keys)} keys` : 'everything'} on ${int(o.clients)} clients, ${int(entries)} entries each; budget ${int(budget.ratePerSec)}/s, burst ${int(budget.burst)}`,
      `settings: ${source ?? 'defaults (no slew.config.yaml here)'}; the flags given override them`,
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

/** `slew simulate`: naive broadcast vs slew for one invalidate-all, on the virtual clock. */
import { InvalidOptionError } from '../errors.js'
import { businessSchema } from '../sim/business.js'
import { metastableSchema } from '../sim/metastable.js'
import { regressionSchema } from '../sim/regression.js'
import { rewarmSchema } from '../sim/rewarm.js'
import {
  parseSimulateOptions,
  type SimulateResult,
  simulate,
  simulateSchema,
} from '../sim/scenario.js'
import { plotSvg } from '../sim/svg.js'
import { parseOptions } from '../validate.js'
import { checkOutputPath, num, numList, parseFlags, writeOutput } from './args.js'
import { duration, fixed, int, table } from './format.js'
import { progressBar } from './progress.js'
import { runBusinessScenario } from './simulate-business.js'
import { runScenario } from './simulate-more.js'

export const simulateHelp = `slew simulate [--scenario S] [flags]

Plays a scenario twice on a virtual clock, naive and slew, deterministic for
a seed, and prints the figures (--json) or a table; --svg FILE plots it.

  --scenario S     invalidate-all (default) | rewarm | metastable | regression
                   | business

invalidate-all: one invalidate-all over a simulated fleet: naive broadcast
(every client drops its cache at t0) and slew (rolling waves under the
budget, refetches under leased tokens).

  --clients N      clients in the fleet                      (10000)
  --entries N      mean cache entries per client             (100)
  --budget R       origin budget, fetches per second         (1000)
  --burst B        budget burst, units                       (= budget)
  --steps LIST     cumulative wave fractions                 (0.01,0.05,0.25,1)
  --bake MS        bake time between waves, ms               (2000)
  --seed N         random seed                               (1)
  --rps R          mean requests/s per client (naive model)  (20)
  --skew S         Zipf exponent of key popularity           (1)
  --spread F       spread of sizes and rates, in [0, 1)      (0.5)
  --ttl MS         refetch-token lease TTL, ms               (250)
  --max-batch N    most tokens per lease                     (50)
  --shards N       shards the fleet is hashed into           (100)
  --mode M         soft | hard                               (soft)
  --json           print one JSON object instead of a table
  --svg FILE       write a plot of origin fetches/s over time

rewarm: a content push needing --work key fetches (1000000) over --clients
(100) against an origin of --capacity fetches/s (1000), --latency ms (50),
latency --target ms (2 × latency), --noise (0.1), --base-errors (share of
fetches that fail whatever the load, 0); --budget (3 × capacity),
--concurrency per client (16), --steps, --bake, --ttl, --max-batch, --seed.

metastable: --clients (50) × --rps (100) at a 90 % hit rate (--one-off
0.1) lose their caches of --hot-keys each (1000); the origin serves
--capacity (30 % of the traffic) with --latency, --noise, --target; callers
time out after --timeout ms (1000); slew sheds a call after --max-wait ms
(100); --budget (3 × capacity), --skew, --horizon ms, --seed.

regression: --runs (20) gated rollouts of a config change over --clients
(10000) that makes --metric (errorRate | latencyP99) worse by --effect
(relative: 2 is 1 % -> 3 %; 0 is noise only) from --base on the clients
that apply it; --noise (origin calls per interval, or the p99's lognormal
sigma), heartbeats up to --lag ms late (500), --steps, --bake, --budget
(config deliveries/s, 1000), --seed. Prints detection p50/p95/p99, power,
false pauses, exposure, rollback time against its ideal. --peer also runs
each rollout judged by a threshold analysis (Flagger, Argo Rollouts): the
treated clients' mean every --peer-interval-ms (60000) against a threshold
halfway to the bad level, rolling back after --peer-failures (5) failed
checks in a row; prints its figures and ours ÷ its.

business: the real business watch (period 1 day) and the real attribution,
one step a second, over --weeks (2) of an orders series at --rate events/s
(100, the weekly mean: a daily cycle, weekends × 0.8, --promotions (3) a
week of +30-100 % that are not incidents), after --history days (3)
learned. --incidents (20) drops of --drop (0.1) for 10-30 min per run, a
--rollout-share (0.7) of them by a rollout's treated clients, each among
2-4 rollouts in flight over --clients (1000, heartbeating every 10 s,
traffic lognormal with --client-sigma 1); --threshold (4, the watch's),
--runs (1), --seed (1). Prints detection p50/p95, when rollouts would
pause, false incidents per week, how often the culprit is ranked first.
`

const spec = {
  clients: { type: 'string' },
  entries: { type: 'string' },
  budget: { type: 'string' },
  burst: { type: 'string' },
  steps: { type: 'string' },
  bake: { type: 'string' },
  seed: { type: 'string' },
  rps: { type: 'string' },
  skew: { type: 'string' },
  spread: { type: 'string' },
  ttl: { type: 'string' },
  'max-batch': { type: 'string' },
  shards: { type: 'string' },
  mode: { type: 'string' },
  scenario: { type: 'string' },
  work: { type: 'string' },
  capacity: { type: 'string' },
  latency: { type: 'string' },
  target: { type: 'string' },
  noise: { type: 'string' },
  'base-errors': { type: 'string' },
  concurrency: { type: 'string' },
  'hot-keys': { type: 'string' },
  'one-off': { type: 'string' },
  timeout: { type: 'string' },
  'max-wait': { type: 'string' },
  horizon: { type: 'string' },
  runs: { type: 'string' },
  metric: { type: 'string' },
  base: { type: 'string' },
  effect: { type: 'string' },
  lag: { type: 'string' },
  peer: { type: 'boolean' },
  'peer-interval-ms': { type: 'string' },
  'peer-failures': { type: 'string' },
  rate: { type: 'string' },
  drop: { type: 'string' },
  weeks: { type: 'string' },
  incidents: { type: 'string' },
  'rollout-share': { type: 'string' },
  'client-sigma': { type: 'string' },
  promotions: { type: 'string' },
  history: { type: 'string' },
  threshold: { type: 'string' },
  json: { type: 'boolean' },
  svg: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

/** Flags every scenario takes. */
const common = ['scenario', 'json', 'svg', 'help']

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)
const camel = (flag: string) => flag.replace(/-(\w)/g, (_, c: string) => c.toUpperCase())

/** Each scenario's options schema: its fields are the flags it takes; any other is refused. */
const schemas = {
  'invalidate-all': simulateSchema,
  rewarm: rewarmSchema,
  metastable: metastableSchema,
  regression: regressionSchema,
  business: businessSchema,
} as const

type Scenario = keyof typeof schemas

const isScenario = (s: string): s is Scenario => Object.hasOwn(schemas, s)

/** The flags a scenario takes, as typed (`max-batch`), besides the common ones. */
const flagsOf = (scenario: Scenario): string[] => Object.keys(schemas[scenario].shape).map(kebab)

/** Validate the options before anything runs; a broken rule names the flag as typed (`one-off`, not `oneOff`). */
const check = (scenario: Scenario, options: Record<string, unknown>): void => {
  try {
    parseOptions(schemas[scenario], options)
  } catch (error) {
    if (!(error instanceof InvalidOptionError)) throw error
    const flag = kebab(error.field)
    if (flag === error.field || !Object.hasOwn(spec, flag)) throw error
    throw new InvalidOptionError(flag, error.rule, error.value)
  }
}

export const simulateCommand = (argv: string[], out: (s: string) => void): number => {
  const { values: f } = parseFlags(argv, spec)
  if (f.help) {
    out(simulateHelp)
    return 0
  }
  const scenario = f.scenario ?? 'invalidate-all'
  if (!isScenario(scenario)) {
    throw new InvalidOptionError(
      'scenario',
      'one of invalidate-all, rewarm, metastable, regression, business',
      scenario,
    )
  }
  const takes = flagsOf(scenario)
  const options: Record<string, unknown> = {}
  for (const [flag, value] of Object.entries(f)) {
    if (value === undefined || common.includes(flag)) continue
    if (!takes.includes(flag)) {
      throw new InvalidOptionError(flag, `not set (not a flag of --scenario ${scenario})`, value)
    }
    if (typeof value === 'boolean') {
      options[camel(flag)] = value
      continue
    }
    const text = value as string
    options[camel(flag)] =
      flag === 'steps'
        ? numList(flag, text)
        : flag === 'mode' || flag === 'metric'
          ? text
          : num(flag, text)
  }
  check(scenario, options)
  // A plot that cannot be written is refused now, not after the run.
  if (f.svg !== undefined) checkOutputPath('svg', f.svg)
  if (scenario === 'business') return runBusinessScenario(options, f, out)
  if (scenario !== 'invalidate-all') return runScenario(scenario, options, f, out)
  const bar = progressBar('simulating')
  const started = performance.now()
  const result = simulate(parseSimulateOptions(options), {
    onProgress: (d, t) => bar.update(d, t),
  })
  bar.done()
  const wallMs = performance.now() - started
  if (f.svg !== undefined) writeOutput('svg', f.svg, plot(result))
  if (f.json) {
    out(JSON.stringify({ ...result, wallMs: Math.round(wallMs) }, null, 2))
  } else {
    out(report(result, wallMs, f.svg))
  }
  return 0
}

export const plot = (r: SimulateResult): string =>
  plotSvg({
    title: `Origin load after an invalidate-all: ${int(r.fleet.clients)} clients, ${int(r.fleet.totalEntries)} entries`,
    subtitle: `budget ${int(r.options.budget)}/s, burst ${int(r.options.burst)}, waves ${r.options.steps.join(' → ')}, seed ${r.options.seed}; naive peak ${int(r.naive.peakPerSec)}/s vs slew ${int(r.slew.peakPerSec)}/s`,
    yLabel: 'origin fetches per second (log scale)',
    series: [
      {
        label: `naive broadcast (peak ${int(r.naive.peakPerSec)}/s)`,
        color: '#d62728',
        perSecond: r.naive.perSecond,
      },
      {
        label: `slew (peak ${int(r.slew.peakPerSec)}/s)`,
        color: '#1f77b4',
        perSecond: r.slew.perSecond,
      },
    ],
    lines: [
      { label: `budget ${int(r.options.budget)}/s`, color: '#2ca02c', value: r.options.budget },
      {
        label: `B2 bound ${int(r.boundPerSec)} per 1 s window`,
        color: '#7f7f7f',
        value: r.boundPerSec,
      },
    ],
  })

const report = (r: SimulateResult, wallMs: number, svg?: string): string => {
  const lines = [
    `invalidate-all on ${int(r.fleet.clients)} clients (${int(r.fleet.totalEntries)} entries); budget ${int(r.options.budget)}/s, burst ${int(r.options.burst)}, lease TTL ${int(r.options.ttl)} ms`,
    '',
    table([
      ['', 'naive', 'slew'],
      ['peak origin fetches in any 1 s', int(r.naive.peakPerSec), int(r.slew.peakPerSec)],
      [
        `amplification (÷ bound ${int(r.boundPerSec)})`,
        fixed(r.naive.amplification),
        fixed(r.slew.amplification),
      ],
      ['origin fetches', int(r.naive.totalFetches), int(r.slew.totalFetches)],
      ['rollout complete', 'at once', duration(r.slew.completionMs)],
      ['ideal (cost ÷ budget + bakes)', '', duration(r.slew.idealMs)],
      ['efficiency (ideal ÷ actual)', '', fixed(r.slew.efficiency)],
      ['all caches fresh again', '', duration(r.slew.convergedMs)],
    ]),
    '',
    table([
      ['wave', 'shards', 'clients', 'cost', 'start', 'end'],
      ...r.slew.waves.map((w) => [
        String(w.index),
        `${w.shards[0]}-${w.shards[1]}`,
        int(w.clients),
        int(w.cost),
        duration(w.startMs),
        duration(w.endMs),
      ]),
    ]),
    '',
    `naive peak is ${fixed(r.peakRatio, 1)}x slew's.${svg ? ` Plot: ${svg}.` : ''} (${duration(wallMs)} wall)`,
  ]
  return lines.join('\n')
}

/** `slew push`: submit a change to a running coordinator. */
import { readFileSync } from 'node:fs'
import { HttpError, InvalidOptionError } from '../errors.js'
import { defined, num, numList, parseFlags } from './args.js'
import { duration, int } from './format.js'
import { call, type Target, targetOf } from './remote.js'

export const pushHelp = `slew push [flags]

Submits one change to the coordinator and prints its id and wave plan.

  --keys A,B         invalidate these keys
  --tags A,B         invalidate entries with these tags
  --prefixes A,B     invalidate keys with these prefixes
  --all              invalidate everything (needs --confirm and --reason)
  --rewarm           rewarm the --keys instead (or the clients' hot sets with --all)
  --set K=JSON       a config change: set key K to a JSON value (repeatable)
  --mode M           soft | hard                        (soft)
  --priority P       normal | urgent                    (normal)
  --reason TEXT      why (recorded; needed with --confirm)
  --confirm          confirm a change over confirmAbove of the fleet
  --idempotency-key K  the same key twice is one change
  --steps LIST       override the wave fractions, e.g. 0.01,0.1,1
  --bake MS          override the bake time between waves
  --file FILE        the change as JSON (instead of the flags above)
  --dry-run          only plan it
  --json             print the coordinator's answer as JSON
  --url URL          coordinator (SLEW_URL, default http://127.0.0.1:7070)
  --token T          bearer token with the push scope (SLEW_TOKEN)
`

const spec = {
  keys: { type: 'string' },
  tags: { type: 'string' },
  prefixes: { type: 'string' },
  all: { type: 'boolean' },
  rewarm: { type: 'boolean' },
  set: { type: 'string', multiple: true },
  mode: { type: 'string' },
  priority: { type: 'string' },
  reason: { type: 'string' },
  confirm: { type: 'boolean' },
  'idempotency-key': { type: 'string' },
  steps: { type: 'string' },
  bake: { type: 'string' },
  file: { type: 'string' },
  'dry-run': { type: 'boolean' },
  json: { type: 'boolean' },
  url: { type: 'string' },
  token: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

const list = (s: string | undefined) =>
  s === undefined
    ? undefined
    : s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean)

const configValues = (sets: readonly string[]): Record<string, unknown> =>
  Object.fromEntries(
    sets.map((s) => {
      const i = s.indexOf('=')
      if (i < 1) throw new InvalidOptionError('set', 'KEY=JSON', s)
      const raw = s.slice(i + 1)
      try {
        return [s.slice(0, i), JSON.parse(raw)]
      } catch {
        return [s.slice(0, i), raw] // a bare word is a string
      }
    }),
  )

export const changeFromFlags = (f: Record<string, unknown>): Record<string, unknown> => {
  if (typeof f.file === 'string')
    return JSON.parse(readFileSync(f.file, 'utf8')) as Record<string, unknown>
  const sets = (f.set as string[] | undefined) ?? []
  const steps = numList('steps', f.steps as string | undefined)
  const bake = num('bake', f.bake as string | undefined)
  const waves = steps || bake !== undefined ? defined({ steps, bakeMs: bake }) : undefined
  const common = defined({
    reason: f.reason,
    confirm: f.confirm,
    idempotencyKey: f['idempotency-key'],
    priority: f.priority,
    waves,
  })
  if (sets.length > 0) return { kind: 'config', values: configValues(sets), ...common }
  const target = defined({
    keys: list(f.keys as string | undefined),
    tags: list(f.tags as string | undefined),
    prefixes: list(f.prefixes as string | undefined),
    ...(f.all ? (f.rewarm ? { hotSet: true } : { all: true }) : {}),
  })
  if (Object.keys(target).length === 0) {
    throw new InvalidOptionError(
      'target',
      'one of --keys, --tags, --prefixes, --all, --set or --file',
      undefined,
    )
  }
  return {
    kind: f.rewarm ? 'rewarm' : 'invalidate',
    target,
    ...defined({ mode: f.mode }),
    ...common,
  }
}

interface PushAnswer {
  id?: string
  state?: string
  coalesced?: string | false
  blastRadius: number
  confirmRequired?: boolean
  plan: {
    waves: { index: number; clients: number; cost: number }[]
    estimatedMs: number
    peakUnitsPerSec: number
  }
}

/**
 * What the coordinator's confirm rule still wants of this change, in the
 * words it was written in (flags, or the fields of --file): it counts a
 * change as confirmed with `confirm: true` and a reason that is not blank.
 */
const stillNeeded = (change: Record<string, unknown>, fromFile: boolean): string => {
  const missing = [
    ...(change.confirm === true ? [] : [fromFile ? '"confirm": true' : '--confirm']),
    ...(typeof change.reason === 'string' && change.reason.trim()
      ? []
      : [fromFile ? 'a "reason"' : '--reason "why"']),
  ]
  // Both there and still refused: only an older coordinator's rule could; say what it wants.
  if (missing.length === 0) return 'it needs "confirm": true and a reason'
  return `add ${missing.join(' and ')}${fromFile ? ' to the file' : ''}`
}

/** Clients a change would reach now (a dry run's plan); undefined if the coordinator does not say. */
const reach = async (t: Target, change: Record<string, unknown>): Promise<number | undefined> => {
  try {
    const dry = await call<PushAnswer>(t, 'POST', '/v1/changes?dryRun=1', change)
    return dry.plan.waves.reduce((n, w) => n + w.clients, 0)
  } catch {
    return undefined
  }
}

const pct = (x: number) => `${(x * 100).toFixed(1).replace(/\.0$/, '')}%`

/**
 * E_CONFIRM_REQUIRED said in CLI words: why the coordinator asks (how far the
 * change reaches, or the incident open) and which of --confirm and --reason
 * is missing.
 */
const confirmRefusal = async (
  e: HttpError,
  t: Target,
  change: Record<string, unknown>,
  fromFile: boolean,
): Promise<HttpError> => {
  const p = e.problem
  const todo = stillNeeded(change, fromFile)
  let why: string
  if (typeof p.incident === 'string') {
    why = `an incident is open (${p.detail ?? p.incident}), so every push needs a person's say-so`
  } else {
    const clients = await reach(t, change)
    const share =
      typeof p.blastRadius === 'number' && typeof p.confirmAbove === 'number'
        ? ` (${pct(p.blastRadius)} of the fleet's cached entries, over confirmAbove ${pct(p.confirmAbove)})`
        : ''
    why = `this change reaches ${clients === undefined ? 'most of the fleet' : `${int(clients)} client${clients === 1 ? '' : 's'}`}${share}`
  }
  return new HttpError(e.status, e.problemCode, `${why}: ${todo}`, p)
}

export const pushCommand = async (argv: string[], out: (s: string) => void): Promise<number> => {
  const { values: f } = parseFlags(argv, spec)
  if (f.help) {
    out(pushHelp)
    return 0
  }
  const change = changeFromFlags(f)
  const t = targetOf(f)
  const fromFile = f.file !== undefined
  const answer = await call<PushAnswer>(
    t,
    'POST',
    `/v1/changes${f['dry-run'] ? '?dryRun=1' : ''}`,
    change,
  ).catch(async (error: unknown) => {
    if (error instanceof HttpError && error.problemCode === 'E_CONFIRM_REQUIRED')
      throw await confirmRefusal(error, t, change, fromFile)
    throw error
  })
  if (f.json) {
    out(JSON.stringify(answer, null, 2))
    return 0
  }
  const p = answer.plan
  out(
    [
      f['dry-run']
        ? `dry run: nothing was sent${answer.confirmRequired ? `; to send it, ${stillNeeded(change, fromFile)}` : ''}`
        : `${answer.id} ${answer.state}${answer.coalesced ? ` (joined an identical change: ${answer.coalesced})` : ''}`,
      `  touches ${(answer.blastRadius * 100).toFixed(1)}% of the fleet; ${p.waves.length} waves: ${p.waves.map((w) => int(w.clients)).join(' → ')} clients`,
      `  about ${duration(p.estimatedMs)}, at most ${int(p.peakUnitsPerSec)} units/s`,
      ...(answer.id ? [`  watch it: slew status ${answer.id} --watch`] : []),
    ].join('\n'),
  )
  return 0
}

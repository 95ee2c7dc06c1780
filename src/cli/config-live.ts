/**
 * `slew config get [KEY]` and `slew config set KEY=VALUE ...`: the running
 * coordinator's live config, through GET and PUT /v1/config. Keys are dotted
 * paths into the config (`budgets.invalidate.ratePerSec`); a key the
 * coordinator's config does not have is refused before anything is sent,
 * with the key it is a slip of.
 */
import { liveFields } from '../config/schema.js'
import { HttpError, InvalidOptionError } from '../errors.js'
import { parseFlags } from './args.js'
import { call, type Target, targetOf } from './remote.js'
import { didYouMean } from './suggest.js'

/** What GET /v1/config answers (and PUT, with `changes`). */
export interface ConfigJson {
  version: number
  at: number
  who: string
  why: string
  config: Record<string, unknown>
  changes?: ConfigChange[]
}

export interface ConfigChange {
  path: string
  from: unknown
  to: unknown
}

export const remoteFlags = {
  json: { type: 'boolean' },
  url: { type: 'string' },
  token: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v)

/** Every leaf of the config as [dotted path, value]; arrays are leaves (set whole). */
const flatten = (v: unknown, path = ''): [string, unknown][] =>
  isObject(v) && Object.keys(v).length > 0
    ? Object.entries(v).flatMap(([k, x]) => flatten(x, path ? `${path}.${k}` : k))
    : [[path, v]]

/** Every path of the config, its sections as well as its leaves. */
const allPaths = (config: Record<string, unknown>): string[] =>
  flatten(config).flatMap(([path]) =>
    path.split('.').map((_, i, parts) => parts.slice(0, i + 1).join('.')),
  )

/** The value at a dotted path; undefined when the config has no such key. */
const at = (config: unknown, key: string): unknown =>
  key
    .split('.')
    .reduce<unknown>((v, k) => (isObject(v) && Object.hasOwn(v, k) ? v[k] : undefined), config)

/** A key the config has; otherwise a coded error naming the key it is a slip of. */
const knownKey = (config: Record<string, unknown>, key: string): void => {
  if (at(config, key) !== undefined) return
  const error = new InvalidOptionError(
    'KEY',
    'a key of the coordinator config (slew config get lists them)',
    key,
  )
  const hint = didYouMean(key, allPaths(config))
  if (hint) error.message = `${error.message}: ${hint}`
  throw error
}

const isLive = (path: string): boolean =>
  liveFields.some((f) => path === f || path.startsWith(`${f}.`))

/** What a change to the config needs: a reason, recorded beside who made it. */
export const REASON_RULE = 'given: --reason "why" (recorded with the version)'

export const show = (v: unknown): string => JSON.stringify(v) ?? 'unset'

/** `path: from → to`, one per line. */
export const changeLines = (changes: readonly ConfigChange[], indent = '  '): string[] =>
  changes.map((c) => `${indent}${c.path}: ${show(c.from)} → ${show(c.to)}`)

const fetchConfig = (t: Target) => call<ConfigJson>(t, 'GET', '/v1/config')

const getHelp = `slew config get [KEY] [flags]

Prints the running coordinator's config, one \`key = value\` a line (values
as JSON), the fields that change live first; with KEY (a dotted path, e.g.
budgets.invalidate.ratePerSec) only that value, or that section's lines.

  --json         the coordinator's answer (with KEY: that value) as JSON
  --url URL      coordinator (SLEW_URL, default http://127.0.0.1:7070)
  --token T      bearer token with the admin scope (SLEW_TOKEN)
`

export const getCommand = async (argv: string[], out: (s: string) => void): Promise<number> => {
  const { values: f, positionals } = parseFlags(argv, remoteFlags)
  if (f.help) {
    out(getHelp)
    return 0
  }
  if (positionals.length > 1) throw new InvalidOptionError('KEY', 'one key', positionals)
  const [key] = positionals
  const answer = await fetchConfig(targetOf(f))
  if (key !== undefined) knownKey(answer.config, key)
  const value = key === undefined ? answer.config : at(answer.config, key)
  if (f.json) {
    out(JSON.stringify(key === undefined ? answer : value, null, 2))
    return 0
  }
  if (key !== undefined && !isObject(value)) {
    out(show(value))
    return 0
  }
  const lines = flatten(value, key).map(([path, v]) => ({ path, line: `${path} = ${show(v)}` }))
  const live = lines.filter((l) => isLive(l.path)).map((l) => `  ${l.line}`)
  const fixed = lines.filter((l) => !isLive(l.path)).map((l) => `  ${l.line}`)
  out(
    [
      `version ${answer.version}, by ${answer.who}: ${answer.why}`,
      ...(live.length ? ['live (slew config set KEY=VALUE --reason "why"):', ...live] : []),
      ...(fixed.length ? ['fixed while running (change the file, restart):', ...fixed] : []),
    ].join('\n'),
  )
  return 0
}

const setHelp = `slew config set KEY=VALUE ... --reason TEXT [flags]

Changes the running coordinator's live config: each KEY (a dotted path, as
\`slew config get\` prints it) to VALUE (JSON: 800, true, [0.1,1],
{"ratePerSec":800,"burst":800}; a bare word is a string). Every change is a
new version, recorded with who and why; \`slew config rollback\` undoes it.

  --reason TEXT  why (recorded; required)
  --dry-run      show what would change; change nothing
  --json         print the coordinator's answer as JSON
  --url URL      coordinator (SLEW_URL, default http://127.0.0.1:7070)
  --token T      bearer token with the admin scope (SLEW_TOKEN)
`

/** E_CONFIG_NEEDS_RESTART in CLI words: which keys, and how they do change. */
const needsRestart = (e: HttpError): HttpError => {
  const fields = Array.isArray(e.problem.fields) ? e.problem.fields.join(', ') : 'that part'
  return new HttpError(
    e.status,
    e.problemCode,
    `${fields} only change${fields.includes(',') ? '' : 's'} with a restart: edit the config file and restart slew serve (slew config get lists what changes live)`,
    e.problem,
  )
}

/** `a.b.c=JSON` → ['a.b.c', value]; a bare word is a string. */
const assignment = (text: string): [string, unknown] => {
  const i = text.indexOf('=')
  if (i < 1) throw new InvalidOptionError('KEY=VALUE', 'KEY=VALUE, e.g. waves.bakeMs=5000', text)
  const raw = text.slice(i + 1)
  try {
    return [text.slice(0, i), JSON.parse(raw)]
  } catch {
    return [text.slice(0, i), raw]
  }
}

/** The partial config PUT /v1/config merges: `a.b=1` → `{a: {b: 1}}`. */
const nest = (pairs: readonly [string, unknown][]): Record<string, unknown> => {
  const root: Record<string, unknown> = {}
  for (const [key, value] of pairs) {
    const parts = key.split('.')
    let node = root
    for (const p of parts.slice(0, -1)) {
      if (!isObject(node[p])) node[p] = {}
      node = node[p] as Record<string, unknown>
    }
    node[parts.at(-1)!] = value
  }
  return root
}

export const setCommand = async (argv: string[], out: (s: string) => void): Promise<number> => {
  const { values: f, positionals } = parseFlags(argv, {
    ...remoteFlags,
    reason: { type: 'string' },
    'dry-run': { type: 'boolean' },
    confirm: { type: 'boolean' },
  } as const)
  if (f.help) {
    out(setHelp)
    return 0
  }
  if (f.confirm) {
    throw new InvalidOptionError(
      'confirm',
      "left out: the coordinator's config takes no confirmation (the fleet's config values do: slew push --set K=JSON --confirm)",
      true,
    )
  }
  if (positionals.length === 0)
    throw new InvalidOptionError('KEY=VALUE', 'at least one, e.g. waves.bakeMs=5000', undefined)
  const pairs = positionals.map(assignment)
  const reason = f.reason?.trim()
  if (!reason && !f['dry-run']) throw new InvalidOptionError('reason', REASON_RULE, f.reason)
  const t = targetOf(f)
  const current = await fetchConfig(t)
  for (const [key] of pairs) knownKey(current.config, key)
  // A dry run records nothing; the API still wants a reason.
  const body = { config: nest(pairs), reason: reason || 'dry run' }
  const answer = await call<ConfigJson & { dryRun?: true }>(
    t,
    'PUT',
    `/v1/config${f['dry-run'] ? '?dryRun=1' : ''}`,
    body,
  ).catch((error: unknown) => {
    throw error instanceof HttpError && error.problemCode === 'E_CONFIG_NEEDS_RESTART'
      ? needsRestart(error)
      : error
  })
  if (f.json) {
    out(JSON.stringify(answer, null, 2))
    return 0
  }
  const changes = answer.changes ?? []
  if (f['dry-run']) {
    out(
      changes.length
        ? ['dry run: nothing was changed; it would set', ...changeLines(changes)].join('\n')
        : `dry run: no change, version ${current.version} already says so`,
    )
    return 0
  }
  out(
    changes.length
      ? [
          `version ${answer.version}: ${answer.why}`,
          ...changeLines(changes),
          `  undo: slew config rollback ${current.version} --reason "why"`,
        ].join('\n')
      : `no change: version ${answer.version} already says so`,
  )
  return 0
}

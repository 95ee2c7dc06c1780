/**
 * One complete check of a config, shared by `slew config check`, `slew serve`
 * and the coordinator's listen(): every schema issue, every unset or short
 * secret and the rules for where a coordinator may listen, all at once, each
 * with its field path, rule and value. What one approves, the others accept.
 */
import type { OptionIssue } from '../errors.js'
import { deepFreeze, optionIssues } from '../validate.js'
import { type Config, configSchema } from './schema.js'
import { readSecrets, type Secrets, secretIssuesOf } from './secrets.js'

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost', '::ffff:127.0.0.1'])

export const isLoopback = (host: string): boolean => LOOPBACK.has(host)

/** What the coordinator will run with: any auth tokens, and signing keys of its own (not the dev key). */
export interface BindAuth {
  readonly tokens: boolean
  readonly signing: boolean
}

/**
 * Where a coordinator may listen: anywhere but loopback only with auth tokens
 * (or anyone could push) and its own signing keys (the dev key is public, so
 * anyone could sign). None, one or both issues, on `listen.host`.
 */
export const bindIssues = (host: string, auth: BindAuth): OptionIssue[] => {
  if (isLoopback(host)) return []
  const issues: OptionIssue[] = []
  if (!auth.tokens)
    issues.push({
      field: 'listen.host',
      rule: 'a loopback address when no auth tokens are configured',
      value: host,
    })
  if (!auth.signing)
    issues.push({
      field: 'listen.host',
      rule: 'a loopback address while signing with the public dev key',
      value: host,
    })
  return issues
}

export interface ConfigCheck {
  /** Every problem, in order: the schema's, the secrets', then where it may listen. */
  readonly issues: readonly OptionIssue[]
  /** The config (parsed, frozen) and its secrets: only when there are no issues. */
  readonly valid?: { readonly config: Config; readonly secrets: Secrets }
}

const ROOT = Symbol('root')

/** The top-level sections a schema issue lies in (ROOT: the input as a whole). */
const brokenSections = (issues: readonly { path: readonly PropertyKey[]; keys?: string[] }[]) => {
  const broken = new Set<PropertyKey>()
  for (const issue of issues) {
    const first = issue.path[0]
    if (first !== undefined) broken.add(first)
    else if (issue.keys) for (const key of issue.keys) broken.add(key)
    else broken.add(ROOT)
  }
  return broken
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v)

/** The config the sound sections make: each broken one left to its default (none if the input is). */
const soundPart = (input: unknown, broken: ReadonlySet<PropertyKey>): Config | undefined => {
  if (broken.has(ROOT) || !isObject(input)) return undefined
  const rest = Object.fromEntries(Object.entries(input).filter(([key]) => !broken.has(key)))
  const parsed = configSchema.safeParse(rest)
  return parsed.success ? parsed.data : undefined
}

/**
 * Validate a merged config input (file, environment overrides and flags)
 * completely, with secrets from `env`. When the schema finds issues, the
 * other rules still run: the secrets on every reference sound on its own,
 * where it may listen on the sound sections (a broken `auth` or `signing`
 * counting as present), so that no problem is made up and none left out.
 */
export const validateConfig = (input: unknown, env: NodeJS.ProcessEnv): ConfigCheck => {
  const parsed = configSchema.safeParse(input)
  if (parsed.success) {
    const config = deepFreeze(parsed.data)
    const { secrets, issues } = readSecrets(config, env)
    issues.push(...bindIssues(config.listen.host, bindAuthOf(config)))
    return issues.length > 0 ? { issues } : { issues, valid: { config, secrets } }
  }
  const issues = [...optionIssues(parsed.error, input), ...secretIssuesOf(input, env)]
  const broken = brokenSections(parsed.error.issues)
  const sound = soundPart(input, broken)
  if (sound) {
    const auth = bindAuthOf(sound)
    issues.push(
      ...bindIssues(sound.listen.host, {
        tokens: auth.tokens || broken.has('auth'),
        signing: auth.signing || broken.has('signing'),
      }),
    )
  }
  return { issues }
}

const bindAuthOf = (config: Config): BindAuth => ({
  tokens: config.auth.tokens.length > 0,
  signing: config.signing !== undefined,
})

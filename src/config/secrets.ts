/**
 * Tokens and signing keys, read from the environment variables the config
 * names (`secretEnv`) or written inline. Every unset or too-short variable is
 * reported, each naming its field; a value is never echoed.
 */
import { invalidOptions, type OptionIssue } from '../errors.js'
import type { Config, Scope } from './schema.js'

export interface Secrets {
  readonly tokens: readonly {
    readonly name: string
    readonly scopes: readonly Scope[]
    readonly secret: string
    readonly clientIds?: readonly string[] | undefined
  }[]
  readonly signing?: { readonly activeKid: string; readonly keys: Readonly<Record<string, string>> }
}

/** The shortest secret (token or signing key) accepted, inline or from the environment. */
const MIN_SECRET = 16

type SecretRef = { readonly secretEnv?: string | undefined; readonly secret?: string | undefined }

/** One secret: written inline, or read from its variable, which must be set and long enough. */
const readSecret = (
  field: string,
  ref: SecretRef,
  env: NodeJS.ProcessEnv,
): { secret: string } | { issue: OptionIssue } => {
  if (ref.secret !== undefined) return { secret: ref.secret }
  const value = env[ref.secretEnv!]
  if (!value) {
    const rule = 'the name of a set environment variable'
    return { issue: { field: `${field}.secretEnv`, rule, value: ref.secretEnv } }
  }
  // As strong as a secret written inline must be (the value itself is never echoed).
  if (value.length < MIN_SECRET) {
    const rule = `a variable holding at least ${MIN_SECRET} characters`
    const shown = `${ref.secretEnv} (${value.length} characters)`
    return { issue: { field: `${field}.secretEnv`, rule, value: shown } }
  }
  return { secret: value }
}

/**
 * The secrets `config` names, and every problem with them. Where a secret is
 * missing, `secrets` holds an empty string for it: use them only when
 * `issues` is empty.
 */
export const readSecrets = (
  config: Pick<Config, 'auth' | 'signing'>,
  env: NodeJS.ProcessEnv,
): { secrets: Secrets; issues: OptionIssue[] } => {
  const issues: OptionIssue[] = []
  const secret = (field: string, ref: SecretRef): string => {
    const read = readSecret(field, ref, env)
    if ('issue' in read) issues.push(read.issue)
    return 'secret' in read ? read.secret : ''
  }
  const tokens = config.auth.tokens.map((t, i) => ({
    name: t.name,
    scopes: t.scopes,
    secret: secret(`auth.tokens[${i}]`, t),
    ...(t.clientIds && { clientIds: t.clientIds }),
  }))
  const signing = config.signing && {
    activeKid: config.signing.activeKid,
    keys: Object.fromEntries(
      Object.entries(config.signing.keys).map(([kid, ref]) => [
        kid,
        secret(`signing.keys.${kid}`, ref),
      ]),
    ),
  }
  return { secrets: { tokens, ...(signing && { signing }) }, issues }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v)

/** A reference sound on its own: only a (non-empty) variable name, or an inline secret. */
const refOf = (v: unknown): SecretRef | undefined => {
  if (!isObject(v)) return undefined
  if (typeof v.secret === 'string') return { secret: v.secret }
  return typeof v.secretEnv === 'string' && v.secretEnv !== ''
    ? { secretEnv: v.secretEnv }
    : undefined
}

/**
 * The same rule over an input the schema refused: every token and signing
 * key whose own reference is sound is checked, whatever else is wrong
 * around it, so one run reports an unset variable next to a bad scope.
 */
export const secretIssuesOf = (input: unknown, env: NodeJS.ProcessEnv): OptionIssue[] => {
  const refs: [string, SecretRef | undefined][] = []
  const auth = isObject(input) ? input.auth : undefined
  const tokens = isObject(auth) ? auth.tokens : undefined
  if (Array.isArray(tokens))
    for (const [i, t] of tokens.entries()) refs.push([`auth.tokens[${i}]`, refOf(t)])
  const signing = isObject(input) ? input.signing : undefined
  const keys = isObject(signing) ? signing.keys : undefined
  if (isObject(keys))
    for (const [kid, ref] of Object.entries(keys)) refs.push([`signing.keys.${kid}`, refOf(ref)])
  return refs.flatMap(([field, ref]) => {
    const read = ref && readSecret(field, ref, env)
    return read && 'issue' in read ? [read.issue] : []
  })
}

/** The secrets `config` names; an InvalidOptionError listing every unset or short variable. */
export const resolveSecrets = (
  config: Pick<Config, 'auth' | 'signing'>,
  env: NodeJS.ProcessEnv,
): Secrets => {
  const { secrets, issues } = readSecrets(config, env)
  if (issues.length > 0) throw invalidOptions(issues)
  return secrets
}

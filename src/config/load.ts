/**
 * Load the config: a file (YAML or JSON), then environment overrides, then
 * flags; validate once; resolve secrets from the environment. A missing
 * file that was named, bad YAML, an unknown field or an unset secret
 * variable is an InvalidOptionError naming it.
 */
import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { InvalidOptionError } from '../errors.js'
import { parseOptions } from '../validate.js'
import { type Config, configSchema, type Scope } from './schema.js'

export const configFileNames = ['slew.config.yaml', 'slew.config.yml', 'slew.config.json'] as const

export interface Secrets {
  readonly tokens: readonly {
    readonly name: string
    readonly scopes: readonly Scope[]
    readonly secret: string
    readonly clientIds?: readonly string[] | undefined
  }[]
  readonly signing?: { readonly activeKid: string; readonly keys: Readonly<Record<string, string>> }
}

export interface LoadedConfig {
  readonly config: Config
  /** The file read, if any. */
  readonly source?: string
  readonly secrets: Secrets
}

export interface LoadOptions {
  /** A file to read; without it, the first of configFileNames in `cwd`, if any. */
  readonly file?: string
  readonly cwd?: string
  readonly env?: NodeJS.ProcessEnv
  /** Applied last (CLI flags). */
  readonly overrides?: Record<string, unknown>
}

const readFile = (path: string): unknown => {
  const text = readFileSync(path, 'utf8')
  try {
    return path.endsWith('.json') ? JSON.parse(text) : (parseYaml(text) ?? {})
  } catch (error) {
    throw new InvalidOptionError(
      'config',
      `valid ${path.endsWith('.json') ? 'JSON' : 'YAML'} (${(error as Error).message.split('\n')[0]})`,
      path,
    )
  }
}

/** SLEW_HOST, SLEW_PORT, SLEW_FLEET, SLEW_REDIS_URL. */
const fromEnv = (env: NodeJS.ProcessEnv): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  const listen: Record<string, unknown> = {}
  if (env.SLEW_HOST) listen.host = env.SLEW_HOST
  if (env.SLEW_PORT) {
    const port = Number(env.SLEW_PORT)
    if (!Number.isInteger(port))
      throw new InvalidOptionError('SLEW_PORT', 'an integer port', env.SLEW_PORT)
    listen.port = port
  }
  if (Object.keys(listen).length > 0) out.listen = listen
  if (env.SLEW_FLEET) out.fleet = env.SLEW_FLEET
  if (env.SLEW_REDIS_URL) out.store = { kind: 'redis', url: env.SLEW_REDIS_URL }
  return out
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v)

/** Deep merge of plain objects; arrays and scalars replace. */
export const merge = (base: unknown, over: unknown): unknown => {
  if (!isObject(base) || !isObject(over)) return over === undefined ? base : over
  const out: Record<string, unknown> = { ...base }
  for (const [k, v] of Object.entries(over)) out[k] = merge(base[k], v)
  return out
}

/** The shortest secret (token or signing key) accepted, inline or from the environment. */
const MIN_SECRET = 16

export const resolveSecrets = (config: Config, env: NodeJS.ProcessEnv): Secrets => {
  const secret = (
    field: string,
    ref: { secretEnv?: string | undefined; secret?: string | undefined },
  ) => {
    if (ref.secret !== undefined) return ref.secret
    const value = env[ref.secretEnv!]
    if (!value)
      throw new InvalidOptionError(
        `${field}.secretEnv`,
        'the name of a set environment variable',
        ref.secretEnv,
      )
    // As strong as a secret written inline must be (the value itself is never echoed).
    if (value.length < MIN_SECRET)
      throw new InvalidOptionError(
        `${field}.secretEnv`,
        `a variable holding at least ${MIN_SECRET} characters`,
        `${ref.secretEnv} (${value.length} characters)`,
      )
    return value
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
  return { tokens, ...(signing && { signing }) }
}

export const loadConfig = (opts: LoadOptions = {}): LoadedConfig => {
  const cwd = opts.cwd ?? process.cwd()
  const env = opts.env ?? process.env
  let source: string | undefined
  if (opts.file) {
    source = resolve(cwd, opts.file)
    if (!existsSync(source)) throw new InvalidOptionError('config', 'an existing file', opts.file)
  } else {
    source = configFileNames.map((name) => resolve(cwd, name)).find((p) => existsSync(p))
  }
  const fileValues = source ? readFile(source) : {}
  if (!isObject(fileValues)) throw new InvalidOptionError('config', 'a mapping of settings', source)
  const merged = merge(merge(fileValues, fromEnv(env)), opts.overrides ?? {})
  const config = parseOptions(configSchema, merged)
  return { config, ...(source && { source }), secrets: resolveSecrets(config, env) }
}

/** Paths (a.b.c) whose values differ between two configs, with both values. */
export const diffConfig = (
  a: unknown,
  b: unknown,
  path = '',
): { path: string; from: unknown; to: unknown }[] => {
  if (isObject(a) && isObject(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()
    return keys.flatMap((k) => diffConfig(a[k], b[k], path ? `${path}.${k}` : k))
  }
  return JSON.stringify(a) === JSON.stringify(b) ? [] : [{ path, from: a, to: b }]
}

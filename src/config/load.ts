/**
 * Load the config: a file (YAML or JSON), then environment overrides, then
 * flags; validate once, completely (config/check.ts); resolve secrets from
 * the environment. A missing file that was named, bad YAML, an unknown
 * field, an unset secret variable or a host it may not listen on is an
 * InvalidOptionError naming it; several are one error listing them all.
 */
import { existsSync, readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { InvalidOptionError, invalidOptions, type OptionIssue } from '../errors.js'
import { validateConfig } from './check.js'
import type { Config } from './schema.js'
import type { Secrets } from './secrets.js'

export { resolveSecrets, type Secrets } from './secrets.js'

export const configFileNames = ['slew.config.yaml', 'slew.config.yml', 'slew.config.json'] as const

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
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message
    throw new InvalidOptionError('config', `a readable file (reading it failed: ${reason})`, path)
  }
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

/** The file named, or else the first of configFileNames in `cwd` (if any), and its settings. */
const readSource = (
  opts: LoadOptions,
  cwd: string,
): { source?: string; values: Record<string, unknown> } => {
  const source = opts.file
    ? resolve(cwd, opts.file)
    : configFileNames.map((name) => resolve(cwd, name)).find((p) => existsSync(p))
  if (!source) return { values: {} }
  if (!existsSync(source)) throw new InvalidOptionError('config', 'an existing file', opts.file)
  const values = readFile(source)
  if (!isObject(values)) throw new InvalidOptionError('config', 'a mapping of settings', source)
  return { source, values }
}

/** SLEW_HOST, SLEW_PORT, SLEW_FLEET, SLEW_REDIS_URL; a bad one goes in `issues` and is left out. */
const fromEnv = (env: NodeJS.ProcessEnv, issues: OptionIssue[]): Record<string, unknown> => {
  const out: Record<string, unknown> = {}
  const listen: Record<string, unknown> = {}
  if (env.SLEW_HOST) listen.host = env.SLEW_HOST
  if (env.SLEW_PORT) {
    const port = Number(env.SLEW_PORT)
    if (Number.isInteger(port)) listen.port = port
    else issues.push({ field: 'SLEW_PORT', rule: 'an integer port', value: env.SLEW_PORT })
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

export interface ConfigReport {
  /** The file read, if any. */
  readonly source?: string
  /** Every problem found; empty when the config is valid. */
  readonly issues: readonly OptionIssue[]
  /** The config and its secrets: only when there are no issues. */
  readonly loaded?: LoadedConfig
}

/**
 * Read and validate the config the way `slew serve` does, reporting every
 * problem (schema, environment overrides, secrets, where it may listen)
 * instead of throwing the first. A file that cannot be read or parsed is the
 * one problem reported.
 */
export const checkConfig = (opts: LoadOptions = {}): ConfigReport => {
  const cwd = opts.cwd ?? process.cwd()
  const env = opts.env ?? process.env
  let read: ReturnType<typeof readSource>
  try {
    read = readSource(opts, cwd)
  } catch (error) {
    if (error instanceof InvalidOptionError) return { issues: error.issues }
    throw error
  }
  const at = read.source !== undefined && { source: read.source }
  const issues: OptionIssue[] = []
  const merged = merge(merge(read.values, fromEnv(env, issues)), opts.overrides ?? {})
  const check = validateConfig(merged, env)
  issues.push(...check.issues)
  if (issues.length > 0 || !check.valid) return { ...at, issues }
  return { ...at, issues, loaded: { ...check.valid, ...at } }
}

/** The config, validated completely; an InvalidOptionError listing every problem otherwise. */
export const loadConfig = (opts: LoadOptions = {}): LoadedConfig => {
  const report = checkConfig(opts)
  if (!report.loaded) throw invalidOptions(report.issues)
  return report.loaded
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

/**
 * The coordinator's own config, treated like code: every change validated,
 * versioned, and recorded with who made it and why; a dry run shows the diff;
 * a rollback is a new version equal to an old one. Only the live parts
 * (budgets, waves, leases, admission, confirmAbove, …) change while running.
 */

import { diffConfig, merge } from '../config/load.js'
import { type Config, configSchema, liveFields } from '../config/schema.js'
import { problem } from '../protocol/problem.js'
import { parseOptions } from '../validate.js'
import { HttpProblem } from './http.js'

export interface ConfigVersion {
  readonly version: number
  readonly at: number
  readonly who: string
  readonly why: string
  readonly config: Config
}

export type Change = { path: string; from: unknown; to: unknown }

export class Settings {
  readonly #versions: ConfigVersion[] = []

  constructor(
    initial: Config,
    private readonly apply: (next: Config) => void,
    now: number,
  ) {
    this.#versions.push({
      version: 1,
      at: now,
      who: 'startup',
      why: 'loaded at startup',
      config: initial,
    })
  }

  get current(): ConfigVersion {
    return this.#versions[this.#versions.length - 1]!
  }

  history(): readonly ConfigVersion[] {
    return this.#versions
  }

  /** Validate `partial` over the current config; what would change. Throws 400/409 problems. */
  plan(partial: unknown): { next: Config; changes: Change[] } {
    const next = parseOptions(configSchema, merge(this.current.config, partial))
    const changes = diffConfig(this.current.config, next)
    const fixed = changes.filter(
      (c) => !liveFields.some((f) => c.path === f || c.path.startsWith(`${f}.`)),
    )
    if (fixed.length > 0) {
      throw new HttpProblem(
        problem('E_CONFIG_NEEDS_RESTART', 'That part of the config only changes with a restart', {
          detail: `fixed while running: ${fixed.map((c) => c.path).join(', ')}`,
          fields: fixed.map((c) => c.path),
        }),
      )
    }
    return { next, changes }
  }

  commit(next: Config, who: string, why: string, now: number): ConfigVersion {
    this.apply(next)
    const v: ConfigVersion = { version: this.current.version + 1, at: now, who, why, config: next }
    this.#versions.push(v)
    return v
  }

  find(version: number): ConfigVersion | undefined {
    return this.#versions.find((v) => v.version === version)
  }
}

/** A config without secrets, for showing. */
export const redact = (config: Config): Config => ({
  ...config,
  auth: {
    tokens: config.auth.tokens.map((t) => ({
      ...t,
      ...(t.secret !== undefined && { secret: '***' }),
    })),
  },
  ...(config.signing && {
    signing: {
      ...config.signing,
      keys: Object.fromEntries(
        Object.entries(config.signing.keys).map(([k, v]) => [
          k,
          { ...v, ...(v.secret !== undefined && { secret: '***' }) },
        ]),
      ),
    },
  }),
})

/** The config loader: file, environment overrides, validation, and secrets from the environment. */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/load.js'
import { InvalidOptionError } from '../../src/errors.js'

const dir = mkdtempSync(join(tmpdir(), 'slew-config-'))
const file = (name: string, text: string) => {
  writeFileSync(join(dir, name), text)
  return name
}
const withAuth = file(
  'auth.yaml',
  [
    'auth:',
    '  tokens: [{ name: push-job, scopes: [push], secretEnv: PUSH_SECRET }]',
    'signing: { activeKid: k1, keys: { k1: { secretEnv: SIGNING_SECRET } } }',
  ].join('\n'),
)
const strong = { PUSH_SECRET: 'p'.repeat(16), SIGNING_SECRET: 's'.repeat(32) }

const refusal = (f: () => unknown): InvalidOptionError => {
  try {
    f()
  } catch (error) {
    if (error instanceof InvalidOptionError) return error
    throw error
  }
  throw new Error('not refused')
}

describe('loadConfig', () => {
  it('reads secrets from the environment, never from the file', () => {
    const { secrets } = loadConfig({ cwd: dir, file: withAuth, env: strong })
    expect(secrets.tokens).toEqual([
      { name: 'push-job', scopes: ['push'], secret: strong.PUSH_SECRET },
    ])
    expect(secrets.signing).toEqual({ activeKid: 'k1', keys: { k1: strong.SIGNING_SECRET } })
  })

  it('refuses an unset or empty secret variable, naming the field', () => {
    const e = refusal(() =>
      loadConfig({ cwd: dir, file: withAuth, env: { SIGNING_SECRET: strong.SIGNING_SECRET } }),
    )
    expect(e.field).toBe('auth.tokens[0].secretEnv')
    expect(
      refusal(() => loadConfig({ cwd: dir, file: withAuth, env: { ...strong, PUSH_SECRET: '' } }))
        .field,
    ).toBe('auth.tokens[0].secretEnv')
  })

  it('refuses a secret from the environment shorter than one written inline may be, without echoing it', () => {
    const weak = 'hunter2'
    const e = refusal(() =>
      loadConfig({ cwd: dir, file: withAuth, env: { ...strong, SIGNING_SECRET: weak } }),
    )
    expect(e.field).toBe('signing.keys.k1.secretEnv')
    expect(e.message).toMatch(/at least 16 characters/)
    expect(e.message).toContain('SIGNING_SECRET (7 characters)')
    expect(e.message).not.toContain(weak)
    // Inline, the same rule.
    const inline = file(
      'inline.yaml',
      'auth: { tokens: [{ name: t, scopes: [read], secret: short }] }',
    )
    expect(refusal(() => loadConfig({ cwd: dir, file: inline, env: {} })).message).toMatch(
      /16 characters/,
    )
  })

  it('applies environment overrides over the file, and flags over both', () => {
    const f = file('listen.yaml', 'listen: { host: 127.0.0.1, port: 7000 }\nfleet: web')
    expect(loadConfig({ cwd: dir, file: f, env: {} }).config.listen.port).toBe(7000)
    expect(loadConfig({ cwd: dir, file: f, env: { SLEW_PORT: '7100' } }).config.listen.port).toBe(
      7100,
    )
    const both = loadConfig({
      cwd: dir,
      file: f,
      env: { SLEW_PORT: '7100' },
      overrides: { listen: { port: 7200 } },
    })
    expect(both.config.listen.port).toBe(7200)
    expect(both.config.fleet).toBe('web')
  })

  it('refuses a fleet name that could break out of its Redis hash tag', () => {
    for (const name of ['a}b', '{slew:x}', 'web fleet', '', '-web', 'x'.repeat(65)]) {
      const e = refusal(() =>
        loadConfig({ cwd: dir, env: { SLEW_FLEET: 'ok' }, overrides: { fleet: name } }),
      )
      expect(e.field, name).toBe('fleet')
    }
    expect(loadConfig({ cwd: dir, env: {}, overrides: { fleet: 'web-eu.1_b' } }).config.fleet).toBe(
      'web-eu.1_b',
    )
  })

  it('refuses a named file that is missing, bad YAML, and unknown fields', () => {
    expect(refusal(() => loadConfig({ cwd: dir, file: 'nope.yaml', env: {} })).field).toBe('config')
    const bad = file('bad.yaml', 'budgets: [unclosed')
    expect(refusal(() => loadConfig({ cwd: dir, file: bad, env: {} })).message).toMatch(
      /valid YAML/,
    )
    const unknown = file('unknown.yaml', 'fleet: web\nbudgetz: {}')
    expect(refusal(() => loadConfig({ cwd: dir, file: unknown, env: {} })).message).toMatch(
      /budgetz/,
    )
  })
})

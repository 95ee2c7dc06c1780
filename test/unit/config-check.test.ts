/**
 * One complete check of a config: every schema issue with its path, every
 * unset or short secret, and where the coordinator may listen, in one run;
 * loadConfig (what `slew serve` starts from) refuses with the same list.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { bindIssues, validateConfig } from '../../src/config/check.js'
import { checkConfig, loadConfig } from '../../src/config/load.js'
import { configSchema } from '../../src/config/schema.js'
import { InvalidOptionError, InvalidOptionsError, invalidOptions } from '../../src/errors.js'
import { parseOptions } from '../../src/validate.js'

const dir = mkdtempSync(join(tmpdir(), 'slew-check-'))
const file = (name: string, text: string) => {
  writeFileSync(join(dir, name), text)
  return name
}
const NO_TOKENS = 'a loopback address when no auth tokens are configured'
const DEV_KEY = 'a loopback address while signing with the public dev key'
const SET = 'the name of a set environment variable'
const strong = 'x'.repeat(16)

describe('validateConfig', () => {
  it('reports every schema issue, each with its path, rule and value', () => {
    const { issues, valid } = validateConfig(
      {
        budgets: { invalidate: { ratePerSec: -1, burst: 5 } },
        shards: 0,
        listen: { port: 70000, hots: 'x' },
        budgetz: 1,
      },
      {},
    )
    expect(valid).toBeUndefined()
    expect(issues).toEqual([
      { field: 'shards', rule: 'an integer in [1, 100000]', value: 0 },
      {
        field: 'budgets.invalidate.ratePerSec',
        rule: 'a number in [0.001, 1000000000]',
        value: -1,
      },
      { field: 'listen.port', rule: 'a port in [0, 65535]', value: 70000 },
      { field: 'listen.hots', rule: 'not set (unknown field)', value: 'x' },
      { field: 'budgetz', rule: 'not set (unknown field)', value: 1 },
    ])
  })

  it('reports each unset or short secret variable, never echoing a value', () => {
    const input = {
      auth: {
        tokens: [
          { name: 'a', scopes: ['push'], secretEnv: 'A_TOKEN' },
          { name: 'b', scopes: ['read'], secretEnv: 'B_TOKEN' },
        ],
      },
      signing: { activeKid: 'k1', keys: { k1: { secretEnv: 'SIGN' } } },
    }
    const { issues } = validateConfig(input, { B_TOKEN: 'hunter2', SIGN: '' })
    expect(issues).toEqual([
      { field: 'auth.tokens[0].secretEnv', rule: SET, value: 'A_TOKEN' },
      {
        field: 'auth.tokens[1].secretEnv',
        rule: 'a variable holding at least 16 characters',
        value: 'B_TOKEN (7 characters)',
      },
      { field: 'signing.keys.k1.secretEnv', rule: SET, value: 'SIGN' },
    ])
    expect(JSON.stringify(issues)).not.toContain('hunter2')
    const ok = validateConfig(input, { A_TOKEN: strong, B_TOKEN: strong, SIGN: strong })
    expect(ok.issues).toEqual([])
    expect(ok.valid?.secrets.tokens.map((t) => t.secret)).toEqual([strong, strong])
    expect(Object.isFrozen(ok.valid?.config.listen)).toBe(true)
  })

  it('refuses what serve refuses: a host other than loopback without tokens, or with the dev key', () => {
    expect(validateConfig({ listen: { host: '0.0.0.0' } }, {}).issues).toEqual([
      { field: 'listen.host', rule: NO_TOKENS, value: '0.0.0.0' },
      { field: 'listen.host', rule: DEV_KEY, value: '0.0.0.0' },
    ])
    const tokens = [{ name: 't', scopes: ['admin'], secret: strong }]
    expect(validateConfig({ listen: { host: '::' }, auth: { tokens } }, {}).issues).toEqual([
      { field: 'listen.host', rule: DEV_KEY, value: '::' },
    ])
    const signing = { activeKid: 'k', keys: { k: { secret: strong } } }
    expect(
      validateConfig({ listen: { host: '0.0.0.0' }, auth: { tokens }, signing }, {}).issues,
    ).toEqual([])
    for (const host of ['127.0.0.1', '::1', 'localhost'])
      expect(validateConfig({ listen: { host } }, {}).issues, host).toEqual([])
  })

  it('runs every rule past a schema issue, making none up', () => {
    // A broken budget does not hide the bind rule nor an unset secret.
    const { issues } = validateConfig(
      {
        listen: { host: '0.0.0.0' },
        budgets: { invalidate: { ratePerSec: 0, burst: 1 } },
        signing: { activeKid: 'k1', keys: { k1: { secretEnv: 'SIGN' } } },
      },
      {},
    )
    expect(issues.map((i) => `${i.field}: ${i.rule}`)).toEqual([
      'budgets.invalidate.ratePerSec: a number in [0.001, 1000000000]',
      'signing.keys.k1.secretEnv: the name of a set environment variable',
      `listen.host: ${NO_TOKENS}`,
    ])
    // A broken token list still counts as tokens (no made-up "no tokens"), and its
    // sound references are still checked.
    const broken = validateConfig(
      {
        listen: { host: '0.0.0.0' },
        auth: {
          tokens: [
            { name: 'a', scopes: [], secretEnv: 'A_TOKEN' },
            { name: 'b', scopes: ['push'], secretEnv: 'B_TOKEN' },
          ],
        },
      },
      { A_TOKEN: strong },
    )
    expect(broken.issues).toEqual([
      { field: 'auth.tokens[0].scopes', rule: 'at least one scope', value: [] },
      { field: 'auth.tokens[1].secretEnv', rule: SET, value: 'B_TOKEN' },
      { field: 'listen.host', rule: DEV_KEY, value: '0.0.0.0' },
    ])
    // Not a mapping at all: the one issue.
    expect(validateConfig([1], {}).issues).toHaveLength(1)
  })

  it('bindIssues is the rule listen() applies', () => {
    expect(bindIssues('127.0.0.1', { tokens: false, signing: false })).toEqual([])
    expect(bindIssues('0.0.0.0', { tokens: true, signing: true })).toEqual([])
    expect(bindIssues('10.0.0.1', { tokens: false, signing: true })).toEqual([
      { field: 'listen.host', rule: NO_TOKENS, value: '10.0.0.1' },
    ])
  })
})

describe('checkConfig and loadConfig', () => {
  it('list every problem from the file, the environment and the secrets', () => {
    const f = file(
      'many.yaml',
      [
        'listen: { host: 0.0.0.0 }',
        'budgets: { rewarm: { ratePerSec: -5, burst: 1 } }',
        'auth: { tokens: [{ name: ops, scopes: [admin], secretEnv: OPS_TOKEN }] }',
      ].join('\n'),
    )
    const report = checkConfig({ cwd: dir, file: f, env: { SLEW_PORT: 'eighty' } })
    expect(report.source).toBe(join(dir, f))
    expect(report.loaded).toBeUndefined()
    expect(report.issues.map((i) => i.field)).toEqual([
      'SLEW_PORT',
      'budgets.rewarm.ratePerSec',
      'auth.tokens[0].secretEnv',
      'listen.host',
    ])

    let error: unknown
    try {
      loadConfig({ cwd: dir, file: f, env: { SLEW_PORT: 'eighty' } })
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(InvalidOptionsError)
    const e = error as InvalidOptionsError
    expect(e).toBeInstanceOf(InvalidOptionError)
    expect(e.code).toBe('E_INVALID_OPTION')
    expect(e.issues).toEqual(report.issues)
    // The first issue is still field/rule/value, for callers that read one.
    expect(e.field).toBe('SLEW_PORT')
    expect(e.message.split('\n')).toEqual([
      '4 broken rules:',
      '  Expected `SLEW_PORT` to be an integer port, got `"eighty"` (string)',
      '  Expected `budgets.rewarm.ratePerSec` to be a number in [0.001, 1000000000], got `-5` (number)',
      '  Expected `auth.tokens[0].secretEnv` to be the name of a set environment variable, got `"OPS_TOKEN"` (string)',
      '  Expected `listen.host` to be a loopback address while signing with the public dev key, got `"0.0.0.0"` (string)',
    ])
    expect(e.toJSON()).toMatchObject({ code: 'E_INVALID_OPTION', issues: report.issues })
  })

  it('keep the one-line message for a single problem', () => {
    const f = file('one.yaml', 'shards: 0')
    expect(() => loadConfig({ cwd: dir, file: f, env: {} })).toThrow(
      new InvalidOptionError('shards', 'an integer in [1, 100000]', 0),
    )
    const e = invalidOptions([{ field: 'shards', rule: 'an integer in [1, 100000]', value: 0 }])
    expect(e).not.toBeInstanceOf(InvalidOptionsError)
    expect(e.message).toBe('Expected `shards` to be an integer in [1, 100000], got `0` (number)')
    expect(e.details).not.toHaveProperty('issues')
  })

  it('report a file that cannot be read as the one problem', () => {
    expect(checkConfig({ cwd: dir, file: 'nope.yaml', env: {} }).issues).toEqual([
      { field: 'config', rule: 'an existing file', value: 'nope.yaml' },
    ])
    expect(checkConfig({ cwd: dir, file: dir, env: {} }).issues[0]?.rule).toMatch(/EISDIR/)
  })
})

describe('parseOptions', () => {
  it('still names the first broken rule, and carries every one in issues', () => {
    let error: unknown
    try {
      parseOptions(configSchema, { shards: 0, confirmAbove: 2 })
    } catch (e) {
      error = e
    }
    const e = error as InvalidOptionError
    expect(e).not.toBeInstanceOf(InvalidOptionsError)
    expect(e.message).toBe('Expected `shards` to be an integer in [1, 100000], got `0` (number)')
    expect(e.issues.map((i) => i.field)).toEqual(['shards', 'confirmAbove'])
    // In details too: the HTTP API spreads them into problem+json.
    expect(e.details.issues).toEqual(e.issues)
  })
})

/**
 * `slew config check` and `slew serve` as a user runs them: one validation
 * path, so check approves exactly what serve starts with, and both list every
 * problem at once (exit 2); a port another process holds is E_ADDRESS_IN_USE.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { slewIn } from './helpers/cli.js'

const dir = mkdtempSync(join(tmpdir(), 'slew-cli-check-'))
const file = (name: string, text: string) => {
  writeFileSync(join(dir, name), text)
  return name
}

// Bad budget, unset secret, and a public host while signing with the dev key.
const bad = file(
  'bad.yaml',
  [
    'listen: { host: 0.0.0.0, port: 0 }',
    'budgets: { invalidate: { ratePerSec: -1, burst: 10 } }',
    'auth: { tokens: [{ name: ops, scopes: [admin], secretEnv: OPS_TOKEN }] }',
  ].join('\n'),
)
const problems = [
  'Expected `budgets.invalidate.ratePerSec` to be a number in [0.001, 1000000000], got `-1` (number)',
  'Expected `auth.tokens[0].secretEnv` to be the name of a set environment variable, got `"OPS_TOKEN"` (string)',
  'Expected `listen.host` to be a loopback address while signing with the public dev key, got `"0.0.0.0"` (string)',
]

describe('slew config check', () => {
  it('lists every problem, each on its own line, and exits 2', () => {
    const r = slewIn({ cwd: dir, env: {} }, 'config', 'check', bad)
    expect(r.code).toBe(2)
    expect(r.err.trimEnd().split('\n')).toEqual([
      'slew config: E_INVALID_OPTION: 3 broken rules:',
      ...problems.map((p) => `  ${p}`),
    ])
  })

  it('--json lists them as issues', () => {
    const r = slewIn({ cwd: dir, env: {} }, 'config', 'check', bad, '--json')
    expect(r.code).toBe(2)
    expect(JSON.parse(r.out)).toEqual({
      ok: false,
      source: join(dir, bad),
      issues: [
        {
          field: 'budgets.invalidate.ratePerSec',
          rule: 'a number in [0.001, 1000000000]',
          value: -1,
        },
        {
          field: 'auth.tokens[0].secretEnv',
          rule: 'the name of a set environment variable',
          value: 'OPS_TOKEN',
        },
        {
          field: 'listen.host',
          rule: 'a loopback address while signing with the public dev key',
          value: '0.0.0.0',
        },
      ],
    })
  })

  it('refuses a public host without tokens, as serve does (it used to approve it)', () => {
    const open = file('open.yaml', 'listen: { host: 0.0.0.0 }\n')
    const r = slewIn({ cwd: dir, env: {} }, 'config', 'check', open, '--json')
    expect(r.code).toBe(2)
    expect(JSON.parse(r.out).issues.map((i: { rule: string }) => i.rule)).toEqual([
      'a loopback address when no auth tokens are configured',
      'a loopback address while signing with the public dev key',
    ])
    // A single problem keeps the one-line message.
    const one = slewIn({ cwd: dir, env: { SLEW_PORT: 'x' } }, 'config', 'check')
    expect(one.code).toBe(2)
    expect(one.err).toBe(
      'slew config: E_INVALID_OPTION: Expected `SLEW_PORT` to be an integer port, got `"x"` (string)\n',
    )
  })

  it('approves a public host with tokens and signing keys set', () => {
    const good = file(
      'good.yaml',
      [
        'listen: { host: 0.0.0.0, port: 0 }',
        'auth: { tokens: [{ name: ops, scopes: [admin], secretEnv: OPS_TOKEN }] }',
        'signing: { activeKid: k1, keys: { k1: { secretEnv: SIGN } } }',
      ].join('\n'),
    )
    const env = { OPS_TOKEN: 'ops-token-0123456789', SIGN: 'signing-key-0123456789' }
    const r = slewIn({ cwd: dir, env }, 'config', 'check', good, '--json')
    expect(r.code, r.err).toBe(0)
    expect(JSON.parse(r.out)).toEqual({ ok: true, source: join(dir, good), issues: [] })
  })
})

describe('slew serve', () => {
  it('refuses to start with the same list config check prints', () => {
    const r = slewIn({ cwd: dir, env: {} }, 'serve', '--config', bad)
    expect(r.code).toBe(2)
    expect(r.out).not.toMatch(/listening/)
    expect(r.err.trimEnd().split('\n')).toEqual([
      'slew serve: E_INVALID_OPTION: 3 broken rules:',
      ...problems.map((p) => `  ${p}`),
    ])
  })

  it('on a port another process holds: E_ADDRESS_IN_USE, exit 2, no stack', async () => {
    const holder = createServer()
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve))
    try {
      const { port } = holder.address() as { port: number }
      // The port is bound by the kernel whether or not this process's loop runs: spawnSync is fine.
      const r = slewIn({ cwd: dir, env: {} }, 'serve', '--port', String(port))
      expect(r.code).toBe(2)
      expect(r.out).not.toMatch(/listening on/)
      expect(r.err).toContain(
        `slew serve: E_ADDRESS_IN_USE: 127.0.0.1:${port} is already in use by another process`,
      )
      expect(r.err).toContain('--port')
      expect(r.err).not.toMatch(/\n\s+at /)
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()))
    }
  })
})

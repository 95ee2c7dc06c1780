/**
 * `slew config get | set | history | rollback` as a user runs them: the built
 * bin against a real coordinator's live config (GET / PUT /v1/config, its
 * history and rollback). The coordinator runs in this process, so the CLI
 * runs through the asynchronous execFile (spawnSync would block the loop
 * that has to answer it).
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { bin } from './helpers/cli.js'
import { closeAfterAll, startCoordinator } from './helpers/coordinator.js'

const run = promisify(execFile)

/** The CLI with these arguments: exit code, stdout, stderr (never throws). */
const slew = async (env: Record<string, string>, ...args: string[]) => {
  try {
    const r = await run(process.execPath, [bin, ...args], {
      encoding: 'utf8',
      env: { ...process.env, SLEW_TOKEN: '', ...env },
    })
    return { code: 0, out: r.stdout, err: r.stderr }
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string }
    return { code: e.code, out: e.stdout, err: e.stderr }
  }
}

interface Live {
  version: number
  why: string
  config: { budgets: { invalidate: { ratePerSec: number } }; waves: { bakeMs: number } }
}

describe('slew config get | set | history | rollback', () => {
  const closers = closeAfterAll()

  it('reads, changes, lists and rolls back the live config, as the coordinator keeps it', {
    timeout: 60_000,
  }, async () => {
    const { co, url } = await startCoordinator()
    closers.push(() => co.close())
    const cli = (...args: string[]) => slew({}, ...args, '--url', url)
    const live = async () => (await (await fetch(`${url}/v1/config`)).json()) as Live

    // get: every key, the live ones first; one key's value alone.
    const all = await cli('config', 'get')
    expect(all.code, all.err).toBe(0)
    const [head, fixed] = all.out.split('fixed while running')
    expect(head).toMatch(/^version 1, by startup/)
    expect(head).toContain('  budgets.invalidate.ratePerSec = 500\n')
    expect(head).toContain('  waves.steps = [0.01,0.05,0.25,1]\n')
    expect(fixed).toContain('  listen.port = ')
    expect(head).not.toContain('listen.port')
    const one = await cli('config', 'get', 'budgets.invalidate.ratePerSec')
    expect(one).toMatchObject({ code: 0, out: '500\n' })
    const section = await cli('config', 'get', 'budgets.invalidate')
    expect(section.out).toContain('budgets.invalidate.burst = 500')
    expect(section.out).not.toContain('budgets.rewarm')
    const typo = await cli('config', 'get', 'budgets.invalidte.ratePerSec')
    expect(typo.code).toBe(2)
    expect(typo.err).toMatch(/E_INVALID_OPTION: .*did you mean "budgets\.invalidate\.ratePerSec"\?/)

    // set: a reason is required; a dry run changes nothing; a real one is a new version.
    const noReason = await cli('config', 'set', 'budgets.invalidate.ratePerSec=800')
    expect(noReason.code).toBe(2)
    expect(noReason.err).toMatch(/`reason`/)
    const dry = await cli('config', 'set', 'budgets.invalidate.ratePerSec=800', '--dry-run')
    expect(dry.code, dry.err).toBe(0)
    expect(dry.out).toContain('budgets.invalidate.ratePerSec: 500 → 800')
    expect((await live()).version).toBe(1)
    const set = await cli(
      'config',
      'set',
      'budgets.invalidate.ratePerSec=800',
      'waves.bakeMs=500',
      '--reason',
      'black friday',
    )
    expect(set.code, set.err).toBe(0)
    expect(set.out).toBe(
      [
        'version 2: black friday',
        '  budgets.invalidate.ratePerSec: 500 → 800',
        '  waves.bakeMs: 2000 → 500',
        '  undo: slew config rollback 1 --reason "why"',
        '',
      ].join('\n'),
    )
    expect(await live()).toMatchObject({
      version: 2,
      why: 'black friday',
      config: { budgets: { invalidate: { ratePerSec: 800 } }, waves: { bakeMs: 500 } },
    })
    const unknownKey = await cli('config', 'set', 'wave.bakeMs=1', '--reason', 'x')
    expect(unknownKey.code).toBe(2)
    expect(unknownKey.err).toMatch(/did you mean "waves(\.bakeMs)?"/)

    // Fields fixed while running: refused in CLI words, exit 2, nothing changed.
    const restart = await cli('config', 'set', 'listen.port=9999', '--reason', 'move')
    expect(restart.code).toBe(2)
    expect(restart.err).toMatch(
      /E_CONFIG_NEEDS_RESTART: listen\.port only changes with a restart: edit the config file and restart slew serve/,
    )
    // --confirm belongs to the fleet's config values (slew push --set), not the coordinator's.
    const confirm = await cli('config', 'set', 'waves.bakeMs=1', '--reason', 'x', '--confirm')
    expect(confirm.code).toBe(2)
    expect(confirm.err).toMatch(/`confirm`.*slew push --set/)
    expect((await live()).version).toBe(2)

    // history: every version with what it changed; the current one marked.
    const history = await cli('config', 'history')
    expect(history.code, history.err).toBe(0)
    const lines = history.out.split('\n')
    expect(lines[0]).toMatch(/^version +at +who +why +changed$/)
    expect(lines[1]).toMatch(/^v1 +\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ +startup +loaded at startup$/)
    expect(lines[2]).toMatch(
      /^v2\* .* black friday +budgets\.invalidate\.ratePerSec 500 → 800; waves\.bakeMs 2000 → 500$/,
    )

    // rollback: a reason is required, the version must be one; then back to v1 as v3.
    expect((await cli('config', 'rollback')).code).toBe(2)
    const bad = await cli('config', 'rollback', 'yesterday', '--reason', 'x')
    expect(bad.code).toBe(2)
    expect(bad.err).toMatch(/`VERSION`/)
    const missing = await cli('config', 'rollback', '99', '--reason', 'x')
    expect(missing.code).toBe(1)
    expect(missing.err).toMatch(/E_NOT_FOUND: No config version 99/)
    const back = await cli('config', 'rollback', 'v1', '--reason', 'sale over')
    expect(back.code, back.err).toBe(0)
    expect(back.out).toMatch(/^version 3: rollback to v1: sale over\n/)
    expect(back.out).toContain('  budgets.invalidate.ratePerSec: 800 → 500')
    expect(await live()).toMatchObject({
      version: 3,
      config: { budgets: { invalidate: { ratePerSec: 500 } }, waves: { bakeMs: 2000 } },
    })

    // A mistyped verb gets the one it is a slip of; `config check` still works.
    const verb = await cli('config', 'hsitory')
    expect(verb.code).toBe(2)
    expect(verb.err).toMatch(/did you mean "history"\?/)
    const check = await slew({}, 'config', 'check', '--json')
    expect(check.code, check.err).toBe(0)
  })

  it('needs a token with the admin scope when auth is on (--token or SLEW_TOKEN)', {
    timeout: 30_000,
  }, async () => {
    const ADMIN = 'admin-token-0123456789abcdef'
    const PUSH = 'push-token-0123456789abcdef'
    const { co, url } = await startCoordinator(
      {},
      {
        secrets: {
          tokens: [
            { name: 'ops', scopes: ['admin'], secret: ADMIN },
            { name: 'job', scopes: ['push'], secret: PUSH },
          ],
        },
      },
    )
    closers.push(() => co.close())
    const none = await slew({}, 'config', 'get', '--url', url)
    expect(none.code).toBe(1)
    expect(none.err).toMatch(/E_UNAUTHORIZED/)
    const push = await slew({}, 'config', 'get', '--url', url, '--token', PUSH)
    expect(push.err).toMatch(/E_FORBIDDEN/)
    const admin = await slew({ SLEW_TOKEN: ADMIN }, 'config', 'get', 'confirmAbove', '--url', url)
    expect(admin).toMatchObject({ code: 0, out: '0.5\n' })
  })
})

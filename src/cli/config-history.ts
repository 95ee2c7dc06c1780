/**
 * `slew config history` and `slew config rollback [VERSION]`: the running
 * coordinator's config versions (GET /v1/config/history) and a return to one
 * of them (POST /v1/config/rollback), itself a new version with who and why.
 */
import { diffConfig } from '../config/load.js'
import { InvalidOptionError } from '../errors.js'
import { parseFlags } from './args.js'
import { type ConfigJson, changeLines, REASON_RULE, remoteFlags, show } from './config-live.js'
import { moment, table } from './format.js'
import { call, targetOf } from './remote.js'

const historyHelp = `slew config history [flags]

Every version of the running coordinator's config, oldest first: when, who,
why, and what it changed from the version before.

  --json         print the coordinator's answer as JSON
  --url URL      coordinator (SLEW_URL, default http://127.0.0.1:7070)
  --token T      bearer token with the admin scope (SLEW_TOKEN)
`

export const historyCommand = async (argv: string[], out: (s: string) => void): Promise<number> => {
  const { values: f, positionals } = parseFlags(argv, remoteFlags)
  if (f.help) {
    out(historyHelp)
    return 0
  }
  if (positionals.length > 0) throw new InvalidOptionError('arguments', 'none', positionals)
  const { versions } = await call<{ versions: ConfigJson[] }>(
    targetOf(f),
    'GET',
    '/v1/config/history',
  )
  if (f.json) {
    out(JSON.stringify({ versions }, null, 2))
    return 0
  }
  const last = versions.at(-1)?.version
  const rows = versions.map((v, i) => {
    const before = versions[i - 1]
    const changed = before
      ? diffConfig(before.config, v.config)
          .map((c) => `${c.path} ${show(c.from)} → ${show(c.to)}`)
          .join('; ') || 'no change'
      : ''
    return [`v${v.version}${v.version === last ? '*' : ''}`, moment(v.at), v.who, v.why, changed]
  })
  out(
    [
      table([['version', 'at', 'who', 'why', 'changed'], ...rows], { left: [0, 1, 2, 3, 4] }),
      '',
      `* in force now; back to an older one: slew config rollback VERSION --reason "why"`,
    ].join('\n'),
  )
  return 0
}

const rollbackHelp = `slew config rollback [VERSION] --reason TEXT [flags]

Makes a new version of the running coordinator's config equal to VERSION
(a number from \`slew config history\`, or v3; default: the version before
the current one), recorded with who and why. Only the live fields can
differ, so only they change.

  --reason TEXT  why (recorded; required)
  --json         print the coordinator's answer as JSON
  --url URL      coordinator (SLEW_URL, default http://127.0.0.1:7070)
  --token T      bearer token with the admin scope (SLEW_TOKEN)
`

export const rollbackCommand = async (
  argv: string[],
  out: (s: string) => void,
): Promise<number> => {
  const { values: f, positionals } = parseFlags(argv, {
    ...remoteFlags,
    reason: { type: 'string' },
  } as const)
  if (f.help) {
    out(rollbackHelp)
    return 0
  }
  if (positionals.length > 1) throw new InvalidOptionError('VERSION', 'one version', positionals)
  const [text] = positionals
  const version = text === undefined ? undefined : Number(text.replace(/^v/i, ''))
  if (version !== undefined && !(Number.isInteger(version) && version >= 1))
    throw new InvalidOptionError(
      'VERSION',
      'a version number from slew config history, e.g. 3',
      text,
    )
  const reason = f.reason?.trim()
  if (!reason) throw new InvalidOptionError('reason', REASON_RULE, f.reason)
  const answer = await call<ConfigJson>(targetOf(f), 'POST', '/v1/config/rollback', {
    ...(version !== undefined && { version }),
    reason,
  })
  if (f.json) {
    out(JSON.stringify(answer, null, 2))
    return 0
  }
  const changes = answer.changes ?? []
  out(
    [
      `version ${answer.version}: ${answer.why}`,
      ...(changes.length ? changeLines(changes) : ['  no change: it already said so']),
    ].join('\n'),
  )
  return 0
}

/**
 * `slew config <verb>`: the coordinator's own config. `check` validates a
 * file offline; `get`, `set`, `history` and `rollback` read and change the
 * running coordinator's live config (GET / PUT /v1/config, its history and
 * rollback; admin scope), so nobody needs curl for it.
 */
import { InvalidOptionError } from '../errors.js'
import { checkCommand } from './config-check.js'
import { historyCommand, rollbackCommand } from './config-history.js'
import { getCommand, setCommand } from './config-live.js'
import { didYouMean } from './suggest.js'

export const configHelp = `slew config <verb> [flags]

The coordinator's own config (budgets, waves, leases, admission, …).

  check [FILE]                   validate a config file as \`slew serve\` reads it
  get [KEY]                      the running coordinator's config, or one KEY of it
                                 (a dotted path: budgets.invalidate.ratePerSec)
  set KEY=VALUE ... --reason R   change live fields (VALUE is JSON, or a bare word);
                                 --dry-run shows what would change, changes nothing
  history                        every version: when, who, why, what changed
  rollback [VERSION] --reason R  make a new version equal to VERSION
                                 (default: the one before the current)

get, set, history and rollback talk to the coordinator (admin scope):
  --url URL      coordinator (SLEW_URL, default http://127.0.0.1:7070)
  --token T      bearer token with the admin scope (SLEW_TOKEN)
  --json         print the coordinator's answer as JSON

Only budgets, waves, leases, admission, confirmAbove, defaultEntries,
retainFinished, rewarm and gates change live; the rest is fixed until a
restart (E_CONFIG_NEEDS_RESTART, exit 2). The config values the fleet's
app servers read are changes like any other: slew push --set K=JSON.
Every verb lists its flags with \`slew config <verb> --help\`.
`

type Run = (argv: string[], out: (s: string) => void) => number | Promise<number>

const verbs: Record<string, Run> = {
  check: checkCommand,
  get: getCommand,
  set: setCommand,
  history: historyCommand,
  rollback: rollbackCommand,
}

export const configCommand = async (argv: string[], out: (s: string) => void): Promise<number> => {
  const [verb, ...rest] = argv
  if (verb === undefined || verb === '--help' || verb === '-h' || verb === 'help') {
    out(configHelp)
    return verb === undefined ? 2 : 0
  }
  const run = Object.hasOwn(verbs, verb) ? verbs[verb] : undefined
  if (!run) {
    const error = new InvalidOptionError('verb', Object.keys(verbs).join(' | '), verb)
    const hint = didYouMean(verb, Object.keys(verbs))
    if (hint) error.message = `${error.message}: ${hint}`
    throw error
  }
  return run(rest, out)
}
